"""A received object (of a Create or Update, announced, or read from an outbox): checked
as its author's, read, and stored, as an offer too when it is one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession

from ssefed.db.models import Actor, Offer, RemoteObject
from ssefed.db.repos import jobs as job_repo
from ssefed.db.repos import networks as network_repo
from ssefed.db.repos import received as received_repo
from ssefed.federation import trust
from ssefed.federation.apply import offers
from ssefed.federation.networks import names_networks
from ssefed.vocab import from_as, proposals, vetting_as


def with_context(obj: dict[str, Any], container: dict[str, Any]) -> dict[str, Any]:
    """An object embedded in an activity (or a collection page) means what its JSON-LD
    says under the context of what embeds it: stored alone, it keeps that context
    (else its FEP-0837 terms, defined by the activity's context, would mean nothing)."""
    if "@context" in obj or "@context" not in container:
        return obj
    return {"@context": container["@context"], **obj}


def replies_to_application(obj: dict[str, Any]) -> bool:
    """A reply to a membership application: an objection (federation/vetting.py)."""
    return "/applications/" in str(obj.get("inReplyTo") or "")


def stored_as_sent(activity: from_as.Activity) -> dict[str, Any] | None:
    """The object a Create or Update asks to store as it was sent (embedded, from its
    actor's own origin: nothing to fetch), with the activity's context; None when the
    activity takes more than that (a profile, an endorsement, an objection, an object
    to fetch from its origin): then only Handlers applies it."""
    obj = activity.object
    if (activity.type not in ("Create", "Update") or obj is None
            or activity.object_id == activity.actor or vetting_as.is_endorsement(obj)
            or replies_to_application(obj)
            or not trust.same_origin(obj.get("id") or activity.actor, activity.actor)):
        return None
    return with_context(obj, activity.raw)


@dataclass(frozen=True)
class ReceivedObject:
    """A received object, checked as ``author``'s and read (``offer``: when it is one)."""

    doc: dict[str, Any]
    id: str
    type: str
    author: str
    offer: proposals.RemoteProposal | None


def read_object(doc: dict[str, Any], author: str | None,
                is_local: Callable[[str], bool]) -> ReceivedObject:
    """``doc`` as ``author``'s object (trust.owned_object) and, for an offer, its fields
    (offers.read_offer). Raise ValueError (trust.Untrusted, SchemaError, ParseError)."""
    object_id, object_type, attributed = trust.owned_object(doc, author, is_local)
    offer = offers.read_offer(doc) if proposals.is_proposal(doc) else None
    return ReceivedObject(doc, object_id, object_type, attributed, offer)


def can_author(actor: Actor | None) -> bool:
    """Is ``actor`` stored as one whose offers may be stored (else it is to be fetched)?"""
    return actor is not None and bool(actor.local or actor.inbox)


class Stored:
    """The stored rows a write transaction applies received objects to, by id: read
    when first asked for, or for a whole batch at once (``load``)."""

    def __init__(self, s: AsyncSession) -> None:
        self.s = s
        self.objects: dict[str, RemoteObject | None] = {}
        self.offers: dict[str, Offer | None] = {}
        self.authors: dict[str, Actor | None] = {}
        self.networks: set[str] = set()  # those whose first reading is queued (or known)

    async def load(self, received: list[ReceivedObject]) -> None:
        """Read the rows of all of ``received`` at once (one query per table)."""
        ids = list(dict.fromkeys(r.id for r in received))
        offer_ids = list(dict.fromkeys(r.offer.id for r in received if r.offer))
        authors = list(dict.fromkeys(r.author for r in received if r.offer))
        self.objects.update({**dict.fromkeys(ids), **await received_repo.objects(self.s, ids)})
        self.offers.update({**dict.fromkeys(offer_ids),
                            **await received_repo.offers(self.s, offer_ids)})
        self.authors.update({**dict.fromkeys(authors),
                             **await received_repo.actors(self.s, authors)})

    async def object(self, ap_id: str) -> RemoteObject | None:
        if ap_id not in self.objects:
            self.objects.update({ap_id: None, **await received_repo.objects(self.s, [ap_id])})
        return self.objects[ap_id]

    async def offer(self, ap_id: str) -> Offer | None:
        if ap_id not in self.offers:
            self.offers.update({ap_id: None, **await received_repo.offers(self.s, [ap_id])})
        return self.offers[ap_id]

    def forget_unsaved(self) -> None:
        """After a savepoint rolled back: drop the rows it added (gone) or changed (expired:
        read again when next asked for, never lazily loaded), and the networks it queued."""
        self.networks.clear()
        for rows in (self.objects, self.offers):
            for ap_id, row in list(rows.items()):
                if row is not None and (not inspect(row).persistent
                                        or inspect(row).expired_attributes):
                    del rows[ap_id]


async def store_object(s: AsyncSession, received: ReceivedObject, author: Actor | None,
                       stored: Stored) -> None:
    """Insert or refresh ``received`` (and its offer, as ``author``'s: the stored actor
    ``received.author``) in the write session ``s``. Raise trust.Untrusted, before
    anything is changed, when its id is stored as another actor's."""
    row = await stored.object(received.id)
    if row is not None:
        trust.check_stored_owner("object.attributedTo", row.attributed_to, received.author)
    if received.offer is not None:
        assert author is not None and author.ap_id == received.author
        offer_row = await stored.offer(received.offer.id)
        stored.offers[received.offer.id] = offers.store_offer(
            s, offer_row, received.offer, received.doc, author)
        await check_networks(s, [author.ap_json], stored.networks)
    if row is None:
        stored.objects[received.id] = RemoteObject(
            ap_id=received.id, type=received.type, attributed_to=received.author,
            ap_json=received.doc)
        s.add(stored.objects[received.id])
    else:
        row.ap_json, row.type, row.deleted_at = received.doc, received.type, None


async def check_networks(s: AsyncSession, actor_docs: list[dict[str, Any] | None],
                         seen: set[str] | None = None) -> None:
    """In the write session ``s``: queue the first read of the members collections of the
    networks these remote organisations name (at most 5 each) that this node never read,
    so the guarantee of their offers can be checked. ``seen``: networks already looked at
    in this transaction (added to)."""
    seen = set() if seen is None else seen
    claimed = [n for n in dict.fromkeys(n for doc in actor_docs for n in names_networks(doc)[:5])
               if n not in seen]
    if not claimed:
        return
    seen.update(claimed)
    known = await network_repo.checked(s, claimed)
    for network in claimed:
        if network not in known:
            await job_repo.enqueue(s, "network.members", {"network": network},
                                   dedupe_key=f"network.members:first:{network}")
