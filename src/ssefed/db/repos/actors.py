"""Data access for actors and their keys."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ssefed.db.models import Actor, ActorKey


async def get_local_by_handle(s: AsyncSession, handle: str) -> Actor | None:
    return await s.scalar(select(Actor).where(Actor.local.is_(True), Actor.handle == handle))


async def get_network(s: AsyncSession) -> Actor | None:
    return await s.scalar(select(Actor).where(Actor.local.is_(True), Actor.is_network.is_(True)))


async def add(s: AsyncSession, actor: Actor) -> Actor:
    s.add(actor)
    await s.flush()
    return actor


async def keys_of(s: AsyncSession, actor_id: int) -> list[ActorKey]:
    rows = await s.scalars(select(ActorKey).where(ActorKey.actor_id == actor_id)
                           .order_by(ActorKey.kind))
    return list(rows)


async def add_key(s: AsyncSession, key: ActorKey) -> ActorKey:
    s.add(key)
    await s.flush()
    return key


async def count_local(s: AsyncSession, *, network: bool | None = None) -> int:
    q = select(func.count()).select_from(Actor).where(Actor.local.is_(True),
                                                      Actor.deleted_at.is_(None))
    if network is not None:
        q = q.where(Actor.is_network.is_(network))
    return int(await s.scalar(q) or 0)
