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
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Coroutine, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.util import greenlet_spawn


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

SQLITE_MMAP = 1024 * 1024 * 1024  # bytes of the file read through mmap (at most)
SQLITE_CACHE = -16 * 1024  # page cache per connection, in KiB (negative: KiB, not pages)

# PostgreSQL errors after which a held connection is dropped and the statement tried once
# more on a new one (the server restarted, the socket was cut).
_PG_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (OSError, ConnectionError)
try:  # asyncpg is a dependency, but keep this module importable without it
    import asyncpg

    _PG_CONNECTION_ERRORS += (asyncpg.ConnectionDoesNotExistError, asyncpg.InterfaceError,
                              asyncpg.PostgresConnectionError)
except ImportError:  # pragma: no cover
    pass


@dataclass(frozen=True)
class Published:
    """An activity stored with its deliveries, for this process's deliverer."""

    activity_id: int
    actor_id: int
    doc: dict[str, Any]


def note_publishing(s: AsyncSession, actor_id: int) -> None:
    """``actor_id`` is about to publish in ``s``: this process's deliverer may get its
    signing key ready while the transaction goes on."""
    db = s.info.get("database")
    if db is not None:
        for listener in db._publish_listeners:
            listener.publishing(actor_id)


def note_delivering(s: AsyncSession, actor_id: int, doc: dict[str, Any],
                    inboxes: list[str]) -> None:
    """``doc`` of ``actor_id`` is being stored in ``s`` with a delivery to each of
    ``inboxes``: the deliverer may sign its first POSTs while the transaction commits
    (signatures only: nothing is sent before the commit, nor if it rolls back)."""
    db = s.info.get("database")
    if db is not None and inboxes:
        for listener in db._publish_listeners:
            listener.delivering(actor_id, doc, inboxes)


def note_published(s: AsyncSession, item: Published) -> None:
    """``item`` was stored in ``s``: once ``s`` commits (never before: a rolled-back id may
    be given again), this process's deliverer is handed it, so that it need not read back
    what it will deliver."""
    s.info.setdefault("published", []).append(item)


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
        # reads from the mapped file and a 16 MB page cache (the search's indexes)
        cur.execute(f"PRAGMA mmap_size={SQLITE_MMAP}")
        cur.execute(f"PRAGMA cache_size={SQLITE_CACHE}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql(begin)


class SyncReader:
    """What a repository's read function asks of an ``AsyncSession`` (``execute``,
    ``scalar``, ``bind.dialect``), answered at once by a synchronous ``Connection``: such
    a function, called with one, never suspends, so ``run_unsuspended`` runs it in the
    thread that holds the connection (see ``Database.sqlite_read``)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = self.bind = conn

    async def execute(self, statement: Any, params: Any = None) -> Any:
        return self.conn.execute(statement, params)

    async def scalar(self, statement: Any, params: Any = None) -> Any:
        return self.conn.scalar(statement, params)


def run_unsuspended(coro: Coroutine[Any, Any, T]) -> T:
    """The result of ``coro``, run to its end without an event loop: it must not suspend
    (await only what a ``SyncReader`` answers)."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError("a coroutine run without an event loop suspended")


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
        self._write_sessions = async_sessionmaker(self.write_engine, expire_on_commit=False,
                                                  info={"database": self})
        self._read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False)
        self._busy_timeout_ms = busy_timeout_ms
        self._sqlite_path = (parsed.database if self.is_sqlite and parsed.database
                             and parsed.database != ":memory:" else None)
        # Hot-path writers (the inbox's group commit) speak to the driver directly: on
        # SQLite one thread hop per batch on a connection of their own, on PostgreSQL one
        # held connection and one round trip per batch, without a session around it.
        self._raw_thread: concurrent.futures.ThreadPoolExecutor | None = None
        self._raw_sqlite: sqlite3.Connection | None = None
        self._raw_pg: Any = None  # a pool connection held by the hot path (PoolProxiedConnection)
        self._raw_pg_lock = asyncio.Lock()
        # Reads that run several statements (a search) on SQLite: a synchronous engine of
        # its own, each read run whole in one of these threads (one hop from the loop, not
        # a few per statement through aiosqlite).
        self._read_thread_count = max(1, pool_size)
        self._read_threads: concurrent.futures.ThreadPoolExecutor | None = None
        self._sync_read_engine: Engine | None = None
        self._foreground_at = float("-inf")
        self._publish_listeners: list[Any] = []  # objects with publishing() and published()

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
                published = session.info.pop("published", None)
        finally:
            if lock is not None:
                await asyncio.shield(lock.release())
        if published:
            for listener in self._publish_listeners:
                listener.published(published)

    def add_publish_listener(self, listener: Any) -> None:
        """``listener.publishing(actor_id)`` is called when a write transaction is about to
        publish as that actor, ``listener.delivering(actor_id, doc, inboxes)`` when it
        stores an activity to deliver, ``listener.published([Published, ...])`` after it
        commits."""
        self._publish_listeners.append(listener)

    def remove_publish_listener(self, listener: Any) -> None:
        if listener in self._publish_listeners:
            self._publish_listeners.remove(listener)

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reading (on SQLite it never takes the write lock)."""
        async with self._read_sessions() as session:
            async with session.begin():
                yield session

    def note_foreground(self) -> None:
        """A request is being answered (see BACKGROUND_SHARE)."""
        self._foreground_at = time.monotonic()

    def foreground_recent(self) -> bool:
        return time.monotonic() - self._foreground_at < FOREGROUND_RECENT

    @property
    def has_direct_writes(self) -> bool:
        """Whether ``sqlite_direct_write``/``pg_direct`` can be used (not for :memory:)."""
        return not self.is_sqlite or self._sqlite_path is not None

    def _sqlite_connection(self) -> sqlite3.Connection:
        # Runs in the hot path's own thread: the connection is only ever used there.
        if self._raw_sqlite is None:
            conn = sqlite3.connect(self._sqlite_path, timeout=self._busy_timeout_ms / 1000,
                                   isolation_level=None, check_same_thread=False)
            for pragma in ("journal_mode=WAL", f"busy_timeout={int(self._busy_timeout_ms)}",
                           "foreign_keys=ON", "synchronous=NORMAL",
                           f"mmap_size={SQLITE_MMAP}", f"cache_size={SQLITE_CACHE}"):
                conn.execute(f"PRAGMA {pragma}")
            self._raw_sqlite = conn
        return self._raw_sqlite

    def _sqlite_transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._sqlite_connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    async def sqlite_direct_write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(connection)`` in one write transaction (BEGIN IMMEDIATE) on SQLite, in a
        thread of its own, as one hop from the event loop; writers queue as for write()."""
        assert self.is_sqlite and self._sqlite_path is not None and self._write_lock is not None
        if self._raw_thread is None:
            self._raw_thread = concurrent.futures.ThreadPoolExecutor(
                1, thread_name_prefix="ssefed-sqlite-direct")
        lock = self._write_lock
        await lock.acquire()
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._raw_thread, self._sqlite_transaction, fn)
        finally:
            await asyncio.shield(lock.release())

    async def sqlite_read(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn(connection)`` in one read transaction (a snapshot, no write lock) on
        SQLite, on a synchronous connection in a thread of the read pool: one thread hop
        for the whole of ``fn``, however many statements it runs."""
        assert self.is_sqlite and self._sqlite_path is not None
        if self._read_threads is None:
            engine = create_engine(make_url(self.url).set(drivername="sqlite+pysqlite"),
                                   pool_size=self._read_thread_count, max_overflow=0,
                                   connect_args={"timeout": self._busy_timeout_ms / 1000,
                                                 "check_same_thread": False})
            _configure_sqlite(engine, self._busy_timeout_ms, "BEGIN")
            self._sync_read_engine = engine
            self._read_threads = concurrent.futures.ThreadPoolExecutor(
                self._read_thread_count, thread_name_prefix="ssefed-sqlite-read")
        return await asyncio.get_running_loop().run_in_executor(
            self._read_threads, self._sqlite_read, fn)

    def _sqlite_read(self, fn: Callable[[Connection], T]) -> T:
        assert self._sync_read_engine is not None
        with self._sync_read_engine.connect() as conn:  # closed: rolled back, back to the pool
            return fn(conn)

    async def pg_direct(self, fn: Callable[[Any], Awaitable[T]]) -> T:
        """Run ``fn(asyncpg_connection)`` on a connection held for the hot path (one caller
        at a time). A connection found broken is replaced and ``fn`` run once more, so
        ``fn`` must be one atomic, idempotent statement (e.g. an INSERT ... ON CONFLICT)."""
        assert not self.is_sqlite
        async with self._raw_pg_lock:
            for attempt in (1, 2):
                if self._raw_pg is not None and self._raw_pg.driver_connection.is_closed():
                    await self._drop_raw_pg()
                if self._raw_pg is None:
                    self._raw_pg = await self.write_engine.raw_connection()
                try:
                    return await fn(self._raw_pg.driver_connection)
                except _PG_CONNECTION_ERRORS:
                    await self._drop_raw_pg()
                    if attempt == 2:
                        raise
        raise AssertionError("unreachable")

    async def _drop_raw_pg(self) -> None:
        raw, self._raw_pg = self._raw_pg, None
        if raw is not None:
            with contextlib.suppress(Exception):
                await greenlet_spawn(raw.invalidate)

    async def ping(self) -> None:
        async with self.read_engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        if self._raw_pg is not None:
            async with self._raw_pg_lock:
                raw, self._raw_pg = self._raw_pg, None
                if raw is not None:  # back to the pool, which dispose() then closes
                    with contextlib.suppress(Exception):
                        await greenlet_spawn(raw.close)
        if self._raw_thread is not None:
            thread, self._raw_thread = self._raw_thread, None
            conn, self._raw_sqlite = self._raw_sqlite, None
            if conn is not None:
                await asyncio.get_running_loop().run_in_executor(thread, conn.close)
            thread.shutdown(wait=True)
        if self._read_threads is not None:
            threads, self._read_threads = self._read_threads, None
            await asyncio.get_running_loop().run_in_executor(None, threads.shutdown, True)
            engine, self._sync_read_engine = self._sync_read_engine, None
            if engine is not None:
                engine.dispose()
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()


def open_database(config) -> Database:  # ssefed.config.Config
    return Database(config.database_url, pool_size=config.database.pool_size,
                    busy_timeout_ms=config.database.busy_timeout_ms)
