"""Importing an existing directory from CSV: the "SSE standard" CSV of the Solidarity
Economy Association / Co-operatives UK open data, or ssefed's own template.

Quiet by design: imported organisations are published as actors, but nothing is sent
to other nodes, their keys are made at their first fetch, they are *unclaimed* until
the organisation claims its account, and their phone and e-mail stay private. Each
row is all-or-nothing (a savepoint); a bad row is reported by line and column and the
others go on. A stable key per row makes a second import update, never duplicate.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from sqlalchemy import select

from ssefed.db.models import Actor, Organisation
from ssefed.db.session import Database
from ssefed.domain import organisations as org_domain
from ssefed.domain.actors import HANDLE
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
BATCH = 500
MAX_ROWS = 1_000_000


@dataclass
class RowError:
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.message}"


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    with_position: int = 0
    errors: list[RowError] = field(default_factory=list)


@dataclass
class Row:
    key: str
    line: int
    org: org_domain.OrganisationInput
    extras: dict[str, Any]


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


def _float(value: str, column: str) -> float | None:
    value = value.strip()
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise InvalidInput(column, f"not a number: {value[:40]!r}") from None


def _sse_row(rec: dict[str, str], line: int, codes: _Codes) -> Row:
    get = lambda name: (rec.get(name) or "").strip()  # noqa: E731
    ident = get("Identifier")
    if not ident:
        raise InvalidInput("Identifier", "is required (it is the row's stable key)")
    name = get("Name")
    slug = _slug(name, 40) or "org"
    handle = f"{slug}-{_slug(ident, 20)}"
    lat = _float(get("Latitude"), "Latitude")
    lon = _float(get("Longitude"), "Longitude")
    if lat is None or lon is None:  # fall back to the postcode centroid
        lat = _float(get("Geo Container Latitude"), "Geo Container Latitude")
        lon = _float(get("Geo Container Longitude"), "Geo Container Longitude")
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
    get = lambda name: (rec.get(name) or "").strip()  # noqa: E731
    data: dict[str, Any] = {k: get(k) or None for k in SSEFED_COLUMNS}
    data["sectors"] = [s for s in re.split(r"[;,\s]+", get("sectors")) if s]
    data["qualifiers"] = [s for s in re.split(r"[;,\s]+", get("qualifiers")) if s]
    data["lat"] = _float(get("lat"), "lat")
    data["lon"] = _float(get("lon"), "lon")
    org = _parse(data, {k: k for k in SSEFED_COLUMNS})
    return Row(key=f"csv:{org.handle}", line=line, org=org, extras={})


def read_rows(text: str, report: ImportReport) -> Iterator[Row]:
    """Parse the CSV (either format), yielding good rows and recording bad ones."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    if all(c in header for c in SSE_REQUIRED):
        convert: Callable[[dict[str, str], int, _Codes], Row] = _sse_row
    elif "handle" in header and "name" in header:
        convert = _ssefed_row
    else:
        raise InvalidInput("header", "neither the SSE standard CSV (Identifier, Name, ...) nor "
                                     "ssefed's template (handle, name, ...): see the README")
    codes = _Codes()
    line = 1
    for rec in reader:
        start, line = line + 1, reader.line_num
        report.rows += 1
        if report.rows > MAX_ROWS:
            raise InvalidInput("file", f"more than {MAX_ROWS} rows")
        if None in rec:  # more fields than columns
            report.errors.append(RowError(start, "*", "more fields than the header has"))
            continue
        try:
            yield convert(rec, start, codes)
        except InvalidInput as exc:
            report.errors.append(RowError(start, exc.field, exc.message))


def _apply(actor: Actor, org: Organisation, row: Row) -> bool:
    """Copy the row onto existing rows; True when anything changed."""
    d = row.org
    wanted = {
        (actor, "name"): d.name, (actor, "summary"): d.summary,
        (org, "legal_form"): d.legal_form, (org, "sectors"): d.sectors,
        (org, "qualifiers"): d.qualifiers, (org, "lat"): d.lat, (org, "lon"): d.lon,
        (org, "address"): d.address, (org, "postal_code"): d.postal_code,
        (org, "locality"): d.locality, (org, "country"): d.country,
        (org, "website"): d.website, (org, "email"): d.email, (org, "phone"): d.phone,
        **{(org, k): v for k, v in row.extras.items()},
    }
    changed = False
    for (obj, attr), value in wanted.items():
        if getattr(obj, attr) != value:
            setattr(obj, attr, value)
            changed = True
    return changed


async def import_csv(db: Database, ids: LocalIds, domain: str, path: Path,
                     progress: Callable[[int, int], None] | None = None) -> ImportReport:
    """Import a directory CSV; see the module docstring for the guarantees."""
    text = path.read_text(encoding="utf-8-sig")
    report = ImportReport()
    rows = list(read_rows(text, report))
    async with db.read() as s:
        existing = {k: a for k, a in await s.execute(
            select(Organisation.source_key, Organisation.actor_id)
            .where(Organisation.source_key.is_not(None)))}
        taken = set(await s.scalars(select(Actor.handle).where(Actor.local.is_(True))))
    done = 0
    for start in range(0, len(rows), BATCH):
        async with db.write() as s:
            for row in rows[start:start + BATCH]:
                try:
                    async with s.begin_nested():  # all or nothing per row
                        await _import_row(s, ids, domain, row, existing, taken, report)
                except InvalidInput as exc:
                    report.errors.append(RowError(row.line, exc.field, exc.message))
                    continue
                if row.org.lat is not None:
                    report.with_position += 1
        done = min(len(rows), start + BATCH)
        if progress is not None:
            progress(done, len(rows))
    report.errors.sort(key=lambda e: e.line)
    return report


async def _import_row(s, ids: LocalIds, domain: str, row: Row, existing: dict[str, int],
                      taken: set[str], report: ImportReport) -> None:  # noqa: ANN001
    actor_id = existing.get(row.key)
    if actor_id is not None:
        actor = await s.get(Actor, actor_id)
        org = await s.get(Organisation, actor_id)
        if _apply(actor, org, row):
            report.updated += 1
        else:
            report.unchanged += 1
        return
    handle = row.org.handle
    n = 2
    while handle in taken:  # a handle already used by another organisation
        handle = f"{row.org.handle[:58]}-{n}"
        n += 1
    if not HANDLE.match(handle):
        raise InvalidInput("Name", f"gives no usable handle ({handle!r})")
    row.org.handle = handle
    actor = await org_domain.create(s, ids, domain, row.org, source="import",
                                    source_key=row.key, make_keys=False)
    org = await s.get(Organisation, actor.id)
    for key, value in row.extras.items():
        setattr(org, key, value)
    org.claimed, org.contact_public = False, False
    taken.add(handle)
    existing[row.key] = actor.id
    report.created += 1
