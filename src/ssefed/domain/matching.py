"""Matching offers and demands, and the gaps of a territory: what a network needs to
plan its filières and recruit members. Answered from the search projection
(domain/search_projection.py): its category terms, positions and facets."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import select

from ssefed.db.models import Offer, OfferInput
from ssefed.domain import categories
from ssefed.domain.errors import InvalidInput, NotFound
from ssefed.domain.reminders import today_utc
from ssefed.domain.search_projection import NO_DAY, OFFER_KEYS, SearchProjection, distance_km

MAX_MATCHES = 50
MAX_GAPS = 200
_UNPLACED = 1e9  # the distance an entry without a position is ordered by


async def matches(projection: SearchProjection, iri: str, *, limit: int = 10,
                  radius_km: float | None = None) -> dict[str, Any]:
    """For a demand: the offers of its category (or a narrower one); for an offer: the
    demands it answers; for an organisation: the offers of the inputs its offers consume.
    Local first, then federated; validated first; then nearest; expired ones left out."""
    if not 1 <= limit <= MAX_MATCHES:
        raise InvalidInput("limit", f"must be between 1 and {MAX_MATCHES}")
    await projection.fresh()
    slot = await projection.slot_of_iri(iri)
    if slot is None:
        raise NotFound(f"{iri} is not in this node's directory")
    c = projection.cols
    if projection.value("type", slot) == "offer":
        category = c.shown[slot].category
        wanted = [category] if category else []
        direction = "offer" if projection.value("direction", slot) == "demand" else "demand"
    else:
        async with projection.db.read() as s:
            inputs = await s.execute(
                select(OfferInput.category).join(Offer, Offer.id == OfferInput.offer_id)
                .where(Offer.actor_id == int(c.actor[slot]), Offer.deleted_at.is_(None),
                       Offer.direction == "offer"))
            wanted = list(dict.fromkeys(cat for (cat,) in inputs))
        direction = "offer"
    if not wanted:
        return {"for": iri, "categories": [], "matches": []}
    today = today_utc()
    found = projection.matching({"type": "offer", "direction": direction,
                                 "fresh_only": True}, today)
    found = found[(c.actor[found] != c.actor[slot])
                  & projection.having_any(f"cat:{w}" for w in wanted)[found]]
    lat, lon = c.latlon[slot].tolist()
    placed = not np.isnan(lat)
    dist = np.full(len(found), _UNPLACED)
    if placed:
        for i, (la, lo) in enumerate(c.latlon[found].tolist()):
            if not np.isnan(la):
                dist[i] = distance_km(la, lo, lat, lon)
        if radius_km is not None:
            found, dist = found[dist <= radius_km], dist[dist <= radius_km]
    order = np.lexsort((c.key[found], dist, ~c.validated[found], ~c.local[found]))[:limit]
    out = []
    for i in order.tolist():
        s, e = int(found[i]), c.shown[int(found[i])]
        until = int(c.validated_until[s])
        out.append({
            "id": e.ap_id, "name": e.name, "node": e.node, "local": e.local,
            "validated": bool(c.validated[s]) and not (
                until != NO_DAY and date.fromordinal(until) < today),
            "category": e.category, "kind": projection.value("kind", s),
            "market": projection.value("market", s),
            "distance_km": round(float(dist[i]), 2)
            if placed and dist[i] != _UNPLACED else None})
    return {"for": iri, "categories": wanted, "matches": out}


async def gaps(projection: SearchProjection, *, near: tuple[float, float], radius_km: float
               ) -> dict[str, Any]:
    """For a territory: categories with demand but no offer; inputs that transformers
    consume with no supplier; filières with no member active in them."""
    await projection.fresh()
    found = projection.matching({"type": "offer", "near": near, "radius_km": radius_km,
                                 "fresh_only": True}, today_utc())
    rows = [(projection.cols.shown[s].category, projection.value("direction", s),
             int(projection.cols.key[s]) - OFFER_KEYS) for s in found.tolist()]
    offer_ids = [offer_id for _, direction, offer_id in rows if direction == "offer"]
    consumed: dict[str, int] = {}
    async with projection.db.read() as s:
        for i in range(0, len(offer_ids), 500):
            for (category,) in await s.execute(select(OfferInput.category)
                                               .where(OfferInput.offer_id.in_(
                                                   offer_ids[i:i + 500]))):
                consumed[category] = consumed.get(category, 0) + 1
    offered: set[str] = set()
    demanded: dict[str, int] = {}
    for category, direction, _ in rows:
        if not category:
            continue
        if direction == "offer":
            offered.update(categories.with_broader(category))
        else:
            demanded[category] = demanded.get(category, 0) + 1

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
        "offers": sum(1 for _, direction, _ in rows if direction == "offer"),
        "demands": sum(1 for _, direction, _ in rows if direction == "demand"),
    }
