"""The database as the node uses it: a PostgreSQL connection the server closed (a restart,
an administrator) is replaced before use, so the next unit of work and the next read
succeed instead of failing once."""

import asyncio

import asyncpg
import pytest
from sqlalchemy import text

from ssefed.db import session
from ssefed.db.session import Database
from tests.conftest import PG_URL


@pytest.mark.parametrize("backend", ["postgresql"] if PG_URL else [])
async def test_connections_closed_by_postgresql_are_replaced(databases, monkeypatch):
    monkeypatch.setattr(session, "IDLE_PING", 0.2)
    url = databases.new_url()
    db = Database(url.replace("postgresql://", "postgresql+asyncpg://"))
    try:
        for one_statement in (False, True):
            assert await db.run(lambda c: c.execute(text("SELECT 1")).scalar(),
                                one_statement=one_statement) == 1
        async with db.read() as s:
            assert (await s.execute(text("SELECT 2"))).scalar() == 2
        admin = await asyncpg.connect(url)
        try:
            closed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        finally:
            await admin.close()
        assert closed >= 1  # the pooled connections are gone
        await asyncio.sleep(0.3)  # idle longer than IDLE_PING: checked before use

        for one_statement in (False, True):
            assert await db.run(lambda c: c.execute(text("SELECT 3")).scalar(),
                                one_statement=one_statement) == 3
        async with db.read() as s:
            assert (await s.execute(text("SELECT 4"))).scalar() == 4
    finally:
        await db.dispose()
