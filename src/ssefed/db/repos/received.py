"""Data access for what other servers sent: their objects and offers as stored here,
looked up by id, one at a time or for a whole batch of received activities."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ssefed.db.models import Actor, Offer, RemoteObject


async def objects(s: AsyncSession, ap_ids: list[str]) -> dict[str, RemoteObject]:
    """The stored remote objects among ``ap_ids``, by id."""
    if not ap_ids:
        return {}
    rows = await s.scalars(select(RemoteObject).where(RemoteObject.ap_id.in_(ap_ids)))
    return {row.ap_id: row for row in rows}


async def offers(s: AsyncSession, ap_ids: list[str]) -> dict[str, Offer]:
    """The stored offers (local ones too) among ``ap_ids``, by id, with their inputs."""
    if not ap_ids:
        return {}
    rows = await s.scalars(select(Offer).where(Offer.ap_id.in_(ap_ids)))
    return {row.ap_id: row for row in rows}


async def actors(s: AsyncSession, ap_ids: list[str]) -> dict[str, Actor]:
    """The stored actors among ``ap_ids``, by id."""
    if not ap_ids:
        return {}
    rows = await s.scalars(select(Actor).where(Actor.ap_id.in_(ap_ids)))
    return {row.ap_id: row for row in rows}
