"""Data access for applying many received activities at once (federation/inbox_batch.py):
reads of what exists for a whole batch, and Core statements executed for many rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ssefed.db.base import utcnow
from ssefed.db.models import Actor, InboxItem, Offer, OfferInput, RemoteObject

ITEMS, ACTORS, OFFERS = InboxItem.__table__, Actor.__table__, Offer.__table__
INPUTS, OBJECTS = OfferInput.__table__, RemoteObject.__table__

# What a received Proposal sets on its offer row (besides ap_json).
REMOTE_OFFER_COLUMNS = ("direction", "kind", "role", "exchange", "category", "title", "summary",
                        "quantity", "unit", "price", "currency", "lat", "lon", "valid_until")


async def items(s: AsyncSession, ids: list[int]) -> dict[int, tuple[str, dict[str, Any]]]:
    """{id: (state, ap_json)} of stored inbox items."""
    rows = await s.execute(select(ITEMS.c.id, ITEMS.c.state, ITEMS.c.ap_json)
                           .where(ITEMS.c.id.in_(ids)))
    return {i: (state, doc) for i, state, doc in rows}


async def actors(s: AsyncSession, iris: list[str]) -> dict[str, tuple[int, bool, str | None]]:
    """{ap_id: (id, local, inbox)} of the stored actors among ``iris``."""
    rows = await s.execute(select(ACTORS.c.ap_id, ACTORS.c.id, ACTORS.c.local, ACTORS.c.inbox)
                           .where(ACTORS.c.ap_id.in_(iris)))
    return {ap_id: (i, local, inbox) for ap_id, i, local, inbox in rows}


async def actor_documents(s: AsyncSession, iris: list[str]) -> dict[str, dict[str, Any] | None]:
    """{ap_id: ap_json} of the stored actors among ``iris``."""
    if not iris:
        return {}
    rows = await s.execute(select(ACTORS.c.ap_id, ACTORS.c.ap_json).where(ACTORS.c.ap_id.in_(iris)))
    return {ap_id: doc for ap_id, doc in rows}


async def offers(s: AsyncSession, ap_ids: list[str]) -> dict[str, tuple[int, bool, int]]:
    """{ap_id: (id, local, actor id)} of the stored offers among ``ap_ids``."""
    rows = await s.execute(select(OFFERS.c.ap_id, OFFERS.c.id, OFFERS.c.local,
                                  OFFERS.c.actor_id).where(OFFERS.c.ap_id.in_(ap_ids)))
    return {ap_id: (i, local, actor) for ap_id, i, local, actor in rows}


async def objects(s: AsyncSession, ap_ids: list[str]) -> dict[str, tuple[int, str | None]]:
    """{ap_id: (id, attributed_to)} of the stored remote objects among ``ap_ids``."""
    rows = await s.execute(select(OBJECTS.c.ap_id, OBJECTS.c.id, OBJECTS.c.attributed_to)
                           .where(OBJECTS.c.ap_id.in_(ap_ids)))
    return {ap_id: (i, attributed) for ap_id, i, attributed in rows}


async def store_offers(s: AsyncSession, new: list[dict[str, Any]], new_inputs: list[list[str]],
                       changed: list[dict[str, Any]], changed_inputs: list[list[str]]) -> None:
    """Insert received offers (rows of columns) and refresh stored ones (rows with ``_id``),
    with their input categories."""
    conn = await s.connection()
    rows: list[dict[str, Any]] = []
    if new:
        # ids matched by ap_id (returning them in order inserts row by row on SQLite)
        result = await conn.execute(insert(OFFERS).returning(OFFERS.c.ap_id, OFFERS.c.id), new)
        by_ap_id = {ap_id: i for ap_id, i in result}
        rows += [{"offer_id": by_ap_id[r["ap_id"]], "category": c, "position": n}
                 for r, cats in zip(new, new_inputs) for n, c in enumerate(dict.fromkeys(cats))]
    if changed:
        now = utcnow()
        # no values(): each row's keys (column names) are what its UPDATE sets
        await conn.execute(update(OFFERS).where(OFFERS.c.id == bindparam("_id")),
                           [{**r, "deleted_at": None, "updated_at": now} for r in changed])
        ids = [r["_id"] for r in changed]
        await conn.execute(delete(INPUTS).where(INPUTS.c.offer_id.in_(ids)))
        rows += [{"offer_id": i, "category": c, "position": n}
                 for i, cats in zip(ids, changed_inputs) for n, c in enumerate(dict.fromkeys(cats))]
    if rows:
        await conn.execute(insert(INPUTS), rows)


async def store_objects(s: AsyncSession, new: list[dict[str, Any]],
                        changed: list[dict[str, Any]]) -> None:
    """Insert remote objects and refresh stored ones (rows with ``_id``, ``type``, ``ap_json``)."""
    conn = await s.connection()
    now = utcnow()
    if new:
        await conn.execute(insert(OBJECTS), [{**r, "received_at": now, "updated_at": now}
                                             for r in new])
    if changed:
        await conn.execute(update(OBJECTS).where(OBJECTS.c.id == bindparam("_id")),
                           [{**r, "deleted_at": None, "updated_at": now} for r in changed])


async def mark_items(s: AsyncSession, outcomes: list[tuple[int, str, str | None]]) -> None:
    """Set the state (and error) of many inbox items: [(id, state, error)]."""
    if not outcomes:
        return
    conn = await s.connection()
    processed = [i for i, st, err in outcomes if st == "processed" and err is None]
    if processed:  # the common case: one statement for all
        await conn.execute(update(ITEMS).where(ITEMS.c.id.in_(processed))
                           .values(state="processed", error=None))
    others = [(i, st, err) for i, st, err in outcomes if not (st == "processed" and err is None)]
    if others:
        await conn.execute(update(ITEMS).where(ITEMS.c.id == bindparam("_id")),
                           [{"_id": i, "state": st, "error": err[:2000] if err else None}
                            for i, st, err in others])
