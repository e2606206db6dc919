"""Reports: someone says that what an organisation published (its profile, an offer) is
wrong or outdated. A report reaches the organisation (its /edit page) and the network's
reviewers (``ssefed reports``, ``GET /api/reports``); while it is open the organisation's
public page says so (the category and the date, never the reporter's text).

Two ways in, one store: an ActivityPub ``Flag`` (federation/reports.py, applied from the
inbox job) and the public form / ``POST /api/reports`` for people without a fediverse
account. Every text is bounded, every IRI checked against this node's organisations and
offers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ssefed.db.base import utcnow
from ssefed.db.models import Actor, Report
from ssefed.db.repos import reports as report_repo
from ssefed.domain.errors import Conflict, InvalidInput, NotFound
from ssefed.vocab.text import plain_text

REASONS = ("wrong", "outdated", "other")
MAX_TEXT = 2000  # characters of a report's text (and of a resolution note)
MAX_IRI = 2048
MAX_OBJECTS = 20  # objects of one report
MAX_OPEN_PER_ORGANISATION = 200  # beyond, new reports of it are refused (flood bound)
MAX_HANDLED_BY = 255


class TooManyOpen(Conflict):
    """The organisation already has MAX_OPEN_PER_ORGANISATION open reports."""

    status = 429


@dataclass(frozen=True)
class ReportInput:
    """A report as a person files it: the IRI of the organisation or offer, the reason
    (wrong | outdated | other) and a free text (may be empty)."""

    object: str
    reason: str
    text: str


def _iri(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field, "required: the address (IRI) of the organisation or offer")
    value = value.strip()
    if not value.startswith(("https://", "http://")) or len(value) > MAX_IRI:
        raise InvalidInput(field, f"must be an http(s) IRI of at most {MAX_IRI} characters")
    return value


def parse_report(data: Any) -> ReportInput:
    """Check a report filed by a person (JSON or form fields): ``object``, ``reason``,
    ``text``. Raises InvalidInput naming the field."""
    if not isinstance(data, dict):
        raise InvalidInput("body", "expected a JSON object with object, reason and text")
    iri = _iri(data.get("object"), "object")
    reason = data.get("reason")
    if not isinstance(reason, str) or reason.strip() not in REASONS:
        raise InvalidInput("reason", f"required: one of {', '.join(REASONS)}")
    text = data.get("text", "")
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise InvalidInput("text", "must be a string")
    text = plain_text(text)
    if len(text) > MAX_TEXT:
        raise InvalidInput("text", f"at most {MAX_TEXT} characters (got {len(text)})")
    return ReportInput(iri, reason.strip(), text)


async def _room_for(s: AsyncSession, actor_id: int) -> None:
    if await report_repo.count_open(s, actor_id) >= MAX_OPEN_PER_ORGANISATION:
        raise TooManyOpen(f"this organisation already has {MAX_OPEN_PER_ORGANISATION} open "
                          "reports: the network's reviewers will see them first")


async def file_report(s: AsyncSession, data: ReportInput, *,
                      organisation_id: int | None = None) -> int:
    """Store a report filed through the form or the API; returns its id. The object
    must be an organisation of this node or one of its live offers (of the organisation
    ``organisation_id`` when given: the page the form is on)."""
    target = (await report_repo.targets(s, [data.object])).get(data.object)
    if target is None or (organisation_id is not None and target != organisation_id):
        raise InvalidInput("object", "is not an organisation or an offer published on "
                                     "this node")
    await _room_for(s, target)
    report_id = await report_repo.add_once(s, {
        "ap_id": None, "source": "form", "reporter_ap_id": None, "actor_id": target,
        "object_ap_ids": [data.object], "reason": data.reason, "text": data.text,
        "state": "open", "created_at": utcnow()})
    assert report_id is not None  # no ap_id: never a conflict
    return report_id


@dataclass
class FlagOutcome:
    """What a received Flag did: the new reports' ids, the organisations that already
    had it (same Flag id), the reported IRIs that are not this node's."""

    created: list[int]
    already: int
    foreign: list[str]


async def file_flag(s: AsyncSession, *, ap_id: str, reporter: str, objects: list[str],
                    reason: str, text: str) -> FlagOutcome:
    """Store the reports of a received Flag: one per organisation of this node named
    (directly or through one of its offers); objects of others are left out. The same
    Flag id twice adds nothing (unique (ap_id, organisation), insert ignoring
    conflicts)."""
    objects = list(dict.fromkeys(objects))[:MAX_OBJECTS]
    found = await report_repo.targets(s, objects)
    by_org: dict[int, list[str]] = {}
    for iri in objects:
        if iri in found:
            by_org.setdefault(found[iri], []).append(iri)
    outcome = FlagOutcome([], 0, [iri for iri in objects if iri not in found])
    now = utcnow()
    for actor_id, iris in by_org.items():
        await _room_for(s, actor_id)
        new_id = await report_repo.add_once(s, {
            "ap_id": ap_id, "source": "flag", "reporter_ap_id": reporter, "actor_id": actor_id,
            "object_ap_ids": iris, "reason": reason if reason in REASONS else "other",
            "text": text[:MAX_TEXT], "state": "open", "created_at": now})
        if new_id is None:
            outcome.already += 1
        else:
            outcome.created.append(new_id)
    return outcome


async def handle(s: AsyncSession, report_id: int, *, note: str | None, by: str
                 ) -> tuple[Report, Actor]:
    """Close an open report, with an optional resolution note and who handled it.
    NotFound when there is no such report; Conflict when it was handled already."""
    if note is not None:
        note = plain_text(note)
        if len(note) > MAX_TEXT:
            raise InvalidInput("note", f"at most {MAX_TEXT} characters (got {len(note)})")
    by = (by or "").strip()[:MAX_HANDLED_BY] or "admin"
    found = await report_repo.get(s, report_id)
    if found is None:
        raise NotFound(f"no report {report_id}")
    report, _ = found
    if not await report_repo.mark_handled(s, report_id, resolution=note or None,
                                          handled_by=by, when=utcnow()):
        raise Conflict(f"report {report_id} was already handled"
                       + (f" by {report.handled_by}" if report.handled_by else ""))
    await s.refresh(report)
    return found


async def listing(s: AsyncSession, *, include_handled: bool = False, limit: int = 500
                  ) -> list[dict[str, Any]]:
    """The reports (open ones, or all), newest first, as report_json."""
    return [report_json(r, a) for r, a in
            await report_repo.listing(s, include_handled=include_handled, limit=limit)]


async def open_notices(s: AsyncSession, actor_id: int, limit: int = 5
                       ) -> tuple[list[tuple[str, date]], int]:
    """What the organisation's public page says of its open reports: (reason, date) of
    the newest ``limit``, and how many are open in all. Never the reporter's text."""
    total = await report_repo.count_open(s, actor_id)
    if not total:
        return [], 0
    rows = await report_repo.open_for(s, actor_id, limit=limit)
    return [(r.reason, r.created_at.date()) for r in rows], total


async def open_for(s: AsyncSession, actor_id: int, limit: int = 100) -> list[Report]:
    """The organisation's open reports, for its own editing page (with the text)."""
    return await report_repo.open_for(s, actor_id, limit=limit)


async def open_counts(s: AsyncSession, iris: list[str]) -> dict[str, int]:
    """{organisation IRI: open reports} for the local organisations among ``iris``."""
    return await report_repo.open_counts_by_iri(s, iris)


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def report_json(report: Report, actor: Actor) -> dict[str, Any]:
    """A report for the network's reviewers (API, ``ssefed reports --json``)."""
    return {
        "id": report.id, "state": report.state, "reason": report.reason,
        "text": report.text, "source": report.source, "flag": report.ap_id,
        "reporter": report.reporter_ap_id,
        "organisation": {"id": actor.ap_id, "handle": actor.handle, "name": actor.name},
        "objects": list(report.object_ap_ids or []),
        "created": _iso(report.created_at), "handled_at": _iso(report.handled_at),
        "handled_by": report.handled_by, "resolution": report.resolution,
    }
