"""Data access for who vouches for an organisation, from what this node verified: its own
members' validation state, its network's decisions on organisations of other nodes, and
the members collections of other networks as read from their origin (memberships).
Never what an organisation's actor document says of itself. domain/validity.py decides
which of these count (the networks this node trusts)."""

from __future__ import annotations

import functools
from datetime import date
from typing import Iterable

from sqlalchemy import String, bindparam, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from ssefed.db.models import Actor, Application, Membership, Organisation
from ssefed.db.repos.validation import remote_members_query

Listings = dict[str, list[tuple[str, "date | None"]]]


def _own_members():
    """This network's own members, validated (or whose validation ended on a date)."""
    return (select(Actor.ap_id, Organisation.valid_until)
            .join(Organisation, Organisation.actor_id == Actor.id)
            .where(Actor.local.is_(True), Actor.deleted_at.is_(None),
                   Actor.is_network.is_(False),
                   or_(Organisation.validation_status == "validated",
                       (Organisation.validation_status == "expired")
                       & Organisation.valid_until.is_not(None))))


async def listings(s: AsyncSession, iris: Iterable[str] | None, own_network: str | None
                   ) -> Listings:
    """For each organisation IRI (``None``: every local organisation), the (network,
    valid until) of each network known to vouch for it: this node's network for its own
    validated members and the organisations of other nodes it validated, and every
    network whose members collection, as last read, lists it."""
    out: Listings = {}

    def add(rows, network: str | None = None) -> None:
        for row in rows:
            if network is None:
                member, net, until = row
            else:
                (member, until), net = row, network
            out.setdefault(member, []).append((net, until))

    if iris is None:
        if own_network:
            add(await s.execute(_own_members()), own_network)
        add(await s.execute(
            select(Membership.member_ap_id, Membership.network_ap_id, Membership.valid_until)
            .join(Actor, Actor.ap_id == Membership.member_ap_id)
            .where(Actor.local.is_(True), Actor.deleted_at.is_(None))))
        return out
    iris = list(dict.fromkeys(iris))
    statement = _listed(bool(own_network))
    for i in range(0, len(iris), 500):  # one statement (one round trip) per 500
        add(await s.execute(statement, {"iris": iris[i:i + 500], "own": own_network}))
    return out


@functools.lru_cache(maxsize=2)
def _listed(with_own: bool):
    """(member, network, valid until) of the organisations ``:iris``: built once (a chain
    query asks for each answer's organisations; building the statement cost more than
    running it)."""
    iris = bindparam("iris", expanding=True)
    parts = [select(Membership.member_ap_id, Membership.network_ap_id, Membership.valid_until)
             .where(Membership.member_ap_id.in_(iris))]
    if with_own:
        own = bindparam("own", type_=String)
        parts.append(_own_members().where(Actor.ap_id.in_(iris))
                     .with_only_columns(Actor.ap_id, own, Organisation.valid_until))
        parts.append(remote_members_query().where(Actor.ap_id.in_(iris))
                     .with_only_columns(Actor.ap_id, own, Application.valid_until))
    return union_all(*parts)

