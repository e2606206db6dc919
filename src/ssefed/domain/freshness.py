"""Whether what the directory shows is still current: an organisation's guarantee (its
validation by the network, until a date) and an offer's validity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Mapping


@dataclass(frozen=True)
class Guarantee:
    """``state`` is ``validated`` (until ``until``, or with no end), ``expired`` (it
    ended on ``until``) or ``unvalidated`` (never validated, or withdrawn)."""

    state: str
    until: date | None = None
    network: str | None = None  # the network that vouches (domain/validity.py), if known

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


def add_months(day: date, months: int) -> date:
    """``day`` moved by ``months`` calendar months; a day the target month lacks becomes
    its last day (31 January + 1 month = 28 or 29 February)."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    last = (date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day.day, last))


def validation_end(today: date, months: int) -> date:
    """Until when a validation approved (or re-confirmed) ``today`` holds."""
    return add_months(today, months)


def offer_end(kind: str, today: date, days_by_kind: Mapping[str, int]) -> date:
    """Until when an offer or demand of ``kind`` created (or re-confirmed) ``today`` holds."""
    return today + timedelta(days=days_by_kind[kind])


def state_of(valid_until: date | None, today: date, within_days: int) -> str:
    """``expired`` (ended before today), ``expiring`` (ends within ``within_days``) or
    ``current`` (later, or no end)."""
    if valid_until is None:
        return "current"
    if valid_until < today:
        return "expired"
    return "expiring" if valid_until <= today + timedelta(days=within_days) else "current"


def reminder_window(today: date, days_before: int) -> tuple[date, date]:
    """The end dates a reminder run covers: what ends within ``days_before`` days, and what
    ended less than ``days_before`` days ago without a reminder (a node that was down, or a
    validation approved already past)."""
    return today - timedelta(days=days_before), today + timedelta(days=days_before)


def reminder_slot(epoch_seconds: float, interval_hours: float) -> tuple[int, float]:
    """The reminder run a moment belongs to (runs are ``interval_hours`` apart) and when the
    next one starts, in seconds since the epoch."""
    interval = interval_hours * 3600.0
    slot = int(epoch_seconds // interval)
    return slot, (slot + 1) * interval
