"""Offers and demands of organisations: validation of input and creation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from ssefed.db.models import Actor, Offer
from ssefed.db.repos import offers as offer_repo
from ssefed.domain import categories
from ssefed.domain.errors import InvalidInput
from ssefed.domain.fields import number as _number
from ssefed.domain.fields import text as _text
from ssefed.terms import DIRECTIONS, EXCHANGES, KINDS, ROLES, UNITS


@dataclass
class OfferInput:
    direction: str
    kind: str
    role: str
    category: str
    title: str
    summary: str = ""
    exchange: str = "sale"
    inputs: list[str] = field(default_factory=list)
    quantity: Decimal | None = None
    unit: str | None = None
    price: Decimal | None = None
    currency: str | None = None
    lat: float | None = None
    lon: float | None = None
    valid_until: date | None = None


def _choice(data: dict[str, Any], key: str, choices: tuple[str, ...], prefix: str,
            default: str | None = None) -> str:
    value = data.get(key, default)
    if value not in choices:
        raise InvalidInput(prefix + key, f"must be one of {', '.join(choices)}")
    return value


def _decimal(data: dict[str, Any], key: str, prefix: str) -> Decimal | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InvalidInput(prefix + key, "must be a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise InvalidInput(prefix + key, "must be a number") from None
    if not number.is_finite() or number < 0:
        raise InvalidInput(prefix + key, "must be a positive number")
    return number


def _category(value: Any, field_name: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(field_name, "must be a category code or IRI")
    try:
        return categories.to_iri(value)
    except ValueError as exc:
        raise InvalidInput(field_name, str(exc)) from None


def parse_offer(data: Any, prefix: str = "") -> OfferInput:
    """Check an offer or demand given as JSON; raise InvalidInput naming the field."""
    if not isinstance(data, dict):
        raise InvalidInput(prefix.rstrip("."), "expected a JSON object")
    offer = OfferInput(
        direction=_choice(data, "direction", DIRECTIONS, prefix),
        kind=_choice(data, "kind", KINDS, prefix),
        role=_choice(data, "role", ROLES, prefix),
        category=_category(data.get("category"), prefix + "category"),
        title=_text(data, "title", required=True, prefix=prefix),
    )
    offer.summary = _text(data, "summary", max_len=5000, prefix=prefix)
    offer.exchange = _choice(data, "exchange", EXCHANGES, prefix, default="sale")
    inputs = data.get("inputs") or []
    if not isinstance(inputs, list):
        raise InvalidInput(prefix + "inputs", "must be a list of category codes or IRIs")
    offer.inputs = [_category(v, f"{prefix}inputs[{i}]") for i, v in enumerate(inputs)]
    offer.quantity = _decimal(data, "quantity", prefix)
    unit = data.get("unit")
    if unit is not None and unit not in UNITS:
        raise InvalidInput(prefix + "unit", f"must be one of {', '.join(UNITS)}")
    offer.unit = unit
    offer.price = _decimal(data, "price", prefix)
    currency = data.get("currency")
    if currency is not None and not isinstance(currency, str):
        raise InvalidInput(prefix + "currency", "must be a currency code or IRI")
    if offer.price is not None and not currency:
        raise InvalidInput(prefix + "currency", "is required with a price")
    offer.currency = currency
    offer.lat = _number(data, "lat", -90, 90, prefix)
    offer.lon = _number(data, "lon", -180, 180, prefix)
    return offer


async def create(s, ids, actor: Actor, data: OfferInput, *, lat: float | None = None,
                 lon: float | None = None) -> Offer:
    """Create an offer of ``actor`` in the open write session ``s``; it is placed at the
    organisation's position unless it has its own."""
    offer = Offer(
        ap_id=ids.new_offer(), actor_id=actor.id, local=True, direction=data.direction,
        kind=data.kind, role=data.role, exchange=data.exchange, category=data.category,
        title=data.title, summary=data.summary, quantity=data.quantity, unit=data.unit,
        price=data.price, currency=data.currency,
        lat=data.lat if data.lat is not None else lat,
        lon=data.lon if data.lon is not None else lon, valid_until=data.valid_until)
    return await offer_repo.add(s, offer, data.inputs)
