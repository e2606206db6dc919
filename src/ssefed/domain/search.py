"""The directory search over organisations and offers, local and received: parsing a
query, keeping the search entries in step with the data, and answering with the exact
total, facets and a stable cursor."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from ssefed.db.base import utcnow
from ssefed.db.repos import search as search_repo
from ssefed.db.session import Database, SyncReader, run_unsuspended
from ssefed.config import ChainsConfig
from ssefed.domain import categories, freshness, validity
from ssefed.domain import text as text_mod
from ssefed.domain.errors import InvalidInput

MAX_LIMIT = 100
SYNC_OVERLAP = timedelta(seconds=5)  # rows committed a little late are not missed
SYNC_BATCH = 1000
_TAG = re.compile(r"<[^>]+>")
_NACE = re.compile(r"^\d{2}(\.\d{1,2})?$")
TYPES = ("organisation", "offer")


def sector_terms(code: str) -> list[str]:
    """A NACE code and its parents: 01.11 -> sector:A (its section), sector:01,
    sector:01.1, sector:01.11."""
    from ssefed.vocab.labels import nace_section

    if not _NACE.match(code):
        return []
    section = nace_section(code)
    out = [f"sector:{section}"] if section else []
    out.append(f"sector:{code[:2]}")
    if len(code) >= 4:
        out.append(f"sector:{code[:4]}")
    if len(code) == 5:
        out.append(f"sector:{code}")
    return out


def _division(sectors) -> str | None:
    """The NACE division (2 digits) of the first sector: what the sector facet counts."""
    first = next((c for c in sectors or [] if _NACE.match(c)), None)
    return first[:2] if first else None


def plain(text: str) -> str:
    return html.unescape(_TAG.sub(" ", text or "")).strip()


def _validity_columns(g: freshness.Guarantee) -> dict[str, Any]:
    """What an entry keeps of its organisation's guarantee (domain/validity.py): whether a
    trusted network vouches, and until when (the query compares that end with today)."""
    return {"validated": g.network is not None,
            "validated_until": g.until if g.network is not None else None}


def organisation_entry(r, g: freshness.Guarantee = validity.UNVALIDATED
                       ) -> tuple[dict[str, Any], list[str]]:
    """The search entry of an organisation (a row of search_repo.organisations) whose
    guarantee is ``g``."""
    terms = [t for code in r.sectors or [] for t in sector_terms(code)]
    terms += [f"q:{q}" for q in r.qualifiers or []]
    terms += [f"ica:{a}" for a in r.activities or []]
    if r.organisational_structure:
        terms.append(f"structure:{r.organisational_structure}")
    summary = plain(r.summary)
    return ({"ap_id": r.ap_id, "entry_type": "organisation", "actor_id": r.actor_id,
             "offer_id": None, "local": r.local, "node": r.domain,
             "name": r.name[:500], "summary": summary[:2000],
             "words": text_mod.indexed(r.name, summary, r.locality),
             "lat": r.lat, "lon": r.lon, **search_repo.place_of(r.lat, r.lon),
             "legal_form": r.legal_form, "division": _division(r.sectors),
             "direction": None,
             "kind": None, "market": None, "category": None, **_validity_columns(g),
             # an organisation is current as long as its validation is
             "valid_until": g.until if g.network is not None else None}, terms)


def offer_entry(r, g: freshness.Guarantee = validity.UNVALIDATED
                ) -> tuple[dict[str, Any], list[str]]:
    """The search entry of an offer (a row of search_repo.offers) whose publisher's
    guarantee is ``g``."""
    terms = [f"cat:{c}" for c in categories.with_broader(r.category)]
    terms += [t for code in r.sectors or [] for t in sector_terms(code)]
    terms += [f"q:{q}" for q in r.qualifiers or []]
    labels = " ".join(categories.label(r.category, lang) for lang in ("fr", "en"))
    lat, lon = (r.lat, r.lon) if r.lat is not None else (r.org_lat, r.org_lon)
    return ({"ap_id": r.ap_id, "entry_type": "offer", "actor_id": r.actor_id,
             "offer_id": r.id, "local": r.local, "node": r.domain,
             "name": r.title[:500], "summary": (r.summary or "")[:2000],
             "words": text_mod.indexed(r.title, r.summary or "", labels, r.actor_name),
             "lat": lat, "lon": lon, **search_repo.place_of(lat, lon),
             "legal_form": r.legal_form, "division": _division(r.sectors),
             "direction": r.direction, "kind": r.kind,
             "market": r.exchange == "sale", "category": r.category,
             **_validity_columns(g), "valid_until": r.valid_until}, terms)


async def _analyze_now_and_then(s, written: int) -> None:
    """A big sync (an import) grows the tables faster than PostgreSQL's statistics follow:
    refresh them as it goes, so lookups by IRI keep using their index."""
    if written and written % (20 * SYNC_BATCH) < SYNC_BATCH:
        await search_repo.analyze(s)


async def sync(db: Database, *, full: bool = False, trust: ChainsConfig | None = None) -> int:
    """Bring the search entries in step with organisations and offers changed since the
    last sync (all of them when ``full``); return how many entries were rewritten.

    An entry's "validated" is its organisation's guarantee (domain/validity.py) with the
    networks ``trust`` says this node trusts: the organisations whose guarantee may have
    changed are written again too (their network's decision or members collection
    changed, or a network is trusted or no longer trusted since the last sync)."""
    started = utcnow()
    today = started.date()
    async with db.read() as s:
        own = await validity.own_network(s)
        trusted = await validity.trusted_networks(s, own, trust or ChainsConfig())
        synced = await search_repo.synced_state(s)
        since = None if full or synced is None or synced[1] is None else synced[0]
        since = since - SYNC_OVERLAP if since else None
        actor_ids = await search_repo.changed_actor_ids(s, since)
        if since is not None and set(synced[1]) != trusted:
            actor_ids = sorted(set(actor_ids) | set(await search_repo.members_of(
                s, set(synced[1]) ^ trusted)))
        offer_ids = await search_repo.changed_offer_ids(s, since, actor_ids)
    written = 0
    if full:  # everything is written again: clear once instead of row by row
        async with db.write() as s:
            await search_repo.clear(s)
    for i in range(0, len(actor_ids), SYNC_BATCH):
        async with db.write() as s:
            rows = await search_repo.organisations(s, actor_ids[i:i + SYNC_BATCH])
            kept = [r for r in rows if r.deleted_at is None and not r.is_network]
            vouched = await validity.validities(s, [r.ap_id for r in kept], trusted=trusted,
                                                own=own, today=today)
            entries = [organisation_entry(r, vouched.get(r.ap_id, validity.UNVALIDATED))
                       for r in kept]
            await search_repo.replace_entries(
                s, remove_ap_ids=[] if full else [r.ap_id for r in rows], entries=entries)
            written += len(entries)
            await _analyze_now_and_then(s, written)
    for i in range(0, len(offer_ids), SYNC_BATCH):
        async with db.write() as s:
            rows = await search_repo.offers(s, offer_ids[i:i + SYNC_BATCH])
            vouched = await validity.validities(
                s, {r.actor_ap_id for r in rows if r.deleted_at is None
                    and r.actor_deleted_at is None}, trusted=trusted, own=own, today=today)
            entries = [offer_entry(r, vouched.get(r.actor_ap_id, validity.UNVALIDATED))
                       for r in rows if r.deleted_at is None and r.actor_deleted_at is None]
            await search_repo.replace_entries(
                s, remove_ap_ids=[] if full else [r.ap_id for r in rows], entries=entries)
            written += len(entries)
            await _analyze_now_and_then(s, written)
    async with db.write() as s:
        await search_repo.set_synced(s, started, sorted(trusted))
    if full or written >= 20 * SYNC_BATCH:  # an import: statistics for the planner
        await search_repo.vacuum_analyze(db.write_engine)
    return written


@dataclass
class SearchQuery:
    filters: dict[str, Any] = field(default_factory=dict)
    limit: int = 20
    after: tuple | None = None
    fingerprint: str = ""


def _fingerprint(filters: dict[str, Any]) -> str:
    # "order": a cursor by distance holds a closeness since 0015; older cursors by
    # distance (which held kilometres) are refused rather than misread
    signed = {**filters, "order": "closeness"} if "near" in filters else filters
    return hashlib.sha256(json.dumps(signed, sort_keys=True, default=str).encode()
                          ).hexdigest()[:16]


def _cursor(fingerprint: str, key: tuple) -> str:
    raw = json.dumps({"f": fingerprint, "k": list(key)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_cursor(value: str, fingerprint: str) -> tuple:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        data = json.loads(raw)
        key = tuple(data["k"])
        ok = data["f"] == fingerprint and len(key) == 2 and isinstance(key[1], int)
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise InvalidInput("cursor", "not a cursor of this search (start again without it)")
    return key


def _choice(params: dict[str, Any], key: str, choices: tuple[str, ...]) -> str | None:
    value = params.get(key) or None
    if value is not None and value not in choices:
        raise InvalidInput(key, f"must be one of {', '.join(choices)}")
    return value


def _bool(params: dict[str, Any], key: str) -> bool | None:
    value = params.get(key)
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "1", "yes"):
        return True
    if str(value).lower() in ("false", "0", "no"):
        return False
    raise InvalidInput(key, "must be true or false")


def parse_search(params: dict[str, Any]) -> SearchQuery:
    """Check the parameters of a search (API, CLI, page); InvalidInput names the field.
    ``qualifier`` and ``sector`` may be lists (every one must match)."""
    from ssefed.terms import DIRECTIONS, KINDS
    from ssefed.domain.organisations import LEGAL_FORMS, QUALIFIERS

    f: dict[str, Any] = {}
    q = params.get("q") or ""
    if not isinstance(q, str) or len(q) > 500:
        raise InvalidInput("q", "must be a text of at most 500 characters")
    if q.strip():
        f["words"] = text_mod.query_words(q)
        if not f["words"]:
            raise InvalidInput("q", "has no word to search for")
    f["type"] = _choice(params, "type", TYPES)
    f["legal_form"] = _choice(params, "legal_form", LEGAL_FORMS)
    f["direction"] = _choice(params, "direction", DIRECTIONS)
    f["kind"] = _choice(params, "kind", KINDS)
    f["market"] = _bool(params, "market")
    f["validated_only"] = bool(_bool(params, "validated_only"))
    f["fresh_only"] = bool(_bool(params, "fresh_only"))
    terms: list[str] = []

    def many(key: str) -> list[str]:
        value = params.get(key)
        values = value if isinstance(value, list) else [value] if value else []
        if len(values) > 10 or not all(isinstance(v, str) for v in values):
            raise InvalidInput(key, "at most 10 values")
        return [v.strip() for v in values if v.strip()]

    for code in many("sector"):
        if not (_NACE.match(code) or re.fullmatch(r"[A-U]", code)):
            raise InvalidInput("sector", f"{code!r} is not a NACE rev.2 code (a section A-U, "
                                         "or a code such as 01 or 10.71)")
        terms.append(f"sector:{code}")
    for qual in many("qualifier"):
        if qual not in QUALIFIERS:
            raise InvalidInput("qualifier", f"must be one of {', '.join(QUALIFIERS)}")
        terms.append(f"q:{qual}")
    for iri in many("structure"):
        if not iri.startswith(("http://", "https://")):
            raise InvalidInput("structure", "must be an organisational structure IRI (ESSGlobal)")
        terms.append(f"structure:{iri}")
    for value in many("category"):
        try:
            terms.append(f"cat:{categories.to_iri(value)}")
        except ValueError as exc:
            raise InvalidInput("category", str(exc)) from None
    f["terms"] = terms
    if params.get("near"):
        from ssefed.domain.fields import place

        f["near"] = place(params["near"])
    radius = params.get("radius_km")
    if radius not in (None, ""):
        if "near" not in f:
            raise InvalidInput("radius_km", "needs near=LAT,LON")
        try:
            f["radius_km"] = float(radius)
        except (TypeError, ValueError):
            raise InvalidInput("radius_km", "must be a number") from None
        if not 0 < f["radius_km"] <= 20_000:
            raise InvalidInput("radius_km", "must be between 0 and 20000")
    limit = params.get("limit") or 20
    try:
        limit = int(limit)
    except (TypeError, ValueError):
        raise InvalidInput("limit", "must be an integer") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput("limit", f"must be between 1 and {MAX_LIMIT}")
    f = {k: v for k, v in f.items() if v not in (None, False, [])}
    fingerprint = _fingerprint(f)
    after = _read_cursor(params["cursor"], fingerprint) if params.get("cursor") else None
    return SearchQuery(filters=f, limit=limit, after=after, fingerprint=fingerprint)


async def _search_rows(db: Database, query: SearchQuery, today: date
                       ) -> tuple[int, list[Any], dict]:
    def run(s: Any) -> Any:
        return search_repo.search(s, query.filters, limit=query.limit + 1,
                                  after=query.after, today=today)

    if db.is_sqlite and db.has_direct_writes:
        # a search is a few statements: on SQLite they run in one thread hop, on a
        # synchronous connection (each would otherwise cost a few hops through aiosqlite)
        return await db.sqlite_read(lambda conn: run_unsuspended(run(SyncReader(conn))))
    async with db.read() as s:
        return await run(s)


async def search(db: Database, query: SearchQuery, *, today: date | None = None
                 ) -> dict[str, Any]:
    """``{"total", "items", "facets", "next"}`` for ``query``."""
    today = today or datetime.now(timezone.utc).date()
    total, rows, facets = await _search_rows(db, query, today)
    more, rows = len(rows) > query.limit, rows[:query.limit]
    items = []
    for r in rows:
        item: dict[str, Any] = {
            "id": r.ap_id, "type": "Organization" if r.entry_type == "organisation"
            else "Proposal", "name": r.name, "node": r.node, "local": r.local,
            "summary": r.summary[:300],
            "location": {"lat": r.lat, "lon": r.lon} if r.lat is not None else None,
            # a validation that ended no longer counts (the entry keeps its end date)
            "validated": r.validated and not freshness.expired(r.validated_until, today),
            "validationExpired": r.validated and freshness.expired(r.validated_until, today),
            "validUntil": r.valid_until.isoformat() if r.valid_until else None,
            "expired": freshness.expired(r.valid_until, today),
            "sectors": search_repo.sectors_of(r),
        }
        if r.entry_type == "organisation":
            item["legal_form"] = r.legal_form
        else:
            item.update(direction=r.direction, kind=r.kind, market=r.market,
                        category=r.category)
        if r.distance is not None:
            item["distance_km"] = round(float(r.distance), 2)
        items.append(item)
    nxt = None
    if more:
        last = rows[-1]
        # by distance the key is the closeness (db/repos/search.py), by name the name
        key = (float(last.page_key) if last.distance is not None else last.page_key, last.id)
        nxt = _cursor(query.fingerprint, key)
    return {"total": total, "items": items, "facets": facets, "next": nxt}


class SearchIndex:
    """The search entries of one process, synced at most every ``max_age`` seconds before
    a query is answered (one sync at a time)."""

    def __init__(self, db: Database, max_age: float = 1.0,
                 trust: ChainsConfig | None = None) -> None:
        import asyncio

        self.db, self.max_age, self.trust = db, max_age, trust
        self._lock = asyncio.Lock()
        self._at = -1e9

    async def fresh(self) -> None:
        import time

        if time.monotonic() - self._at < self.max_age:
            return
        async with self._lock:
            if time.monotonic() - self._at >= self.max_age:
                await sync(self.db, trust=self.trust)
                self._at = time.monotonic()

    async def search(self, query: SearchQuery) -> dict[str, Any]:
        await self.fresh()
        return await search(self.db, query)
