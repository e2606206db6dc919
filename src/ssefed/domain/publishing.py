"""Offers and demands published to followers: Create, Update and Delete activities
queued in the same transaction as the change."""

from __future__ import annotations

from typing import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from ssefed.db.base import utcnow
from ssefed.db.models import Actor, Offer
from ssefed.domain import outbox
from ssefed.vocab import to_as
from ssefed.db.repos import actors as actor_repo
from ssefed.domain import freshness
from ssefed.domain import offers as offer_domain
from ssefed.db.models import OfferInput


def offer_activity(actor: Actor, offer: Offer, verb: str) -> dict:
    """The ``verb`` (Create, Update or Delete) activity of ``offer``, addressed to Public
    and its author's followers (also used by the bulk import)."""
    if verb == "Delete":
        obj = {"id": offer.ap_id, "type": "Tombstone", "formerType": "Proposal"}
    else:
        obj = to_as.strip_context(to_as.offer_object(offer, actor))
    doc = to_as.activity(actor.ap_id, verb, obj, to=[to_as.PUBLIC],
                         cc=[f"{actor.ap_id}/followers"], published=utcnow())
    if verb != "Delete":
        doc["@context"] = [to_as.AS_CONTEXT, to_as.SECURITY_CONTEXT,
                           {**to_as.INLINE_TERMS, **to_as.OFFER_TERMS}]
    return doc


async def publish_offer(s: AsyncSession, actor: Actor, offer: Offer, verb: str) -> None:
    """Queue ``verb`` (Create, Update or Delete) of ``offer`` to its author's followers."""
    doc = offer_activity(actor, offer, verb)
    await outbox.publish(s, actor, doc, inboxes=await outbox.follower_inboxes(s, actor))


async def announce(s: AsyncSession, network: Actor, object_iri: str) -> None:
    """The network's actor boosts a member's publication to the network's followers."""
    doc = to_as.activity(network.ap_id, "Announce", object_iri, to=[to_as.PUBLIC],
                         cc=[f"{network.ap_id}/followers"], published=utcnow())
    await outbox.publish(s, network, doc, inboxes=await outbox.follower_inboxes(s, network))


async def add_offer(s: AsyncSession, ids, actor: Actor, data, *, lat: float | None,
                    lon: float | None, announce_it: bool = True,
                    validity_days: Mapping[str, int] | None = None) -> Offer:
    """Create an offer or demand and queue its Create (and the network's Announce). One
    given without an end date holds for its kind's period of ``validity_days``
    (``[freshness] offer_validity_days``)."""
    if data.valid_until is None and validity_days:
        data.valid_until = freshness.offer_end(data.kind, utcnow().date(), validity_days)
    offer = await offer_domain.create(s, ids, actor, data, lat=lat, lon=lon)
    await publish_offer(s, actor, offer, "Create")
    if announce_it:
        network = await actor_repo.get_network(s)
        if network is not None:
            await announce(s, network, offer.ap_id)
    return offer


async def update_offer(s: AsyncSession, actor: Actor, offer: Offer, data) -> None:
    """Set an offer's fields from ``data`` (a checked domain.offers.OfferInput) and queue
    its Update to the author's followers."""
    for f in ("direction", "kind", "role", "exchange", "category", "title", "summary",
              "quantity", "unit", "price", "currency", "lat", "lon", "valid_until"):
        setattr(offer, f, getattr(data, f))
    offer.inputs = [OfferInput(category=c, position=i)
                    for i, c in enumerate(dict.fromkeys(data.inputs))]
    offer.updated_at = utcnow()
    await s.flush()
    await publish_offer(s, actor, offer, "Update")


async def withdraw_offer(s: AsyncSession, actor: Actor, offer: Offer) -> None:
    """Withdraw an offer (its URL then answers 410) and queue its Delete."""
    offer.deleted_at = utcnow()
    await publish_offer(s, actor, offer, "Delete")
