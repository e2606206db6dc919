"""Re-confirming: an organisation (or the admin for it) says that what the directory shows
is still right, as it is. Its validation is extended to today + ``validation_months``
(through membership.set_approval: the network's ``Add`` to its members collection and the
actor's ``Update``), and its current offers and demands to today + their kind's period
(an ``Update`` of each, to the organisation's followers and to the network's, who received
it through the network's ``Announce``). Its reminders are then answered."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from ssefed.config import FreshnessConfig
from ssefed.db.base import utcnow
from ssefed.db.models import Actor, Offer, Organisation
from ssefed.db.repos import actors as actor_repo
from ssefed.db.repos import freshness as fresh_repo
from ssefed.db.session import Database
from ssefed.domain import freshness, outbox
from ssefed.domain.errors import Conflict, NotFound
from ssefed.domain.publishing import offer_activity
from ssefed.vocab.ids import LocalIds
from ssefed.domain.membership import set_approval

MAX_OFFERS = 1000  # offers re-confirmed by one action


@dataclass
class Reconfirmed:
    """What was extended: the organisation's validation end (None when only offers were)
    and each offer's IRI with its new end."""
    actor: str
    validation_until: date | None = None
    offers: list[tuple[str, date]] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"actor": self.actor,
                "validation": None if self.validation_until is None else {
                    "status": "validated", "validUntil": self.validation_until.isoformat()},
                "offers": [{"id": iri, "validUntil": until.isoformat()}
                           for iri, until in self.offers]}


def check_reconfirmable(actor: Actor, org: Organisation | None) -> None:
    """Raise Conflict, saying why, unless the organisation has a validation to extend
    (validated, or expired)."""
    if org is None or actor.is_network:
        raise Conflict(f"@{actor.handle} is not a member organisation")
    if org.validation_status == "refused":
        raise Conflict(f"@{actor.handle} cannot be re-confirmed: the network refused its "
                       "validation (only a validated or expired validation is re-confirmed)")
    if org.validation_status not in ("validated", "expired"):
        raise Conflict(f"@{actor.handle} cannot be re-confirmed: it is not validated by the "
                       f"network (its validation is {org.validation_status}); the network "
                       "validates it first (ssefed org approve)")


async def _publish_update(s: AsyncSession, actor: Actor, offer: Offer) -> None:
    network = await actor_repo.get_network(s)
    inboxes = await outbox.follower_inboxes(s, actor)
    if network is not None:
        inboxes += await outbox.follower_inboxes(s, network)
    await outbox.publish(s, actor, offer_activity(actor, offer, "Update"),
                         inboxes=list(dict.fromkeys(inboxes)))


async def reconfirm_offers(s: AsyncSession, actor: Actor, offers: list[Offer],
                           fresh: FreshnessConfig, today: date) -> list[tuple[str, date]]:
    """Extend these offers of ``actor`` (in the open write session) and queue their Updates."""
    done = []
    for offer in offers:
        offer.valid_until = freshness.offer_end(offer.kind, today, fresh.offer_validity_days)
        offer.updated_at = utcnow()
        await s.flush()
        await _publish_update(s, actor, offer)
        done.append((offer.ap_id, offer.valid_until))
    await fresh_repo.resolve(s, [iri for iri, _ in done], utcnow())
    return done


async def reconfirm_offer(db: Database, actor: Actor, offer_iri: str, fresh: FreshnessConfig,
                          *, today: date) -> Reconfirmed:
    """Re-confirm one current offer or demand of ``actor`` as it is (NotFound when it is
    not one of its own, or withdrawn)."""
    async with db.write() as s:
        offer = await fresh_repo.current_offer(s, actor.id, offer_iri)
        if offer is None:
            raise NotFound(f"{offer_iri} is not a current offer or demand of @{actor.handle}")
        row = await s.get(Actor, actor.id)
        done = await reconfirm_offers(s, row, [offer], fresh, today)
    return Reconfirmed(actor.ap_id, None, done)


async def reconfirm_organisation(db: Database, ids: LocalIds, base_url: str, actor: Actor,
                                 fresh: FreshnessConfig, *, today: date) -> Reconfirmed:
    """Re-confirm an organisation as it is: its validation (it must be validated or
    expired; Conflict otherwise, saying why) and all its current offers and demands."""
    async with db.read() as s:
        org = await s.get(Organisation, actor.id)
    check_reconfirmable(actor, org)
    until = freshness.validation_end(today, fresh.validation_months)
    await set_approval(db, ids, base_url, actor, until)
    async with db.write() as s:
        row = await s.get(Actor, actor.id)
        offers = await fresh_repo.current_offers(s, actor.id, MAX_OFFERS)
        done = await reconfirm_offers(s, row, offers, fresh, today)
        await fresh_repo.resolve(s, [actor.ap_id], utcnow())
    return Reconfirmed(actor.ap_id, until, done)
