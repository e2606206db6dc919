"""Importing an existing directory from CSV: the "SSE standard" CSV of the Solidarity
Economy Association / Co-operatives UK open data, or ssefed's own template.

Quiet by design: imported organisations are published as actors, but nothing is sent
to other nodes, their keys are made at their first fetch, they are *unclaimed* until
the organisation claims its account, and their phone and e-mail stay private. Each
row is all-or-nothing; a bad row is reported by line and column and the others go on.
A stable key per row makes a second import update, never duplicate.

Fast by design too: rows are read, mapped and validated in Python, compared with what
the database holds (read once), and written a few hundred at a time in one transaction
with Core statements (db/repos/imports.py); when such a batch fails in the database,
its rows are written again one by one, each in a savepoint, so that only the bad row is
refused. The offers template (offers_import.py) goes the same way.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from ssefed.db.repos import imports as import_repo
from ssefed.db.session import Database
from ssefed.domain import organisations as org_domain
from ssefed.domain import offers_import
from ssefed.domain.actors import HANDLE
from ssefed.domain.csv_import import (ImportReport, Plan, RowError, csv_header, decode_csv,
                                      parse_float, read_records, write_rows)
from ssefed.domain.errors import InvalidInput
from ssefed.paths import SCHEMAS_DIR
from ssefed.vocab.ids import LocalIds

ESSGLOBAL = "http://purl.org/essglobal/standard/"
_ESS_IRI = re.compile(r"^https?://[^/]+/essglobal/[0-9.]+/standard/([a-z-]+)/([A-Za-z0-9]+)$")
SSE_REQUIRED = ("Identifier", "Name")
SSEFED_COLUMNS = ("handle", "name", "summary", "legal_form", "sectors", "qualifiers", "lat",
                  "lon", "address", "postal_code", "locality", "country", "website", "email",
                  "phone")
OWNERSHIP_FORMS = {"Workers": "worker-cooperative", "Consumers": "consumer-cooperative",
                   "Multi-stakeholder": "multi-stakeholder-cooperative",
                   "Enterprises": "producer-cooperative", "Self-employed": "producer-cooperative"}
LEGAL_FORMS = {"Community Interest Company": "social-enterprise", "Unincorporated": "association",
               "Scottish Charitable Incorporated Organisation": "foundation"}


@dataclass
class Row:
    key: str
    line: int
    org: org_domain.OrganisationInput
    extras: dict[str, Any]


EXTRAS = {"organisational_structure": None, "membership_type": None, "activities": []}


class _Codes:
    """The codes of the shipped ESSGlobal lists, to map the file's ESSGlobal 2.1 IRIs."""

    def __init__(self) -> None:
        self._known: dict[str, set[str]] = {}

    def iri(self, value: str, scheme: str, column: str) -> str | None:
        value = value.strip()
        if not value:
            return None
        m = _ESS_IRI.match(value) or re.match(rf"^{re.escape(ESSGLOBAL)}([a-z-]+)/(\w+)$", value)
        if not m or m.group(1) != scheme:
            raise InvalidInput(column, f"not an ESSGlobal {scheme} IRI: {value[:120]!r}")
        if scheme not in self._known:
            path = SCHEMAS_DIR / "taxonomies" / "essglobal" / f"{scheme}.skos"
            text = path.read_text(encoding="utf-8") if path.exists() else ""
            self._known[scheme] = set(re.findall(r'rdf:about="([A-Za-z0-9]+)"', text))
        if m.group(2) not in self._known[scheme]:
            raise InvalidInput(column, f"unknown {scheme} code {m.group(2)!r}")
        return f"{ESSGLOBAL}{scheme}/{m.group(2)}"


def _slug(text: str, limit: int) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:limit].strip("-")


def _sse_row(rec: dict[str, str], line: int, codes: _Codes) -> Row:
    def get(name: str) -> str:
        return (rec.get(name) or "").strip()

    ident = get("Identifier")
    if not ident:
        raise InvalidInput("Identifier", "is required (it is the row's stable key)")
    name = get("Name")
    slug = _slug(name, 40) or "org"
    handle = f"{slug}-{_slug(ident, 20)}"
    lat = parse_float(get("Latitude"), "Latitude")
    lon = parse_float(get("Longitude"), "Longitude")
    if lat is None or lon is None:  # fall back to the postcode centroid
        lat = parse_float(get("Geo Container Latitude"), "Geo Container Latitude")
        lon = parse_float(get("Geo Container Longitude"), "Geo Container Longitude")
    sic = re.sub(r"\D", "", get("SIC Code"))
    sectors = [f"{sic[:2]}.{sic[2:4]}"] if len(sic) >= 4 else ([sic[:2]] if len(sic) >= 2 else [])
    legal_form = LEGAL_FORMS.get(get("Legal Form")) or OWNERSHIP_FORMS.get(
        get("Ownership Classification"), "cooperative")
    data: dict[str, Any] = {
        "handle": handle, "name": name, "summary": get("Description"),
        "legal_form": legal_form, "sectors": sectors, "lat": lat, "lon": lon,
        "address": get("Street Address"), "postal_code": get("Postcode"),
        "locality": get("Locality"), "country": get("Country ID"),
        "website": get("Website") or None, "email": get("Email") or None,
        "phone": get("Phone") or None,
    }
    if data["website"] and not data["website"].startswith(("http://", "https://")):
        data["website"] = "http://" + data["website"]
    org = _parse(data, SSE_FIELD_COLUMNS)
    activities = [codes.iri(v, "activities-ica", "Primary Activity")
                  for v in [get("Primary Activity")] if v]
    activities += [codes.iri(v, "activities-ica", "Activities")
                   for v in re.split(r"[;\s]+", get("Activities")) if v]
    extras = {
        "organisational_structure": codes.iri(get("Organisational Structure"),
                                              "organisational-structure",
                                              "Organisational Structure"),
        "membership_type": codes.iri(get("Membership Type"), "base-membership-type",
                                     "Membership Type"),
        "activities": list(dict.fromkeys(a for a in activities if a)),
    }
    return Row(key=f"sse:{ident}", line=line, org=org, extras=extras)


SSE_FIELD_COLUMNS = {"handle": "Name", "name": "Name", "summary": "Description",
                     "legal_form": "Legal Form", "sectors": "SIC Code", "lat": "Latitude",
                     "lon": "Longitude", "address": "Street Address",
                     "postal_code": "Postcode", "locality": "Locality", "country": "Country ID",
                     "website": "Website", "email": "Email", "phone": "Phone"}


def _parse(data: dict[str, Any], columns: dict[str, str]) -> org_domain.OrganisationInput:
    try:
        return org_domain.parse_organisation(data)
    except InvalidInput as exc:
        base = exc.field.split("[")[0]
        raise InvalidInput(columns.get(base, exc.field), exc.message) from None


def _ssefed_row(rec: dict[str, str], line: int, codes: _Codes) -> Row:
    def get(name: str) -> str:
        return (rec.get(name) or "").strip()

    data: dict[str, Any] = {k: get(k) or None for k in SSEFED_COLUMNS}
    data["sectors"] = [s for s in re.split(r"[;,\s]+", get("sectors")) if s]
    data["qualifiers"] = [s for s in re.split(r"[;,\s]+", get("qualifiers")) if s]
    data["lat"] = parse_float(get("lat"), "lat")
    data["lon"] = parse_float(get("lon"), "lon")
    org = _parse(data, {k: k for k in SSEFED_COLUMNS})
    return Row(key=f"csv:{org.handle}", line=line, org=org, extras=dict(EXTRAS))


def detect(header: list[str]) -> str:
    """Which file this is: "sse" (SSE standard CSV), "organisations" or "offers" (ssefed's
    templates)."""
    if all(c in header for c in SSE_REQUIRED):
        return "sse"
    if "org" in header and "ref" in header and "title" in header:
        return "offers"
    if "handle" in header and "name" in header:
        return "organisations"
    raise InvalidInput("header", "neither the SSE standard CSV (Identifier, Name, ...) nor "
                                 "ssefed's templates (handle, name, ... for organisations; "
                                 "org, ref, title, ... for offers): see docs/admin.md, Importing")


def read_rows(text: str, report: ImportReport) -> Iterator[Row]:
    """Parse a CSV of organisations (either format), yielding good rows and recording bad ones."""
    header = csv_header(text)
    kind = detect(header)
    if kind == "offers":
        raise InvalidInput("header", "this is the offers template, not organisations")
    codes = _Codes()
    convert = _sse_row if kind == "sse" else _ssefed_row
    yield from read_records(text, report, lambda rec, line: convert(rec, line, codes))


async def import_csv(db: Database, ids: LocalIds, domain: str, path: Path,
                     progress: Callable[[int, int], None] | None = None, *,
                     validity_days: Mapping[str, int] | None = None) -> ImportReport:
    """Import a directory CSV (organisations, or the offers template); see the module
    docstring for the guarantees. ``validity_days``: the period of new offers given
    without an end date, per kind."""
    text = decode_csv(path.read_bytes())
    header = csv_header(text)
    if detect(header) == "offers":
        return await offers_import.import_offers(db, ids, text, progress,
                                                 validity_days=validity_days)
    report = ImportReport()
    rows = list(read_rows(text, report))
    async with db.read() as s:
        existing = await import_repo.imported_organisations(s)
        taken = await import_repo.local_handles(s)

    async def write(s, plans: list[Plan]) -> None:
        creates = [p for p in plans if p.existing_id is None]
        if creates:
            actor_rows = [{"ap_id": ids.actor(p.handle), "local": True, "is_network": False,
                           "domain": domain, "handle": p.handle, "type": "Organization",
                           "name": p.values["name"], "summary": p.values["summary"]}
                          for p in creates]
            org_rows = [{**{c: p.values[c] for c in import_repo.ORG_COLUMNS},
                         "claimed": False, "contact_public": False,
                         "validation_status": "validated" if p.row.org.validated
                         else "unvalidated", "valid_until": p.row.org.valid_until,
                         "source": "import", "source_key": p.row.key} for p in creates]
            for p, actor_id in zip(creates, await import_repo.insert_organisations(
                    s, actor_rows, org_rows)):
                p.new_id = actor_id
        await import_repo.update_organisations(
            s, [(p.existing_id, p.values) for p in plans if p.existing_id is not None])

    batch_handles: set[str] = set()  # of the new organisations in the batch

    def written(p: Plan) -> None:
        if p.existing_id is None:
            report.created += 1
            taken.add(p.handle)
            existing[p.row.key] = {"id": p.new_id, "handle": p.handle, **p.values}
        else:
            report.updated += 1
            existing[p.row.key].update(p.values)
        if p.row.org.lat is not None:
            report.with_position += 1

    def plan(row: Row) -> Plan | None:
        values = _values(row)
        current = existing.get(row.key)
        if current is not None:
            if any(current[c] != v for c, v in values.items()):
                return Plan(row, values, existing_id=current["id"])
            report.unchanged += 1
            if row.org.lat is not None:
                report.with_position += 1
            return None
        handle, n = row.org.handle, 2
        while handle in taken or handle in batch_handles:  # used by another organisation
            handle = f"{row.org.handle[:58]}-{n}"
            n += 1
        if not HANDLE.match(handle):
            report.errors.append(RowError(row.line, "Name", f"gives no usable handle ({handle!r})"))
            return None
        batch_handles.add(handle)
        return Plan(row, values, handle=handle)

    return await write_rows(db, rows, plan, write, written, report, progress,
                            flushed=batch_handles.clear)


def _values(row: Row) -> dict[str, Any]:
    d = row.org
    return {"name": d.name, "summary": d.summary, "legal_form": d.legal_form,
            "sectors": d.sectors, "qualifiers": d.qualifiers, "lat": d.lat, "lon": d.lon,
            "address": d.address, "postal_code": d.postal_code, "locality": d.locality,
            "country": d.country, "website": d.website, "email": d.email, "phone": d.phone,
            **EXTRAS, **row.extras}
