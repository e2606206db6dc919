"""Resource categories: short codes of the shared taxonomy <-> IRIs.

The taxonomy itself (SKOS, labels in French and English) is published in schemas/
by the vocabulary work; until then a code maps onto the shared namespace.
"""

from __future__ import annotations

import re

CATEGORY_NS = "https://w3id.org/ssefed/category/"
_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


def to_iri(code_or_iri: str) -> str:
    value = code_or_iri.strip()
    if value.startswith(("http://", "https://")):
        return value
    if not _CODE.match(value):
        raise ValueError(f"not a category code or IRI: {value!r}")
    return CATEGORY_NS + value


def to_code(iri: str) -> str:
    return iri[len(CATEGORY_NS):] if iri.startswith(CATEGORY_NS) else iri
