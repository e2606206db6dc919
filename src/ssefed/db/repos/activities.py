"""Data access for published activities (the outbox) and their deliveries."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import and_, func, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from ssefed.db.base import utcnow
from ssefed.db.models import Activity, Delivery, Host


_NETLOC = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)")


def _netloc(url: str) -> str:
    """urlsplit(url).netloc.lower(), without urlsplit's cost for the usual URL (a fan-out
    stores one row per follower inbox)."""
    match = _NETLOC.match(url)
    if match is None or "\t" in url or "\r" in url or "\n" in url:  # what urlsplit strips
        return urlsplit(url).netloc.lower()
    return match.group(1).lower()


_PG_ADD_DELIVERIES = text(
    "INSERT INTO deliveries (activity_id, inbox, host, state, attempts, run_at, created_at, "
    "updated_at) SELECT CAST(:activity AS integer), t.inbox, t.host, 'pending', 0, "
    "CAST(:now AS timestamptz), CAST(:now AS timestamptz), CAST(:now AS timestamptz) "
    "FROM unnest(CAST(:inboxes AS varchar[]), CAST(:hosts AS varchar[])) AS t(inbox, host)")


async def add(s: AsyncSession, activity: Activity, inboxes: list[str]) -> Activity:
    """Store an activity and one delivery per inbox, in the caller's transaction."""
    s.add(activity)
    await s.flush()
    unique = list(dict.fromkeys(inboxes))
    if unique and s.bind.dialect.name == "postgresql":
        # one statement with two arrays: a hundred rows bound one by one cost more
        await s.execute(_PG_ADD_DELIVERIES, {
            "activity": activity.id, "inboxes": unique,
            "hosts": [_netloc(i) for i in unique], "now": utcnow()})
    elif unique:
        now = utcnow()
        await s.execute(insert(Delivery), [
            {"activity_id": activity.id, "inbox": inbox, "host": _netloc(inbox),
             "state": "pending", "attempts": 0, "run_at": now, "created_at": now,
             "updated_at": now} for inbox in unique])
    return activity


async def by_ap_id(s: AsyncSession, ap_id: str) -> Activity | None:
    return await s.scalar(select(Activity).where(Activity.ap_id == ap_id))


async def count_public(s: AsyncSession, actor_id: int) -> int:
    return int(await s.scalar(select(func.count()).select_from(Activity)
                              .where(Activity.actor_id == actor_id, Activity.public.is_(True)))
               or 0)


async def page_public(s: AsyncSession, actor_id: int, before_id: int | None, limit: int
                      ) -> list[Activity]:
    q = select(Activity).where(Activity.actor_id == actor_id, Activity.public.is_(True))
    if before_id is not None:
        q = q.where(Activity.id < before_id)
    return list(await s.scalars(q.order_by(Activity.id.desc()).limit(limit)))


@dataclass(frozen=True)
class Claimed:
    """A claimed delivery: what the worker needs to POST it."""

    id: int
    activity_id: int
    actor_id: int
    inbox: str
    host: str
    attempts: int
    created_at: datetime


async def claim_deliveries(s: AsyncSession, *, limit: int, lock_seconds: int, skip_locked: bool,
                           exclude_hosts: set[str] = frozenset(), now: datetime | None = None
                           ) -> list[Claimed]:
    """Claim due deliveries (pending and due, or running with an expired lock: their worker
    died) of hosts whose circuit is not open."""
    now = now or utcnow()
    open_hosts = select(Host.host).where(Host.open_until > now)
    q = (select(Delivery.id)
         .where(or_(and_(Delivery.state == "pending", Delivery.run_at <= now),
                    and_(Delivery.state == "running", Delivery.locked_until < now)),
                Delivery.host.not_in(open_hosts))
         .order_by(Delivery.run_at, Delivery.id).limit(limit))
    if exclude_hosts:
        q = q.where(Delivery.host.not_in(list(exclude_hosts)))
    if skip_locked:
        q = q.with_for_update(skip_locked=True, of=Delivery)
    ids = list(await s.scalars(q))
    if not ids:
        return []
    await s.execute(update(Delivery).where(Delivery.id.in_(ids)).values(
        state="running", attempts=Delivery.attempts + 1,
        locked_until=now + timedelta(seconds=lock_seconds), updated_at=now))
    rows = await s.execute(
        select(Delivery.id, Delivery.activity_id, Activity.actor_id, Delivery.inbox,
               Delivery.host, Delivery.attempts, Delivery.created_at)
        .join(Activity, Delivery.activity_id == Activity.id).where(Delivery.id.in_(ids)))
    return [Claimed(*row) for row in rows]


# --- the deliverer's hot path: finish the answered and claim the next in one go -------------
# One transaction, through the driver directly (one thread hop on SQLite, one round trip
# on PostgreSQL), without sessions or statement compilation in the event loop. The rows
# marked done are never those claimed (they are excluded by id). Returned rows:
# (id, activity_id, inbox, host, attempts, created_at), in claim order (run_at, id).

# Due rows are looked for in two parts, each walking the (state, run_at) index and stopping
# after ``limit`` rows: pending and due, and running with an expired lock (their worker
# died; few). One condition with an OR would read and sort every pending row per claim.
# (SQLite is told the index: its statistics may call the state column unselective.)
_OPEN = "host NOT IN (SELECT host FROM hosts WHERE open_until > {now})"
_SQLITE_DONE = ("UPDATE deliveries SET state = 'done', locked_until = NULL, last_status = ?, "
                "last_error = NULL, updated_at = ? WHERE id = ?")
_SQLITE_CLAIM = """
UPDATE deliveries SET state = 'running', attempts = attempts + 1, locked_until = ?1,
       updated_at = ?2
WHERE id IN (SELECT id FROM (
    SELECT * FROM (SELECT id, run_at FROM deliveries INDEXED BY ix_deliveries_state_run_at
                   WHERE state = 'pending' AND run_at <= ?3
                         AND """ + _OPEN.format(now="?3") + """{exclude}
                   ORDER BY run_at, id LIMIT ?4)
    UNION ALL
    SELECT * FROM (SELECT id, run_at FROM deliveries INDEXED BY ix_deliveries_state_run_at
                   WHERE state = 'running' AND locked_until < ?3
                         AND """ + _OPEN.format(now="?3") + """{exclude}
                   LIMIT ?4)
) ORDER BY run_at, id LIMIT ?4)
RETURNING id, activity_id, inbox, host, attempts, created_at, run_at
"""
# On PostgreSQL, pending rows are taken in run_at order only (the index order; rows due
# at the same time come in insertion order): adding id would sort all of them again.
_PG_CLAIM = """
WITH done AS (
    UPDATE deliveries d SET state = 'done', locked_until = NULL, last_status = u.status,
           last_error = NULL, updated_at = $1
    FROM unnest($2::int[], $3::int[]) AS u(id, status) WHERE d.id = u.id
), pending AS (
    SELECT id, run_at FROM deliveries
    WHERE state = 'pending' AND run_at <= $1 AND """ + _OPEN.format(now="$1") + """
          AND host <> ALL($5::text[])
    ORDER BY run_at LIMIT $6 FOR UPDATE SKIP LOCKED
), expired AS (
    SELECT id, run_at FROM deliveries
    WHERE state = 'running' AND locked_until < $1 AND """ + _OPEN.format(now="$1") + """
          AND host <> ALL($5::text[]) AND id <> ALL($2::int[])
    LIMIT $6 FOR UPDATE SKIP LOCKED
)
UPDATE deliveries SET state = 'running', attempts = attempts + 1, locked_until = $4,
       updated_at = $1
WHERE id = ANY(ARRAY(SELECT id FROM (SELECT * FROM pending UNION ALL SELECT * FROM expired) due
                     ORDER BY run_at, id LIMIT $6))  -- an array: looked up by primary key
RETURNING id, activity_id, inbox, host, attempts, created_at, run_at
"""


def _sqlite_time(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


_SQLITE_ACTIVITIES = "SELECT id, actor_id, ap_json FROM activities WHERE id IN ({marks})"
_PG_ACTIVITIES = "SELECT id, actor_id, ap_json FROM activities WHERE id = ANY($1::int[])"


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, (str, bytes)) else value


async def finish_and_claim(db, *, done: list[tuple[int, int]], limit: int,
                           lock_seconds: int, exclude_hosts: set[str] = frozenset(),
                           known_activities: frozenset[int] = frozenset()
                           ) -> tuple[list[tuple[int, int, str, str, int, datetime]],
                                      dict[int, tuple[int, Any]]]:
    """Mark ``done`` (delivery id, answer status) delivered, then claim up to ``limit`` due
    deliveries (as claim_deliveries), in one transaction (``db``: ssefed.db.session.Database,
    with has_direct_writes). Also returns {activity id: (actor id, document)} of the claimed
    rows' activities not in ``known_activities``. On PostgreSQL the statement is run again
    if the connection breaks: rows a lost first run claimed come back when their lock
    expires."""
    now = utcnow()
    until = now + timedelta(seconds=lock_seconds)
    exclude = sorted(exclude_hosts)
    if db.is_sqlite:
        stamp, until_stamp = (t.strftime("%Y-%m-%d %H:%M:%S.%f") for t in (now, until))
        marks = ", ".join(f"?{5 + i}" for i in range(len(exclude)))
        sql = _SQLITE_CLAIM.format(exclude=f"\n                   AND host NOT IN ({marks})"
                                   if exclude else "")
        params = [until_stamp, stamp, stamp, limit, *exclude]
        finished = [(status, stamp, delivery_id) for delivery_id, status in done]

        def run(conn) -> tuple[list[tuple], list[tuple]]:  # in its thread
            if finished:
                conn.executemany(_SQLITE_DONE, finished)
            if limit <= 0:
                return [], []
            claimed = conn.execute(sql, params).fetchall()
            wanted = sorted({r[1] for r in claimed} - known_activities)
            found = conn.execute(_SQLITE_ACTIVITIES.format(marks=", ".join("?" * len(wanted))),
                                 wanted).fetchall() if wanted else []
            return claimed, found

        claimed, found = await db.sqlite_direct_write(run)
        rows = [(i, a, inbox, host, attempts, _sqlite_time(created), run_at)
                for i, a, inbox, host, attempts, created, run_at in claimed]
    else:
        ids, statuses = [d for d, _ in done], [st for _, st in done]

        async def run_pg(conn) -> tuple[list[tuple], list[tuple]]:  # asyncpg
            claimed = [tuple(r) for r in await conn.fetch(_PG_CLAIM, now, ids, statuses, until,
                                                          exclude, max(0, limit))]
            wanted = sorted({r[1] for r in claimed} - known_activities)
            found = [tuple(r) for r in await conn.fetch(_PG_ACTIVITIES, wanted)] if wanted else []
            return claimed, found

        rows, found = await db.pg_direct(run_pg)
    rows.sort(key=lambda r: (r[6], r[0]))
    return [r[:6] for r in rows], {i: (actor, _json(doc)) for i, actor, doc in found}


async def activity_actors(s: AsyncSession, activity_ids: set[int]) -> dict[int, int]:
    """{activity id: id of its actor}."""
    rows = await s.execute(select(Activity.id, Activity.actor_id)
                           .where(Activity.id.in_(list(activity_ids))))
    return {i: actor for i, actor in rows}


async def activity_documents(s: AsyncSession, activity_ids: set[int]) -> dict[int, Any]:
    rows = await s.execute(select(Activity.id, Activity.ap_json)
                           .where(Activity.id.in_(list(activity_ids))))
    return {i: doc for i, doc in rows}


async def finish_deliveries(s: AsyncSession, done: list[tuple[int, int]]) -> None:
    """Mark delivered rows done, one UPDATE per answer status."""
    by_status: dict[int, list[int]] = {}
    for delivery_id, status in done:
        by_status.setdefault(status, []).append(delivery_id)
    now = utcnow()
    for status, ids in by_status.items():
        await s.execute(update(Delivery).where(Delivery.id.in_(ids)).values(
            state="done", locked_until=None, last_status=status, last_error=None,
            updated_at=now))


async def retry_delivery(s: AsyncSession, delivery_id: int, when: datetime, status: int | None,
                         error: str) -> None:
    await s.execute(update(Delivery).where(Delivery.id == delivery_id).values(
        state="pending", run_at=when, locked_until=None, last_status=status,
        last_error=error[:2000], updated_at=utcnow()))


async def kill_delivery(s: AsyncSession, delivery_id: int, status: int | None, error: str) -> None:
    await s.execute(update(Delivery).where(Delivery.id == delivery_id).values(
        state="dead", locked_until=None, last_status=status, last_error=error[:2000],
        updated_at=utcnow()))


async def release_deliveries(s: AsyncSession, ids: list[int]) -> None:
    if ids:
        await s.execute(update(Delivery).where(Delivery.id.in_(ids), Delivery.state == "running")
                        .values(state="pending", locked_until=None,
                                attempts=Delivery.attempts - 1, updated_at=utcnow()))


async def retry_host_now(s: AsyncSession, host: str) -> int:
    """The host is back: its pending deliveries are due at once."""
    result = await s.execute(update(Delivery).where(Delivery.host == host,
                                                    Delivery.state == "pending",
                                                    Delivery.run_at > utcnow())
                             .values(run_at=utcnow()))
    return result.rowcount or 0


async def summary(s: AsyncSession) -> list[tuple[str, str, int, datetime | None]]:
    """(host, state, count, next attempt) for the queue display."""
    rows = await s.execute(select(Delivery.host, Delivery.state, func.count(),
                                  func.min(Delivery.run_at))
                           .group_by(Delivery.host, Delivery.state)
                           .order_by(Delivery.host, Delivery.state))
    return [(h, st, n, t) for h, st, n, t in rows]
