"""Engines and sessions: the one place that knows SQLite from PostgreSQL.

SQLite is used as a server database: WAL, a busy timeout, and write transactions
that take the write lock up front (``BEGIN IMMEDIATE``) on their own engine, so a
read that later writes never hits "database is locked". Inside one process, writers
also queue on an asyncio lock: one writer at a time, without busy-waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from pathlib import Path
from typing import AsyncIterator

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


# Set in the tasks of background workers: on SQLite their write transactions give way to
# those of requests being answered (the inbox, the API), which wait at most for the
# transaction in progress.
BACKGROUND: contextvars.ContextVar[bool] = contextvars.ContextVar("ssefed_background",
                                                                  default=False)


BACKGROUND_PATIENCE = 0.05  # seconds a background writer lets requests go first


class WriterLock:
    """One writer at a time, foreground writers first."""

    def __init__(self) -> None:
        self._cond = asyncio.Condition()
        self._held = False
        self._foreground_waiting = 0

    async def acquire(self) -> None:
        background = BACKGROUND.get()
        async with self._cond:
            if background:
                try:  # give way to requests, but never for long: background work must go on
                    await asyncio.wait_for(self._cond.wait_for(
                        lambda: not self._held and self._foreground_waiting == 0),
                        BACKGROUND_PATIENCE)
                except asyncio.TimeoutError:
                    await self._cond.wait_for(lambda: not self._held)
            else:
                self._foreground_waiting += 1
                try:
                    await self._cond.wait_for(lambda: not self._held)
                finally:
                    self._foreground_waiting -= 1
            self._held = True

    async def release(self) -> None:
        async with self._cond:
            self._held = False
            self._cond.notify_all()

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *exc: object) -> None:
        await self.release()


class Database:
    """Async engines and session factories for one database URL."""

    def __init__(self, url: str, *, pool_size: int = 5, busy_timeout_ms: int = 15000,
                 echo: bool = False) -> None:
        self.url = url
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        self.is_sqlite = self.dialect == "sqlite"
        if self.is_sqlite:
            db_path = parsed.database
            if db_path and db_path != ":memory:":
                Path(db_path).parent.mkdir(parents=True, exist_ok=True)
            self.write_engine = self._sqlite_engine(url, busy_timeout_ms, "BEGIN IMMEDIATE", echo)
            self.read_engine = self._sqlite_engine(url, busy_timeout_ms, "BEGIN", echo)
            self._write_lock: WriterLock | None = WriterLock()
        else:
            engine = create_async_engine(url, pool_size=pool_size, max_overflow=pool_size,
                                         pool_pre_ping=True, echo=echo)
            self.write_engine = self.read_engine = engine
            self._write_lock = None
        self._write_sessions = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self._read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False)

    @staticmethod
    def _sqlite_engine(url: str, busy_timeout_ms: int, begin: str, echo: bool) -> AsyncEngine:
        engine = create_async_engine(url, echo=echo,
                                     connect_args={"timeout": busy_timeout_ms / 1000})

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_connection, _record):  # noqa: ANN001
            # Let SQLAlchemy's begin event issue BEGIN; the driver must not.
            dbapi_connection.isolation_level = None
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn):  # noqa: ANN001
            conn.exec_driver_sql(begin)

        return engine

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A session in a write transaction, committed on success, rolled back on error."""
        lock = self._write_lock
        if lock is not None:
            await lock.acquire()
        try:
            async with self._write_sessions() as session:
                async with session.begin():
                    yield session
        finally:
            if lock is not None:
                await asyncio.shield(lock.release())

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reading (on SQLite it never takes the write lock)."""
        async with self._read_sessions() as session:
            async with session.begin():
                yield session

    async def ping(self) -> None:
        async with self.read_engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()


def open_database(config) -> Database:  # noqa: ANN001 - ssefed.config.Config
    return Database(config.database_url, pool_size=config.database.pool_size,
                    busy_timeout_ms=config.database.busy_timeout_ms)
