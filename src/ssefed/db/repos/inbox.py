"""Data access for received activities."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ssefed.db.base import utcnow
from ssefed.db.models import InboxItem


async def add_once(s: AsyncSession, *, ap_id: str, type_: str, actor_ap_id: str,
                   key_id: str | None, ap_json: dict[str, Any]) -> int | None:
    """Store a received activity unless its id was seen before (insert ignoring the
    conflict on the unique id: no check-then-insert race). Returns the new row id."""
    insert = pg_insert if s.bind.dialect.name == "postgresql" else sqlite_insert
    stmt = (insert(InboxItem).values(ap_id=ap_id, type=type_, actor_ap_id=actor_ap_id,
                                     key_id=key_id, ap_json=ap_json, state="pending",
                                     received_at=utcnow())
            .on_conflict_do_nothing(index_elements=["ap_id"]).returning(InboxItem.id))
    return await s.scalar(stmt)


async def get(s: AsyncSession, item_id: int) -> InboxItem | None:
    return await s.get(InboxItem, item_id)


async def mark(s: AsyncSession, item_id: int, state: str, error: str | None = None) -> None:
    await s.execute(update(InboxItem).where(InboxItem.id == item_id)
                    .values(state=state, error=error[:2000] if error else None))


async def list_by_state(s: AsyncSession, state: str, limit: int = 100) -> list[InboxItem]:
    return list(await s.scalars(select(InboxItem).where(InboxItem.state == state)
                                .order_by(InboxItem.id.desc()).limit(limit)))


async def add_batch(s: AsyncSession, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Store many received activities, ignoring ids seen before (also within the batch);
    return {ap_id: new row id} for those actually inserted, and queue their
    ``inbox.process`` jobs in the same transaction. One cached statement each,
    executed for many rows (SQLAlchemy's insertmanyvalues)."""
    from ssefed.db.models import Job

    if not rows:
        return {}
    unique = list({r["ap_id"]: r for r in reversed(rows)}.values())[::-1]  # first wins
    insert = pg_insert if s.bind.dialect.name == "postgresql" else sqlite_insert
    now = utcnow()
    # Core statements on the session's connection: no ORM bulk machinery on this hot path.
    conn = await s.connection()
    items = InboxItem.__table__
    stmt = (insert(items).on_conflict_do_nothing(index_elements=["ap_id"])
            .returning(items.c.ap_id, items.c.id))
    result = await conn.execute(stmt, [{**r, "state": "pending", "received_at": now}
                                       for r in unique])
    inserted = {ap_id: item_id for ap_id, item_id in result}
    if inserted:
        await conn.execute(insert(Job.__table__), [
            {"kind": "inbox.process", "payload": {"item": item_id}, "state": "pending",
             "attempts": 0, "run_at": now, "created_at": now, "updated_at": now}
            for item_id in inserted.values()])
    return inserted
