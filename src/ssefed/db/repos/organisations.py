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


async def directory_rows(s: AsyncSession, *, limit: int = 20_000) -> list:
    """Light rows of the local member organisations for the directory's home page:
    handle, name, legal form, sectors, position and validation (no documents)."""
    rows = await s.execute(
        select(Actor.id, Actor.ap_id, Actor.handle, Actor.name, Organisation.legal_form,
               Organisation.sectors, Organisation.locality, Organisation.lat, Organisation.lon,
               Organisation.validation_status, Organisation.valid_until)
        .join(Organisation, Organisation.actor_id == Actor.id)
        .where(Actor.local.is_(True), Actor.deleted_at.is_(None), Actor.is_network.is_(False))
        .order_by(Actor.name, Actor.id).limit(limit))
    return list(rows)


async def located_within(s: AsyncSession, south: float, west: float, north: float, east: float,
                         *, limit: int = 200) -> list:
    """Local member organisations positioned inside a box (name, IRI, position): the
    neighbours drawn on an organisation's map. Bounded by ``limit``."""
    rows = await s.execute(
        select(Actor.id, Actor.ap_id, Actor.name, Organisation.lat, Organisation.lon)
        .join(Organisation, Organisation.actor_id == Actor.id)
        .where(Actor.local.is_(True), Actor.deleted_at.is_(None), Actor.is_network.is_(False),
               Organisation.lat.between(south, north), Organisation.lon.between(west, east))
        .order_by(Actor.id).limit(limit))
    return list(rows)
