"""A received offer (or demand): a FEP-0837 Proposal of another node's organisation."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ssefed.db.models import Actor, Offer
from ssefed.db.repos import offers as offer_repo
from ssefed.federation import trust
from ssefed.vocab import proposals


def read_offer(doc: dict[str, Any]) -> proposals.RemoteProposal:
    """The fields of the offer ``doc``, once its JSON Schema is met. Raise
    proposals.SchemaError (with the path at fault) or ParseError (both ValueError). Whose
    offer it is, is trust.owned_object's to say, before."""
    proposals.check_schema("offer", doc)
    return proposals.read_proposal(doc)


def store_offer(s: AsyncSession, stored: Offer | None, offer: proposals.RemoteProposal,
                doc: dict[str, Any], author: Actor) -> Offer:
    """Store ``offer`` (``stored``: the row of its id, if any) as ``author``'s; refused
    (trust.Untrusted, nothing changed) when that row is another actor's or this node's."""
    if stored is not None:
        trust.check_stored_owner("id", None if stored.local else stored.actor_id, author.id)
    return offer_repo.store_remote(s, stored, author.id, offer, doc)
