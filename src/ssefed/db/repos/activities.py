"""Data access for published activities (the outbox) and their deliveries."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, bindparam, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from ssefed.db.base import utcnow
from ssefed.db.models import Activity, Delivery


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


# --- the deliverer: finish the answered and claim the next, in one transaction -------------
# One unit of work in Database.run (one thread hop on SQLite; on PostgreSQL the finishing
# and the claim are one statement). The rows marked done are never those claimed (they
# are excluded by id). Due rows are looked for in two parts, each walking the
# (state, run_at) index and stopping after ``limit`` rows: pending and due, and running
# with an expired lock (their worker died; few). One condition with an OR would read and
# sort every pending row per claim. (SQLite is told the index: its statistics may call
# the state column unselective.)

_D = Delivery.__table__.c
_CLAIMED = (_D.id, _D.activity_id, _D.inbox, _D.host, _D.attempts, _D.created_at, _D.run_at)
_OPEN = "host NOT IN (SELECT host FROM hosts WHERE open_until > :now)"
_TIMES = (bindparam("now", type_=_D.run_at.type), bindparam("until", type_=_D.run_at.type))
_SQLITE_CLAIM = text("""
UPDATE deliveries SET state = 'running', attempts = attempts + 1, locked_until = :until,
       updated_at = :now
WHERE id IN (SELECT id FROM (
    SELECT * FROM (SELECT id, run_at FROM deliveries INDEXED BY ix_deliveries_state_run_at
                   WHERE state = 'pending' AND run_at <= :now AND """ + _OPEN + """
                         AND host NOT IN :exclude
                   ORDER BY run_at, id LIMIT :limit)
    UNION ALL
    SELECT * FROM (SELECT id, run_at FROM deliveries INDEXED BY ix_deliveries_state_run_at
                   WHERE state = 'running' AND locked_until < :now AND """ + _OPEN + """
                         AND host NOT IN :exclude
                   LIMIT :limit)
) ORDER BY run_at, id LIMIT :limit)
RETURNING id, activity_id, inbox, host, attempts, created_at, run_at
""").bindparams(*_TIMES, bindparam("exclude", expanding=True)).columns(*_CLAIMED)
_SQLITE_DONE = (update(Delivery.__table__).where(_D.id == bindparam("delivery"))
                .values(state="done", locked_until=None, last_status=bindparam("status"),
                        last_error=None, updated_at=bindparam("now")))
# On PostgreSQL, pending rows are taken in run_at order only (the index order; rows due
# at the same time come in insertion order): adding id would sort all of them again.
_PG_CLAIM = text("""
WITH done AS (
    UPDATE deliveries d SET state = 'done', locked_until = NULL, last_status = u.status,
           last_error = NULL, updated_at = :now
    FROM unnest(CAST(:done AS integer[]), CAST(:statuses AS integer[])) AS u(id, status)
    WHERE d.id = u.id
), pending AS (
    SELECT id, run_at FROM deliveries
    WHERE state = 'pending' AND run_at <= :now AND """ + _OPEN + """
          AND host <> ALL(CAST(:exclude AS text[]))
    ORDER BY run_at LIMIT :limit FOR UPDATE SKIP LOCKED
), expired AS (
    SELECT id, run_at FROM deliveries
    WHERE state = 'running' AND locked_until < :now AND """ + _OPEN + """
          AND host <> ALL(CAST(:exclude AS text[])) AND id <> ALL(CAST(:done AS integer[]))
    LIMIT :limit FOR UPDATE SKIP LOCKED
)
UPDATE deliveries SET state = 'running', attempts = attempts + 1, locked_until = :until,
       updated_at = :now
WHERE id = ANY(ARRAY(SELECT id FROM (SELECT * FROM pending UNION ALL SELECT * FROM expired) due
                     ORDER BY run_at, id LIMIT :limit))  -- an array: looked up by primary key
RETURNING id, activity_id, inbox, host, attempts, created_at, run_at
""").bindparams(*_TIMES).columns(*_CLAIMED)


def _finish_and_claim(conn: Connection, done: list[tuple[int, int]], limit: int,
                      lock_seconds: int, exclude: list[str], known: frozenset[int]
                      ) -> tuple[list[tuple], dict[int, tuple[int, Any]]]:
    now = utcnow()
    times = {"now": now, "until": now + timedelta(seconds=lock_seconds)}
    if conn.dialect.name == "postgresql":
        claimed = conn.execute(_PG_CLAIM, {**times, "done": [d for d, _ in done],
                                           "statuses": [st for _, st in done],
                                           "exclude": exclude, "limit": max(0, limit)}).all()
    else:
        if done:
            conn.execute(_SQLITE_DONE, [{"delivery": d, "status": st, "now": now}
                                        for d, st in done])
        claimed = conn.execute(_SQLITE_CLAIM, {**times, "exclude": exclude,
                                               "limit": limit}).all() if limit > 0 else []
    wanted = sorted({r.activity_id for r in claimed} - known)
    a = Activity.__table__.c
    found = conn.execute(select(a.id, a.actor_id, a.ap_json).where(a.id.in_(wanted))
                         ).all() if wanted else []
    return [tuple(r) for r in claimed], {i: (actor, doc) for i, actor, doc in found}


async def finish_and_claim(db, *, done: list[tuple[int, int]], limit: int,
                           lock_seconds: int, exclude_hosts: set[str] = frozenset(),
                           known_activities: frozenset[int] = frozenset()
                           ) -> tuple[list[tuple[int, int, str, str, int, datetime]],
                                      dict[int, tuple[int, Any]]]:
    """Mark ``done`` (delivery id, answer status) delivered, then claim up to ``limit`` due
    deliveries of hosts whose circuit is not open, in one transaction (``db``:
    ssefed.db.session.Database). Returns the claimed rows (id, activity_id, inbox, host,
    attempts, created_at) in claim order (run_at, id), and {activity id: (actor id,
    document)} of their activities not in ``known_activities``."""
    rows, activities = await db.run(lambda conn: _finish_and_claim(
        conn, done, limit, lock_seconds, sorted(exclude_hosts), known_activities))
    rows.sort(key=lambda r: (r[6], r[0]))
    return [r[:6] for r in rows], activities


async def activity_actors(s: AsyncSession, activity_ids: set[int]) -> dict[int, int]:
    """{activity id: id of its actor}."""
    rows = await s.execute(select(Activity.id, Activity.actor_id)
                           .where(Activity.id.in_(list(activity_ids))))
    return {i: actor for i, actor in rows}


async def activity_documents(s: AsyncSession, activity_ids: set[int]) -> dict[int, Any]:
    rows = await s.execute(select(Activity.id, Activity.ap_json)
                           .where(Activity.id.in_(list(activity_ids))))
    return {i: doc for i, doc in rows}


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
