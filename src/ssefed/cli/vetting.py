"""ssefed charter|reviewer|apply|endorse|review: participatory validation of members."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from ssefed.cli.common import CommandError
from ssefed.cli.common import (command, config_from, database, federation, in_session,
                               on_database, verbs)
from ssefed.domain import applications
from ssefed.domain.vetting import college as check_college, read_charter_spec, text
from ssefed.federation.client import FetchError
from ssefed.vocab.ids import LocalIds
from ssefed.vocab.vetting_as import COLLEGES
from ssefed.db.repos import actors as actor_repo
from ssefed.db.repos import vetting as repo
from ssefed.federation import vetting
from ssefed.web.vetting import application_json, applications_json
from ssefed.db.models import Actor


def register(sub: argparse._SubParsersAction) -> None:
    ch = verbs(sub, "charter", help="the network's charters: publish a version, list")
    p = command(ch, "publish", run_charter_publish,
                help="publish a charter from a JSON file (a changed charter becomes a new "
                     "version)")
    p.add_argument("file", help='{"slug", "name", "summary", "approach": "criteria"|"progress", '
                                '"criteria": [{"key", "text", "text_en", "required"}]}')
    command(ch, "list", run_charter_list, help="the network's charters and their versions")

    rv = verbs(sub, "reviewer", help="the network's reviewers (person accounts)")
    p = command(rv, "add", run_reviewer_add,
                help="create a reviewer account; prints its token once")
    p.add_argument("--handle", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--college", required=True, choices=list(COLLEGES),
                   help="its stakeholder college (ISO 26000)")
    command(rv, "list", run_reviewer_list, help="the reviewers")

    p = command(sub, "apply", run_apply, help="a member organisation applies to a network (this "
                                              "node's, or another node's with --network)")
    p.add_argument("handle", help="the applying organisation (of this node)")
    p.add_argument("--answers", required=True, metavar="FILE",
                   help='JSON: [{"criterion": KEY-or-IRI, "answer": "yes"|"partly"|"no"|'
                        '"in_progress", "evidence": TEXT, "url": LINK}]')
    p.add_argument("--charter", help="charter slug or IRI (default: the network's only one)")
    p.add_argument("--network", help="another node's network: acct:user@domain or its URL")

    p = command(sub, "endorse", run_endorse,
                help="endorse (or object to) an application, as a local actor")
    p.add_argument("application", help="its number here, or its IRI (on any node)")
    p.add_argument("--as", dest="handle", required=True, help="the local actor who endorses")
    p.add_argument("--object", action="store_true", help="an objection (give --comment)")
    p.add_argument("--college", choices=list(COLLEGES), help="the college you declare")
    p.add_argument("--comment", default="", help="why (required for an objection)")

    r = verbs(sub, "review", help="the reviewers' daily work: applications, endorsements by "
                                  "college, decisions, colleges, objections")
    p = command(r, "pending", run_pending, help="applications waiting for a decision")
    p.add_argument("--json", action="store_true")
    p = command(r, "show", run_show, "application",
                help="one application: answers, endorsements by college, rule")
    p.add_argument("--json", action="store_true")
    p = command(r, "decide", run_decide, "application", help="decide an application")
    p.add_argument("outcome", choices=["validated", "refused", "needs-more"])
    p.add_argument("--note", default="")
    p.add_argument("--as", dest="handle", help="the reviewer deciding (default: admin)")
    p = command(r, "confirm", run_confirm, help="confirm an endorser's college")
    p.add_argument("endorser", help="the endorser's actor IRI")
    p.add_argument("college", nargs="?", choices=list(COLLEGES),
                   help="default: the college it declared")
    p.add_argument("--as", dest="handle", help="the reviewer (default: admin)")
    command(r, "endorsers", run_endorsers, help="endorsers whose college is not confirmed yet")
    p = command(r, "resolve", run_resolve,
                help="mark an objection as handled (it stops blocking)")
    p.add_argument("objection", type=int, help="the objection's number (review show)")
    p.add_argument("--note", required=True)
    p.add_argument("--as", dest="handle", help="the reviewer (default: admin)")


def _read_json_file(path: str, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise CommandError(f"{what}: cannot read {path}: {exc.strerror}", 2) from None
    except json.JSONDecodeError as exc:
        raise CommandError(f"{what}: {path} is not valid JSON: {exc}", 2) from None


def _peer(coro):
    try:
        return asyncio.run(coro)
    except FetchError as exc:
        raise CommandError(f"could not reach the other node: {exc}") from None


# -- charters and reviewers ----------------------------------------------------------------
def run_charter_publish(args: argparse.Namespace) -> int:
    config = config_from(args)
    spec = read_charter_spec(_read_json_file(args.file, "charter"))
    charter, new = on_database(config, lambda db: applications.publish_charter(
        db, LocalIds(config.node.base_url), spec))
    print(f"charter {charter.slug} version {charter.version} "
          f"{'published' if new else 'unchanged'}: {charter.ap_id}")
    return 0


def run_charter_list(args: argparse.Namespace) -> int:
    async def charters(s):
        return await repo.charters_of(s, (await actor_repo.get_network(s)).ap_id)

    rows = in_session(config_from(args), charters)
    if not rows:
        print("no charter yet: ssefed charter publish FILE.json")
    for c in rows:
        print(f"{c.slug}\tv{c.version}\t{len(c.criteria)} criteria\t{c.name}\t{c.ap_id}")
    return 0


def run_reviewer_add(args: argparse.Namespace) -> int:
    config = config_from(args)
    actor, token = on_database(config, lambda db: applications.add_reviewer(
        db, LocalIds(config.node.base_url), args.handle, args.name, args.college))
    print(f"reviewer @{actor.handle} ({args.college}): {actor.ap_id}")
    print("token (shown once; for the review API and editing):")
    print(token)
    return 0


def run_reviewer_list(args: argparse.Namespace) -> int:
    for actor, r in in_session(config_from(args), repo.reviewers):
        print(f"@{actor.handle}\t{r.college}\t{actor.name}")
    return 0


# -- applying and endorsing ----------------------------------------------------------------
def run_apply(args: argparse.Namespace) -> int:
    config = config_from(args)
    answers = _read_json_file(args.answers, "answers")

    async def go():
        if args.network:
            if not args.charter:
                raise CommandError("--charter: give the IRI of the other network's charter", 2)
            async with federation(config) as fed:
                return await vetting.apply_remote(fed, args.handle, args.network,
                                                     args.charter, answers)
        async with database(config) as db:
            return await applications.apply_local(db, LocalIds(config.node.base_url),
                                                  args.handle, args.charter, answers)

    app = _peer(go())
    where = args.network or "this network"
    print(f"@{args.handle} applied to {where}: application {app.id} ({app.state})")
    print(app.ap_id)
    return 0


def run_endorse(args: argparse.Namespace) -> int:
    config = config_from(args)
    if args.object and not args.comment.strip():
        raise CommandError("--comment: an objection needs its reason", 2)
    comment = text(args.comment, "--comment")  # bounded as the endorsement schema is

    async def go():
        async with federation(config) as fed:
            return await vetting.endorse(
                fed, config, args.handle, args.application,
                stance="object" if args.object else "endorse", college=args.college,
                content=comment)

    r = _peer(go())
    print(f"{'objection' if args.object else 'endorsement'} by @{args.handle} sent: {r.facts.id}")
    return 0


# -- reviewing -----------------------------------------------------------------------------
def _as_reviewer(config, handle: str | None, work):
    """Run ``work(db, by)``: ``by`` is the actor IRI of the local reviewer ``handle``, or
    "admin" without one."""

    async def go(db):
        if handle is None:
            return await work(db, "admin")
        async with db.read() as s:
            actor = await actor_repo.get_local_by_handle(s, handle)
            if actor is None:
                raise CommandError(f"no reviewer @{handle} on this node")
            await applications.reviewer_for(s, actor)
        return await work(db, actor.ap_id)

    return on_database(config, go)


def run_pending(args: argparse.Namespace) -> int:
    config = config_from(args)
    items = in_session(config, lambda s: applications_json(s, config, ("pending", "needs_more")))
    if args.json:
        print(json.dumps({"applications": items}, ensure_ascii=False, indent=2))
        return 0
    if not items:
        print("no application waiting")
    for a in items:
        rule = a["rule"]
        state = "rule met" if rule["met"] else "missing: " + "; ".join(rule["missing"])
        print(f"#{a['id']}\t{a['state']}\t{a['applicant']['name']}\t{a['applicant']['id']}"
              f"\t{rule['counted']} endorsements, colleges {','.join(rule['colleges']) or '-'}"
              f"\t{state}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    config = config_from(args)

    async def show(s):
        app = await applications.application_ref(s, args.application)
        return await application_json(s, config, app, await s.get(Actor, app.applicant_id),
                                      full=True)

    a = in_session(config, show)
    if args.json:
        print(json.dumps(a, ensure_ascii=False, indent=2))
        return 0
    print(f"application #{a['id']} of {a['applicant']['name']} ({a['applicant']['id']}): "
          f"{a['state']}")
    print(f"charter {a['charter']}")
    for ans in a.get("answers", []):
        print(f"  {ans['criterion'].rsplit('#', 1)[-1]}: {ans['answer']}"
              f"{' - ' + ans['evidence'] if ans.get('evidence') else ''}")
    for college, voices in a.get("endorsements_by_college", {}).items():
        if not voices:
            continue
        print(f"{college}:")
        for v in voices:
            word = "OBJECTS" if v["stance"] == "object" else "endorses"
            extra = " (resolved)" if v["resolved"] else ""
            print(f"  [{v['id']}] {v['endorser']} {word} as {v['kind']}{extra}"
                  f"{': ' + v['content'] if v['content'] else ''}")
    rule = a["rule"]
    print("rule: " + ("met" if rule["met"] else "not met (" + "; ".join(rule["missing"]) + ")"))
    return 0


def run_decide(args: argparse.Namespace) -> int:
    config = config_from(args)
    d = _as_reviewer(config, args.handle, lambda db, by: applications.decide(
        db, config, LocalIds(config.node.base_url), args.application,
        args.outcome.replace("-", "_"), note=args.note, by=by))
    until = f" until {d.valid_until.isoformat()}" if d.valid_until else ""
    print(f"application {args.application}: {d.outcome}{until} ({d.ap_id})")
    return 0


def run_confirm(args: argparse.Namespace) -> int:
    config = config_from(args)
    row = _as_reviewer(config, args.handle, lambda db, by: applications.confirm_college(
        db, config, LocalIds(config.node.base_url), args.endorser, check_college(args.college),
        by))
    print(f"{row.ap_id}: college {row.college} confirmed")
    return 0


def run_endorsers(args: argparse.Namespace) -> int:
    rows = in_session(config_from(args), repo.unconfirmed_endorsers)
    if not rows:
        print("every endorser's college is confirmed")
    for e in rows:
        print(f"{e.ap_id}\tdeclared: {e.declared or '-'}")
    return 0


def run_resolve(args: argparse.Namespace) -> int:
    config = config_from(args)
    row = _as_reviewer(config, args.handle, lambda db, by: applications.resolve_objection(
        db, config, LocalIds(config.node.base_url), args.objection, args.note, by))
    print(f"objection {row.id} resolved")
    return 0
