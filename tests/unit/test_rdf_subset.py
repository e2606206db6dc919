"""The direct JSON-LD → RDF walker gives the same graph as pyld (isomorphic), or says
it does not handle the document (then pyld is used)."""

import json

import pytest
import rdflib
from rdflib.compare import isomorphic

from ssefed.vocab import rdf_subset, jsonld
from tests.conftest import PEERS, PROJECT

DOCUMENTS = sorted([*PEERS.glob("*.json"),
                    *PROJECT.joinpath("schemas", "json-schema", "examples").glob("*.json")])


def graph(triples) -> rdflib.Graph:
    g, bnodes = rdflib.Graph(), {}
    for triple in triples:
        g.add(tuple(jsonld._term(t, bnodes) for t in triple))
    return g


def pyld_graph(doc: dict) -> rdflib.Graph:
    return graph((t["subject"], t["predicate"], t["object"]) for t in jsonld.to_rdf_triples(doc))


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_the_walker_agrees_with_pyld_or_leaves_the_document_to_it(path):
    doc = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(doc, dict):
        pytest.skip("not a JSON object")  # a list of test vectors
    doc = jsonld.tolerant_document(doc)
    try:
        expected = pyld_graph(doc)
    except Exception:  # pyld refuses it: the projection leaves it out
        with pytest.raises(Exception):  # noqa: B017
            rdf_subset.to_rdf_triples(doc)
        return
    try:
        fast = graph(rdf_subset.to_rdf_triples(doc))
    except rdf_subset.Unsupported:
        return
    assert isomorphic(fast, expected)


def test_the_walker_handles_proposals_of_mitra_the_fep_and_ssefed_and_mastodon_actors():
    handled = 0
    for path in DOCUMENTS:
        if path.name in ("mitra-proposal-incoming.json", "fep0837-proposal-offer-full.json",
                         "offer.valid-demand.json", "mastodon-actor.json"):
            doc = jsonld.tolerant_document(json.loads(path.read_text(encoding="utf-8")))
            assert isomorphic(graph(rdf_subset.to_rdf_triples(doc)), pyld_graph(doc)), path.name
            handled += 1
    assert handled == 4


@pytest.mark.parametrize("doc, reason", [
    ({"@context": {"@vocab": "https://e.org/", "@language": "fr"}, "name": "x"}, "language"),
    ({"@context": {"@vocab": "https://e.org/", "l": {"@container": "@list"}}, "l": [1]}, "term"),
    ({"@context": {"@vocab": "https://e.org/"}, "v": {"@value": "x", "@language": "fr"}},
     "value"),
    ({"@context": {"@vocab": "https://e.org/"}, "n": {"@context": {}, "x": 1}}, "embedded"),
    ({"name": "no context"}, "no @context"),
])
def test_what_the_walker_does_not_handle_is_said(doc, reason):
    with pytest.raises(rdf_subset.Unsupported, match=reason):
        rdf_subset.to_rdf_triples(doc)
