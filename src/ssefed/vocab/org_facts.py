"""The SSE facts a remote organisation's actor document publishes (ssefed and others
using our terms), read tolerantly and bounded: what the directory and the chains show
of organisations of other nodes."""

from __future__ import annotations

from typing import Any

from ssefed.vocab import from_as

LEGAL_FORM_NS = "https://w3id.org/ssefed/legal-form/"
QUALIFIER_NS = "https://w3id.org/ssefed/qualifier/"


def _text(value: Any, limit: int) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def _number(value: Any, lo: float, hi: float) -> float | None:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and lo <= value <= hi:
        return float(value)
    return None


def read_facts(doc: dict[str, Any]) -> dict[str, Any] | None:
    """Organisation columns from an actor document, or None when it publishes none."""
    if not any(k in doc for k in ("legalForm", "sectors", "location", "validationStatus",
                                  "qualifiers")):
        return None
    legal = from_as.first_id(doc.get("legalForm"))
    legal_form = legal[len(LEGAL_FORM_NS):][:64] if legal and legal.startswith(LEGAL_FORM_NS) \
        else None
    sectors = [s.strip()[:16] for s in from_as.as_list(doc.get("sectors"))[:50]
               if isinstance(s, str) and s.strip()]
    qualifiers = []
    for q in from_as.as_list(doc.get("qualifiers"))[:50]:
        iri = from_as.first_id(q)
        if iri and iri.startswith(QUALIFIER_NS):
            qualifiers.append(iri[len(QUALIFIER_NS):][:64])
    place = next((p for p in from_as.as_list(doc.get("location")) if isinstance(p, dict)), {})
    lat = _number(place.get("latitude"), -90, 90)
    lon = _number(place.get("longitude"), -180, 180)
    if lat is None or lon is None:
        lat = lon = None
    address = place.get("address") if isinstance(place.get("address"), dict) else {}
    website = from_as.first_id(doc.get("website"))
    return {
        "legal_form": legal_form, "sectors": list(dict.fromkeys(sectors)),
        "qualifiers": list(dict.fromkeys(qualifiers)), "lat": lat, "lon": lon,
        "address": _text(address.get("streetAddress"), 1000),
        "postal_code": _text(address.get("postalCode"), 32),
        "locality": _text(address.get("addressLocality"), 255),
        "country": _text(address.get("addressCountry"), 2).upper(),
        "website": website if website and website.startswith(("https://", "http://"))
        and len(website) <= 2048 else None,
        "accessible_premises": doc.get("accessiblePremises") is True,
        # what it says of its own validation (validationStatus, validUntil) is a claim, not
        # kept: whether it is validated comes from the networks that vouch for it
        # (domain/validity.py), and an older stored claim is wiped
        "validation_status": "unvalidated", "valid_until": None,
    }
