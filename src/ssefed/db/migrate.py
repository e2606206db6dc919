"""Run Alembic migrations on a Database (used by init, migrate, serve and /healthz)."""

from __future__ import annotations

import contextlib

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from ssefed.db.session import Database
from ssefed.paths import MIGRATIONS_DIR


def alembic_config() -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def _run(db: Database, fn, *args) -> None:
    cfg = alembic_config()

    def run(connection) -> None:
        cfg.attributes["connection"] = connection
        fn(cfg, *args)

    async with db._write_lock or contextlib.nullcontext():  # one writer at a time on SQLite
        async with db.write_engine.connect() as conn:
            await conn.run_sync(run)
            await conn.commit()


async def upgrade(db: Database, revision: str = "head") -> None:
    await _run(db, command.upgrade, revision)


async def downgrade(db: Database, revision: str = "base") -> None:
    await _run(db, command.downgrade, revision)


async def current_revision(db: Database) -> str | None:
    async with db.read_engine.connect() as conn:
        return await conn.run_sync(
            lambda c: MigrationContext.configure(c).get_current_revision())


async def is_current(db: Database) -> bool:
    return await current_revision(db) == head_revision()
