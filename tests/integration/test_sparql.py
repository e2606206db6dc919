"""SPARQL on a follower: three real nodes federate organisations and offers, and node B
finds the remote offers by their category through its endpoint and its CLI, also after
a restart; a withdrawn offer disappears; what B answers for an object is what the
object's origin serves as Turtle."""

import json

import rdflib
import requests
from rdflib.compare import isomorphic

from tests.integration.test_federation import add_offer, host, ok

PREFIXES = """PREFIX vf: <https://w3id.org/valueflows/ont/vf#>
PREFIX as: <https://www.w3.org/ns/activitystreams#>
"""
BY_CATEGORY = PREFIXES + """SELECT ?offer ?title ?who WHERE {
  ?offer a vf:Proposal ; as:name ?title ; as:attributedTo ?who ;
         vf:publishes/vf:resourceConformsTo <https://w3id.org/ssefed/category/%s> .
}"""
RESULTS = "application/sparql-results+json"
SEC = "https://w3id.org/security#"


def select(node, query: str, **kwargs) -> list[dict]:
    r = requests.get(f"{node.base_url}/sparql", params={"query": query},
                     headers={"Accept": RESULTS}, timeout=30, **kwargs)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith(RESULTS)
    return [{k: v["value"] for k, v in b.items()} for b in r.json()["results"]["bindings"]]


def served_turtle(iri: str) -> rdflib.Graph:
    r = requests.get(iri, headers={"Accept": "text/turtle"}, timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/turtle")
    return rdflib.Graph().parse(data=r.text, format="turtle")


def projected(node, iri: str) -> rdflib.Graph:
    query = f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{iri}> {{ ?s ?p ?o }} }}"
    r = requests.post(f"{node.base_url}/sparql", data=query.encode(), timeout=30,
                      headers={"Content-Type": "application/sparql-query",
                               "Accept": "text/turtle"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/turtle"), r.text
    return rdflib.Graph().parse(data=r.text, format="turtle")


def same_graph(left: rdflib.Graph, right: rdflib.Graph) -> bool:
    """Isomorphic; else print what differs (pytest shows it with the failure)."""
    from rdflib.compare import graph_diff, to_isomorphic

    if isomorphic(left, right):
        return True
    _, only_left, only_right = graph_diff(to_isomorphic(left), to_isomorphic(right))
    print("only in the first:\n" + only_left.serialize(format="nt"))
    print("only in the second:\n" + only_right.serialize(format="nt"))
    return False


def without_keys(graph: rdflib.Graph) -> rdflib.Graph:
    """The actor's graph less its key nodes (RSA publicKey, Ed25519 Multikey)."""
    keys = set(graph.objects(None, rdflib.URIRef(SEC + "publicKey")))
    keys |= set(graph.subjects(rdflib.RDF.type, rdflib.URIRef(SEC + "Multikey")))
    out = rdflib.Graph()
    for s, p, o in graph:
        if s not in keys and o not in keys:
            out.add((s, p, o))
    return out


def test_a_follower_finds_remote_offers_by_category_also_after_a_restart(nodes):
    a, b, c = nodes.start("a"), nodes.start("b"), nodes.start("c")
    ok(a.cli("org", "add", "--handle", "ferme", "--name", "Ferme des Combes",
             "--lat", "45.1", "--lon", "5.7", "--legal-form", "cooperative"))
    ok(c.cli("org", "add", "--handle", "moulin", "--name", "Moulin du Pont"))
    ferme, moulin = f"{a.base_url}/actors/ferme", f"{c.base_url}/actors/moulin"
    ok(b.cli("follow", f"ferme@{host(a)}", "--as", "network"))
    ok(b.cli("follow", f"moulin@{host(c)}", "--as", "network"))
    assert b.wait_for("SELECT count(*) FROM follows WHERE state = 'accepted'", [(2,)]) == [(2,)]
    wheat = add_offer(a, "ferme", "Blé tendre bio", "wheat")
    flour = add_offer(c, "moulin", "Farine T80", "flour")
    assert b.wait_for("SELECT count(*) FROM offers WHERE deleted_at IS NULL", [(2,)]) == [(2,)]

    # the endpoint (GET), by category: only the remote wheat offer, with its author
    assert select(b, BY_CATEGORY % "wheat") == [
        {"offer": wheat, "title": "Blé tendre bio", "who": ferme}]
    assert [r["offer"] for r in select(b, BY_CATEGORY % "flour")] == [flour]
    # POST as a form, and as application/sparql-query
    r = requests.post(f"{b.base_url}/sparql", data={"query": BY_CATEGORY % "wheat"},
                      headers={"Accept": RESULTS}, timeout=30)
    assert r.status_code == 200 and r.json()["results"]["bindings"][0]["offer"]["value"] == wheat
    # the CLI on B, while B runs: a table by default, SPARQL JSON with --json
    table = ok(b.cli("sparql", BY_CATEGORY % "wheat"))
    assert wheat in table and "Blé tendre bio" in table and "1 result(s)" in table
    as_json = json.loads(ok(b.cli("sparql", "--json", BY_CATEGORY % "flour")))
    assert as_json["results"]["bindings"][0]["offer"]["value"] == flour

    # B holds the remote offer and organisation as their origin serves them as Turtle
    assert same_graph(projected(b, wheat), served_turtle(wheat))
    assert same_graph(projected(b, ferme), without_keys(served_turtle(ferme)))
    # and A its own ones
    assert same_graph(projected(a, wheat), served_turtle(wheat))
    assert same_graph(projected(a, ferme), without_keys(served_turtle(ferme)))
    assert same_graph(projected(b, moulin), without_keys(served_turtle(moulin)))

    # after a restart of B, the same answers
    assert b.stop() == 0
    b.start()
    assert [r["offer"] for r in select(b, BY_CATEGORY % "wheat")] == [wheat]
    assert wheat in ok(b.cli("sparql", BY_CATEGORY % "wheat"))

    # A withdraws its offer: gone from B's answers, C's offer stays
    ok(a.cli("offer", "remove", wheat))
    assert b.wait_for("SELECT deleted_at IS NOT NULL FROM offers WHERE ap_id = :iri",
                      lambda rows: rows and rows[0][0], iri=wheat)
    assert select(b, BY_CATEGORY % "wheat") == []
    assert "0 result(s)" in ok(b.cli("sparql", BY_CATEGORY % "wheat"))
    assert [r["offer"] for r in select(b, BY_CATEGORY % "flour")] == [flour]
    assert len(projected(b, wheat)) == 0

    # and a rebuild from the database gives the same
    ok(b.cli("sparql", "--rebuild"))
    assert select(b, BY_CATEGORY % "wheat") == []
    assert [r["offer"] for r in select(b, BY_CATEGORY % "flour")] == [flour]


def test_the_endpoint_refuses_service_from_and_updates_with_a_problem(nodes):
    a = nodes.start("a")
    cases = [
        ({"query": "SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }"},
         "SERVICE is refused", "query"),
        ({"query": "SELECT * FROM <http://example.org/data> WHERE { ?s ?p ?o }"},
         "FROM is refused", "query"),
        ({"query": "SELECT * WHERE { ?s ?p }"}, "syntax error", "query"),
        ({"update": "INSERT DATA { <http://a/> <http://b/> <http://c/> }"}, "read-only",
         "update"),
        ({}, "missing", "query"),
    ]
    for params, detail, field in cases:
        r = requests.get(f"{a.base_url}/sparql", params=params, timeout=30)
        assert r.status_code == 400, r.text
        assert r.headers["Content-Type"].startswith("application/problem+json")
        assert detail in r.json()["detail"] and r.json()["field"] == field
    r = requests.post(f"{a.base_url}/sparql", data="SELECT * WHERE { ?s ?p ?o }",
                      headers={"Content-Type": "text/plain"}, timeout=30)
    assert r.status_code == 415
    r = requests.post(f"{a.base_url}/sparql", data=b"INSERT DATA { <a:a> <a:b> <a:c> }",
                      headers={"Content-Type": "application/sparql-update"}, timeout=30)
    assert r.status_code == 400 and r.json()["field"] == "update"
    # CONSTRUCT as N-Triples when asked; ASK as SPARQL JSON
    r = requests.get(f"{a.base_url}/sparql", timeout=30,
                     params={"query": "CONSTRUCT WHERE { ?s a ?t }"},
                     headers={"Accept": "application/n-triples"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/n-triples")
    network = rdflib.URIRef(f"{a.base_url}/actors/network")
    graph = rdflib.Graph().parse(data=r.text, format="nt")
    assert (network, rdflib.RDF.type,
            rdflib.URIRef("https://www.w3.org/ns/activitystreams#Group")) in graph
    r = requests.get(f"{a.base_url}/sparql", timeout=30,
                     params={"query": f"ASK {{ <{network}> ?p ?o }}"})
    assert r.status_code == 200 and r.json() == {"head": {}, "boolean": True}
