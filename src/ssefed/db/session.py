"""Engines and sessions: the one place that knows SQLite from PostgreSQL.

SQLite is used as a server database: WAL, a busy timeout, and write transactions
that take the write lock up front (``BEGIN IMMEDIATE``) on their own engine, so a
read that later writes never hits "database is locked". Inside one process, writers
also queue on an asyncio lock: one writer at a time, without busy-waiting.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import time
from pathlib import Path
from typing import Any, AsyncIterator, Callable, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


# Set in the tasks of background workers: on SQLite their write transactions give way to
# those of requests being answered (the inbox, the API), which wait at most for the
# transaction in progress.
BACKGROUND: contextvars.ContextVar[bool] = contextvars.ContextVar("ssefed_background",
                                                                  default=False)


BACKGROUND_PATIENCE = 0.05  # seconds a background writer lets requests go first
# While requests are being answered (one came in the last FOREGROUND_RECENT seconds),
# background jobs take at most this share of the time: the inbox keeps accepting under
# load, and what it queued is applied as soon as the load eases.
BACKGROUND_SHARE = 0.1
FOREGROUND_RECENT = 0.2

T = TypeVar("T")

IDLE_PING = 5.0  # seconds a PostgreSQL connection may lie unused before it is checked

SQLITE_MMAP = 1024 * 1024 * 1024  # bytes of the file read through mmap (at most)
SQLITE_CACHE = -16 * 1024  # page cache per connection, in KiB (negative: KiB, not pages)



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


def _configure_sqlite(engine: Engine, busy_timeout_ms: int, begin: str) -> None:
    """Each connection of ``engine`` in WAL with a busy timeout, its transactions begun
    with ``begin`` (SQLAlchemy's begin event issues it; the driver must not)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        # reads from the mapped file and a 16 MB page cache
        cur.execute(f"PRAGMA mmap_size={SQLITE_MMAP}")
        cur.execute(f"PRAGMA cache_size={SQLITE_CACHE}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql(begin)


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Check a pooled connection before use when it has lain unused for IDLE_PING
    seconds (the database may have restarted meanwhile); one that does not answer is
    replaced by a new one. Connections in steady use are not checked: SQLAlchemy's
    ``pool_pre_ping`` costs three round trips on every checkout with asyncpg."""
    @event.listens_for(engine.sync_engine, "checkin")
    def _returned(dbapi_connection, record) -> None:
        record.info["returned"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checkout(dbapi_connection, record, proxy) -> None:
        if time.monotonic() - record.info.get("returned", float("-inf")) < IDLE_PING:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # the pool replaces it and tries again
            raise DisconnectionError(f"a pooled connection is gone: {exc}") from exc


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
                                         echo=echo)
            _ping_when_idle(engine)
            self.write_engine = self.read_engine = engine
            self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
            self._write_lock = None
        self._write_sessions = async_sessionmaker(self.write_engine, expire_on_commit=False,
                                                  info={"database": self})
        self._read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False)
        self._busy_timeout_ms = busy_timeout_ms
        self._sqlite_path = (parsed.database if self.is_sqlite and parsed.database
                             and parsed.database != ":memory:" else None)
        self._writer: concurrent.futures.ThreadPoolExecutor | None = None
        self._sync_write_engine: Engine | None = None
        self._foreground_at = float("-inf")
        self._commit_listeners: list[Callable[[dict[str, Any]], None]] = []

    @staticmethod
    def _sqlite_engine(url: str, busy_timeout_ms: int, begin: str, echo: bool) -> AsyncEngine:
        engine = create_async_engine(url, echo=echo,
                                     connect_args={"timeout": busy_timeout_ms / 1000})
        _configure_sqlite(engine.sync_engine, busy_timeout_ms, begin)
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
        for listener in self._commit_listeners:
            listener(session.info)

    def add_commit_listener(self, listener: Callable[[dict[str, Any]], None]) -> None:
        """Call ``listener(session.info)`` after each write transaction of this process
        commits (never after a rollback): what the code above noted in the session's
        ``info`` while writing reaches it once it is stored for good."""
        self._commit_listeners.append(listener)

    def remove_commit_listener(self, listener: Callable[[dict[str, Any]], None]) -> None:
        if listener in self._commit_listeners:
            self._commit_listeners.remove(listener)

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reading (on SQLite it never takes the write lock)."""
        async with self._read_sessions() as session:
            async with session.begin():
                yield session

    async def run(self, work: Callable[[Connection], T], *, one_statement: bool = False) -> T:
        """``work(connection)`` in one write transaction, committed when it returns, rolled
        back if it raises: synchronous SQLAlchemy on one ``Connection``, so a batch of
        statements costs one thread hop on SQLite (a connection of its own, BEGIN
        IMMEDIATE, writers queued as for ``write()``) and, on PostgreSQL, one round trip per
        statement on a pooled connection, without a session or the ORM around it.
        ``one_statement``: ``work`` runs a single statement, its own transaction on
        PostgreSQL (no BEGIN and COMMIT: one round trip in all)."""
        lock = self._write_lock
        if lock is not None:
            await lock.acquire()
        try:
            if self._sqlite_path is None:  # PostgreSQL, or SQLite in memory: one connection
                if one_statement and not self.is_sqlite:
                    async with self._autocommit.connect() as conn:
                        return await conn.run_sync(work)
                async with self.write_engine.begin() as conn:
                    return await conn.run_sync(work)
            if self._writer is None:
                self._writer = concurrent.futures.ThreadPoolExecutor(
                    1, thread_name_prefix="ssefed-sqlite-writer")
                self._sync_write_engine = create_engine(
                    make_url(self.url).set(drivername="sqlite+pysqlite"), pool_size=1,
                    max_overflow=0, connect_args={"timeout": self._busy_timeout_ms / 1000,
                                                  "check_same_thread": False})
                _configure_sqlite(self._sync_write_engine, self._busy_timeout_ms,
                                  "BEGIN IMMEDIATE")
            return await asyncio.get_running_loop().run_in_executor(
                self._writer, self._run_in_writer, work)
        finally:
            if lock is not None:
                await asyncio.shield(lock.release())

    def _run_in_writer(self, work: Callable[[Connection], T]) -> T:
        assert self._sync_write_engine is not None
        with self._sync_write_engine.begin() as conn:
            return work(conn)

    def note_foreground(self) -> None:
        """A request is being answered (see BACKGROUND_SHARE)."""
        self._foreground_at = time.monotonic()

    def foreground_recent(self) -> bool:
        return time.monotonic() - self._foreground_at < FOREGROUND_RECENT

    async def ping(self) -> None:
        async with self.read_engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        if self._writer is not None:
            writer, self._writer = self._writer, None
            engine, self._sync_write_engine = self._sync_write_engine, None
            if engine is not None:
                await asyncio.get_running_loop().run_in_executor(writer, engine.dispose)
            writer.shutdown(wait=True)
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()


def open_database(config) -> Database:  # ssefed.config.Config
    return Database(config.database_url, pool_size=config.database.pool_size,
                    busy_timeout_ms=config.database.busy_timeout_ms)
