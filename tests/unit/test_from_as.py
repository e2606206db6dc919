"""Tolerant AS2 readers against real peer documents (see tests/fixtures/peers/README.md)."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from ssefed.vocab.from_as import (
    PUBLIC,
    Activity,
    Multikey,
    ParseError,
    PublicKey,
    RemoteActor,
    addressees,
    as_list,
    first_id,
    json_depth_ok,
    parse_activity,
    parse_actor,
    parse_key_document,
)
from tests.conftest import PEERS

SPKI_HEADER = "-----BEGIN PUBLIC KEY-----"


def load(name: str) -> dict[str, Any]:
    return json.loads((PEERS / name).read_text(encoding="utf-8"))


def actor(name: str) -> RemoteActor:
    return parse_actor(load(name))


def assert_spki(pem: str) -> Any:
    """The PEM is SPKI and loads with cryptography; returns the key object."""
    assert pem.startswith(SPKI_HEADER)
    return serialization.load_pem_public_key(pem.encode())


def assert_single_rsa_key(a: RemoteActor, key_id: str) -> PublicKey:
    assert [k.id for k in a.public_keys] == [key_id]
    key = a.public_keys[0]
    assert key.kind == "rsa"
    assert key.owner == a.id
    assert isinstance(assert_spki(key.pem), rsa.RSAPublicKey)
    assert a.key(key_id) is key
    return key


def raw_ed25519(pem: str) -> bytes:
    key = assert_spki(pem)
    assert isinstance(key, ed25519.Ed25519PublicKey)
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


# --------------------------------------------------------------------- actors


def test_mastodon_actor_with_full_legacy_context() -> None:
    a = actor("mastodon-actor.json")
    assert a.id == "https://masto.qa.urbanwildlife.biz/users/mastodon"
    assert a.type == "Person"
    assert a.preferred_username == "mastodon"
    assert a.name == "Mastodon"
    assert a.summary is None  # "" reads as absent
    assert a.inbox == "https://masto.qa.urbanwildlife.biz/users/mastodon/inbox"
    assert a.shared_inbox == "https://masto.qa.urbanwildlife.biz/inbox"
    assert a.followers == "https://masto.qa.urbanwildlife.biz/users/mastodon/followers"
    assert a.url == "https://masto.qa.urbanwildlife.biz/@mastodon"
    assert a.manually_approves_followers is False
    assert a.multikeys == ()
    assert_single_rsa_key(a, "https://masto.qa.urbanwildlife.biz/users/mastodon#main-key")


def test_mastodon_actor_with_fields_and_manual_approval() -> None:
    a = actor("mastodon-actor-with-fields.json")
    assert a.id == "https://tech.lgbt/users/rarely_typical"
    assert a.type == "Person"
    assert a.preferred_username == "rarely_typical"
    assert a.inbox == "https://tech.lgbt/users/rarely_typical/inbox"
    assert a.shared_inbox == "https://tech.lgbt/inbox"
    assert a.manually_approves_followers is True
    key = assert_single_rsa_key(a, "https://tech.lgbt/users/rarely_typical#main-key")
    # The original PEM was already SPKI, so re-serialising keeps it byte-identical.
    assert key.pem == a.raw["publicKey"]["publicKeyPem"]


def test_mastodon_spec_fixture_empty_name_reads_as_none() -> None:
    a = actor("mastodon-actor-spec-fixture.json")
    assert a.id == "https://ap.example.com/users/foo"
    assert a.type == "Person"
    assert a.preferred_username == "foo"
    assert a.name is None
    assert a.summary == "<p>test</p>"
    assert a.inbox == "https://ap.example.com/users/foo/inbox"
    assert a.shared_inbox == "https://ap.example.com/inbox"
    assert_single_rsa_key(a, "https://ap.example.com/users/foo#main-key")


def test_gotosocial_actor_without_endpoints_has_no_shared_inbox() -> None:
    a = actor("gotosocial-actor.json")
    assert a.id == "http://localhost:8080/users/1happyturtle"
    assert a.type == "Person"
    assert a.preferred_username == "1happyturtle"
    assert a.inbox == "http://localhost:8080/users/1happyturtle/inbox"
    assert a.shared_inbox is None
    assert a.manually_approves_followers is True
    assert_single_rsa_key(a, "http://localhost:8080/users/1happyturtle#main-key")


def test_gotosocial_actor_key_id_is_a_path_not_a_fragment() -> None:
    a = actor("gotosocial-actor-sharedinbox.json")
    assert a.id == "http://localhost:8080/users/the_mighty_zork"
    assert a.preferred_username == "the_mighty_zork"
    assert a.inbox == "http://localhost:8080/users/the_mighty_zork/inbox"
    assert a.shared_inbox == "http://localhost:8080/sharedInbox"
    assert_single_rsa_key(a, "http://localhost:8080/users/the_mighty_zork/main-key")
    assert a.key("http://localhost:8080/users/the_mighty_zork#main-key") is None


def test_gotosocial_main_key_stub_is_an_actor_without_inbox() -> None:
    result = parse_key_document(load("gotosocial-main-key-stub.json"))
    assert isinstance(result, RemoteActor)
    assert result.id == "https://example.org/users/example_user"
    assert result.type == "Person"
    assert result.preferred_username == "example_user"
    assert result.inbox is None
    assert result.shared_inbox is None
    key = assert_single_rsa_key(result, "https://example.org/users/example_user/main-key")
    assert key.owner == "https://example.org/users/example_user"  # re-fetch this for the full actor


def test_lemmy_group_without_context() -> None:
    doc = load("lemmy-group.json")
    assert "@context" not in doc
    a = parse_actor(doc)
    assert a.id == "https://enterprise.lemmy.ml/c/tenforward"
    assert a.type == "Group"
    assert a.preferred_username == "tenforward"
    assert a.name == "Ten Forward"
    assert a.inbox == "https://enterprise.lemmy.ml/c/tenforward/inbox"
    assert a.shared_inbox == "https://enterprise.lemmy.ml/inbox"
    assert a.following is None
    assert_single_rsa_key(a, "https://enterprise.lemmy.ml/c/tenforward#main-key")


def test_mobilizon_pkcs1_key_is_converted_to_spki() -> None:
    doc = load("mobilizon-group.json")
    original_pem = doc["publicKey"]["publicKeyPem"]
    assert original_pem.startswith("-----BEGIN RSA PUBLIC KEY-----")
    assert original_pem.endswith("\n\n")
    a = parse_actor(doc)
    assert a.id == "https://mobilizon.fr/@contribateliers"
    assert a.type == "Group"
    assert a.preferred_username == "contribateliers"
    assert a.inbox == "https://mobilizon.fr/@contribateliers/inbox"
    assert a.shared_inbox == "https://mobilizon.fr/inbox"  # extra endpoints entries ignored
    key = assert_single_rsa_key(a, "https://mobilizon.fr/@contribateliers#main-key")
    converted = serialization.load_pem_public_key(key.pem.encode())
    original = serialization.load_pem_public_key(original_pem.strip().encode())
    assert isinstance(converted, rsa.RSAPublicKey) and isinstance(original, rsa.RSAPublicKey)
    assert converted.public_numbers() == original.public_numbers()


def test_fedify_actor_has_only_an_ed25519_multikey() -> None:
    a = actor("fedify-actor-multikey.json")
    assert a.id == "https://server.example/users/alice"
    assert a.type == "Person"
    assert a.inbox == "https://server.example/users/alice/inbox"
    assert a.shared_inbox is None
    assert a.public_keys == ()
    assert [(m.id, m.kind, m.controller) for m in a.multikeys] == [
        ("https://server.example/users/alice#ed25519-key", "ed25519", a.id)
    ]
    raw = raw_ed25519(a.multikeys[0].public_key_pem)
    assert len(raw) == 32
    # Cross-check the hand-rolled base58btc decoder against the same key given as a JWK.
    jwk_x = load("fep8b32-test-key.json")["jwk"]["x"]
    assert raw == base64.urlsafe_b64decode(jwk_x + "=" * (-len(jwk_x) % 4))
    assert a.key("https://server.example/users/alice#ed25519-key") is a.multikeys[0]


def test_fep8b32_verifier_actor_reads_the_same_key_as_fedify() -> None:
    a = actor("fep8b32-verifier-actor.json")
    assert a.multikeys == actor("fedify-actor-multikey.json").multikeys


def test_mitra_actor_rsa_multikey_equals_its_public_key() -> None:
    a = actor("mitra-actor-multikey.json")
    assert a.id == "https://wizard.casa/users/hongminhee"
    assert a.type == "Person"
    assert a.preferred_username == "hongminhee"
    assert a.name == "洪 民憙 (Hong Minhee)"
    assert a.inbox == "https://wizard.casa/users/hongminhee/inbox"
    assert a.shared_inbox is None
    pk = assert_single_rsa_key(a, "https://wizard.casa/users/hongminhee#main-key")
    by_id = {m.id: m for m in a.multikeys}
    assert len(a.multikeys) == 2  # authentication duplicates are not read
    rsa_mk = by_id["https://wizard.casa/users/hongminhee#main-key"]
    assert rsa_mk.kind == "rsa"
    assert rsa_mk.public_key_pem == pk.pem
    ed_mk = by_id["https://wizard.casa/users/hongminhee#ed25519-key"]
    assert ed_mk.kind == "ed25519"
    assert len(raw_ed25519(ed_mk.public_key_pem)) == 32
    assert a.key(pk.id) is pk  # publicKey wins when both list the same id
    assert a.key(ed_mk.id) is ed_mk


# ---------------------------------------------------------- key documents


def test_bare_public_key_document() -> None:
    doc = {"@context": "https://w3id.org/security/v1", "type": "Key"}
    doc |= load("mastodon-actor.json")["publicKey"]
    result = parse_key_document(doc)
    assert isinstance(result, PublicKey)
    assert result.id == "https://masto.qa.urbanwildlife.biz/users/mastodon#main-key"
    assert result.owner == "https://masto.qa.urbanwildlife.biz/users/mastodon"
    assert_spki(result.pem)


def test_bare_multikey_document() -> None:
    doc = load("fedify-actor-multikey.json")["assertionMethod"][0]
    result = parse_key_document(doc)
    assert isinstance(result, Multikey)
    assert result.kind == "ed25519"
    assert result.controller == "https://server.example/users/alice"


def test_key_document_that_is_a_full_actor() -> None:
    result = parse_key_document(load("mastodon-actor.json"))
    assert isinstance(result, RemoteActor)
    assert result.key("https://masto.qa.urbanwildlife.biz/users/mastodon#main-key") is not None


# ------------------------------------------------------------- activities


def activity(name: str) -> Activity:
    return parse_activity(load(name))


def test_mastodon_follow_without_to() -> None:
    a = activity("mastodon-follow.json")
    assert a.id == "https://masto.asonix.dog/1ea87517-63c5-4118-8831-460ee641b2cf"
    assert a.type == "Follow"
    assert a.actor == "https://masto.asonix.dog/users/asonix"
    assert a.object_id == "https://ds9.lemmy.ml/c/testcom"
    assert a.object is None
    assert a.to == () and a.cc == ()
    assert addressees(a) == set()


def test_gotosocial_create_note_to_as_string_becomes_one_item_tuple() -> None:
    a = activity("gotosocial-create-note.json")
    assert a.type == "Create"
    assert a.id.endswith("/activity#Create")  # type: ignore[union-attr]
    assert a.to == (PUBLIC,)
    assert a.cc == ("http://localhost:8080/users/the_mighty_zork/followers",)
    assert a.object is not None and a.object["type"] == "Note"
    assert a.object_id == "http://localhost:8080/users/the_mighty_zork/statuses/01F8MHAMCHF6Y650WCRSCP4WMY"
    assert a.published == "2021-10-20T12:40:37+02:00"


def test_mastodon_create_note_addressees_include_public_and_followers() -> None:
    a = activity("mastodon-create-note.json")
    assert a.type == "Create"
    assert a.actor == "https://mastodon.madrid/users/felix"
    assert a.to == ("https://mastodon.madrid/users/felix/followers",)
    assert addressees(a) == {
        "https://mastodon.madrid/users/felix/followers",
        PUBLIC,
        "https://mamot.fr/users/retiolus",
    }
    assert a.object_id == "https://mastodon.madrid/users/felix/statuses/107224289116410645"
    assert a.object is not None and a.object["summary"] is None


def test_mastodon_accept_follow_embeds_the_follow() -> None:
    a = activity("mastodon-accept-follow.json")
    assert a.id == "https://tech.lgbt/users/rarely_typical#accepts/follows/1670066"
    assert a.type == "Accept"
    assert a.actor == "https://tech.lgbt/users/rarely_typical"
    assert a.object_id == "https://fedi-test.mooo.com/users/rarely-typical/follows/test"
    assert a.object is not None and a.object["type"] == "Follow"
    inner = parse_activity(a.object)
    assert inner.actor == "https://fedi-test.mooo.com/users/rarely-typical"
    assert inner.object_id == a.actor


def test_lemmy_delete_actor_object_is_the_actor_uri() -> None:
    a = activity("lemmy-delete-actor.json")
    assert a.type == "Delete"
    assert a.actor == "http://ds9.lemmy.ml/u/lemmy_alpha"
    assert a.object_id == a.actor
    assert a.object is None
    assert a.to == (PUBLIC,)
    assert a.raw["removeData"] is True


def test_mastodon_delete_actor_object_is_the_actor_uri() -> None:
    a = activity("mastodon-delete-actor.json")
    assert a.id == "https://remote.example/users/alice#delete"
    assert a.object_id == a.actor == "https://remote.example/users/alice"


def test_mastodon_undo_follow_embeds_the_follow_with_its_uuid_id() -> None:
    a = activity("mastodon-undo-follow.json")
    assert a.id == "https://masto.asonix.dog/users/asonix#follows/449/undo"
    assert a.type == "Undo"
    assert a.object_id == "https://masto.asonix.dog/1ea87517-63c5-4118-8831-460ee641b2cf"
    assert a.object is not None and a.object["type"] == "Follow"
    assert a.object_id == activity("mastodon-follow.json").id


def test_lemmy_accept_follow_without_context() -> None:
    a = activity("lemmy-accept-follow.json")
    assert a.type == "Accept"
    assert a.to == ("http://ds9.lemmy.ml/u/lemmy_alpha",)
    assert a.object_id == "http://ds9.lemmy.ml/activities/follow/6abcd50b-b8ca-4952-86b0-a6dd8cc12866"


# --------------------------------------------------------------- tolerance


def minimal_actor(**extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": "https://a.example/u/x", "type": "Person"}
    doc.update(extra)
    return doc


def test_type_may_be_a_list_and_prefixed() -> None:
    assert parse_actor(minimal_actor(type=["Object", "as:Service"])).type == "Service"
    assert parse_activity({"type": ["Follow", "x:Extra"]}).type == "Follow"


def test_name_null_summary_null_and_url_as_link_list() -> None:
    url = [{"type": "Link", "href": "https://a.example/@x", "mediaType": "text/html"}]
    a = parse_actor(minimal_actor(name=None, summary=None, url=url))
    assert a.name is None and a.summary is None
    assert a.url == "https://a.example/@x"


def test_public_key_list_and_single_assertion_method() -> None:
    mastodon_key = load("mastodon-actor.json")["publicKey"]
    multikey = load("fedify-actor-multikey.json")["assertionMethod"][0]
    doc = minimal_actor(publicKey=["https://a.example/ref", mastodon_key], assertionMethod=multikey)
    a = parse_actor(doc)
    assert [k.id for k in a.public_keys] == [mastodon_key["id"]]
    assert [m.kind for m in a.multikeys] == ["ed25519"]


def test_addressing_aliases_and_objects_are_normalised() -> None:
    a = parse_activity({"type": "Create", "to": ["as:Public", {"id": "https://b.example/u/y"}], "cc": "Public"})
    assert a.to == (PUBLIC, "https://b.example/u/y")
    assert a.cc == (PUBLIC,)


def test_first_id_and_as_list() -> None:
    assert first_id("https://x") == "https://x"
    assert first_id({"id": "https://x"}) == "https://x"
    assert first_id({"type": "Link", "href": "https://h", "id": "https://link-id"}) == "https://h"
    assert first_id([None, 3, {"href": "https://h"}]) == "https://h"
    assert first_id([]) is None and first_id(None) is None and first_id({"type": "Note"}) is None
    assert as_list(None) == [] and as_list("a") == ["a"] and as_list(["a", "b"]) == ["a", "b"]


def test_json_depth_ok_is_iterative() -> None:
    assert json_depth_ok({"a": [1, {"b": 2}]}, 3)
    assert not json_depth_ok({"a": [1, {"b": 2}]}, 2)
    assert json_depth_ok("scalar", 0)
    deep: Any = []
    for _ in range(100_000):  # far beyond the recursion limit
        deep = [deep]
    assert not json_depth_ok(deep, 64)
    assert json_depth_ok(deep, 100_001)


# ---------------------------------------------------------------- refusals


def refused(func: Any, doc: Any) -> ParseError:
    with pytest.raises(ParseError) as info:
        func(doc)
    return info.value


@pytest.mark.parametrize("func", [parse_actor, parse_activity, parse_key_document])
def test_non_dict_input_is_refused(func: Any) -> None:
    assert refused(func, ["not", "an", "object"]).path == ""


def test_actor_without_id_is_refused() -> None:
    doc = load("mastodon-actor.json")
    del doc["id"]
    assert refused(parse_actor, doc).path == "id"


@pytest.mark.parametrize("bad_id", ["urn:uuid:1234", "acct:x@a.example", "/users/x", "https://"])
def test_non_http_actor_id_is_refused(bad_id: str) -> None:
    assert refused(parse_actor, minimal_actor(id=bad_id)).path == "id"


@pytest.mark.parametrize(
    ("field", "path"), [("id", "id"), ("inbox", "inbox"), ("endpoints", "endpoints.sharedInbox")]
)
def test_over_long_iris_are_refused(field: str, path: str) -> None:
    long_iri = "https://a.example/" + "x" * 2048
    value: Any = {"sharedInbox": long_iri} if field == "endpoints" else long_iri
    assert refused(parse_actor, minimal_actor(**{field: value})).path == path


def test_non_actor_type_is_refused() -> None:
    err = refused(parse_actor, minimal_actor(type="Note"))
    assert err.path == "type" and "Note" in err.message
    assert refused(parse_actor, {"id": "https://a.example/u/x"}).path == "type"


def test_unparseable_pem_is_refused_with_path() -> None:
    doc = load("mastodon-actor.json")
    doc["publicKey"]["publicKeyPem"] = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"
    assert refused(parse_actor, doc).path == "publicKey.publicKeyPem"


def test_bad_pem_in_key_list_names_its_index() -> None:
    good = load("mastodon-actor.json")["publicKey"]
    bad = copy.deepcopy(good) | {"id": good["id"] + "2", "publicKeyPem": "garbage"}
    assert refused(parse_actor, minimal_actor(publicKey=[good, bad])).path == "publicKey[1].publicKeyPem"


def test_missing_pem_and_non_http_key_id_are_refused() -> None:
    good = load("mastodon-actor.json")["publicKey"]
    no_pem = {k: v for k, v in good.items() if k != "publicKeyPem"}
    assert refused(parse_actor, minimal_actor(publicKey=no_pem)).path == "publicKey.publicKeyPem"
    assert refused(parse_actor, minimal_actor(publicKey=good | {"id": "main-key"})).path == "publicKey.id"


def test_unsupported_key_algorithm_is_refused() -> None:
    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    key = {"id": "https://a.example/u/x#k", "owner": "https://a.example/u/x", "publicKeyPem": ec_pem}
    err = refused(parse_actor, minimal_actor(publicKey=key))
    assert err.path == "publicKey.publicKeyPem" and "unsupported" in err.message


def b58btc(data: bytes) -> str:
    """Test-side base58btc encoder, to build malformed multikeys from bytes."""
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    num, out = int.from_bytes(data, "big"), ""
    while num:
        num, rem = divmod(num, 58)
        out = alphabet[rem] + out
    return "z" + "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def test_b58btc_helper_round_trips_through_the_reader() -> None:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    mk = {"id": "https://a.example/u/x#k", "publicKeyMultibase": b58btc(b"\xed\x01" + raw)}
    assert raw_ed25519(parse_actor(minimal_actor(assertionMethod=mk)).multikeys[0].public_key_pem) == raw


@pytest.mark.parametrize(
    ("multibase", "reason"),
    [
        ("u7QE", "base58btc"),
        ("z0OIl", "invalid base58 character"),
        (b58btc(b"\xed\x01" + b"\x01" * 31), "32 bytes"),
        (b58btc(b"\x85\x24" + b"\x30\x03\x02\x01\x01"), "RSA key does not parse"),
        (b58btc(b"\xe7\x01" + b"\x02" * 33), "unsupported multicodec 0xe7"),  # secp256k1
        ("z", "truncated"),
    ],
)
def test_bad_multikey_is_refused_with_path(multibase: str, reason: str) -> None:
    mk = {"id": "https://a.example/u/x#k", "type": "Multikey", "publicKeyMultibase": multibase}
    err = refused(parse_actor, minimal_actor(assertionMethod=[mk]))
    assert err.path == "assertionMethod[0].publicKeyMultibase"
    assert reason in err.message


def test_activity_refusals_name_the_field() -> None:
    assert refused(parse_activity, {"id": "https://a.example/1"}).path == "type"
    assert refused(parse_activity, {"type": "Follow", "actor": "javascript:alert(1)"}).path == "actor"
    assert refused(parse_activity, {"type": "Follow", "id": "x" * 3000}).path == "id"
    long_obj = {"type": "Note", "id": "https://a.example/" + "x" * 2048}
    assert refused(parse_activity, {"type": "Create", "object": long_obj}).path == "object.id"


def test_key_document_that_is_neither_actor_nor_key_is_refused() -> None:
    assert refused(parse_key_document, load("mastodon-follow.json")).path == "type"
