"""The worker's claim (jobs.claim in Database.run): the expired running jobs first, then
the due pending ones in order, limited by kind; each attempt counted; finishing marks done."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from ssefed.config import load_config
from ssefed.db import migrate
from ssefed.db.base import utcnow
from ssefed.db.models import Job
from ssefed.db.repos import jobs as job_repo
from ssefed.db.session import open_database


@pytest.fixture
async def fresh_db(databases, tmp_path):
    config = load_config(tmp_path / "none.toml", env={
        "SSEFED_DATABASE_URL": databases.new_url(), "SSEFED_NODE_BASE_URL": "http://127.0.0.1:9",
        "SSEFED_NODE_DATA_DIR": str(tmp_path)})
    db = open_database(config)
    await migrate.upgrade(db)
    yield db
    await db.dispose()


async def test_claim_takes_expired_then_due_jobs_by_kind(fresh_db):
    db = fresh_db
    now = utcnow()
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
            job_id = await s.run_sync(job_repo.enqueue, kind, {"n": n}, run_at=run_at)
            await s.execute(update(Job).where(Job.id == job_id)
                            .values(state=state, locked_until=locked, attempts=1))

    def claim(conn):
        return (job_repo.claim(conn, limit=2, lock_seconds=60, now=now, exclude=["c"])
                + job_repo.claim(conn, limit=5, lock_seconds=60, now=now, kinds=["a", "c"]))

    claimed = await db.run(claim)
    await db.run(lambda conn: job_repo.finish_many(conn, [claimed[0].id]))
    # the expired running job first, then the due pending ones in order, "c" excluded
    # from the first claim only; each attempt counted
    assert [(j.kind, j.payload["n"], j.attempts) for j in claimed] == [
        ("a", 3, 2), ("a", 0, 2), ("c", 6, 2), ("a", 7, 2)]
    async with db.read() as s:
        rows = (await s.execute(select(Job.state, Job.attempts, Job.locked_until)
                                .order_by(Job.id))).all()
    assert [r.state for r in rows] == ["running", "pending", "pending", "done", "running",
                                       "done", "running", "running"]  # the first finished
    locked = rows[6].locked_until  # read back by SQLAlchemy as an aware UTC datetime
    assert locked.tzinfo is not None and abs((locked - now).total_seconds() - 60) < 1
