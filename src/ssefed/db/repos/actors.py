"""Data access for actors and their keys."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ssefed.db.base import utcnow
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


async def add_key_once(s: AsyncSession, *, actor_id: int, kind: str, key_id: str,
                       public_pem: str, private_pem: str | None) -> None:
    """Insert a key unless its id exists (two workers may race to create it)."""
    insert = pg_insert if s.bind.dialect.name == "postgresql" else sqlite_insert
    await s.execute(insert(ActorKey).values(
        actor_id=actor_id, kind=kind, key_id=key_id, public_pem=public_pem,
        private_pem=private_pem, created_at=utcnow()).on_conflict_do_nothing(
        index_elements=["key_id"]))


async def count_local(s: AsyncSession, *, network: bool | None = None) -> int:
    q = select(func.count()).select_from(Actor).where(Actor.local.is_(True),
                                                      Actor.deleted_at.is_(None))
    if network is not None:
        q = q.where(Actor.is_network.is_(network))
    return int(await s.scalar(q) or 0)
