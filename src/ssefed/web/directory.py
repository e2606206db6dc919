"""The public web directory: the network's home page, an organisation's page and an
offer's page, server-rendered in French or English (web/i18n.py), with the node's own
SVG maps (web/svgmap.py) and no asset from elsewhere. The JSON of each object is linked
(``<link rel="alternate" type="application/activity+json">``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from urllib.parse import urlencode

from aiohttp import web

from ssefed.db.models import Actor, Offer, Organisation
from ssefed.db.repos import actors as actor_repo
from ssefed.db.repos import follows as follow_repo
from ssefed.db.repos import offers as offer_repo
from ssefed.db.repos import organisations as org_repo
from ssefed.db.repos import remote as remote_repo
from ssefed.domain import categories
from ssefed.domain import freshness
from ssefed.domain import reports as report_domain
from ssefed.domain import validity
from ssefed.domain.reminders import today_utc
from ssefed.vocab import labels
from ssefed.web.i18n import add_vary, format_date, negotiate, translate
from ssefed.web.keys import CONFIG, DB
from ssefed.web.pages import render
from ssefed.web.svgmap import KM_PER_DEG_LAT, BBox, MapPoint, clusters, svg_map
import math
from ssefed.db.repos import vetting as vetting_repo
import asyncio
from ssefed.paths import STATIC_DIR

AS2 = "application/activity+json"
MEMBERS_PER_GROUP = 20  # on the home page; the rest through the search page
RECENT = 8
HOME_MAP_POINTS = 2000
HOME_CLUSTER_OVER = 150  # members on the home map before they are grouped by cells
HOME_CLUSTER_CELLS = 16  # cells across the map's longer side
GROUPINGS = ("sector", "legal_form")
HOME_MAX_MEMBERS = 20_000  # read for the home page's groups, map and validated count


def _number(value: Decimal | float | None) -> str:
    """430.000000 -> "430", 2.5 -> "2.5"."""
    return "" if value is None else f"{Decimal(value).normalize():f}"


def _currency(code: str | None) -> str:
    """A currency as people read it: its code, or the last segment of its IRI."""
    if not code:
        return ""
    return code.rstrip("/").rsplit("/", 1)[-1] if "://" in code else code


def _alternate(response: web.Response, iri: str) -> web.Response:
    add_vary(response, "Accept")
    response.headers["Link"] = f'<{iri}>; rel="alternate"; type="{AS2}"'
    return response


# --- the home page ----------------------------------------------------------------------

@dataclass
class Group:
    key: str
    label: str
    count: int = 0
    members: list = field(default_factory=list)
    more_url: str = ""


def _groups(rows: list, by: str, lang: str, guarantees: dict) -> list[Group]:
    """Members grouped by NACE section of their sectors (one may be in several) or by
    legal form; the biggest groups first; at most MEMBERS_PER_GROUP shown in each."""
    groups: dict[str, Group] = {}
    none_label = translate(lang, "group.none_" + by)
    for row in rows:
        if by == "sector":
            keys = list(dict.fromkeys(s for s in (labels.nace_section(c) for c in row.sectors or [])
                                      if s)) or [""]
        else:
            keys = [row.legal_form or ""]
        for key in keys:
            group = groups.get(key)
            if group is None:
                label = (labels.label("nace_section" if by == "sector" else "legal_form", key, lang)
                         if key else none_label)
                query = {("sector" if by == "sector" else "legal_form"): key} if key else {}
                group = groups[key] = Group(key, label, more_url="/search?" + urlencode(query)
                                            if query else "/search")
            group.count += 1
            if len(group.members) < MEMBERS_PER_GROUP:
                group.members.append({"name": row.name, "url": row.ap_id,
                                      "locality": row.locality,
                                      "guarantee": guarantees.get(row.ap_id,
                                                                  validity.UNVALIDATED)})
    return sorted(groups.values(), key=lambda g: (g.key == "", -g.count, g.label))


def _offer_item(offer: Offer, actor: Actor, lang: str, today: date) -> dict:
    return {"title": offer.title, "url": offer.ap_id, "actor_name": actor.name,
            "actor_url": actor.ap_id, "category": categories.label(offer.category, lang),
            "kind": labels.label("kind", offer.kind, lang),
            "exchange": labels.label("exchange", offer.exchange, lang),
            "market": labels.is_market(offer.exchange),
            "valid_until": offer.valid_until,
            "expired": freshness.expired(offer.valid_until, today)}


def _members_map(rows: list, lang: str):
    """All positioned members; past HOME_CLUSTER_OVER of them, grouped by grid cells (a
    numbered dot linking to a search around it), so the page stays small."""
    located = [r for r in rows if r.lat is not None and r.lon is not None]
    if not located:
        return None
    title = translate(lang, "home.map_title", n=len(located))
    points = [MapPoint(r.lat, r.lon, r.name, r.ap_id, "org") for r in located]
    if len(points) > HOME_CLUSTER_OVER:
        lats, lons = [p.lat for p in points], [p.lon for p in points]
        mid = math.radians((min(lats) + max(lats)) / 2)
        span_km = max((max(lats) - min(lats)) * KM_PER_DEG_LAT,
                      (max(lons) - min(lons)) * KM_PER_DEG_LAT * max(math.cos(mid), 0.05))
        cell_km = max(span_km / HOME_CLUSTER_CELLS, 1.0)
        locality = {r.ap_id: r.locality for r in located}
        grouped = []
        for c in clusters(points, cell_km=cell_km):
            if len(c.members) == 1:
                grouped.append(c.members[0])
                continue
            places = [locality.get(m.url) for m in c.members if locality.get(m.url)]
            place = max(set(places), key=places.count) if places else ""
            near = {"near": f"{c.lat:.4f},{c.lon:.4f}", "radius_km": f"{math.ceil(cell_km)}"}
            grouped.append(MapPoint(c.lat, c.lon, translate(
                lang, "home.cluster" if place else "home.cluster_here", n=len(c.members),
                place=place), "/search?" + urlencode(near), "org", count=len(c.members)))
        points = grouped
    return svg_map(points[:HOME_MAP_POINTS], title=title, id_prefix="members-map",
                   width=640, height=420)


async def home(request: web.Request) -> web.Response:
    """GET / : what the network is, its members by sector or legal form, counts, the
    newest offers and demands, a map of the members, links to search, chains and gaps."""
    lang = negotiate(request)
    by = request.query.get("group", "sector")
    if by not in GROUPINGS:
        by = "sector"
    today = today_utc()
    config = request.app[CONFIG]
    async with request.app[DB].read() as s:
        network = await actor_repo.get_network(s)
        rows = await org_repo.directory_rows(s, limit=HOME_MAX_MEMBERS)
        n_members = await actor_repo.count_local(s, network=False)
        n_offers = await offer_repo.count(s, local=True, direction="offer")
        n_demands = await offer_repo.count(s, local=True, direction="demand")
        recent_offers = await offer_repo.recent_local(s, direction="offer", limit=RECENT)
        recent_demands = await offer_repo.recent_local(s, direction="demand", limit=RECENT)
        guarantees = await validity.guarantees(s, None, trust=config.chains, today=today)
    validated = sum(1 for r in rows if r.ap_id in guarantees
                    and guarantees[r.ap_id].current)
    members_map = _members_map(rows, lang)
    group_links = [{"by": g, "label": translate(lang, "group.by_" + g), "current": g == by,
                    "url": "/?" + urlencode({"group": g})} for g in GROUPINGS]
    handle = f"@{network.handle}@{config.node.domain}" if network else ""
    response = render(
        request, "home.html", lang=lang, network=network, network_handle=handle,
        n_members=n_members, n_validated=validated, n_listed=len(rows), n_offers=n_offers, n_demands=n_demands,
        groups=_groups(rows, by, lang, guarantees), grouping=by, group_links=group_links,
        members_map=members_map,
        recent_offers=[_offer_item(o, a, lang, today) for o, a in recent_offers],
        recent_demands=[_offer_item(o, a, lang, today) for o, a in recent_demands],
        today=today)
    return _alternate(response, network.ap_id) if network else response


# --- an organisation's page -------------------------------------------------------------

NEIGHBOURS_KM = 20.0  # half the side of an organisation's map
MAX_NEIGHBOURS = 200


async def _neighbourhood_map(request: web.Request, actor: Actor, org: Organisation,
                             lang: str):
    """The organisation (highlighted) among the other members around it, each a link."""
    dlat = NEIGHBOURS_KM / KM_PER_DEG_LAT
    dlon = NEIGHBOURS_KM / (KM_PER_DEG_LAT * max(math.cos(math.radians(org.lat)), 0.05))
    box = BBox(org.lat - dlat, org.lon - dlon, org.lat + dlat, org.lon + dlon)
    async with request.app[DB].read() as s:
        around = await org_repo.located_within(s, box.south, box.west, box.north, box.east,
                                               limit=MAX_NEIGHBOURS)
    points = [MapPoint(r.lat, r.lon, r.name, r.ap_id, "org") for r in around if r.id != actor.id]
    points.append(MapPoint(org.lat, org.lon, actor.name, None, "here"))  # drawn last, on top
    return svg_map(points, title=translate(lang, "org.map_title", name=actor.name),
                   bbox=box, id_prefix="org-map")


async def _network_name(s, iri: str | None, own: Actor | None) -> str | None:
    """The name of the network vouching for an organisation (None: this node's own)."""
    if iri is None or (own is not None and iri == own.ap_id):
        return None
    other = await remote_repo.get_actor(s, iri)
    return other.name if other is not None and other.name else iri


async def _validation_basis(request: web.Request, actor: Actor) -> dict | None:
    """What the participatory validation of this organisation rests on: the newest
    decision of this network (endorsements counted, their colleges), or its open
    application."""
    async with request.app[DB].read() as s:
        network = await actor_repo.get_network(s)
        found = await vetting_repo.decisions_of(s, [actor.ap_id])
        d = found.get((network.ap_id, actor.ap_id)) if network else None
        if d is not None and d.outcome == "validated":
            counted = [b for b in d.basis or [] if b.get("counted")]
            return {"decision": d.ap_id, "count": len(counted),
                    "colleges": sorted({b["college"] for b in counted if b.get("college")})}
        app = await vetting_repo.open_application(s, network.ap_id, actor.id) \
            if network else None
        if app is not None:
            return {"application": app.ap_id,
                    "count": await vetting_repo.count_endorsements(s, app.ap_id)}
    return None


async def organisation_page(request: web.Request, actor: Actor, *, status: int = 200,
                            report_form: dict | None = None) -> web.Response:
    """The HTML page of a local actor (a member organisation, or the network itself).
    ``report_form``: the report form sent back with its error (web/reports.py)."""
    lang = negotiate(request)
    config = request.app[CONFIG]
    today = today_utc()
    async with request.app[DB].read() as s:
        org = await s.get(Organisation, actor.id)
        offers = await offer_repo.by_actor(s, actor.id)
        followers = await follow_repo.count(s, followed_id=actor.id)
        network = await actor_repo.get_network(s)
        notices, open_reports = (await report_domain.open_notices(s, actor.id)
                                 if org is not None else ([], 0))
        guarantee = (await validity.guarantees(s, [actor.ap_id], trust=config.chains,
                                               today=today)).get(actor.ap_id,
                                                                 validity.UNVALIDATED)
        validator = await _network_name(s, guarantee.network, network)
    facts = None
    org_map = None
    if org is not None:
        facts = {
            "legal_form": labels.label("legal_form", org.legal_form, lang),
            "sectors": [{"code": c, "section": labels.label("nace_section",
                                                            labels.nace_section(c), lang)}
                        for c in org.sectors or []],
            "qualifiers": [labels.label("qualifier", q, lang) for q in org.qualifiers or []],
            "guarantee": guarantee, "validator": validator,
            "place": " ".join(x for x in (org.address, org.postal_code, org.locality) if x),
            "country": org.country,
            "website": org.website,
            "email": org.email if org.contact_public else None,
            "phone": org.phone if org.contact_public else None,
            "accessible_premises": org.accessible_premises,
        }
        if org.lat is not None and org.lon is not None:
            org_map = await _neighbourhood_map(request, actor, org, lang)
    items = [_offer_item(o, actor, lang, today) | {"role": labels.label("role", o.role, lang)}
             for o in offers]
    offered = [i for i, o in zip(items, offers) if o.direction == "offer"]
    demanded = [i for i, o in zip(items, offers) if o.direction == "demand"]
    report = None
    if org is not None:
        report = _report_view(lang, actor, offers, notices, open_reports, report_form,
                              thanks=request.query.get("reported") == "1")
    validation = await _validation_basis(request, actor) if org is not None else None
    response = render(request, "actor.html", status=status, lang=lang, actor=actor, org=org,
                      facts=facts, validation=validation,
                      offered=offered, demanded=demanded, followers=followers,
                      network=network, org_map=org_map, report=report,
                      handle=f"@{actor.handle}@{config.node.domain}")
    return _alternate(response, actor.ap_id)


def _report_view(lang: str, actor: Actor, offers: list[Offer], notices: list, total: int,
                 form: dict | None, *, thanks: bool) -> dict:
    """The open reports' notices (category and date only) and the report form."""
    values = (form or {}).get("values") or {"object": actor.ap_id, "reason": "", "text": ""}
    error = (form or {}).get("error")
    return {
        "notices": [translate(lang, "report.notice_" + reason, date=format_date(day, lang))
                    for reason, day in notices],
        "more": max(0, total - len(notices)),
        "objects": [(actor.ap_id, translate(lang, "report.object_org"))]
                   + [(o.ap_id, o.title) for o in offers],
        "reasons": [(r, translate(lang, "report.reason_" + r)) for r in report_domain.REASONS],
        "typed": values, "error_field": (form or {}).get("error_field"),
        "error": (translate(lang, "report.error_" + error, max=report_domain.MAX_TEXT)
                  if error else None),
        "thanks": thanks and form is None, "max_text": report_domain.MAX_TEXT,
    }


# --- an offer's page --------------------------------------------------------------------

async def offer_page(request: web.Request, offer: Offer, actor: Actor) -> web.Response:
    """The HTML page of a local offer or demand."""
    lang = negotiate(request)
    today = today_utc()
    async with request.app[DB].read() as s:
        org = await s.get(Organisation, actor.id)
        guarantee = (await validity.guarantees(
            s, [actor.ap_id], trust=request.app[CONFIG].chains, today=today)).get(
            actor.ap_id, validity.UNVALIDATED)
    lat, lon = (offer.lat, offer.lon) if offer.lat is not None else (
        (org.lat, org.lon) if org is not None else (None, None))
    offer_map = None
    if lat is not None and lon is not None:
        offer_map = svg_map([MapPoint(lat, lon, f"{offer.title} — {actor.name}", None,
                                      offer.direction)],
                            title=translate(lang, "offer.map_title", title=offer.title),
                            id_prefix="offer-map", min_span_km=30)
    view = {
        "direction": translate(lang, "direction." + offer.direction),
        "kind": labels.label("kind", offer.kind, lang),
        "role": labels.label("role", offer.role, lang),
        "exchange": labels.label("exchange", offer.exchange, lang),
        "market": labels.is_market(offer.exchange),
        "category": categories.label(offer.category, lang),
        "category_code": categories.to_code(offer.category),
        "category_iri": offer.category,
        "inputs": [{"label": categories.label(i.category, lang),
                    "code": categories.to_code(i.category)} for i in offer.inputs],
        "quantity": _number(offer.quantity), "unit": offer.unit or "",
        "price": _number(offer.price), "currency": _currency(offer.currency),
        "valid_until": offer.valid_until,
        "expired": freshness.expired(offer.valid_until, today),
        "guarantee": guarantee if org is not None else None,
        "lat": lat, "lon": lon,
    }
    response = render(request, "offer.html", lang=lang, offer=offer, actor=actor, view=view,
                      offer_map=offer_map)
    return _alternate(response, offer.ap_id)


# --- wiring -----------------------------------------------------------------------------

WARMING = web.AppKey("labels_warming", object)


def warm_labels() -> None:
    """Read the vocabulary's labels (rdflib, ~0.7 s) before the first page asks for them."""
    for list_name in ("kind", "role", "exchange", "legal_form", "qualifier", "nace_section"):
        labels.codes(list_name)
    labels.nace_section("01")
    categories.label(categories.CATEGORY_NS + "bread")


async def _warm(app: web.Application) -> None:
    # in a thread, not awaited: the node answers at once; the first page may wait for it
    app[WARMING] = asyncio.get_running_loop().run_in_executor(None, warm_labels)


def setup(app: web.Application) -> None:
    """The directory's routes: the home page and the stylesheet (organisation and offer
    pages are served by the ActivityPub routes, by content negotiation)."""
    app.on_startup.append(_warm)
    app.router.add_get("/", home)
    app.router.add_static("/static/", STATIC_DIR)
