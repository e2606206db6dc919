"""Data access for bulk imports (``ssefed import``): what exists already, read once, and
Core statements executed for many rows at a time (SQLAlchemy's insertmanyvalues), on the
connection of the caller's write session.

Rows are plain dicts of column values; every row of one call has the same keys.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ssefed.db.base import utcnow
from ssefed.db.models import Activity, Actor, Delivery, Follow, Offer, OfferInput, Organisation

ACTORS, ORGS, OFFERS = Actor.__table__, Organisation.__table__, Offer.__table__
INPUTS, ACTIVITIES, DELIVERIES = OfferInput.__table__, Activity.__table__, Delivery.__table__

# Columns an organisation import sets (and compares on re-import), per table.
ORG_ACTOR_COLUMNS = ("name", "summary")
ORG_COLUMNS = ("legal_form", "sectors", "qualifiers", "lat", "lon", "address", "postal_code",
               "locality", "country", "website", "email", "phone", "organisational_structure",
               "membership_type", "activities")
OFFER_COLUMNS = ("direction", "kind", "role", "exchange", "category", "title", "summary",
                 "quantity", "unit", "price", "currency", "lat", "lon", "valid_until")


async def _insert_returning_ids(conn, table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows (each with a unique ``ap_id``) and return their ids in the rows' order.
    The ids are matched by ``ap_id``: asking SQLAlchemy to return them in order
    (sort_by_parameter_order) makes it insert one row at a time on SQLite."""
    result = await conn.execute(insert(table).returning(table.c.ap_id, table.c.id), rows)
    by_ap_id = {ap_id: i for ap_id, i in result}
    return [by_ap_id[r["ap_id"]] for r in rows]


async def imported_organisations(s: AsyncSession) -> dict[str, dict[str, Any]]:
    """{source key: current values} of the organisations imported before."""
    cols = [ACTORS.c.id, ACTORS.c.handle, *(ACTORS.c[c] for c in ORG_ACTOR_COLUMNS),
            *(ORGS.c[c] for c in ORG_COLUMNS), ORGS.c.source_key]
    rows = await s.execute(select(*cols).join(ORGS, ORGS.c.actor_id == ACTORS.c.id)
                           .where(ORGS.c.source_key.is_not(None)))
    return {r.source_key: dict(r._mapping) for r in rows}


async def local_handles(s: AsyncSession) -> set[str]:
    return set(await s.scalars(select(ACTORS.c.handle).where(ACTORS.c.local.is_(True))))


async def insert_organisations(s: AsyncSession, actor_rows: list[dict[str, Any]],
                               org_rows: list[dict[str, Any]]) -> list[int]:
    """Insert actors and their organisation rows (pairwise); return the actor ids."""
    conn = await s.connection()
    ids = await _insert_returning_ids(conn, ACTORS, actor_rows)
    await conn.execute(insert(ORGS), [{**o, "actor_id": i} for o, i in zip(org_rows, ids)])
    return ids


async def update_organisations(s: AsyncSession, changes: list[tuple[int, dict[str, Any]]]
                               ) -> None:
    """Set the import's columns of existing organisations: [(actor id, all values)]."""
    if not changes:
        return
    conn = await s.connection()
    now = utcnow()
    # no values(): each row's keys (column names) are what its UPDATE sets
    await conn.execute(
        update(ACTORS).where(ACTORS.c.id == bindparam("_id")),
        [{"_id": i, "updated_at": now, **{c: v[c] for c in ORG_ACTOR_COLUMNS}}
         for i, v in changes])
    await conn.execute(
        update(ORGS).where(ORGS.c.actor_id == bindparam("_id")),
        [{"_id": i, **{c: v[c] for c in ORG_COLUMNS}} for i, v in changes])


async def local_organisations(s: AsyncSession) -> dict[str, dict[str, Any]]:
    """{handle: id, ap_id, lat, lon} of the live member organisations."""
    rows = await s.execute(
        select(ACTORS.c.handle, ACTORS.c.id, ACTORS.c.ap_id, ORGS.c.lat, ORGS.c.lon)
        .join(ORGS, ORGS.c.actor_id == ACTORS.c.id)
        .where(ACTORS.c.local.is_(True), ACTORS.c.deleted_at.is_(None)))
    return {r.handle: dict(r._mapping) for r in rows}


async def imported_offers(s: AsyncSession) -> dict[str, dict[str, Any]]:
    """{source key: current values, with ``inputs`` in order} of offers imported before."""
    rows = await s.execute(select(OFFERS.c.id, OFFERS.c.ap_id, OFFERS.c.actor_id,
                                  OFFERS.c.source_key, OFFERS.c.deleted_at,
                                  OFFERS.c.published_at, *(OFFERS.c[c] for c in OFFER_COLUMNS))
                           .where(OFFERS.c.source_key.is_not(None)))
    found = {r.source_key: {**r._mapping, "inputs": []} for r in rows}
    by_id = {v["id"]: v for v in found.values()}
    if by_id:
        for offer_id, category in await s.execute(
                select(INPUTS.c.offer_id, INPUTS.c.category)
                .join(OFFERS, OFFERS.c.id == INPUTS.c.offer_id)
                .where(OFFERS.c.source_key.is_not(None))
                .order_by(INPUTS.c.offer_id, INPUTS.c.position)):
            by_id[offer_id]["inputs"].append(category)
    return found


async def insert_offers(s: AsyncSession, offer_rows: list[dict[str, Any]],
                        inputs: list[list[str]]) -> list[int]:
    """Insert offers and their input categories (pairwise); return the offer ids."""
    conn = await s.connection()
    ids = await _insert_returning_ids(conn, OFFERS, offer_rows)
    await _insert_inputs(conn, ids, inputs)
    return ids


async def update_offers(s: AsyncSession, changes: list[tuple[int, dict[str, Any], list[str]]]
                        ) -> None:
    """Set the import's columns of existing offers and replace their inputs."""
    if not changes:
        return
    conn = await s.connection()
    now = utcnow()
    await conn.execute(
        update(OFFERS).where(OFFERS.c.id == bindparam("_id")),
        [{"_id": i, "updated_at": now, **{c: v[c] for c in OFFER_COLUMNS}}
         for i, v, _ in changes])
    ids = [i for i, _, _ in changes]
    await conn.execute(delete(INPUTS).where(INPUTS.c.offer_id.in_(ids)))
    await _insert_inputs(conn, ids, [inp for _, _, inp in changes])


async def _insert_inputs(conn, ids: list[int], inputs: list[list[str]]) -> None:
    rows = [{"offer_id": i, "category": c, "position": n}
            for i, cats in zip(ids, inputs) for n, c in enumerate(dict.fromkeys(cats))]
    if rows:
        await conn.execute(insert(INPUTS), rows)


async def follower_inboxes_of(s: AsyncSession, actor_ids: list[int]) -> dict[int, list[str]]:
    """Where to deliver to each actor's followers (shared inbox when they have one: the
    follows' deliver_to), for many actors in one query; actors without followers are
    absent."""
    out: dict[int, list[str]] = {}
    if not actor_ids:
        return out
    rows = await s.execute(
        select(Follow.followed_id, Follow.deliver_to).distinct()
        .where(Follow.followed_id.in_(actor_ids), Follow.state == "accepted",
               Follow.deliver_to.is_not(None))
        .order_by(Follow.followed_id, Follow.deliver_to))
    for followed, inbox in rows:
        out.setdefault(followed, []).append(inbox)
    return out


async def insert_activities(s: AsyncSession, rows: list[dict[str, Any]],
                            inboxes: list[list[str]]) -> None:
    """Store outbox activities and one delivery per inbox of each (pairwise)."""
    if not rows:
        return
    conn = await s.connection()
    ids = await _insert_returning_ids(conn, ACTIVITIES, rows)
    now = utcnow()
    deliveries = [{"activity_id": a, "inbox": inbox, "host": urlsplit(inbox).netloc.lower(),
                   "state": "pending", "attempts": 0, "run_at": now, "created_at": now,
                   "updated_at": now}
                  for a, targets in zip(ids, inboxes) for inbox in targets]
    if deliveries:
        await conn.execute(insert(DELIVERIES), deliveries)
