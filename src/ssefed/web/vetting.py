"""Participatory validation on the web: the public objects other nodes fetch (charters,
applications and their endorsements, endorsements, decisions) and the reviewers' JSON API
(pending applications, their endorsements by college, decide, confirm colleges, resolve
objections), authenticated with a reviewer's token or the admin token."""

from __future__ import annotations

import hmac
from typing import Any

from aiohttp import web

from ssefed.db.models import Actor, Application
from ssefed.db.repos import activities as activity_repo
from ssefed.db.repos import actors as actor_repo
from ssefed.db.repos import remote as remote_repo
from ssefed.db.repos import vetting as repo
from ssefed.domain import applications, tokens
from ssefed.domain.errors import InvalidInput
from ssefed.domain.vetting import college as check_college, text
from ssefed.vocab import to_as, vetting_as
from ssefed.vocab.vetting_as import COLLEGES, STANCES
from ssefed.web.activitypub import as_json
from ssefed.web.keys import CONFIG, DB, DELIVERY_WAKE, FEDERATION, IDS
from ssefed.web.problems import Problem, query_int, read_json, whole_number
from ssefed.federation import vetting as fed_vetting
from ssefed.domain.reminders import stale_items, today_utc

PAGE = 50


def _iri(request: web.Request) -> str:
    return request.app[CONFIG].node.base_url + request.path


# -- public objects ------------------------------------------------------------------------
async def charter(request: web.Request) -> web.Response:
    slug, version = request.match_info["slug"], request.match_info.get("version")
    async with request.app[DB].read() as s:
        network = await actor_repo.get_network(s)
        if version is None:
            row = await repo.latest_charter(s, network.ap_id, slug)
        else:
            row = await repo.charter_by_iri(s, request.app[IDS].charter(
                slug, whole_number(version, "version", status=404)))
    if row is None or not row.local:
        raise Problem(404, "Not Found", f"no charter {slug!r} here")
    return as_json(vetting_as.charter_document(row, network.ap_id))


async def charters(request: web.Request) -> web.Response:
    async with request.app[DB].read() as s:
        network = await actor_repo.get_network(s)
        rows = [c for c in await repo.charters_of(s, network.ap_id) if c.local]
    iri = _iri(request)
    items = [vetting_as.charter_document(c, network.ap_id) for c in rows]
    doc = to_as.ordered_collection(iri, len(items), None)
    doc["@context"], doc["orderedItems"] = vetting_as.CONTEXT, [
        to_as.strip_context(i) for i in items]
    return as_json(doc)


async def _application(request: web.Request) -> tuple[Application, Actor]:
    iri = request.app[CONFIG].node.base_url + f"/applications/{request.match_info['id']}"
    async with request.app[DB].read() as s:
        app = await repo.application(s, ap_id=iri)
        applicant = await s.get(Actor, app.applicant_id) if app else None
    if app is None or applicant is None:
        raise Problem(404, "Not Found", "no such application")
    return app, applicant


async def application(request: web.Request) -> web.Response:
    app, applicant = await _application(request)
    async with request.app[DB].read() as s:
        total = await repo.count_endorsements(s, app.ap_id)
    return as_json(vetting_as.application_document(app, applicant.ap_id,
                                                      endorsements_total=total))


async def application_endorsements(request: web.Request) -> web.Response:
    """The endorsements collection of an application: each endorsement as its endorser
    signed it (those of Mastodon likes and replies by their IRI)."""
    app, _ = await _application(request)
    async with request.app[DB].read() as s:
        rows = await repo.endorsements_of(s, app.ap_id)
    items = [to_as.strip_context(e.ap_json) if e.ap_json and "proof" not in e.ap_json
             else e.ap_json or e.ap_id for e in rows[:500]]
    doc = to_as.ordered_collection(f"{app.ap_id}/endorsements", len(rows), None)
    doc["@context"], doc["orderedItems"] = vetting_as.CONTEXT, items
    return as_json(doc)


async def endorsement(request: web.Request) -> web.Response:
    async with request.app[DB].read() as s:
        row = await repo.endorsement(s, _iri(request))
    if row is None or row.verified != "local" or row.ap_json is None:
        raise Problem(404, "Not Found", "no endorsement issued here with this IRI")
    if row.withdrawn_at is not None:
        raise Problem(410, "Gone", "this endorsement was replaced by a newer one")
    return as_json(row.ap_json)


async def decision(request: web.Request) -> web.Response:
    async with request.app[DB].read() as s:
        row = await activity_repo.by_ap_id(s, _iri(request))
    if row is None or not row.public:
        raise Problem(404, "Not Found", "no such decision")
    return as_json(row.ap_json)


# -- reviewers' API ------------------------------------------------------------------------
async def reviewer_or_admin(request: web.Request) -> str:
    """Who acts: a reviewer (its actor IRI) by its token, or the admin ('admin')."""
    given = request.headers.get("Authorization", "")
    if not given.startswith("Bearer "):
        raise Problem(401, "Unauthorized", "a reviewer's token (ssefed reviewer add) or the "
                                           "admin token is required")
    token = given[7:].strip()
    admin = request.app[CONFIG].admin.token
    if admin and hmac.compare_digest(token.encode(), admin.encode()):
        return "admin"
    async with request.app[DB].write() as s:
        actor = await tokens.actor_for(s, token)
        if actor is None:
            raise Problem(401, "Unauthorized", "unknown or revoked token")
        if await repo.reviewer(s, actor.id) is None:
            raise Problem(403, "Forbidden", f"@{actor.handle} is not a reviewer of this network")
    return actor.ap_id


async def application_json(s, config, app: Application, applicant: Actor, *,
                           full: bool) -> dict[str, Any]:
    result, vs = await applications.verdict(s, config, app)
    out: dict[str, Any] = {
        "id": app.id, "iri": app.ap_id, "state": app.state,
        "applicant": {"id": applicant.ap_id, "name": applicant.name,
                      "local": applicant.local},
        "charter": app.charter_ap_id, "created": to_as.iso(app.created_at),
        "valid_until": app.valid_until.isoformat() if app.valid_until else None,
        "decision": app.decision_ap_id, "rule": result.to_json(),
    }
    if full:
        rows = {e.ap_id: e for e in await repo.endorsements_of(s, app.ap_id)}
        by_college: dict[str, list[dict[str, Any]]] = {c: [] for c in COLLEGES}
        by_college["unconfirmed"] = []
        for v in vs:
            e = rows.get(v.endorsement)
            entry = {**v.to_json(), "id": e.id if e else None,
                     "content": e.content if e else "", "declared": e.college if e else None,
                     "how_verified": e.verified if e else None}
            by_college[v.college or "unconfirmed"].append(entry)
        out["answers"] = app.answers
        out["endorsements_by_college"] = by_college
    return out


async def applications_json(s, config, states: tuple[str, ...]) -> list[dict[str, Any]]:
    """The applications to this node's network in ``states``, as reviewers list them."""
    network = await actor_repo.get_network(s)
    return [await application_json(s, config, a, b, full=False)
            for a, b in await repo.applications(s, network.ap_id, states)]


async def review_applications(request: web.Request) -> web.Response:
    await reviewer_or_admin(request)
    states = tuple(request.query.get("state", "pending,needs_more").split(","))
    async with request.app[DB].read() as s:
        items = await applications_json(s, request.app[CONFIG], states)
    return web.json_response({"applications": items, "total": len(items)})


async def _local_application(s, request: web.Request) -> tuple[Application, Actor]:
    ref = request.match_info["id"]
    app = await applications.application_ref(s, ref)
    if not app.local_network:
        raise Problem(404, "Not Found", "no application to this network with this number")
    return app, await s.get(Actor, app.applicant_id)


async def review_application(request: web.Request) -> web.Response:
    await reviewer_or_admin(request)
    async with request.app[DB].read() as s:
        app, applicant = await _local_application(s, request)
        return web.json_response(await application_json(s, request.app[CONFIG], app,
                                                         applicant, full=True))


async def review_decide(request: web.Request) -> web.Response:
    by = await reviewer_or_admin(request)
    body = await read_json(request, 64 * 1024)
    if not isinstance(body, dict):
        raise Problem(422, "Invalid input", "expected a JSON object", field="/")
    outcome = body.get("outcome")
    note = text(body.get("note"), "note")
    d = await applications.decide(request.app[DB], request.app[CONFIG], request.app[IDS],
                                  request.match_info["id"], str(outcome or ""), note=note, by=by)
    request.app[DELIVERY_WAKE]()
    return web.json_response({"decision": d.ap_id, "outcome": d.outcome,
                              "valid_until": d.valid_until.isoformat() if d.valid_until
                              else None}, status=201)


async def review_endorse(request: web.Request) -> web.Response:
    """A reviewer endorses (or objects to) an application with its own account."""
    by = await reviewer_or_admin(request)
    if by == "admin":
        raise Problem(403, "Forbidden", "endorse with a reviewer's token, not the admin's")
    body = await read_json(request, 64 * 1024)
    if not isinstance(body, dict):
        raise Problem(422, "Invalid input", "expected a JSON object", field="/")
    stance = body.get("stance", "endorse")
    if stance not in STANCES:
        raise InvalidInput("stance", f"expected one of {', '.join(STANCES)}")
    async with request.app[DB].read() as s:
        app, _ = await _local_application(s, request)
        actor = await remote_repo.get_actor(s, by)
        reviewer = await repo.reviewer(s, actor.id)
    fed = request.app[FEDERATION]
    r = await fed_vetting.endorse(fed, request.app[CONFIG], actor.handle, app.ap_id,
                                     stance=stance, college=reviewer.college,
                                     content=text(body.get("content"), "content"))
    request.app[DELIVERY_WAKE]()
    return web.json_response({"endorsement": r.facts.id}, status=201)


async def review_confirm(request: web.Request) -> web.Response:
    by = await reviewer_or_admin(request)
    body = await read_json(request, 64 * 1024)
    if not isinstance(body, dict) or not isinstance(body.get("endorser"), str):
        raise Problem(422, "Invalid input", "expected {endorser, college}", field="/endorser")
    row = await applications.confirm_college(
        request.app[DB], request.app[CONFIG], request.app[IDS], body["endorser"],
        check_college(body.get("college")), by)
    request.app[DELIVERY_WAKE]()
    return web.json_response({"endorser": row.ap_id, "college": row.college})


async def review_resolve(request: web.Request) -> web.Response:
    by = await reviewer_or_admin(request)
    body = await read_json(request, 64 * 1024)
    note = text((body or {}).get("note") if isinstance(body, dict) else None, "note",
                required=True)
    number = whole_number(request.match_info["id"], "id", status=404)
    row = await applications.resolve_objection(request.app[DB], request.app[CONFIG],
                                               request.app[IDS], number, note, by)
    request.app[DELIVERY_WAKE]()
    return web.json_response({"objection": row.id, "resolved": to_as.iso(row.resolved_at)})


async def review_endorsers(request: web.Request) -> web.Response:
    await reviewer_or_admin(request)
    async with request.app[DB].read() as s:
        rows = await repo.unconfirmed_endorsers(s)
    return web.json_response({"unconfirmed": [{"endorser": e.ap_id, "declared": e.declared}
                                              for e in rows]})


async def review_stale(request: web.Request) -> web.Response:
    """What expires soon (within ``days``, default [freshness] remind_days_before) and
    what has expired: validations and offers, as ``ssefed stale`` lists them."""
    await reviewer_or_admin(request)
    config = request.app[CONFIG]
    days = query_int(request, "days", config.freshness.remind_days_before)
    if not 0 <= days <= 3660:
        raise Problem(422, "Invalid input", "days must be between 0 and 3660", field="days")
    items, cut = await stale_items(request.app[DB], days, today_utc())
    return web.json_response({"days": days, "items": items, "truncated": cut})


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/charters", charters)
    r.add_get("/charters/{slug}", charter)
    r.add_get(r"/charters/{slug}/v{version:\d+}", charter)
    r.add_get("/applications/{id}", application)
    r.add_get("/applications/{id}/endorsements", application_endorsements)
    r.add_get("/endorsements/{id}", endorsement)
    r.add_get("/decisions/{id}", decision)
    r.add_get("/api/review/applications", review_applications)
    r.add_get("/api/review/applications/{id}", review_application)
    r.add_post("/api/review/applications/{id}/decide", review_decide)
    r.add_post("/api/review/applications/{id}/endorse", review_endorse)
    r.add_post("/api/review/endorsers/confirm", review_confirm)
    r.add_get("/api/review/endorsers", review_endorsers)
    r.add_post("/api/review/objections/{id}/resolve", review_resolve)
    r.add_get("/api/review/stale", review_stale)
