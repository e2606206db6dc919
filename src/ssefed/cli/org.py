"""ssefed org add|update|remove|list: the network's member organisations."""

from __future__ import annotations

import argparse

from ssefed.cli.common import CommandError
from ssefed.cli.common import config_from, given_options, in_session, local_actor, on_database
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
    org = sub.add_parser("org", help="member organisations: add, update, remove, list")
    verbs = org.add_subparsers(dest="verb", metavar="VERB", required=True)
    add = verbs.add_parser("add", help="add a member organisation")
    add.add_argument("--handle", required=True, help="its handle: @HANDLE@your-domain")
    _options(add, required=True)
    add.set_defaults(func=run_add)
    upd = verbs.add_parser("update", help="change an organisation (only the options given)")
    upd.add_argument("handle")
    _options(upd, required=False)
    upd.set_defaults(func=run_update)
    rem = verbs.add_parser("remove", help="remove an organisation; its followers get a Delete")
    rem.add_argument("handle")
    rem.set_defaults(func=run_remove)
    cl = verbs.add_parser("claim-link", help="a one-time link with which the organisation "
                                             "claims its (imported) account")
    cl.add_argument("handle")
    cl.add_argument("--days", type=int, default=14, help="validity in days (default 14)")
    cl.set_defaults(func=run_claim_link)
    ap = verbs.add_parser("approve", help="validate a member: the network vouches for it (in "
                                          "its members collection) until a date")
    ap.add_argument("handle")
    ap.add_argument("--until", metavar="DATE", help="end of validity, YYYY-MM-DD (default: "
                                                    "in [freshness] validation_months, 12)")
    ap.set_defaults(func=run_approve)
    rc = verbs.add_parser("reconfirm", help="re-confirm a validated (or expired) member as it "
                                            "is: its validation and all its current offers "
                                            "are extended; each change federates")
    rc.add_argument("handle")
    rc.set_defaults(func=run_reconfirm)
    un = verbs.add_parser("unapprove", help="withdraw the network's validation of a member")
    un.add_argument("handle")
    un.set_defaults(func=run_unapprove)
    lst = verbs.add_parser("list", help="list the member organisations")
    lst.set_defaults(func=run_list)


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

    async def update(db):
        actor = await local_actor(db, args.handle)
        async with db.write() as s:
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

    actor = on_database(config, update)
    print(f"updated @{actor.handle}@{config.node.domain}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    config = config_from(args)

    async def remove(db) -> int:
        actor = await local_actor(db, args.handle)
        return await remove_organisation(db, LocalIds(config.node.base_url), actor)

    n = on_database(config, remove)
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

    async def claim_link(db) -> str:
        actor = await local_actor(db, args.handle)
        async with db.write() as s:
            return await tokens.create_claim(s, actor, args.days)

    secret = on_database(config, claim_link)
    print(f"one-time claim link for @{args.handle}, valid {args.days} days:")
    print(f"{config.node.base_url}/claim/{secret}")
    return 0


def _approve(args: argparse.Namespace, until) -> None:
    config = config_from(args)

    async def approve(db) -> None:
        actor = await local_actor(db, args.handle)
        await set_approval(db, LocalIds(config.node.base_url), config.node.base_url, actor, until)

    on_database(config, approve)


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

    async def reconfirm(db):
        actor = await local_actor(db, args.handle)
        return await reconfirm_organisation(db, LocalIds(config.node.base_url),
                                            config.node.base_url, actor, config.freshness,
                                            today=today_utc())

    done = on_database(config, reconfirm)
    print(f"@{args.handle} re-confirmed: validated by the network until "
          f"{done.validation_until.isoformat()}; {len(done.offers)} offer(s) and demand(s) "
          "extended")
    for iri, until in done.offers:
        print(f"  {iri} until {until.isoformat()}")
    return 0
