"""The worker: claims due jobs from the database and runs them with bounded concurrency.

Job states: pending -> running -> done | pending (retry at t) | dead. A job whose
worker died stays 'running' until its lock expires, then it is claimed again; on a
clean stop, jobs still running after the grace period are given back at once.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any, Awaitable, Callable

from ssefed.db.base import utcnow
from ssefed.db.repos import jobs as job_repo
from ssefed.db.session import BACKGROUND, Database
from ssefed.worker.retry import next_delay

log = logging.getLogger("ssefed.worker")

Handler = Callable[[dict[str, Any]], Awaitable[None]]
# Runs many jobs of one kind at once; returns, per job, None (done) or its failure.
BatchHandler = Callable[[list[dict[str, Any]]], Awaitable[list[BaseException | None]]]
BATCH_SIZE = 500
# Two batches in flight: one reads and checks its activities while the other writes.
MAX_BATCHES = 2


class PermanentError(Exception):
    """The job can never succeed: mark it dead without retrying."""


class Worker:
    def __init__(self, db: Database, handlers: dict[str, Handler], *, concurrency: int = 4,
                 poll_interval: float = 1.0, lock_seconds: int = 300,
                 batch_handlers: dict[str, BatchHandler] | None = None) -> None:
        self.db, self.handlers = db, handlers
        # Kinds run in batches (at most MAX_BATCHES tasks at a time), beside the single jobs.
        self.batch_handlers = batch_handlers or {}
        self._batch: dict[int, asyncio.Task] = {}
        self.concurrency, self.poll_interval, self.lock_seconds = (
            concurrency, poll_interval, lock_seconds)
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._running: dict[int, asyncio.Task] = {}
        self._loop_task: asyncio.Task | None = None

    def wake(self) -> None:
        """New work was queued: look for it now rather than at the next poll."""
        self._wake.set()

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._loop(), name="ssefed-worker")

    async def _loop(self) -> None:
        BACKGROUND.set(True)  # its writes (and its jobs' tasks) give way to requests
        while not self._stopping.is_set():
            self._wake.clear()  # before looking for work, so no wake-up is lost
            while self.batch_handlers and len(set(self._batch.values())) < MAX_BATCHES:
                batch = await self._claim(BATCH_SIZE, kinds=list(self.batch_handlers))
                if not batch:
                    break
                task = asyncio.create_task(self._run_batch(batch))
                for job in batch:
                    self._batch[job.id] = task
                task.add_done_callback(
                    lambda _t, ids=[j.id for j in batch]: self._batch_done(ids))
                if len(batch) < BATCH_SIZE:
                    break
            free = self.concurrency - len(self._running)
            claimed = []
            if free > 0:
                claimed = await self._claim(free, exclude=list(self.batch_handlers))
                # (by exclusion, not by the kinds it knows: a job of an unknown kind is
                # claimed and marked dead, not left pending for ever)
            for job in claimed:
                task = asyncio.create_task(self._run(job.id, job.kind, job.payload, job.attempts))
                self._running[job.id] = task
                task.add_done_callback(lambda _t, jid=job.id: self._job_done(jid))
            if claimed and len(claimed) == free:
                continue  # there may be more due: claim again as soon as a slot frees
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            except asyncio.TimeoutError:
                pass

    async def _claim(self, limit: int, **filters: Any) -> list:
        try:
            async with self.db.write() as s:
                return await job_repo.claim(s, limit=limit, lock_seconds=self.lock_seconds,
                                            skip_locked=not self.db.is_sqlite, **filters)
        except Exception:  # database away: log, wait, try again
            log.exception("claiming jobs failed")
            return []

    def _batch_done(self, job_ids: list[int]) -> None:
        for job_id in job_ids:
            self._batch.pop(job_id, None)
        self._wake.set()

    async def _run_batch(self, jobs: list) -> None:
        by_kind: dict[str, list] = {}
        for job in jobs:
            by_kind.setdefault(job.kind, []).append(job)
        for kind, group in by_kind.items():
            try:
                results = await self.batch_handlers[kind]([j.payload for j in group])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the whole batch is retried by policy
                results = [exc] * len(group)
            done = [j.id for j, r in zip(group, results) if r is None]
            if done:
                async with self.db.write() as s:
                    await job_repo.finish_many(s, done)
            for job, result in zip(group, results):
                if result is not None:
                    await self._failed(job.id, kind, job.attempts, result)

    async def _failed(self, job_id: int, kind: str, attempts: int, exc: BaseException) -> None:
        if isinstance(exc, PermanentError):
            log.warning("job %s (%s) failed for good: %s", job_id, kind, exc)
            async with self.db.write() as s:
                await job_repo.kill(s, job_id, str(exc))
            return
        delay = next_delay(attempts)
        log.warning("job %s (%s) attempt %d failed: %r", job_id, kind, attempts, exc)
        async with self.db.write() as s:
            if delay is None:
                await job_repo.kill(s, job_id, repr(exc))
            else:
                await job_repo.retry_at(s, job_id, utcnow() + timedelta(seconds=delay),
                                        repr(exc))

    def _job_done(self, job_id: int) -> None:
        self._running.pop(job_id, None)
        self._wake.set()

    async def _run(self, job_id: int, kind: str, payload: dict[str, Any], attempts: int) -> None:
        handler = self.handlers.get(kind)
        try:
            if handler is None:
                raise PermanentError(f"no handler for job kind {kind!r}")
            await handler(payload)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure is retried by policy
            await self._failed(job_id, kind, attempts, exc)
            return
        async with self.db.write() as s:
            await job_repo.finish(s, job_id)

    async def stop(self, grace: float) -> None:
        """Stop claiming; let running jobs finish within ``grace`` seconds, give back the rest."""
        self._stopping.set()
        self._wake.set()
        if self._loop_task is not None:
            await self._loop_task
        running = {**self._running, **self._batch}
        pending = set(running.values())
        if pending:
            await asyncio.wait(pending, timeout=grace)
        unfinished = {jid: t for jid, t in running.items() if not t.done()}
        for task in set(unfinished.values()):
            task.cancel()
        if unfinished:
            await asyncio.gather(*set(unfinished.values()), return_exceptions=True)
            async with self.db.write() as s:
                await job_repo.release(s, list(unfinished))
            log.info("gave back %d unfinished job(s) for the next start", len(unfinished))
