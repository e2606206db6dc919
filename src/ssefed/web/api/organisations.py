"""JSON API for organisations: public listing; creation by the admin (bearer token)."""

from __future__ import annotations

import hmac
from datetime import date

from aiohttp import web

from ssefed.db.repos import offers as offer_repo
from ssefed.db.repos import organisations as org_repo
from ssefed.db.models import Organisation
from ssefed.db.repos import actors as actor_repo
from ssefed.domain import offers as offer_domain
from ssefed.domain import organisations as org_domain
from ssefed.domain import reports as report_domain
from ssefed.domain.publishing import add_offer
from ssefed.domain.categories import to_code
from ssefed.domain.errors import InvalidInput
from ssefed.web.keys import CONFIG, DB, DELIVERY_WAKE, IDS, WORKER
from ssefed.web.problems import Problem, query_int, read_json


def require_admin(request: web.Request) -> None:
    token = request.app[CONFIG].admin.token
    if not token:
        raise Problem(403, "Forbidden", "the admin API is disabled: set [admin] token")
    given = request.headers.get("Authorization", "")
    if not given.startswith("Bearer ") or not hmac.compare_digest(given[7:].encode(),
                                                                   token.encode()):
        raise Problem(401, "Unauthorized", "a valid admin bearer token is required")


def organisation_json(actor, org) -> dict:
    return {
        "id": actor.ap_id, "handle": actor.handle, "name": actor.name, "summary": actor.summary,
        "legal_form": org.legal_form, "sectors": org.sectors, "qualifiers": org.qualifiers,
        "location": None if org.lat is None else {"lat": org.lat, "lon": org.lon},
        "address": org.address, "postal_code": org.postal_code, "locality": org.locality,
        "country": org.country, "website": org.website,
        "accessible_premises": org.accessible_premises,
        "validation_status": org.validation_status,
        "valid_until": org.valid_until.isoformat() if org.valid_until else None,
    }


def offer_json(offer) -> dict:
    return {
        "id": offer.ap_id, "direction": offer.direction, "kind": offer.kind, "role": offer.role,
        "exchange": offer.exchange, "category": to_code(offer.category),
        "inputs": [to_code(i.category) for i in offer.inputs], "title": offer.title,
        "summary": offer.summary,
        "quantity": None if offer.quantity is None else float(offer.quantity),
        "unit": offer.unit, "price": None if offer.price is None else float(offer.price),
        "currency": offer.currency,
        "valid_until": offer.valid_until.isoformat() if offer.valid_until else None,
    }


async def list_organisations(request: web.Request) -> web.Response:
    limit = min(500, max(1, query_int(request, "limit", 100)))
    offset = max(0, query_int(request, "offset", 0))
    async with request.app[DB].read() as s:
        rows = await org_repo.list_local(s, limit=limit, offset=offset)
        offers = await offer_repo.by_actors(s, [actor.id for actor, _ in rows])
        reported = await report_domain.open_counts(s, [actor.ap_id for actor, _ in rows])
        items = []
        for actor, org in rows:
            item = organisation_json(actor, org)
            item["offers"] = [offer_json(o) for o in offers.get(actor.id, [])]
            item["openReports"] = reported.get(actor.ap_id, 0)
            items.append(item)
    return web.json_response({"items": items, "limit": limit, "offset": offset})


async def create_organisation(request: web.Request) -> web.Response:
    require_admin(request)
    config = request.app[CONFIG]
    data = org_domain.parse_organisation(
        await read_json(request, config.federation.max_body_bytes))
    async with request.app[DB].write() as s:
        actor = await org_domain.create(s, request.app[IDS], config.node.domain, data)
        org = await s.get(org_domain.Organisation, actor.id)
        body = organisation_json(actor, org)
    request.app[WORKER].wake()
    return web.json_response(body, status=201, headers={"Location": actor.ap_id})


async def create_offer(request: web.Request) -> web.Response:
    """POST /api/offers (admin): {"org": HANDLE, ...offer fields}; federates a Create."""
    require_admin(request)
    config = request.app[CONFIG]
    body = await read_json(request, config.federation.max_body_bytes)
    if not isinstance(body, dict) or not isinstance(body.get("org"), str):
        raise Problem(422, "Invalid input", "the handle of the organisation is required",
                      field="org")
    data = offer_domain.parse_offer(body)
    if body.get("valid_until") is not None:  # else: its kind's period ([freshness])
        try:
            data.valid_until = date.fromisoformat(str(body["valid_until"]))
        except ValueError:
            raise InvalidInput("valid_until", "not a date (YYYY-MM-DD)") from None
    async with request.app[DB].write() as s:
        actor = await actor_repo.get_local_by_handle(s, body["org"])
        org = await s.get(Organisation, actor.id) if actor is not None else None
        if actor is None or org is None or actor.deleted_at is not None:
            raise Problem(422, "Invalid input", f"no organisation {body['org']!r} here",
                          field="org")
        offer = await add_offer(s, request.app[IDS], actor, data, lat=org.lat, lon=org.lon,
                                validity_days=config.freshness.offer_validity_days)
        result = offer_json(offer)  # its inputs are those just stored (offer_repo.add)
    request.app[WORKER].wake()
    request.app[DELIVERY_WAKE]()
    return web.json_response(result, status=201, headers={"Location": result["id"]})
