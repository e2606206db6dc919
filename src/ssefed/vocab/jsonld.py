"""Offline JSON-LD processing: bundled contexts only, never a fetch at run time.

ssefed never dereferences a JSON-LD ``@context`` URL.  The standard context
documents that ActivityPub peers reference (ActivityStreams 2.0, the security
vocabularies, Multikey, Data Integrity, DID v1, identity v1) are bundled in
``schemas/contexts/`` (see the README there for provenance and licences), and
:func:`document_loader` is a pyld document loader that serves exactly those
files and refuses every other URL without any network I/O.  Reasons:

* a remote context fetch is an outgoing request triggered by untrusted input
  (SSRF, amplification, slow-loris on our inbox worker);
* a context can change or vanish, which silently changes the meaning of every
  signed document that uses it (and breaks verification of old signatures);
* context hosts (w3id.org, purl.archive.org, codeberg pages) have outages.

:func:`expand` and :func:`to_rdf_graph` are strict: a document whose
``@context`` names a URL that is not bundled fails with
:class:`ContextNotBundled`.  :func:`tolerant_document` prepares documents
received from peers, which routinely name context URLs nobody can (or should)
fetch; see its docstring.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import rdflib
from pyld import jsonld
from pyld.jsonld import JsonLdError

from ssefed.paths import SCHEMAS_DIR

__all__ = [
    "AS_CONTEXT", "CONTEXTS", "CONTEXTS_DIR", "ContextNotBundled", "SSEFED_CONTEXT",
    "document_loader", "expand", "jsonld_options", "load_context", "to_rdf_graph",
    "to_rdf_triples", "tolerant_document",
]  # fmt: skip

CONTEXTS_DIR = SCHEMAS_DIR / "contexts"
AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
SSEFED_CONTEXT = "https://w3id.org/ssefed/ns"
_SSEFED_CONTEXT_FILE = SCHEMAS_DIR / "context.jsonld"

# Canonical context URL -> bundled file name (in CONTEXTS_DIR).
_BUNDLED: dict[str, str] = {
    AS_CONTEXT: "activitystreams.jsonld",
    "https://w3id.org/security/v1": "security-v1.jsonld",
    "https://w3id.org/security/v2": "security-v2.jsonld",
    "https://w3id.org/security/multikey/v1": "multikey-v1.jsonld",
    "https://w3id.org/security/data-integrity/v1": "data-integrity-v1.jsonld",
    "https://w3id.org/security/data-integrity/v2": "data-integrity-v2.jsonld",
    "https://www.w3.org/ns/did/v1": "did-v1.jsonld",
    "https://w3id.org/identity/v1": "identity-v1.jsonld",
}


def _variants(url: str) -> list[str]:
    """``https``/``http`` x bare/``.jsonld`` spellings of one context URL."""
    rest = url.split("://", 1)[1]
    return [f"{scheme}://{rest}{suffix}" for scheme in ("https", "http") for suffix in ("", ".jsonld")]


def _build_contexts() -> dict[str, Path]:
    contexts: dict[str, Path] = {}
    for url, name in _BUNDLED.items():
        for variant in _variants(url):
            contexts[variant] = CONTEXTS_DIR / name
    if _SSEFED_CONTEXT_FILE.is_file():
        rest = SSEFED_CONTEXT.split("://", 1)[1]
        for scheme in ("https", "http"):
            for suffix in ("", "/context.jsonld"):
                contexts[f"{scheme}://{rest}{suffix}"] = _SSEFED_CONTEXT_FILE
    return contexts


#: Every accepted context URL spelling -> the bundled file that answers it.
CONTEXTS: dict[str, Path] = _build_contexts()


class ContextNotBundled(JsonLdError):
    """A JSON-LD context URL that ssefed does not bundle (and will not fetch).

    It is a pyld :class:`~pyld.jsonld.JsonLdError` with code
    ``'loading document failed'``, so pyld treats it like any failed load.
    """

    def __init__(self, url: str) -> None:
        super().__init__(
            f"JSON-LD document {url!r} is not bundled with ssefed; contexts are never fetched",
            "jsonld.LoadDocumentError",
            {"url": url},
            code="loading document failed",
        )
        self.url = url


@lru_cache(maxsize=None)
def _parsed(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def load_context(url: str) -> dict:
    """The parsed bundled document for ``url`` (a fresh copy), or raise :class:`ContextNotBundled`."""
    path = CONTEXTS.get(url)
    if path is None:
        raise ContextNotBundled(url)
    try:
        return copy.deepcopy(_parsed(path))
    except (OSError, ValueError) as exc:
        raise ContextNotBundled(url) from exc


def document_loader(url: str, options: dict | None = None) -> dict:
    """pyld document loader serving only the bundled contexts; no network I/O, ever.

    Returns a pyld RemoteDocument.  ``tag: "static"`` lets pyld keep the
    resolved context in its process-wide cache (the bundled files never change).
    """
    del options  # headers etc. are irrelevant: nothing is requested
    return {
        "contextUrl": None,
        "documentUrl": url,
        "document": load_context(url),
        "contentType": "application/ld+json",
        "tag": "static",
    }


def jsonld_options(**extra: Any) -> dict:
    """pyld options with the offline loader (plus any ``extra`` pyld option)."""
    return {"documentLoader": document_loader, **extra}


def _not_bundled_cause(exc: BaseException) -> ContextNotBundled | None:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, ContextNotBundled):
            return cur
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return None


def expand(doc: Mapping[str, Any]) -> list:
    """Strict JSON-LD expansion with the bundled contexts only.

    Raises :class:`ContextNotBundled` if ``doc`` (or a context it imports)
    names a context URL that is not bundled, and pyld's ``JsonLdError`` for
    any other JSON-LD error.
    """
    try:
        return jsonld.expand(dict(doc), jsonld_options())
    except JsonLdError as exc:
        missing = _not_bundled_cause(exc)
        if missing is not None and missing is not exc:
            raise ContextNotBundled(missing.url) from exc
        raise


# --- tolerant processing of peers' documents ---------------------------------


def _sanitize_context(ctx: Any) -> list:
    """``ctx`` as a list with unknown context URLs removed (recursively)."""
    items = ctx if isinstance(ctx, list) else [ctx]
    kept: list = []
    for item in items:
        if isinstance(item, str):
            if item in CONTEXTS:
                kept.append(item)
        elif isinstance(item, Mapping):
            kept.append(_sanitize_inline(item))
        elif item is None:
            kept.append(None)  # a context reset is legal JSON-LD
    return kept


def _sanitize_inline(ctx: Mapping[str, Any]) -> dict:
    out: dict[str, Any] = {}
    for key, value in ctx.items():
        if key == "@import":
            if isinstance(value, str) and value in CONTEXTS:
                out[key] = value
            continue
        if isinstance(value, Mapping) and "@context" in value:  # scoped context
            value = dict(value)
            value["@context"] = _sanitize_context(value["@context"])
        out[key] = value
    return out


def _sanitize_node(value: Any) -> Any:
    """Copy of a JSON value with unknown URLs dropped from every nested ``@context``."""
    if isinstance(value, list):
        return [_sanitize_node(v) for v in value]
    if isinstance(value, Mapping):
        out = {}
        for key, v in value.items():
            out[key] = _sanitize_context(v) if key == "@context" else _sanitize_node(v)
        return out
    return value


def tolerant_document(doc: Mapping[str, Any]) -> dict:
    """A peer's document made readable as ActivityStreams JSON, ignoring unknown contexts.

    Peers put context URLs in ``@context`` that we do not bundle and must not
    fetch: ``https://gotosocial.org/ns``, ``http://joinmastodon.org/ns`` (which
    never served a document), ``https://purl.archive.org/socialweb/...``,
    Lemmy's and litepub's contexts, FEP contexts, ...  Failing on those would
    reject most of the fediverse; fetching them is exactly what we refuse to do.
    So here, in every ``@context`` (top level, nested, ``@import`` and scoped
    contexts), unknown URLs are *dropped*; bundled URLs and inline context
    objects are kept.  Terms that only the dropped context defined then fall
    back to the ActivityStreams ``"@vocab": "_:"`` (blank-node properties,
    which never become RDF triples) or are dropped by expansion: an unknown
    context is treated as plain JSON, not as linked data.

    The ActivityStreams context is prepended when the document does not name
    it (or has no ``@context`` at all, as Lemmy's test documents do): AS 2.0
    Core §2.1 says a consumer MUST assume the normative AS context applies to
    ``application/activity+json`` documents that do not reference it.

    ``doc`` is not modified.  Other JSON-LD errors (e.g. a protected term
    redefinition) still raise pyld's ``JsonLdError`` when the result is expanded.
    """
    out = _sanitize_node(doc)
    top = out.get("@context")
    kept = top if isinstance(top, list) else []
    if not any(c in CONTEXTS and CONTEXTS[c] == CONTEXTS[AS_CONTEXT] for c in kept if isinstance(c, str)):
        kept = [AS_CONTEXT, *kept]
    out["@context"] = kept
    return out


# --- RDF ----------------------------------------------------------------------

_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
_RDF_LANGSTRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"


def _term(node: Mapping[str, Any], bnodes: dict[str, rdflib.BNode]) -> rdflib.term.Node:
    kind = node["type"]
    if kind == "IRI":
        return rdflib.URIRef(node["value"])
    if kind == "blank node":
        return bnodes.setdefault(node["value"], rdflib.BNode())
    datatype = node.get("datatype")
    if node.get("language"):
        return rdflib.Literal(node["value"], lang=node["language"])
    if datatype in (None, _XSD_STRING, _RDF_LANGSTRING):
        return rdflib.Literal(node["value"])
    return rdflib.Literal(node["value"], datatype=rdflib.URIRef(datatype))


def to_rdf_triples(doc: Mapping[str, Any]) -> list:
    """The default graph of ``doc`` as pyld triples (dicts of ``subject``, ``predicate``,
    ``object``, each with ``type`` and ``value``), through the bundled contexts only.

    Strict like :func:`expand` (a peer's document goes through :func:`tolerant_document`
    first). Named graphs (e.g. Data Integrity proofs) are left out.
    """
    try:
        dataset = jsonld.to_rdf(dict(doc), jsonld_options())
    except JsonLdError as exc:
        missing = _not_bundled_cause(exc)
        if missing is not None and missing is not exc:
            raise ContextNotBundled(missing.url) from exc
        raise
    return dataset.get("@default", [])


def to_rdf_graph(doc: Mapping[str, Any]) -> rdflib.Graph:
    """The default graph of ``doc`` as an :class:`rdflib.Graph` (bundled contexts only).

    Strict like :func:`expand`.  Named graphs, e.g. the proof graphs of Data
    Integrity ``proof`` (``@container: @graph``), are not part of the default
    graph and are left out.
    """
    graph = rdflib.Graph()
    bnodes: dict[str, rdflib.BNode] = {}
    for triple in to_rdf_triples(doc):
        graph.add((
            _term(triple["subject"], bnodes),
            _term(triple["predicate"], bnodes),
            _term(triple["object"], bnodes),
        ))
    return graph
