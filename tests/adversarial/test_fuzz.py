"""Property tests: whatever another server (or an admin's CSV file) sends, the parsers
return or raise their documented refusal -- never another exception, which the inbox
would answer with a 500 and the CLI would call a bug.

Unit level, no node: received JSON (vocab/strictjson), AS2 -> model (vocab/from_as),
FEP-0837 proposals and JSON Schemas (vocab/proposals), the trust rules
(federation/trust), HTTP signature headers (federation/httpsig) and the Structured Fields
they carry (read with http-sf), and the CSV import (domain/importing, domain/offers_import).

Settings come from the hypothesis profile loaded in tests/conftest.py ("ci":
derandomised, 200 examples each; HYPOTHESIS_PROFILE=deep for a longer search). Each
``@example`` is an input that once found a bug, kept so that it stays fixed.
"""

from __future__ import annotations

import base64
import copy
import csv
import io
import json
import os
import warnings
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

import http_sf
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa, x25519
from hypothesis import example, given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict

from ssefed.domain import importing, offers_import
from ssefed.domain.errors import InvalidInput
from ssefed.federation import httpsig, trust
from ssefed.paths import SCHEMAS_DIR
from ssefed.vocab import from_as, proposals, strictjson
from ssefed.vocab.multibase import b58encode

# a peer may still send a DSA key: parsing it must refuse it, and may warn
pytestmark = pytest.mark.filterwarnings(
    "ignore::cryptography.utils.CryptographyDeprecationWarning")

MAX_DEPTH = 20  # the node's default max_json_depth is of this order
LOCAL = "https://local.example"


def is_local(iri: str) -> bool:
    return trust.origin(iri) == "https://local.example:443"


# -- shared strategies ------------------------------------------------------------------
IRIS = [
    "https://peer.example/users/alice", "https://peer.example/users/bob",
    "https://PEER.example:443/users/alice", "http://peer.example/users/alice",
    "https://peer.example/users/alice#main-key", "https://peer.example/users/alice/main-key",
    "https://peer.example/objects/1", "https://other.example/users/mallory",
    f"{LOCAL}/actors/coop", f"{LOCAL}/offers/1", "https://peer.example:99999/x",
    "https://peer.example:-1/", "https://peer.example:0/", "http://[::1]/a", "http://[::1",
    "https://[fe80::1%25eth0]/", "https:///nohost", "https://", "ftp://peer.example/x",
    "javascript:alert(1)", "urn:uuid:1", "as:Public", "Public", from_as.PUBLIC, "", " ",
    "https://user:pw@peer.example/", "https://\uff03.example/", "https://peer.example/\x00",
    "https://peer.example/" + "x" * 2100, "https://xn--e1afmkfd.example/", "//peer.example/x",
]
TYPES = ["Create", "Update", "Delete", "Undo", "Follow", "Accept", "Reject", "Announce",
         "Like", "Block", "Flag", "Move", "Add", "Remove", "Note", "Proposal", "Intent",
         "Link", "Mention", "Multikey", "Key", "Place", *sorted(from_as.ACTOR_TYPES),
         "as:Create", "https://www.w3.org/ns/activitystreams#Delete", "as:", ""]
KEYS = ["id", "type", "actor", "object", "target", "origin", "to", "cc", "bto", "bcc",
        "audience", "published", "attributedTo", "href", "url", "name", "summary", "content",
        "inbox", "outbox", "endpoints", "sharedInbox", "publicKey", "publicKeyPem", "owner",
        "assertionMethod", "controller", "publicKeyMultibase", "@context", "instrument"]

hosts = st.one_of(st.sampled_from(["peer.example", "local.example", "PEER.EXAMPLE", "[::1]",
                                   "127.0.0.1", "a.b.c.example"]),
                  st.text(max_size=12))
built_iris = st.builds(lambda scheme, host, port, path: f"{scheme}://{host}{port}/{path}",
                       st.sampled_from(["http", "https", "HTTPS", "ftp", ""]), hosts,
                       st.sampled_from(["", ":443", ":8080", ":x", ":65536"]),
                       st.text(max_size=10))
iris = st.one_of(st.sampled_from(IRIS), built_iris)
leaves = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20), iris,
    st.sampled_from(TYPES))
json_leaves = st.one_of(st.none(), st.booleans(), st.integers(),
                        st.floats(allow_nan=False, allow_infinity=False), st.text())
json_values = st.recursive(
    json_leaves, lambda c: st.lists(c, max_size=5) | st.dictionaries(st.text(max_size=8), c,
                                                                    max_size=5),
    max_leaves=30)
values = st.recursive(
    leaves, lambda c: st.lists(c, max_size=4) | st.dictionaries(
        st.sampled_from(KEYS) | st.text(max_size=6), c, max_size=5),
    max_leaves=20)


def refs(strategy: st.SearchStrategy = iris) -> st.SearchStrategy:
    """How AS2 points at something: an IRI, an object with an id, a Link, a list of those."""
    one = st.one_of(strategy, st.fixed_dictionaries({"id": strategy}, optional={"type": values}),
                    st.fixed_dictionaries({"href": strategy},
                                          optional={"type": st.just("Link") | values,
                                                    "id": strategy}))
    return st.one_of(one, st.lists(one | values, max_size=3), values)


types = st.one_of(st.sampled_from(TYPES), st.lists(st.sampled_from(TYPES) | values, max_size=3),
                  values)
embedded = st.fixed_dictionaries({}, optional={
    "id": refs(), "type": types, "attributedTo": refs(), "actor": refs(), "href": iris,
    "content": values, "to": refs(), "object": refs()})
activity_docs = st.one_of(
    st.fixed_dictionaries({}, optional={
        "@context": values, "id": refs(), "type": types, "actor": refs(),
        "object": st.one_of(refs(), embedded, st.lists(embedded | values, max_size=3)),
        "to": refs(), "cc": refs(), "bto": refs(), "bcc": refs(), "audience": refs(),
        "published": values, "target": values}),
    st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), values, max_size=8))


# -- keys -------------------------------------------------------------------------------
def _spki(key: Any) -> str:
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _dsa_key() -> Any:
    with warnings.catch_warnings():  # deprecated, and so a key type a peer may still send
        warnings.simplefilter("ignore")
        return dsa.generate_private_key(key_size=1024)


@lru_cache(maxsize=1)
def private_keys() -> dict[str, Any]:
    """One key of each kind, made once (RSA at its smallest: only parsing is tested)."""
    return {"ed25519": ed25519.Ed25519PrivateKey.generate(),
            "rsa": rsa.generate_private_key(public_exponent=65537, key_size=1024),
            "ec": ec.generate_private_key(ec.SECP256R1()),
            "ec384": ec.generate_private_key(ec.SECP384R1()),
            "dsa": _dsa_key(),
            "x25519": x25519.X25519PrivateKey.generate()}


@lru_cache(maxsize=1)
def public_pems() -> list[str]:
    keys = private_keys()
    pems = [_spki(k.public_key()) for k in keys.values()]
    pems.append(keys["rsa"].public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.PKCS1).decode())
    return pems


@st.composite
def pems(draw: st.DrawFn) -> Any:
    pem = draw(st.sampled_from(public_pems()))
    how = draw(st.sampled_from(["as is", "truncated", "flipped", "padded", "other"]))
    if how == "truncated":
        return pem[:draw(st.integers(0, len(pem)))]
    if how == "flipped":
        i = draw(st.integers(0, len(pem) - 1))
        return pem[:i] + draw(st.characters()) + pem[i + 1:]
    if how == "padded":
        return "\n\n" + pem + draw(st.text(max_size=5))
    if how == "other":
        return draw(values)
    return pem


@st.composite
def multibases(draw: st.DrawFn) -> Any:
    keys = private_keys()
    codec = draw(st.sampled_from([b"\xed\x01", b"\x85\x24", b"\x80\x24", b"", b"\xff" * 10,
                                  b"\x12\x00"]))
    payload = draw(st.one_of(
        st.binary(max_size=64),
        st.just(keys["ed25519"].public_key().public_bytes(serialization.Encoding.Raw,
                                                           serialization.PublicFormat.Raw)),
        st.sampled_from([k.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
            for k in (keys["rsa"], keys["ec"], keys["ed25519"])]),
        st.just(keys["rsa"].public_key().public_bytes(serialization.Encoding.DER,
                                                       serialization.PublicFormat.PKCS1))))
    text = b58encode(codec + payload)
    prefix = draw(st.sampled_from(["z", "z", "u", ""]))
    return draw(st.one_of(st.just(prefix + text), st.text(max_size=20), values))


public_key_entries = st.fixed_dictionaries({}, optional={
    "id": refs(), "owner": refs(), "type": st.just("Key") | values, "publicKeyPem": pems()})
multikey_entries = st.fixed_dictionaries({}, optional={
    "id": refs(), "controller": refs(), "type": st.just("Multikey") | values,
    "publicKeyMultibase": multibases()})
actor_docs = st.fixed_dictionaries({}, optional={
    "@context": values, "id": refs(), "type": types, "preferredUsername": values,
    "name": values, "summary": values, "inbox": refs(), "outbox": refs(),
    "followers": refs(), "following": refs(), "url": refs(),
    "endpoints": st.fixed_dictionaries({}, optional={"sharedInbox": refs()}) | values,
    "publicKey": public_key_entries | st.lists(public_key_entries | values, max_size=2)
    | values,
    "assertionMethod": multikey_entries | st.lists(multikey_entries | values, max_size=2)
    | values,
    "manuallyApprovesFollowers": values, "publicKeyPem": pems(),
    "publicKeyMultibase": multibases(), "owner": refs(), "controller": refs()})


@st.composite
def mutated(draw: st.DrawFn, base: Any, new_values: st.SearchStrategy = values) -> Any:
    """``base`` with a few of its members replaced, removed or added."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(0, 4))):
        parent, path = None, doc
        # walk down to a random container
        while isinstance(path, (dict, list)) and path and draw(st.booleans()):
            parent = path
            key = draw(st.sampled_from(sorted(path) if isinstance(path, dict)
                                       else list(range(len(path)))))
            path = path[key]
            if not isinstance(path, (dict, list)):
                path = parent
                break
        target = path
        if isinstance(target, dict):
            op = draw(st.sampled_from(["replace", "delete", "add"]))
            if target and op != "add":
                key = draw(st.sampled_from(sorted(target)))
                if op == "delete":
                    del target[key]
                else:
                    target[key] = draw(new_values)
            else:
                target[draw(st.sampled_from(KEYS) | st.text(max_size=6))] = draw(new_values)
        elif isinstance(target, list):
            if target and draw(st.booleans()):
                target[draw(st.integers(0, len(target) - 1))] = draw(new_values)
            else:
                target.append(draw(new_values))
    return doc


# -- received JSON ----------------------------------------------------------------------
def loads_or_refuses(raw: bytes | str) -> None:
    try:
        doc = strictjson.loads(raw, max_depth=MAX_DEPTH)
    except strictjson.JSONRefused as exc:
        assert exc.status in (400, 415) and exc.field and exc.detail
        return
    # what is accepted is plain, finite JSON within the depth limit, that PostgreSQL's
    # JSONB stores: no NUL and no lone surrogate in a string
    json.dumps(doc, allow_nan=False)
    assert from_as.json_depth_ok(doc, MAX_DEPTH)
    for text in strings(doc):
        assert "\x00" not in text and not any("\ud800" <= c <= "\udfff" for c in text)


def strings(doc: Any) -> Any:
    """Every string of a JSON value, its object keys included."""
    stack = [doc]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            yield from value
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


@given(st.binary(max_size=200))
@example(b"\xff\xfe{\x00}\x00")
@example(b"\x00\x00\x00[")
def test_json_arbitrary_bytes_are_read_or_refused(raw: bytes) -> None:
    loads_or_refuses(raw)


@given(json_values, st.booleans())
def test_json_documents_round_trip_or_are_refused(doc: Any, ascii_only: bool) -> None:
    text = json.dumps(doc, ensure_ascii=ascii_only)
    for raw in (text, text.encode("utf-8", "surrogatepass"),
                text.encode("utf-16", "surrogatepass")):
        try:
            got = strictjson.loads(raw, max_depth=MAX_DEPTH)
        except strictjson.JSONRefused as exc:
            assert exc.status == 400  # too deep, or a float past 32 digits
            continue
        assert got == doc or json.dumps(got) == json.dumps(doc)


@st.composite
def mutated_json_text(draw: st.DrawFn) -> str:
    text = json.dumps(draw(json_values), allow_nan=True)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        piece = draw(st.sampled_from(["[", "]", "{", "}", ",", ":", '"', "\\", "\\u", "\\ud800",
                                      "-", "e", "E999", ".", "0" * 40, "1e400", "NaN",
                                      "-Infinity", "true", "null", " ", "\x00", "\ud800"])
                     | st.text(max_size=3))
        cut = draw(st.integers(0, 3))
        text = text[:i] + piece + text[i + cut:]
    return text


@given(mutated_json_text(), st.booleans())
# NUL and lone surrogates, which PostgreSQL's JSONB refuses (a failed insert after the
# signature was verified): now 400 naming the field
@example('{"[ud800\\udc00": null}', False)
@example('{"object": {"content": "a\\u0000b"}}', True)
@example('["\\ud83d\\ude00", "\\ud83d"]', False)
@example('["\ud800"]', True)
def test_json_mutated_text_is_read_or_refused(text: str, as_bytes: bool) -> None:
    loads_or_refuses(text.encode("utf-8", "surrogatepass") if as_bytes else text)


@given(st.integers(1, 200_000), st.sampled_from(["[", '{"a":', '[{"b":', "[1,"]),
       st.booleans())
@example(100_000, "[", True)
@example(50_000, '{"a":', False)
def test_json_deep_nesting_is_refused_not_a_recursion_error(depth: int, opener: str,
                                                            closed: bool) -> None:
    closer = {"[": "]", '{"a":': "}", '[{"b":': "}]", "[1,": "]"}[opener]
    text = opener * depth + "0" + (closer * depth if closed else "")
    loads_or_refuses(text)


number_literals = st.from_regex(r"-?(0|[1-9][0-9]{0,60})(\.[0-9]{1,60})?([eE][+-]?[0-9]{1,8})?",
                                fullmatch=True)


@given(st.one_of(number_literals, st.integers(1, 6000).map(lambda n: "9" * n),
                 st.integers(1, 6000).map(lambda n: "0." + "1" * n),
                 st.integers(1, 400).map(lambda n: "1e" + "9" * n)),
       st.sampled_from(["{}", "[{}]", '{{"a": [1, {}]}}']))
@example("9" * 4301, "{}")
@example("1e309", "[{}]")
@example("-0." + "0" * 40 + "1", "{}")
def test_json_long_numbers_are_read_or_refused(literal: str, template: str) -> None:
    loads_or_refuses(template.format(literal))


# -- AS2 -> model -----------------------------------------------------------------------
def parsed_or_refused(parse: Any, doc: Any) -> Any:
    try:
        return parse(doc)
    except from_as.ParseError as exc:
        assert isinstance(exc, ValueError) and exc.message
        return None


@given(activity_docs)
@example({"type": "Create", "object": ["https://peer.example/" + "x" * 3000]})
def test_activity_is_parsed_or_refused_and_trust_refuses_with_untrusted(doc: Any) -> None:
    activity = parsed_or_refused(from_as.parse_activity, doc)
    if activity is None:
        return
    for field in (activity.id, activity.actor):
        assert field is None or len(field) <= from_as.MAX_ID_LEN
    from_as.addressees(activity)
    try:
        trust.check_activity(activity, is_local)
    except trust.Untrusted as exc:
        assert isinstance(exc, ValueError) and exc.why
    if activity.object is not None:
        for author in (activity.actor, None, "https://peer.example/users/alice"):
            try:
                object_id, object_type, owner = trust.owned_object(activity.object, author,
                                                                   is_local)
            except trust.Untrusted as exc:
                assert exc.why
            else:
                assert owner == author and not is_local(object_id) and len(object_type) <= 64


@given(st.one_of(json_values, st.dictionaries(st.sampled_from(KEYS), values, max_size=6)))
def test_arbitrary_json_is_parsed_or_refused_by_every_reader(doc: Any) -> None:
    for parse in (from_as.parse_activity, from_as.parse_actor, from_as.parse_key_document):
        parsed_or_refused(parse, doc)


@given(actor_docs)
def test_actor_and_key_documents_are_parsed_or_refused(doc: dict[str, Any]) -> None:
    actor = parsed_or_refused(from_as.parse_actor, doc)
    if actor is not None:
        assert actor.type in from_as.ACTOR_TYPES
        for key in (*actor.public_keys, *actor.multikeys):
            assert actor.key(key.id) is not None
    found = parsed_or_refused(from_as.parse_key_document, doc)
    if isinstance(found, from_as.RemoteActor):
        try:
            trust.check_actor(found, found.id, found.id)
        except trust.Untrusted as exc:
            assert exc.why
    if isinstance(doc.get("id"), str):
        try:
            trust.check_served(doc, doc["id"], "https://peer.example/users/alice")
        except trust.Untrusted as exc:
            assert exc.why


# -- FEP-0837 proposals and JSON Schemas -------------------------------------------------
SCHEMAS = sorted(p.name.split(".")[0] for p in (SCHEMAS_DIR / "json-schema").glob("*.schema.json"))


@lru_cache(maxsize=None)
def valid_examples() -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for path in sorted((SCHEMAS_DIR / "json-schema" / "examples").glob("*.json")):
        out.setdefault(path.name.split(".")[0], []).append(json.loads(path.read_text()))
    return out


def schema_checked(name: str, doc: Any) -> bool:
    try:
        proposals.check_schema(name, doc)
    except proposals.SchemaError as exc:
        assert isinstance(exc, ValueError) and exc.message
        return False
    return True


@st.composite
def schema_docs(draw: st.DrawFn) -> tuple[str, Any]:
    name = draw(st.sampled_from(SCHEMAS))
    bases = valid_examples().get(name) or [{}]
    return name, draw(mutated(draw(st.sampled_from(bases))) | json_values)


@given(schema_docs())
def test_schemas_accept_or_refuse_with_schema_error(case: tuple[str, Any]) -> None:
    name, doc = case
    if schema_checked(name, doc):  # accepted by both validators, never by one alone
        proposals._compiled(name)(doc)
        assert not any(True for _ in proposals._validator(name).iter_errors(doc))


quantity_values = st.one_of(
    st.sampled_from(["500.000000", "1e999999999", "-1", "NaN", "Infinity", "sNaN", "1_0",
                     " 1 ", "", "0x10", "1" * 5000]),
    st.integers(), st.floats(), values)
offer_values = st.one_of(values, quantity_values,
                         st.sampled_from(["offer", "request", "deliverService", "transfer",
                                          "kilogram", "om2:kilogram", "vf:one", "2026-02-30",
                                          "2026-06-30", "٢٠٢٦-٠١-٠١", "9999-12-31T23:59Z"]))


@st.composite
def offer_docs(draw: st.DrawFn) -> Any:
    base = draw(st.sampled_from([d for d in valid_examples()["offer"]]))
    return draw(mutated(base, offer_values))


@given(offer_docs())
@example({"id": "https://peer.example/o/1", "attributedTo": "https://peer.example/a",
          "purpose": "offer", "publishes": {"type": "Intent", "action": "transfer"},
          "location": {"longitude": "inf"}})
def test_proposals_are_read_or_refused(doc: Any) -> None:
    if not isinstance(doc, dict):
        return
    schema_ok = schema_checked("offer", doc)
    try:
        proposal = proposals.read_proposal(doc)
    except from_as.ParseError as exc:
        assert exc.message
        return
    if schema_ok:  # what the schema lets through is read into sane values
        assert proposal.direction in ("offer", "demand")
        for number in (proposal.quantity, proposal.price):
            assert number is None or (number.is_finite() and number >= 0)
        if proposal.lat is not None:
            assert -90 <= proposal.lat <= 90 and -180 <= proposal.lon <= 180


# -- HTTP signature headers and Structured Fields --------------------------------------
@st.composite
def sfv_keys(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(["sig1", "sig", "a", "sha-256", "sha-512", "keyid", "alg",
                                 "created", "expires", "nonce", "tag", "*x", "Bad", "1a"])
                | st.from_regex(r"[a-z*][a-z0-9_\-.*]{0,6}", fullmatch=True))


bare_items = st.one_of(
    st.integers(-10**16, 10**16).map(str),
    st.from_regex(r"-?[0-9]{1,13}\.[0-9]{0,4}", fullmatch=True),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12).map(
        lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'),
    st.text(max_size=8).map(lambda s: f'"{s}"'),
    st.from_regex(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]{0,8}", fullmatch=True),
    st.binary(max_size=16).map(lambda b: ":" + base64.b64encode(b).decode() + ":"),
    st.sampled_from(["?0", "?1", "?2", ":not base64:", ":YQ:", "@method", '"@method"',
                     '"@target-uri"', '"@authority"', '"content-digest"', '"@query-param"',
                     '"date"', '"host"', '"@request-target"', '"@path"', '"@query"',
                     '"ed25519"', '"rsa-v1_5-sha256"', '"hmac-sha256"', '"Host"']))


@st.composite
def sfv_params(draw: st.DrawFn) -> str:
    return "".join(f";{draw(sfv_keys())}" + (f"={draw(bare_items)}" if draw(st.booleans())
                                              else "")
                   for _ in range(draw(st.integers(0, 3))))


@st.composite
def sfv_dictionaries(draw: st.DrawFn) -> str:
    members = []
    for _ in range(draw(st.integers(0, 3))):
        key = draw(sfv_keys())
        shape = draw(st.sampled_from(["item", "inner", "bare"]))
        if shape == "bare":
            members.append(key + draw(sfv_params()))
        elif shape == "item":
            members.append(f"{key}={draw(bare_items)}{draw(sfv_params())}")
        else:
            inner = " ".join(draw(bare_items) + draw(sfv_params())
                             for _ in range(draw(st.integers(0, 4))))
            members.append(f"{key}=({inner}){draw(sfv_params())}")
    text = draw(st.sampled_from([",", ", ", " ,", ",\t"])).join(members)
    if draw(st.booleans()):  # and a small mutation
        i = draw(st.integers(0, len(text)))
        text = text[:i] + draw(st.text(max_size=3)) + text[i + draw(st.integers(0, 2)):]
    return text


@given(st.one_of(sfv_dictionaries(), st.text(max_size=40)))
@example("a=1.")
@example("a=(1 2")
@example("a=?")
@example("a=٣")
def test_structured_fields_are_parsed_or_refused_and_round_trip(text: str) -> None:
    try:
        members = httpsig._dictionary(text)
    except ValueError:
        return
    for key, (value, params) in members.items():
        again = http_sf.ser([(value, params)] if isinstance(value, list) else (value, params))
        assert httpsig._dictionary(f"{key}={again}") == {key: (value, params)}


NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
URL = "https://node.example/inbox"
BODY = b'{"type": "Follow"}'
KEY_ID = "https://peer.example/users/alice#main-key"


def header_text() -> st.SearchStrategy[str]:
    """A header value as aiohttp reads it: any text, or bytes decoded with surrogateescape."""
    return st.one_of(st.text(st.characters(exclude_categories=["Cs"]), max_size=30),
                     st.binary(max_size=30).map(lambda b: b.decode("utf-8", "surrogateescape")))


dates = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                 timezones=st.just(timezone.utc)).map(
        lambda d: d.strftime("%a, %d %b %Y %H:%M:%S GMT")),
    st.builds(lambda d, z: d.strftime("%a, %d %b %Y %H:%M:%S ") + z,
              st.datetimes(min_value=datetime(100, 1, 1))  # and the edges of datetime's range
              | st.datetimes(min_value=datetime(9999, 12, 31))
              | st.datetimes(max_value=datetime(100, 1, 1)),
              st.builds(lambda sign, h, m: f"{sign}{h:02d}{m:02d}", st.sampled_from("+-"),
                        st.integers(0, 99), st.integers(0, 99))
              | st.sampled_from(["EST", "UT", "Z", "-1", ""])),
    st.just(NOW.strftime("%a, %d %b %Y %H:%M:%S GMT")),
    st.builds("{} {} {} {:02d}:{:02d}:{:02d} GMT".format, st.integers(-1, 40),
              st.sampled_from(["Jan", "Feb", "Dec", "Foo"]), st.integers(-1, 10**30),
              st.integers(0, 99), st.integers(0, 99), st.integers(0, 99)),
    header_text())

digest_values = st.one_of(
    st.just(httpsig.digest_header(BODY)),
    st.builds(lambda n, v: f"{n}={v}", st.sampled_from(["SHA-256", "sha-512", "MD5", "sha-256"]),
              st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode()) | header_text()),
    header_text())
content_digest_values = st.one_of(st.just(httpsig.content_digest_header(BODY)),
                                  sfv_dictionaries(), header_text())

COVERED = ["(request-target)", "host", "date", "digest", "(created)", "(expires)",
           "content-type", "x-missing", "Host"]


def mostly(good: st.SearchStrategy, bad: st.SearchStrategy) -> st.SearchStrategy:
    """``good`` three times in four, else ``bad``: well-formed enough to reach what follows."""
    return st.integers(0, 3).flatmap(lambda i: bad if i == 0 else good)


@st.composite
def cavage_signatures(draw: st.DrawFn) -> str:
    params = {"keyId": draw(mostly(st.just("https://peer.example/users/alice#main-key"),
                                   st.text(max_size=10))),
              "algorithm": draw(st.sampled_from(["hs2019", "ed25519", "rsa-sha256",
                                                 "hmac-sha256", "RSA-SHA256", ""])),
              "headers": draw(st.sampled_from(["(request-target) host date digest",
                                               "(request-target) host (created) digest"])
                              | st.lists(st.sampled_from(COVERED), max_size=6).map(" ".join)),
              "created": draw(st.integers(0, 10**15).map(str)
                              | st.just(str(int(NOW.timestamp())))
                              | st.from_regex(r"[0-9]{1,16}(\.[0-9]{1,3})?", fullmatch=True)),
              "expires": draw(st.integers(0, 10**15).map(str) | header_text()),
              "signature": draw(mostly(st.binary(min_size=1, max_size=80).map(
                  lambda b: base64.b64encode(b).decode()), header_text()))}
    # mostly well-formed, so that the checks after parsing (policy, time, digest) are reached
    chosen = draw(st.just(["keyId", "headers", "signature"]) | st.just(["keyId", "algorithm",
                                                                      "headers", "created",
                                                                      "signature"])
                  | st.lists(st.sampled_from(sorted(params)), unique=True))
    quote = draw(st.integers(0, 4)) > 0  # values with spaces need their quotes
    return ",".join(f'{k}="{params[k]}"' if quote else f"{k}={params[k]}" for k in chosen)


@st.composite
def rfc9421_headers(draw: st.DrawFn) -> dict[str, str]:
    label = draw(st.sampled_from(["sig1", "sig2"]))
    components = draw(st.just(['"@method"', '"@target-uri"', '"content-digest"']) | st.lists(
        st.sampled_from(['"@method"', '"@target-uri"', '"@authority"', '"@request-target"',
                         '"@path"', '"@query"', '"@scheme"', '"@query-param";name="a"',
                         '"@query-param"', '"@status"', '"content-digest"', '"date"', '"host"',
                         '"x-missing"', '"Date"', '"@method";x=1', '"date";sf', "token",
                         ":Zm9v:", "1"]), max_size=6))
    params = {"created": draw(mostly(st.integers(-10**15 + 1, 10**15 - 1).map(str)
                                     | st.just(str(int(NOW.timestamp()))), bare_items)),
              "expires": draw(mostly(st.integers(-10**15 + 1, 10**15 - 1).map(str),
                                     bare_items)),
              "keyid": draw(mostly(st.just('"https://peer.example/users/alice#main-key"'),
                                   bare_items)),
              "alg": draw(mostly(st.sampled_from(['"ed25519"', '"rsa-v1_5-sha256"',
                                                  '"rsa-pss-sha512"', '"ecdsa-p256-sha256"',
                                                  '"hmac-sha256"']), bare_items))}
    chosen = draw(st.just(["created", "keyid"]) | st.just(["alg", "created", "keyid"])
                  | st.lists(st.sampled_from(sorted(params)), unique=True))
    signature_input = (f"{label}=({' '.join(components)})"
                       + "".join(f";{k}={params[k]}" for k in chosen))
    signature = draw(mostly(st.binary(min_size=1, max_size=80).map(
        lambda b: ":" + base64.b64encode(b).decode() + ":"), bare_items))
    out = {"Signature-Input": signature_input, "Signature": f"{label}={signature}"}
    if draw(st.integers(0, 3)) == 0:
        out["Signature-Input"] = draw(sfv_dictionaries())
    return out


@st.composite
def request_headers(draw: st.DrawFn) -> CIMultiDict[str]:
    headers: CIMultiDict[str] = CIMultiDict()
    scheme = draw(st.sampled_from(["rfc9421", "cavage", "authorization", "none", "junk"]))
    if scheme == "rfc9421":
        headers.update(draw(rfc9421_headers()))
    elif scheme in ("cavage", "authorization"):
        value = draw(cavage_signatures())
        headers.add("Signature" if scheme == "cavage" else "Authorization",
                    value if scheme == "cavage" else f"Signature {value}")
    elif scheme == "junk":
        for name in draw(st.lists(st.sampled_from(["Signature", "Signature-Input",
                                                   "Authorization", "signature"]),
                                  min_size=1, max_size=3)):
            headers.add(name, draw(header_text() | sfv_dictionaries()))
    optional = {"Date": dates, "Digest": digest_values, "Content-Digest": content_digest_values,
                "Host": st.sampled_from(["node.example", "node.example:443", "NODE.example",
                                         "node.example:99999", "[::1", "other.example", ""])
                | header_text(),
                "Content-Type": header_text()}
    if draw(st.booleans()):  # what a well-formed request carries, Date to be fuzzed
        headers.update({"Host": "node.example", "Digest": httpsig.digest_header(BODY),
                        "Content-Digest": httpsig.content_digest_header(BODY),
                        "Date": draw(dates)})
    for name in draw(st.lists(st.sampled_from(sorted(optional)), max_size=5)):
        headers.add(draw(st.sampled_from([name, name.lower(), name.upper()])),
                    draw(optional[name]))
    return headers


def signature_checked(headers: Any, body: bytes | None, pem: str, **kw: Any) -> None:
    try:
        normalized = httpsig.normalize_headers(headers)
        info = httpsig.parse_signature("POST", URL, normalized)
        httpsig.verify(info, "POST", URL, normalized, body, pem, now=NOW, **kw)
    except httpsig.VerificationError as exc:
        assert isinstance(exc.reason, httpsig.Failure)
    else:  # never: the signatures are random bytes
        raise AssertionError("a random signature verified")


def _verifying_key(kind: str) -> str:
    return _spki(private_keys()[kind].public_key())


@given(request_headers(), st.sampled_from(["ed25519", "rsa", "ec"]),
       st.sampled_from([BODY, b"", None]), st.booleans(),
       st.sampled_from([None, "ed25519", "rsa-pss-sha512", "hmac-sha256"]))
def test_signature_headers_are_verified_or_refused(headers: CIMultiDict[str], kind: str,
                                                   body: bytes | None, policy: bool,
                                                   key_algorithm: str | None) -> None:
    signature_checked(headers, body, _verifying_key(kind), require_policy=policy,
                      key_algorithm=key_algorithm)


@st.composite
def well_formed_requests(draw: st.DrawFn) -> CIMultiDict[str]:
    """A request signed in the right shape, its times, Date and digests fuzzed: what
    reaches the checks after parsing (policy, time window, digests)."""
    signature = base64.b64encode(draw(st.binary(min_size=1, max_size=64))).decode()
    created = draw(st.integers(-10**15 + 1, 10**15 - 1) | st.just(int(NOW.timestamp())))
    expires = draw(st.none() | st.integers(-10**15 + 1, 10**15 - 1))
    headers: CIMultiDict[str] = CIMultiDict({"Host": "node.example", "Date": draw(dates)})
    if draw(st.booleans()):
        covered = draw(st.sampled_from(["(request-target) host date digest",
                                        "(request-target) host (created) digest",
                                        "(request-target) host (created) (expires) digest"]))
        times = f'created="{created}",' + (f'expires="{expires}",' if expires is not None
                                           else "")
        headers["Signature"] = (f'keyId="{KEY_ID}",'
                                f'algorithm="hs2019",{times}headers="{covered}",'
                                f'signature="{signature}"')
        headers["Digest"] = draw(digest_values)
    else:
        times = f";created={created}" + (f";expires={expires}" if expires is not None else "")
        headers["Signature-Input"] = (f'sig1=("@method" "@target-uri" "content-digest"){times}'
                                      f';keyid="{KEY_ID}"')
        headers["Signature"] = f"sig1=:{signature}:"
        headers["Content-Digest"] = draw(content_digest_values)
    return headers


def _found(**headers: str) -> CIMultiDict[str]:
    return CIMultiDict({"Host": "node.example", "Date": "Sun, 01 Mar 2026 12:00:00 GMT",
                        **{k.replace("_", "-"): v for k, v in headers.items()}})


@given(well_formed_requests(), st.sampled_from(["ed25519", "rsa", "ec"]),
       st.sampled_from([BODY, b"", None]))
# created before year 1: ValueError from datetime.fromtimestamp (now EXPIRED)
@example(_found(Signature_Input=f'sig1=("@method" "@target-uri" "content-digest");'
                                f'created=-62135596801;keyid="{KEY_ID}"',
                Signature="sig1=:AA==:", Content_Digest=httpsig.content_digest_header(BODY)),
         "ed25519", BODY)
@example(_found(Signature=f'keyId="{KEY_ID}",algorithm="hs2019",created="999999999999999",'
                          f'headers="(request-target) host (created) digest",signature="AA=="',
                Digest=httpsig.digest_header(BODY)), "ed25519", BODY)
# a Date past datetime's range: OverflowError from email.utils / astimezone (now MALFORMED)
@example(_found(Signature=f'keyId="{KEY_ID}",algorithm="hs2019",created="0",'
                          f'headers="(request-target) host date digest",signature="AA=="',
                Digest=httpsig.digest_header(BODY), Date="0 JAN 2147483648 0:0 GMT"),
         "ed25519", BODY)
@example(_found(Signature=f'keyId="{KEY_ID}",headers="(request-target) host date digest",'
                          f'signature="AA=="',
                Digest=httpsig.digest_header(BODY), Date="Fri, 31 Dec 9999 23:59:59 -2359"),
         "ed25519", BODY)
def test_signature_times_dates_and_digests_are_checked_or_refused(
        headers: CIMultiDict[str], kind: str, body: bytes | None) -> None:
    signature_checked(headers, body, _verifying_key(kind))


@given(st.dictionaries(st.sampled_from(["Signature", "Signature-Input", "Authorization",
                                        "Date", "Digest", "Content-Digest", "Host"])
                       | header_text(), header_text(), max_size=6))
def test_arbitrary_header_values_are_refused_with_a_reason(headers: dict[str, str]) -> None:
    signature_checked(headers, BODY, _verifying_key("ed25519"))


# -- the CSV import ---------------------------------------------------------------------
SSE_COLUMNS = ["Identifier", "Name", "Description", "Latitude", "Longitude",
               "Geo Container Latitude", "Geo Container Longitude", "SIC Code", "Legal Form",
               "Ownership Classification", "Street Address", "Postcode", "Locality",
               "Country ID", "Website", "Email", "Phone", "Primary Activity", "Activities",
               "Organisational Structure", "Membership Type"]
ESS = "http://purl.org/essglobal/standard/"
cells = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", " ", "R000001", "coop-a", "Coop A", "45.2", "-200", "nan", "inf",
                     "1e400", "1_000", "٣", "47110", "Workers", "Community Interest Company",
                     "FR", "fr", "FRA", "http://example.org", "example.org", "a@b.example",
                     "@", f"{ESS}activities-ica/ICA260", f"{ESS}activities-ica/ICA999",
                     "https://w3id.org/essglobal/2.1/standard/activities-ica/ICA260",
                     f"{ESS}organisational-structure/OS130", f"{ESS}base-membership-type/BMT10",
                     f"{ESS}activities-ica/٣", "47.11;01", "organic, fair-trade", "flour",
                     "offer", "demand", "product", "production", "sale", "kg", "EUR", "12.5",
                     "-1", "2026-02-30", "2026-06-30", '"', "a\nb", "\x00", "\r"]),
    st.integers(131_000, 131_100).map(lambda n: "x" * n))


@st.composite
def csv_texts(draw: st.DrawFn) -> str:
    header = draw(st.sampled_from([SSE_COLUMNS, list(importing.SSEFED_COLUMNS),
                                   list(offers_import.OFFER_COLUMNS), ["handle", "name"],
                                   ["a", "b"], []]))
    header = draw(st.permutations(header)) if draw(st.booleans()) else header
    header = header + draw(st.lists(st.text(max_size=5), max_size=2))
    rows = draw(st.lists(st.lists(cells, max_size=len(header) + 2), max_size=4))
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    text = out.getvalue()
    if draw(st.booleans()):  # raw damage: stray quotes, cut lines, BOMs
        i = draw(st.integers(0, len(text)))
        text = (text[:i] + draw(st.sampled_from(['"', '""', "\n", "\r", ",", "\ufeff", "\x00"])
                                | st.text(max_size=3)) + text[i + draw(st.integers(0, 3)):])
    return text


def csv_read_or_refused(text: str) -> None:
    report = importing.ImportReport()
    try:
        rows = list(importing.read_rows(text, report))
    except InvalidInput as exc:
        assert exc.field and exc.message
        rows = []
    for row in rows:
        assert importing.HANDLE.match(row.org.handle) or row.org.handle
    for error in report.errors:
        assert error.line >= 1 and error.message
    report = importing.ImportReport(what="offer")
    try:
        list(importing.read_records(text, report, offers_import._offer_row))
    except InvalidInput as exc:
        assert exc.field and exc.message


@given(csv_texts())
@example('Identifier,Name\nR1,"' + "x" * 131_073 + '"\n')
@example('"' + "x" * 131_073 + '",handle,name\n')
def test_csv_rows_are_read_or_refused(text: str) -> None:
    csv_read_or_refused(text)


@given(st.text(max_size=200))
def test_csv_arbitrary_text_is_read_or_refused(text: str) -> None:
    csv_read_or_refused(text)


@given(st.binary(max_size=100))
@example(b"handle,name\ncoop,Caf\xe9\n")  # Latin-1, as a spreadsheet may save it
@example(b"\xef\xbb\xbfhandle,name\ncoop,Coop\n")
def test_csv_file_bytes_are_decoded_or_refused(raw: bytes) -> None:
    try:
        text = importing.decode_csv(raw)
    except InvalidInput as exc:
        assert exc.field == "file"
        return
    assert not text.startswith("\ufeff")
    csv_read_or_refused(text)


def test_fuzz_profile_is_bounded_and_derandomised() -> None:
    """CI runs the same examples every time, and not too many of them."""
    if os.environ.get("HYPOTHESIS_PROFILE", "ci") != "ci":
        pytest.skip("another hypothesis profile is loaded")
    current = settings()
    assert current.derandomize and current.max_examples <= 200 and current.database is None
