"""Converters from our models to the ActivityStreams JSON we publish.

``@context`` is written as Mastodon and Fedify do: standard context URLs that every
server bundles, plus our own terms inline, so nobody has to fetch a context of ours.
"""

from __future__ import annotations

import functools
import html
import json
import uuid
from datetime import datetime
from typing import Any

from ssefed.db.models import Actor, ActorKey
from ssefed.vocab.multibase import ed25519_multibase
from ssefed.paths import SCHEMAS_DIR

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
    "members": {"@id": "ssefed:members", "@type": "@id"},
}
CONTEXT: list[Any] = [AS_CONTEXT, SECURITY_CONTEXT, MULTIKEY_CONTEXT, INLINE_TERMS]
ACTIVITY_CONTEXT: list[Any] = [AS_CONTEXT, SECURITY_CONTEXT, INLINE_TERMS]


def iso(ts: datetime) -> str:
    return ts.astimezone().strftime("%Y-%m-%dT%H:%M:%SZ") if ts.tzinfo is None else \
        ts.astimezone(tz=ts.tzinfo).strftime("%Y-%m-%dT%H:%M:%SZ")


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


ORG_TERMS = ("legalForm", "sectors", "qualifiers", "validationStatus", "validUntil",
             "validatedBy", "memberOf", "PostalAddress", "address", "streetAddress",
             "postalCode", "addressLocality", "addressCountry", "email", "telephone",
             "website", "schema", "PropertyValue", "value", "accessiblePremises")


@functools.lru_cache(maxsize=1)
def _org_context() -> dict[str, Any]:
    """Our organisation terms, inline, as defined by schemas/context.jsonld."""
    full = json.loads((SCHEMAS_DIR / "context.jsonld").read_text(encoding="utf-8"))["@context"]
    terms = {k: full[k] for k in ORG_TERMS if k in full}
    terms.setdefault("schema", "https://schema.org/")
    terms.setdefault("PropertyValue", "schema:PropertyValue")
    terms.setdefault("value", "schema:value")
    return {**INLINE_TERMS, **terms}


def organisation_properties(org, network_iri: str | None,
                            also_validated_by: tuple[str, ...] = ()) -> dict[str, Any]:
    """SSE facts of an organisation (db.models.Organisation) as actor properties;
    ``also_validated_by``: the networks of other nodes that validated it."""
    props: dict[str, Any] = {}
    if org.legal_form:
        props["legalForm"] = f"https://w3id.org/ssefed/legal-form/{org.legal_form}"
    if org.sectors:
        props["sectors"] = list(org.sectors)
    if org.qualifiers:
        props["qualifiers"] = [f"https://w3id.org/ssefed/qualifier/{q}" for q in org.qualifiers]
    props["validationStatus"] = org.validation_status
    if org.valid_until is not None:
        props["validUntil"] = org.valid_until.isoformat()
    if network_iri:
        props["memberOf"] = [network_iri, *also_validated_by]
        validated_by = ([network_iri] if org.validation_status == "validated" else []) + \
            list(also_validated_by)
        if validated_by:
            props["validatedBy"] = validated_by[0] if len(validated_by) == 1 else validated_by
    if org.lat is not None or org.address or org.locality:
        place: dict[str, Any] = {"type": "Place"}
        if org.lat is not None:
            place["latitude"], place["longitude"] = org.lat, org.lon
        address = {k: v for k, v in (("streetAddress", org.address),
                                     ("postalCode", org.postal_code),
                                     ("addressLocality", org.locality),
                                     ("addressCountry", org.country)) if v}
        if address:
            place["address"] = {"type": "PostalAddress", **address}
        props["location"] = place
    if org.accessible_premises:  # only when said: false is also "not stated"
        props["accessiblePremises"] = True
    if org.website:
        props["website"] = org.website
        label = html.escape(org.website.split("://", 1)[-1].rstrip("/"))
        props["attachment"] = [{"type": "PropertyValue", "name": "Site",
                                "value": f'<a href="{html.escape(org.website)}" rel="me">'
                                         f"{label}</a>"}]
    if org.contact_public:  # imported, unclaimed organisations keep them private
        if org.email:
            props["email"] = org.email
        if org.phone:
            props["telephone"] = org.phone
    return props


def actor_document(actor: Actor, keys: list[ActorKey], base_url: str, org=None,
                   network_iri: str | None = None, also_validated_by: tuple[str, ...] = ()
                   ) -> dict[str, Any]:
    """The ActivityPub document of a local actor (with its SSE facts for organisations)."""
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
    if org is not None:
        doc["@context"] = [AS_CONTEXT, SECURITY_CONTEXT, MULTIKEY_CONTEXT, _org_context()]
        doc.update(organisation_properties(org, network_iri, also_validated_by))
    if getattr(actor, "is_network", False):  # the network vouches for its validated members there
        doc["members"] = f"{actor.ap_id}/members"
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


MEMBERS_CONTEXT: list[Any] = [AS_CONTEXT, {
    "ssefed": SSEFED_NS, "Membership": "ssefed:Membership",
    "member": {"@id": "ssefed:member", "@type": "@id"},
    "validationStatus": "ssefed:validationStatus",
    "validUntil": {"@id": "ssefed:validUntil", "@type": "http://www.w3.org/2001/XMLSchema#date"},
}]


def membership(network_iri: str, actor: Actor, org) -> dict[str, Any]:
    """An item of the network's members collection: the network vouches for ``actor``
    until ``validUntil`` (what other nodes check before counting a link as guaranteed)."""
    item: dict[str, Any] = {"type": "Membership", "member": actor.ap_id,
                            "attributedTo": network_iri, "name": actor.name,
                            "validationStatus": org.validation_status}
    if org.valid_until is not None:
        item["validUntil"] = org.valid_until.isoformat()
    return item


def collection_page(page_id: str, part_of: str, items: list[Any], next_: str | None
                    ) -> dict[str, Any]:
    doc: dict[str, Any] = {"@context": AS_CONTEXT, "id": page_id,
                           "type": "OrderedCollectionPage", "partOf": part_of,
                           "orderedItems": items}
    if next_ is not None:
        doc["next"] = next_
    return doc


VF = "https://w3id.org/valueflows/ont/vf#"
OM2 = "http://www.ontology-of-units-of-measure.org/resource/om-2/"
OFFER_TERMS: dict[str, Any] = {
    "vf": VF, "om2": OM2, "ssefed": SSEFED_NS,
    "Proposal": "vf:Proposal", "Intent": "vf:Intent",
    "purpose": "vf:purpose", "unitBased": "vf:unitBased",
    "publishes": {"@id": "vf:publishes", "@type": "@id"},
    "reciprocal": {"@id": "vf:reciprocal", "@type": "@id"},
    "action": "vf:action",
    "resourceConformsTo": {"@id": "vf:resourceConformsTo", "@type": "@id"},
    "resourceQuantity": "vf:resourceQuantity",
    "availableQuantity": "vf:availableQuantity",
    "hasUnit": "om2:hasUnit", "hasNumericalValue": "om2:hasNumericalValue",
    "provider": {"@id": "vf:provider", "@type": "@id"},
    "receiver": {"@id": "vf:receiver", "@type": "@id"},
    "kind": "ssefed:kind", "role": "ssefed:chainRole", "exchange": "ssefed:exchange",
    "inputCategories": {"@id": "ssefed:inputCategory", "@type": "@id", "@container": "@set"},
    "validUntil": {"@id": "ssefed:validUntil", "@type": "http://www.w3.org/2001/XMLSchema#date"},
}
OFFER_CONTEXT: list[Any] = [AS_CONTEXT, OFFER_TERMS]
OM2_UNITS = {"kg": "kilogram", "t": "tonne", "g": "gram", "l": "litre", "unit": "one",
             "hour": "hour", "day": "day", "month": "month", "m2": "squareMetre",
             "m3": "cubicMetre", "kWh": "kilowattHour", "MWh": "megawattHour"}


CURRENCIES = {"EUR": "http://www.wikidata.org/entity/Q4916"}  # the euro
CURRENCY_NS = "https://w3id.org/ssefed/currency/"


def currency_iri(currency: str | None) -> str | None:
    """Every currency is identified by an IRI: the euro by Wikidata's, a complementary
    local currency by its own IRI (or, given as a code, one in our namespace)."""
    if not currency or currency.startswith(("http://", "https://", "urn:")):
        return currency
    return CURRENCIES.get(currency.upper(), CURRENCY_NS + currency)


def offer_object(offer, actor: Actor) -> dict[str, Any]:  # db.models.Offer
    """An offer or demand as a FEP-0837 Proposal. It is also typed ``Note``, with the
    title, text and link in ``content``, so that servers that do not know ValueFlows
    (Mastodon) show it as a post."""
    url = offer.ap_id
    text = f"<p><strong>{html.escape(offer.title)}</strong></p>{paragraphs(offer.summary)}"
    text += f'<p><a href="{html.escape(url)}">{html.escape(url)}</a></p>'
    intent: dict[str, Any] = {
        "id": f"{url}#primary", "type": "Intent",
        "action": "deliverService" if offer.kind in ("service", "skills") else "transfer",
        "resourceConformsTo": offer.category,
    }
    intent["provider" if offer.direction == "offer" else "receiver"] = actor.ap_id
    if offer.quantity is not None:
        intent["resourceQuantity"] = {"hasUnit": OM2_UNITS.get(offer.unit or "unit", "one"),
                                      "hasNumericalValue": format(offer.quantity, "f")}
    doc: dict[str, Any] = {
        "@context": OFFER_CONTEXT, "id": url, "type": ["Note", "Proposal"],
        "attributedTo": actor.ap_id, "name": offer.title, "content": text, "url": url,
        "purpose": "offer" if offer.direction == "offer" else "request",
        "publishes": intent, "unitBased": offer.quantity is not None,
        "kind": offer.kind, "role": offer.role, "exchange": offer.exchange,
        "to": [PUBLIC], "cc": [f"{actor.ap_id}/followers"],
        "published": iso(offer.published_at), "updated": iso(offer.updated_at),
    }
    inputs = [i.category for i in offer.inputs]
    if inputs:
        doc["inputCategories"] = inputs
    if offer.price is not None:
        doc["reciprocal"] = {"id": f"{url}#reciprocal", "type": "Intent", "action": "transfer",
                             "resourceConformsTo": currency_iri(offer.currency),
                             "resourceQuantity": {"hasUnit": "one",
                                                  "hasNumericalValue": format(offer.price, "f")}}
    if offer.lat is not None:
        doc["location"] = {"type": "Place", "latitude": offer.lat, "longitude": offer.lon}
    if offer.valid_until is not None:
        doc["validUntil"] = offer.valid_until.isoformat()
    return doc
