"""Importing offers and demands from ssefed's offers CSV template (``ssefed import``).

One row per offer or demand of a member organisation: ``org`` (its handle) and ``ref``
(the row's stable key within that organisation: a second import updates the offer
instead of adding one), then the values of ``ssefed offer add``. Each row is all or
nothing, validated as the CLI and the API validate an offer. Each new offer is published
as a Create (an Update when a re-import changes it) to the organisation's followers, and
so appears in its outbox; the network's actor announces none of them (an import is
quiet), and a re-import of the same file changes and sends nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from types import SimpleNamespace
from typing import Any, Callable, Mapping

from ssefed.db.base import utcnow
from ssefed.db.repos import imports as import_repo
from ssefed.db.session import Database
from ssefed.domain import freshness
from ssefed.domain import offers as offer_domain
from ssefed.domain.errors import InvalidInput
from ssefed.domain.csv_import import (ImportReport, Plan, RowError, parse_float,
                                      read_records, write_rows)
from ssefed.domain.publishing import offer_activity
from ssefed.vocab.ids import LocalIds

OFFER_COLUMNS = ("org", "ref", "direction", "role", "kind", "category", "inputs", "title",
                 "summary", "quantity", "unit", "price", "currency", "exchange", "lat", "lon",
                 "valid_until")
_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")


@dataclass
class OfferRow:
    key: str
    line: int
    org: str
    offer: offer_domain.OfferInput


def _offer_row(rec: dict[str, str], line: int) -> OfferRow:
    def get(name: str) -> str:
        return (rec.get(name) or "").strip()

    org = get("org")
    if not org:
        raise InvalidInput("org", "is required (the handle of the organisation)")
    ref = get("ref")
    if not ref:
        raise InvalidInput("ref", "is required (the row's stable key within its organisation)")
    if not _REF.match(ref):
        raise InvalidInput("ref", "use up to 128 letters, digits, '_', '-', '.' or ':'")
    data: dict[str, Any] = {k: get(k) for k in ("direction", "role", "kind", "category", "title",
                                                "summary", "quantity", "unit", "price",
                                                "currency", "exchange") if get(k)}
    data["inputs"] = [c for c in re.split(r"[;,\s]+", get("inputs")) if c]
    for key in ("lat", "lon"):
        value = parse_float(get(key), key)
        if value is not None:
            data[key] = value
    offer = offer_domain.parse_offer(data)
    if get("valid_until"):
        try:
            offer.valid_until = date.fromisoformat(get("valid_until"))
        except ValueError:
            raise InvalidInput("valid_until", "not a date (YYYY-MM-DD)") from None
    return OfferRow(key=f"offer:{org}:{ref}", line=line, org=org, offer=offer)


def _values(row: OfferRow, org: dict[str, Any]) -> dict[str, Any]:
    d = row.offer
    return {"direction": d.direction, "kind": d.kind, "role": d.role, "exchange": d.exchange,
            "category": d.category, "title": d.title, "summary": d.summary,
            "quantity": d.quantity, "unit": d.unit, "price": d.price, "currency": d.currency,
            # placed at the organisation's position unless it has its own (as offer add)
            "lat": d.lat if d.lat is not None else org["lat"],
            "lon": d.lon if d.lon is not None else org["lon"], "valid_until": d.valid_until}


async def import_offers(db: Database, ids: LocalIds, text: str,
                        progress: Callable[[int, int], None] | None = None, *,
                        validity_days: Mapping[str, int] | None = None) -> ImportReport:
    """Import the offers template; see the module docstring. A new offer without
    ``valid_until`` holds for its kind's period of ``validity_days``; an offer imported
    again without one keeps its end date."""
    report = ImportReport(what="offer")
    today = utcnow().date()
    rows: list[OfferRow] = list(read_records(text, report, _offer_row))
    async with db.read() as s:
        orgs = await import_repo.local_organisations(s)
        existing = await import_repo.imported_offers(s)
        inboxes = await import_repo.follower_inboxes_of(
            s, sorted({orgs[r.org]["id"] for r in rows if r.org in orgs}))

    async def write(s, plans: list[Plan]) -> None:
        now = utcnow()
        creates = [p for p in plans if p.existing_id is None]
        if creates:
            offer_rows = [{"ap_id": p.extra["ap_id"], "actor_id": p.extra["org"]["id"],
                           "local": True, "source_key": p.row.key, "published_at": now,
                           "updated_at": now, **p.values} for p in creates]
            for p, offer_id in zip(creates, await import_repo.insert_offers(
                    s, offer_rows, [p.row.offer.inputs for p in creates])):
                p.new_id = offer_id
        updates = [p for p in plans if p.existing_id is not None]
        await import_repo.update_offers(s, [(p.existing_id, p.values, p.row.offer.inputs)
                                            for p in updates])
        activities, targets = [], []
        for p in plans:
            org = p.extra["org"]
            offer = SimpleNamespace(
                ap_id=p.extra["ap_id"], **p.values,
                inputs=[SimpleNamespace(category=c) for c in dict.fromkeys(p.row.offer.inputs)],
                published_at=p.extra.get("published_at") or now, updated_at=now)
            verb = "Create" if p.existing_id is None else "Update"
            doc = offer_activity(SimpleNamespace(ap_id=org["ap_id"]), offer, verb)
            activities.append({"ap_id": doc["id"], "actor_id": org["id"], "type": verb,
                               "object_ap_id": offer.ap_id, "public": True, "ap_json": doc,
                               "published_at": now})
            targets.append(inboxes.get(org["id"], []))
        await import_repo.insert_activities(s, activities, targets)

    def written(p: Plan) -> None:
        if p.existing_id is None:
            report.created += 1
            existing[p.row.key] = {"id": p.new_id, "ap_id": p.extra["ap_id"],
                                   "published_at": utcnow(), "deleted_at": None, **p.values,
                                   "inputs": list(p.row.offer.inputs)}
        else:
            report.updated += 1
            existing[p.row.key].update(p.values, inputs=list(p.row.offer.inputs))
        if p.values["lat"] is not None:
            report.with_position += 1

    def plan(row: OfferRow) -> Plan | None:
        org = orgs.get(row.org)
        if org is None:
            report.errors.append(RowError(row.line, "org",
                                          f"no organisation {row.org!r} on this node"))
            return None
        values = _values(row, org)
        current = existing.get(row.key)
        if values["valid_until"] is None and current is not None:
            values["valid_until"] = current["valid_until"]
        elif values["valid_until"] is None and validity_days:
            values["valid_until"] = freshness.offer_end(values["kind"], today, validity_days)
        if current is None:
            return Plan(row, values, extra={"org": org, "ap_id": ids.new_offer()})
        if current["deleted_at"] is not None:  # withdrawn since: not brought back
            report.unchanged += 1
        elif (any(current[c] != v for c, v in values.items())
              or current["inputs"] != list(dict.fromkeys(row.offer.inputs))):
            return Plan(row, values, existing_id=current["id"],
                        extra={"org": org, "ap_id": current["ap_id"],
                               "published_at": current["published_at"]})
        else:
            report.unchanged += 1
            if values["lat"] is not None:
                report.with_position += 1
        return None

    return await write_rows(db, rows, plan, write, written, report, progress)
