"""Supply chains on the web: the JSON API, the pages a consumer reads, and the peer
API (version 1) other nodes ask during their live fan-out."""

from __future__ import annotations

import time
from urllib.parse import urlencode, urlsplit

from aiohttp import web

from ssefed.domain import categories
from ssefed.domain import chains as chain_domain
from ssefed.domain.errors import InvalidInput
from ssefed.federation.chainsearch import ChainService, peer_answer
from ssefed.federation.inbound import Refusal
from ssefed.federation.signedget import verify_get
from ssefed.web.activitypub import INBOX
from ssefed.web import i18n
from ssefed.web.clients import client_address
from ssefed.web.keys import CONFIG
from ssefed.web.pages import render
from ssefed.web.problems import Problem, problem, query_int, whole_number

CHAINS = web.AppKey("chains", ChainService)
PEER_LIMITER = web.AppKey("peer_limiter", object)
PEER_API_PATH = "/api/peer/v1/offers"
MAX_PEER_CATEGORIES = 20

ROLE_LABELS = {"production": ("production", "production"),
               "transformation": ("transformation", "processing"),
               "distribution": ("distribution", "distribution"),
               "service": ("service", "service")}


class RateLimiter:
    """A token bucket per peer host: ``per_minute`` requests, bursts of as many."""

    def __init__(self, per_minute: int) -> None:
        self.rate, self.capacity = per_minute / 60.0, float(per_minute)
        self.buckets: dict[str, tuple[float, float]] = {}

    def allow(self, key: str) -> float:
        """0 when allowed, else the seconds to wait."""
        now = time.monotonic()
        tokens, at = self.buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - at) * self.rate)
        if tokens < 1.0:
            self.buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate
        if len(self.buckets) > 10_000:
            self.buckets.clear()
        self.buckets[key] = (tokens - 1.0, now)
        return 0.0


def _query(request: web.Request) -> chain_domain.ChainQuery:
    return chain_domain.parse_query(dict(request.query),
                                    max_hops_cap=request.app[CONFIG].chains.max_hops)


def _chain_urls(request: web.Request, result: dict) -> None:
    base = request.app[CONFIG].node.base_url
    params = [(k, v) for k, v in request.query.items() if k != "n"]
    for i, chain in enumerate(result["chains"], start=1):
        chain["url"] = f"{base}/chains/view?{urlencode(params + [('n', str(i))])}"


async def api_chains(request: web.Request) -> web.Response:
    """GET /api/chains?category=..&near=LAT,LON&radius_km=R&max_hops=N&guaranteed_only=..&limit=K"""
    query = _query(request)
    result = await request.app[CHAINS].query(query)
    _chain_urls(request, result)
    return web.json_response(result, headers={"Access-Control-Allow-Origin": "*"})


def _decorate(result: dict, lang: str) -> None:
    """Labels for the page: categories and roles in the reader's language, links in the
    order a consumer reads them (field to plate)."""
    i = 0 if lang == "fr" else 1
    for chain in result["chains"]:
        for link in chain["links"]:
            link["output_label"] = categories.label(link["output"], lang)
            link["input_labels"] = [categories.label(c, lang) for c in link["inputs"]]
            link["role_label"] = ROLE_LABELS.get(link["role"], (link["role"],) * 2)[i]
        chain["reading_order"] = list(reversed(chain["links"]))


async def chains_page(request: web.Request) -> web.Response:
    """The chains for a category, as a page a consumer can read (a form when no category)."""
    lang = i18n.negotiate(request)
    result, error, query = None, None, None
    if request.query.get("category"):
        try:
            query = _query(request)
        except InvalidInput as exc:
            error = f"{exc.field}: {exc.message}"
        else:
            result = await request.app[CHAINS].query(query)
            _chain_urls(request, result)
            _decorate(result, lang)
    only = None
    if result is not None and "n" in request.query:
        n = whole_number(request.query["n"], "n", status=404)
        if not 1 <= n <= len(result["chains"]):
            raise Problem(404, "Not Found", "no such chain in this answer (it may have changed)")
        only = n
    return render(request, "chains.html", status=422 if error else 200, lang=lang,
                  result=result, error=error, query=query, only=only, params=dict(request.query),
                  category_label=categories.label(query.category, lang) if query else "")


def _too_many(config, wait: float) -> web.Response:
    return problem(429, "Too Many Requests", f"at most "
                   f"{config.chains.peer_requests_per_minute} chain questions per minute",
                   retry_after=int(wait) + 1)


async def peer_offers(request: web.Request) -> web.Response:
    """Peer API v1: the offers this node holds that output these categories near a place.
    Signed GET only; rate-limited per host; public data only."""
    config = request.app[CONFIG]
    # a budget per address before any signature work (an unknown key costs a fetch)
    wait = request.app[PEER_LIMITER].allow(f"ip:{client_address(request)}")
    if wait:
        return _too_many(config, wait)
    url = config.node.base_url + request.raw_path  # rebuilt from base_url (as signed, undecoded)
    try:
        owner = await verify_get(request.app[INBOX], url, request.headers)
    except Refusal as refusal:
        raise Problem(refusal.status, refusal.title, refusal.detail) from None
    host = urlsplit(owner).netloc.lower()
    if await request.app[CHAINS].fed.is_blocked(host):
        raise Problem(403, "Forbidden", f"{host} is blocked on this node")
    wait = request.app[PEER_LIMITER].allow(host)
    if wait:
        return _too_many(config, wait)
    cats = request.query.getall("category", [])
    if not cats or len(cats) > MAX_PEER_CATEGORIES:
        raise InvalidInput("category", f"give 1 to {MAX_PEER_CATEGORIES} category IRIs")
    try:
        cats = [categories.to_iri(c) for c in dict.fromkeys(cats)]
    except ValueError as exc:
        raise InvalidInput("category", str(exc)) from None
    parsed = chain_domain.parse_query(
        {"category": cats[0], "near": request.query.get("near"),
         "radius_km": request.query.get("radius_km")}, max_hops_cap=config.chains.max_hops)
    limit = query_int(request, "limit", config.chains.peer_answer_max_offers)
    if limit < 1:
        raise InvalidInput("limit", "must be a positive integer")
    limit = min(limit, config.chains.peer_answer_max_offers)
    answer = await peer_answer(request.app[CHAINS], cats, near=parsed.near,
                               radius_km=parsed.radius_km, limit=limit, requester=host)
    return web.json_response(answer)


async def _close_claims(app: web.Application) -> None:
    await app[CHAINS].claims.close()  # fetches of peers' claims still running


def setup(app: web.Application, service: ChainService) -> None:
    app[CHAINS] = service
    app.on_cleanup.append(_close_claims)
    app[PEER_LIMITER] = RateLimiter(app[CONFIG].chains.peer_requests_per_minute)
    app.router.add_get("/api/chains", api_chains)
    app.router.add_get("/chains", chains_page)
    app.router.add_get("/chains/view", chains_page)
    app.router.add_get(PEER_API_PATH, peer_offers)
