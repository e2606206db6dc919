"""Delivery workers: claim due deliveries from the database, sign, POST, classify.

done | retry at t (exponential backoff with jitter, Retry-After honoured) | dead.
A per-host circuit breaker stops hammering a dead host: once open, the host's
deliveries are not claimed until its probe time, and then one request probes it.
A node killed mid-delivery loses nothing: claimed rows are re-claimed when their lock
expires, and at start every row this node had claimed is claimed again at once.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import delete, select, update

from ssefed.db.base import utcnow
from ssefed.db.models import Actor, Delivery, Follow
from ssefed.db.repos import activities as activity_repo
from ssefed.db.repos.activities import Claimed
from ssefed.db.session import BACKGROUND
from ssefed.db.repos import actors as actor_repo
from ssefed.db.repos import hosts as host_repo
from ssefed.domain import outbox
from ssefed.federation.client import FetchError, Signer
from ssefed.federation.service import Federation
from ssefed.worker.retry import Backoff

log = logging.getLogger("ssefed.delivery")
FLUSH_DELAY = 0.05  # seconds a finished delivery may wait to be marked done with others


@dataclass(frozen=True)
class RetryPolicy(Backoff):
    """Deliveries: backoff over ``give_up_after`` seconds (default a little over two
    days, however many attempts), and a circuit breaker per host."""

    base: float = 60.0
    jitter: float = 0.2
    max_attempts: int | None = None
    give_up_after: float | None = 52 * 3600.0
    breaker_threshold: int = 3       # consecutive failures that open a host's circuit
    probe_interval: float = 60.0     # first open period; doubles up to probe_cap
    probe_cap: float = 3600.0

    def open_for(self, failures: int) -> float | None:
        if failures < self.breaker_threshold:
            return None
        return min(self.probe_cap, self.probe_interval * 2 ** (failures - self.breaker_threshold))


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(min(int(value), 7 * 86400))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, min((when - now).total_seconds(), 7 * 86400))


class Deliverer:
    """Claims due deliveries in batches, keeps up to ``concurrency`` POSTs in flight
    (``per_host`` per host) and marks finished ones in batches.

    Claimed rows wait in a small local queue (at most ``concurrency`` more than are in
    flight), so a freed slot starts the next POST at once instead of after a claim
    transaction; finished rows are marked done by the next claim, in its transaction, or
    by a task of their own when no claim comes within FLUSH_DELAY. Rows claimed but not started are given back on stop, or when their
    host's circuit opens.
    """

    def __init__(self, federation: Federation, *, concurrency: int = 32, per_host: int = 4,
                 poll_interval: float = 1.0, lock_seconds: int = 120,
                 policy: RetryPolicy = RetryPolicy()) -> None:
        self.fed, self.db = federation, federation.db
        self.concurrency, self.per_host = concurrency, per_host
        self.poll_interval, self.lock_seconds, self.policy = poll_interval, lock_seconds, policy
        self._wake = asyncio.Event()
        self._drained = False  # the last claim found every due delivery
        self._wakes = 0  # wake() calls: one during a claim may bring rows it did not see
        self._stopping = asyncio.Event()
        self._running: dict[int, tuple[str, asyncio.Task]] = {}
        self._queue: list[Claimed] = []  # claimed, waiting for a slot (oldest first)
        self._per_host: dict[str, int] = {}  # POSTs in flight per host
        self._queued_per_host: dict[str, int] = {}
        self._queued_at: dict[int, float] = {}  # delivery id -> when claimed (monotonic)
        self._failing: dict[str, int] = {}
        self._signers: dict[int, asyncio.Future] = {}
        self._bodies: dict[int, bytes] = {}
        self._actors: dict[int, int] = {}  # activity id -> its actor's id
        self._done: list[tuple[int, int]] = []
        self._done_event = asyncio.Event()
        self._flush_now = asyncio.Event()
        self._loop_task: asyncio.Task | None = None
        self._flush_task: asyncio.Task | None = None

    def wake(self) -> None:
        """New deliveries may be due."""
        self._drained = False
        self._wakes += 1
        self._wake.set()

    def committed(self, info: dict[str, Any]) -> None:
        """A write transaction of this process committed (Database.add_commit_listener):
        the bodies and actors of the activities it published are known here (the claim
        need not read them back), and their deliveries are due now."""
        items = outbox.published_in(info)
        if not items:
            return
        for item in items:
            try:
                self._remember_body(item.activity_id, item.doc)
            except (TypeError, ValueError):  # not plain JSON here: read back when claimed
                continue
            self._remember_actors({item.activity_id: item.actor_id})
        self.wake()

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._loop(), name="ssefed-delivery")
        self._flush_task = asyncio.create_task(self._flusher(), name="ssefed-delivery-done")

    async def _loop(self) -> None:
        BACKGROUND.set(True)  # its writes (and its jobs' tasks) give way to requests
        while not self._stopping.is_set():
            self._wake.clear()  # before looking for work, so no wake-up is lost
            room = 2 * self.concurrency - len(self._running) - len(self._queue)
            # Claim in batches: one transaction for at least half the slots, not per slot.
            # Once a claim found nothing more due, finished deliveries do not claim again
            # (an empty transaction each); a wake-up or the poll interval does.
            if not self._drained and (room >= max(1, self.concurrency // 2)
                                      or (room > 0 and not self._queue
                                          and len(self._running) < 2)):
                claimed = await self._claim(room)
                if claimed:
                    self._start_queued()
                    if len(claimed) == room:
                        await asyncio.sleep(0)
                        continue  # there may be more due
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            except asyncio.TimeoutError:
                self._drained = False

    async def _claim(self, limit: int) -> list[Claimed]:
        full = {h for h in set(self._per_host) | set(self._queued_per_host)
                if self._per_host.get(h, 0) + self._queued_per_host.get(h, 0)
                >= self._host_limit(h)}
        wakes = self._wakes
        try:
            # Deliveries answered since the last time are marked done in the same
            # transaction.
            done, self._done = self._done, []
            known = frozenset(a for a in self._actors if a in self._bodies)
            try:
                rows, activities = await activity_repo.finish_and_claim(
                    self.db, done=done, limit=limit, lock_seconds=self.lock_seconds,
                    exclude_hosts=full, known_activities=known)
            except BaseException:
                self._done[:0] = done
                raise
            self._remember_actors({a: actor_id for a, (actor_id, _) in activities.items()})
            for activity_id, (_, doc) in activities.items():
                self._remember_body(activity_id, doc)
            claimed = await self._claimed(rows)
            self._drained = len(rows) < limit and not full and wakes == self._wakes
        except Exception:  # database away: wait and retry
            log.exception("claiming deliveries failed")
            return []
        held = {d.id for d in self._queue} | set(self._running)
        surplus: list[int] = []
        now = time.monotonic()
        for delivery in claimed:
            if delivery.id in held:  # its lock expired while it waited here: keep one copy
                continue
            if self._queued_per_host.get(delivery.host, 0) >= 2 * self._host_limit(delivery.host):
                surplus.append(delivery.id)  # more than the host takes soon: give back
                continue
            self._queue.append(delivery)
            self._queued_at[delivery.id] = now
            self._queued_per_host[delivery.host] = self._queued_per_host.get(delivery.host, 0) + 1
        if surplus:
            self._drained = False  # they are due again
            try:
                async with self.db.write() as s:
                    await activity_repo.release_deliveries(s, surplus)
            except Exception:  # they come back when their lock expires
                log.exception("giving back %d deliveries failed", len(surplus))
        return claimed

    async def _claimed(self, rows: list[tuple]) -> list[Claimed]:
        """Claimed rows with their activity's actor (the activities' bodies and actors are
        read once per fan-out, not per claim)."""
        missing = {row[1] for row in rows if row[1] not in self._actors
                   or row[1] not in self._bodies}
        if missing:
            async with self.db.read() as s:
                docs = await activity_repo.activity_documents(s, missing)
                actors = await activity_repo.activity_actors(s, missing)
            self._remember_actors(actors)
            for activity_id, doc in docs.items():
                self._remember_body(activity_id, doc)
        return [Claimed(i, activity_id, self._actors[activity_id], inbox, host, attempts,
                        created_at)
                for i, activity_id, inbox, host, attempts, created_at in rows
                if activity_id in self._actors]

    def _start_queued(self) -> None:
        """Start queued deliveries while there are free slots, overall and per host."""
        if not self._queue or len(self._running) >= self.concurrency:
            return
        waiting: list[Claimed] = []
        stale = time.monotonic() - self.lock_seconds / 2
        for i, delivery in enumerate(self._queue):
            if len(self._running) >= self.concurrency:
                waiting.extend(self._queue[i:])
                break
            if self._queued_at.get(delivery.id, 0.0) < stale:
                # Its lock is about to expire: leave it to be claimed again later.
                self._queued_per_host[delivery.host] -= 1
                self._queued_at.pop(delivery.id, None)
                continue
            if self._per_host.get(delivery.host, 0) >= self._host_limit(delivery.host):
                waiting.append(delivery)
                continue
            self._queued_per_host[delivery.host] -= 1
            self._queued_at.pop(delivery.id, None)
            self._per_host[delivery.host] = self._per_host.get(delivery.host, 0) + 1
            task = asyncio.create_task(self._deliver(delivery))
            self._running[delivery.id] = (delivery.host, task)
            task.add_done_callback(lambda _t, d=delivery.id: self._finished(d))
        self._queue = waiting

    def _unqueue(self, host: str | None = None) -> list[int]:
        """Take the claimed-but-not-started deliveries (of ``host``, or all) off the queue."""
        taken = [d.id for d in self._queue if host is None or d.host == host]
        self._queue = [d for d in self._queue if host is not None and d.host != host]
        for delivery_id in taken:
            self._queued_at.pop(delivery_id, None)
        if host is None:
            self._queued_per_host.clear()
        else:
            self._queued_per_host.pop(host, None)
        return taken

    def _host_limit(self, host: str) -> int:
        # A failing host gets one request at a time: the probe.
        return 1 if self._failing.get(host, 0) >= self.policy.breaker_threshold else self.per_host

    def _finished(self, delivery_id: int) -> None:
        host, _ = self._running.pop(delivery_id, ("", None))
        if host:
            self._per_host[host] = max(0, self._per_host.get(host, 1) - 1)
        if not self._stopping.is_set():
            self._start_queued()  # the freed slot goes to the next claimed delivery now
        if not self._running and not self._queue:
            self._flush_now.set()  # nothing else to wait for: mark the last ones done now
        self._wake.set()

    async def _signer(self, actor_id: int) -> Signer:
        """The actor's signer, loaded once (concurrent first deliveries share the load)."""
        signer = self._signers.get(actor_id)
        if signer is not None and signer.done() and signer.exception() is None:
            return signer.result()  # the usual case: no shield, no new future
        if signer is None:
            signer = self._signers[actor_id] = asyncio.ensure_future(self._load_signer(actor_id))
        try:
            return await asyncio.shield(signer)
        except Exception:
            self._signers.pop(actor_id, None)
            raise

    async def _load_signer(self, actor_id: int) -> Signer:
        async with self.db.read() as s:  # usually the key is there: one read
            rsa = next((k for k in await actor_repo.keys_of(s, actor_id)
                        if k.kind == "rsa" and k.private_pem), None)
            actor = None if rsa is not None else await s.get(Actor, actor_id)
        if rsa is not None:
            return Signer(rsa.key_id, rsa.private_pem)
        return await self.fed.signer_for(actor)

    def _remember_actors(self, actors: dict[int, int]) -> None:
        if len(self._actors) > 4096:  # activity id -> actor id, of the recent fan-outs
            self._actors.clear()
        self._actors.update(actors)

    def _remember_body(self, activity_id: int, doc: dict[str, Any]) -> None:
        if len(self._bodies) > 256:  # bodies of the activities being fanned out
            self._bodies.pop(next(iter(self._bodies)))
        self._bodies[activity_id] = json.dumps(doc, ensure_ascii=False,
                                               separators=(",", ":")).encode()

    async def _deliver(self, d: Claimed) -> None:
        status: int | None = None
        retry_after: str | None = None
        try:
            body = self._bodies.get(d.activity_id)
            if body is None:
                async with self.db.read() as s:
                    docs = await activity_repo.activity_documents(s, {d.activity_id})
                self._remember_body(d.activity_id, docs[d.activity_id])
                body = self._bodies[d.activity_id]
            resp = await self.fed.client.post(d.inbox, body, await self._signer(d.actor_id))
            status, retry_after = resp.status, resp.headers.get("retry-after")
            error = f"HTTP {status}"
        except FetchError as exc:
            if exc.reason in ("refused", "blocked"):
                await self._dead(d, None, str(exc))
                return
            error = str(exc)
        except Exception as exc:  # never lose a delivery to a bug
            log.exception("delivery %s to %s failed", d.id, d.inbox)
            error = repr(exc)
        if status is not None and 200 <= status < 300:
            self._done.append((d.id, status))
            self._done_event.set()
            if self._failing.pop(d.host, 0) or d.host in self.fed.down_hosts:
                self.fed.back_up(d.host)
                async with self.db.write() as s:
                    due = (await host_repo.record_success(s, d.host)
                           and await activity_repo.retry_host_now(s, d.host))
                if due:
                    self.wake()
            return
        if status == 410:
            await self._gone(d)
            return
        if status is not None and 400 <= status < 500 and status not in (401, 408, 429):
            await self._dead(d, status, error)
            return
        await self._retry(d, status, error, retry_after)

    async def _retry(self, d: Claimed, status: int | None, error: str,
                     retry_after: str | None) -> None:
        now = utcnow()
        age = (now - d.created_at).total_seconds()
        delay = self.policy.next_delay(d.attempts, age)
        if delay is None:
            await self._dead(d, status, f"gave up after {d.attempts} attempts: {error}")
            return
        if status in (429, 503):
            delay = max(delay, retry_after_seconds(retry_after, now) or 0.0)
        async with self.db.write() as s:
            await activity_repo.retry_delivery(s, d.id, now + timedelta(seconds=delay), status,
                                               error)
            if status not in (429,):  # a rate limit is not a failure of the host
                failures = self._failing.get(d.host, 0) + 1
                self._failing[d.host] = failures
                self.fed.down_hosts.add(d.host)
                open_for = self.policy.open_for(failures)
                await host_repo.record_failure(
                    s, d.host, now + timedelta(seconds=open_for) if open_for else None)
                if open_for:  # the circuit is open: what we hold for the host waits too
                    held = self._unqueue(d.host)
                    if held:
                        await activity_repo.release_deliveries(s, held)
        log.info("delivery %s to %s: %s; retry in %.0f s", d.id, d.inbox, error, delay)

    async def _dead(self, d: Claimed, status: int | None, error: str) -> None:
        async with self.db.write() as s:
            await activity_repo.kill_delivery(s, d.id, status, error)
        log.warning("delivery %s to %s failed for good: %s", d.id, d.inbox, error)

    async def _gone(self, d: Claimed) -> None:
        """410 Gone: the recipient no longer exists; it stops following us."""
        async with self.db.write() as s:
            await activity_repo.kill_delivery(s, d.id, 410, "410 Gone")
            gone = list(await s.scalars(select(Actor.id).where(Actor.inbox == d.inbox,
                                                               Actor.local.is_(False))))
            if gone:
                await s.execute(delete(Follow).where(Follow.follower_id.in_(gone)))
                await s.execute(update(Actor).where(Actor.id.in_(gone))
                                .values(deleted_at=utcnow()))

    async def _flusher(self) -> None:
        """Mark finished deliveries done, all those finished since the last time in one
        transaction, as soon as the previous one is committed."""
        BACKGROUND.set(True)
        while not self._stopping.is_set():
            await self._done_event.wait()
            # While others are in flight, a short wait gathers more rows per transaction,
            # and the next claim, which marks them done in its own, usually takes them first.
            if self._running or self._queue:
                self._flush_now.clear()
                try:
                    await asyncio.wait_for(self._flush_now.wait(), FLUSH_DELAY)
                except asyncio.TimeoutError:
                    pass
            self._done_event.clear()
            try:
                await self._flush_done()
            except Exception:  # database away: keep them, try again
                log.exception("marking deliveries done failed")
                await asyncio.sleep(self.poll_interval)

    async def _flush_done(self) -> None:
        if not self._done:
            return
        done, self._done = self._done, []
        try:
            await activity_repo.finish_and_claim(self.db, done=done, limit=0,
                                                 lock_seconds=self.lock_seconds)
        except BaseException:
            self._done[:0] = done
            self._done_event.set()
            raise

    async def reclaim_own(self) -> None:
        """At start: rows left 'running' by a previous run of this node (killed mid-delivery)
        are due at once. One node is one process, so no other worker holds them."""
        async with self.db.write() as s:
            await s.execute(update(Delivery).where(Delivery.state == "running")
                            .values(state="pending", locked_until=None, run_at=utcnow()))

    async def stop(self, grace: float) -> None:
        self._stopping.set()
        self._wake.set()
        self._done_event.set()
        self._flush_now.set()
        if self._loop_task is not None:
            await self._loop_task
        if self._flush_task is not None:
            await self._flush_task
        queued = self._unqueue()
        tasks = {d: t for d, (_, t) in self._running.items()}
        if tasks:
            await asyncio.wait(list(tasks.values()), timeout=grace)
        unfinished = [d for d, t in tasks.items() if not t.done()]
        for d in unfinished:
            tasks[d].cancel()
        if unfinished:
            await asyncio.gather(*(tasks[d] for d in unfinished), return_exceptions=True)
        await self._flush_done()
        if unfinished or queued:
            async with self.db.write() as s:
                await activity_repo.release_deliveries(s, unfinished + queued)
