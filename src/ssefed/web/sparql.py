"""The read-only SPARQL 1.1 Protocol endpoint: ``GET /sparql?query=`` and ``POST
/sparql`` (``application/sparql-query`` body, or the form field ``query``).

Nothing here looks into the query beyond its size: it is parsed and checked in the
query's child process (``graph.queries.run_query``), within its limits."""

from __future__ import annotations

from urllib.parse import parse_qs

from aiohttp import web

from ssefed.graph.queries import OverClientShare, QueryRefused, QueryStopped, QueryTooLarge
from ssefed.graph.service import Sparql
from ssefed.web.clients import client_address
from ssefed.web.problems import Problem, problem, read_body

SPARQL = web.AppKey("sparql", Sparql)
RESULTS_JSON = "application/sparql-results+json"
TYPES = {"json": RESULTS_JSON, "turtle": "text/turtle", "ntriples": "application/n-triples"}


def _refused(exc: QueryRefused) -> Problem:
    title = "Payload Too Large" if exc.status == 413 else "Query refused"
    return Problem(exc.status, title, str(exc), field="query")


def _one(values: list[str] | None, name: str) -> str | None:
    if not values:
        return None
    if len(values) > 1:
        raise Problem(400, "Bad Request", f"{name} must be given once", field=name)
    return values[0]


async def _query_text(request: web.Request) -> str:
    if request.method == "GET":
        if "update" in request.query:
            raise Problem(400, "Bad Request", "this endpoint is read-only: SPARQL Update is "
                          "not accepted", field="update")
        text = _one(request.query.getall("query", []), "query")
    else:
        max_bytes = request.app[SPARQL].limits.max_query_bytes
        kind = request.content_type
        # a form encodes a byte in up to three; the query itself is measured once decoded
        max_body = max_bytes if kind == "application/sparql-query" else max_bytes * 3 + 1024
        try:
            body = await read_body(request, max_body)
        except Problem as exc:
            if exc.status == 413:
                raise _refused(QueryTooLarge(max_bytes)) from None
            raise
        try:
            decoded = body.decode("utf-8")
        except UnicodeDecodeError:
            raise Problem(400, "Bad Request", "the body is not UTF-8", field="query") from None
        if kind == "application/sparql-query":
            text = decoded
        elif kind == "application/x-www-form-urlencoded":
            form = parse_qs(decoded, keep_blank_values=True)
            if "update" in form:
                raise Problem(400, "Bad Request", "this endpoint is read-only: SPARQL Update "
                              "is not accepted", field="update")
            text = _one(form.get("query"), "query")
        elif kind == "application/sparql-update":
            raise Problem(400, "Bad Request", "this endpoint is read-only: SPARQL Update is "
                          "not accepted", field="update")
        else:
            raise Problem(415, "Unsupported Media Type", "POST a query as "
                          "application/sparql-query, or as the form field query "
                          "(application/x-www-form-urlencoded)")
    if text is None:
        raise Problem(400, "Bad Request", "the query parameter is missing", field="query")
    return text


def _graph_format(request: web.Request) -> str:
    accept = request.headers.get("Accept", "")
    return "ntriples" if "application/n-triples" in accept and "text/turtle" not in accept \
        else "turtle"


async def sparql(request: web.Request) -> web.Response:
    text = await _query_text(request)
    try:
        answer = await request.app[SPARQL].answer(text, graph_format=_graph_format(request),
                                                  client=client_address(request))
    except QueryRefused as exc:
        raise _refused(exc) from None
    except OverClientShare as exc:
        return problem(429, "Too Many Requests", str(exc), reason=exc.reason,
                       retry_after=exc.retry_after)
    except QueryStopped as exc:
        raise Problem(503, "Query stopped", str(exc), reason=exc.reason) from None
    headers = {"Vary": "Accept", "Cache-Control": "no-store",
               "Access-Control-Allow-Origin": "*"}
    if answer.truncated:  # the results were cut at [sparql] max_results
        headers["Ssefed-Results-Truncated"] = f"{answer.count}"
    return web.Response(body=answer.body, content_type=TYPES[answer.format], charset="utf-8",
                        headers=headers)
