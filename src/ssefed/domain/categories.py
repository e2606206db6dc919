"""Resource categories: codes of the shared SKOS taxonomy (schemas/taxonomies/
categories.ttl) <-> IRIs. A network may also use categories of its own: any IRI the
taxonomy does not know is kept as a network-specific category (the CLI warns)."""

from __future__ import annotations

import functools
import re

from ssefed.paths import SCHEMAS_DIR

CATEGORY_NS = "https://w3id.org/ssefed/category/"
_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


@functools.lru_cache(maxsize=1)
def known_codes() -> frozenset[str]:
    """The notations of the shipped taxonomy (read once, lazily)."""
    text = (SCHEMAS_DIR / "taxonomies" / "categories.ttl").read_text(encoding="utf-8")
    return frozenset(re.findall(r'skos:notation\s+"([^"]+)"', text))


def to_iri(code_or_iri: str) -> str:
    """A taxonomy code or any http(s) IRI -> the category IRI; ValueError otherwise."""
    value = code_or_iri.strip()
    if value.startswith(("http://", "https://")):
        return value
    if not _CODE.match(value) or value not in known_codes():
        raise ValueError(f"{value!r} is not a category of the shared taxonomy "
                         "(schemas/taxonomies/categories.ttl); use one of its codes, or an "
                         "IRI for a category of your network's own")
    return CATEGORY_NS + value


def is_network_specific(iri: str) -> bool:
    """An IRI outside the shared taxonomy (kept as the network's own category)."""
    return not (iri.startswith(CATEGORY_NS) and iri[len(CATEGORY_NS):] in known_codes())


def to_code(iri: str) -> str:
    return iri[len(CATEGORY_NS):] if iri.startswith(CATEGORY_NS) else iri


@functools.lru_cache(maxsize=1)
def _labels() -> dict[str, dict[str, str]]:
    """code -> {lang: prefLabel} of the shipped taxonomy (parsed once, lazily)."""
    import rdflib
    from rdflib.namespace import SKOS

    graph = rdflib.Graph()
    graph.parse(SCHEMAS_DIR / "taxonomies" / "categories.ttl", format="turtle")
    out: dict[str, dict[str, str]] = {}
    for concept, label in graph.subject_objects(SKOS.prefLabel):
        iri = str(concept)
        if iri.startswith(CATEGORY_NS) and isinstance(label, rdflib.Literal) and label.language:
            out.setdefault(iri[len(CATEGORY_NS):], {})[label.language] = str(label)
    return out


@functools.lru_cache(maxsize=1)
def _broader() -> dict[str, str]:
    import rdflib
    from rdflib.namespace import SKOS

    graph = rdflib.Graph()
    graph.parse(SCHEMAS_DIR / "taxonomies" / "categories.ttl", format="turtle")
    return {str(a): str(b) for a, b in graph.subject_objects(SKOS.broader)}


def with_broader(iri: str) -> list[str]:
    """The category and the broader ones it belongs to (bread, food): a search for a
    category finds its narrower ones."""
    chain, seen = [iri], {iri}
    parents = _broader()
    while chain[-1] in parents and parents[chain[-1]] not in seen and len(chain) < 10:
        chain.append(parents[chain[-1]])
        seen.add(chain[-1])
    return chain


@functools.lru_cache(maxsize=1)
def filieres() -> tuple[str, ...]:
    """The top concepts of the shared taxonomy: the filières of a regional SSE economy."""
    import rdflib
    from rdflib.namespace import SKOS

    graph = rdflib.Graph()
    graph.parse(SCHEMAS_DIR / "taxonomies" / "categories.ttl", format="turtle")
    return tuple(sorted(str(o) for o in graph.objects(None, SKOS.hasTopConcept)))


def label(iri: str, lang: str = "fr") -> str:
    """The category's label in ``lang`` (else English, else its code or IRI)."""
    labels = _labels().get(to_code(iri), {})
    return labels.get(lang) or labels.get("en") or to_code(iri)
