"""Data access for the durable job queue (see ssefed.worker for the state machine)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Sequence

from sqlalchemy import Connection, and_, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from ssefed.db.base import utcnow
from ssefed.db.models import Job


def enqueue(conn: Connection | Session, kind: str, payload: dict[str, Any] | None = None, *,
            dedupe_key: str | None = None, run_at: datetime | None = None) -> int | None:
    """Add a job and return its id; with a ``dedupe_key`` already queued, return None and
    add nothing. In ``Database.run``, or ``await session.run_sync(enqueue, kind, …)``."""
    jobs = Job.__table__
    if dedupe_key is not None and conn.execute(
            select(jobs.c.id).where(jobs.c.dedupe_key == dedupe_key)).first() is not None:
        return None
    now = utcnow()
    return conn.execute(insert(jobs).values(
        kind=kind, payload=payload or {}, dedupe_key=dedupe_key, state="pending", attempts=0,
        run_at=run_at or now, created_at=now, updated_at=now).returning(jobs.c.id)).scalar_one()


@dataclass(frozen=True)
class ClaimedJob:
    """A claimed job: what the worker needs to run it (attempts counts this one)."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int


def claim(conn: Connection, *, limit: int, lock_seconds: int, now: datetime | None = None,
          kinds: Sequence[str] | None = None, exclude: Sequence[str] = ()) -> list[ClaimedJob]:
    """Claim due jobs: pending ones whose time has come, and running ones whose lock expired
    (their worker died); only of ``kinds`` when given, never of ``exclude``. Runs in a
    write transaction (``Database.run``); on PostgreSQL rows another worker holds are
    skipped (``SKIP LOCKED``), on SQLite the writer holds the database.

    Light whatever the queue holds: the expired running jobs and the due pending ones are
    two index range scans in ``run_at`` order that stop at ``limit`` (an OR of both would
    read and sort every pending row), then one UPDATE of the claimed ids."""
    now = now or utcnow()
    jobs_table = Job.__table__
    c = jobs_table.c
    found: list = []
    # jobs whose worker died first (they are older), then the due pending ones in order
    for state_filter in (and_(c.state == "running", c.locked_until < now),
                         and_(c.state == "pending", c.run_at <= now)):
        q = select(c.id, c.kind, c.payload, c.attempts).where(state_filter)
        if kinds is not None:
            q = q.where(c.kind.in_(list(kinds)))
        if exclude:
            q = q.where(c.kind.not_in(list(exclude)))
        q = q.order_by(c.run_at, c.id).limit(limit - len(found))
        if conn.dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        found += conn.execute(q).all()
        if len(found) >= limit:
            break
    jobs = [ClaimedJob(i, kind, payload or {}, attempts + 1)
            for i, kind, payload, attempts in found[:limit]]
    if jobs:
        conn.execute(update(jobs_table).where(c.id.in_([j.id for j in jobs]))
                     .values(state="running", attempts=c.attempts + 1,
                             locked_until=now + timedelta(seconds=lock_seconds),
                             updated_at=now))
    return jobs


async def finish(s: AsyncSession, job_id: int) -> None:
    await s.execute(update(Job).where(Job.id == job_id)
                    .values(state="done", locked_until=None, last_error=None, updated_at=utcnow()))


def finish_many(conn: Connection | Session, job_ids: list[int]) -> None:
    """Mark jobs done (in ``Database.run``, or ``await session.run_sync(finish_many, ids)``)."""
    if job_ids:
        conn.execute(update(Job.__table__).where(Job.__table__.c.id.in_(job_ids))
                     .values(state="done", locked_until=None, last_error=None,
                             updated_at=utcnow()))


async def retry_at(s: AsyncSession, job_id: int, when: datetime, error: str) -> None:
    await s.execute(update(Job).where(Job.id == job_id)
                    .values(state="pending", run_at=when, locked_until=None,
                            last_error=error[:2000], updated_at=utcnow()))


async def kill(s: AsyncSession, job_id: int, error: str) -> None:
    await s.execute(update(Job).where(Job.id == job_id)
                    .values(state="dead", locked_until=None, last_error=error[:2000],
                            updated_at=utcnow()))


async def release(s: AsyncSession, job_ids: list[int]) -> None:
    """Give claimed jobs back (clean shutdown): runnable at once by the next start."""
    if job_ids:
        await s.execute(update(Job).where(Job.id.in_(job_ids), Job.state == "running")
                        .values(state="pending", locked_until=None,
                                attempts=Job.attempts - 1, updated_at=utcnow()))


async def counts(s: AsyncSession, *, exclude: Sequence[str] = ()) -> dict[str, int]:
    """Jobs by state (those of the ``exclude`` kinds left out)."""
    q = select(Job.state, func.count()).group_by(Job.state)
    if exclude:
        q = q.where(Job.kind.not_in(list(exclude)))
    rows = await s.execute(q)
    return {state: n for state, n in rows}
