"""The directory search (GET /api/search, /search), matching and gaps (/api/match,
/api/gaps, /gaps)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import AsyncIterator
from urllib.parse import urlencode

from aiohttp import web

from ssefed.domain import categories
from ssefed.domain import reports as report_domain
from ssefed.domain.errors import InvalidInput
from ssefed.domain.matching import gaps, matches
from ssefed.domain.search import FACET_BY_NAME, FACETS, parse_search
from ssefed.domain.search_projection import SearchProjection
from ssefed.web import i18n
from ssefed.web.keys import CONFIG, DB
from ssefed.web.pages import render
from ssefed.web.problems import query_int
from ssefed.web.svgmap import MapPoint, svg_map

SEARCH = web.AppKey("search", SearchProjection)
log = logging.getLogger(__name__)
MULTI = ("sector", "qualifier", "category", "structure")


def params_of(request: web.Request) -> dict:
    params: dict = {k: v for k, v in request.query.items() if k not in MULTI}
    if params.get("limit"):  # a plain integer (400), then the search's own range (422)
        params["limit"] = query_int(request, "limit")
    for key in MULTI:
        values = request.query.getall(key, [])
        if values:
            params[key] = values
    return params


async def api_search(request: web.Request) -> web.Response:
    """GET /api/search?q=&type=&sector=&legal_form=&qualifier=&direction=&kind=&market=
    &accessible_premises=&category=&validated_only=&fresh_only=&near=LAT,LON&radius_km=&limit=&cursor="""
    query = parse_search(params_of(request))
    result = await request.app[SEARCH].search(query)
    await _with_open_reports(request, result["items"])
    return web.json_response(result, headers={"Access-Control-Allow-Origin": "*"})


async def _with_open_reports(request: web.Request, items: list[dict]) -> None:
    """Local organisations carry ``openReports``: reports of wrong or outdated
    information not yet handled by the network."""
    iris = [i["id"] for i in items if i.get("local") and i.get("type") == "Organization"]
    if not iris:
        return
    async with request.app[DB].read() as s:
        counts = await report_domain.open_counts(s, iris)
    for item in items:
        if item["id"] in counts:
            item["openReports"] = counts[item["id"]]


def _report_failed_load(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("search projection not loaded at start: %r", task.exception())


async def _loaded_early(app: web.Application) -> AsyncIterator[None]:
    """The projection loads as the node starts, not at its first search (which waits for
    it either way; a load that fails is tried again by that search)."""
    task = asyncio.create_task(app[SEARCH].fresh())
    task.add_done_callback(_report_failed_load)
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


def setup(app: web.Application) -> None:
    app[SEARCH] = SearchProjection(app[DB], trust=app[CONFIG].chains)
    app.cleanup_ctx.append(_loaded_early)
    app.router.add_get("/api/search", api_search)
    app.router.add_get("/api/match", api_match)
    app.router.add_get("/api/gaps", api_gaps)
    app.router.add_get("/search", search_page)
    app.router.add_get("/gaps", gaps_page)


async def api_match(request: web.Request) -> web.Response:
    """GET /api/match?for=IRI[&limit=K][&radius_km=R]: offers for a demand (or for the
    inputs of an organisation), demands for an offer."""
    iri = request.query.get("for", "")
    if not iri.startswith(("http://", "https://")):
        raise InvalidInput("for", "the IRI of an offer, a demand or an organisation")
    limit = query_int(request, "limit", 10)
    try:
        radius = float(request.query["radius_km"]) if request.query.get("radius_km") else None
    except ValueError:
        raise InvalidInput("radius_km", "must be a number") from None
    return web.json_response(await matches(request.app[SEARCH], iri, limit=limit,
                                           radius_km=radius))


async def api_gaps(request: web.Request) -> web.Response:
    """GET /api/gaps?near=LAT,LON&radius_km=R: what the territory lacks."""
    query = parse_search({"near": request.query.get("near"),
                          "radius_km": request.query.get("radius_km")})
    if "radius_km" not in query.filters:
        raise InvalidInput("near" if "near" not in query.filters else "radius_km",
                           "a territory is near=LAT,LON and radius_km=R")
    return web.json_response(await gaps(request.app[SEARCH], near=query.filters["near"],
                                        radius_km=query.filters["radius_km"]))


async def search_page(request: web.Request) -> web.Response:
    """The directory for people: filters, results (with a map), facets, next page."""
    lang = i18n.negotiate(request)
    params = {k: v for k, v in params_of(request).items() if k != "lang" and v not in ("", [])}
    result, error = None, None
    try:
        query = parse_search(params)
    except InvalidInput as exc:
        error = f"{exc.field}: {exc.message}"
    else:
        result = await request.app[SEARCH].search(query)
    next_url = None
    if result and result["next"]:
        kept = [(k, v) for k, v in request.query.items() if k != "cursor"]
        next_url = f"/search?{urlencode(kept + [('cursor', result['next'])])}"

    points = [MapPoint(i["location"]["lat"], i["location"]["lon"], i["name"], i["id"],
                       kind="organisation" if i["type"] == "Organization" else "offer")
              for i in (result or {}).get("items", []) if i.get("location")]
    map_svg = svg_map(points, title="Carte des résultats" if lang == "fr"
                      else "Map of the results", id_prefix="results") if points else None
    codes = sorted(categories.known_codes())
    options = [(c, categories.label(categories.CATEGORY_NS + c, lang)) for c in codes]
    return render(request, "search.html", status=422 if error else 200, lang=lang,
                  p=dict(request.query), result=result, error=error, next_url=next_url,
                  category_options=sorted(options, key=lambda o: o[1]),
                  facets=FACETS, facet_by_name=FACET_BY_NAME, map_svg=map_svg)


async def gaps_page(request: web.Request) -> web.Response:
    lang = i18n.negotiate(request)
    found, error = None, None
    if request.query.get("near"):
        try:
            f = parse_search({"near": request.query.get("near"),
                              "radius_km": request.query.get("radius_km") or "30"}).filters
            found = await gaps(request.app[SEARCH], near=f["near"], radius_km=f["radius_km"])
        except InvalidInput as exc:
            error = f"{exc.field}: {exc.message}"
    return render(request, "gaps.html", status=422 if error else 200, lang=lang,
                  p=dict(request.query), gaps=found, error=error)
