"""Checking a SPARQL query before it runs, and running it in a child process that is
stopped at the time limit and cannot grow past the memory limit.

The check parses the query (rdflib's SPARQL 1.1 parser) and walks the parse tree, so
that neither a comment nor a string fools it: ``SERVICE`` (which would make the node
send requests to other servers) and ``FROM`` / ``FROM NAMED`` (a dataset other than
the node's projection) are refused, as is anything that is not a query (updates).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_QUERY_CHARS = 100_000
FORMS = {"SelectQuery": "SELECT", "AskQuery": "ASK", "ConstructQuery": "CONSTRUCT",
         "DescribeQuery": "DESCRIBE"}

_context: Any = None


class QueryRefused(ValueError):
    """The query is not run; the message says why (for a 400 or a CLI message)."""

    field = "query"


class QueryStopped(RuntimeError):
    """The query ran but was stopped (time or memory limit) or failed in the store."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class CheckedQuery:
    text: str
    form: str  # SELECT | ASK | CONSTRUCT | DESCRIBE

    @property
    def gives_graph(self) -> bool:
        return self.form in ("CONSTRUCT", "DESCRIBE")


@dataclass(frozen=True)
class Answer:
    form: str
    format: str  # json | turtle | ntriples
    body: bytes
    count: int
    truncated: bool


def _names(tree: Any):  # noqa: ANN202 - generator of the parse tree's rule names
    from pyparsing import ParseResults
    from rdflib.plugins.sparql.parserutils import CompValue

    stack, seen = [tree], 0
    while stack:
        node = stack.pop()
        seen += 1
        if seen > 1_000_000:  # bounded: a query is at most MAX_QUERY_CHARS long
            return
        if isinstance(node, CompValue):
            yield node.name, node
            stack.extend(node.values())
        elif isinstance(node, (list, tuple, ParseResults)):
            stack.extend(node)


def check_query(text: str) -> CheckedQuery:
    """Parse ``text``; raise QueryRefused naming what is wrong or not allowed."""
    from pyparsing import ParseException
    from rdflib.plugins.sparql.parser import parseQuery

    if not isinstance(text, str) or not text.strip():
        raise QueryRefused("the query is empty")
    if len(text) > MAX_QUERY_CHARS:
        raise QueryRefused(f"the query is longer than {MAX_QUERY_CHARS} characters")
    try:
        parsed = parseQuery(text)
    except ParseException as exc:
        if "INSERT" in text.upper() or "DELETE" in text.upper() or "LOAD" in text.upper():
            detail = " (the endpoint is read-only: SPARQL Update is not accepted)"
        else:
            detail = ""
        raise QueryRefused(f"syntax error at line {exc.lineno}, column {exc.col}: "
                           f"{exc.msg}{detail}") from None
    except Exception as exc:  # noqa: BLE001 - rdflib raises plain Exceptions on bad IRIs etc.
        raise QueryRefused(f"syntax error: {exc}") from None
    query = parsed[1]
    form = FORMS.get(getattr(query, "name", ""))
    if form is None:
        raise QueryRefused("only SELECT, ASK, CONSTRUCT and DESCRIBE queries are accepted")
    for name, node in _names(parsed):
        if name == "ServiceGraphPattern":
            raise QueryRefused("SERVICE is refused: queries run over this node's data only, "
                               "the node sends no request to another endpoint")
        if name == "DatasetClause":
            which = "FROM NAMED" if "named" in node else "FROM"
            raise QueryRefused(f"{which} is refused: the dataset is this node's projection "
                               "and nothing is fetched; every object is a named graph of it "
                               "(its IRI), to be looked into with GRAPH <IRI> { ... }")
    return CheckedQuery(text=text, form=form)


def _mp_context():  # noqa: ANN202
    """A fork server: children are forked from a clean single-threaded process (never
    from the node, whose threads and open store must not be forked)."""
    global _context
    if _context is None:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["ssefed.graph.child", "pyoxigraph"])
        _context = ctx
    return _context


def _wait(conn: Any, process: Any, timeout: float) -> Any:
    if conn.poll(timeout):
        try:
            return conn.recv()
        except EOFError:
            return None
    return "timeout"


async def run_query(store_path: Path, lock_path: Path, query: CheckedQuery, *,
                    timeout: float, max_memory_mb: int, max_results: int,
                    graph_format: str = "turtle") -> Answer:
    """Run a checked query in a child process; raise QueryStopped when it is stopped."""
    from ssefed.graph import child

    ctx = _mp_context()
    receiver, sender = ctx.Pipe(duplex=False)
    fmt = graph_format if query.gives_graph else "json"
    process = ctx.Process(target=child.run, daemon=True, args=(
        str(store_path), str(lock_path), query.text, query.form, fmt, max_results,
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
        return Answer(form=query.form, format=fmt, body=body, count=meta["count"],
                      truncated=meta["truncated"])
    if status == "syntax":
        raise QueryRefused(body.decode(errors="replace"))
    if status == "memory":
        raise QueryStopped("memory", f"the query was stopped: it needed more than "
                                     f"{max_memory_mb} MiB ([sparql] max_memory_mb)")
    raise QueryStopped("error", body.decode(errors="replace"))
