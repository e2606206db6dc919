"""Reading FEP-0837 Proposals (ValueFlows over ActivityPub) from other servers, and
checking received objects against ssefed's JSON Schemas.

Tolerant of the variants seen in the wild: ``vf:`` or ``om2:`` unit terms (Mitra maps
``hasUnit`` to ``vf:``), quantities as strings, ``purpose`` offer|request, types given
as a string or a list, compact or full IRIs for the type.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

import fastjsonschema
from jsonschema import Draft202012Validator

from ssefed.paths import SCHEMAS_DIR
from ssefed.terms import EXCHANGES, KINDS, ROLES
from ssefed.vocab.from_as import ParseError, as_list, first_id
from ssefed.vocab.text import html_to_text

MAX_SUMMARY = 5000  # characters of a received Proposal's summary
UNCATEGORISED = "https://w3id.org/ssefed/category/uncategorised"
PROPOSAL_TYPES = {"Proposal", "vf:Proposal", "https://w3id.org/valueflows/ont/vf#Proposal",
                  "https://w3id.org/valueflows#Proposal"}
UNITS_FROM_OM2 = {"kilogram": "kg", "tonne": "t", "gram": "g", "litre": "l", "one": "unit",
                  "hour": "hour", "day": "day", "month": "month", "squareMetre": "m2",
                  "cubicMetre": "m3", "kilowattHour": "kWh", "megawattHour": "MWh"}


class SchemaError(ValueError):
    """A received object does not match its JSON Schema; ``path`` is a JSON Pointer."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path or '/'}: {message}")
        self.path, self.message = path, message


@functools.lru_cache(maxsize=16)
def _schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS_DIR / "json-schema" / f"{name}.schema.json").read_text())


@functools.lru_cache(maxsize=16)
def _validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(_schema(name))


def _as_draft7(node: Any) -> Any:
    """The schema in the draft-07 terms fastjsonschema compiles: our schemas use only
    draft-07 keywords plus ``dependentRequired``, which is draft-07's array form of
    ``dependencies``."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$schema":
                continue
            out["dependencies" if key == "dependentRequired" else key] = _as_draft7(value)
        return out
    if isinstance(node, list):
        return [_as_draft7(v) for v in node]
    return node


@functools.lru_cache(maxsize=16)
def _compiled(name: str) -> Callable[[Any], Any]:
    """The schema compiled to Python once (about 20 times faster than walking it): it
    decides; jsonschema, the reference, only explains a failure (path and message)."""
    return fastjsonschema.compile(_as_draft7(_schema(name)))


def check_schema(name: str, doc: Any) -> None:
    """Raise SchemaError with the path of the first (most relevant) failure."""
    try:
        _compiled(name)(doc)
        return
    except fastjsonschema.JsonSchemaException:
        pass
    errors = sorted(_validator(name).iter_errors(doc), key=lambda e: (len(e.path), e.path))
    if errors:
        err = errors[0]
        pointer = "".join(f"/{p}" for p in err.absolute_path)
        raise SchemaError(pointer, err.message[:300])


def is_proposal(obj: Any) -> bool:
    return isinstance(obj, dict) and bool(PROPOSAL_TYPES & {t for t in as_list(obj.get("type"))
                                                            if isinstance(t, str)})


@dataclass(frozen=True)
class RemoteProposal:
    id: str
    attributed_to: str
    direction: str
    category: str
    title: str
    summary: str
    kind: str
    role: str
    exchange: str
    inputs: list[str] = field(default_factory=list)
    quantity: Decimal | None = None
    unit: str | None = None
    price: Decimal | None = None
    currency: str | None = None
    lat: float | None = None
    lon: float | None = None
    valid_until: date | None = None


def _term(d: dict[str, Any], name: str) -> Any:
    for key in (name, f"vf:{name}", f"om2:{name}"):
        if key in d:
            return d[key]
    return None


def _decimal(value: Any, path: str) -> Decimal | None:
    if value is None:
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ParseError(path, f"not a number: {value!r}") from None
    if not number.is_finite() or number < 0:
        raise ParseError(path, "must be a positive number")
    return number


def _quantity(intent: dict[str, Any], path: str) -> tuple[Decimal | None, str | None]:
    measure = _term(intent, "resourceQuantity") or _term(intent, "availableQuantity")
    if not isinstance(measure, dict):
        return None, None
    value = _decimal(_term(measure, "hasNumericalValue"), f"{path}.hasNumericalValue")
    unit = _term(measure, "hasUnit")
    if isinstance(unit, str):
        unit = UNITS_FROM_OM2.get(unit.rsplit("/", 1)[-1].removeprefix("om2:"))
    else:
        unit = None
    return value, unit


def read_proposal(obj: dict[str, Any]) -> RemoteProposal:
    """A Proposal as an offer or demand; raise ParseError naming the field."""
    object_id = first_id(obj.get("id"))
    if not object_id:
        raise ParseError("id", "missing")
    author = first_id(obj.get("attributedTo"))
    if not author:
        raise ParseError("attributedTo", "missing")
    purpose = obj.get("purpose") or obj.get("vf:purpose")
    if purpose not in ("offer", "request"):
        raise ParseError("purpose", "must be offer or request")
    intent = _term(obj, "publishes")
    if not isinstance(intent, dict):
        raise ParseError("publishes", "an embedded Intent is required")
    # FEP-0837 allows a proposal without a category (its minimal example): kept, filed
    # under "uncategorised" so that it is never lost.
    category = first_id(_term(intent, "resourceConformsTo")) or UNCATEGORISED
    quantity, unit = _quantity(intent, "publishes.resourceQuantity")
    price = currency = None
    reciprocal = _term(obj, "reciprocal")
    if isinstance(reciprocal, dict):
        price, _ = _quantity(reciprocal, "reciprocal.resourceQuantity")
        currency = first_id(_term(reciprocal, "resourceConformsTo"))
    action = _term(intent, "action")
    kind = obj.get("kind") if obj.get("kind") in KINDS else (
        "service" if action == "deliverService" else "product")
    role = obj.get("role") if obj.get("role") in ROLES else (
        "service" if kind in ("service", "skills") else "production")
    exchange = obj.get("exchange") if obj.get("exchange") in EXCHANGES else "sale"
    inputs = [i for i in (first_id(v) for v in as_list(obj.get("inputCategories"))) if i][:50]
    lat = lon = None
    place = obj.get("location")
    if isinstance(place, dict):
        try:
            lat = float(place["latitude"]) if place.get("latitude") is not None else None
            lon = float(place["longitude"]) if place.get("longitude") is not None else None
        except (TypeError, ValueError):
            raise ParseError("location", "latitude/longitude must be numbers") from None
        if lat is not None and not (-90 <= lat <= 90 and lon is not None and -180 <= lon <= 180):
            raise ParseError("location", "latitude/longitude out of range")
    valid_until = None
    if isinstance(obj.get("validUntil"), str):
        try:
            valid_until = date.fromisoformat(obj["validUntil"][:10])
        except ValueError:
            raise ParseError("validUntil", "not a date") from None
    title = obj.get("name") if isinstance(obj.get("name"), str) else ""
    summary = next((text for v in (obj.get("summary"), obj.get("content"))
                    if isinstance(v, str) and (text := html_to_text(v, MAX_SUMMARY))), "")
    return RemoteProposal(
        id=object_id, attributed_to=author,
        direction="offer" if purpose == "offer" else "demand", category=category,
        title=(title or summary[:80] or object_id)[:500], summary=summary, kind=kind,
        role=role, exchange=exchange, inputs=inputs, quantity=quantity, unit=unit,
        price=price, currency=currency, lat=lat, lon=lon, valid_until=valid_until)
