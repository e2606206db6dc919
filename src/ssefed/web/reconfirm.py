"""Re-confirming from the web: ``POST /api/actors/{handle}/reconfirm`` (JSON, with the
organisation's bearer token) and the "Re-confirm" buttons of its /edit page. The
client-to-server form (an ``Update`` whose object is just an IRI) is in web/c2s.py. All
go through domain/reconfirm.py."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ssefed.db.models import Actor, Offer, Organisation
from ssefed.db.repos import actors as actor_repo
from ssefed.db.repos import freshness as fresh_repo
from ssefed.domain import freshness, reconfirm, reminders, tokens
from ssefed.domain.errors import DomainError
from ssefed.web.keys import CONFIG, DB, DELIVERY_WAKE, IDS
from ssefed.web.problems import Problem


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


async def freshness_view(s, actor: Actor, org: Organisation, offers: list[Offer],
                         days: int) -> dict[str, Any]:
    """What the /edit page shows of freshness: the validation, each offer's state, and the
    network's reminders not yet answered (those still about the current end dates)."""
    today = reminders.today_utc()
    ends = {o.ap_id: o for o in offers}
    notes = []
    for r in await fresh_repo.open_reminders(s, actor.id):
        if r.subject_type == "validation":
            current = r.subject == actor.ap_id and org.valid_until == r.valid_until
            kind = "validation"
        else:
            offer = ends.get(r.subject)
            current = offer is not None and offer.valid_until == r.valid_until
            kind = offer.direction if offer is not None else "offer"
        if current:
            item = reminders.Item(kind, r.subject, r.title, r.valid_until)
            notes.append({"sent": r.sent_at.date(), "fr": reminders.describe(item, today, "fr"),
                          "en": reminders.describe(item, today, "en")})
    return {"guarantee": freshness.guarantee(org.validation_status, org.valid_until, today),
            "reconfirmable": org.validation_status in ("validated", "expired"),
            "offers": {o.ap_id: freshness.state_of(o.valid_until, today, days) for o in offers},
            "reminders": notes}


async def edit_reconfirm(request: web.Request) -> web.Response:
    """POST /edit/reconfirm: the signed-in organisation re-confirms everything as it is."""
    from ssefed.web.edit import _checked, _dashboard, _form, _see_other

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
    return _see_other("/edit?done=reconfirmed")


async def edit_reconfirm_offer(request: web.Request) -> web.Response:
    """POST /edit/offers/{offer}/reconfirm: one offer or demand re-confirmed as it is."""
    from ssefed.web.edit import _checked, _form, _own_offer, _page, _see_other

    form = await _form(request)
    db = request.app[DB]
    async with db.read() as s:
        session, refusal = await _checked(request, s, form)
        if refusal is not None:
            return refusal
        offer = await _own_offer(request, s, session)
    if offer is None:
        return _page(request, "edit_signin.html", status=404, session=session,
                     error="Pas d'offre de votre organisation à cette adresse. / No offer of "
                           "your organisation here.")
    await reconfirm.reconfirm_offer(db, session.actor, offer.ap_id,
                                    request.app[CONFIG].freshness, today=reminders.today_utc())
    request.app[DELIVERY_WAKE]()
    return _see_other("/edit?done=offer_reconfirmed")


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/actors/{handle}/reconfirm", api_reconfirm)
