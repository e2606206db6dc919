"""Data access for supply chains: the offers that output given categories, nearest first,
with their inputs and who publishes them (indexed by output and input category)."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Float, Integer, bindparam, func, select
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


@functools.lru_cache(maxsize=4)
def _suppliers_statement(near: bool, boxed: bool):
    """Built once per shape (a query runs several of them: statement building is not free):
    the offers of the categories given, ranked in each category (nearest first) on the
    offers table alone, then joined with their publisher and inputs for the kept ones."""
    q = (select(Offer.id, Offer.category)
         .where(Offer.category.in_(bindparam("cats", expanding=True)),
                Offer.direction == "offer", Offer.deleted_at.is_(None)))
    if near:
        lat0, lon0 = bindparam("lat0", type_=Float), bindparam("lon0", type_=Float)
        k2 = bindparam("k2", type_=Float)
        order: Any = (Offer.lat - lat0) * (Offer.lat - lat0) + (Offer.lon - lon0) * (
            Offer.lon - lon0) * k2
        if boxed:
            q = q.where(Offer.lat.between(bindparam("lo_lat", type_=Float),
                                          bindparam("hi_lat", type_=Float)),
                        Offer.lon.between(bindparam("lo_lon", type_=Float),
                                          bindparam("hi_lon", type_=Float)))
    else:
        order = Offer.id
    rank = func.row_number().over(partition_by=Offer.category, order_by=(order, Offer.id))
    ranked = q.add_columns(rank.label("rn")).subquery()
    return (select(Offer.ap_id, Offer.title, Offer.role, Offer.kind, Offer.category,
                   Offer.lat, Offer.lon, Offer.valid_until, Actor.ap_id.label("actor"),
                   Actor.name, Actor.domain, Actor.local, Actor.id.label("actor_id"),
                   Organisation.validation_status, Organisation.valid_until.label("org_until"),
                   OfferInput.category.label("input"))
            .select_from(ranked)
            .join(Offer, Offer.id == ranked.c.id)
            .join(Actor, Actor.id == Offer.actor_id)
            .outerjoin(Organisation, Organisation.actor_id == Actor.id)
            .outerjoin(OfferInput, OfferInput.offer_id == Offer.id)
            .where(ranked.c.rn <= bindparam("per", type_=Integer), Actor.deleted_at.is_(None))
            .order_by(ranked.c.category, ranked.c.rn, OfferInput.position))


async def suppliers(s: AsyncSession, categories: list[str], *, per_category: int,
                    near: tuple[float, float] | None = None, radius_km: float | None = None,
                    ) -> dict[str, list[SupplierRow]]:
    """Live offers (not demands) outputting each category, at most ``per_category`` of each,
    nearest to ``near`` first; within the box of ``radius_km`` around ``near`` if given."""
    if not categories:
        return {}
    params: dict[str, Any] = {"cats": list(categories), "per": per_category}
    boxed = near is not None and radius_km is not None
    if near is not None:
        params.update(lat0=near[0], lon0=near[1], k2=math.cos(math.radians(near[0])) ** 2)
        if boxed:
            lo_lat, hi_lat, lo_lon, hi_lon = bbox(near[0], near[1], radius_km)
            params.update(lo_lat=lo_lat, hi_lat=hi_lat, lo_lon=lo_lon, hi_lon=hi_lon)
    conn = await s.connection()
    rows = await conn.execute(_suppliers_statement(near is not None, boxed), params)
    out: dict[str, list[SupplierRow]] = {}
    last: SupplierRow | None = None
    for r in rows:
        if last is not None and last.offer == r.ap_id:
            last.inputs += (r.input,)
            continue
        last = SupplierRow(
            offer=r.ap_id, title=r.title, role=r.role, kind=r.kind, category=r.category,
            inputs=(r.input,) if r.input is not None else (), lat=r.lat, lon=r.lon,
            valid_until=r.valid_until, actor=r.actor, actor_name=r.name, domain=r.domain,
            local=r.local, org_status=r.validation_status, org_valid_until=r.org_until,
            actor_id=r.actor_id)
        out.setdefault(r.category, []).append(last)
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


async def offers_by_iri(s: AsyncSession, iris: list[str]) -> dict[str, SupplierRow]:
    """The live offers (not demands) this node holds among ``iris``: its own, and those
    received from their origin, each with who publishes it (a peer's claims are checked
    against them)."""
    out: dict[str, SupplierRow] = {}
    for i in range(0, len(iris), 500):
        rows = await s.execute(
            select(Offer.ap_id, Offer.title, Offer.role, Offer.kind, Offer.category,
                   Offer.lat, Offer.lon, Offer.valid_until, Actor.ap_id.label("actor"),
                   Actor.name, Actor.domain, Actor.local, Actor.id.label("actor_id"),
                   Organisation.validation_status, Organisation.valid_until.label("org_until"),
                   OfferInput.category.label("input"))
            .join(Actor, Actor.id == Offer.actor_id)
            .outerjoin(Organisation, Organisation.actor_id == Actor.id)
            .outerjoin(OfferInput, OfferInput.offer_id == Offer.id)
            .where(Offer.ap_id.in_(iris[i:i + 500]), Offer.direction == "offer",
                   Offer.deleted_at.is_(None), Actor.deleted_at.is_(None))
            .order_by(Offer.id, OfferInput.position))
        for r in rows:
            known = out.get(r.ap_id)
            if known is not None:
                known.inputs += (r.input,)
                continue
            out[r.ap_id] = SupplierRow(
                offer=r.ap_id, title=r.title, role=r.role, kind=r.kind, category=r.category,
                inputs=(r.input,) if r.input is not None else (), lat=r.lat, lon=r.lon,
                valid_until=r.valid_until, actor=r.actor, actor_name=r.name, domain=r.domain,
                local=r.local, org_status=r.validation_status, org_valid_until=r.org_until,
                actor_id=r.actor_id)
    return out
