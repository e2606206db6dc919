"""JSON-LD → RDF without pyld's general algorithm, for documents whose features are
the few our documents use; anything else raises Unsupported and goes through pyld.

The meaning of every term still comes from pyld: the ``@context`` of a document is
processed once by pyld (bundled contexts only) and cached; this module only walks the
document with those term definitions, as the JSON-LD 1.1 expansion and
"object to RDF conversion" algorithms would for this subset (tested isomorphic to
pyld's output on the demo network and on received documents)."""

from __future__ import annotations

import json
from functools import lru_cache
from numbers import Integral, Real
from typing import Any

from pyld import jsonld as _pyld

from ssefed.vocab.jsonld import jsonld_options

XSD = "http://www.w3.org/2001/XMLSchema#"
XSD_STRING, XSD_BOOLEAN = XSD + "string", XSD + "boolean"
XSD_INTEGER, XSD_DOUBLE = XSD + "integer", XSD + "double"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
_UNSUPPORTED_MAPPING = ("@context", "@language", "@direction", "@nest", "@index")
MAX_DEPTH = 16


class Unsupported(Exception):
    """The document uses a JSON-LD feature this walker does not handle."""


class _Context:
    def __init__(self, context: Any) -> None:
        self.processor = _pyld.JsonLdProcessor()
        self.options = jsonld_options(base="", processingMode="json-ld-1.1")
        initial = self.processor._get_initial_context(self.options)
        self.active = self.processor.process_context(initial, context, self.options)
        if self.active.get("@language") or self.active.get("@direction") or \
                self.active.get("@base"):
            raise Unsupported("context with a default language, direction or base")
        self._keys: dict[str, tuple[str | None, dict | None]] = {}
        self._types: dict[str, str | None] = {}

    def key(self, key: str) -> tuple[str | None, dict | None]:
        """(expanded IRI or keyword, term definition) of a key."""
        known = self._keys.get(key)
        if known is None:
            mapping = self.active["mappings"].get(key)
            if mapping is not None:
                if any(k in mapping for k in _UNSUPPORTED_MAPPING) or mapping.get("reverse") \
                        or any(c != "@set" for c in mapping.get("@container") or []):
                    raise Unsupported(f"term {key!r}")
            iri = self.processor._expand_iri(self.active, key, vocab=True)
            known = self._keys[key] = (iri, mapping)
        return known

    def vocab_iri(self, value: str) -> str | None:
        if value not in self._types:
            mapping = self.active["mappings"].get(value)
            if mapping is not None and "@context" in mapping:
                raise Unsupported(f"type-scoped context of {value!r}")
            self._types[value] = self.processor._expand_iri(self.active, value, vocab=True)
        return self._types[value]

    def id_iri(self, value: str) -> str:
        iri = self.processor._expand_iri(self.active, value, base=None, vocab=False)
        if not isinstance(iri, str) or (":" not in iri):
            raise Unsupported(f"relative IRI {value!r}")
        return iri


@lru_cache(maxsize=64)
def _context(serialised: str) -> _Context:
    return _Context(json.loads(serialised))


def _node(iri: str) -> dict[str, str]:
    return {"type": "blank node" if iri.startswith("_:") else "IRI", "value": iri}


def _literal(value: Any, datatype: str | None) -> dict[str, str]:
    """pyld's _object_to_rdf for a native value with an optional coerced type."""
    if isinstance(value, bool):
        return {"type": "literal", "value": "true" if value else "false",
                "datatype": datatype or XSD_BOOLEAN}
    if isinstance(value, Real) and not isinstance(value, Integral) \
            and not float(value).is_integer():
        return {"type": "literal", "value": _pyld._canonicalize_double(value),
                "datatype": datatype or XSD_DOUBLE}
    if datatype == XSD_DOUBLE:
        try:
            return {"type": "literal", "value": _pyld._canonicalize_double(float(value)),
                    "datatype": XSD_DOUBLE}
        except (TypeError, ValueError):
            return {"type": "literal", "value": value, "datatype": XSD_DOUBLE}
    if isinstance(value, Real):  # integral
        if abs(value) >= 1e21:
            return {"type": "literal", "value": _pyld._canonicalize_double(value),
                    "datatype": datatype or XSD_DOUBLE}
        return {"type": "literal", "value": str(int(value)), "datatype": datatype or XSD_INTEGER}
    if isinstance(value, str):
        return {"type": "literal", "value": value, "datatype": datatype or XSD_STRING}
    raise Unsupported(f"value {value!r}")


class _Walker:
    def __init__(self, ctx: _Context) -> None:
        self.ctx, self.triples, self.blank = ctx, [], 0

    def fresh(self) -> dict[str, str]:
        self.blank += 1
        return {"type": "blank node", "value": f"_:fast{self.blank}"}

    def node(self, obj: dict[str, Any], depth: int) -> dict[str, str]:
        if depth > MAX_DEPTH:
            raise Unsupported("nested too deep")
        subject = None
        props: list[tuple[str, dict | None, Any]] = []
        types: list[str] = []
        for key, value in obj.items():
            if key == "@context":
                if depth:
                    raise Unsupported("embedded @context")
                continue
            iri, mapping = self.ctx.key(key)
            if iri == "@id":
                if not isinstance(value, str):
                    raise Unsupported("@id not a string")
                subject = _node(self.ctx.id_iri(value))
            elif iri == "@type":
                for t in value if isinstance(value, list) else [value]:
                    if not isinstance(t, str):
                        raise Unsupported("@type not a string")
                    types.append(t)
            elif isinstance(iri, str) and iri.startswith("@"):
                raise Unsupported(f"keyword {iri}")
            elif iri is None or ":" not in iri:
                continue  # no IRI: the key and its value are dropped by expansion
            else:  # a blank-node predicate (AS2's "@vocab": "_:") makes no triple, but
                # the objects it holds are still nodes with their own triples
                props.append((iri, mapping, value))
        if subject is None:
            subject = self.fresh()
        for t in types:
            iri = self.ctx.vocab_iri(t)
            if isinstance(iri, str) and ":" in iri:
                self.triples.append((subject, _node(RDF_TYPE), _node(iri)))
        for iri, mapping, value in props:
            coercion = mapping.get("@type") if mapping else None
            if coercion in ("@json", "@none"):
                raise Unsupported(f"@type {coercion}")
            for item in value if isinstance(value, list) else [value]:
                obj_term = self.value(item, coercion, depth)
                if obj_term is not None and not iri.startswith("_:"):
                    self.triples.append((subject, _node(iri), obj_term))
        return subject

    def value(self, item: Any, coercion: str | None, depth: int) -> dict[str, str] | None:
        if item is None:
            return None
        if isinstance(item, list):
            raise Unsupported("nested list")
        if isinstance(item, dict):
            if any(k.startswith("@") and k != "@context" for k in item) or \
                    any(self.ctx.key(k)[0] in ("@value", "@list", "@set", "@graph",
                                               "@reverse", "@included") for k in item):
                raise Unsupported("value or list object")
            return self.node(item, depth + 1)
        if isinstance(item, str) and coercion == "@id":
            return _node(self.ctx.id_iri(item))
        if isinstance(item, str) and coercion == "@vocab":
            iri = self.ctx.vocab_iri(item)
            if not isinstance(iri, str) or ":" not in iri:
                raise Unsupported(f"relative IRI {item!r}")
            return _node(iri)
        if coercion in ("@id", "@vocab"):
            coercion = None  # a native value under an IRI-typed term stays a literal
        return _literal(item, coercion)


def to_rdf_triples(doc: dict[str, Any]) -> list[tuple[dict, dict, dict]]:
    """The triples of ``doc`` in pyld's term format; raise Unsupported otherwise."""
    context = doc.get("@context")
    if context is None:
        raise Unsupported("no @context")
    walker = _Walker(_context(json.dumps(context, sort_keys=True)))
    walker.node(doc, 0)
    return walker.triples
