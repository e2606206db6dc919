"""French and English labels of the code lists ssefed publishes as plain strings (kinds,
roles, exchange modes, validation statuses), of the legal forms and qualifiers, and of
the NACE sections the sectors belong to — read from the shipped vocabulary
(schemas/ssefed.ttl, schemas/taxonomies/*.ttl) once, lazily, at the first label asked.

Category labels are in ``ssefed.domain.categories.label``."""

from __future__ import annotations

import functools
import re

from ssefed.paths import SCHEMAS_DIR

LANGS = ("fr", "en")
SSEFED_NS = "https://w3id.org/ssefed/ns#"
LEGAL_FORM_NS = "https://w3id.org/ssefed/legal-form/"
QUALIFIER_NS = "https://w3id.org/ssefed/qualifier/"
NACE_NS = "http://data.europa.eu/ux2/nace2/"

# list name -> (file under schemas/, IRI prefix of its concepts)
_LISTS = {
    "kind": ("ssefed.ttl", SSEFED_NS + "kind-"),
    "role": ("ssefed.ttl", SSEFED_NS + "role-"),
    "exchange": ("ssefed.ttl", SSEFED_NS + "exchange-"),
    "status": ("ssefed.ttl", SSEFED_NS + "status-"),
    "legal_form": ("taxonomies/legal-forms.ttl", LEGAL_FORM_NS),
    "qualifier": ("taxonomies/qualifiers.ttl", QUALIFIER_NS),
    "nace_section": ("taxonomies/nace-sections.ttl", NACE_NS),
}
_DIVISION = re.compile(r"^(\d{2})")

# Exchange modes with a price: the market ones. The others (exchange, loan, gift,
# pooling) are non-market.
MARKET_EXCHANGES = frozenset({"sale"})


@functools.lru_cache(maxsize=None)
def _graph(name: str):
    import rdflib

    graph = rdflib.Graph()
    graph.parse(SCHEMAS_DIR / name, format="turtle")
    return graph


@functools.lru_cache(maxsize=None)
def _labels(list_name: str) -> dict[str, dict[str, str]]:
    """notation -> {lang: prefLabel} of one code list."""
    import rdflib
    from rdflib.namespace import SKOS

    file, prefix = _LISTS[list_name]
    graph = _graph(file)
    out: dict[str, dict[str, str]] = {}
    for concept, label in graph.subject_objects(SKOS.prefLabel):
        if not str(concept).startswith(prefix) or not isinstance(label, rdflib.Literal):
            continue
        notation = graph.value(concept, SKOS.notation)
        if notation is None or not label.language:
            continue
        out.setdefault(str(notation), {})[label.language] = str(label)
    return out


def codes(list_name: str) -> list[str]:
    """The codes (skos:notation) of a code list, sorted."""
    return sorted(_labels(list_name))


def label(list_name: str, code: str | None, lang: str = "fr") -> str:
    """The label of ``code`` in ``list_name`` (kind, role, exchange, status, legal_form,
    qualifier, nace_section) in ``lang``, else English, else the code itself."""
    if not code:
        return ""
    labels = _labels(list_name).get(code, {})
    return labels.get(lang) or labels.get("en") or code


@functools.lru_cache(maxsize=1)
def _section_of_division() -> dict[str, str]:
    from rdflib.namespace import SKOS

    graph = _graph("taxonomies/nace-sections.ttl")
    out: dict[str, str] = {}
    for division, section in graph.subject_objects(SKOS.broader):
        d, s = graph.value(division, SKOS.notation), graph.value(section, SKOS.notation)
        if d is not None and s is not None:
            out[str(d)] = str(s)
    return out


def nace_section(sector: str) -> str | None:
    """The NACE Rev. 2 section (letter A–U) of a sector code ("01.11" -> "A"), or None."""
    match = _DIVISION.match(sector or "")
    return _section_of_division().get(match.group(1)) if match else None


def is_market(exchange: str | None) -> bool:
    return (exchange or "sale") in MARKET_EXCHANGES
