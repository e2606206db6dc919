"""What the commands share: loading the config and opening the database."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from typing import AsyncIterator, Awaitable, Callable, TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from ssefed.config import Config, load_config
from ssefed.db import migrate
from ssefed.db.models import Actor
from ssefed.db.session import Database, open_database
from ssefed.federation.service import Federation
from ssefed.db.repos import actors as actor_repo

T = TypeVar("T")


class CommandError(Exception):
    """A message for the admin; the command exits with ``code``."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def command(sub: argparse._SubParsersAction, name: str, run: Callable[[argparse.Namespace], int],
            *positionals: str, help: str, description: str | None = None,
            **defaults) -> argparse.ArgumentParser:
    """The (sub)command ``name``, which runs ``run(args)``; ``positionals`` are its plain
    positional arguments, ``defaults`` more values of ``args``."""
    p = sub.add_parser(name, help=help, description=description)
    for positional in positionals:
        p.add_argument(positional)
    p.set_defaults(func=run, **defaults)
    return p


def verbs(sub: argparse._SubParsersAction, name: str, *, help: str) -> argparse._SubParsersAction:
    """The command group ``name`` (``ssefed NAME VERB``): add its verbs to what this returns."""
    return sub.add_parser(name, help=help).add_subparsers(dest="verb", metavar="VERB",
                                                          required=True)


def safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<database url>"


def config_from(args) -> Config:
    return load_config(args.config)


@contextlib.asynccontextmanager
async def database(config: Config, *, require_current: bool = True) -> AsyncIterator[Database]:
    """Open the node's database; refuse with a clear message when unreachable or behind."""
    db = open_database(config)
    try:
        try:
            await db.ping()
        except Exception as exc:  # any driver error: say which database
            raise CommandError(f"cannot reach the database {safe_url(config.database_url)}: "
                               f"{type(exc).__name__}: {exc}") from None
        if require_current and not await migrate.is_current(db):
            raise CommandError("the database schema is not the newest: run `ssefed --config "
                               f"{config.path or 'FILE'} migrate` (or `init`) first")
        yield db
    finally:
        await db.dispose()


def on_database(config: Config, work: Callable[[Database], Awaitable[T]], *,
                require_current: bool = True) -> T:
    """Run ``work(db)`` on the node's database (opened as ``database`` opens it)."""

    async def go() -> T:
        async with database(config, require_current=require_current) as db:
            return await work(db)

    return asyncio.run(go())


def in_session(config: Config, work: Callable[[AsyncSession], Awaitable[T]], *,
               write: bool = False) -> T:
    """Run ``work(s)`` in one read (or write) session of the node's database."""

    async def go(db: Database) -> T:
        async with (db.write() if write else db.read()) as s:
            return await work(s)

    return on_database(config, go)


@contextlib.asynccontextmanager
async def federation(config: Config) -> AsyncIterator:
    """The database and a Federation (outbound client) for commands that talk to peers."""
    async with database(config) as db:
        fed = Federation(config, db)
        try:
            await fed.load()
            yield fed
        finally:
            await fed.close()


def on_federation(config: Config, work: Callable[[Federation], Awaitable[T]]) -> T:
    """Run ``work(fed)`` with the database and a Federation (see ``federation``)."""

    async def go() -> T:
        async with federation(config) as fed:
            return await work(fed)

    return asyncio.run(go())


async def local_actor(db: Database, handle: str) -> Actor:
    async with db.read() as s:
        actor = await actor_repo.get_local_by_handle(s, handle)
    if actor is None or actor.deleted_at is not None:
        raise CommandError(f"no actor @{handle} on this node (see `ssefed org list`)")
    return actor


def on_local_actor(config: Config, handle: str,
                   work: Callable[[Database, Actor], Awaitable[T]]) -> T:
    """Run ``work(db, actor)`` with the local actor ``handle`` (see ``local_actor``)."""

    async def go(db: Database) -> T:
        return await work(db, await local_actor(db, handle))

    return on_database(config, go)


def in_actor_session(config: Config, handle: str,
                     work: Callable[[AsyncSession, Actor], Awaitable[T]], *,
                     write: bool = False) -> T:
    """Run ``work(s, actor)`` in one read (or write) session, with the local actor
    ``handle`` (read before the session opens, as ``on_local_actor`` reads it)."""

    async def go(db: Database, actor: Actor) -> T:
        async with (db.write() if write else db.read()) as s:
            return await work(s, actor)

    return on_local_actor(config, handle, go)


def given_options(args, fields: tuple[str, ...], base: dict | None = None) -> dict:
    """``base`` updated with the options the admin gave (those not None)."""
    data = dict(base or {})
    for name in fields:
        value = getattr(args, name, None)
        if value is not None:
            data[name] = value
    return data
