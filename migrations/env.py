"""Alembic environment. ssefed runs migrations itself (``ssefed migrate``), passing a
connection in ``config.attributes["connection"]``; the plain ``alembic`` command also
works and reads the database URL from the ssefed config (``SSEFED_CONFIG`` or
./ssefed.toml)."""

import asyncio
import os

from alembic import context

from ssefed.db import models  # noqa: F401 - registers the tables
from ssefed.db.base import Base

target_metadata = Base.metadata

# Full-text search structures made by hand in migration 0011 (FTS5 on SQLite, a GIN
# expression index on PostgreSQL): not in the models, not compared.
HAND_MADE = {"search_fts", "search_fts_data", "search_fts_idx", "search_fts_docsize",
             "search_fts_config", "search_fts_content", "ix_search_entries_fts"}


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    return name not in HAND_MADE


def run_with_connection(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_from_config() -> None:
    from ssefed.config import load_config
    from ssefed.db.session import open_database

    db = open_database(load_config(os.environ.get("SSEFED_CONFIG")))
    try:
        async with db.write_engine.connect() as conn:
            await conn.run_sync(run_with_connection)
            await conn.commit()
    finally:
        await db.dispose()


connection = context.config.attributes.get("connection")
if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run ssefed migrate")
elif connection is not None:
    run_with_connection(connection)
else:
    asyncio.run(run_from_config())
