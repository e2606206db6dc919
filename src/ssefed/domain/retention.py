"""Retention: what other servers sent, and finished work, do not stay forever, so that a
flood cannot fill the disk ([retention] in the configuration).

A periodic job (``retention.prune``, every hour, queued like the reminders' runs) prunes:

- the bodies (``ap_json``) of received activities applied, ignored or rejected more than
  ``received_days`` ago; their rows stay, since the unique ``ap_id`` is the inbox's
  dedupe: a peer that retries the same activity is answered "duplicate";
- those rows once both ``received_days`` and ``dedupe_days`` have passed;
- done and dead jobs after ``jobs_days``, done and dead deliveries after
  ``deliveries_days`` (the published activities stay: they are served at their ids).

Activities still pending are never pruned. Each statement handles a bounded chunk in
its own short write transaction, so requests never wait long for the database.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from ssefed.config import Config, RetentionConfig
from ssefed.db.base import utcnow
from ssefed.db.repos import jobs as job_repo
from ssefed.db.repos import retention as retention_repo
from ssefed.db.session import Database
from ssefed.domain.freshness import reminder_slot

log = logging.getLogger("ssefed.retention")

PRUNE_JOB = "retention.prune"
INTERVAL_HOURS = 1.0
CHUNK = 1000  # rows read or deleted per transaction


@dataclass
class Pruned:
    """What one run removed."""

    bodies: int = 0  # received activities whose body was dropped (their id kept)
    items: int = 0  # received activities deleted (their id forgotten)
    jobs: int = 0
    deliveries: int = 0

    def __str__(self) -> str:
        return (f"{self.bodies} received bodies, {self.items} received activities, "
                f"{self.jobs} finished jobs, {self.deliveries} finished deliveries")


async def prune(db: Database, cfg: RetentionConfig, *, now: datetime | None = None) -> Pruned:
    """Prune what is older than ``cfg`` says, as of ``now`` (default: the present)."""
    now = now or utcnow()
    pruned = Pruned()
    await _prune_received(db, now - timedelta(days=cfg.received_days),
                          now - timedelta(days=max(cfg.received_days, cfg.dedupe_days)), pruned)
    pruned.jobs = await _delete_finished(db, retention_repo.JOBS,
                                         now - timedelta(days=cfg.jobs_days))
    pruned.deliveries = await _delete_finished(db, retention_repo.DELIVERIES,
                                               now - timedelta(days=cfg.deliveries_days))
    return pruned


async def _prune_received(db: Database, clear_before: datetime, forget_before: datetime,
                          pruned: Pruned) -> None:
    """Walk the received activities in id order (the order they arrived in) and stop at
    the first one received after ``clear_before``: each run reads only the rows it prunes
    (and the ids kept past their body), whatever the table holds, without an index of its
    own. One arriving late in that order waits for the next run."""
    after = 0
    while True:
        async with db.write() as s:
            page = await retention_repo.received_page(s, after, CHUNK)
            clear, forget, done = [], [], False
            for item_id, state, received_at, has_body in page:
                if received_at >= clear_before:
                    done = True
                    break
                after = item_id
                if state == "pending":
                    continue
                if received_at < forget_before:
                    forget.append(item_id)
                elif has_body:
                    clear.append(item_id)
            pruned.items += await retention_repo.delete_received(s, forget)
            pruned.bodies += await retention_repo.clear_bodies(s, clear)
        if done or len(page) < CHUNK:
            return


async def _delete_finished(db: Database, table, before: datetime) -> int:
    total = 0
    while True:
        async with db.write() as s:
            deleted = await retention_repo.delete_finished(s, table, before, CHUNK)
        total += deleted
        if deleted < CHUNK:
            return total


async def schedule(db: Database, *, now: float | None = None, next_run: bool = False) -> None:
    """Queue the run of the current hour (or, with ``next_run``, of the next one, at its
    start); the dedupe key names the hour, so each runs once however often the node
    starts."""
    slot, next_at = reminder_slot(time.time() if now is None else now, INTERVAL_HOURS)
    run_at = None
    if next_run:
        slot += 1
        run_at = datetime.fromtimestamp(next_at, timezone.utc)
    async with db.write() as s:
        await s.run_sync(job_repo.enqueue, PRUNE_JOB, {"slot": slot},
                         dedupe_key=f"{PRUNE_JOB}:{slot}", run_at=run_at)


def job_handlers(db: Database, config: Config) -> dict:
    """The worker's handler of the retention job."""

    async def run(payload: dict) -> None:
        await schedule(db, next_run=True)  # first: a failing run does not stop the next
        pruned = await prune(db, config.retention)
        if pruned.bodies or pruned.items or pruned.jobs or pruned.deliveries:
            log.info("retention: pruned %s", pruned)

    return {PRUNE_JOB: run}
