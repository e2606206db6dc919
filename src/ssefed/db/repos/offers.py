"""Data access for offers and demands."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ssefed.db.models import Offer, OfferInput


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


async def count(s: AsyncSession, *, local: bool | None = None, direction: str | None = None) -> int:
    q = select(func.count()).select_from(Offer).where(Offer.deleted_at.is_(None))
    if local is not None:
        q = q.where(Offer.local.is_(local))
    if direction is not None:
        q = q.where(Offer.direction == direction)
    return int(await s.scalar(q) or 0)
