"""Data access for supply chains: the offers that output given categories, nearest first,
with their inputs and who publishes them (indexed by output and input category)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ssefed.db.models import Actor, Offer, OfferInput, Organisation

KM_PER_DEGREE = 111.195


@dataclass
class SupplierRow:
    offer: str
    title: str
    role: str
    kind: str
    category: str
    inputs: tuple[str, ...]
    lat: float | None
    lon: float | None
    valid_until: date | None
    actor: str
    actor_name: str
    domain: str
    local: bool
    org_status: str | None  # local organisations: their validation by this node's network
    org_valid_until: date | None
    actor_id: int


def bbox(lat: float, lon: float, radius_km: float) -> tuple[float, float, float, float]:
    """A box around (lat, lon) holding every point within ``radius_km`` (B-tree friendly)."""
    dlat = radius_km / KM_PER_DEGREE
    cos = max(math.cos(math.radians(min(abs(lat) + dlat, 89.9))), 1e-6)
    dlon = min(radius_km / (KM_PER_DEGREE * cos), 180.0)
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon


async def suppliers(s: AsyncSession, categories: list[str], *, per_category: int,
                    near: tuple[float, float] | None = None, radius_km: float | None = None,
                    public_only: bool = False) -> dict[str, list[SupplierRow]]:
    """Live offers (not demands) outputting each category, at most ``per_category`` of each,
    nearest to ``near`` first; within the box of ``radius_km`` around ``near`` if given."""
    if not categories:
        return {}
    q = (select(Offer.id, Offer.ap_id, Offer.title, Offer.role, Offer.kind, Offer.category,
                Offer.lat, Offer.lon, Offer.valid_until, Actor.ap_id.label("actor"),
                Actor.name, Actor.domain, Actor.local, Actor.id.label("actor_id"),
                Organisation.validation_status, Organisation.valid_until.label("org_until"))
         .join(Actor, Actor.id == Offer.actor_id)
         .outerjoin(Organisation, Organisation.actor_id == Actor.id)
         .where(Offer.category.in_(categories), Offer.direction == "offer",
                Offer.deleted_at.is_(None), Actor.deleted_at.is_(None)))
    if near is not None:
        lat0, lon0 = near
        k = math.cos(math.radians(lat0))
        order: Any = ((Offer.lat - lat0) * (Offer.lat - lat0)
                      + (Offer.lon - lon0) * (Offer.lon - lon0) * (k * k))
        if radius_km is not None:
            lo_lat, hi_lat, lo_lon, hi_lon = bbox(lat0, lon0, radius_km)
            q = q.where(Offer.lat.between(lo_lat, hi_lat), Offer.lon.between(lo_lon, hi_lon))
    else:
        order = Offer.id
    rank = func.row_number().over(partition_by=Offer.category, order_by=(order, Offer.id))
    inner = q.add_columns(rank.label("rn")).subquery()
    rows = (await s.execute(select(inner).where(inner.c.rn <= per_category)
                            .order_by(inner.c.category, inner.c.rn))).all()
    inputs: dict[int, list[str]] = {}
    ids = [r.id for r in rows]
    for i in range(0, len(ids), 500):
        for offer_id, category in await s.execute(
                select(OfferInput.offer_id, OfferInput.category)
                .where(OfferInput.offer_id.in_(ids[i:i + 500]))
                .order_by(OfferInput.offer_id, OfferInput.position)):
            inputs.setdefault(offer_id, []).append(category)
    out: dict[str, list[SupplierRow]] = {}
    for r in rows:
        out.setdefault(r.category, []).append(SupplierRow(
            offer=r.ap_id, title=r.title, role=r.role, kind=r.kind, category=r.category,
            inputs=tuple(inputs.get(r.id, ())), lat=r.lat, lon=r.lon,
            valid_until=r.valid_until, actor=r.actor, actor_name=r.name, domain=r.domain,
            local=r.local, org_status=r.validation_status, org_valid_until=r.org_until,
            actor_id=r.actor_id))
    return out


async def actor_documents(s: AsyncSession, actor_ids: list[int]) -> dict[str, dict]:
    """The stored ActivityPub documents of remote actors (their claims: memberOf, charters)."""
    out: dict[str, dict] = {}
    for i in range(0, len(actor_ids), 500):
        for ap_id, doc in await s.execute(select(Actor.ap_id, Actor.ap_json)
                                          .where(Actor.id.in_(actor_ids[i:i + 500]),
                                                 Actor.local.is_(False))):
            out[ap_id] = doc or {}
    return out
