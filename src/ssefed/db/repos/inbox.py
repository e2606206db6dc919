"""Data access for received activities."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, select, update
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
    """Store many received activities (InboxItem columns: ap_id, type, actor_ap_id, key_id,
    ap_json), ignoring ids seen before (also within the batch); return {ap_id: new row id}
    for those actually inserted, and queue their ``inbox.process`` jobs in the same
    transaction: two statements whatever the batch's size (SQLAlchemy's insertmanyvalues).
    Run by ``store_batch``."""
    if not rows:
        return {}
    unique = list({r["ap_id"]: r for r in reversed(rows)}.values())[::-1]  # first wins
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    now = utcnow()
    items = InboxItem.__table__
    stmt = (insert(items).on_conflict_do_nothing(index_elements=["ap_id"])
            .returning(items.c.ap_id, items.c.id))
    result = conn.execute(stmt, [{"ap_id": r["ap_id"], "type": r["type"],
                                  "actor_ap_id": r["actor_ap_id"], "key_id": r["key_id"],
                                  "ap_json": r["ap_json"], "state": "pending",
                                  "received_at": now} for r in unique])
    inserted = {ap_id: item_id for ap_id, item_id in result}
    if inserted:
        conn.execute(insert(Job.__table__), [
            {"kind": "inbox.process", "payload": {"item": item_id}, "state": "pending",
             "attempts": 0, "run_at": now, "created_at": now, "updated_at": now}
            for item_id in inserted.values()])
    return inserted


async def store_batch(db, rows: list[dict[str, Any]]) -> dict[str, int]:
    """``add_batch`` in a write transaction of its own (``db``: ssefed.db.session.Database):
    one thread hop on SQLite."""
    return await db.run(lambda conn: add_batch(conn, rows))
