"""Data access for organisations (an Actor row plus an Organisation row)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ssefed.db.models import Actor, Organisation


async def add(s: AsyncSession, actor: Actor, org: Organisation) -> Organisation:
    s.add(actor)
    await s.flush()
    org.actor_id = actor.id
    s.add(org)
    await s.flush()
    return org


async def get_by_source_key(s: AsyncSession, source_key: str) -> tuple[Actor, Organisation] | None:
    row = (await s.execute(select(Actor, Organisation).join(Organisation)
                           .where(Organisation.source_key == source_key))).first()
    return (row[0], row[1]) if row else None


async def list_local(s: AsyncSession, *, limit: int = 1000, offset: int = 0
                     ) -> list[tuple[Actor, Organisation]]:
    rows = await s.execute(
        select(Actor, Organisation).join(Organisation)
        .where(Actor.local.is_(True), Actor.deleted_at.is_(None))
        .order_by(Actor.name, Actor.id).limit(limit).offset(offset))
    return [(a, o) for a, o in rows]


async def upsert_remote_facts(s: AsyncSession, actor_id: int, facts: dict) -> None:
    """The SSE facts of a remote organisation, as its actor document last said."""
    org = await s.get(Organisation, actor_id)
    if org is None:
        s.add(Organisation(actor_id=actor_id, source="remote", claimed=True,
                           contact_public=False, activities=[], **facts))
    elif org.source == "remote":
        for key, value in facts.items():
            setattr(org, key, value)
    await s.flush()
