"""Data access for participatory validation: charters, reviewers, applications,
endorsements, the endorsers' colleges and decisions."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ssefed.db.models import (Actor, Application, Charter, Decision, Endorsement, Endorser,
                              Organisation, Reviewer)
from ssefed.db.base import utcnow


# -- charters ------------------------------------------------------------------------------
async def latest_charter(s: AsyncSession, network: str, slug: str) -> Charter | None:
    return await s.scalar(select(Charter).where(Charter.network_ap_id == network,
                                                Charter.slug == slug)
                          .order_by(Charter.version.desc()).limit(1))


async def charter_by_iri(s: AsyncSession, iri: str) -> Charter | None:
    return await s.scalar(select(Charter).where(Charter.ap_id == iri))


async def charters_of(s: AsyncSession, network: str) -> list[Charter]:
    return list(await s.scalars(select(Charter).where(Charter.network_ap_id == network)
                                .order_by(Charter.slug, Charter.version.desc()).limit(500)))


# -- reviewers -----------------------------------------------------------------------------
async def reviewer(s: AsyncSession, actor_id: int) -> Reviewer | None:
    return await s.get(Reviewer, actor_id)


async def reviewers(s: AsyncSession) -> list[tuple[Actor, Reviewer]]:
    rows = await s.execute(select(Actor, Reviewer).join(Reviewer, Reviewer.actor_id == Actor.id)
                           .where(Actor.deleted_at.is_(None)).order_by(Actor.handle))
    return [(a, r) for a, r in rows]


async def reviewer_colleges(s: AsyncSession, iris: list[str]) -> dict[str, str | None]:
    """The local reviewers among ``iris``, with the college the admin gave them."""
    if not iris:
        return {}
    rows = await s.execute(select(Actor.ap_id, Reviewer.college)
                           .join(Reviewer, Reviewer.actor_id == Actor.id)
                           .where(Actor.ap_id.in_(iris[:1000])))
    return {a: c for a, c in rows}


# -- applications --------------------------------------------------------------------------
async def application(s: AsyncSession, *, id_: int | None = None, ap_id: str | None = None,
                      join_ap_id: str | None = None) -> Application | None:
    q = select(Application)
    if id_ is not None:
        q = q.where(Application.id == id_)
    elif ap_id is not None:
        q = q.where(Application.ap_id == ap_id)
    else:
        q = q.where(Application.join_ap_id == join_ap_id)
    return await s.scalar(q)


async def applications(s: AsyncSession, network: str, states: tuple[str, ...],
                       limit: int = 200) -> list[tuple[Application, Actor]]:
    rows = await s.execute(select(Application, Actor)
                           .join(Actor, Actor.id == Application.applicant_id)
                           .where(Application.network_ap_id == network,
                                  Application.state.in_(states))
                           .order_by(Application.id).limit(limit))
    return [(a, b) for a, b in rows]


async def open_application(s: AsyncSession, network: str, applicant_id: int
                           ) -> Application | None:
    return await s.scalar(select(Application).where(
        Application.network_ap_id == network, Application.applicant_id == applicant_id,
        Application.state.in_(("pending", "needs_more"))))


async def outgoing_validated(s: AsyncSession, applicant_id: int, today: date) -> list[str]:
    """The other networks that validated a local organisation (and until when it holds)."""
    rows = await s.scalars(select(Application.network_ap_id).where(
        Application.applicant_id == applicant_id, Application.local_network.is_(False),
        Application.state == "validated",
        (Application.valid_until.is_(None)) | (Application.valid_until >= today)))
    return sorted(set(rows))


def remote_members_query():
    """Remote organisations this network validated (members of it on other nodes)."""
    return (select(Actor, Application.state, Application.valid_until)
            .join(Application, Application.applicant_id == Actor.id)
            .where(Application.local_network.is_(True), Application.state == "validated",
                   Actor.local.is_(False), Actor.deleted_at.is_(None)))


async def remote_member_vouchers(s: AsyncSession, iris: list[str]
                                 ) -> dict[str, date | None]:
    """Of ``iris``, the remote organisations this network validated, with the end."""
    out: dict[str, date | None] = {}
    for i in range(0, len(iris), 500):
        rows = await s.execute(remote_members_query().where(Actor.ap_id.in_(iris[i:i + 500])))
        for actor, _, until in rows:
            out[actor.ap_id] = until
    return out


async def is_validated_member(s: AsyncSession, iri: str, today: date) -> bool:
    """Whether ``iri`` is a currently validated member of this node's network."""
    actor = await s.scalar(select(Actor).where(Actor.ap_id == iri))
    if actor is None:
        return False
    if actor.local:
        org = await s.get(Organisation, actor.id)
        return bool(org and org.validation_status == "validated"
                    and (org.valid_until is None or org.valid_until >= today))
    until = (await remote_member_vouchers(s, [iri])).get(iri, "none")
    return until != "none" and (until is None or until >= today)


# -- endorsements --------------------------------------------------------------------------
async def endorsement(s: AsyncSession, ap_id: str) -> Endorsement | None:
    return await s.scalar(select(Endorsement).where(Endorsement.ap_id == ap_id))


async def endorsement_by_id(s: AsyncSession, id_: int) -> Endorsement | None:
    return await s.get(Endorsement, id_)


async def endorsements_of(s: AsyncSession, application_ap_id: str) -> list[Endorsement]:
    return list(await s.scalars(select(Endorsement).where(
        Endorsement.application_ap_id == application_ap_id,
        Endorsement.withdrawn_at.is_(None)).order_by(Endorsement.id).limit(1000)))


async def endorsements_by_iri(s: AsyncSession, iris: list[str]) -> dict[str, Endorsement]:
    out: dict[str, Endorsement] = {}
    for i in range(0, len(iris), 500):
        for e in await s.scalars(select(Endorsement).where(
                Endorsement.ap_id.in_(iris[i:i + 500]), Endorsement.withdrawn_at.is_(None))):
            out[e.ap_id] = e
    return out


async def withdraw(s: AsyncSession, ap_id: str, endorser: str) -> None:
    """The endorser took its endorsement back (an Undo of its Like)."""
    row = await endorsement(s, ap_id)
    if row is not None and row.endorser_ap_id == endorser and row.withdrawn_at is None:
        row.withdrawn_at = utcnow()


async def count_endorsements(s: AsyncSession, application_ap_id: str) -> int:
    return int(await s.scalar(select(func.count()).select_from(Endorsement).where(
        Endorsement.application_ap_id == application_ap_id,
        Endorsement.withdrawn_at.is_(None))) or 0)


# -- endorsers' colleges -------------------------------------------------------------------
async def endorser(s: AsyncSession, ap_id: str) -> Endorser | None:
    return await s.get(Endorser, ap_id)


async def declare(s: AsyncSession, ap_id: str, college: str | None) -> Endorser:
    """Record the college an endorser declares (a confirmed college is kept)."""
    row = await s.get(Endorser, ap_id)
    if row is None:
        row = Endorser(ap_id=ap_id, declared=college)
        s.add(row)
    elif college is not None:
        row.declared = college
    return row


async def colleges(s: AsyncSession, iris: list[str]) -> dict[str, Endorser]:
    if not iris:
        return {}
    return {e.ap_id: e for e in await s.scalars(
        select(Endorser).where(Endorser.ap_id.in_(iris[:1000])))}


async def unconfirmed_endorsers(s: AsyncSession, limit: int = 200) -> list[Endorser]:
    return list(await s.scalars(select(Endorser).where(Endorser.college.is_(None))
                                .order_by(Endorser.ap_id).limit(limit)))


# -- decisions -----------------------------------------------------------------------------
async def decision(s: AsyncSession, ap_id: str) -> Decision | None:
    return await s.scalar(select(Decision).where(Decision.ap_id == ap_id))


async def decisions_of(s: AsyncSession, applicants: list[str]
                       ) -> dict[tuple[str, str], Decision]:
    """The newest decision on each of these organisations, per (network, organisation)."""
    out: dict[tuple[str, str], Decision] = {}
    for i in range(0, len(applicants), 500):
        for d in await s.scalars(select(Decision).where(
                Decision.applicant_ap_id.in_(applicants[i:i + 500])).order_by(Decision.id)):
            out[(d.network_ap_id, d.applicant_ap_id)] = d  # ordered by id: the newest wins
    return out


async def open_applications_of(s: AsyncSession, endorser: str) -> set[int]:
    """This network's open applications that ``endorser`` endorsed or objected to."""
    rows = await s.scalars(select(Application.id).join(
        Endorsement, Endorsement.application_ap_id == Application.ap_id).where(
        Endorsement.endorser_ap_id == endorser, Application.local_network.is_(True),
        Application.state.in_(("pending", "needs_more"))))
    return set(rows)
