"""What runs inside the query's child process: open the store read-only, set the
memory limit, run one query, send back a bounded answer. Kept small (it is preloaded
by the fork server) and free of ssefed imports."""

from __future__ import annotations

import fcntl
import json
import os
import re
import resource
from typing import Any

#: prefixes a query may use without declaring them
PREFIXES = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "as": "https://www.w3.org/ns/activitystreams#",
    "ldp": "http://www.w3.org/ns/ldp#",
    "sec": "https://w3id.org/security#",
    "schema": "https://schema.org/",
    "vf": "https://w3id.org/valueflows/ont/vf#",
    "om2": "http://www.ontology-of-units-of-measure.org/resource/om-2/",
    "ssefed": "https://w3id.org/ssefed/ns#",
    "cat": "https://w3id.org/ssefed/category/",
    "essglobal": "http://purl.org/essglobal/vocab/",
    "toot": "http://joinmastodon.org/ns#",
}
MAX_ANSWER_BYTES = 32 * 1024 * 1024  # past this, results are cut as past max_results
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANGSTRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"


def _vm_size() -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        match = re.search(r"VmSize:\s+(\d+) kB", f.read())
    return int(match.group(1)) * 1024 if match else 0


def term_json(term: Any) -> dict[str, Any]:
    """A term as in the SPARQL 1.1 Query Results JSON Format."""
    import pyoxigraph as ox

    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, ox.Literal):
        out: dict[str, Any] = {"type": "literal", "value": term.value}
        if term.language:
            out["xml:lang"] = term.language
        elif term.datatype.value not in (XSD_STRING, RDF_LANGSTRING):
            out["datatype"] = term.datatype.value
        return out
    if isinstance(term, ox.Triple):
        return {"type": "triple", "value": {"subject": term_json(term.subject),
                                            "predicate": term_json(term.predicate),
                                            "object": term_json(term.object)}}
    return {"type": "literal", "value": str(term)}


def _answer(store: Any, query: str, form: str, fmt: str, max_results: int) -> tuple[dict, bytes]:
    import pyoxigraph as ox

    result = store.query(query, use_default_graph_as_union=True, prefixes=PREFIXES)
    if form == "ASK":
        return {"count": 1, "truncated": False}, json.dumps(
            {"head": {}, "boolean": bool(result)}).encode()
    if form == "SELECT":
        names = [v.value for v in result.variables]
        rows: list[dict[str, Any]] = []
        size, truncated = 0, False
        for solution in result:
            if len(rows) >= max_results or size > MAX_ANSWER_BYTES:
                truncated = True
                break
            row = {}
            for name in names:
                value = solution[name]
                if value is not None:
                    row[name] = term_json(value)
                    size += len(row[name]["value"]) + 40 if isinstance(
                        row[name]["value"], str) else 200
            rows.append(row)
        body = {"head": {"vars": names}, "results": {"bindings": rows}}
        return {"count": len(rows), "truncated": truncated}, json.dumps(
            body, ensure_ascii=False).encode()
    triples, size, truncated = [], 0, False
    for triple in result:  # CONSTRUCT, DESCRIBE
        if len(triples) >= max_results or size > MAX_ANSWER_BYTES:
            truncated = True
            break
        triples.append(triple)
        size += len(str(triple))
    rdf_format = ox.RdfFormat.N_TRIPLES if fmt == "ntriples" else ox.RdfFormat.TURTLE
    prefixes = None
    if rdf_format == ox.RdfFormat.TURTLE:  # only those the triples use
        text = "".join(str(t) for t in triples[:2000])
        prefixes = {p: ns for p, ns in PREFIXES.items() if ns in text}
    body = ox.serialize(triples, format=rdf_format, prefixes=prefixes) if triples else b""
    return {"count": len(triples), "truncated": truncated}, body or b""


def run(store_path: str, lock_path: str, query: str, form: str, fmt: str, max_results: int,
        max_memory_mb: int, conn: Any) -> None:
    """Child process entry point; always answers on ``conn`` unless killed or aborted."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)  # a Rust abort message is not for the node's log; the parent says why
    try:
        lock = os.open(lock_path, os.O_RDONLY | os.O_CREAT, 0o600)
        fcntl.flock(lock, fcntl.LOCK_SH)  # no sync writes while the store is open read-only
        import pyoxigraph as ox

        store = ox.Store.read_only(store_path)
        # the limit is on top of what the opened store already maps (RocksDB reserves
        # address space for its cache up front)
        limit = _vm_size() + max_memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, resource.RLIM_INFINITY))
        meta, body = _answer(store, query, form, fmt, max_results)
        conn.send(("ok", meta, body))
    except SyntaxError as exc:
        conn.send(("syntax", {}, str(exc).encode()))
    except MemoryError:
        conn.send(("memory", {}, b""))
    except Exception as exc:  # noqa: BLE001 - said to the parent, which answers it
        conn.send(("error", {}, f"{type(exc).__name__}: {exc}".encode()))
    finally:
        conn.close()
