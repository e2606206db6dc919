"""Queries are checked on their parse tree: SERVICE and FROM are refused wherever they
are, and a comment or a string that mentions them fools nothing."""

import pytest

from ssefed.graph.queries import QueryRefused, check_query
from tests.nodes import run_cli


@pytest.mark.parametrize("query", [
    "SELECT * WHERE { SERVICE <http://dbpedia.org/sparql> { ?s ?p ?o } }",
    "select * where { service silent <http://example.org/sparql> { ?s ?p ?o } }",
    "SELECT * WHERE { ?s ?p ?o { SELECT ?x WHERE { SERVICE ?endpoint { ?x ?y ?z } } } }",
    "ASK { OPTIONAL { SERVICE <http://example.org/> { ?s ?p ?o } } }",
    "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o FILTER EXISTS { SERVICE <http://e.org/> "
    "{ ?s ?p ?o } } }",
])
def test_service_is_refused_wherever_it_is(query):
    with pytest.raises(QueryRefused, match="SERVICE is refused"):
        check_query(query)


@pytest.mark.parametrize("query, clause", [
    ("SELECT * FROM <http://example.org/data.ttl> WHERE { ?s ?p ?o }", "FROM"),
    ("SELECT * FROM NAMED <http://example.org/g> WHERE { GRAPH ?g { ?s ?p ?o } }", "FROM NAMED"),
    ("PREFIX ex: <http://example.org/>\nCONSTRUCT WHERE { ?s ?p ?o }", None),
    ("DESCRIBE <http://example.org/x> FROM <http://example.org/x>", "FROM"),
])
def test_from_is_refused_and_other_queries_pass(query, clause):
    if clause is None:
        assert check_query(query).form == "CONSTRUCT"
        return
    with pytest.raises(QueryRefused, match=f"^{clause} is refused"):
        check_query(query)


def test_comments_and_strings_that_mention_service_or_from_are_plain_queries():
    query = ('# SERVICE <http://evil.example/sparql> { ?s ?p ?o }\n'
             'SELECT ?s WHERE { ?s <http://www.w3.org/ns/activitystreams#name> '
             '"SERVICE <http://evil.example/> FROM <http://evil.example/>" . '
             "?s <http://example.org/from> 'FROM NAMED <x>' } # FROM <http://x/>")
    assert check_query(query).form == "SELECT"


@pytest.mark.parametrize("query, message", [
    ("INSERT DATA { <http://a/> <http://b/> <http://c/> }", "read-only"),
    ("DELETE WHERE { ?s ?p ?o }", "read-only"),
    ("SELECT * WHERE { ?s ?p }", "syntax error at line 1"),
    ("", "empty"),
    ("SELECT * WHERE { ?s ?p ?o }" + " " * 100_001, "longer than"),
])
def test_updates_bad_syntax_and_oversized_queries_are_refused(query, message):
    with pytest.raises(QueryRefused, match=message):
        check_query(query)


@pytest.mark.parametrize("form", ["SELECT ?s WHERE { ?s ?p ?o }", "ASK { ?s ?p ?o }",
                                  "CONSTRUCT WHERE { ?s ?p ?o }", "DESCRIBE ?s WHERE { ?s ?p ?o }"])
def test_the_query_form_is_recognised(form):
    assert check_query(form).form == form.split()[0]


def test_the_cli_names_what_is_refused_without_a_traceback(tmp_path):
    config = tmp_path / "ssefed.toml"  # not even needed: the query is refused first
    result = run_cli(config, "sparql", "SELECT * WHERE { SERVICE <http://e.org/s> { ?s ?p ?o } }")
    assert result.returncode == 2
    assert "query refused: SERVICE is refused" in result.stderr
    assert "Traceback" not in result.stderr
    query = tmp_path / "q.rq"
    query.write_text("SELECT * FROM <http://example.org/> WHERE { ?s ?p ?o }", encoding="utf-8")
    result = run_cli(config, "sparql", "--file", str(query))
    assert result.returncode == 2 and "query refused: FROM is refused" in result.stderr
    result = run_cli(config, "sparql", "--file", str(tmp_path / "missing.rq"))
    assert result.returncode == 2 and "--file: cannot read" in result.stderr
    result = run_cli(config, "sparql")
    assert result.returncode == 2 and "give a query" in result.stderr
