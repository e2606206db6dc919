"""Member organisations of the network: validation of input and creation."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ssefed.db.models import Actor, Organisation
from ssefed.db.repos import actors as actor_repo
from ssefed.db.repos import jobs as job_repo
from ssefed.db.repos import organisations as org_repo
from ssefed.db.repos import vetting as vetting_repo
from ssefed.domain import outbox
from ssefed.domain.actors import check_handle, ensure_keys
from ssefed.domain.errors import Conflict, InvalidInput
from ssefed.domain.fields import number as _number
from ssefed.domain.fields import text as _text
from ssefed.vocab import to_as

LEGAL_FORMS = ("cooperative", "worker-cooperative", "multi-stakeholder-cooperative",
               "consumer-cooperative", "producer-cooperative", "association", "mutual",
               "foundation", "social-enterprise", "other")
QUALIFIERS = ("organic", "fair-trade", "social-insertion", "local-currency",
              "short-supply-chain")
_NACE = re.compile(r"^\d{2}(\.\d{1,2})?$")


@dataclass
class OrganisationInput:
    handle: str
    name: str
    summary: str = ""
    legal_form: str | None = None
    sectors: list[str] = field(default_factory=list)
    qualifiers: list[str] = field(default_factory=list)
    lat: float | None = None
    lon: float | None = None
    address: str = ""
    postal_code: str = ""
    locality: str = ""
    country: str = ""
    website: str | None = None
    email: str | None = None
    phone: str | None = None
    validated: bool = False
    valid_until: date | None = None


def parse_organisation(data: Any) -> OrganisationInput:
    """Check an organisation given as JSON (API, demo file); raise InvalidInput naming the field."""
    if not isinstance(data, dict):
        raise InvalidInput("", "expected a JSON object")
    org = OrganisationInput(handle=check_handle(_text(data, "handle", required=True, max_len=63)),
                            name=_text(data, "name", required=True))
    org.summary = _text(data, "summary", max_len=5000)
    legal_form = _text(data, "legal_form", max_len=64) or None
    if legal_form is not None and legal_form not in LEGAL_FORMS:
        raise InvalidInput("legal_form", f"must be one of {', '.join(LEGAL_FORMS)}")
    org.legal_form = legal_form
    for key, check in (("sectors", _NACE.match), ("qualifiers", QUALIFIERS.__contains__)):
        values = data.get(key) or []
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise InvalidInput(key, "must be a list of strings")
        for i, v in enumerate(values):
            if not check(v):
                raise InvalidInput(f"{key}[{i}]", f"unknown code {v!r}")
        setattr(org, key, list(dict.fromkeys(values)))
    org.lat = _number(data, "lat", -90, 90)
    org.lon = _number(data, "lon", -180, 180)
    if (org.lat is None) != (org.lon is None):
        raise InvalidInput("lat" if org.lat is None else "lon", "lat and lon go together")
    org.address = _text(data, "address", max_len=1000)
    org.postal_code = _text(data, "postal_code", max_len=32)
    org.locality = _text(data, "locality", max_len=255)
    country = _text(data, "country", max_len=2).upper()
    if country and not re.match(r"^[A-Z]{2}$", country):
        raise InvalidInput("country", "must be an ISO 3166 two-letter code")
    org.country = country
    website = _text(data, "website", max_len=2048) or None
    if website is not None and not website.startswith(("https://", "http://")):
        raise InvalidInput("website", "must be an http(s) URL")
    org.website = website
    email = _text(data, "email", max_len=320) or None
    if email is not None and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email):
        raise InvalidInput("email", "is not an e-mail address")
    org.email = email
    org.phone = _text(data, "phone", max_len=64) or None
    validated = data.get("validated", False)
    if not isinstance(validated, bool):
        raise InvalidInput("validated", "must be true or false")
    org.validated = validated
    return org


async def create(s, ids, domain: str, data: OrganisationInput, *, source: str = "admin",
                 source_key: str | None = None, make_keys: bool = True) -> Actor:
    """Create a member organisation (actor + SSE facts) in the open write session ``s``.

    Its keys are made by a background job (or at its first fetch), so bulk creation
    never waits for RSA.
    """
    if await actor_repo.get_local_by_handle(s, data.handle) is not None:
        raise Conflict(f"an actor with handle {data.handle!r} already exists")
    actor = Actor(ap_id=ids.actor(data.handle), local=True, is_network=False, domain=domain,
                  handle=data.handle, type="Organization", name=data.name,
                  summary=data.summary)
    org = Organisation(
        legal_form=data.legal_form, sectors=data.sectors, qualifiers=data.qualifiers,
        lat=data.lat, lon=data.lon, address=data.address, postal_code=data.postal_code,
        locality=data.locality, country=data.country, website=data.website,
        email=data.email, phone=data.phone,
        validation_status="validated" if data.validated else "unvalidated",
        valid_until=data.valid_until, source=source, source_key=source_key)
    await org_repo.add(s, actor, org)
    if make_keys:  # bulk imports skip this: keys are then made at the first fetch
        await s.run_sync(job_repo.enqueue, "actor.keys", {"actor_id": actor.id},
                         dedupe_key=f"actor.keys:{actor.id}")
    return actor


async def update(s, actor: Actor, org: Organisation, data: OrganisationInput, *,
                 contact_public: bool | None = None,
                 accessible_premises: bool | None = None) -> None:
    """Set the profile of an organisation (its handle stays) in the open write session;
    followers are told with ``publish_profile`` once it is committed."""
    actor.name, actor.summary = data.name, data.summary
    for key in ("legal_form", "sectors", "qualifiers", "lat", "lon", "address", "postal_code",
                "locality", "country", "website", "email", "phone"):
        setattr(org, key, getattr(data, key))
    if contact_public is not None:
        org.contact_public = contact_public
    if accessible_premises is not None:
        org.accessible_premises = accessible_premises
    await s.flush()


async def publish_profile(db, ids, base_url: str, actor_id: int) -> None:
    """Send an Update of the organisation's actor document to its followers (its keys are
    made first if it has none: they are part of the document)."""
    keys = await ensure_keys(db, ids, actor_id)
    async with db.write() as s:
        actor = await s.get(Actor, actor_id)
        org = await s.get(Organisation, actor_id)
        network = await actor_repo.get_network(s)
        others = tuple(await vetting_repo.outgoing_validated(s, actor_id, date.today()))
        doc = to_as.actor_document(actor, keys, base_url, org,
                                   network.ap_id if network else None, others)
        await outbox.publish_to_followers(s, actor, "Update", to_as.strip_context(doc))
