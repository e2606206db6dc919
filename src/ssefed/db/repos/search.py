"""What the search projection (domain/search_projection.py) reads: the change feed (the
organisation actors and offers changed since a time, by ``updated_at``) and the rows of
organisations and offers its entries are made from."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import select, union
from sqlalchemy.ext.asyncio import AsyncSession

from ssefed.db.models import Actor, Application, Membership, Offer, Organisation


async def changed_actor_ids(s: AsyncSession, since: datetime | None) -> list[int]:
    """Organisation actors changed since ``since`` (all of them when None): their row,
    their organisation's, or this network's application (its decision) changed. (A
    members collection read again touches the actors whose listing changed.)"""
    q1 = select(Actor.id).join(Organisation, Organisation.actor_id == Actor.id)
    q2 = select(Organisation.actor_id)
    if since is None:
        rows = await s.execute(union(q1, q2))
        return sorted({r[0] for r in rows})
    q1 = q1.where(Actor.updated_at >= since)
    q2 = q2.where(Organisation.updated_at >= since)
    q3 = select(Application.applicant_id).where(Application.local_network.is_(True),
                                                Application.updated_at >= since)
    rows = await s.execute(union(q1, q2, q3))
    return sorted({r[0] for r in rows})


async def members_of(s: AsyncSession, networks: Iterable[str]) -> list[int]:
    """Ids of the actors known here that these networks' members collections list."""
    networks = list(networks)
    if not networks:
        return []
    rows = await s.scalars(select(Actor.id).join(Membership,
                                                 Membership.member_ap_id == Actor.ap_id)
                           .where(Membership.network_ap_id.in_(networks)))
    return sorted(set(rows))


async def changed_offer_ids(s: AsyncSession, since: datetime | None,
                            actor_ids: list[int]) -> list[int]:
    ids: set[int] = set()
    q = select(Offer.id)
    if since is not None:
        q = q.where(Offer.updated_at >= since)
    ids |= set((await s.execute(q)).scalars())
    for i in range(0, len(actor_ids), 500):
        ids |= set((await s.execute(select(Offer.id).where(
            Offer.actor_id.in_(actor_ids[i:i + 500])))).scalars())
    return sorted(ids)


# every column of the organisation (a new field is there for the search's facets), with
# its actor's
_ORG = [c for c in Organisation.__table__.c if c.name not in ("actor_id", "updated_at")]
_ORG_COLUMNS = (Actor.id.label("actor_id"), Actor.ap_id, Actor.local, Actor.domain, Actor.name,
                Actor.summary, Actor.is_network, Actor.deleted_at, *_ORG)


async def organisations(s: AsyncSession, actor_ids: list[int]) -> list[Any]:
    """Rows of what an organisation's search entry may read (no ORM objects: a load reads
    thousands)."""
    return list((await s.execute(select(*_ORG_COLUMNS)
                                 .join(Organisation, Organisation.actor_id == Actor.id)
                                 .where(Actor.id.in_(actor_ids)))).all())


# every column of the offer, and of its publisher's organisation as org_<column>
_OFFER_COLUMNS = (*[c for c in Offer.__table__.c if c.name != "actor_id"],
                  Actor.id.label("actor_id"), Actor.ap_id.label("actor_ap_id"), Actor.domain,
                  Actor.name.label("actor_name"), Actor.deleted_at.label("actor_deleted_at"),
                  *[c.label(f"org_{c.name}") for c in _ORG])


async def offers(s: AsyncSession, offer_ids: list[int]) -> list[Any]:
    """Rows of what an offer's search entry may read, with its publisher's facts."""
    return list((await s.execute(
        select(*_OFFER_COLUMNS)
        .join(Actor, Actor.id == Offer.actor_id)
        .outerjoin(Organisation, Organisation.actor_id == Actor.id)
        .where(Offer.id.in_(offer_ids)))).all())


async def keys_of(s: AsyncSession, iri: str) -> tuple[int | None, int | None]:
    """(the actor id of the organisation, the id of the offer) whose IRI is ``iri``."""
    actor_id = await s.scalar(select(Actor.id).join(
        Organisation, Organisation.actor_id == Actor.id).where(Actor.ap_id == iri))
    offer_id = None if actor_id else await s.scalar(select(Offer.id).where(Offer.ap_id == iri))
    return actor_id, offer_id
