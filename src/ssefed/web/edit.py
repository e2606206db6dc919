"""An organisation edits its own profile and offers in plain HTML forms, behind its token.

Signing in: the organisation's token (``ssefed token create H``, or the one its claim
link showed) is posted once to ``/edit/sign-in`` with the form's CSRF field; the node
opens a session on the server and answers with a session cookie ``ssefed_edit``
(HttpOnly, SameSite=Strict, Path=/edit, Secure when ``base_url`` is https, valid 8
hours): see web/sessions.py. Every request checks on the server that the session is open
and the token it was opened with still live (signing out or revoking the token ends it).
Every POST carries a CSRF field derived from the session: a form without it, or with
another session's, is refused with 403.

Every change goes through the domain services the CLI and client-to-server use
(validation, Create/Update/Delete to followers); invalid input re-renders the form with
the message next to the field, with status 422.
"""

from __future__ import annotations

import datetime as dt
import functools
import hmac
import re
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

from ssefed.db.models import Actor, Offer, Organisation
from ssefed.db.repos import offers as offer_repo
from ssefed.domain import offers as offer_domain
from ssefed.domain import organisations as org_domain
from ssefed.domain import reminders
from ssefed.domain import reports as report_domain
from ssefed.domain import tokens
from ssefed.domain.categories import CATEGORY_NS, to_code
from ssefed.domain.errors import InvalidInput
from ssefed.domain.publishing import add_offer, update_offer, withdraw_offer
from ssefed import terms
from ssefed.paths import SCHEMAS_DIR
from ssefed.web import sessions
from ssefed.web.keys import CONFIG, DB, DELIVERY_WAKE, IDS
from ssefed.web.pages import render, see_other
from ssefed.web.problems import read_body

MAX_FORM_BYTES = 64 * 1024
PROFILE_FIELDS = ("name", "summary", "website", "address", "postal_code", "locality",
                  "country", "lat", "lon", "sectors", "legal_form", "email", "phone")
OFFER_FIELDS = ("direction", "role", "kind", "category", "inputs", "title", "summary",
                "quantity", "unit", "price", "currency", "exchange", "valid_until")


# -- sessions (web/sessions.py) ----------------------------------------------------------

class Session:
    def __init__(self, actor: Actor, org: Organisation, csrf: str, sid: str) -> None:
        self.actor, self.org, self.csrf, self.sid = actor, org, csrf, sid


async def _session(request: web.Request, s) -> Session | None:
    """The signed-in organisation, when the cookie is genuine, its session open on the
    server and unexpired, and its token live."""
    sid = sessions.session_id(request)
    if sid is None:
        return None
    row = await tokens.session_token(s, sid)
    if row is None:
        return None
    actor = await s.get(Actor, row.actor_id)
    org = await s.get(Organisation, row.actor_id)
    if actor is None or org is None or not actor.local or actor.deleted_at is not None:
        return None
    return Session(actor, org, sessions.csrf(request, sid), sid)


async def _form(request: web.Request) -> dict[str, list[str]]:
    body = await read_body(request, MAX_FORM_BYTES)
    return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)


def _one(form: dict[str, list[str]], key: str) -> str:
    return (form.get(key) or [""])[0].strip()


def _page(request: web.Request, name: str, status: int = 200, **context: Any) -> web.Response:
    """An editing page, never cached (the security headers are every page's: app.py).
    The sign-in form gets its CSRF field, and the cookie that goes with it."""
    nonce = None
    if name == "edit_signin.html":
        nonce = sessions.sign_in_nonce(request)
        context["sign_in_csrf"] = sessions.sign_in_field(request, nonce)
    response = render(request, name, status=status, **context)
    response.headers["Cache-Control"] = "no-store"
    if nonce is not None:
        sessions.set_sign_in_cookie(request, response, nonce)
    return response


def _refused(request: web.Request, status: int, message: str) -> web.Response:
    return _page(request, "edit_signin.html", status=status, error=message)


async def _checked(request: web.Request, s, form: dict[str, list[str]]):
    """The session of a POST, or the refusal to answer (no session: 403; no CSRF: 403)."""
    session = await _session(request, s)
    if session is None:
        return None, _refused(request, 403, "Session absente ou expirée : reconnectez-vous. / "
                                            "No session, or it expired: sign in again.")
    if not hmac.compare_digest(_one(form, "csrf"), session.csrf):
        return None, _page(request, "edit_signin.html", status=403,
                           error="Formulaire refusé (jeton CSRF absent ou faux). / Form "
                                 "refused (missing or wrong CSRF token).")
    return session, None


# -- the taxonomy, for the category select -----------------------------------------------------

@functools.lru_cache(maxsize=1)
def category_choices() -> list[tuple[str, str]]:
    """(code, "French label / English label") of the shipped taxonomy, in file order."""
    text = (SCHEMAS_DIR / "taxonomies" / "categories.ttl").read_text(encoding="utf-8")
    out = []
    for block in text.split("\n\n"):
        code = re.search(r'skos:notation\s+"([^"]+)"', block)
        fr = re.search(r'skos:prefLabel\s+"([^"]+)"@fr', block)
        en = re.search(r'"([^"]+)"@en', block.split("skos:prefLabel", 1)[-1])
        if code and fr:
            out.append((code.group(1), fr.group(1) + (f" / {en.group(1)}" if en else "")))
    return out


# -- pages -----------------------------------------------------------------------------------

def _profile_values(actor: Actor, org: Organisation) -> dict[str, str]:
    return {"name": actor.name, "summary": actor.summary, "website": org.website or "",
            "address": org.address, "postal_code": org.postal_code, "locality": org.locality,
            "country": org.country, "lat": "" if org.lat is None else repr(org.lat),
            "lon": "" if org.lon is None else repr(org.lon),
            "sectors": "; ".join(org.sectors or []), "legal_form": org.legal_form or "",
            "email": org.email or "", "phone": org.phone or "",
            "contact_public": "yes" if org.contact_public else "",
            "accessible_premises": "yes" if org.accessible_premises else ""}


async def _dashboard(request: web.Request, s, session: Session, *, status: int = 200,
                     values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
                     notice: str = "", alert: str = "") -> web.Response:
    offers = await offer_repo.by_actor(s, session.actor.id)
    reports = await report_domain.open_for(s, session.actor.id)
    return _page(request, "edit.html", status=status, session=session, reports=reports,
                 offer_titles={o.ap_id: o.title for o in offers},
                 values=values or _profile_values(session.actor, session.org),
                 errors=errors or {}, notice=notice, alert=alert, offers=offers,
                 to_code=to_code, legal_forms=org_domain.LEGAL_FORMS,
                 fresh=await reminders.freshness_summary(s, session.actor, session.org, offers,
                                            request.app[CONFIG].freshness.remind_days_before),
                 handle=f"@{session.actor.handle}@{request.app[CONFIG].node.domain}")


async def edit_home(request: web.Request) -> web.Response:
    async with request.app[DB].read() as s:
        session = await _session(request, s)
        if session is None:
            return _page(request, "edit_signin.html")
        notice = {"profile": "Profil enregistré. / Profile saved.",
                  "offer": "Offre enregistrée. / Offer saved.",
                  "withdrawn": "Offre retirée. / Offer withdrawn.",
                  "reconfirmed": "Informations re-confirmées : la validation et les offres "
                                 "sont prolongées. / Information re-confirmed: the "
                                 "validation and the offers are extended.",
                  "offer_reconfirmed": "Offre re-confirmée. / Offer re-confirmed."}.get(
            request.query.get("done", ""), "")
        return await _dashboard(request, s, session, notice=notice)


async def sign_in(request: web.Request) -> web.Response:
    form = await _form(request)
    if not sessions.sign_in_field_ok(request, _one(form, "csrf")):
        return _refused(request, 403, "Formulaire refusé (jeton CSRF absent ou faux) : "
                                      "réessayez. / Form refused (missing or wrong CSRF "
                                      "token): try again.")
    token = _one(form, "token")
    async with request.app[DB].write() as s:
        actor = await tokens.actor_for(s, token) if token else None
        org = await s.get(Organisation, actor.id) if actor is not None else None
        if actor is None or org is None:
            return _refused(request, 403, "Jeton inconnu ou révoqué, ou pas celui d'une "
                                          "organisation. / Unknown or revoked token, or not "
                                          "an organisation's.")
        row = await tokens.row_for(s, token)
        sid = await sessions.open_session(s, row.id)
    response = see_other("/edit")
    sessions.set_session_cookie(request, response, sid)
    return response


async def sign_out(request: web.Request) -> web.Response:
    form = await _form(request)
    response = see_other("/edit")
    async with request.app[DB].write() as s:
        session, refusal = await _checked(request, s, form)
        if refusal is not None:
            return refusal
        await sessions.close_session(s, request, response, session.sid)
    return response


def _number(value: str, field: str) -> float | None:
    if not value:
        return None
    try:
        return float(value.replace(",", "."))
    except ValueError:
        raise InvalidInput(field, "must be a number") from None


async def save_profile(request: web.Request) -> web.Response:
    form = await _form(request)
    values = {k: _one(form, k) for k in PROFILE_FIELDS}
    for box in ("contact_public", "accessible_premises"):
        values[box] = "yes" if _one(form, box) == "yes" else ""
    db = request.app[DB]
    async with db.write() as s:
        session, refusal = await _checked(request, s, form)
        if refusal is not None:
            return refusal
        try:
            data: dict[str, Any] = {k: values[k] or None for k in PROFILE_FIELDS}
            data["handle"] = session.actor.handle
            data["sectors"] = [v for v in re.split(r"[;,\s]+", values["sectors"]) if v]
            data["qualifiers"] = list(session.org.qualifiers or [])
            data["lat"], data["lon"] = _number(values["lat"], "lat"), _number(values["lon"], "lon")
            parsed = org_domain.parse_organisation(data)
        except InvalidInput as exc:
            field = exc.field.split("[")[0]
            return await _dashboard(request, s, session, status=422, values=values,
                                    errors={field: exc.message})
        await org_domain.update(s, session.actor, session.org, parsed,
                                contact_public=bool(values["contact_public"]),
                                accessible_premises=bool(values["accessible_premises"]))
        actor_id = session.actor.id
    await org_domain.publish_profile(db, request.app[IDS], request.app[CONFIG].node.base_url,
                                     actor_id)
    request.app[DELIVERY_WAKE]()
    return see_other("/edit?done=profile")


# -- offers -----------------------------------------------------------------------------------

def _offer_values(offer: Offer | None) -> dict[str, Any]:
    if offer is None:
        return {"direction": "offer", "role": "production", "kind": "product", "category": "",
                "inputs": [], "title": "", "summary": "", "quantity": "", "unit": "",
                "price": "", "currency": "EUR", "exchange": "sale", "valid_until": ""}
    return {"direction": offer.direction, "role": offer.role, "kind": offer.kind,
            "category": to_code(offer.category), "inputs": [to_code(i.category)
                                                            for i in offer.inputs],
            "title": offer.title, "summary": offer.summary,
            "quantity": "" if offer.quantity is None else format(offer.quantity.normalize(), "f"),
            "unit": offer.unit or "",
            "price": "" if offer.price is None else format(offer.price.normalize(), "f"),
            "currency": offer.currency or "", "exchange": offer.exchange,
            "valid_until": offer.valid_until.isoformat() if offer.valid_until else ""}


def _offer_page(request: web.Request, session: Session, offer: Offer | None,
                values: dict[str, Any], errors: dict[str, str], status: int = 200
                ) -> web.Response:
    return _page(request, "edit_offer.html", status=status, session=session, offer=offer,
                 values=values, errors=errors, categories=category_choices(),
                 directions=terms.DIRECTIONS, roles=terms.ROLES,
                 kinds=terms.KINDS, units=terms.UNITS,
                 exchanges=terms.EXCHANGES, offer_id=_offer_id(offer))


def _offer_id(offer: Offer | None) -> str:
    return offer.ap_id.rsplit("/", 1)[1] if offer is not None else ""


async def _own_offer(request: web.Request, s, session: Session) -> Offer | None:
    ident = request.match_info["offer"]
    if not re.fullmatch(r"[0-9a-zA-Z-]{1,64}", ident):
        return None
    offer = await offer_repo.local_by_iri(s, f"{request.app[IDS].base}/offers/{ident}", live=True)
    if offer is None or offer.actor_id != session.actor.id:
        return None
    return offer


def _no_offer(request: web.Request, session: Session) -> web.Response:
    return _page(request, "edit_signin.html", status=404, session=session,
                 error="Pas d'offre de votre organisation à cette adresse. / No offer of your "
                       "organisation here.")


async def _checked_offer(request: web.Request, s, form: dict[str, list[str]]):
    """``_checked``, and the organisation's own offer named by the route (None when the
    route names none), or the refusal: 404 when the offer is not one of its own."""
    session, refusal = await _checked(request, s, form)
    if refusal is not None or "offer" not in request.match_info:
        return session, None, refusal
    offer = await _own_offer(request, s, session)
    return session, offer, None if offer is not None else _no_offer(request, session)


def _parse_offer_form(form: dict[str, list[str]]) -> tuple[dict[str, Any], offer_domain.OfferInput]:
    values: dict[str, Any] = {k: _one(form, k) for k in OFFER_FIELDS if k != "inputs"}
    values["inputs"] = [v.strip() for v in form.get("inputs", []) if v.strip()][:20]
    data: dict[str, Any] = {k: v for k, v in values.items() if v not in ("", [])
                            and k != "valid_until"}
    data["inputs"] = values["inputs"]
    if data.get("price") is not None:
        data["price"] = data["price"].replace(",", ".")
    if data.get("quantity") is not None:
        data["quantity"] = data["quantity"].replace(",", ".")
    parsed = offer_domain.parse_offer(data)
    if values["valid_until"]:
        try:
            parsed.valid_until = dt.date.fromisoformat(values["valid_until"])
        except ValueError:
            raise InvalidInput("valid_until", "not a date (YYYY-MM-DD)") from None
    return values, parsed


async def offer_form(request: web.Request) -> web.Response:
    """The form of a new offer (GET /edit/offers/new) or of one of the organisation's own
    (GET /edit/offers/{offer})."""
    offer = None
    async with request.app[DB].read() as s:
        session = await _session(request, s)
        if session is None:
            return _refused(request, 403, "Connectez-vous d'abord. / Sign in first.")
        if "offer" in request.match_info:
            offer = await _own_offer(request, s, session)
            if offer is None:
                return _no_offer(request, session)
    return _offer_page(request, session, offer, _offer_values(offer), {})


async def save_offer(request: web.Request) -> web.Response:
    """Create (POST /edit/offers) or update (POST /edit/offers/{offer}) an offer."""
    form = await _form(request)
    async with request.app[DB].write() as s:
        session, offer, refusal = await _checked_offer(request, s, form)
        if refusal is not None:
            return refusal
        try:
            values, parsed = _parse_offer_form(form)
        except InvalidInput as exc:
            values = {k: _one(form, k) for k in OFFER_FIELDS if k != "inputs"}
            values["inputs"] = form.get("inputs", [])
            return _offer_page(request, session, offer, values,
                               {exc.field.split("[")[0]: exc.message}, status=422)
        if offer is None:
            await add_offer(s, request.app[IDS], session.actor, parsed,
                            lat=session.org.lat, lon=session.org.lon,
                            validity_days=request.app[CONFIG].freshness.offer_validity_days)
        else:
            if parsed.lat is None:  # the form has no position: keep the offer's
                parsed.lat, parsed.lon = offer.lat, offer.lon
            await update_offer(s, session.actor, offer, parsed)
    request.app[DELIVERY_WAKE]()
    return see_other("/edit?done=offer")


async def withdraw(request: web.Request) -> web.Response:
    form = await _form(request)
    async with request.app[DB].write() as s:
        session, offer, refusal = await _checked_offer(request, s, form)
        if refusal is not None:
            return refusal
        await withdraw_offer(s, session.actor, offer)
    request.app[DELIVERY_WAKE]()
    return see_other("/edit?done=withdrawn")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/edit", edit_home)
    app.router.add_post("/edit/sign-in", sign_in)
    app.router.add_post("/edit/sign-out", sign_out)
    app.router.add_post("/edit/profile", save_profile)
    app.router.add_get("/edit/offers/new", offer_form)
    app.router.add_post("/edit/offers", save_offer)
    app.router.add_get("/edit/offers/{offer}", offer_form)
    app.router.add_post("/edit/offers/{offer}", save_offer)
    app.router.add_post("/edit/offers/{offer}/withdraw", withdraw)



__all__ = ["add_routes", "CATEGORY_NS"]
