"""Data access for retention (domain/retention.py): received activities and finished
work, pruned by age, a bounded chunk per statement."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Table, delete, null, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ssefed.db.models import Delivery, InboxItem, Job

ITEMS = InboxItem.__table__
FINISHED = ("done", "dead")


async def received_page(s: AsyncSession, after_id: int, limit: int
                        ) -> list[tuple[int, str, datetime, bool]]:
    """(id, state, received_at, body still there) of the received activities after
    ``after_id``, oldest id first (the body itself is not read)."""
    rows = await s.execute(select(ITEMS.c.id, ITEMS.c.state, ITEMS.c.received_at,
                                  ITEMS.c.ap_json.is_not(None))
                           .where(ITEMS.c.id > after_id).order_by(ITEMS.c.id).limit(limit))
    return [(i, state, at, bool(body)) for i, state, at, body in rows]


async def clear_bodies(s: AsyncSession, ids: list[int]) -> int:
    """Drop the bodies of these received activities (never of a pending one); the rows,
    and so their ids (the dedupe), stay."""
    if not ids:
        return 0
    result = await s.execute(update(ITEMS).where(ITEMS.c.id.in_(ids), ITEMS.c.state != "pending")
                             .values(ap_json=null()))
    return result.rowcount


async def delete_received(s: AsyncSession, ids: list[int]) -> int:
    """Delete these received activities (never a pending one)."""
    if not ids:
        return 0
    result = await s.execute(delete(ITEMS).where(ITEMS.c.id.in_(ids), ITEMS.c.state != "pending"))
    return result.rowcount


async def delete_finished(s: AsyncSession, table: Table, before: datetime, limit: int) -> int:
    """Delete up to ``limit`` done or dead rows of ``jobs`` or ``deliveries`` last changed
    before ``before``. A finished row was due before it finished, so ``run_at < before``
    holds too: it keeps the search on the (state, run_at) index."""
    ids = (select(table.c.id).where(table.c.state.in_(FINISHED), table.c.run_at < before,
                                    table.c.updated_at < before).limit(limit))
    result = await s.execute(delete(table).where(table.c.id.in_(ids.scalar_subquery())))
    return result.rowcount


JOBS, DELIVERIES = Job.__table__, Delivery.__table__
