"""Data access for the directory search: the derived search entries (kept in step with
organisations and offers), full-text matching on both databases, filters, radius
queries on a (lat, lon) B-tree, facets and keyset paging.

A radius query's total and facets come from per-cell counts (search_cells, kept by
triggers, migration 0016) for the grid cells wholly inside its circle, and from the
entries themselves only for the cells on its edge; its page from growing circles around
the centre (the nearest entries first)."""

from __future__ import annotations

import functools
import math
import zlib
from datetime import date, datetime
from typing import Any, Iterable

from sqlalchemy import (BigInteger, Float, Integer, String, and_, any_, bindparam, delete, func,
                        literal, or_, select, text, union, union_all)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from ssefed.db.models import (Actor, Application, Membership, Offer, OfferInput, Organisation,
                              SearchCell, SearchEntry, SearchState, SearchTerm)
from ssefed.db.repos.chains import bbox
from ssefed.geo import EARTH_KM

# The query side uses the tables' Core columns: the same SQL as through the mapped
# classes, without the ORM's per-statement work (a search runs four or five statements)
_ENTRIES = SearchEntry.__table__
_E, _T, _C, _I = (_ENTRIES.c, SearchTerm.__table__.c, SearchCell.__table__.c,
                  OfferInput.__table__.c)


def _among(dialect: str, column: Any, values: Iterable[Any]) -> Any:
    """``column IN values``; on PostgreSQL ``= ANY(array)``: one statement text whatever
    the number of values (asyncpg prepares it once), no list expanded per execution."""
    if dialect == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)


CELL_DEGREES = 0.1
MAX_CELLS = 600  # beyond, the (lat, lon) index does the radius


def cell_of(lat: float | None, lon: float | None) -> int | None:
    """The grid cell of a position: 0.1° of latitude by 0.1° of longitude, numbered so
    that a radius query is an IN list of cells on a B-tree (both databases)."""
    if lat is None or lon is None:
        return None
    return int(math.floor((lat + 90) / CELL_DEGREES)) * 10_000 + int(
        math.floor((lon + 180) / CELL_DEGREES))


def unit_vector(lat: float, lon: float) -> tuple[float, float, float]:
    r = math.pi / 180
    return (math.cos(lat * r) * math.cos(lon * r), math.cos(lat * r) * math.sin(lon * r),
            math.sin(lat * r))


def place_of(lat: float | None, lon: float | None) -> dict[str, Any]:
    """The columns of an entry's position besides lat/lon: its grid cell and its unit
    vector (x, y, z), which make "within r km" a dot product."""
    if lat is None or lon is None:
        return {"cell": None, "x": None, "y": None, "z": None}
    x, y, z = unit_vector(lat, lon)
    return {"cell": cell_of(lat, lon), "x": x, "y": y, "z": z}


def cells_around(lat: float, lon: float, radius_km: float) -> list[int] | None:
    lo_lat, hi_lat, lo_lon, hi_lon = bbox(lat, lon, radius_km)
    rows = range(int(math.floor((max(lo_lat, -90) + 90) / CELL_DEGREES)),
                 int(math.floor((min(hi_lat, 89.999) + 90) / CELL_DEGREES)) + 1)
    cols = range(int(math.floor((max(lo_lon, -180) + 180) / CELL_DEGREES)),
                 int(math.floor((min(hi_lon, 179.999) + 180) / CELL_DEGREES)) + 1)
    if len(rows) * len(cols) > MAX_CELLS:
        return None
    return [r * 10_000 + c for r in rows for c in cols]


# A 64-bit signature of an entry's words, kept on its terms (migration 0018): one bit per
# distinct 3-letter start of its words (crc32 of it, mod 64). A query word of 3 letters or
# more can only be the prefix of a word that starts with its own first 3 letters, so an
# entry whose signature lacks one of the query's bits cannot match and is skipped from the
# term index alone; the others have their words checked. Words are those of
# domain/text.py: [a-z0-9] runs separated by single spaces.
SIGNATURE_PREFIX = 3


def _signature_bit(start: str) -> int:
    return 1 << (zlib.crc32(start.encode()) & 63)


def _signed64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value  # as a BIGINT holds it


def word_signature(words: str) -> int:
    """The signature of an entry's indexed words."""
    sig = 0
    for start in {w[:SIGNATURE_PREFIX] for w in words.split(" ")
                  if len(w) >= SIGNATURE_PREFIX}:
        sig |= _signature_bit(start)
    return _signed64(sig)


def _skip_by_signature(q: Any, words: list[str] | None) -> Any:
    """``q`` (rows of search_terms) without the entries whose words' signature shows they
    cannot hold ``words``: decided on the term index, before any entry's words are read."""
    mask = query_signature(words) if words else 0
    if not mask:
        return q
    return q.where(or_(_T.wsig.is_(None),
                       _T.wsig.op("&")(literal(mask, BigInteger)) == mask))


def query_signature(words: list[str]) -> int:
    """The bits of every matching entry's signature (0: the words are too short to say)."""
    sig = 0
    for w in words:
        if len(w) >= SIGNATURE_PREFIX:
            sig |= _signature_bit(w[:SIGNATURE_PREFIX])
    return _signed64(sig)


async def synced_until(s: AsyncSession) -> datetime | None:
    row = await s.get(SearchState, 1)
    return row.synced_until if row else None


async def synced_state(s: AsyncSession) -> tuple[datetime | None, list[str] | None] | None:
    """(up to when the entries are synced, the networks trusted when they were), or None
    before the first sync; the networks are None when not recorded (an older sync)."""
    row = await s.get(SearchState, 1)
    return (row.synced_until, row.trusted_networks) if row else None


async def set_synced(s: AsyncSession, when: datetime, trusted: list[str] | None = None) -> None:
    row = await s.get(SearchState, 1)
    if row is None:
        s.add(SearchState(id=1, synced_until=when, trusted_networks=trusted))
    else:
        row.synced_until, row.trusted_networks = when, trusted
    await s.flush()


async def changed_actor_ids(s: AsyncSession, since: datetime | None) -> list[int]:
    """Organisation actors changed since ``since`` (all of them when None): their row,
    their organisation's, or this network's application (its decision) changed. (A
    members collection read again touches the actors whose listing changed.)"""
    q1 = select(Actor.id).join(Organisation, Organisation.actor_id == Actor.id)
    q2 = select(Organisation.actor_id)
    if since is None:
        rows = await s.execute(union(q1, q2))
        return sorted({r[0] for r in rows})
    q1 = q1.where(Actor.updated_at >= since)
    q2 = q2.where(Organisation.updated_at >= since)
    q3 = select(Application.applicant_id).where(Application.local_network.is_(True),
                                                Application.updated_at >= since)
    rows = await s.execute(union(q1, q2, q3))
    return sorted({r[0] for r in rows})


async def members_of(s: AsyncSession, networks: Iterable[str]) -> list[int]:
    """Ids of the actors known here that these networks' members collections list."""
    networks = list(networks)
    if not networks:
        return []
    rows = await s.scalars(select(Actor.id).join(Membership,
                                                 Membership.member_ap_id == Actor.ap_id)
                           .where(Membership.network_ap_id.in_(networks)))
    return sorted(set(rows))


async def changed_offer_ids(s: AsyncSession, since: datetime | None,
                            actor_ids: list[int]) -> list[int]:
    ids: set[int] = set()
    q = select(Offer.id)
    if since is not None:
        q = q.where(Offer.updated_at >= since)
    ids |= set((await s.execute(q)).scalars())
    for i in range(0, len(actor_ids), 500):
        ids |= set((await s.execute(select(Offer.id).where(
            Offer.actor_id.in_(actor_ids[i:i + 500])))).scalars())
    return sorted(ids)


_ORG_COLUMNS = (Actor.id.label("actor_id"), Actor.ap_id, Actor.local, Actor.domain, Actor.name,
                Actor.summary, Actor.is_network, Actor.deleted_at, Organisation.sectors,
                Organisation.qualifiers, Organisation.activities,
                Organisation.organisational_structure, Organisation.locality, Organisation.lat,
                Organisation.lon, Organisation.legal_form)


async def organisations(s: AsyncSession, actor_ids: list[int]) -> list[Any]:
    """Rows of what an organisation's search entry needs (no ORM objects: a sync reads
    thousands)."""
    return list((await s.execute(select(*_ORG_COLUMNS)
                                 .join(Organisation, Organisation.actor_id == Actor.id)
                                 .where(Actor.id.in_(actor_ids)))).all())


async def offers(s: AsyncSession, offer_ids: list[int]) -> list[Any]:
    """Rows of what an offer's search entry needs, with its publisher's facts."""
    return list((await s.execute(
        select(Offer.id, Offer.ap_id, Offer.local, Offer.title, Offer.summary, Offer.category,
               Offer.lat, Offer.lon, Offer.direction, Offer.kind, Offer.exchange,
               Offer.valid_until, Offer.deleted_at, Actor.id.label("actor_id"),
               Actor.ap_id.label("actor_ap_id"), Actor.domain, Actor.name.label("actor_name"),
               Actor.deleted_at.label("actor_deleted_at"), Organisation.sectors,
               Organisation.qualifiers, Organisation.lat.label("org_lat"),
               Organisation.lon.label("org_lon"), Organisation.legal_form)
        .join(Actor, Actor.id == Offer.actor_id)
        .outerjoin(Organisation, Organisation.actor_id == Actor.id)
        .where(Offer.id.in_(offer_ids)))).all())


async def clear(s: AsyncSession) -> None:
    # the terms first, in one statement: a cascade from each entry would run the count
    # triggers of search_terms once per entry (migration 0016)
    await s.execute(delete(SearchTerm))
    await s.execute(delete(SearchEntry))


async def analyze(s: AsyncSession) -> None:
    if s.bind.dialect.name == "postgresql":
        await s.execute(text("ANALYZE search_entries"))
        await s.execute(text("ANALYZE search_terms"))


async def vacuum_analyze(engine: Any) -> None:
    """After a large sync on PostgreSQL: the visibility map (index-only reads) and the
    planner's statistics of the search tables up to date. VACUUM runs outside a
    transaction, hence a connection in autocommit."""
    if engine.dialect.name != "postgresql":
        return
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM (ANALYZE) search_entries, search_terms, search_cells"))


SYNC_LOCK = 771_001  # PostgreSQL advisory lock: one sync writes at a time (node and CLI)


async def replace_entries(s: AsyncSession, *, remove_ap_ids: Iterable[str],
                          entries: list[tuple[dict[str, Any], list[str]]]) -> None:
    """Delete the entries of these IRIs, then insert the given ones with their terms."""
    if s.bind.dialect.name == "postgresql":  # SQLite writers are one at a time already
        await s.execute(text("SELECT pg_advisory_xact_lock(:k)").bindparams(k=SYNC_LOCK))
    remove = list(dict.fromkeys(remove_ap_ids))
    for i in range(0, len(remove), 500):
        chunk = remove[i:i + 500]
        # the terms first, in one statement (not a cascade per entry: the count triggers
        # of search_terms run per statement on PostgreSQL)
        await s.execute(delete(SearchTerm).where(SearchTerm.entry_id.in_(
            select(SearchEntry.id).where(SearchEntry.ap_id.in_(chunk)))))
        await s.execute(delete(SearchEntry).where(SearchEntry.ap_id.in_(chunk)))
    if not entries:
        return
    result = await s.execute(SearchEntry.__table__.insert().returning(
        SearchEntry.__table__.c.id, SearchEntry.__table__.c.ap_id), [e for e, _ in entries])
    ids = {ap_id: i for i, ap_id in result}
    # each term carries its entry's cell, type and facets (the per-cell counts, 0016)
    # and the signature of its entry's words (0018)
    sigs = [word_signature(e.get("words") or "") for e, _ in entries]
    terms = [(ids[e["ap_id"]], t[:2100], e["cell"], e["entry_type"], e["legal_form"],
              e["kind"], e["division"], sig)
             for (e, ts), sig in zip(entries, sigs) for t in dict.fromkeys(ts)]
    if s.bind.dialect.name == "postgresql":
        # one statement per chunk (unnest of arrays), not one per row: the count triggers
        # run once per statement on PostgreSQL
        for i in range(0, len(terms), 20_000):
            columns = list(zip(*terms[i:i + 20_000]))
            await s.execute(_PG_TERMS_INSERT, dict(zip("abcdefgh", map(list, columns))))
        return
    names = ("entry_id", "term", "cell", "entry_type", "legal_form", "kind", "division",
             "wsig")
    rows = [dict(zip(names, t)) for t in terms]
    for i in range(0, len(rows), 5000):
        await s.execute(SearchTerm.__table__.insert(), rows[i:i + 5000])


_PG_TERMS_INSERT = text(
    "INSERT INTO search_terms (entry_id, term, cell, entry_type, legal_form, kind, division, "
    "wsig) SELECT * FROM unnest(CAST(:a AS integer[]), CAST(:b AS varchar[]), "
    "CAST(:c AS integer[]), CAST(:d AS varchar[]), CAST(:e AS varchar[]), "
    "CAST(:f AS varchar[]), CAST(:g AS varchar[]), CAST(:h AS bigint[]))")


def fulltext(dialect: str, words: list[str], *, place_drives: bool = False,
             few_candidates: bool = False) -> Any:
    """Entries whose folded words contain every query word as a prefix. With
    ``place_drives``, SQLite checks the matches against the candidates of the grid cells
    (``id + 0`` keeps it from driving the query from a long list of matches). With
    ``few_candidates`` (a term in a circle's cells drives), SQLite reads each candidate's
    words instead of listing every match of a common word in the country: the same
    test, as the words are folded words of [a-z0-9] split by single spaces (text.py)."""
    if few_candidates:  # both databases: cheaper than a tsvector made per candidate
        spaced = literal(" ") + _E.words
        return and_(*(spaced.like(f"% {w}%") for w in words))
    if dialect == "postgresql":
        query = " & ".join(f"{w}:*" for w in words)
        return func.to_tsvector("simple", _E.words).op("@@")(
            func.to_tsquery("simple", query))
    match = " AND ".join(f'"{w}"*' for w in words)
    column = (_E.id + 0) if place_drives else _E.id
    return column.in_(text("SELECT rowid FROM search_fts WHERE search_fts MATCH :m")
                      .bindparams(m=match))


# How far a dot product of unit vectors may be from the exact cosine of the angle
# (rounding, ~1e-15): entries this close to the circle's edge are decided by the
# haversine distance, so the circle holds exactly what ``_DISTANCE <= r`` says.
DOT_MARGIN = 1e-12


# The same two expressions for every search, the centre given as parameters
# (``centre_params``): built once, their statements' text and cache keys do not change
# with the centre.
def _centre(name: str) -> Any:
    return bindparam(name, type_=Float)


_DEG = math.pi / 180
_DLAT = (_E.lat - _centre("c_lat")) * literal(_DEG / 2, Float)
_DLON = (_E.lon - _centre("c_lon")) * literal(_DEG / 2, Float)
_DISTANCE = literal(2 * EARTH_KM, Float) * func.asin(func.sqrt(
    func.sin(_DLAT) * func.sin(_DLAT) + _centre("c_coslat") * func.cos(_E.lat * literal(_DEG, Float))
    * func.sin(_DLON) * func.sin(_DLON)))
_CLOSENESS = _E.x * _centre("c_x") + _E.y * _centre("c_y") + _E.z * _centre("c_z")


def centre_params(f: dict[str, Any]) -> dict[str, float]:
    """The values of _DISTANCE's and _CLOSENESS's parameters for the centre of ``f``."""
    if f.get("near") is None:
        return {}
    lat0, lon0 = f["near"]
    cx, cy, cz = unit_vector(lat0, lon0)
    return {"c_lat": lat0, "c_lon": lon0, "c_coslat": math.cos(lat0 * _DEG),
            "c_x": cx, "c_y": cy, "c_z": cz}


@functools.lru_cache(maxsize=64)  # (matching and gaps: a few centres, again and again)
def distance_expr(lat0: float, lon0: float) -> Any:
    """Great-circle distance in km from (lat0, lon0), in SQL (both databases have the
    math functions): _DISTANCE with its centre given, for statements executed without
    ``centre_params``."""
    return _DISTANCE.params(centre_params({"near": (lat0, lon0)}))


ENTRY_TYPES = ("organisation", "offer")


def filtered(dialect: str, f: dict[str, Any], today: date, *,
             only_cells: list[int] | None = None,
             word_checks: bool = True) -> tuple[Any, Any | None]:
    """The WHERE clause of a search and, for a distance query, the closeness expression
    (_CLOSENESS, larger is nearer) it is sorted by. ``only_cells``: the circle's cells to look in
    (by default all of them); ``word_checks=False``: on SQLite, the words from the
    full-text index even when a term in the circle's cells could drive (it has too many
    entries there for each one's words to be read)."""
    conds: list[Any] = []
    near = f.get("near")
    radius = f.get("radius_km") if near is not None else None
    closeness, cells = None, None
    if near is not None:
        # the place first: on the covering index (cell, type, position, facets), the
        # circle is tested before any term or word is looked up
        lat0, lon0 = near
        closeness = _CLOSENESS
        cells = cells_around(lat0, lon0, radius) if radius is not None else None
        if cells is not None and only_cells is not None:
            cells = only_cells
        if cells is not None:
            conds.append(_among(dialect, _E.cell, cells))
        if f.get("type"):
            conds.append(_E.entry_type == f["type"])
        conds.append(_E.x.is_not(None))
        if radius is not None:
            if cells is None:  # a very large circle: the (lat, lon) index
                lo_lat, hi_lat, lo_lon, hi_lon = bbox(lat0, lon0, radius)
                conds += [_E.lat.between(lo_lat, hi_lat),
                          _E.lon.between(lo_lon, hi_lon)]
            edge = math.cos(min(radius / EARTH_KM, math.pi))
            conds += [closeness >= literal(edge - DOT_MARGIN, Float),
                      or_(closeness >= literal(edge + DOT_MARGIN, Float),
                          _DISTANCE <= radius)]
    if near is None and f.get("type"):
        conds.append(_E.entry_type == f["type"])
    for column in ("legal_form", "direction", "kind"):
        if f.get(column):
            conds.append(_E[column] == f[column])
    if f.get("market") is not None:
        conds.append(_E.market.is_(f["market"]))
    if f.get("validated_only"):
        conds.append(_E.validated.is_(True))
        conds.append(or_(_E.validated_until.is_(None),
                         _E.validated_until >= today))
    if f.get("fresh_only"):
        conds.append(or_(_E.valid_until.is_(None), _E.valid_until >= today))
    for term in f.get("terms", []):
        if cells is not None:
            # the entries of the term in the circle's cells: a short range of (term, cell),
            # not one lookup per candidate of the circle nor every entry of the term. On
            # SQLite the covering index of the place still drives (``id + 0``): looking
            # up each entry of a common sector in the table costs more
            column = (_E.id + 0) if dialect == "sqlite" else _E.id
            # (term, type, cell): the type narrows the range of the term index (0016)
            types = [f["type"]] if f.get("type") else list(ENTRY_TYPES)
            q = select(_T.entry_id).where(
                _T.term == term, _among(dialect, _T.entry_type, types),
                _among(dialect, _T.cell, cells))
            conds.append(column.in_(_skip_by_signature(q, f.get("words"))))
        elif radius is not None:
            # the place drives, each candidate's term checked by primary key: a sector may
            # have far more entries than the circle
            t = SearchTerm.__table__.alias()
            conds.append(select(t.c.entry_id).where(t.c.entry_id == _E.id, t.c.term == term)
                         .correlate(_ENTRIES).exists())
        else:
            conds.append(_E.id.in_(select(_T.entry_id).where(_T.term == term)))
    if f.get("words"):
        conds.append(fulltext(dialect, f["words"], place_drives=radius is not None,
                              few_candidates=(cells is not None and bool(f.get("terms"))
                                              and word_checks)))
    return (and_(*conds) if conds else literal(True)), closeness


_PAGE_COLUMNS = (_E.id, _E.ap_id, _E.entry_type, _E.name,
                 _E.summary, _E.node, _E.local, _E.lat,
                 _E.lon, _E.legal_form, _E.direction,
                 _E.kind, _E.market, _E.category,
                 _E.validated, _E.validated_until, _E.valid_until)


_SEP = "\x1f"  # between the sector terms of a page row (a control character: not in a code)


@functools.lru_cache(maxsize=2)
def _sectors(dialect: str) -> Any:
    """A page row's sector terms, joined by _SEP (read with the row: no second statement
    for the page's terms)."""
    t = SearchTerm.__table__.alias("st")
    join = func.string_agg if dialect == "postgresql" else func.group_concat
    return (select(join(t.c.term, literal(_SEP)))
            .where(t.c.entry_id == _E.id, t.c.term.like("sector:%"))
            .scalar_subquery().label("sectors"))


def sectors_of(row: Any) -> list[str]:
    """The sector codes of a row of ``search`` (sorted)."""
    return sorted(t.removeprefix("sector:") for t in (row.sectors or "").split(_SEP) if t)


def _facets(grouped: Iterable[tuple]) -> tuple[int, dict[str, dict[str, int]]]:
    total = 0
    facets: dict[str, dict[str, int]] = {"legal_form": {}, "kind": {}, "sector": {}}
    for legal, kind, division, n in grouped:
        total += n
        for name, value in (("legal_form", legal), ("kind", kind), ("sector", division)):
            if value is not None:
                facets[name][value] = facets[name].get(value, 0) + n
    return total, facets


# A cell whose four corners are this much inside the circle is inside it whole: its
# entries are counted from search_cells without being read (a cell's farthest point from
# the centre is one of its corners, for cells far less than 180° of longitude away)
CELL_MARGIN_KM = 1e-3
# what the per-cell counts can answer besides the circle: the type, one term, and the
# facet columns they are keyed by
_CELL_FILTERS = {"near", "radius_km", "type", "terms", "legal_form", "kind"}


def split_cells(lat0: float, lon0: float, radius_km: float,
                cells: list[int]) -> tuple[list[int], list[int]]:
    """(cells wholly inside the circle, cells on its edge) of ``cells``: a cell is inside
    when its four corners are (their unit vectors against the centre's, no trigonometry
    per corner beyond the grid's lines)."""
    cx, cy, cz = unit_vector(lat0, lon0)
    # the cosine of an angle a margin short of the radius: a corner nearer than that is
    # inside however the database rounds
    limit = math.cos(min(max(radius_km - CELL_MARGIN_KM, 0) / EARTH_KM, math.pi))
    rad = math.pi / 180
    corner: dict[tuple[int, int], bool] = {}

    def near(row: int, col: int) -> bool:
        if (row, col) not in corner:
            lat, lon = (row * CELL_DEGREES - 90) * rad, (col * CELL_DEGREES - 180) * rad
            dot = (math.cos(lat) * (math.cos(lon) * cx + math.sin(lon) * cy)
                   + math.sin(lat) * cz)
            corner[(row, col)] = dot > limit + DOT_MARGIN
        return corner[(row, col)]

    inside, edge = [], []
    for cell in cells:
        row, col = divmod(cell, 10_000)
        whole = (radius_km > CELL_MARGIN_KM and near(row, col) and near(row + 1, col)
                 and near(row, col + 1) and near(row + 1, col + 1))
        (inside if whole else edge).append(cell)
    return inside, edge


def _by_cells(f: dict[str, Any]) -> list[int] | None:
    """The circle's cells when the per-cell counts can give this search's total and
    facets (a radius, at most one term, no words nor other filters), else None."""
    if f.get("near") is None or f.get("radius_km") is None or len(f.get("terms", [])) > 1:
        return None
    if any(v not in (None, False, [], "") for k, v in f.items() if k not in _CELL_FILTERS):
        return None
    return cells_around(*f["near"], f["radius_km"])


async def _counted_by_cells(s: AsyncSession, f: dict[str, Any], cells: list[int],
                            today: date) -> list[tuple]:
    """(legal form, kind, division, n) of the matches, in one statement: sums of the
    cells inside the circle, and an exact count of the entries of the cells on its
    edge."""
    dialect = s.bind.dialect.name
    inside, edge = split_cells(*f["near"], f["radius_km"], cells)
    parts = []
    if inside:
        terms = f.get("terms") or [""]
        q = (select(_C.legal_form, _C.kind, _C.division,
                    func.sum(_C.n).label("n"))
             .where(_C.term == terms[0],
                    _among(dialect, _C.entry_type,
                           [f["type"]] if f.get("type") else ENTRY_TYPES),
                    _among(dialect, _C.cell, inside)))
        for column in ("legal_form", "kind"):
            if f.get(column):
                q = q.where(_C[column] == f[column])
        parts.append(q.group_by(_C.legal_form, _C.kind, _C.division))
    if edge:
        where, _ = filtered(dialect, f, today, only_cells=edge)
        # '' for none, as in search_cells
        parts.append(select(func.coalesce(_E.legal_form, ""),
                            func.coalesce(_E.kind, ""),
                            func.coalesce(_E.division, ""), func.count())
                     .where(where)
                     .group_by(_E.legal_form, _E.kind, _E.division))
    q = parts[0] if len(parts) == 1 else union_all(*parts)
    return [(legal or None, kind or None, division or None, int(n))
            for legal, kind, division, n in await s.execute(q, centre_params(f))]


FIRST_RING_KM = 1.0  # the smallest circle the nearest page is looked for in


async def _nearest(s: AsyncSession, f: dict[str, Any], *, limit: int, after: tuple | None,
                   today: date, total: int) -> list[tuple[float, int]]:
    """(closeness, id) of the page: the nearest matches (after ``after``). A first page is
    looked for in growing circles: once a circle holds a page whose last entry is
    nearer than its edge, nothing outside it can come before. The first circle is sized
    from the total (as if the matches were spread evenly) to hold about twice a page."""
    dialect = s.bind.dialect.name
    radius = f["radius_km"]
    r = radius
    if after is None and total > 2 * limit:
        r = min(radius, max(FIRST_RING_KM, radius * math.sqrt(2 * limit / total)))
    while True:
        where, closeness = filtered(dialect, {**f, "radius_km": r}, today)
        q = select(closeness.label("k"), _E.id).where(where)
        if after is not None:
            q = q.where(or_(closeness < after[0], and_(closeness == after[0],
                                                       _E.id > after[1])))
        rows = [(k, i) for k, i in await s.execute(
            q.order_by(closeness.desc(), _E.id).limit(limit), centre_params(f))]
        edge = math.cos(min(r / EARTH_KM, math.pi)) + DOT_MARGIN
        if r >= radius or (len(rows) >= limit and rows[-1][0] > edge):
            return rows
        r = min(radius, r * 4)


WORD_CHECKS_MAX = 800  # entries whose words are read one by one, at most (see search)


async def _term_count(s: AsyncSession, f: dict[str, Any], cells: list[int]) -> int:
    """How many entries of the (one) term of ``f`` are in these cells, from search_cells."""
    dialect = s.bind.dialect.name
    q = select(func.sum(_C.n)).where(
        _C.term == f["terms"][0],
        _among(dialect, _C.entry_type, [f["type"]] if f.get("type") else ENTRY_TYPES),
        _among(dialect, _C.cell, cells))
    return int(await s.scalar(q) or 0)


# SET LOCAL, in one round trip; and a plan per execution: asyncpg prepares each statement
# and reuses it (with arrays for the cells, one text per statement whatever the circle),
# and PostgreSQL's generic plan of a reused one (after five runs) knows neither the
# circle's cells nor how common the term and the words are, which then costs far more
# (x2-x3) than planning each time
_PG_SETTINGS = text("SELECT set_config('jit', 'off', true), "
                    "set_config('max_parallel_workers_per_gather', '0', true), "
                    "set_config('plan_cache_mode', 'force_custom_plan', true)")


async def search(s: AsyncSession, f: dict[str, Any], *, limit: int,
                 after: tuple | None, today: date) -> tuple[int, list[Any], dict]:
    """(exact total, one page of rows, facets) for filters ``f``; keyset paging after the
    key ``after`` of the previous page's last row (``page_key`` of that row). Each entry
    is counted under its first sector's division."""
    dialect = s.bind.dialect.name
    if dialect == "postgresql":
        # the planner's cost of a large circle passes the JIT threshold: compiling the
        # query then costs more (50-200 ms) than running it; and workers cost more to
        # start than these index reads take
        await s.execute(_PG_SETTINGS)
    cells = _by_cells(f)
    word_checks, words_last = True, False
    if f.get("words") and f.get("terms") and cells is None:
        # a term and words in a circle. SQLite: the term's entries in the circle's cells
        # have their words read one by one when they are few, else the full-text index
        # answers. PostgreSQL: the term's entries in the circle first (from the indexes
        # alone), then each one's words (a tsvector per row, or the GIN index's list of
        # a common word, cost more)
        around = _by_cells({k: v for k, v in f.items() if k != "words"})
        if around is not None and dialect == "postgresql":
            words_last = True
        elif around is not None:
            # (with a words' signature, most of those that cannot match are skipped on the
            # term index first: the words of the others are read, however many the term has)
            word_checks = (bool(query_signature(f["words"]))
                           or await _term_count(s, f, around) <= WORD_CHECKS_MAX)
    if cells is not None:
        total, facets = _facets(await _counted_by_cells(s, f, cells, today))
        order = (await _nearest(s, f, limit=limit, after=after, today=today, total=total)
                 if total else [])
        return total, await _page_rows(s, f, order), facets
    where, closeness = filtered(dialect, f, today, word_checks=word_checks)
    if closeness is None:
        return await _search_by_name(s, where, limit=limit, after=after)
    # one pass over the circle: the matches (from the covering index) are kept once, then
    # grouped for the total and the facets, and the page is picked from them by closeness
    if words_last:
        m = _term_then_words(dialect, f, around, today, closeness)
    else:
        m = (select(_E.id, _E.legal_form, _E.kind,
                    _E.division, closeness.label("k")).where(where)
             .cte("m").prefix_with("MATERIALIZED"))
    page = select(m.c.id, m.c.k)
    if after is not None:
        page = page.where(or_(m.c.k < after[0], and_(m.c.k == after[0], m.c.id > after[1])))
    page = page.order_by(m.c.k.desc(), m.c.id).limit(limit).subquery("page")
    q = union_all(
        select(literal(0).label("part"), m.c.legal_form, m.c.kind, m.c.division,
               func.count().label("n"), literal(None, Integer).label("id"),
               literal(None, Float).label("k"))
        .group_by(m.c.legal_form, m.c.kind, m.c.division),
        select(literal(1), literal(None, String), literal(None, String),
               literal(None, String), literal(None, Integer), page.c.id, page.c.k))
    grouped, order = [], []
    for part, legal, kind, division, n, entry_id, k in await s.execute(q, centre_params(f)):
        if part == 0:
            grouped.append((legal, kind, division, n))
        else:
            order.append((k, entry_id))
    total, facets = _facets(grouped)
    order.sort(key=lambda key: (-key[0], key[1]))
    return total, await _page_rows(s, f, order), facets


def _term_then_words(dialect: str, f: dict[str, Any], cells: list[int], today: date,
                     closeness: Any) -> Any:
    """The matches of a term and words in a circle (PostgreSQL): the term's entries in
    the cells inside the circle from the term index alone, those of the edge cells
    tested against the circle on the place index, then each candidate's row read once
    for its words, position and facets."""
    inside, edge = split_cells(*f["near"], f["radius_km"], cells)
    base = {k: v for k, v in f.items() if k != "words"}
    parts = []
    if inside:
        q = select(_T.entry_id.label("id")).where(
            _T.term == f["terms"][0],
            _among(dialect, _T.entry_type, [f["type"]] if f.get("type") else ENTRY_TYPES),
            _among(dialect, _T.cell, inside))
        for column in ("legal_form", "kind"):
            if f.get(column):
                q = q.where(_T[column] == f[column])
        parts.append(_skip_by_signature(q, f["words"]))
    if edge:
        parts.append(select(_E.id.label("id"))
                     .where(filtered(dialect, base, today, only_cells=edge)[0]))
    c = (parts[0] if len(parts) == 1 else union_all(*parts)).cte("c").prefix_with(
        "MATERIALIZED")
    spaced = literal(" ") + _E.words
    return (select(_E.id, _E.legal_form, _E.kind,
                   _E.division, closeness.label("k"))
            .select_from(c).join(_ENTRIES, _E.id == c.c.id)
            .where(*(spaced.like(f"% {w}%") for w in f["words"]))
            .cte("m").prefix_with("MATERIALIZED"))


async def _page_rows(s: AsyncSession, f: dict[str, Any],
                     order: list[tuple[float, int]]) -> list[Any]:
    """The rows of a page of (closeness, id), in that order."""
    if not order:
        return []
    by_id = {r.id: r for r in await s.execute(
        select(*_PAGE_COLUMNS, _sectors(s.bind.dialect.name), _DISTANCE.label("distance"),
               _CLOSENESS.label("page_key"))
        .where(_among(s.bind.dialect.name, _E.id, [i for _, i in order])), centre_params(f))}
    return [by_id[i] for _, i in order]


async def _search_by_name(s: AsyncSession, where: Any, *, limit: int,
                          after: tuple | None) -> tuple[int, list[Any], dict]:
    grouped = (await s.execute(select(_E.legal_form, _E.kind,
                                      _E.division, func.count())
                               .where(where)
                               .group_by(_E.legal_form, _E.kind,
                                         _E.division))).all()
    total, facets = _facets(grouped)
    page = select(_E.id).where(where)
    if after is not None:
        page = page.where(or_(_E.name > after[0],
                              and_(_E.name == after[0], _E.id > after[1])))
    # the page first, then its rows with their sectors (not a subquery per match)
    page = page.order_by(_E.name, _E.id).limit(limit).subquery("page")
    q = (select(*_PAGE_COLUMNS, _sectors(s.bind.dialect.name), literal(None).label("distance"),
                _E.name.label("page_key"))
         .select_from(_ENTRIES.join(page, _E.id == page.c.id)).order_by(_E.name, _E.id))
    rows = list((await s.execute(q)).all())
    return total, rows, facets
