"""ssefed migrate: upgrade the database to the newest schema."""

from __future__ import annotations

import argparse

from ssefed.cli.common import command, config_from, on_database
from ssefed.db import migrate


def register(sub: argparse._SubParsersAction) -> None:
    command(sub, "migrate", run, help="upgrade the database to the newest schema")


def run(args: argparse.Namespace) -> int:
    config = config_from(args)

    async def upgrade(db) -> tuple[str | None, str | None]:
        before = await migrate.current_revision(db)
        await migrate.upgrade(db)
        return before, await migrate.current_revision(db)

    before, after = on_database(config, upgrade, require_current=False)
    if before == after:
        print(f"the database is up to date (revision {after})")
    else:
        print(f"migrated the database from {before or 'empty'} to {after}")
    return 0
