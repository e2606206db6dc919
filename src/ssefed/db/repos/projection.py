"""Data access for the SPARQL projection: what changed since a watermark, and the rows
to project. Read-only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ssefed.db.models import Actor, Offer, Organisation, RemoteObject

#: source name -> (id column, updated_at column); the rows of each are read by the function
#: of the same name below (graph/projection.py looks it up by name)
SOURCES = {
    "actors": (Actor.id, Actor.updated_at),
    "organisations": (Organisation.actor_id, Organisation.updated_at),
    "offers": (Offer.id, Offer.updated_at),
    "remote_objects": (RemoteObject.id, RemoteObject.updated_at),
}


async def changed(s: AsyncSession, source: str, since: datetime | None,
                  after: tuple[datetime, int] | None, limit: int) -> list[tuple[datetime, int]]:
    """(updated_at, id) of the rows of ``source`` changed at or after ``since``, in
    (updated_at, id) order, starting after the key ``after`` (keyset paging)."""
    id_col, ts_col = SOURCES[source]
    q = select(ts_col, id_col).order_by(ts_col, id_col).limit(limit)
    if since is not None:
        q = q.where(ts_col >= since)
    if after is not None:
        q = q.where(or_(ts_col > after[0], and_(ts_col == after[0], id_col > after[1])))
    return [(ts, id_) for ts, id_ in await s.execute(q)]


async def network_iri(s: AsyncSession) -> str | None:
    return await s.scalar(select(Actor.ap_id).where(Actor.is_network.is_(True),
                                                    Actor.local.is_(True)))


async def actors(s: AsyncSession, ids: list[int]) -> list[tuple[Actor, Organisation | None]]:
    if not ids:
        return []
    rows = await s.execute(select(Actor, Organisation).outerjoin(Organisation)
                           .where(Actor.id.in_(ids)))
    return [(a, o) for a, o in rows]


async def offer_ids_of(s: AsyncSession, actor_ids: list[int]) -> list[int]:
    if not actor_ids:
        return []
    return list(await s.scalars(select(Offer.id).where(Offer.actor_id.in_(actor_ids))))


async def offers(s: AsyncSession, ids: list[int]) -> list[tuple[Offer, Actor]]:
    if not ids:
        return []
    rows = await s.execute(select(Offer, Actor).join(Actor, Offer.actor_id == Actor.id)
                           .where(Offer.id.in_(ids)))
    return [(o, a) for o, a in rows]


async def remote_objects(s: AsyncSession, ids: list[int]) -> list[RemoteObject]:
    if not ids:
        return []
    return list(await s.scalars(select(RemoteObject).where(RemoteObject.id.in_(ids))))
