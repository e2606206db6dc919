"""Data access for fresh data: the local organisations' validations and offers that end
(or ended) by a date, and the reminders sent about them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, exists, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ssefed.db.models import Actor, Offer, Organisation, Reminder
from ssefed.db.models import Application

VALIDATED = ("validated", "expired")  # the validations that have an end to remind of


def _members():
    return (Actor.local.is_(True), Actor.deleted_at.is_(None), Actor.is_network.is_(False))


def _not_reminded(subject: Any, until: Any) -> Any:
    return ~exists().where(Reminder.subject == subject, Reminder.valid_until == until)


async def validations_ending(s: AsyncSession, *, start: date | None, end: date, limit: int,
                             unreminded: bool = False) -> list[Any]:
    """Organisations (local, or of other nodes validated by this network) whose validation ends between ``start`` (None: any time before)
    and ``end``, soonest first: rows of actor id, IRI, handle, name, e-mail, valid_until.
    With ``unreminded``, only those not reminded of that end date yet."""
    q = (select(Actor.id, Actor.ap_id, Actor.handle, Actor.name, Organisation.email,
                Organisation.valid_until)
         .join(Organisation, Organisation.actor_id == Actor.id)
         .where(*_members(), Organisation.validation_status.in_(VALIDATED),
                Organisation.valid_until.is_not(None), Organisation.valid_until <= end))
    if start is not None:
        q = q.where(Organisation.valid_until >= start)
    if unreminded:
        q = q.where(_not_reminded(Actor.ap_id, Organisation.valid_until))
    rows = list(await s.execute(q.order_by(Organisation.valid_until, Actor.id).limit(limit)))
    # organisations of other nodes this network validated (participatory validation)
    r = (select(Actor.id, Actor.ap_id, Actor.handle, Actor.name, literal(None).label("email"),
                Application.valid_until)
         .join(Application, Application.applicant_id == Actor.id)
         .where(Application.local_network.is_(True), Application.state == "validated",
                Actor.local.is_(False), Actor.deleted_at.is_(None),
                Application.valid_until.is_not(None), Application.valid_until <= end))
    if start is not None:
        r = r.where(Application.valid_until >= start)
    if unreminded:
        r = r.where(_not_reminded(Actor.ap_id, Application.valid_until))
    rows += list(await s.execute(r.order_by(Application.valid_until, Actor.id).limit(limit)))
    rows.sort(key=lambda row: (row.valid_until, row.id))
    return rows[:limit]


async def offers_ending(s: AsyncSession, *, start: date | None, end: date, limit: int,
                        unreminded: bool = False) -> list[Any]:
    """Current (not withdrawn) offers and demands of local organisations ending between
    ``start`` and ``end``, soonest first: offer id, IRI, title, direction, kind,
    valid_until, and its organisation's actor id, IRI, handle, name and e-mail."""
    q = (select(Offer.id, Offer.ap_id, Offer.title, Offer.direction, Offer.kind,
                Offer.valid_until, Actor.id.label("actor_id"), Actor.ap_id.label("actor_ap_id"),
                Actor.handle, Actor.name, Organisation.email)
         .join(Actor, Actor.id == Offer.actor_id)
         .outerjoin(Organisation, Organisation.actor_id == Actor.id)
         .where(*_members(), Offer.local.is_(True), Offer.deleted_at.is_(None),
                Offer.valid_until.is_not(None), Offer.valid_until <= end))
    if start is not None:
        q = q.where(Offer.valid_until >= start)
    if unreminded:
        q = q.where(_not_reminded(Offer.ap_id, Offer.valid_until))
    return list(await s.execute(q.order_by(Offer.valid_until, Offer.id).limit(limit)))


async def current_offers(s: AsyncSession, actor_id: int, limit: int) -> list[Offer]:
    """An organisation's offers and demands that are not withdrawn (what it re-confirms)."""
    return list(await s.scalars(select(Offer).where(
        Offer.actor_id == actor_id, Offer.local.is_(True), Offer.deleted_at.is_(None))
        .order_by(Offer.id).limit(limit)))


async def current_offer(s: AsyncSession, actor_id: int, iri: str) -> Offer | None:
    """The offer ``iri`` when it is a current (not withdrawn) local one of ``actor_id``."""
    return await s.scalar(select(Offer).where(
        Offer.ap_id == iri, Offer.actor_id == actor_id, Offer.local.is_(True),
        Offer.deleted_at.is_(None)))


async def add_reminders(s: AsyncSession, rows: list[dict[str, Any]]) -> set[tuple[str, date]]:
    """Record reminders (one per subject and end date), ignoring those recorded already
    (unique index, no check-then-insert race); return the (subject, valid_until) recorded now."""
    if not rows:
        return set()
    insert = pg_insert if s.bind.dialect.name == "postgresql" else sqlite_insert
    stmt = (insert(Reminder).on_conflict_do_nothing(index_elements=["subject", "valid_until"])
            .returning(Reminder.subject, Reminder.valid_until))
    added: set[tuple[str, date]] = set()
    for row in rows:  # one by one: RETURNING of a multi-row insert with conflicts differs
        result = (await s.execute(stmt.values(**row))).first()
        if result is not None:
            added.add((result[0], result[1]))
    return added


async def open_reminders(s: AsyncSession, actor_id: int, limit: int = 50) -> list[Reminder]:
    """An organisation's reminders it has not answered by re-confirming, newest first."""
    return list(await s.scalars(select(Reminder).where(
        Reminder.actor_id == actor_id, Reminder.resolved_at.is_(None))
        .order_by(Reminder.id.desc()).limit(limit)))


async def resolve(s: AsyncSession, subjects: list[str], when: datetime) -> None:
    """The organisation re-confirmed these subjects: their reminders are answered."""
    for i in range(0, len(subjects), 500):
        await s.execute(update(Reminder).where(and_(Reminder.subject.in_(subjects[i:i + 500]),
                                                    Reminder.resolved_at.is_(None)))
                        .values(resolved_at=when))
