"""Data access for offers and demands."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ssefed.db.models import Offer, OfferInput
from ssefed.db.models import Actor


async def add(s: AsyncSession, offer: Offer, inputs: list[str]) -> Offer:
    offer.inputs = [OfferInput(category=c, position=i) for i, c in enumerate(dict.fromkeys(inputs))]
    s.add(offer)
    await s.flush()
    return offer


async def by_actor(s: AsyncSession, actor_id: int) -> list[Offer]:
    rows = await s.scalars(select(Offer).where(Offer.actor_id == actor_id,
                                               Offer.deleted_at.is_(None))
                           .order_by(Offer.direction.desc(), Offer.title))
    return list(rows)


async def by_actors(s: AsyncSession, actor_ids: list[int]) -> dict[int, list[Offer]]:
    """Live offers of several actors in one query, grouped by actor id."""
    grouped: dict[int, list[Offer]] = {}
    if actor_ids:
        rows = await s.scalars(select(Offer).where(Offer.actor_id.in_(actor_ids),
                                                   Offer.deleted_at.is_(None))
                               .order_by(Offer.direction.desc(), Offer.title))
        for offer in rows:
            grouped.setdefault(offer.actor_id, []).append(offer)
    return grouped


async def count(s: AsyncSession, *, local: bool | None = None, direction: str | None = None) -> int:
    q = select(func.count()).select_from(Offer).where(Offer.deleted_at.is_(None))
    if local is not None:
        q = q.where(Offer.local.is_(local))
    if direction is not None:
        q = q.where(Offer.direction == direction)
    return int(await s.scalar(q) or 0)


async def local_by_iri(s: AsyncSession, iri: str, *, live: bool = False) -> Offer | None:
    """The local offer (or demand) with this IRI; ``live``: only if it is not deleted."""
    q = select(Offer).where(Offer.ap_id == iri, Offer.local.is_(True))
    if live:
        q = q.where(Offer.deleted_at.is_(None))
    return await s.scalar(q)


async def mark_deleted(s: AsyncSession, ap_id: str, when) -> None:
    offer = await s.scalar(select(Offer).where(Offer.ap_id == ap_id, Offer.local.is_(False)))
    if offer is not None:
        offer.deleted_at = when


async def recent_local(s: AsyncSession, *, direction: str, limit: int = 10) -> list:
    """The newest live offers (or demands) of local organisations, with their actor."""
    rows = await s.execute(
        select(Offer, Actor).join(Actor, Actor.id == Offer.actor_id)
        .where(Offer.local.is_(True), Offer.deleted_at.is_(None), Offer.direction == direction,
               Actor.deleted_at.is_(None))
        .order_by(Offer.published_at.desc(), Offer.id.desc()).limit(limit))
    return [(o, a) for o, a in rows]
