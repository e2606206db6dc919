"""A received object (of a Create or Update, announced, or read from an outbox): checked
as its author's, read, and stored, as an offer too when it is one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import Connection

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


# What store_objects says of a received offer whose author is not stored here (or only
# as an actor without an inbox): fetch the author, then store it again.
AUTHOR_UNKNOWN = "author unknown"


def store_objects(conn: Connection, received: list[ReceivedObject]
                  ) -> list[trust.Untrusted | str | None]:
    """Insert or refresh each of ``received`` (and its offer, as its author's), in order,
    in the write transaction of ``conn`` (``Database.run``); one outcome per item: None
    (stored), ``trust.Untrusted`` (refused, nothing of it written: its id is stored as
    another actor's, or this node's) or AUTHOR_UNKNOWN. A later item with the id of an
    earlier one is checked against what the earlier one stored."""
    stored = received_repo.stored(
        conn, [r.id for r in received], [r.offer.id for r in received if r.offer],
        [r.author for r in received if r.offer])
    changes = received_repo.Changes()
    outcomes: list[trust.Untrusted | str | None] = []
    publishers: dict[str, dict[str, Any] | None] = {}  # authors of the offers stored
    for item in received:
        author = stored.authors.get(item.author) if item.offer else None
        if item.offer is not None and (author is None or not (author.local or author.inbox)):
            outcomes.append(AUTHOR_UNKNOWN)
            continue
        try:
            if item.id in stored.objects:
                trust.check_stored_owner("object.attributedTo", stored.objects[item.id],
                                         item.author)
            if item.offer is not None and item.offer.id in stored.offers:
                owner = stored.offers[item.offer.id]
                trust.check_stored_owner("id", None if owner.local else owner.actor_id,
                                         author.id)
        except trust.Untrusted as exc:
            outcomes.append(exc)
            continue
        changes.object(item.id, item.type, item.author, item.doc, item.id in stored.objects)
        stored.objects[item.id] = item.author
        if item.offer is not None:
            row = stored.offers.setdefault(item.offer.id, received_repo.StoredOffer(
                None, author.id, False))
            changes.offer(item.offer, item.doc, author.id, row.id)
            publishers[item.author] = author.ap_json
        outcomes.append(None)
    received_repo.write(conn, changes)
    first_reads(conn, [n for doc in publishers.values() for n in names_networks(doc)[:5]])
    return outcomes


def first_reads(conn: Connection, networks: list[str]) -> None:
    """Queue the first read of the members collections of ``networks`` (named by remote
    organisations whose offers were stored) that this node never read, so the guarantee
    of their offers can be checked."""
    claimed = list(dict.fromkeys(networks))
    known = network_repo.checked(conn, claimed)
    for network in claimed:
        if network not in known:
            job_repo.enqueue(conn, "network.members", {"network": network},
                             dedupe_key=f"network.members:first:{network}")
