from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from ssefed.config import async_database_url
from ssefed.db import migrate
from ssefed.db.base import Base
from ssefed.db.session import Database

def open_db(url: str, tmp_path: Path) -> Database:
    return Database(async_database_url(url, tmp_path))


async def schema_diff(db: Database) -> list:
    async with db.read_engine.connect() as conn:
        return await conn.run_sync(
            lambda c: compare_metadata(MigrationContext.configure(
                c, opts={"compare_type": True}),
                Base.metadata))


async def table_names(db: Database) -> set[str]:
    async with db.read_engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def test_upgrade_head_on_empty_database_gives_exactly_the_models_schema(databases, tmp_path):
    db = open_db(databases.new_url(), tmp_path)
    try:
        assert await migrate.current_revision(db) is None
        await migrate.upgrade(db)
        assert await migrate.current_revision(db) == migrate.head_revision()
        assert await migrate.is_current(db)
        assert await schema_diff(db) == []
        assert {"actors", "actor_keys", "organisations", "offers", "offer_inputs",
                "jobs"} <= await table_names(db)
    finally:
        await db.dispose()


async def test_downgrade_base_removes_every_table_and_upgrade_again_works(databases, tmp_path):
    db = open_db(databases.new_url(), tmp_path)
    try:
        await migrate.upgrade(db)
        await migrate.downgrade(db, "base")
        assert await table_names(db) <= {"alembic_version"}, await table_names(db)
        assert await migrate.current_revision(db) is None
        await migrate.upgrade(db)
        assert await schema_diff(db) == []
    finally:
        await db.dispose()
