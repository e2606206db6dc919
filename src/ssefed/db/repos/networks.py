"""Data access for who vouches for whom: this network's validated members (its members
collection), and what other networks' members collections say."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from ssefed.db.models import Actor, Follow, KnownNetwork, Membership, Organisation
from ssefed.db.repos.vetting import remote_members_query
from types import SimpleNamespace


def _validated_members():
    return (select(Actor, Organisation).join(Organisation, Organisation.actor_id == Actor.id)
            .where(Actor.local.is_(True), Actor.deleted_at.is_(None),
                   Actor.is_network.is_(False), Organisation.validation_status == "validated"))


async def count_members(s: AsyncSession) -> int:
    q = _validated_members().with_only_columns(func.count())
    remote = select(func.count()).select_from(remote_members_query().subquery())
    return int(await s.scalar(q) or 0) + int(await s.scalar(remote) or 0)


async def members_page(s: AsyncSession, *, before_id: int | None, limit: int
                       ) -> list[tuple[Actor, Any]]:
    """This network's validated members, newest first (by actor id): its own
    organisations (with their Organisation row), and organisations of other nodes it
    validated (with their validation state and end)."""
    q, remote = _validated_members(), remote_members_query()
    if before_id is not None:
        q, remote = q.where(Actor.id < before_id), remote.where(Actor.id < before_id)
    rows: list[tuple[Actor, Any]] = [(a, o) for a, o in await s.execute(
        q.order_by(Actor.id.desc()).limit(limit))]
    rows += [(a, SimpleNamespace(validation_status=state, valid_until=until))
             for a, state, until in await s.execute(
                 remote.order_by(Actor.id.desc()).limit(limit))]
    rows.sort(key=lambda r: -r[0].id)
    return rows[:limit]


async def get(s: AsyncSession, ap_id: str) -> KnownNetwork | None:
    return await s.get(KnownNetwork, ap_id)


def checked(conn: Connection | Session, ap_ids: list[str]) -> dict[str, datetime | None]:
    """When each of these networks' members collection was last read (absent: never);
    in ``Database.run``, or ``await session.run_sync(checked, ap_ids)``."""
    if not ap_ids:
        return {}
    rows = conn.execute(select(KnownNetwork.ap_id, KnownNetwork.checked_at)
                           .where(KnownNetwork.ap_id.in_(ap_ids)))
    return {a: c for a, c in rows}


async def replace_members(s: AsyncSession, network: str, members_url: str | None,
                          members: dict[str, date | None], when: datetime) -> None:
    """What the network's collection lists now replaces what it listed before."""
    row = await s.get(KnownNetwork, network)
    if row is None:
        row = KnownNetwork(ap_id=network)
        s.add(row)
    row.members_url, row.checked_at, row.last_error = members_url, when, None
    await s.flush()
    before = dict((await s.execute(select(Membership.member_ap_id, Membership.valid_until)
                                   .where(Membership.network_ap_id == network))).all())
    await s.execute(delete(Membership).where(Membership.network_ap_id == network))
    if members:
        await s.execute(Membership.__table__.insert(), [
            {"network_ap_id": network, "member_ap_id": m, "valid_until": v}
            for m, v in members.items()])
    # who is validated changed for these: their actors are touched, so that what is
    # derived from them (the entries of the search projection) is put again
    changed = sorted(m for m in before.keys() | members.keys()
                     if before.get(m, "absent") != members.get(m, "absent"))
    for i in range(0, len(changed), 500):
        await s.execute(update(Actor).where(Actor.ap_id.in_(changed[i:i + 500]))
                        .values(updated_at=when))


async def mark_failed(s: AsyncSession, network: str, error: str, when: datetime) -> None:
    """A failed read keeps what was listed before, and says why."""
    row = await s.get(KnownNetwork, network)
    if row is None:
        row = KnownNetwork(ap_id=network)
        s.add(row)
    row.checked_at, row.last_error = when, error[:2000]
    await s.flush()


async def vouchers(s: AsyncSession, member_iris: list[str]
                   ) -> dict[str, list[tuple[str, date | None]]]:
    """For each member IRI: the (network, valid until) of the collections listing it."""
    out: dict[str, list[tuple[str, date | None]]] = {}
    for i in range(0, len(member_iris), 500):
        rows = await s.execute(select(Membership.member_ap_id, Membership.network_ap_id,
                                      Membership.valid_until)
                               .where(Membership.member_ap_id.in_(member_iris[i:i + 500])))
        for member, network, until in rows:
            out.setdefault(member, []).append((network, until))
    return out


async def followed_remote(s: AsyncSession) -> set[str]:
    """IRIs of the remote actors some local actor follows (accepted)."""
    follower = Actor.__table__.alias("follower")
    rows = await s.execute(
        select(Actor.ap_id).join(Follow, Follow.followed_id == Actor.id)
        .join(follower, follower.c.id == Follow.follower_id)
        .where(Follow.state == "accepted", follower.c.local.is_(True),
               Actor.local.is_(False), Actor.deleted_at.is_(None)))
    return set(rows.scalars())


async def peer_domains(s: AsyncSession, limit: int = 200) -> list[str]:
    """Domains of the remote actors this node follows or that follow it (accepted):
    the peers it knows, most connected first."""
    local = Actor.__table__.alias("local_actor")
    n = func.count().label("n")
    followed = (select(Actor.domain, n).join(Follow, Follow.followed_id == Actor.id)
                .join(local, local.c.id == Follow.follower_id)
                .where(Follow.state == "accepted", local.c.local.is_(True),
                       Actor.local.is_(False), Actor.deleted_at.is_(None))
                .group_by(Actor.domain))
    followers = (select(Actor.domain, n).join(Follow, Follow.follower_id == Actor.id)
                 .join(local, local.c.id == Follow.followed_id)
                 .where(Follow.state == "accepted", local.c.local.is_(True),
                        Actor.local.is_(False), Actor.deleted_at.is_(None))
                 .group_by(Actor.domain))
    counts: dict[str, int] = {}
    for q in (followed, followers):
        for domain, k in await s.execute(q):
            counts[domain] = counts.get(domain, 0) + k
    return sorted(counts, key=lambda d: (-counts[d], d))[:limit]
