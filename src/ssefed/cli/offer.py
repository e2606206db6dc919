"""ssefed offer add|update|remove|list: offers and demands of member organisations."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from sqlalchemy import select

from ssefed.cli.common import CommandError
from ssefed.cli.common import (command, config_from, given_options, in_actor_session, in_session,
                               local_actor, on_database, verbs)
from ssefed.db.models import Actor, Offer, Organisation
from ssefed.db.repos import offers as offer_repo
from ssefed.domain import offers as offer_domain
from ssefed.domain.categories import is_network_specific, to_code
from ssefed import terms
from ssefed.domain.errors import InvalidInput
from ssefed.domain.publishing import add_offer, update_offer, withdraw_offer
from ssefed.vocab.ids import LocalIds
from ssefed.domain.reconfirm import reconfirm_offer
from ssefed.domain.reminders import today_utc


def _options(p: argparse.ArgumentParser, required: bool) -> None:
    p.add_argument("--direction", choices=terms.DIRECTIONS, required=required)
    p.add_argument("--role", choices=terms.ROLES, required=required)
    p.add_argument("--kind", choices=terms.KINDS, required=required)
    p.add_argument("--category", required=required, help="category code or IRI")
    p.add_argument("--input", dest="inputs", action="append", metavar="CATEGORY",
                   help="an input category it consumes (repeat for several)")
    p.add_argument("--title", required=required)
    p.add_argument("--summary")
    p.add_argument("--quantity", type=float)
    p.add_argument("--unit", choices=terms.UNITS)
    p.add_argument("--price", type=float)
    p.add_argument("--currency", help="EUR, or the IRI of a local currency")
    p.add_argument("--exchange", choices=terms.EXCHANGES)
    p.add_argument("--lat", type=float)
    p.add_argument("--lon", type=float)
    p.add_argument("--valid-until", dest="valid_until", type=dt.date.fromisoformat,
                   metavar="YYYY-MM-DD")


def register(sub: argparse._SubParsersAction) -> None:
    offer = verbs(sub, "offer", help="offers and demands: add, update, remove, list")
    add = command(offer, "add", run_add, help="publish an offer or a demand of an organisation")
    add.add_argument("--org", required=True, help="handle of the organisation")
    _options(add, required=True)
    _options(command(offer, "update", run_update, "iri",
                     help="change an offer (only the options given)"), required=False)
    command(offer, "remove", run_remove, "iri",
            help="withdraw an offer; followers get a Delete")
    command(offer, "reconfirm", run_reconfirm, "iri",
            help="re-confirm an offer as it is: it holds for its kind's period again "
                 "([freshness]); followers get an Update")
    lst = command(offer, "list", run_list, help="list offers and demands")
    lst.add_argument("--org", help="only this organisation's")


FIELDS = ("direction", "role", "kind", "category", "inputs", "title", "summary", "quantity",
          "unit", "price", "currency", "exchange", "lat", "lon")


def _check(data: dict, args: argparse.Namespace) -> offer_domain.OfferInput:
    try:
        parsed = offer_domain.parse_offer(data)
    except InvalidInput as exc:
        raise InvalidInput("--" + exc.field.replace("_", "-").split("[")[0], exc.message) from None
    parsed.valid_until = args.valid_until or data.get("valid_until")
    for iri in [parsed.category, *parsed.inputs]:
        if is_network_specific(iri):
            print(f"warning: {iri} is not in the shared taxonomy: kept as a category of "
                  "this network's own", file=sys.stderr)
    return parsed


def run_add(args: argparse.Namespace) -> int:
    config = config_from(args)
    parsed = _check(given_options(args, FIELDS), args)

    async def add(s, actor) -> str:
        org = await s.get(Organisation, actor.id)
        if org is None:
            raise CommandError(f"@{args.org} is not an organisation")
        offer = await add_offer(s, LocalIds(config.node.base_url), actor, parsed,
                                lat=org.lat, lon=org.lon,
                                validity_days=config.freshness.offer_validity_days)
        return offer.ap_id

    iri = in_actor_session(config, args.org, add, write=True)
    print(f"published the {parsed.direction} of @{args.org}:")
    print(iri)
    return 0


async def _own_offer(s, iri: str) -> tuple[Offer, Actor]:
    offer = await s.scalar(select(Offer).where(Offer.ap_id == iri, Offer.local.is_(True),
                                               Offer.deleted_at.is_(None)))
    if offer is None:
        raise CommandError(f"no offer {iri} on this node (see `ssefed offer list`)")
    return offer, await s.get(Actor, offer.actor_id)


def run_update(args: argparse.Namespace) -> int:
    config = config_from(args)

    async def update(s) -> None:
        offer, actor = await _own_offer(s, args.iri)
        current = {f: getattr(offer, f) for f in FIELDS if f != "inputs"}
        current["inputs"] = [i.category for i in offer.inputs]
        for f in ("quantity", "price"):
            current[f] = None if current[f] is None else float(current[f])
        current["valid_until"] = offer.valid_until
        parsed = _check(given_options(args, FIELDS, current), args)
        await update_offer(s, actor, offer, parsed)

    in_session(config, update, write=True)
    print(f"updated {args.iri}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    config = config_from(args)

    async def remove(s) -> None:
        offer, actor = await _own_offer(s, args.iri)
        await withdraw_offer(s, actor, offer)

    in_session(config, remove, write=True)
    print(f"removed {args.iri}")
    return 0


def run_reconfirm(args: argparse.Namespace) -> int:
    config = config_from(args)

    async def reconfirm(db):
        async with db.read() as s:
            _, actor = await _own_offer(s, args.iri)
        return await reconfirm_offer(db, actor, args.iri, config.freshness,
                                     today=today_utc())

    done = on_database(config, reconfirm)
    print(f"re-confirmed {args.iri}: valid until {done.offers[0][1].isoformat()}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    config = config_from(args)

    async def listing(db):
        async with db.read() as s:
            if args.org:
                actor = await local_actor(db, args.org)
                return [(o, actor) for o in await offer_repo.by_actor(s, actor.id)]
            rows = await s.execute(select(Offer, Actor).join(Actor)
                                   .where(Offer.local.is_(True), Offer.deleted_at.is_(None))
                                   .order_by(Actor.handle, Offer.title))
            return list(rows)

    rows = on_database(config, listing)
    for offer, actor in rows:
        print(f"{offer.ap_id}\t@{actor.handle}\t{offer.direction}\t{to_code(offer.category)}\t"
              f"{offer.title}")
    print(f"{len(rows)} offer(s) and demand(s)")
    return 0
