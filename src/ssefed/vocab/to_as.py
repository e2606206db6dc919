"""Converters from our models to the ActivityStreams JSON we publish.

``@context`` is written as Mastodon and Fedify do: standard context URLs that every
server bundles, plus our own terms inline, so nobody has to fetch a context of ours.
"""

from __future__ import annotations

import html
import uuid
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import serialization

from ssefed.db.models import Actor, ActorKey

AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
SECURITY_CONTEXT = "https://w3id.org/security/v1"
MULTIKEY_CONTEXT = "https://w3id.org/security/multikey/v1"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
SSEFED_NS = "https://w3id.org/ssefed/ns#"

INLINE_TERMS: dict[str, Any] = {
    "ssefed": SSEFED_NS,
    "toot": "http://joinmastodon.org/ns#",
    "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
    "discoverable": "toot:discoverable",
    "indexable": "toot:indexable",
}
CONTEXT: list[Any] = [AS_CONTEXT, SECURITY_CONTEXT, MULTIKEY_CONTEXT, INLINE_TERMS]
ACTIVITY_CONTEXT: list[Any] = [AS_CONTEXT, SECURITY_CONTEXT, INLINE_TERMS]

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def iso(ts: datetime) -> str:
    return ts.astimezone().strftime("%Y-%m-%dT%H:%M:%SZ") if ts.tzinfo is None else \
        ts.astimezone(tz=ts.tzinfo).strftime("%Y-%m-%dT%H:%M:%SZ")


def _b58encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = _B58[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def ed25519_multibase(public_pem: str) -> str:
    """FEP-521a publicKeyMultibase: base58btc of the multicodec 0xed01 + the raw key."""
    key = serialization.load_pem_public_key(public_pem.encode())
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "z" + _b58encode(b"\xed\x01" + raw)


def paragraphs(text: str) -> str:
    """Plain text -> HTML paragraphs (escaped), as fediverse servers show ``summary``."""
    parts = [p.strip() for p in text.split("\n\n") if p.strip()]
    return "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in parts)


class Urls:
    """The URLs of a local actor's endpoints (its IRI is minted by vocab.ids)."""

    def __init__(self, actor_iri: str, base_url: str) -> None:
        self.id = actor_iri
        self.inbox = f"{actor_iri}/inbox"
        self.outbox = f"{actor_iri}/outbox"
        self.followers = f"{actor_iri}/followers"
        self.following = f"{actor_iri}/following"
        self.shared_inbox = f"{base_url.rstrip('/')}/inbox"


def actor_document(actor: Actor, keys: list[ActorKey], base_url: str) -> dict[str, Any]:
    """The ActivityPub document of a local actor."""
    urls = Urls(actor.ap_id, base_url)
    doc: dict[str, Any] = {
        "@context": CONTEXT,
        "id": actor.ap_id,
        "type": actor.type,
        "preferredUsername": actor.handle,
        "name": actor.name,
        "summary": paragraphs(actor.summary),
        "url": actor.ap_id,
        "inbox": urls.inbox,
        "outbox": urls.outbox,
        "followers": urls.followers,
        "following": urls.following,
        "endpoints": {"sharedInbox": urls.shared_inbox},
        "manuallyApprovesFollowers": actor.manually_approves_followers,
        "discoverable": True,
        "indexable": True,
        "published": iso(actor.created_at),
    }
    for key in keys:
        if key.kind == "rsa":
            doc["publicKey"] = {"id": key.key_id, "owner": actor.ap_id,
                                "publicKeyPem": key.public_pem}
        elif key.kind == "ed25519":
            doc["assertionMethod"] = [{"id": key.key_id, "type": "Multikey",
                                       "controller": actor.ap_id,
                                       "publicKeyMultibase": ed25519_multibase(key.public_pem)}]
    return doc


def tombstone(actor: Actor) -> dict[str, Any]:
    doc: dict[str, Any] = {"@context": AS_CONTEXT, "id": actor.ap_id, "type": "Tombstone",
                           "formerType": actor.type}
    if actor.deleted_at is not None:
        doc["deleted"] = iso(actor.deleted_at)
    return doc


def activity_id(actor_iri: str, kind: str) -> str:
    return f"{actor_iri}/activities/{kind.lower()}-{uuid.uuid4()}"


def activity(actor_iri: str, type_: str, obj: Any, *, to: list[str], cc: list[str] | None = None,
             published: datetime | None = None, id_: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"@context": ACTIVITY_CONTEXT, "id": id_ or activity_id(actor_iri, type_),
                           "type": type_, "actor": actor_iri, "object": obj, "to": to}
    if cc:
        doc["cc"] = cc
    if published is not None:
        doc["published"] = iso(published)
    return doc


def strip_context(doc: dict[str, Any]) -> dict[str, Any]:
    """An embedded object carries no @context of its own."""
    return {k: v for k, v in doc.items() if k != "@context"}


def ordered_collection(collection_id: str, total: int, first: str | None) -> dict[str, Any]:
    doc: dict[str, Any] = {"@context": AS_CONTEXT, "id": collection_id,
                           "type": "OrderedCollection", "totalItems": total}
    if first is not None:
        doc["first"] = first
    return doc


def collection_page(page_id: str, part_of: str, items: list[Any], next_: str | None
                    ) -> dict[str, Any]:
    doc: dict[str, Any] = {"@context": AS_CONTEXT, "id": page_id,
                           "type": "OrderedCollectionPage", "partOf": part_of,
                           "orderedItems": items}
    if next_ is not None:
        doc["next"] = next_
    return doc
