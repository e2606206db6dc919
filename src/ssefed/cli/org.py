"""ssefed org add|update|remove|list: the network's member organisations."""

from __future__ import annotations

import argparse

from ssefed.cli.common import CommandError
from ssefed.cli.common import (command, config_from, given_options, in_actor_session, in_session,
                               on_local_actor, verbs)
from ssefed.db.models import Organisation
from ssefed.db.repos import organisations as org_repo
from ssefed.domain import organisations as org_domain
from ssefed.domain.removal import remove_organisation
from ssefed.vocab.ids import LocalIds
from ssefed.domain import tokens
from ssefed.domain.membership import set_approval
from datetime import date
from ssefed.domain.freshness import validation_end
from ssefed.domain.reconfirm import reconfirm_organisation
from ssefed.domain.reminders import today_utc

FIELDS = ("name", "summary", "legal_form", "sectors", "lat", "lon", "address", "website",
          "email")


def _options(p: argparse.ArgumentParser, required: bool) -> None:
    p.add_argument("--name", required=required, help="name of the organisation")
    p.add_argument("--legal-form", dest="legal_form", choices=org_domain.LEGAL_FORMS)
    p.add_argument("--sector", dest="sectors", action="append", metavar="CODE",
                   help="NACE rev.2 code (repeat for several)")
    p.add_argument("--lat", type=float)
    p.add_argument("--lon", type=float)
    p.add_argument("--address")
    p.add_argument("--summary")
    p.add_argument("--website")
    p.add_argument("--email", help="its e-mail address (public unless the organisation "
                                   "unticks it on /edit); reminders go there when "
                                   "[freshness] email_hook is set")
    p.add_argument("--manually-approves-followers", dest="manual", action="store_true",
                   default=None, help="follow requests wait for `ssefed follow-requests accept`")


def register(sub: argparse._SubParsersAction) -> None:
    org = verbs(sub, "org", help="member organisations: add, update, remove, list")
    add = command(org, "add", run_add, help="add a member organisation")
    add.add_argument("--handle", required=True, help="its handle: @HANDLE@your-domain")
    _options(add, required=True)
    _options(command(org, "update", run_update, "handle",
                     help="change an organisation (only the options given)"), required=False)
    command(org, "remove", run_remove, "handle",
            help="remove an organisation; its followers get a Delete")
    cl = command(org, "claim-link", run_claim_link, "handle",
                 help="a one-time link with which the organisation claims its (imported) "
                      "account")
    cl.add_argument("--days", type=int, default=14, help="validity in days (default 14)")
    ap = command(org, "approve", run_approve, "handle",
                 help="validate a member: the network vouches for it (in its members "
                      "collection) until a date")
    ap.add_argument("--until", metavar="DATE", help="end of validity, YYYY-MM-DD (default: "
                                                    "in [freshness] validation_months, 12)")
    command(org, "reconfirm", run_reconfirm, "handle",
            help="re-confirm a validated (or expired) member as it is: its validation and all "
                 "its current offers are extended; each change federates")
    command(org, "unapprove", run_unapprove, "handle",
            help="withdraw the network's validation of a member")
    command(org, "list", run_list, help="list the member organisations")


def run_add(args: argparse.Namespace) -> int:
    config = config_from(args)
    data = org_domain.parse_organisation({"handle": args.handle, **given_options(args, FIELDS)})

    async def add(s):
        actor = await org_domain.create(s, LocalIds(config.node.base_url), config.node.domain,
                                        data)
        if args.manual:
            actor.manually_approves_followers = True
        return actor

    actor = in_session(config, add, write=True)
    print(f"added @{actor.handle}@{config.node.domain} ({actor.ap_id})")
    return 0


def run_update(args: argparse.Namespace) -> int:
    config = config_from(args)

    async def update(s, actor):
        row = await s.get(type(actor), actor.id)
        org = await s.get(Organisation, actor.id)
        if org is None:
            raise CommandError(f"@{args.handle} is not an organisation")
        current = {"handle": row.handle, "name": row.name, "summary": row.summary,
                   "legal_form": org.legal_form, "sectors": org.sectors,
                   "lat": org.lat, "lon": org.lon, "address": org.address,
                   "website": org.website, "email": org.email}
        data = org_domain.parse_organisation(given_options(args, FIELDS, current))
        row.name, row.summary = data.name, data.summary
        org.legal_form, org.sectors = data.legal_form, data.sectors
        org.lat, org.lon, org.address, org.website = (data.lat, data.lon, data.address,
                                                      data.website)
        org.email = data.email
        if args.manual is not None:
            row.manually_approves_followers = args.manual
        return row

    actor = in_actor_session(config, args.handle, update, write=True)
    print(f"updated @{actor.handle}@{config.node.domain}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    config = config_from(args)
    n = on_local_actor(config, args.handle, lambda db, actor: remove_organisation(
        db, LocalIds(config.node.base_url), actor))
    print(f"removed @{args.handle}@{config.node.domain}; a Delete goes to {n} inbox(es)")
    return 0


def run_list(args: argparse.Namespace) -> int:
    config = config_from(args)
    rows = in_session(config, lambda s: org_repo.list_local(s, limit=100_000))
    for actor, org in rows:
        print(f"@{actor.handle}@{config.node.domain}\t{actor.name}\t{org.validation_status}")
    print(f"{len(rows)} organisation(s)")
    return 0


def run_claim_link(args: argparse.Namespace) -> int:
    config = config_from(args)
    if not 1 <= args.days <= 365:
        raise CommandError("--days must be between 1 and 365")
    secret = in_actor_session(config, args.handle, lambda s, actor: tokens.create_claim(
        s, actor, args.days), write=True)
    print(f"one-time claim link for @{args.handle}, valid {args.days} days:")
    print(f"{config.node.base_url}/claim/{secret}")
    return 0


def _approve(args: argparse.Namespace, until) -> None:
    config = config_from(args)
    on_local_actor(config, args.handle, lambda db, actor: set_approval(
        db, LocalIds(config.node.base_url), config.node.base_url, actor, until))


def run_approve(args: argparse.Namespace) -> int:
    if args.until:
        try:
            until = date.fromisoformat(args.until)
        except ValueError:
            raise CommandError(f"--until: {args.until!r} is not a date (YYYY-MM-DD)", 2) from None
    else:
        until = validation_end(date.today(), config_from(args).freshness.validation_months)
    _approve(args, until)
    note = " (already past: the validation counts as expired)" if until < date.today() else ""
    print(f"@{args.handle} validated by the network until {until.isoformat()}{note}")
    return 0


def run_unapprove(args: argparse.Namespace) -> int:
    _approve(args, None)
    print(f"@{args.handle} is no longer validated by the network")
    return 0


def run_reconfirm(args: argparse.Namespace) -> int:
    config = config_from(args)
    done = on_local_actor(config, args.handle, lambda db, actor: reconfirm_organisation(
        db, LocalIds(config.node.base_url), config.node.base_url, actor, config.freshness,
        today=today_utc()))
    print(f"@{args.handle} re-confirmed: validated by the network until "
          f"{done.validation_until.isoformat()}; {len(done.offers)} offer(s) and demand(s) "
          "extended")
    for iri, until in done.offers:
        print(f"  {iri} until {until.isoformat()}")
    return 0
