"""Reports on the web: the public form on an organisation's page and ``POST
/api/reports`` (for people without a fediverse account), and the reviewers' API
(``GET /api/reports``, ``POST /api/reports/{id}/handle``, admin token for now).

The public ways in are anonymous and only ever create a report: no cookie or session is
read, so there is no session to ride. They are rate-limited per client address, their
bodies and texts bounded; the form refuses a cross-site POST (``Origin`` /
``Sec-Fetch-Site``), so a foreign page cannot make its visitors' browsers file reports,
and the JSON API takes ``application/json`` only (a cross-site page cannot send that
without a CORS preflight, which this node does not grant)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

from ssefed.db.repos import actors as actor_repo
from ssefed.domain import reports as report_domain
from ssefed.domain.errors import InvalidInput
from ssefed.web.chains import RateLimiter
from ssefed.web.clients import client_address
from ssefed.web.keys import CONFIG, DB
from ssefed.web.pages import see_other
from ssefed.web.problems import (Problem, media_type, parse_json, problem, query_int, read_body,
                                 read_json, require_json_type, whole_number)
from ssefed.web.directory import organisation_page
from ssefed.web.vetting import reviewer_or_admin

REPORT_LIMITER = web.AppKey("report_limiter", RateLimiter)
MAX_REPORT_BYTES = 16 * 1024  # a report's body (form or JSON): the text is 2,000 characters
MAX_LISTED = 500


def _wait(request: web.Request) -> float:
    return request.app[REPORT_LIMITER].allow(f"ip:{client_address(request)}")


def _too_many(request: web.Request, wait: float) -> web.Response:
    per_minute = request.app[CONFIG].reports.requests_per_minute
    return problem(429, "Too Many Requests",
                   f"at most {per_minute} reports per minute from one address",
                   retry_after=int(wait) + 1)


# -- the public JSON API -------------------------------------------------------------------

async def api_file_report(request: web.Request) -> web.Response:
    """POST /api/reports {"object": IRI, "reason": "wrong"|"outdated"|"other", "text": "…"}:
    201 {"id", "state"}; 422 naming the field; 429 past the rate limit."""
    wait = _wait(request)
    if wait:
        return _too_many(request, wait)
    if media_type(request) != "application/json":
        raise Problem(415, "Unsupported Media Type", "send the report as application/json")
    data = report_domain.parse_report(await read_json(request, MAX_REPORT_BYTES))
    try:
        async with request.app[DB].write() as s:
            report_id = await report_domain.file_report(s, data)
    except report_domain.TooManyOpen as exc:
        raise Problem(429, "Too Many Requests", str(exc)) from None
    return web.json_response({"id": report_id, "state": "open"}, status=201)


# -- the form on the organisation's page ---------------------------------------------------

def _cross_site(request: web.Request) -> bool:
    """A POST a page of another site made the browser send (where browsers say so).
    ``Origin: null`` (a sandboxed frame, a cross-site redirect) counts as another site."""
    if request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
        return True
    origin = request.headers.get("Origin")
    base = request.app[CONFIG].node.base_url.rstrip("/")
    return origin is not None and origin.rstrip("/") != base


async def form_report(request: web.Request) -> web.Response:
    """POST /actors/{handle}/reports (the form): 303 back to the page with a thank-you,
    or the page again with the message next to the field (422; 429 past the limit)."""
    handle = request.match_info["handle"]
    async with request.app[DB].read() as s:
        actor = await actor_repo.get_local_by_handle(s, handle)
    if actor is None or actor.deleted_at is not None:
        raise Problem(404, "Not Found", f"no organisation {handle!r} on this node")
    if _cross_site(request):
        raise Problem(403, "Forbidden", "reports are filed from this node's own pages")
    if media_type(request) not in ("application/x-www-form-urlencoded", ""):
        raise Problem(415, "Unsupported Media Type", "the form is sent url-encoded")
    body = await read_body(request, MAX_REPORT_BYTES)
    form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    values = {k: (form.get(k) or [""])[0] for k in ("object", "reason", "text")}
    wait = _wait(request)
    if wait:
        return await organisation_page(request, actor, status=429, report_form={
            "values": values, "error_field": "rate", "error": "rate"})
    try:
        data = report_domain.parse_report(values)
        async with request.app[DB].write() as s:
            await report_domain.file_report(s, data, organisation_id=actor.id)
    except InvalidInput as exc:
        return await organisation_page(request, actor, status=422, report_form={
            "values": values, "error_field": exc.field, "error": exc.field})
    except report_domain.TooManyOpen:
        return await organisation_page(request, actor, status=429, report_form={
            "values": values, "error_field": "full", "error": "full"})
    return see_other(f"/actors/{actor.handle}?reported=1#report-title")


# -- the reviewers' API (a reviewer's token or the admin token) -----------------------------

async def api_list_reports(request: web.Request) -> web.Response:
    """GET /api/reports[?all=true][&limit=N] (a reviewer or the admin): open reports (or
    all), newest first."""
    await reviewer_or_admin(request)
    include_handled = request.query.get("all", "").lower() in ("1", "true", "yes")
    limit = query_int(request, "limit", MAX_LISTED)
    if limit < 1:
        raise InvalidInput("limit", "must be a positive integer")
    async with request.app[DB].read() as s:
        items = await report_domain.listing(s, include_handled=include_handled,
                                            limit=min(limit, MAX_LISTED))
    return web.json_response({"items": items, "total": len(items)})


async def api_handle_report(request: web.Request) -> web.Response:
    """POST /api/reports/{id}/handle (admin) [{"note": "…", "by": "…"}]: the report is
    handled (it leaves the organisation's page); 404 unknown, 409 already handled. A
    reviewer's token makes the reviewer the one who handled it."""
    who = await reviewer_or_admin(request)
    ident = whole_number(request.match_info["id"], "id", status=404)
    body: Any = {}
    if request.can_read_body:
        raw = await read_body(request, MAX_REPORT_BYTES)
        if raw.strip():
            require_json_type(request)
            body = parse_json(request, raw)
    if not isinstance(body, dict):
        raise InvalidInput("body", "expected a JSON object (note, by)")
    note, by = body.get("note"), body.get("by", who)
    if note is not None and not isinstance(note, str):
        raise InvalidInput("note", "must be a string")
    if not isinstance(by, str):
        raise InvalidInput("by", "must be a string")
    async with request.app[DB].write() as s:
        report, actor = await report_domain.handle(s, ident, note=note, by=by)
        result = report_domain.report_json(report, actor)
    return web.json_response(result)


def setup(app: web.Application) -> None:
    app[REPORT_LIMITER] = RateLimiter(app[CONFIG].reports.requests_per_minute)
    app.router.add_post("/api/reports", api_file_report)
    app.router.add_get("/api/reports", api_list_reports)
    app.router.add_post("/api/reports/{id}/handle", api_handle_report)
    app.router.add_post("/actors/{handle}/reports", form_report)
