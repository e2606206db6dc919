"""The directory search as an in-memory projection of organisations and offers: query in,
a page with its exact total and facets out.

Each process keeps its own projection. It is loaded by streaming the entries (chunks of
rows, as ``domain/search.py`` builds them) and kept current from the change feed the
search already uses (``updated_at`` of actors, organisations, offers and this network's
applications; the members of a network trusted or no longer trusted): before a query
the entries changed since the last refresh are put again, and those whose organisation
or offer is deleted (or became a network) are dropped.

The entries are columns (numpy arrays: unit vectors, positions, one small integer code
per declared field, dates as day numbers) and postings (slots of the entries holding a
term, or a word). A query is boolean masks over the columns and the postings, a dot
product for a circle, ``bincount`` for the facets; a page is picked by closeness or by
name, with a cursor of (key, entry key)."""

from __future__ import annotations

import asyncio
import math
import time
from bisect import bisect_right
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterable

import numpy as np

from ssefed.config import ChainsConfig
from ssefed.db.base import utcnow
from ssefed.db.repos import search as search_repo
from ssefed.db.session import Database
from ssefed.domain import freshness, validity
from ssefed.domain.search import (FACETS, SearchQuery, make_cursor, offer_entry,
                                  organisation_entry)
from ssefed.domain.search_columns import EMPTY, Columns, Postings, Shown
from ssefed.geo import EARTH_KM, unit_vector

READ_OVERLAP = timedelta(seconds=5)  # rows committed a little late are not missed
# rows read and put in one go: the event loop is held for a fraction of a second at most
READ_BATCH = 500
# Each facet's value is kept as a small integer code per entry
CODED = tuple(f.name for f in FACETS)
FILTERS = tuple(f.name for f in FACETS if f.filtered)
COUNTED = tuple(f.name for f in FACETS if f.counted)

# An offer's key: after every organisation's (an organisation's key is its actor id), so
# that entries of equal closeness or name come organisations first, each kind by id
OFFER_KEYS = 1 << 40
# How far a dot product of unit vectors may be from the exact cosine of the angle: entries
# this close to a circle's edge are decided by the haversine distance
DOT_MARGIN = 1e-12
NO_DAY = 0  # "no date" in a day column (date.toordinal() is >= 1)
_RAD = math.pi / 180


def _day(value: date | None) -> int:
    return value.toordinal() if value else NO_DAY


def distance_km(lat: float, lon: float, lat0: float, lon0: float) -> float:
    """Great-circle distance in km, the formula (and the C library's functions) of the
    SQL search, so that an entry on a circle's edge is decided the same way."""
    dlat = (lat - lat0) * (_RAD / 2)
    dlon = (lon - lon0) * (_RAD / 2)
    a = (math.sin(dlat) * math.sin(dlat)
         + math.cos(lat0 * _RAD) * math.cos(lat * _RAD) * math.sin(dlon) * math.sin(dlon))
    return 2 * EARTH_KM * math.asin(math.sqrt(a))


class SearchProjection:
    """The search of one process: ``search(query)`` refreshes the projection from the
    change feed (at most every ``max_age`` seconds, one refresh at a time) and answers
    ``{"total", "items", "facets", "next"}``."""

    def __init__(self, db: Database, *, max_age: float = 1.0,
                 trust: ChainsConfig | None = None) -> None:
        self.db, self.max_age, self.trust = db, max_age, trust or ChainsConfig()
        self._lock = asyncio.Lock()
        self._checked = -1e9
        self._since: datetime | None = None
        self._trusted: set[str] | None = None
        self._reset()

    def _reset(self) -> None:
        self.cols = Columns(CODED)
        self.terms, self.words = Postings(), Postings()
        self.slot_of: dict[int, int] = {}  # entry key -> its live slot
        self.values: dict[str, list[Any]] = {f: [None] for f in CODED}  # code -> value
        self.code_of: dict[str, dict[Any, int]] = {f: {None: 0} for f in CODED}
        self.by_name = np.zeros(0, np.int64)  # slots < ranked_n, by (name, key)
        self.rank = np.zeros(0, np.int64)  # slot -> its place in by_name
        self.ranked_n = 0
        self.dead = 0
        self.shared: dict[Any, Any] = {}

    # -- keeping current ---------------------------------------------------------------

    async def fresh(self) -> None:
        """Bring the projection in step with the database, if it was not within
        ``max_age`` seconds (loading it the first time)."""
        def due() -> bool:
            return self._since is None or time.monotonic() - self._checked >= self.max_age

        if not due():
            return
        async with self._lock:
            if due():
                await self.refresh()
                self._checked = time.monotonic()

    async def refresh(self) -> int:
        """Put again the entries changed since the last refresh (all of them the first
        time, or when half the slots are dead); return how many were read."""
        started = utcnow()
        today = started.date()
        if self._since is not None and self.dead > max(10_000, self.cols.n // 2):
            self._since, self._trusted = None, None
        if self._since is None:
            self._reset()
        async with self.db.read() as s:
            own = await validity.own_network(s)
            trusted = await validity.trusted_networks(s, own, self.trust)
            since = self._since - READ_OVERLAP if self._since is not None else None
            actor_ids = await search_repo.changed_actor_ids(s, since)
            if since is not None and self._trusted != trusted:
                actor_ids = sorted(set(actor_ids) | set(await search_repo.members_of(
                    s, self._trusted ^ trusted)))
            # the first time every offer is read anyway: no need to list them by actor
            offer_ids = await search_repo.changed_offer_ids(
                s, since, actor_ids if since is not None else [])
        read = 0
        for i in range(0, len(actor_ids), READ_BATCH):
            chunk = actor_ids[i:i + READ_BATCH]
            async with self.db.read() as s:
                rows = await search_repo.organisations(s, chunk)
                kept = [r for r in rows if r.deleted_at is None and not r.is_network]
                vouched = await validity.validities(s, [r.ap_id for r in kept],
                                                    trusted=trusted, own=own, today=today)
            self._put(chunk, [(r.actor_id, organisation_entry(
                r, vouched.get(r.ap_id, validity.UNVALIDATED))) for r in kept])
            read += len(rows)
        for i in range(0, len(offer_ids), READ_BATCH):
            chunk = offer_ids[i:i + READ_BATCH]
            async with self.db.read() as s:
                rows = await search_repo.offers(s, chunk)
                kept = [r for r in rows if r.deleted_at is None and r.actor_deleted_at is None]
                vouched = await validity.validities(s, {r.actor_ap_id for r in kept},
                                                    trusted=trusted, own=own, today=today)
            self._put([OFFER_KEYS + offer_id for offer_id in chunk],
                      [(OFFER_KEYS + r.id,
                        offer_entry(r, vouched.get(r.actor_ap_id, validity.UNVALIDATED)))
                       for r in kept])
            read += len(rows)
        if since is None:  # a load: everything in the arrays (a refresh adds to ``recent``)
            self.terms.fold(self.cols.alive)
            self.words.fold(self.cols.alive)
            self._rank()
        self._since, self._trusted = started, trusted
        return read

    def _code(self, field: str, value: Any) -> int:
        code = self.code_of[field].get(value)
        if code is None:
            code = self.code_of[field][value] = len(self.values[field])
            self.values[field].append(value)
        return code

    def _one(self, value: Any) -> Any:
        """One copy of a value many entries hold (a node, a category, a list of sectors)."""
        return self.shared.setdefault(value, value)

    def _put(self, keys: Iterable[int], entries: list[tuple[int, tuple[dict, list[str]]]]
             ) -> None:
        """Drop the entries of ``keys``, then add ``entries`` ((key, (entry, terms)))."""
        c = self.cols
        for key in keys:
            slot = self.slot_of.pop(key, None)
            if slot is not None:
                # (what it showed stays: the order by name still holds the slot)
                c.alive[slot] = False
                self.dead += 1
        while c.n + len(entries) > len(c.alive):
            c.grow()
        first = c.n
        slots = range(first, first + len(entries))
        c.n += len(entries)
        # the columns a chunk at a time (numpy's per-element assignment costs more)
        new = slice(first, c.n)
        c.alive[new] = True
        c.key[new] = [key for key, _ in entries]
        c.actor[new] = [e["actor_id"] for _, (e, _) in entries]
        c.local[new] = [bool(e["local"]) for _, (e, _) in entries]
        placed = [(slot, e["lat"], e["lon"]) for slot, (_, (e, _)) in zip(slots, entries)
                  if e["lat"] is not None and e["lon"] is not None]
        if placed:
            at = [slot for slot, _, _ in placed]
            c.latlon[at] = [(lat, lon) for _, lat, lon in placed]
            c.xyz[at] = [unit_vector(lat, lon) for _, lat, lon in placed]
        for field in CODED:
            c.codes[field][new] = [self._code(field, e[field]) for _, (e, _) in entries]
        c.validated[new] = [bool(e["validated"]) for _, (e, _) in entries]
        c.validated_until[new] = [_day(e["validated_until"]) for _, (e, _) in entries]
        c.valid_until[new] = [_day(e["valid_until"]) for _, (e, _) in entries]
        for slot, (key, (e, terms)) in zip(slots, entries):
            self.slot_of[key] = slot
            terms = list(dict.fromkeys(t[:2100] for t in terms))
            sectors = tuple(sorted(t.removeprefix("sector:") for t in terms
                                   if t.startswith("sector:")))
            c.shown.append(Shown(
                ap_id=e["ap_id"], name=e["name"], summary=e["summary"][:300],
                node=self._one(e["node"]), local=bool(e["local"]),
                category=self._one(e["category"]), sectors=self._one(sectors)))
            self.terms.add(slot, terms)
            self.words.add(slot, set((e["words"] or "").split(" ")) - {""})
        for postings in (self.terms, self.words):
            if postings.due():
                postings.fold(c.alive)
        # (a load ranks once, at its end)
        if self._since is not None and c.n - self.ranked_n > max(2_000, c.n // 32):
            self._rank()

    def _rank(self) -> None:
        """Order the live slots by (name, key): the order of a search without a place."""
        c = self.cols
        live = np.flatnonzero(c.alive[:c.n])
        shown, keys = c.shown, c.key
        order = sorted(live.tolist(), key=lambda s: (shown[s].name, int(keys[s])))
        self.by_name = np.array(order, np.int64)
        self.rank = np.full(c.n, -1, np.int64)
        self.rank[self.by_name] = np.arange(len(order))
        self.ranked_n = c.n

    # -- answering ---------------------------------------------------------------------

    async def slot_of_iri(self, iri: str) -> int | None:
        """The slot of the organisation or offer whose IRI is ``iri``, if in the directory."""
        async with self.db.read() as s:
            actor_id, offer_id = await search_repo.keys_of(s, iri)
        if actor_id is not None:
            return self.slot_of.get(actor_id)
        return self.slot_of.get(OFFER_KEYS + offer_id) if offer_id is not None else None

    def value(self, name: str, slot: int) -> Any:
        """The value of the facet ``name`` of the entry in ``slot``."""
        return self.values[name][self.cols.codes[name][slot]]

    def having_any(self, terms: Iterable[str]) -> np.ndarray:
        """A mask of the slots holding at least one of ``terms``."""
        out = np.zeros(self.cols.n, bool)
        for term in terms:
            out[self.terms.exact(term)] = True
        return out

    def matching(self, f: dict[str, Any], today: date) -> np.ndarray:
        """The slots matching the filters ``f`` (as ``parse_search`` makes them)."""
        return self._matching(f, today)[0]

    async def search(self, query: SearchQuery, *, today: date | None = None
                     ) -> dict[str, Any]:
        """``{"total", "items", "facets", "next"}`` for ``query``."""
        await self.fresh()
        return self.answer(query, today or datetime.now(timezone.utc).date())

    def _matching(self, f: dict[str, Any], today: date) -> tuple[np.ndarray, np.ndarray | None]:
        """(the slots matching ``f`` in ascending order, their closeness to the centre
        when ``f`` has one)."""
        c = self.cols
        n = c.n
        mask = c.alive[:n].copy()
        for name in FILTERS:
            if f.get(name) is not None:
                code = self.code_of[name].get(f[name])
                if code is None:
                    return EMPTY, None
                mask &= c.codes[name][:n] == code
        day = today.toordinal()
        if f.get("validated_only"):
            vu = c.validated_until[:n]
            mask &= c.validated[:n] & ((vu == NO_DAY) | (vu >= day))
        if f.get("fresh_only"):
            vu = c.valid_until[:n]
            mask &= (vu == NO_DAY) | (vu >= day)
        for term in f.get("terms", []):
            mask &= self._having(self.terms.exact(term), n)
        for word in f.get("words", []):
            mask &= self._having(self.words.prefix(word), n)
        near = f.get("near")
        if near is None:
            return np.flatnonzero(mask), None
        mask &= ~np.isnan(c.xyz[:n, 0])
        slots = np.flatnonzero(mask)
        cx, cy, cz = unit_vector(*near)
        xyz = c.xyz[slots]
        close = xyz[:, 0] * cx + xyz[:, 1] * cy + xyz[:, 2] * cz
        radius = f.get("radius_km")
        if radius is not None:
            edge = math.cos(min(radius / EARTH_KM, math.pi))
            keep = close >= edge - DOT_MARGIN
            doubt = keep & (close < edge + DOT_MARGIN)
            for i in np.flatnonzero(doubt):  # a handful at most: rounding's width
                keep[i] = distance_km(*c.latlon[slots[i]].tolist(), *near) <= radius
            slots, close = slots[keep], close[keep]
        return slots, close

    @staticmethod
    def _having(slots: np.ndarray, n: int) -> np.ndarray:
        out = np.zeros(n, bool)
        out[slots] = True
        return out

    def _facets(self, slots: np.ndarray) -> dict[str, dict[str, int]]:
        facets: dict[str, dict[str, int]] = {}
        for name in COUNTED:
            counts = np.bincount(self.cols.codes[name][slots],
                                 minlength=len(self.values[name]))
            facets[name] = {self.values[name][code]: int(counts[code])
                            for code in np.flatnonzero(counts) if code != 0}
        return facets

    def _page_by_closeness(self, slots: np.ndarray, close: np.ndarray, limit: int,
                           after: tuple | None) -> list[tuple[int, float]]:
        keys = self.cols.key[slots]
        if after is not None:
            later = (close < after[0]) | ((close == after[0]) & (keys > after[1]))
            slots, close, keys = slots[later], close[later], keys[later]
        if len(slots) > 4 * limit:  # the nearest ``limit`` and every tie of the last one
            kth = -np.partition(-close, limit - 1)[limit - 1]
            near = close >= kth
            slots, close, keys = slots[near], close[near], keys[near]
        order = np.lexsort((keys, -close))[:limit]
        return [(int(slots[i]), float(close[i])) for i in order]

    def _page_by_name(self, slots: np.ndarray, limit: int, after: tuple | None) -> list[int]:
        c = self.cols
        ranked = slots[slots < self.ranked_n]
        recent = slots[slots >= self.ranked_n].tolist()

        def name_key(s: int) -> tuple[str, int]:
            return (c.shown[s].name, int(c.key[s]))

        ranks = self.rank[ranked]
        if after is not None:
            after_key = (after[0], after[1])
            first = bisect_right(self.by_name, after_key, key=lambda s: name_key(int(s)))
            ranks = ranks[ranks >= first]
            recent = [s for s in recent if name_key(s) > after_key]
        if len(ranks) > limit:
            ranks = np.partition(ranks, limit - 1)[:limit]
        picked = self.by_name[np.sort(ranks)].tolist() + recent
        return sorted(picked, key=name_key)[:limit]

    def answer(self, query: SearchQuery, today: date) -> dict[str, Any]:
        f = query.filters
        slots, close = self._matching(f, today)
        total = len(slots)
        facets = self._facets(slots)
        limit = query.limit + 1
        if close is not None:
            page = self._page_by_closeness(slots, close, limit, query.after)
        else:
            page = [(s, None) for s in self._page_by_name(slots, limit, query.after)]
        more, page = len(page) > query.limit, page[:query.limit]
        items = [self._item(slot, f.get("near"), today) for slot, _ in page]
        nxt = None
        if more:
            slot, closeness = page[-1]
            key = closeness if closeness is not None else self.cols.shown[slot].name
            nxt = make_cursor(query.fingerprint, (key, int(self.cols.key[slot])))
        return {"total": total, "items": items, "facets": facets, "next": nxt}

    def _item(self, slot: int, near: tuple[float, float] | None, today: date
              ) -> dict[str, Any]:
        c = self.cols
        e = c.shown[slot]
        value = {f: self.values[f][c.codes[f][slot]] for f in CODED}
        lat, lon = (float(v) for v in c.latlon[slot])
        placed = not math.isnan(lat)
        validated = bool(c.validated[slot])
        vu, until = c.validated_until[slot], c.valid_until[slot]
        validated_until = date.fromordinal(int(vu)) if vu != NO_DAY else None
        valid_until = date.fromordinal(int(until)) if until != NO_DAY else None
        item: dict[str, Any] = {
            "id": e.ap_id, "type": "Organization" if value["type"] == "organisation"
            else "Proposal", "name": e.name, "node": e.node, "local": e.local,
            "summary": e.summary,
            "location": {"lat": lat, "lon": lon} if placed else None,
            "validated": validated and not freshness.expired(validated_until, today),
            "validationExpired": validated and freshness.expired(validated_until, today),
            "validUntil": valid_until.isoformat() if valid_until else None,
            "expired": freshness.expired(valid_until, today),
            "sectors": list(e.sectors),
        }
        item.update((f.name, value[f.name]) for f in FACETS if value["type"] in f.shown)
        if value["type"] == "offer":
            item["category"] = e.category
        if near is not None and placed:
            item["distance_km"] = round(distance_km(lat, lon, *near), 2)
        return item
