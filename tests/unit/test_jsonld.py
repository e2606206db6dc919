"""Offline JSON-LD: bundled contexts only, no network, tolerant expansion of peers' documents."""

from __future__ import annotations

import copy
import hashlib
import json
import socket

import pytest
import rdflib
from pyld import jsonld as pyld_jsonld
from pyld.jsonld import JsonLdError

from ssefed.vocab import jsonld
from ssefed.vocab.jsonld import (
    CONTEXTS,
    CONTEXTS_DIR,
    ContextNotBundled,
    document_loader,
    expand,
    to_rdf_graph,
    tolerant_document,
)
from tests.conftest import PEERS

AS = "https://www.w3.org/ns/activitystreams#"
SEC = "https://w3id.org/security#"
LDP_INBOX = "http://www.w3.org/ns/ldp#inbox"
PUBLIC = AS + "Public"

# sha256 of the bundled files: they are copies of published documents (see
# schemas/contexts/README.md) and must not be edited by hand.
BUNDLE_SHA256 = {
    "activitystreams.jsonld": "a27b78b82f4980963127140d0cb74f0e8f21c0e2b8efd0368232bf9823edff5a",
    "data-integrity-v1.jsonld": "40030a05470250336f7ba464531e52b77a717db818a68f4c2380222fa6f9600e",
    "data-integrity-v2.jsonld": "0f77743daf5b4e8fc067fc5ba5b21044283053aa717fc6b0219843bed3b00363",
    "did-v1.jsonld": "62c1054bf404d6dd3a4b26b64f830fd72095f6a26edc4469908c94351352ce5f",
    "identity-v1.jsonld": "2fb220687d1c092a957b53f7bb33743df609afda72961924a7efd16ca55e1a96",
    "multikey-v1.jsonld": "ba2c182de2d92f7e47184bcca8fcf0beaee6d3986c527bf664c195bbc7c58597",
    "security-v1.jsonld": "abaf97e107d1925503c433dcaf3ffd2831697cacc1ed2a293e1bc8030d5bcb47",
    "security-v2.jsonld": "611bd81151d5efe53ec9aed78f5a813e577287bc9451ee26d6879b1b8b46bc3b",
}


def load_fixture(name: str) -> dict:
    return json.loads((PEERS / name).read_text(encoding="utf-8"))


def values(node: dict, prop: str) -> list:
    return node.get(prop, [])


def only(node: dict, prop: str):
    vals = values(node, prop)
    assert len(vals) == 1, f"{prop}: {vals!r}"
    return vals[0]


def ids(node: dict, prop: str) -> list[str]:
    return [v["@id"] for v in values(node, prop)]


def top(expanded: list) -> dict:
    assert len(expanded) == 1
    return expanded[0]


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to resolve a name or open a connection is recorded and fails."""
    attempts: list[tuple] = []

    def refuse(name):
        def _refuse(*args, **kwargs):
            attempts.append((name, args))
            raise AssertionError(f"network I/O attempted: {name}{args!r}")
        return _refuse

    monkeypatch.setattr(socket.socket, "connect", refuse("socket.connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("socket.connect_ex"))
    monkeypatch.setattr(socket, "create_connection", refuse("socket.create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("socket.getaddrinfo"))
    return attempts


# --- the bundle ------------------------------------------------------------------


def test_bundle_files_are_the_pinned_copies():
    on_disk = {p.name for p in CONTEXTS_DIR.glob("*.jsonld")}
    assert on_disk == set(BUNDLE_SHA256)
    for name, digest in BUNDLE_SHA256.items():
        assert hashlib.sha256((CONTEXTS_DIR / name).read_bytes()).hexdigest() == digest, name


@pytest.mark.parametrize("path", sorted(set(CONTEXTS.values())), ids=lambda p: p.name)
def test_every_bundled_file_parses(path):
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(doc, dict) and "@context" in doc


def test_url_variants_are_accepted():
    for base, name in [
        ("www.w3.org/ns/activitystreams", "activitystreams.jsonld"),
        ("w3id.org/security/v1", "security-v1.jsonld"),
        ("w3id.org/security/v2", "security-v2.jsonld"),
        ("w3id.org/security/multikey/v1", "multikey-v1.jsonld"),
        ("w3id.org/security/data-integrity/v1", "data-integrity-v1.jsonld"),
        ("w3id.org/security/data-integrity/v2", "data-integrity-v2.jsonld"),
        ("www.w3.org/ns/did/v1", "did-v1.jsonld"),
        ("w3id.org/identity/v1", "identity-v1.jsonld"),
    ]:
        for scheme in ("https", "http"):
            for suffix in ("", ".jsonld"):
                assert CONTEXTS[f"{scheme}://{base}{suffix}"] == CONTEXTS_DIR / name
    assert all(path.is_file() for path in CONTEXTS.values())


@pytest.mark.parametrize("url", sorted(CONTEXTS))
def test_pyld_processes_a_tiny_doc_with_every_accepted_url(url, no_network):
    remote = document_loader(url)
    assert remote["documentUrl"] == url and remote["contextUrl"] is None
    assert remote["document"] == json.loads(CONTEXTS[url].read_text(encoding="utf-8"))
    out = expand({"@context": url, "@id": "https://example.test/thing", "@type": "https://example.test/T"})
    assert out == [{"@id": "https://example.test/thing", "@type": ["https://example.test/T"]}]
    assert no_network == []


TERM_CASES = [
    ("https://www.w3.org/ns/activitystreams", {"type": "Note", "content": "hi"}, AS + "content", AS + "Note"),
    ("https://w3id.org/security/v1", {"type": "CryptographicKey", "publicKeyPem": "pem"},
     SEC + "publicKeyPem", SEC + "Key"),
    # v2 imports v1 by URL: the loader must serve that too.
    ("https://w3id.org/security/v2", {"type": "Ed25519Signature2018", "publicKeyPem": "pem"},
     SEC + "publicKeyPem", SEC + "Ed25519Signature2018"),
    ("https://w3id.org/security/multikey/v1", {"type": "Multikey", "publicKeyMultibase": "z6Mk"},
     SEC + "publicKeyMultibase", SEC + "Multikey"),
    ("https://w3id.org/security/data-integrity/v1", {"type": "DataIntegrityProof", "cryptosuite": "eddsa-jcs-2022"},
     SEC + "cryptosuite", SEC + "DataIntegrityProof"),
    ("https://w3id.org/security/data-integrity/v2", {"type": "DataIntegrityProof", "proofValue": "z58"},
     SEC + "proofValue", SEC + "DataIntegrityProof"),
    ("https://www.w3.org/ns/did/v1", {"type": "https://example.test/T", "controller": "https://example.test/c"},
     SEC + "controller", "https://example.test/T"),
    ("https://w3id.org/identity/v1", {"type": "Identity", "publicKeyPem": "pem"},
     SEC + "publicKeyPem", "https://w3id.org/identity#Identity"),
]


@pytest.mark.parametrize("url,body,prop,type_", TERM_CASES, ids=[c[0] for c in TERM_CASES])
def test_each_context_defines_its_terms(url, body, prop, type_, no_network):
    node = top(expand({"@context": url, "id": "https://example.test/x", **body}))
    assert node["@type"] == [type_]
    assert prop in node
    assert no_network == []


def test_multikey_value_is_typed_multibase():
    node = top(expand({"@context": "https://w3id.org/security/multikey/v1", "type": "Multikey",
                       "publicKeyMultibase": "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"}))
    assert only(node, SEC + "publicKeyMultibase") == {
        "@type": SEC + "multibase", "@value": "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"}


def test_loader_returns_a_fresh_copy():
    first = document_loader("https://www.w3.org/ns/activitystreams")["document"]
    first["@context"]["Note"] = "mutated"
    assert document_loader("https://www.w3.org/ns/activitystreams")["document"]["@context"]["Note"] == "as:Note"


# --- refusal without network -------------------------------------------------------


@pytest.mark.parametrize("url", [
    "https://gotosocial.org/ns",
    "http://joinmastodon.org/ns",
    "https://purl.archive.org/socialweb/webfinger",
    "https://join-lemmy.org/context.json",
    "https://www.w3.org/ns/activitystreams#",  # not a spelling we accept
    "http://127.0.0.1:9/context.jsonld",
])
def test_loader_refuses_unknown_urls_without_network(url, no_network):
    with pytest.raises(ContextNotBundled) as info:
        document_loader(url, {})
    assert isinstance(info.value, JsonLdError)
    assert info.value.code == "loading document failed"
    assert info.value.url == url
    assert no_network == []


def test_strict_expand_refuses_unknown_context_without_network(no_network):
    doc = {"@context": ["https://www.w3.org/ns/activitystreams", "https://gotosocial.org/ns"],
           "type": "Note", "content": "x"}
    with pytest.raises(ContextNotBundled) as info:
        expand(doc)
    assert info.value.url == "https://gotosocial.org/ns"
    with pytest.raises(ContextNotBundled):
        to_rdf_graph(doc)
    assert no_network == []


def test_no_network_guard_catches_what_a_fetching_loader_would_do(no_network):
    """Self-check of the guard: pyld's own requests loader is caught before any I/O."""
    pytest.importorskip("requests")
    with pytest.raises(JsonLdError):
        pyld_jsonld.expand({"@context": "https://example.invalid/ctx", "a": 1},
                           {"documentLoader": pyld_jsonld.requests_document_loader(timeout=1)})
    assert no_network, "the guard did not see the fetching loader's connection attempt"


def test_pyld_with_our_loader_never_falls_back_to_its_default(no_network):
    """Even called through pyld directly, the loader is the only thing consulted."""
    with pytest.raises(JsonLdError):
        pyld_jsonld.expand({"@context": "https://example.invalid/ctx", "a": 1},
                           {"documentLoader": document_loader})
    assert no_network == []


def test_strict_expand_of_gotosocial_actor_fails():
    with pytest.raises(ContextNotBundled):
        expand(load_fixture("gotosocial-actor.json"))


# --- tolerant expansion of real peers' documents ------------------------------------


def test_mastodon_actor(no_network):
    doc = load_fixture("mastodon-actor.json")
    before = copy.deepcopy(doc)
    actor = top(expand(tolerant_document(doc)))
    assert doc == before  # input untouched
    base = "https://masto.qa.urbanwildlife.biz/users/mastodon"
    assert actor["@id"] == base
    assert actor["@type"] == [AS + "Person"]
    assert ids(actor, LDP_INBOX) == [base + "/inbox"]
    assert ids(actor, AS + "outbox") == [base + "/outbox"]
    assert ids(actor, "http://joinmastodon.org/ns#featured") == [base + "/collections/featured"]
    assert only(actor, AS + "manuallyApprovesFollowers") == {"@value": False}
    assert ids(only(actor, AS + "endpoints"), AS + "sharedInbox") == ["https://masto.qa.urbanwildlife.biz/inbox"]
    key = only(actor, SEC + "publicKey")
    assert key["@id"] == base + "#main-key"
    assert ids(key, SEC + "owner") == [base]
    pem = only(key, SEC + "publicKeyPem")["@value"]
    assert pem.startswith("-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAtBdE55VmV9gTrhJmRF1K\n")
    assert only(actor, AS + "published") == {"@type": "http://www.w3.org/2001/XMLSchema#dateTime",
                                             "@value": "2022-10-03T00:00:00Z"}
    assert no_network == []


def test_mastodon_create_note(no_network):
    create = top(expand(tolerant_document(load_fixture("mastodon-create-note.json"))))
    assert create["@type"] == [AS + "Create"]
    assert ids(create, AS + "actor") == ["https://mastodon.madrid/users/felix"]
    assert ids(create, AS + "to") == ["https://mastodon.madrid/users/felix/followers"]
    assert ids(create, AS + "cc") == [PUBLIC, "https://mamot.fr/users/retiolus"]
    note = only(create, AS + "object")
    assert note["@id"] == "https://mastodon.madrid/users/felix/statuses/107224289116410645"
    assert note["@type"] == [AS + "Note"]
    assert ids(note, AS + "inReplyTo") == ["https://mamot.fr/users/retiolus/statuses/107224244380204526"]
    contents = values(note, AS + "content")
    assert any("never been disappointed" in c["@value"] and "@language" not in c for c in contents)
    assert any(c.get("@language") == "en" and "neverbeendisappointed" in c["@value"] for c in contents)
    # declared inline: ostatus:atomUri
    assert only(note, "http://ostatus.org#atomUri")["@value"].endswith("/statuses/107224289116410645")
    # used but never declared: plain JSON under the AS "@vocab": "_:"
    assert only(note, "_:sensitive") == {"@value": False}
    assert no_network == []


def test_gotosocial_actor_unknown_context_dropped(no_network):
    actor = top(expand(tolerant_document(load_fixture("gotosocial-actor.json"))))
    base = "http://localhost:8080/users/1happyturtle"
    assert actor["@id"] == base and actor["@type"] == [AS + "Person"]
    assert ids(actor, LDP_INBOX) == [base + "/inbox"]
    key = only(actor, SEC + "publicKey")
    assert key["@id"] == base + "#main-key"
    assert only(key, SEC + "publicKeyPem")["@value"].startswith("-----BEGIN PUBLIC KEY-----\n")
    fields = values(actor, AS + "attachment")
    assert [f["@type"] for f in fields] == [["http://schema.org#PropertyValue"]] * 2
    assert [only(f, "http://schema.org#value")["@value"] for f in fields] == ["maybe!", "120"]
    assert only(actor, AS + "manuallyApprovesFollowers") == {"@value": True}
    # only the dropped gotosocial.org/ns defined these: plain JSON now
    assert only(actor, "_:hidesCcPublicFromUnauthedWeb") == {"@value": True}
    assert no_network == []


def test_fedify_actor_multikey(no_network):
    actor = top(expand(tolerant_document(load_fixture("fedify-actor-multikey.json"))))
    assert actor["@type"] == [AS + "Person"]
    assert ids(actor, LDP_INBOX) == ["https://server.example/users/alice/inbox"]
    key = only(actor, SEC + "assertionMethod")
    assert key["@id"] == "https://server.example/users/alice#ed25519-key"
    assert key["@type"] == [SEC + "Multikey"]
    assert ids(key, SEC + "controller") == ["https://server.example/users/alice"]
    assert only(key, SEC + "publicKeyMultibase") == {
        "@type": SEC + "multibase", "@value": "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"}
    # every context of this actor is bundled: strict expansion agrees
    assert expand(load_fixture("fedify-actor-multikey.json")) == [actor]
    assert no_network == []


def test_mitra_actor_multikey(no_network):
    actor = top(expand(tolerant_document(load_fixture("mitra-actor-multikey.json"))))
    base = "https://wizard.casa/users/hongminhee"
    assert actor["@id"] == base
    assert ids(actor, LDP_INBOX) == [base + "/inbox"]
    keys = {k["@id"]: k for k in values(actor, SEC + "assertionMethod")}
    assert set(keys) == {base + "#main-key", base + "#ed25519-key"}
    assert all(k["@type"] == [SEC + "Multikey"] for k in keys.values())
    assert only(keys[base + "#ed25519-key"], SEC + "publicKeyMultibase") == {
        "@type": SEC + "multibase", "@value": "z6MkweqJajqa5jRAJTBVxxu47oCdB7HzmYbBKN8VGbFJmKkC"}
    assert only(keys[base + "#main-key"], SEC + "publicKeyMultibase")["@value"].startswith("z4MXj1")
    # did/v1 maps "authentication" to sec:authenticationMethod
    assert {k["@id"] for k in values(actor, SEC + "authenticationMethod")} == set(keys)
    rsa = only(actor, SEC + "publicKey")
    assert rsa["@id"] == base + "#main-key"
    assert only(rsa, SEC + "publicKeyPem")["@value"].startswith("-----BEGIN PUBLIC KEY-----")
    # "subscribers": "mitra:subscribers" has no "@type": "@id": a string value
    assert only(actor, "http://jsonld.mitra.social#subscribers") == {"@value": base + "/subscribers"}
    assert no_network == []


def test_fep0837_proposal_inline_valueflows_terms(no_network):
    proposal = top(expand(tolerant_document(load_fixture("fep0837-proposal-offer-full.json"))))
    vf = "https://w3id.org/valueflows/ont/vf#"
    om2 = "http://www.ontology-of-units-of-measure.org/resource/om-2/"
    assert proposal["@type"] == [vf + "Proposal"]
    assert only(proposal, vf + "purpose") == {"@value": "offer"}
    assert only(proposal, vf + "unitBased") == {"@value": False}
    assert ids(proposal, AS + "to") == [PUBLIC]
    primary = only(proposal, vf + "publishes")
    assert primary["@id"].endswith("#primary") and primary["@type"] == [vf + "Intent"]
    assert only(primary, vf + "action") == {"@value": "transfer"}
    quantity = only(primary, vf + "resourceQuantity")
    assert only(quantity, om2 + "hasUnit") == {"@value": "one"}
    assert only(quantity, om2 + "hasNumericalValue") == {"@value": "1"}
    reciprocal = only(proposal, vf + "reciprocal")
    assert only(only(reciprocal, vf + "resourceQuantity"), om2 + "hasNumericalValue") == {"@value": "30"}
    place = only(proposal, AS + "location")
    assert place["@type"] == [AS + "Place"]
    assert only(place, AS + "latitude")["@value"] == 25.0
    assert no_network == []


def test_lemmy_group_without_context_is_plain_activitystreams(no_network):
    doc = load_fixture("lemmy-group.json")
    assert "@context" not in doc
    group = top(expand(tolerant_document(doc)))
    assert "@context" not in doc  # not added to the caller's dict
    assert group["@id"] == "https://enterprise.lemmy.ml/c/tenforward"
    assert group["@type"] == [AS + "Group"]
    assert ids(group, LDP_INBOX) == ["https://enterprise.lemmy.ml/c/tenforward/inbox"]
    assert ids(group, AS + "outbox") == ["https://enterprise.lemmy.ml/c/tenforward/outbox"]
    assert only(group, AS + "name") == {"@value": "Ten Forward"}
    assert ids(only(group, AS + "endpoints"), AS + "sharedInbox") == ["https://enterprise.lemmy.ml/inbox"]
    # without security/v1 the key is plain JSON, not a sec:publicKey
    assert SEC + "publicKey" not in group and "_:publicKey" in group
    assert no_network == []


def test_tolerant_drops_unknown_urls_everywhere(no_network):
    doc = {
        "@context": [
            "https://gotosocial.org/ns",
            {"@import": "https://example.invalid/import", "schema": "http://schema.org#",
             "PropertyValue": "schema:PropertyValue",
             "Scoped": {"@id": "https://example.test/Scoped",
                        "@context": ["https://example.invalid/scoped", {"v": "schema:value"}]}},
            "https://w3id.org/security/v1",
        ],
        "type": "Note",
        "id": "https://example.test/n",
        "attachment": {"type": "PropertyValue", "value": "x"},
        "tag": {"@context": "http://joinmastodon.org/ns", "type": "Hashtag", "name": "#x"},
        "scoped": {"type": "Scoped", "v": "y"},
    }
    node = top(expand(tolerant_document(doc)))
    assert node["@type"] == [AS + "Note"]
    assert only(node, AS + "attachment")["@type"] == ["http://schema.org#PropertyValue"]
    assert only(only(node, AS + "tag"), AS + "name") == {"@value": "#x"}
    assert no_network == []


# --- RDF ---------------------------------------------------------------------


def test_to_rdf_graph_strict_and_tolerant(no_network):
    g = to_rdf_graph(load_fixture("fedify-actor-multikey.json"))
    alice = rdflib.URIRef("https://server.example/users/alice")
    key = rdflib.URIRef("https://server.example/users/alice#ed25519-key")
    assert (alice, rdflib.RDF.type, rdflib.URIRef(AS + "Person")) in g
    assert (alice, rdflib.URIRef(LDP_INBOX), rdflib.URIRef("https://server.example/users/alice/inbox")) in g
    assert (alice, rdflib.URIRef(SEC + "assertionMethod"), key) in g
    assert (key, rdflib.URIRef(SEC + "publicKeyMultibase"),
            rdflib.Literal("z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2",
                           datatype=rdflib.URIRef(SEC + "multibase"))) in g

    g2 = to_rdf_graph(tolerant_document(load_fixture("mastodon-actor.json")))
    actor = rdflib.URIRef("https://masto.qa.urbanwildlife.biz/users/mastodon")
    assert (actor, rdflib.URIRef(AS + "preferredUsername"), rdflib.Literal("mastodon")) in g2
    assert (actor, rdflib.URIRef(AS + "manuallyApprovesFollowers"), rdflib.Literal(False)) in g2
    pems = list(g2.objects(rdflib.URIRef("https://masto.qa.urbanwildlife.biz/users/mastodon#main-key"),
                           rdflib.URIRef(SEC + "publicKeyPem")))
    assert len(pems) == 1 and str(pems[0]).startswith("-----BEGIN PUBLIC KEY-----")
    # blank-node predicates (undeclared terms under "@vocab": "_:") are not RDF
    assert all(isinstance(p, rdflib.URIRef) for p in g2.predicates())
    assert no_network == []


def test_module_surface():
    assert jsonld.AS_CONTEXT in CONTEXTS
    assert issubclass(ContextNotBundled, Exception)
