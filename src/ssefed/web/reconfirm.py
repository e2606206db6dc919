"""Re-confirming from the web: ``POST /api/actors/{handle}/reconfirm`` (JSON, with the
organisation's bearer token) and the "Re-confirm" buttons of its /edit page. The
client-to-server form (an ``Update`` whose object is just an IRI) is in web/c2s.py. All
go through domain/reconfirm.py."""

from __future__ import annotations

from aiohttp import web

from ssefed.db.repos import actors as actor_repo
from ssefed.domain import reconfirm, reminders, tokens
from ssefed.domain.errors import DomainError
from ssefed.web.keys import CONFIG, DB, DELIVERY_WAKE, IDS
from ssefed.web.problems import Problem
from ssefed.web.edit import _checked, _checked_offer, _dashboard, _form
from ssefed.web.pages import see_other


def _bearer(request: web.Request) -> str:
    given = request.headers.get("Authorization", "")
    token = given[7:].strip() if given.startswith("Bearer ") else ""
    if not token:
        raise Problem(401, "Unauthorized", "the organisation's bearer token is required "
                                           "(Authorization: Bearer <token>; ssefed token "
                                           "create HANDLE)")
    return token


async def api_reconfirm(request: web.Request) -> web.Response:
    """POST /api/actors/{handle}/reconfirm: the organisation re-confirms its validation and
    all its current offers as they are. 401 without a live token, 403 with another
    actor's, 404 for an unknown organisation, 409 when it has no validation to extend."""
    token = _bearer(request)
    handle = request.match_info["handle"]
    async with request.app[DB].write() as s:
        target = await actor_repo.get_local_by_handle(s, handle)
        if target is None or target.deleted_at is not None or target.is_network:
            raise Problem(404, "Not Found", f"no organisation @{handle} on this node")
        actor = await tokens.actor_for(s, token)
    if actor is None:
        raise Problem(401, "Unauthorized", "unknown or revoked token")
    if actor.id != target.id:
        raise Problem(403, "Forbidden", f"this token is not @{handle}'s: an organisation "
                                        "re-confirms only itself")
    config = request.app[CONFIG]
    done = await reconfirm.reconfirm_organisation(
        request.app[DB], request.app[IDS], config.node.base_url, target, config.freshness,
        today=reminders.today_utc())
    request.app[DELIVERY_WAKE]()
    return web.json_response(done.as_json())


async def edit_reconfirm(request: web.Request) -> web.Response:
    """POST /edit/reconfirm: the signed-in organisation re-confirms everything as it is."""
    form = await _form(request)
    db = request.app[DB]
    async with db.read() as s:
        session, refusal = await _checked(request, s, form)
    if refusal is not None:
        return refusal
    config = request.app[CONFIG]
    try:
        await reconfirm.reconfirm_organisation(db, request.app[IDS], config.node.base_url,
                                               session.actor, config.freshness,
                                               today=reminders.today_utc())
    except DomainError as exc:
        async with db.read() as s:
            return await _dashboard(request, s, session, status=exc.status,
                                    alert=f"Re-confirmation refusée / Re-confirmation "
                                          f"refused: {exc}")
    request.app[DELIVERY_WAKE]()
    return see_other("/edit?done=reconfirmed")


async def edit_reconfirm_offer(request: web.Request) -> web.Response:
    """POST /edit/offers/{offer}/reconfirm: one offer or demand re-confirmed as it is."""
    form = await _form(request)
    db = request.app[DB]
    async with db.read() as s:
        session, offer, refusal = await _checked_offer(request, s, form)
    if refusal is not None:
        return refusal
    await reconfirm.reconfirm_offer(db, session.actor, offer.ap_id,
                                    request.app[CONFIG].freshness, today=reminders.today_utc())
    request.app[DELIVERY_WAKE]()
    return see_other("/edit?done=offer_reconfirmed")


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/actors/{handle}/reconfirm", api_reconfirm)
    app.router.add_post("/edit/reconfirm", edit_reconfirm)
    app.router.add_post("/edit/offers/{offer}/reconfirm", edit_reconfirm_offer)
