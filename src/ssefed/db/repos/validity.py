"""Data access for who vouches for an organisation, from what this node verified: its own
members' validation state, its network's decisions on organisations of other nodes, and
the members collections of other networks as read from their origin (memberships).
Never what an organisation's actor document says of itself. domain/validity.py decides
which of these count (the networks this node trusts)."""

from __future__ import annotations

import functools
from datetime import date
from typing import Iterable

from sqlalchemy import ARRAY, String, bindparam, func, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from ssefed.db.models import Actor, Application, Membership, Organisation
from ssefed.db.repos.vetting import remote_members_query

Listings = dict[str, list[tuple[str, "date | None"]]]


def _own_members():
    """This network's own members, validated (or whose validation ended on a date): the
    rule of domain/validity.own_member_listed, in SQL."""
    return (select(Actor.ap_id, Organisation.valid_until)
            .join(Organisation, Organisation.actor_id == Actor.id)
            .where(Actor.local.is_(True), Actor.deleted_at.is_(None),
                   Actor.is_network.is_(False),
                   or_(Organisation.validation_status == "validated",
                       (Organisation.validation_status == "expired")
                       & Organisation.valid_until.is_not(None))))


async def listings(s: AsyncSession, iris: Iterable[str] | None, own_network: str | None,
                   *, own_members: bool = True) -> Listings:
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
    statement = _listed(s.bind.dialect.name, bool(own_network), own_members)
    for i in range(0, len(iris), 500):  # one statement (one round trip) per 500
        add(await s.execute(statement, {"iris": iris[i:i + 500], "own": own_network}))
    return out


@functools.lru_cache(maxsize=8)
def _listed(dialect: str, with_own: bool, own_members: bool):
    """(member, network, valid until) of the organisations ``:iris``: built once (a chain
    query asks for each answer's organisations; building the statement cost more than
    running it). On PostgreSQL one text whatever the number of IRIs (asyncpg prepares it
    once, where each length of an IN list is a statement to prepare), read as a set
    (``IN (SELECT unnest(..))``: ``= ANY(param)`` compared every row with every IRI, 0.9 ms
    against 0.3 for 80 IRIs and 1,000 members)."""
    def among(column):
        if dialect == "postgresql":
            return column.in_(select(func.unnest(bindparam("iris", type_=ARRAY(String)))))
        return column.in_(bindparam("iris", expanding=True))

    parts = [select(Membership.member_ap_id, Membership.network_ap_id, Membership.valid_until)
             .where(among(Membership.member_ap_id))]
    if with_own:
        own = bindparam("own", type_=String)
        if own_members:
            parts.append(_own_members().where(among(Actor.ap_id))
                         .with_only_columns(Actor.ap_id, own, Organisation.valid_until))
        parts.append(remote_members_query().where(among(Actor.ap_id))
                     .with_only_columns(Actor.ap_id, own, Application.valid_until))
    return union_all(*parts)

