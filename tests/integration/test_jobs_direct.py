"""The worker's claim through the sqlite3 driver (jobs.sqlite_claim, one thread hop)
claims the jobs the session claim does and leaves the same rows."""

import asyncio
import sqlite3
from datetime import timedelta

import pytest
from sqlalchemy import update

from ssefed.config import load_config
from ssefed.db import migrate
from ssefed.db.base import utcnow
from ssefed.db.models import Job
from ssefed.db.repos import jobs as job_repo
from ssefed.db.session import open_database


def _queue_and_claim(tmp_path, name: str, direct: bool, now) -> tuple[list, list]:
    path = tmp_path / f"{name}.sqlite3"
    config = load_config(tmp_path / "none.toml", env={
        "SSEFED_DATABASE_URL": f"sqlite:///{path}", "SSEFED_NODE_BASE_URL": "http://127.0.0.1:9",
        "SSEFED_NODE_DATA_DIR": str(tmp_path)})

    async def run() -> list:
        db = open_database(config)
        await migrate.upgrade(db)
        try:
            async with db.write() as s:
                for n, (kind, state, run_at, locked) in enumerate([
                        ("a", "pending", now - timedelta(seconds=5), None),
                        ("b", "pending", now - timedelta(seconds=4), None),
                        ("a", "pending", now + timedelta(hours=1), None),  # not due
                        ("a", "running", now - timedelta(hours=1), now - timedelta(seconds=1)),
                        ("a", "running", now - timedelta(hours=1), now + timedelta(hours=1)),
                        ("a", "done", now - timedelta(hours=2), None),
                        ("c", "pending", now - timedelta(seconds=3), None),
                        ("a", "pending", now - timedelta(seconds=2), None)]):
                    job = await job_repo.enqueue(s, kind, {"n": n}, run_at=run_at)
                    await s.execute(update(Job).where(Job.id == job.id)
                                    .values(state=state, locked_until=locked, attempts=1))
            if direct:
                def claim(conn):
                    return (job_repo.sqlite_claim(conn, limit=2, lock_seconds=60, now=now,
                                                  exclude=["c"])
                            + job_repo.sqlite_claim(conn, limit=5, lock_seconds=60, now=now,
                                                    kinds=["a", "c"]))
                claimed = await db.sqlite_direct_write(claim)
                await db.sqlite_direct_write(
                    lambda conn: job_repo.sqlite_finish_many(conn, [claimed[0].id]))
            else:
                async with db.write() as s:
                    claimed = await job_repo.claim(s, limit=2, lock_seconds=60, now=now,
                                                   skip_locked=False, exclude=["c"])
                    claimed += await job_repo.claim(s, limit=5, lock_seconds=60, now=now,
                                                    skip_locked=False, kinds=["a", "c"])
                async with db.write() as s:
                    await job_repo.finish_many(s, [claimed[0].id])
            return claimed
        finally:
            await db.dispose()

    claimed = asyncio.run(run())
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT id, kind, payload, state, attempts, run_at, locked_until, "
                            "last_error, updated_at IS NOT NULL FROM jobs ORDER BY id").fetchall()
    finally:
        conn.close()
    return claimed, rows


def test_the_direct_claim_is_the_session_claim(tmp_path, backend):
    if backend != "sqlite":
        pytest.skip("the direct claim is SQLite's")
    now = utcnow()
    by_session = _queue_and_claim(tmp_path, "session", False, now)
    direct = _queue_and_claim(tmp_path, "direct", True, now)
    assert direct == by_session
    claimed, rows = direct
    # the expired running job first, then the due pending ones in order, "c" excluded
    # from the first claim only; each attempt counted
    assert [(j.kind, j.payload["n"], j.attempts) for j in claimed] == [
        ("a", 3, 2), ("a", 0, 2), ("c", 6, 2), ("a", 7, 2)]
    assert [r[3] for r in rows] == ["running", "pending", "pending", "done", "running", "done",
                                    "running", "running"]  # the first claimed finished
