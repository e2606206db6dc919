"""Whether what the directory shows is still current: an organisation's guarantee (its
validation by the network, until a date) and an offer's validity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Guarantee:
    """``state`` is ``validated`` (until ``until``, or with no end), ``expired`` (it
    ended on ``until``) or ``unvalidated`` (never validated, or withdrawn)."""

    state: str
    until: date | None = None

    @property
    def current(self) -> bool:
        return self.state == "validated"


def guarantee(validation_status: str, valid_until: date | None, today: date) -> Guarantee:
    """The guarantee of an organisation from its stored validation, as of ``today``."""
    if validation_status == "validated":
        if valid_until is not None and valid_until < today:
            return Guarantee("expired", valid_until)
        return Guarantee("validated", valid_until)
    if validation_status == "expired":
        return Guarantee("expired", valid_until)
    return Guarantee("unvalidated", None)


def expired(valid_until: date | None, today: date) -> bool:
    """An offer or demand whose validity ended before ``today``."""
    return valid_until is not None and valid_until < today
