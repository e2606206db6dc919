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
    app.router.add_get("/api/match", api_match)
    app.router.add_get("/api/gaps", api_gaps)


async def api_match(request: web.Request) -> web.Response:
    """GET /api/match?for=IRI[&limit=K][&radius_km=R]: offers for a demand (or for the
    inputs of an organisation), demands for an offer."""
    from ssefed.domain.errors import InvalidInput
    from ssefed.domain.matching import matches

    iri = request.query.get("for", "")
    if not iri.startswith(("http://", "https://")):
        raise InvalidInput("for", "the IRI of an offer, a demand or an organisation")
    try:
        limit = int(request.query.get("limit", "10"))
        radius = float(request.query["radius_km"]) if request.query.get("radius_km") else None
    except ValueError:
        raise InvalidInput("limit" if "limit" in request.query else "radius_km",
                           "must be a number") from None
    await request.app[SEARCH].fresh()
    return web.json_response(await matches(request.app[DB], iri, limit=limit, radius_km=radius))


async def api_gaps(request: web.Request) -> web.Response:
    """GET /api/gaps?near=LAT,LON&radius_km=R: what the territory lacks."""
    from ssefed.domain.errors import InvalidInput
    from ssefed.domain.matching import gaps

    query = parse_search({"near": request.query.get("near"),
                          "radius_km": request.query.get("radius_km")})
    if "radius_km" not in query.filters:
        raise InvalidInput("near" if "near" not in query.filters else "radius_km",
                           "a territory is near=LAT,LON and radius_km=R")
    await request.app[SEARCH].fresh()
    return web.json_response(await gaps(request.app[DB], near=query.filters["near"],
                                        radius_km=query.filters["radius_km"]))
