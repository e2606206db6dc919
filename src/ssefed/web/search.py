"""The directory search as JSON: GET /api/search."""

from __future__ import annotations

from aiohttp import web

from ssefed.domain.search import SearchIndex, parse_search
from ssefed.web.keys import DB

SEARCH = web.AppKey("search", SearchIndex)
MULTI = ("sector", "qualifier", "category", "structure")


def params_of(request: web.Request) -> dict:
    params: dict = {k: v for k, v in request.query.items() if k not in MULTI}
    for key in MULTI:
        values = request.query.getall(key, [])
        if values:
            params[key] = values
    return params


async def api_search(request: web.Request) -> web.Response:
    """GET /api/search?q=&type=&sector=&legal_form=&qualifier=&direction=&kind=&market=
    &category=&validated_only=&fresh_only=&near=LAT,LON&radius_km=&limit=&cursor="""
    query = parse_search(params_of(request))
    result = await request.app[SEARCH].search(query)
    return web.json_response(result, headers={"Access-Control-Allow-Origin": "*"})


def setup(app: web.Application) -> None:
    app[SEARCH] = SearchIndex(app[DB])
    app.router.add_get("/api/search", api_search)
