"""The directory search over organisations and offers, local and received: what can be
asked (the facets, declared once), parsing a query, and the search entry of an
organisation or an offer. The entries are held and queried by the projection of
``domain/search_projection.py``."""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from ssefed.domain import categories, freshness, validity
from ssefed.domain import text as text_mod
from ssefed.domain.errors import InvalidInput
from ssefed.domain.fields import place
from ssefed.domain.organisations import LEGAL_FORMS, QUALIFIERS
from ssefed.terms import DIRECTIONS, KINDS
from ssefed.vocab.labels import nace_section

MAX_LIMIT = 100
_TAG = re.compile(r"<[^>]+>")
_NACE = re.compile(r"^\d{2}(\.\d{1,2})?$")
TYPES = ("organisation", "offer")


@functools.lru_cache(maxsize=4096)  # a few hundred codes, read for every entry
def sector_terms(code: str) -> tuple[str, ...]:
    """A NACE code and its parents: 01.11 -> sector:A (its section), sector:01,
    sector:01.1, sector:01.11."""
    if not _NACE.match(code):
        return ()
    section = nace_section(code)
    out = [f"sector:{section}"] if section else []
    out.append(f"sector:{code[:2]}")
    if len(code) >= 4:
        out.append(f"sector:{code[:4]}")
    if len(code) == 5:
        out.append(f"sector:{code}")
    return tuple(out)


def _division(sectors) -> str | None:
    """The NACE division (2 digits) of the first sector: what the sector facet counts."""
    first = next((c for c in sectors or [] if _NACE.match(c)), None)
    return first[:2] if first else None


def plain(text: str) -> str:
    return html.unescape(_TAG.sub(" ", text or "")).strip()


@dataclass(frozen=True)
class Facet:
    """A filter of the search on one value of each entry, declared once: ``parse_search``
    reads and checks its parameter (API, page, command line), the projection keeps the
    value of every entry, the answer counts the matches by value under ``facets`` when
    ``counted``, its items show it when they are of a type in ``shown``, and the search
    page draws its field and its breakdown.

    ``of_organisation`` and ``of_offer`` read the value from a row of
    ``db/repos/search.py``: every column of the organisation (and ``ap_id``, ``name``…
    of its actor), or every column of the offer with those of its publisher's
    organisation as ``org_<column>``. ``choices`` are the values a query may ask (none: a
    yes/no); a facet with ``filtered=False`` is only counted (sectors are asked as terms,
    with their parents). Texts are (French, English)."""
    name: str
    of_organisation: Callable[[Any], Any]
    of_offer: Callable[[Any], Any]
    choices: Sequence[str] | None = None
    counted: bool = False
    filtered: bool = True
    shown: tuple[str, ...] = ()
    label: tuple[str, str] = ("", "")
    heading: tuple[str, str] = ("", "")  # of its breakdown, when counted
    any_label: tuple[str, str] = ("toutes", "all")
    option_labels: dict[str, tuple[str, str]] = field(default_factory=dict)

    def options(self) -> list[tuple[str, tuple[str, str]]]:
        """(value, its label) of each value the page offers."""
        values = self.choices if self.choices is not None else ("true", "false")
        return [(v, self.option_labels.get(v, (v, v))) for v in values]


def _none(r: Any) -> None:
    return None


FACETS = (
    Facet("type", lambda r: "organisation", lambda r: "offer", choices=TYPES,
          label=("Type", "Type"), any_label=("tout", "all"),
          option_labels={"organisation": ("organisations", "organisations"),
                         "offer": ("offres et demandes", "offers and demands")}),
    Facet("legal_form", lambda r: r.legal_form, lambda r: r.org_legal_form, choices=LEGAL_FORMS,
          counted=True, shown=("organisation",), label=("Forme juridique", "Legal form"),
          heading=("Formes juridiques", "Legal forms")),
    Facet("direction", _none, lambda r: r.direction, choices=DIRECTIONS, shown=("offer",),
          label=("Sens", "Direction"), any_label=("les deux", "both"),
          option_labels={"offer": ("offre", "offer"), "demand": ("demande", "demand")}),
    Facet("kind", _none, lambda r: r.kind, choices=KINDS, counted=True, shown=("offer",),
          label=("Nature", "Kind"), heading=("Natures", "Kinds")),
    Facet("market", _none, lambda r: r.exchange == "sale", shown=("offer",),
          label=("Échange", "Exchange"), any_label=("tous", "all"),
          option_labels={"true": ("marchand (vente)", "market (sale)"),
                         "false": ("non marchand (prêt, don, mutualisation…)",
                                   "non-market (loan, gift, pooling…)")}),
    Facet("accessible_premises", lambda r: r.accessible_premises,
          lambda r: r.org_accessible_premises, counted=True, shown=("organisation",),
          label=("Locaux accessibles", "Accessible premises"), any_label=("tous", "all"),
          heading=("Locaux accessibles", "Accessible premises"),
          option_labels={"true": ("oui", "yes"), "false": ("non précisé", "not stated")}),
    # the NACE division (2 digits) of the first sector
    Facet("sector", lambda r: _division(r.sectors), lambda r: _division(r.org_sectors),
          counted=True, filtered=False, heading=("Secteurs (NACE)", "Sectors (NACE)")),
)
FACET_BY_NAME = {f.name: f for f in FACETS}


def _validity_columns(g: freshness.Guarantee) -> dict[str, Any]:
    """What an entry keeps of its organisation's guarantee (domain/validity.py): whether a
    trusted network vouches, and until when (the query compares that end with today)."""
    return {"validated": g.network is not None,
            "validated_until": g.until if g.network is not None else None}


def organisation_entry(r, g: freshness.Guarantee = validity.UNVALIDATED
                       ) -> tuple[dict[str, Any], list[str]]:
    """The search entry of an organisation (a row of search_repo.organisations) whose
    guarantee is ``g``, and its terms."""
    terms = [t for code in r.sectors or [] for t in sector_terms(code)]
    terms += [f"q:{q}" for q in r.qualifiers or []]
    terms += [f"ica:{a}" for a in r.activities or []]
    if r.organisational_structure:
        terms.append(f"structure:{r.organisational_structure}")
    summary = plain(r.summary)
    return ({"ap_id": r.ap_id, "actor_id": r.actor_id, "local": r.local, "node": r.domain,
             "name": r.name[:500], "summary": summary[:2000],
             "words": text_mod.indexed(r.name, summary, r.locality),
             "lat": r.lat, "lon": r.lon, "category": None,
             **{f.name: f.of_organisation(r) for f in FACETS}, **_validity_columns(g),
             # an organisation is current as long as its validation is
             "valid_until": g.until if g.network is not None else None}, terms)


def offer_entry(r, g: freshness.Guarantee = validity.UNVALIDATED
                ) -> tuple[dict[str, Any], list[str]]:
    """The search entry of an offer (a row of search_repo.offers) whose publisher's
    guarantee is ``g``, and its terms."""
    terms = [f"cat:{c}" for c in categories.with_broader(r.category)]
    terms += [t for code in r.org_sectors or [] for t in sector_terms(code)]
    terms += [f"q:{q}" for q in r.org_qualifiers or []]
    labels = " ".join(categories.label(r.category, lang) for lang in ("fr", "en"))
    lat, lon = (r.lat, r.lon) if r.lat is not None else (r.org_lat, r.org_lon)
    return ({"ap_id": r.ap_id, "actor_id": r.actor_id, "local": r.local, "node": r.domain,
             "name": r.title[:500], "summary": (r.summary or "")[:2000],
             "words": text_mod.indexed(r.title, r.summary or "", labels, r.actor_name),
             "lat": lat, "lon": lon, "category": r.category,
             **{f.name: f.of_offer(r) for f in FACETS}, **_validity_columns(g),
             "valid_until": r.valid_until}, terms)


@dataclass
class SearchQuery:
    filters: dict[str, Any] = field(default_factory=dict)
    limit: int = 20
    after: tuple | None = None
    fingerprint: str = ""


def _fingerprint(filters: dict[str, Any]) -> str:
    # "keys": a cursor holds an entry's key in the projection (an actor's or an offer's
    # id); cursors of the former search by database rows are refused rather than misread
    signed = {**filters, "keys": "projection"}
    if "near" in filters:
        signed["order"] = "closeness"
    return hashlib.sha256(json.dumps(signed, sort_keys=True, default=str).encode()
                          ).hexdigest()[:16]


def make_cursor(fingerprint: str, key: tuple) -> str:
    """The cursor of the page after the entry whose sort key is ``key``."""
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
    f: dict[str, Any] = {}
    q = params.get("q") or ""
    if not isinstance(q, str) or len(q) > 500:
        raise InvalidInput("q", "must be a text of at most 500 characters")
    if q.strip():
        f["words"] = text_mod.query_words(q)
        if not f["words"]:
            raise InvalidInput("q", "has no word to search for")
    for facet in FACETS:
        if facet.filtered:
            f[facet.name] = (_choice(params, facet.name, tuple(facet.choices))
                             if facet.choices is not None else _bool(params, facet.name))
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
    # a yes/no facet asked "no" filters (market=false: the non-market ones)
    yes_no = {facet.name for facet in FACETS if facet.choices is None}
    f = {k: v for k, v in f.items() if v is not None and v != []
         and (v is not False or k in yes_no)}
    fingerprint = _fingerprint(f)
    after = _read_cursor(params["cursor"], fingerprint) if params.get("cursor") else None
    return SearchQuery(filters=f, limit=limit, after=after, fingerprint=fingerprint)
