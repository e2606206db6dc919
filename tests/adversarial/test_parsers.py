"""What a node reads from a request never makes it answer 5xx: a body that is not JSON
(or not sent as JSON) gets 415, a body over ``max_body_bytes`` 413, JSON nested too deep,
numbers of more than 32 digits, NaN/Infinity and integer parameters that are not plain
integers up to 10^9 get 400 -- each as application/problem+json naming the field.

One node per backend for the whole module (body limit 4096 bytes); nothing here needs
a signature: a body is read and refused before anyone's key is looked at.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest
import requests

from tests.conftest import BACKENDS, FreshDatabases
from tests.integration.test_inbox_refusals import Target, coop_node, create_note
from tests.fakepeer import FakePeer
from tests.nodes import NodeFactory

AS2 = "application/activity+json"
MAX_BODY = 4096
FORTY_DIGITS = "1234567890" * 4


@pytest.fixture(scope="module", params=BACKENDS)
def target(request, tmp_path_factory) -> Iterator[Target]:
    dbs = FreshDatabases(request.param, tmp_path_factory.mktemp(f"parsers-{request.param}"))
    factory = NodeFactory(dbs.tmp_path, dbs)
    try:
        yield coop_node(factory, "parsers",
                        extra_env={"SSEFED_FEDERATION_MAX_BODY_BYTES": str(MAX_BODY)})
    finally:
        factory.stop_all()
        dbs.drop_all()


@pytest.fixture(scope="module")
def activity() -> Iterator[dict[str, Any]]:
    """A well-formed Create (its actor is never asked: parsing refuses first)."""
    with FakePeer() as peer:
        yield create_note(peer.add_actor("alice"))


def admin(t: Target) -> dict[str, str]:
    return {"Authorization": f"Bearer {t.node.admin_token()}"}


def post_inbox(t: Target, body: bytes | str, content_type: str = AS2) -> requests.Response:
    return requests.post(t.shared_inbox, data=body, headers={"Content-Type": content_type},
                         timeout=20)


def with_number(doc: dict[str, Any], literal: str) -> bytes:
    """``doc`` with ``object.sse:quantity`` set to a number literal, as bytes."""
    marker = "\"@@number@@\""
    doc = {**doc, "object": {**doc["object"], "sse:quantity": "@@number@@"}}
    return json.dumps(doc).replace(marker, literal).encode()


def refused(resp: requests.Response, status: int, field: str | None = None) -> dict:
    """``status`` as application/problem+json, naming ``field`` when given; the problem."""
    assert resp.status_code == status, (resp.status_code, resp.text[:300])
    assert resp.headers["Content-Type"].split(";")[0].strip() == "application/problem+json"
    problem = resp.json()
    assert problem["status"] == status
    if field is not None:
        assert problem.get("field") == field, problem
    return problem


# -- 415: not JSON ----------------------------------------------------------------------------

def test_inbox_body_that_is_not_json_gets_415(target):
    problem = refused(post_inbox(target, b"<html>hello</html>"), 415, "body")
    assert "not JSON" in problem["detail"]


def test_inbox_content_type_that_is_not_json_gets_415(target, activity):
    refused(post_inbox(target, json.dumps(activity), "text/plain"), 415, "Content-Type")


def test_inbox_json_content_type_with_parameters_is_read(target, activity):
    resp = post_inbox(target, json.dumps(activity),
                      'application/ld+json; profile="https://www.w3.org/ns/activitystreams"')
    refused(resp, 401)  # read and parsed: refused for its (missing) signature only


def test_api_body_that_is_not_json_gets_415(target):
    resp = requests.post(f"{target.coop}/outbox", data=b"name=Farine", timeout=10,
                         headers={"Content-Type": "application/json"})
    refused(resp, 415, "body")


def test_api_json_sent_as_a_form_gets_415(target):
    resp = requests.post(f"{target.node.base_url}/api/organisations", timeout=10,
                         data=json.dumps({"handle": "formee", "name": "Formée"}),
                         headers={**admin(target),
                                  "Content-Type": "application/x-www-form-urlencoded"})
    refused(resp, 415, "Content-Type")
    assert target.node.sql("SELECT count(*) FROM actors WHERE handle = 'formee'") == [(0,)]


# -- 413: too large ---------------------------------------------------------------------------

def test_api_body_over_max_body_bytes_gets_413_naming_the_body(target):
    resp = requests.post(f"{target.coop}/outbox", timeout=10,
                         json={"type": "Note", "content": "x" * MAX_BODY})
    problem = refused(resp, 413, "body")
    assert f"at most {MAX_BODY} bytes" in problem["detail"]


# -- 400: JSON beyond the limits --------------------------------------------------------------

def test_json_nested_beyond_the_parsers_recursion_gets_400(target):
    problem = refused(post_inbox(target, b"[" * 2000 + b"]" * 2000), 400)
    assert "nested deeper than" in problem["detail"]


def test_api_json_nested_deeper_than_max_json_depth_gets_400_naming_the_field(target):
    deep: Any = "x"
    for _ in range(40):
        deep = {"a": deep}
    resp = requests.post(f"{target.node.base_url}/api/organisations", timeout=10,
                         json={"handle": "profonde", "name": deep}, headers=admin(target))
    problem = refused(resp, 400)
    assert problem["field"].startswith("/name/a/a/")
    assert "nested deeper than 32" in problem["detail"]


def test_number_of_40_digits_is_refused_with_400_naming_the_field(target, activity):
    problem = refused(post_inbox(target, with_number(activity, FORTY_DIGITS)), 400,
                      "/object/sse:quantity")
    assert "more than 32 digits" in problem["detail"]


def test_number_past_pythons_int_digit_limit_gets_400_not_500(target):
    body = '{"object": "https://example.org/o", "reason": "other", "text": %s}' % ("9" * 5000)
    resp = requests.post(f"{target.node.base_url}/api/reports", data=body, timeout=10,
                         headers={"Content-Type": "application/json"})
    refused(resp, 400, "/text")


def test_float_of_40_digits_or_beyond_float_range_is_refused_with_400(target, activity):
    refused(post_inbox(target, with_number(activity, "0." + FORTY_DIGITS)), 400,
            "/object/sse:quantity")
    refused(post_inbox(target, with_number(activity, "1e999")), 400, "/object/sse:quantity")


def test_nan_and_infinity_are_refused_with_400_naming_the_field(target, activity):
    for literal in ("NaN", "Infinity", "-Infinity"):
        problem = refused(post_inbox(target, with_number(activity, literal)), 400,
                          "/object/sse:quantity")
        assert "not a JSON number" in problem["detail"]


# -- 400: integer parameters ------------------------------------------------------------------

def test_offset_beyond_1e9_gets_400(target):
    resp = requests.get(f"{target.node.base_url}/api/organisations",
                        params={"offset": str(10**20)}, timeout=10)
    problem = refused(resp, 400, "offset")
    assert "1000000000" in problem["detail"]


def test_max_id_beyond_1e9_gets_400(target):
    for collection in ("outbox", "followers"):
        resp = requests.get(f"{target.coop}/{collection}",
                            params={"page": "true", "max_id": str(10**20)},
                            headers={"Accept": AS2}, timeout=10)
        refused(resp, 400, "max_id")


@pytest.mark.parametrize("path, name, value", [
    ("/api/organisations", "limit", "12abc"),
    ("/api/reports", "limit", "²"),
    ("/api/reports", "limit", "1_000"),
    ("/api/search", "limit", "1e3"),
    ("/api/match?for=https://example.org/o", "limit", "99999999999"),
    ("/api/review/stale", "days", "٣"),
], ids=["letters", "superscript", "underscore", "exponent", "beyond-1e9", "arabic-digit"])
def test_integer_parameter_that_is_not_a_plain_integer_gets_400_naming_it(target, path, name,
                                                                          value):
    sep = "&" if "?" in path else "?"
    resp = requests.get(f"{target.node.base_url}{path}{sep}{name}={value}",
                        headers=admin(target), timeout=10)
    refused(resp, 400, name)


def test_report_id_that_is_not_plain_digits_gets_404(target):
    resp = requests.post(f"{target.node.base_url}/api/reports/²/handle", json={},
                         headers=admin(target), timeout=10)
    refused(resp, 404)
