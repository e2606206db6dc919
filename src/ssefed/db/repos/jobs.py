"""Data access for the durable job queue (see ssefed.worker for the state machine)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ssefed.db.base import utcnow
from ssefed.db.models import Job


async def enqueue(s: AsyncSession, kind: str, payload: dict[str, Any] | None = None, *,
                  dedupe_key: str | None = None, run_at: datetime | None = None) -> Job | None:
    """Add a job; with a ``dedupe_key`` already queued, return None and add nothing."""
    if dedupe_key is not None:
        if await s.scalar(select(Job.id).where(Job.dedupe_key == dedupe_key)) is not None:
            return None
    job = Job(kind=kind, payload=payload or {}, dedupe_key=dedupe_key, state="pending",
              attempts=0, run_at=run_at or utcnow())
    s.add(job)
    await s.flush()
    return job


@dataclass(frozen=True)
class ClaimedJob:
    """A claimed job: what the worker needs to run it (attempts counts this one)."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int


async def claim(s: AsyncSession, *, limit: int, lock_seconds: int, skip_locked: bool,
                now: datetime | None = None, kinds: Sequence[str] | None = None,
                exclude: Sequence[str] = ()) -> list[ClaimedJob]:
    """Claim due jobs: pending ones whose time has come, and running ones whose lock expired
    (their worker died); only of ``kinds`` when given, never of ``exclude``. Must run in a
    write transaction.

    Light whatever the queue holds: the expired running jobs and the due pending ones are
    two index range scans in ``run_at`` order that stop at ``limit`` (an OR of both would
    read and sort every pending row), then one UPDATE of the claimed ids."""
    now = now or utcnow()
    cols = (Job.id, Job.kind, Job.payload, Job.attempts)
    found = []
    # jobs whose worker died first (they are older), then the due pending ones in order
    for state_filter in (and_(Job.state == "running", Job.locked_until < now),
                         and_(Job.state == "pending", Job.run_at <= now)):
        q = select(*cols).where(state_filter)
        if kinds is not None:
            q = q.where(Job.kind.in_(list(kinds)))
        if exclude:
            q = q.where(Job.kind.not_in(list(exclude)))
        q = q.order_by(Job.run_at, Job.id)
        if skip_locked:
            q = q.with_for_update(skip_locked=True)
        found += list(await s.execute(q.limit(limit - len(found))))
        if len(found) >= limit:
            break
    jobs = [ClaimedJob(r.id, r.kind, r.payload or {}, r.attempts + 1) for r in found[:limit]]
    if jobs:
        await s.execute(update(Job).where(Job.id.in_([j.id for j in jobs]))
                        .values(state="running", attempts=Job.attempts + 1,
                                locked_until=now + timedelta(seconds=lock_seconds),
                                updated_at=now)
                        .execution_options(synchronize_session=False))
    return jobs


async def finish(s: AsyncSession, job_id: int) -> None:
    await s.execute(update(Job).where(Job.id == job_id)
                    .values(state="done", locked_until=None, last_error=None, updated_at=utcnow()))


async def finish_many(s: AsyncSession, job_ids: list[int]) -> None:
    if job_ids:
        await s.execute(update(Job).where(Job.id.in_(job_ids))
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


# -- the same, straight to the sqlite3 driver ------------------------------------------
# For the worker's hot path on SQLite (Database.sqlite_direct_write: one thread hop, no
# session). They write exactly the rows and columns of the functions above.

def sqlite_stamp(when: datetime) -> str:
    """A UTC datetime as SQLAlchemy stores it on SQLite (naive UTC text)."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def sqlite_claim(conn: sqlite3.Connection, *, limit: int, lock_seconds: int,
                 now: datetime | None = None, kinds: Sequence[str] | None = None,
                 exclude: Sequence[str] = ()) -> list[ClaimedJob]:
    """``claim`` on a sqlite3 connection in a write transaction (the same two range scans,
    then one UPDATE)."""
    now = now or utcnow()
    stamp = sqlite_stamp(now)
    found: list[tuple] = []
    for state_filter in ("state = 'running' AND locked_until < ?",
                         "state = 'pending' AND run_at <= ?"):
        sql, params = f"SELECT id, kind, payload, attempts FROM jobs WHERE {state_filter}", [stamp]
        if kinds is not None:
            sql += f" AND kind IN ({_marks(len(kinds))})"
            params += list(kinds)
        if exclude:
            sql += f" AND kind NOT IN ({_marks(len(exclude))})"
            params += list(exclude)
        sql += " ORDER BY run_at, id LIMIT ?"
        found += conn.execute(sql, [*params, limit - len(found)]).fetchall()
        if len(found) >= limit:
            break
    jobs = [ClaimedJob(i, kind, json.loads(payload) if payload else {}, attempts + 1)
            for i, kind, payload, attempts in found[:limit]]
    if jobs:
        conn.execute(f"UPDATE jobs SET state = 'running', attempts = attempts + 1, "
                     f"locked_until = ?, updated_at = ? WHERE id IN ({_marks(len(jobs))})",
                     [sqlite_stamp(now + timedelta(seconds=lock_seconds)), stamp,
                      *(j.id for j in jobs)])
    return jobs


def sqlite_finish_many(conn: sqlite3.Connection, job_ids: list[int]) -> None:
    """``finish_many`` on a sqlite3 connection."""
    if job_ids:
        conn.execute(f"UPDATE jobs SET state = 'done', locked_until = NULL, last_error = NULL, "
                     f"updated_at = ? WHERE id IN ({_marks(len(job_ids))})",
                     [sqlite_stamp(utcnow()), *job_ids])

