"""Data access for received activities."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import (Connection, Select, Text, bindparam, cast, func, insert, literal, select,
                        update)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ssefed.db.base import utcnow
from ssefed.db.models import InboxItem, Job


async def get(s: AsyncSession, item_id: int) -> InboxItem | None:
    return await s.get(InboxItem, item_id)


async def documents(s: AsyncSession, item_ids: list[int]
                    ) -> dict[int, tuple[str, dict[str, Any] | None]]:
    """{id: (state, activity)} of stored items, read at once for a batch."""
    rows = await s.execute(select(InboxItem.id, InboxItem.state, InboxItem.ap_json)
                           .where(InboxItem.id.in_(item_ids)))
    return {item_id: (state, doc) for item_id, state, doc in rows}


async def mark(s: AsyncSession, item_id: int, state: str, error: str | None = None) -> None:
    await s.execute(update(InboxItem).where(InboxItem.id == item_id)
                    .values(state=state, error=error[:2000] if error else None))


def mark_many(conn: Connection, outcomes: list[tuple[int, str, str | None]]) -> None:
    """Set (item id, state, error) for many items: one UPDATE per state without error, one
    executemany for those with an error (in ``Database.run``)."""
    items = InboxItem.__table__
    plain: dict[str, list[int]] = {}
    for item_id, state, error in outcomes:
        if error is None:
            plain.setdefault(state, []).append(item_id)
    for state, ids in plain.items():
        conn.execute(update(items).where(items.c.id.in_(ids)).values(state=state, error=None))
    failed = [{"b_id": item_id, "state": state, "error": error[:2000]}
              for item_id, state, error in outcomes if error is not None]
    if failed:
        conn.execute(update(items).where(items.c.id == bindparam("b_id")), failed)


async def list_by_state(s: AsyncSession, state: str, limit: int = 100) -> list[InboxItem]:
    return list(await s.scalars(select(InboxItem).where(InboxItem.state == state)
                                .order_by(InboxItem.id.desc()).limit(limit)))


def add_batch(conn: Connection, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Store many received activities, ignoring ids seen before (also within the batch),
    and queue their ``inbox.process`` jobs; return {ap_id: new row id} of those inserted.
    A row: ap_id, type, actor_ap_id, key_id, and ``document``, the activity as the JSON
    text received: stored as it came (the database reads it; nothing serialises it
    again). One statement on PostgreSQL (the items' INSERT feeds the jobs'), two on SQLite
    whatever the batch's size. Run by ``store_batch``."""
    if not rows:
        return {}
    unique = list({r["ap_id"]: r for r in reversed(rows)}.values())[::-1]  # first wins
    now = utcnow()
    if conn.dialect.name == "postgresql":
        result = conn.execute(_items_and_jobs(), {c: [r[c] for r in unique] for c in _GIVEN}
                              | {"now": now})
        return {ap_id: item_id for ap_id, item_id in result}
    items = InboxItem.__table__
    stmt = (sqlite_insert(items).values(ap_json=bindparam("document", type_=Text))
            .on_conflict_do_nothing(index_elements=["ap_id"])
            .returning(items.c.ap_id, items.c.id))
    inserted = dict(conn.execute(stmt, [{**{c: r[c] for c in _GIVEN}, "state": "pending",
                                         "received_at": now} for r in unique]).all())
    if inserted:
        conn.execute(insert(Job.__table__), [
            {"kind": "inbox.process", "payload": {"item": item_id}, "state": "pending",
             "attempts": 0, "run_at": now, "created_at": now, "updated_at": now}
            for item_id in inserted.values()])
    return inserted


_GIVEN = ("ap_id", "type", "actor_ap_id", "key_id", "document")


@functools.cache
def _items_and_jobs() -> Select:
    """PostgreSQL: the batch's columns as arrays, unnested in order into inbox_items, and
    each new item's job inserted by the same statement."""
    items, jobs = InboxItem.__table__, Job.__table__
    now = bindparam("now", type_=items.c.received_at.type)
    given = (func.unnest(*(bindparam(c, type_=ARRAY(Text)) for c in _GIVEN))
             .table_valued(*_GIVEN, with_ordinality="n").render_derived(name="given"))
    new = (pg_insert(items).from_select(
        ["ap_id", "type", "actor_ap_id", "key_id", "ap_json", "state", "received_at"],
        select(given.c.ap_id, given.c.type, given.c.actor_ap_id, given.c.key_id,
               cast(given.c.document, JSONB), literal("pending"), now).order_by(given.c.n))
           .on_conflict_do_nothing(index_elements=["ap_id"])
           .returning(items.c.ap_id, items.c.id).cte("new"))
    queued = insert(jobs).from_select(
        ["kind", "payload", "state", "attempts", "run_at", "created_at", "updated_at"],
        select(literal("inbox.process"), func.jsonb_build_object("item", new.c.id),
               literal("pending"), literal(0), now, now, now).order_by(new.c.id)).cte("queued")
    return select(new.c.ap_id, new.c.id).add_cte(queued)


async def store_batch(db, rows: list[dict[str, Any]]) -> dict[str, int]:
    """``add_batch`` in a write transaction of its own (``db``: ssefed.db.session.Database):
    one thread hop on SQLite, one round trip on PostgreSQL."""
    return await db.run(lambda conn: add_batch(conn, rows), one_statement=not db.is_sqlite)
