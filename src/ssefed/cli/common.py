"""What the commands share: loading the config and opening the database."""

from __future__ import annotations

import contextlib
from typing import AsyncIterator

from ssefed.cli import CommandError, safe_url
from ssefed.config import Config, load_config
from ssefed.db import migrate
from ssefed.db.session import Database, open_database


def config_from(args) -> Config:  # noqa: ANN001
    return load_config(args.config)


@contextlib.asynccontextmanager
async def database(config: Config, *, require_current: bool = True) -> AsyncIterator[Database]:
    """Open the node's database; refuse with a clear message when unreachable or behind."""
    db = open_database(config)
    try:
        try:
            await db.ping()
        except Exception as exc:  # noqa: BLE001 - any driver error: say which database
            raise CommandError(f"cannot reach the database {safe_url(config.database_url)}: "
                               f"{type(exc).__name__}: {exc}") from None
        if require_current and not await migrate.is_current(db):
            raise CommandError("the database schema is not the newest: run `ssefed --config "
                               f"{config.path or 'FILE'} migrate` (or `init`) first")
        yield db
    finally:
        await db.dispose()
