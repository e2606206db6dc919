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


async def documents(s: AsyncSession, item_ids: list[int]
                    ) -> dict[int, tuple[str, dict[str, Any] | None]]:
    """{id: (state, activity)} of stored items, read at once for a batch."""
    rows = await s.execute(select(InboxItem.id, InboxItem.state, InboxItem.ap_json)
                           .where(InboxItem.id.in_(item_ids)))
    return {item_id: (state, doc) for item_id, state, doc in rows}


async def mark(s: AsyncSession, item_id: int, state: str, error: str | None = None) -> None:
    await s.execute(update(InboxItem).where(InboxItem.id == item_id)
                    .values(state=state, error=error[:2000] if error else None))


async def mark_many(s: AsyncSession, outcomes: list[tuple[int, str, str | None]]) -> None:
    """Set (item id, state, error) for many items: one UPDATE per state without error."""
    plain: dict[str, list[int]] = {}
    for item_id, state, error in outcomes:
        if error is None:
            plain.setdefault(state, []).append(item_id)
        else:
            await mark(s, item_id, state, error)
    for state, ids in plain.items():
        await s.execute(update(InboxItem).where(InboxItem.id.in_(ids))
                        .values(state=state, error=None))


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


# -- the inbox's hot path: straight to the driver --------------------------------------
# One batch of verified activities is one statement on PostgreSQL (items and their jobs
# inserted by one INSERT ... RETURNING feeding a second INSERT) and one thread hop on
# SQLite, without sessions, ORM or statement compilation in the event loop. Rows are
# those of add_batch, plus "ap_json_text": the document as JSON text (the received body
# itself), so nothing is serialised again.

_SQLITE_ITEM = ("INSERT INTO inbox_items (ap_id, type, actor_ap_id, key_id, ap_json, state, "
                "received_at) VALUES (?, ?, ?, ?, ?, 'pending', ?) "
                "ON CONFLICT (ap_id) DO NOTHING RETURNING id")
_SQLITE_JOB = ("INSERT INTO jobs (kind, payload, state, attempts, run_at, created_at, "
               "updated_at) VALUES ('inbox.process', ?, 'pending', 0, ?, ?, ?)")
_PG_BATCH = """
WITH new AS (
    INSERT INTO inbox_items (ap_id, type, actor_ap_id, key_id, ap_json, state, received_at)
    SELECT u.ap_id, u.type, u.actor_ap_id, u.key_id, u.doc::jsonb, 'pending', $6
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
         WITH ORDINALITY AS u(ap_id, type, actor_ap_id, key_id, doc, n)
    ORDER BY u.n
    ON CONFLICT (ap_id) DO NOTHING
    RETURNING id, ap_id
), queued AS (
    INSERT INTO jobs (kind, payload, state, attempts, run_at, created_at, updated_at)
    SELECT 'inbox.process', jsonb_build_object('item', new.id), 'pending', 0, $6, $6, $6
    FROM new ORDER BY new.id
)
SELECT ap_id, id FROM new
"""


def _json_text(row: dict[str, Any]) -> str:
    import json

    return row.get("ap_json_text") or json.dumps(row["ap_json"])


async def store_batch(db, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Like add_batch, in a transaction of its own, through the driver directly
    (``db``: ssefed.db.session.Database). Returns {ap_id: new row id} of the inserted."""
    if not rows:
        return {}
    unique = list({r["ap_id"]: r for r in reversed(rows)}.values())[::-1]  # first wins
    now = utcnow()
    if db.is_sqlite:
        import json

        stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")  # as SQLAlchemy stores UTC datetimes
        params = [(r["ap_id"], r["type"], r["actor_ap_id"], r["key_id"], _json_text(r), stamp)
                  for r in unique]

        def run(conn) -> dict[str, int]:  # sqlite3.Connection, in its thread
            inserted: dict[str, int] = {}
            for p in params:
                found = conn.execute(_SQLITE_ITEM, p).fetchone()
                if found is not None:
                    inserted[p[0]] = found[0]
            if inserted:
                conn.executemany(_SQLITE_JOB, [(json.dumps({"item": i}), stamp, stamp, stamp)
                                               for i in inserted.values()])
            return inserted

        return await db.sqlite_direct_write(run)

    columns = ([r["ap_id"] for r in unique], [r["type"] for r in unique],
               [r["actor_ap_id"] for r in unique], [r["key_id"] for r in unique],
               [_json_text(r) for r in unique])

    async def run_pg(conn) -> dict[str, int]:  # asyncpg.Connection
        return {ap_id: item_id for ap_id, item_id in await conn.fetch(_PG_BATCH, *columns, now)}

    return await db.pg_direct(run_pg)
