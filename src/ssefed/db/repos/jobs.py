"""Data access for the durable job queue (see ssefed.worker for the state machine)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
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


async def claim(s: AsyncSession, *, limit: int, lock_seconds: int, skip_locked: bool,
                kinds: set[str] | None = None, now: datetime | None = None) -> list[Job]:
    """Claim due jobs (of ``kinds`` only, if given): pending ones whose time has come, and
    running ones whose lock expired (their worker died). Must run in a write transaction."""
    now = now or utcnow()
    q = (select(Job)
         .where(or_(and_(Job.state == "pending", Job.run_at <= now),
                    and_(Job.state == "running", Job.locked_until < now)))
         .order_by(Job.run_at, Job.id).limit(limit))
    if kinds:
        q = q.where(Job.kind.in_(sorted(kinds)))
    if skip_locked:
        q = q.with_for_update(skip_locked=True)
    jobs = list(await s.scalars(q))
    for job in jobs:
        job.state = "running"
        job.attempts += 1
        job.locked_until = now + timedelta(seconds=lock_seconds)
    await s.flush()
    return jobs


async def finish(s: AsyncSession, job_id: int) -> None:
    await s.execute(update(Job).where(Job.id == job_id)
                    .values(state="done", locked_until=None, last_error=None, updated_at=utcnow()))


async def finish_many(s: AsyncSession, job_ids: list[int]) -> None:
    await s.execute(update(Job).where(Job.id.in_(job_ids))
                    .values(state="done", locked_until=None, last_error=None, updated_at=utcnow()))


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


async def counts(s: AsyncSession) -> dict[str, int]:
    rows = await s.execute(select(Job.state, func.count()).group_by(Job.state))
    return {state: n for state, n in rows}
