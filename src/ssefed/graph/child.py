"""What runs inside the query's child process: check the query (parse it), open the
store read-only, run it, send back a bounded answer — all under the child's memory
limit, and stopped by the parent at the time limit, so nothing a request sends runs in
the node's event loop. Kept small (it is preloaded by the fork server) and free of
ssefed imports.

The check parses the query (rdflib's SPARQL 1.1 parser) and walks the parse tree, so
that neither a comment nor a string fools it: ``SERVICE`` (which would make the node
send requests to other servers) and ``FROM`` / ``FROM NAMED`` (a dataset other than
the node's projection) are refused, as is anything that is not a query (updates).
"""

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
FORMS = {"SelectQuery": "SELECT", "AskQuery": "ASK", "ConstructQuery": "CONSTRUCT",
         "DescribeQuery": "DESCRIBE"}
MAX_ANSWER_BYTES = 32 * 1024 * 1024  # past this, results are cut as past max_results
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANGSTRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"


class Refused(ValueError):
    """The query is not run; the message says why."""


def _names(tree: Any):  # generator of the parse tree's rule names
    from pyparsing import ParseResults
    from rdflib.plugins.sparql.parserutils import CompValue

    stack, seen = [tree], 0
    while stack:
        node = stack.pop()
        seen += 1
        if seen > 1_000_000:  # bounded, as the query's size is
            return
        if isinstance(node, CompValue):
            yield node.name, node
            stack.extend(node.values())
        elif isinstance(node, (list, tuple, ParseResults)):
            stack.extend(node)


def check(text: str) -> str:
    """The form of the query ``text`` (SELECT, ASK, CONSTRUCT, DESCRIBE); raise Refused
    naming what is wrong or not allowed. CPU-heavy on a crafted query: the node runs it
    here, in the child, never in its event loop."""
    from pyparsing import ParseException
    from rdflib.plugins.sparql.parser import parseQuery

    try:
        parsed = parseQuery(text)
    except ParseException as exc:
        upper = text.upper()
        if "INSERT" in upper or "DELETE" in upper or "LOAD" in upper:
            detail = " (the endpoint is read-only: SPARQL Update is not accepted)"
        else:
            detail = ""
        raise Refused(f"syntax error at line {exc.lineno}, column {exc.col}: "
                      f"{exc.msg}{detail}") from None
    except Exception as exc:  # rdflib raises plain Exceptions on bad IRIs etc.
        raise Refused(f"syntax error: {exc}") from None
    form = FORMS.get(getattr(parsed[1], "name", ""))
    if form is None:
        raise Refused("only SELECT, ASK, CONSTRUCT and DESCRIBE queries are accepted")
    for name, node in _names(parsed):
        if name == "ServiceGraphPattern":
            raise Refused("SERVICE is refused: queries run over this node's data only, "
                          "the node sends no request to another endpoint")
        if name == "DatasetClause":
            which = "FROM NAMED" if "named" in node else "FROM"
            raise Refused(f"{which} is refused: the dataset is this node's projection "
                          "and nothing is fetched; every object is a named graph of it "
                          "(its IRI), to be looked into with GRAPH <IRI> { ... }")
    return form


def _limit_memory(max_memory_mb: int) -> None:
    """RLIMIT_AS at what the process maps now plus ``max_memory_mb`` (the soft limit:
    raised again to open the store, whose cache reserves address space up front)."""
    limit = _vm_size() + max_memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.RLIM_INFINITY))


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


def run(store_path: str, lock_path: str, query: str, graph_format: str, max_results: int,
        max_memory_mb: int, conn: Any) -> None:
    """Child process entry point; always answers on ``conn`` unless killed or aborted."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)  # a Rust abort message is not for the node's log; the parent says why
    try:
        _limit_memory(max_memory_mb)
        try:
            form = check(query)  # before the store is opened and its lock taken
        except Refused as exc:
            conn.send(("refused", {}, str(exc).encode()))
            return
        lock = os.open(lock_path, os.O_RDONLY | os.O_CREAT, 0o600)
        fcntl.flock(lock, fcntl.LOCK_SH)  # no sync writes while the store is open read-only
        import pyoxigraph as ox

        resource.setrlimit(resource.RLIMIT_AS,
                           (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        store = ox.Store.read_only(store_path)
        _limit_memory(max_memory_mb)  # on top of what the opened store maps
        fmt = graph_format if form in ("CONSTRUCT", "DESCRIBE") else "json"
        meta, body = _answer(store, query, form, fmt, max_results)
        conn.send(("ok", {**meta, "form": form, "format": fmt}, body))
    except SyntaxError as exc:
        conn.send(("syntax", {}, str(exc).encode()))
    except MemoryError:
        conn.send(("memory", {}, b""))
    except Exception as exc:  # said to the parent, which answers it
        conn.send(("error", {}, f"{type(exc).__name__}: {exc}".encode()))
    finally:
        conn.close()
