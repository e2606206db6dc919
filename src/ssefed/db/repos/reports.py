"""Data access for reports (information reported as wrong or outdated)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ssefed.db.models import Actor, Offer, Organisation, Report


async def add_once(s: AsyncSession, values: dict[str, Any]) -> int | None:
    """Store a report unless one with the same (ap_id, organisation) exists (a Flag
    received twice): an insert ignoring the conflict. Returns the new row's id, or None.
    Reports without ap_id (the form) never conflict."""
    insert = pg_insert if s.bind.dialect.name == "postgresql" else sqlite_insert
    stmt = (insert(Report).values(**values)
            .on_conflict_do_nothing(index_elements=["ap_id", "actor_id"])
            .returning(Report.id))
    return await s.scalar(stmt)


async def targets(s: AsyncSession, iris: list[str]) -> dict[str, int]:
    """{IRI: organisation's actor id} for those of ``iris`` that are a local member
    organisation (not the network, not removed) or a live offer of one."""
    if not iris:
        return {}
    live_org = (Actor.local.is_(True), Actor.deleted_at.is_(None), Actor.is_network.is_(False))
    found: dict[str, int] = {}
    rows = await s.execute(select(Actor.ap_id, Actor.id).join(
        Organisation, Organisation.actor_id == Actor.id).where(Actor.ap_id.in_(iris), *live_org))
    found.update({ap_id: actor_id for ap_id, actor_id in rows})
    rows = await s.execute(
        select(Offer.ap_id, Offer.actor_id).join(Actor, Actor.id == Offer.actor_id)
        .join(Organisation, Organisation.actor_id == Actor.id)
        .where(Offer.ap_id.in_(iris), Offer.local.is_(True), Offer.deleted_at.is_(None),
               *live_org))
    found.update({ap_id: actor_id for ap_id, actor_id in rows})
    return found


async def count_open(s: AsyncSession, actor_id: int) -> int:
    return await s.scalar(select(func.count()).select_from(Report).where(
        Report.actor_id == actor_id, Report.state == "open")) or 0


async def open_counts_by_iri(s: AsyncSession, iris: list[str]) -> dict[str, int]:
    """{organisation IRI: open reports} for the local organisations among ``iris``."""
    if not iris:
        return {}
    rows = await s.execute(
        select(Actor.ap_id, func.count(Report.id))
        .join(Organisation, Organisation.actor_id == Actor.id)
        .outerjoin(Report, (Report.actor_id == Actor.id) & (Report.state == "open"))
        .where(Actor.ap_id.in_(iris), Actor.local.is_(True)).group_by(Actor.ap_id))
    return {ap_id: n for ap_id, n in rows}


async def open_for(s: AsyncSession, actor_id: int, limit: int = 100) -> list[Report]:
    """The organisation's open reports, newest first."""
    return list(await s.scalars(
        select(Report).where(Report.actor_id == actor_id, Report.state == "open")
        .order_by(Report.id.desc()).limit(limit)))


async def listing(s: AsyncSession, *, include_handled: bool, limit: int = 500
                  ) -> list[tuple[Report, Actor]]:
    """Reports with their organisation, newest first (open ones only unless asked)."""
    query = select(Report, Actor).join(Actor, Actor.id == Report.actor_id)
    if not include_handled:
        query = query.where(Report.state == "open")
    rows = await s.execute(query.order_by(Report.id.desc()).limit(limit))
    return [(r, a) for r, a in rows]


async def get(s: AsyncSession, report_id: int) -> tuple[Report, Actor] | None:
    row = (await s.execute(select(Report, Actor).join(Actor, Actor.id == Report.actor_id)
                           .where(Report.id == report_id))).first()
    return (row[0], row[1]) if row else None


async def mark_handled(s: AsyncSession, report_id: int, *, resolution: str | None,
                       handled_by: str, when: datetime) -> bool:
    """Close an open report; False when it was not open (already handled, or none)."""
    result = await s.execute(
        update(Report).where(Report.id == report_id, Report.state == "open")
        .values(state="handled", resolution=resolution, handled_by=handled_by,
                handled_at=when))
    return bool(result.rowcount)
