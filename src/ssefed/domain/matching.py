"""Matching offers and demands, and the gaps of a territory: what a network needs to
plan its filières and recruit members. Answered from the search entries (one query per
question, indexed by category term and position)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import and_, func, or_, select

from ssefed.db.models import Offer, OfferInput, SearchEntry, SearchTerm
from ssefed.db.repos.chains import bbox
from ssefed.db.repos.search import distance_expr
from ssefed.db.session import Database
from ssefed.domain import categories
from ssefed.domain.errors import InvalidInput, NotFound

MAX_MATCHES = 50
MAX_GAPS = 200


def _today() -> date:
    return datetime.now(timezone.utc).date()


async def matches(db: Database, iri: str, *, limit: int = 10, radius_km: float | None = None
                  ) -> dict[str, Any]:
    """For a demand: the offers of its category (or a narrower one); for an offer: the
    demands it answers; for an organisation: the offers of the inputs its offers consume.
    Local first, then federated; validated first; then nearest; expired ones left out."""
    if not 1 <= limit <= MAX_MATCHES:
        raise InvalidInput("limit", f"must be between 1 and {MAX_MATCHES}")
    async with db.read() as s:
        entry = await s.scalar(select(SearchEntry).where(SearchEntry.ap_id == iri))
        if entry is None:
            raise NotFound(f"{iri} is not in this node's directory")
        if entry.entry_type == "offer":
            wanted = [entry.category] if entry.category else []
            direction = "offer" if entry.direction == "demand" else "demand"
        else:
            inputs = await s.execute(
                select(OfferInput.category).join(Offer, Offer.id == OfferInput.offer_id)
                .where(Offer.actor_id == entry.actor_id, Offer.deleted_at.is_(None),
                       Offer.direction == "offer"))
            wanted = list(dict.fromkeys(c for (c,) in inputs))
            direction = "offer"
        if not wanted:
            return {"for": iri, "categories": [], "matches": []}
        today = _today()
        conds = [SearchEntry.entry_type == "offer", SearchEntry.direction == direction,
                 SearchEntry.actor_id != entry.actor_id,
                 or_(SearchEntry.valid_until.is_(None), SearchEntry.valid_until >= today),
                 SearchEntry.id.in_(select(SearchTerm.entry_id).where(
                     SearchTerm.term.in_([f"cat:{c}" for c in wanted])))]
        order: list[Any] = [SearchEntry.local.desc(), SearchEntry.validated.desc()]
        dist = None
        if entry.lat is not None:
            dist = distance_expr(entry.lat, entry.lon)
            order.append(func.coalesce(dist, 1e9))
            if radius_km is not None:
                lo_lat, hi_lat, lo_lon, hi_lon = bbox(entry.lat, entry.lon, radius_km)
                conds += [SearchEntry.lat.between(lo_lat, hi_lat),
                          SearchEntry.lon.between(lo_lon, hi_lon), dist <= radius_km]
        order.append(SearchEntry.id)
        cols = [SearchEntry.ap_id, SearchEntry.name, SearchEntry.node, SearchEntry.local,
                SearchEntry.validated, SearchEntry.validated_until, SearchEntry.category,
                SearchEntry.kind, SearchEntry.market, SearchEntry.lat, SearchEntry.lon]
        if dist is not None:
            cols.append(dist.label("distance"))
        rows = (await s.execute(select(*cols).where(and_(*conds)).order_by(*order)
                                .limit(limit))).all()
    return {"for": iri, "categories": wanted, "matches": [
        {"id": r.ap_id, "name": r.name, "node": r.node, "local": r.local,
         "validated": r.validated and not (r.validated_until and r.validated_until < today),
         "category": r.category, "kind": r.kind, "market": r.market,
         "distance_km": round(float(r.distance), 2)
         if dist is not None and r.distance is not None else None} for r in rows]}


async def gaps(db: Database, *, near: tuple[float, float], radius_km: float
               ) -> dict[str, Any]:
    """For a territory: categories with demand but no offer; inputs that transformers
    consume with no supplier; filières with no member active in them."""
    lo_lat, hi_lat, lo_lon, hi_lon = bbox(near[0], near[1], radius_km)
    dist = distance_expr(*near)
    today = _today()
    inside = and_(SearchEntry.entry_type == "offer", SearchEntry.lat.between(lo_lat, hi_lat),
                  SearchEntry.lon.between(lo_lon, hi_lon), dist <= radius_km,
                  or_(SearchEntry.valid_until.is_(None), SearchEntry.valid_until >= today))
    async with db.read() as s:
        rows = (await s.execute(select(SearchEntry.category, SearchEntry.direction,
                                       SearchEntry.offer_id, SearchEntry.name)
                                .where(inside))).all()
        offer_ids = [r.offer_id for r in rows if r.direction == "offer" and r.offer_id]
        consumed: dict[str, int] = {}
        for i in range(0, len(offer_ids), 500):
            for (category,) in await s.execute(select(OfferInput.category)
                                               .where(OfferInput.offer_id.in_(
                                                   offer_ids[i:i + 500]))):
                consumed[category] = consumed.get(category, 0) + 1
    offered: set[str] = set()
    demanded: dict[str, int] = {}
    for r in rows:
        if not r.category:
            continue
        if r.direction == "offer":
            offered.update(categories.with_broader(r.category))
        else:
            demanded[r.category] = demanded.get(r.category, 0) + 1

    def covered(category: str) -> bool:
        return category in offered

    def label(category: str) -> dict[str, str]:
        return {"fr": categories.label(category, "fr"), "en": categories.label(category, "en")}

    unmet = sorted(((c, n) for c, n in demanded.items() if not covered(c)), key=lambda x: -x[1])
    unsupplied = sorted(((c, n) for c, n in consumed.items() if not covered(c)),
                        key=lambda x: -x[1])
    filieres = [f for f in categories.filieres() if f not in offered]
    return {
        "near": {"lat": near[0], "lon": near[1]}, "radius_km": radius_km,
        "demand_without_offer": [{"category": c, "label": label(c), "demands": n}
                                 for c, n in unmet[:MAX_GAPS]],
        "inputs_without_supplier": [{"category": c, "label": label(c), "consumers": n}
                                    for c, n in unsupplied[:MAX_GAPS]],
        "filieres_without_member": [{"category": f, "label": label(f)} for f in filieres],
        "offers": sum(1 for r in rows if r.direction == "offer"),
        "demands": sum(1 for r in rows if r.direction == "demand"),
    }
