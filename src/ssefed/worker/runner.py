"""The worker: claims due jobs from the database and runs them with bounded concurrency.

Job states: pending -> running -> done | pending (retry at t) | dead. A job whose
worker died stays 'running' until its lock expires, then it is claimed again; on a
clean stop, jobs still running after the grace period are given back at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Awaitable, Callable

from ssefed.db.base import utcnow
from ssefed.db.repos import jobs as job_repo
from ssefed.db.session import BACKGROUND, BACKGROUND_SHARE, Database
from ssefed.worker.retry import JOBS

log = logging.getLogger("ssefed.worker")

Handler = Callable[[dict[str, Any]], Awaitable[None]]
BATCH_SIZE = 256  # jobs of one kind applied together when no request is being answered
FOREGROUND_BATCH_SIZE = 32  # ... and while requests are answered (shorter write transactions)


@dataclass
class JobBatch:
    """Jobs of one kind handed to their batch handler together. The handler may mark jobs
    done in its own write transaction (``unfinished``, then ``done.update`` once committed):
    the worker then has no transaction of its own to spend on them."""

    payloads: list[dict[str, Any]]
    job_ids: list[int]
    done: set[int] = field(default_factory=set)  # positions whose job the handler finished

    def unfinished(self, positions: set[int]) -> list[int]:
        """The ids of the jobs at ``positions`` not finished yet: the handler finishes them
        (``jobs.finish_many``) in its write transaction."""
        return [self.job_ids[i] for i in sorted(positions) if i not in self.done]


# Applies many jobs of one kind at once; returns the positions of those it left to the
# kind's one-job handler (which then runs them one by one, each with its own retries).
BatchHandler = Callable[[JobBatch], Awaitable[set[int]]]


class PermanentError(Exception):
    """The job can never succeed: mark it dead without retrying."""


class Worker:
    def __init__(self, db: Database, handlers: dict[str, Handler], *, concurrency: int = 4,
                 poll_interval: float = 1.0, lock_seconds: int = 300,
                 batch_handlers: dict[str, BatchHandler] | None = None,
                 batch_size: int = BATCH_SIZE) -> None:
        """``batch_handlers``: kinds whose due jobs run up to ``batch_size`` at a time in one
        slot (claimed, applied and finished with one transaction each, not one per job)."""
        self.db, self.handlers = db, handlers
        self.batch_handlers = batch_handlers or {}
        self.batch_size = max(1, batch_size)
        self.concurrency, self.poll_interval, self.lock_seconds = (
            concurrency, poll_interval, lock_seconds)
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._running: dict[int, asyncio.Task] = {}
        self._loop_task: asyncio.Task | None = None
        self._rest_until = 0.0  # while requests are answered, no claims before (monotonic)
        # On SQLite writes are serialised: batches of one kind run one after the other
        # (the next one claimed and waiting, so it starts as soon as the previous ends).
        self._batch_locks: dict[str, asyncio.Lock] = {}

    def wake(self) -> None:
        """New work was queued: look for it now rather than at the next poll."""
        self._wake.set()

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._loop(), name="ssefed-worker")

    async def _loop(self) -> None:
        BACKGROUND.set(True)  # its writes (and its jobs' tasks) give way to requests
        while not self._stopping.is_set():
            self._wake.clear()  # before looking for work, so no wake-up is lost
            free = self.concurrency - len(set(self._running.values()))
            claimed = []
            rest = self._rest_until - time.monotonic()
            if free > 0 and rest > 0 and self.db.foreground_recent():
                await self._rest(rest)  # requests first (BACKGROUND_SHARE)
                continue
            if free > 0:
                try:
                    claimed = await self._claim(free)
                except Exception:  # database away: log, wait, try again
                    log.exception("claiming jobs failed")
            extra = await self._start(claimed, free)
            if claimed and len(claimed) >= free and not extra:
                continue  # there may be more due: claim again as soon as a slot frees
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            except asyncio.TimeoutError:
                pass

    async def _claim(self, free: int) -> list[job_repo.ClaimedJob]:
        """Due jobs for ``free`` slots, in one write transaction: one each, and the
        batches of the kinds with a batch handler filled up (one thread hop on SQLite: the
        claim is most of a small job's cost)."""
        size = self._batch_size()
        batch_kinds = set(self.batch_handlers)

        def more(claimed: list) -> tuple[int, list[str]]:
            batched = {j.kind for j in claimed} & batch_kinds
            return (size * len(batched) - sum(j.kind in batched for j in claimed),
                    sorted(batched))

        def run(conn) -> list[job_repo.ClaimedJob]:
            claimed = job_repo.claim(conn, limit=free, lock_seconds=self.lock_seconds)
            limit, kinds = more(claimed)
            if kinds:  # fill the batches up, in the same transaction
                claimed += job_repo.claim(conn, limit=limit, kinds=kinds,
                                          lock_seconds=self.lock_seconds)
            return claimed

        return await self.db.run(run)

    async def _start(self, claimed: list, free: int) -> list[int]:
        """Start the claimed jobs in at most ``free`` tasks (a batch of one kind is one
        task); jobs beyond that are given back. Returns those given back."""
        units: list[list] = []
        batches: dict[str, list] = {}
        size = self._batch_size()
        for job in claimed:
            if job.kind in self.batch_handlers:
                batch = batches.get(job.kind)
                if batch is None or len(batch) >= size:
                    batch = batches[job.kind] = []
                    units.append(batch)
                batch.append(job)
            else:
                units.append([job])
        extra = [job.id for unit in units[free:] for job in unit]
        for unit in units[:free]:
            jobs = [(job.id, job.kind, job.payload, job.attempts) for job in unit]
            if len(jobs) == 1 and jobs[0][1] not in self.batch_handlers:
                task = asyncio.create_task(self._run(*jobs[0]))
            else:
                task = asyncio.create_task(self._run_batch(jobs))
            ids = [job_id for job_id, _, _, _ in jobs]
            for job_id in ids:
                self._running[job_id] = task
            task.add_done_callback(lambda _t, ids=ids: self._job_done(*ids))
        if extra:
            try:
                async with self.db.write() as s:
                    await job_repo.release(s, extra)
            except Exception:  # they are claimed again when their lock expires
                log.exception("giving back %d jobs failed", len(extra))
        return extra

    def _batch_size(self) -> int:
        """Large batches amortise each transaction's round trips; while requests are being
        answered, smaller ones keep the write lock (SQLite) short for them."""
        if self.db.foreground_recent():
            return min(self.batch_size, FOREGROUND_BATCH_SIZE)
        return self.batch_size

    async def _rest(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), min(seconds, self.poll_interval))
        except asyncio.TimeoutError:
            pass

    def _worked(self, started: float) -> None:
        """Account the time a job took: under request load, the worker then rests so
        that jobs take at most BACKGROUND_SHARE of the time."""
        if not self.db.foreground_recent():
            return
        now = time.monotonic()
        owed = (now - started) * (1 - BACKGROUND_SHARE) / BACKGROUND_SHARE
        self._rest_until = min(max(self._rest_until, now) + owed, now + 2.0)

    def _job_done(self, *job_ids: int) -> None:
        for job_id in job_ids:
            self._running.pop(job_id, None)
        self._wake.set()

    async def _run_batch(self, jobs: list[tuple[int, str, dict[str, Any], int]]) -> None:
        """Jobs of one kind with a batch handler; what it leaves (or all of them, if it
        fails) run one by one as usual."""
        kind = jobs[0][1]
        if not self.db.is_sqlite:
            await self._run_batch_of(kind, jobs)
            return
        async with self._batch_locks.setdefault(kind, asyncio.Lock()):
            await self._run_batch_of(kind, jobs)

    async def _run_batch_of(self, kind: str, jobs: list[tuple[int, str, dict[str, Any], int]]
                            ) -> None:
        started = time.monotonic()
        batch = JobBatch([payload for _, _, payload, _ in jobs], [job[0] for job in jobs])
        try:
            rest = await self.batch_handlers[kind](batch)
        except asyncio.CancelledError:
            raise
        except Exception:  # the one-job path retries each by policy
            log.exception("batch of %d %s jobs failed; running them one by one", len(jobs), kind)
            rest = set(range(len(jobs))) - batch.done
        handled = [job[0] for i, job in enumerate(jobs) if i not in rest and i not in batch.done]
        if handled:
            await self.db.run(lambda conn: job_repo.finish_many(conn, handled))
        self._worked(started)
        for i in sorted(rest):
            await self._run(*jobs[i])

    async def _run(self, job_id: int, kind: str, payload: dict[str, Any], attempts: int) -> None:
        started = time.monotonic()
        try:
            await self._run_one(job_id, kind, payload, attempts)
        finally:
            self._worked(started)

    async def _run_one(self, job_id: int, kind: str, payload: dict[str, Any],
                       attempts: int) -> None:
        handler = self.handlers.get(kind)
        try:
            if handler is None:
                raise PermanentError(f"no handler for job kind {kind!r}")
            await handler(payload)
        except asyncio.CancelledError:
            raise
        except PermanentError as exc:
            log.warning("job %s (%s) failed for good: %s", job_id, kind, exc)
            async with self.db.write() as s:
                await job_repo.kill(s, job_id, str(exc))
            return
        except Exception as exc:  # any failure is retried by policy
            delay = JOBS.next_delay(attempts)
            log.warning("job %s (%s) attempt %d failed: %r", job_id, kind, attempts, exc)
            async with self.db.write() as s:
                if delay is None:
                    await job_repo.kill(s, job_id, repr(exc))
                else:
                    await job_repo.retry_at(s, job_id, utcnow() + timedelta(seconds=delay),
                                            repr(exc))
            return
        async with self.db.write() as s:
            await job_repo.finish(s, job_id)

    async def stop(self, grace: float) -> None:
        """Stop claiming; let running jobs finish within ``grace`` seconds, give back the rest."""
        self._stopping.set()
        self._wake.set()
        if self._loop_task is not None:
            await self._loop_task
        pending = list(set(self._running.values()))
        if pending:
            await asyncio.wait(pending, timeout=grace)
        unfinished = {jid: t for jid, t in self._running.items() if not t.done()}
        for task in set(unfinished.values()):
            task.cancel()
        if unfinished:
            await asyncio.gather(*set(unfinished.values()), return_exceptions=True)
            async with self.db.write() as s:
                await job_repo.release(s, list(unfinished))
            log.info("gave back %d unfinished job(s) for the next start", len(unfinished))
