"""Running a SPARQL query in a child process that checks it (``child.check``: its
parse tree, so SERVICE, FROM and updates are refused), is stopped at the time limit
and cannot grow past the memory limit. Only the cheap checks (empty, too large) run in
the caller; parsing a crafted query can take seconds, so the node never does it in
its event loop.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ssefed.graph import child

DEFAULT_MAX_QUERY_BYTES = 16 * 1024  # [sparql] max_query_bytes

_context: Any = None


class QueryRefused(ValueError):
    """The query is not run; the message says why (for a 400 or a CLI message)."""

    field = "query"
    status = 400


class QueryTooLarge(QueryRefused):
    status = 413

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"the query is longer than {max_bytes} bytes "
                         "([sparql] max_query_bytes)")


class QueryStopped(RuntimeError):
    """The query ran but was stopped (time or memory limit) or failed in the store."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class OverClientShare(QueryStopped):
    """The client already has its share of the query slots; ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__("client", message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class CheckedQuery:
    text: str
    form: str  # SELECT | ASK | CONSTRUCT | DESCRIBE


@dataclass(frozen=True)
class Answer:
    form: str
    format: str  # json | turtle | ntriples
    body: bytes
    count: int
    truncated: bool


def check_size(text: str, max_bytes: int = DEFAULT_MAX_QUERY_BYTES) -> None:
    """The cheap checks, done before a query takes a slot: not empty, not too large."""
    if not isinstance(text, str) or not text.strip():
        raise QueryRefused("the query is empty")
    if len(text) > max_bytes or len(text.encode("utf-8")) > max_bytes:
        raise QueryTooLarge(max_bytes)


def check_query(text: str, max_bytes: int = DEFAULT_MAX_QUERY_BYTES) -> CheckedQuery:
    """Parse ``text`` in this process; raise QueryRefused naming what is wrong or not
    allowed. For the CLI (an admin's own process) and tests; the node checks in the
    query's child process (``run_query``)."""
    check_size(text, max_bytes)
    try:
        return CheckedQuery(text=text, form=child.check(text))
    except child.Refused as exc:
        raise QueryRefused(str(exc)) from None


def _mp_context():
    """A fork server: children are forked from a clean single-threaded process (never
    from the node, whose threads and open store must not be forked)."""
    global _context
    if _context is None:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["ssefed.graph.child", "pyoxigraph",
                                    "rdflib.plugins.sparql.parser"])
        _context = ctx
    return _context


def _wait(conn: Any, process: Any, timeout: float) -> Any:
    if conn.poll(timeout):
        try:
            return conn.recv()
        except EOFError:
            return None
    return "timeout"


async def run_query(store_path: Path, lock_path: Path, text: str, *,
                    timeout: float, max_memory_mb: int, max_results: int,
                    graph_format: str = "turtle") -> Answer:
    """Check and run ``text`` in a child process, both within the time and memory
    limits; raise QueryRefused (refused by the check) or QueryStopped (stopped)."""
    ctx = _mp_context()
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(target=child.run, daemon=True, args=(
        str(store_path), str(lock_path), text, graph_format, max_results,
        max_memory_mb, sender))
    await asyncio.to_thread(process.start)
    sender.close()
    try:
        message = await asyncio.to_thread(_wait, receiver, process, timeout)
    finally:
        receiver.close()
        if process.is_alive():
            process.kill()
        await asyncio.to_thread(process.join, 5)
    if message == "timeout":
        raise QueryStopped("timeout", f"the query was stopped after {timeout:g} s "
                                      "([sparql] timeout_seconds)")
    if message is None:
        code = process.exitcode
        if code in (-signal.SIGABRT, -signal.SIGSEGV, -signal.SIGKILL, 134):
            raise QueryStopped("memory", f"the query was stopped: it needed more than "
                                         f"{max_memory_mb} MiB ([sparql] max_memory_mb)")
        raise QueryStopped("crashed", f"the query process ended without an answer ({code})")
    status, meta, body = message
    if status == "ok":
        return Answer(form=meta["form"], format=meta["format"], body=body,
                      count=meta["count"], truncated=meta["truncated"])
    if status in ("refused", "syntax"):
        raise QueryRefused(body.decode(errors="replace"))
    if status == "memory":
        raise QueryStopped("memory", f"the query was stopped: it needed more than "
                                     f"{max_memory_mb} MiB ([sparql] max_memory_mb)")
    raise QueryStopped("error", body.decode(errors="replace"))
