"""Reads run whole in a thread on SQLite (Database.sqlite_read with SyncReader)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from ssefed.db.session import Database, SyncReader, run_unsuspended


async def _two_statements(s) -> tuple[int, int]:  # AsyncSession or SyncReader
    a = await s.scalar(text("SELECT count(*) FROM t"))
    rows = (await s.execute(text("SELECT x FROM t WHERE x > :m"), {"m": 1})).all()
    return int(a), len(rows)


def test_a_read_function_gives_the_same_answer_in_a_thread_as_in_a_session(tmp_path):
    async def main() -> None:
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'r.sqlite3'}")
        try:
            async with db.write() as s:
                await s.execute(text("CREATE TABLE t (x INTEGER)"))
                await s.execute(text("INSERT INTO t VALUES (1), (2), (3)"))
            async with db.read() as s:
                in_session = await _two_statements(s)
            in_thread = await db.sqlite_read(
                lambda conn: run_unsuspended(_two_statements(SyncReader(conn))))
            assert in_session == in_thread == (3, 2)
        finally:
            await db.dispose()

    asyncio.run(main())


def test_a_coroutine_that_suspends_is_refused_not_left_half_run():
    async def suspends() -> int:
        await asyncio.sleep(0)
        return 1

    with pytest.raises(RuntimeError, match="suspended"):
        run_unsuspended(suspends())
