"""Object integrity proofs (federation/proofs.py, FEP-8b32 eddsa-jcs-2022) against the
published test vectors (FEP-8b32, W3C vc-di-eddsa, Fedify's), real Mitra documents, an
independent implementation (apsig), and every way a signed document can be changed."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import rfc8785
from apsig import ProofSigner, ProofVerifier
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from ssefed.federation.proofs import (DATA_INTEGRITY_CONTEXT, ProofFailure, sign_object,
                                      verify_object, with_integrity_context)
from ssefed.vocab import jsonld, to_as
from ssefed.vocab.multibase import b58decode, b58encode, decode_multikey, ed25519_multibase
from tests.conftest import FIXTURES, PEERS

OURS = FIXTURES / "proofs"
VECTOR_TIME = datetime(2023, 2, 24, 23, 36, 38, tzinfo=timezone.utc)
ALICE_KEY = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"  # FEP-8b32 and W3C test key


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def secret_pem(multibase: str) -> str:
    """A multibase Ed25519 secret key (multicodec 0x1300, as the vectors give it) as PEM."""
    raw = b58decode(multibase[1:])
    assert raw[:2] == b"\x80\x26" and len(raw) == 34
    key = ed25519.Ed25519PrivateKey.from_private_bytes(raw[2:])
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def public_pem(multibase: str) -> str:
    kind, pem = decode_multikey(multibase)
    assert kind == "ed25519"
    return pem


def new_pair() -> tuple[str, str]:
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


def unsigned(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k != "proof"}


# --- published vectors ------------------------------------------------------------------


def vectors() -> list[tuple[str, dict, str, str]]:
    """(name, signed document, secret key multibase, public key multibase)."""
    test_key = load(PEERS / "fep8b32-test-key.json")
    fep_v2 = load(OURS / "fep8b32-feature-data-integrity-v2.json")
    w3c = load(OURS / "vc-di-eddsa-jcs-2022.json")
    return [
        ("fep-8b32 data-integrity/v1", load(PEERS / "fedify-create-eddsa-jcs-2022.json"),
         test_key["ed25519_secret_key_multibase"], test_key["ed25519_public_key_multibase"]),
        ("fep-8b32 data-integrity/v2", fep_v2["signed"], fep_v2["secretKeyMultibase"],
         fep_v2["actor"]["assertionMethod"][0]["publicKeyMultibase"]),
        ("vc-di-eddsa eddsa-jcs-2022", w3c["signed"], w3c["privateKeyMultibase"],
         w3c["publicKeyMultibase"]),
    ]


@pytest.mark.parametrize(("name", "signed", "secret", "public"), vectors(),
                         ids=[v[0] for v in vectors()])
def test_published_vector_verifies_and_signing_reproduces_it_byte_for_byte(
        name, signed, secret, public) -> None:
    check = verify_object(signed, public_pem(public), now=VECTOR_TIME)
    assert check.ok, str(check)
    assert check.verification_method == signed["proof"]["verificationMethod"]
    assert check.created == "2023-02-24T23:36:38Z"
    again = sign_object(unsigned(signed), secret_pem(secret),
                        signed["proof"]["verificationMethod"], created=VECTOR_TIME)
    assert again == signed  # Ed25519 is deterministic: the same proofValue
    assert json.dumps(again["proof"]["proofValue"]) == json.dumps(signed["proof"]["proofValue"])


def test_fep_vector_actor_lists_the_key_that_verifies() -> None:
    fep_v2 = load(OURS / "fep8b32-feature-data-integrity-v2.json")
    method = fep_v2["actor"]["assertionMethod"][0]
    assert method["id"] == fep_v2["signed"]["proof"]["verificationMethod"] == fep_v2["keyId"]
    assert ed25519_multibase(public_pem(method["publicKeyMultibase"])) == ALICE_KEY


def test_each_proof_of_fedifys_proof_set_verifies_with_its_own_key() -> None:
    doc = load(PEERS / "fedify-create-eddsa-jcs-2022-two-proofs.json")
    alice = verify_object(doc, public_pem(ALICE_KEY))
    assert alice.ok and alice.verification_method.endswith("/users/alice#ed25519-key")
    person2 = verify_object(doc, public_pem("z6MkhVPuyvgG1RkMv67azDqDCDERPXVrUg1i3qchXY5EACE3"),
                            verification_method="https://example.com/person2#key4")
    assert person2.ok, str(person2)
    wrong = verify_object(doc, public_pem(ALICE_KEY),
                          verification_method="https://example.com/person2#key4")
    assert wrong.reason is ProofFailure.BAD_SIGNATURE


# --- real Mitra documents ---------------------------------------------------------------


def test_mitra_proof_without_context_and_with_nanoseconds_is_read_up_to_the_signature() -> None:
    """Mitra's proofs carry no @context and a nanosecond ``created``: both accepted. Mitra's
    key is not published with the document, so only a key check can fail it."""
    doc = load(PEERS / "mitra-accept-follow-proof.json")
    _, other = new_pair()
    check = verify_object(doc, other, now=datetime(2026, 6, 26, 12, tzinfo=timezone.utc))
    assert check.reason is ProofFailure.BAD_SIGNATURE
    assert "mitra.social/users/localtestgroup#ed25519-key" in check.detail


def test_mitra_excerpt_with_a_truncated_proof_value_is_malformed() -> None:
    doc = load(PEERS / "mitra-like-proof-excerpt.json")
    check = verify_object(doc, public_pem(ALICE_KEY))
    assert check.reason is ProofFailure.MALFORMED_PROOF_VALUE


def test_a_mitra_style_proof_without_context_verifies() -> None:
    """A proof made as Mitra makes it: no @context in the proof options, and the hash of
    the options and of the document written out here from the spec's formula."""
    key = ed25519.Ed25519PrivateKey.generate()
    doc = unsigned(load(PEERS / "mitra-accept-follow-proof.json"))
    options = {"type": "DataIntegrityProof", "cryptosuite": "eddsa-jcs-2022",
               "verificationMethod": "https://mitra.social/users/localtestgroup#ed25519-key",
               "proofPurpose": "assertionMethod", "created": "2026-06-26T11:17:11.483620610Z"}
    data = (hashlib.sha256(rfc8785.dumps(options)).digest()
            + hashlib.sha256(rfc8785.dumps(doc)).digest())
    signed = {**doc, "proof": {**options, "proofValue": "z" + b58encode(key.sign(data))}}
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    check = verify_object(signed, public, now=datetime(2026, 6, 26, 12, tzinfo=timezone.utc))
    assert check.ok, str(check)
    assert check.created == "2026-06-26T11:17:11.483620610Z"


# --- round trip, an independent implementation -------------------------------------------


ENDORSEMENT = {
    "@context": to_as.ACTIVITY_CONTEXT,
    "id": "https://c.example/actors/ferme/endorsements/1",
    "type": "Note",
    "attributedTo": "https://c.example/actors/ferme",
    "content": "<p>Le Moulin des Combes nous fournit depuis 2019.</p>",
    "object": "https://a.example/actors/moulin",
    "to": [to_as.PUBLIC],
    "published": "2025-03-01T10:00:00Z",
    "location": {"type": "Place", "latitude": 45.1, "longitude": 5.7},
}
KEY_ID = "https://c.example/actors/ferme#ed25519-key"


@pytest.fixture
def pair() -> tuple[str, str]:
    return new_pair()


@pytest.fixture
def signed(pair) -> dict:
    return sign_object(ENDORSEMENT, pair[0], KEY_ID, created=datetime.now(timezone.utc))


def test_round_trip_adds_the_data_integrity_context_and_verifies(pair, signed) -> None:
    assert signed["@context"] == [to_as.AS_CONTEXT, to_as.SECURITY_CONTEXT,
                                  DATA_INTEGRITY_CONTEXT, to_as.INLINE_TERMS]
    assert signed["proof"]["@context"] == signed["@context"]
    assert {k: signed["proof"][k] for k in ("type", "cryptosuite", "proofPurpose",
                                            "verificationMethod")} == {
        "type": "DataIntegrityProof", "cryptosuite": "eddsa-jcs-2022",
        "proofPurpose": "assertionMethod", "verificationMethod": KEY_ID}
    assert signed["proof"]["proofValue"].startswith("z")
    assert "proof" not in ENDORSEMENT and ENDORSEMENT["@context"] is to_as.ACTIVITY_CONTEXT
    assert verify_object(signed, pair[1]).ok


def test_signed_document_is_the_same_linked_data_with_bundled_contexts_only(signed) -> None:
    before = jsonld.to_rdf_graph(ENDORSEMENT)
    after = jsonld.to_rdf_graph(signed)  # strict: an unbundled context would raise
    # the same statements, plus the link to the proof, whose own graph is apart
    assert len(after) == len(before) + 1 and len(before) > 0
    extra = set(map(str, after.predicates())) - set(map(str, before.predicates()))
    assert extra == {"https://w3id.org/security#proof"}


def test_apsig_verifies_our_proof_and_we_verify_apsigs(pair, signed) -> None:
    public = serialization.load_pem_public_key(pair[1].encode())
    assert ProofVerifier(public).verify_proof(copy.deepcopy(signed)) == KEY_ID
    private = serialization.load_pem_private_key(pair[0].encode(), None)
    doc = {**ENDORSEMENT, "@context": with_integrity_context(ENDORSEMENT["@context"])}
    theirs = ProofSigner(private).sign(doc, {
        "type": "DataIntegrityProof", "cryptosuite": "eddsa-jcs-2022",
        "verificationMethod": KEY_ID, "proofPurpose": "assertionMethod",
        "created": "2025-03-01T10:00:00Z"})
    assert verify_object(theirs, pair[1]).ok


@pytest.mark.parametrize(("context", "expected"), [
    (None, [to_as.AS_CONTEXT, DATA_INTEGRITY_CONTEXT]),
    (to_as.AS_CONTEXT, [to_as.AS_CONTEXT, DATA_INTEGRITY_CONTEXT]),
    ([to_as.AS_CONTEXT, "https://w3id.org/security/data-integrity/v1"],
     [to_as.AS_CONTEXT, "https://w3id.org/security/data-integrity/v1"]),
    (to_as.OFFER_CONTEXT, [to_as.AS_CONTEXT, DATA_INTEGRITY_CONTEXT, to_as.OFFER_TERMS]),
    ({"name": "as:name"}, [DATA_INTEGRITY_CONTEXT, {"name": "as:name"}]),
])
def test_data_integrity_context_is_added_only_when_missing(context, expected) -> None:
    assert with_integrity_context(context) == expected


def test_an_ld_signature_added_after_the_proof_is_ignored(pair, signed) -> None:
    signed["signature"] = {"type": "RsaSignature2017", "creator": KEY_ID,
                           "created": "2025-03-01T10:00:00Z", "signatureValue": "abc"}
    assert verify_object(signed, pair[1]).ok


# --- what breaks a proof ------------------------------------------------------------------


def _set(path: str, value):
    def change(doc: dict) -> None:
        *parents, last = path.split(".")
        node = doc
        for name in parents:
            node = node[name]
        if value is KeyError:
            del node[last]
        else:
            node[last] = value
    return change


@pytest.mark.parametrize(("change", "reason"), [
    (_set("content", "<p>Le Moulin nous fournit depuis 2015.</p>"), ProofFailure.BAD_SIGNATURE),
    (_set("object", "https://a.example/actors/autre"), ProofFailure.BAD_SIGNATURE),
    (_set("attributedTo", "https://a.example/actors/moulin"), ProofFailure.BAD_SIGNATURE),
    (_set("location.latitude", 45.2), ProofFailure.BAD_SIGNATURE),
    (_set("to", []), ProofFailure.BAD_SIGNATURE),
    (_set("published", KeyError), ProofFailure.BAD_SIGNATURE),
    (_set("summary", "added"), ProofFailure.BAD_SIGNATURE),
    (_set("proof.created", "2025-03-01T10:00:01Z"), ProofFailure.BAD_SIGNATURE),
    (_set("proof.created", KeyError), ProofFailure.BAD_SIGNATURE),
    (_set("proof.verificationMethod", "https://c.example/actors/ferme#other"),
     ProofFailure.BAD_SIGNATURE),
    (_set("proof.expires", "2999-01-01T00:00:00Z"), ProofFailure.BAD_SIGNATURE),
    (_set("@context", [to_as.AS_CONTEXT, DATA_INTEGRITY_CONTEXT]), ProofFailure.CONTEXT_MISMATCH),
    (_set("@context", KeyError), ProofFailure.CONTEXT_MISMATCH),
    (_set("proof.@context", [to_as.AS_CONTEXT]), ProofFailure.CONTEXT_MISMATCH),
    (_set("proof.proofPurpose", "authentication"), ProofFailure.WRONG_PURPOSE),
    (_set("proof.proofValue", "z5djAdMSrV..."), ProofFailure.MALFORMED_PROOF_VALUE),
    (_set("proof.proofValue", "uBASE64"), ProofFailure.MALFORMED_PROOF_VALUE),
    (_set("proof.proofValue", "z" + "2" * 85), ProofFailure.MALFORMED_PROOF_VALUE),
    (_set("proof.proofValue", KeyError), ProofFailure.MALFORMED_PROOF_VALUE),
    (_set("proof.created", "yesterday"), ProofFailure.MALFORMED),
    (_set("proof.verificationMethod", KeyError), ProofFailure.MALFORMED),
    (_set("proof.cryptosuite", "jcs-eddsa-2022"), ProofFailure.UNSUPPORTED_CRYPTOSUITE),
    (_set("proof.cryptosuite", "eddsa-rdfc-2022"), ProofFailure.UNSUPPORTED_CRYPTOSUITE),
    (_set("proof.cryptosuite", KeyError), ProofFailure.UNSUPPORTED_CRYPTOSUITE),
    (_set("proof.type", "Ed25519Signature2020"), ProofFailure.UNSUPPORTED_TYPE),
    (_set("proof", KeyError), ProofFailure.NO_PROOF),
    (_set("proof", []), ProofFailure.NO_PROOF),
    (_set("proof", "z3sXax"), ProofFailure.MALFORMED),
    (_set("count", 2**60), ProofFailure.NOT_CANONICAL),  # beyond I-JSON: no canonical form
])
def test_any_change_breaks_the_proof_with_its_reason(pair, signed, change, reason) -> None:
    change(signed)
    check = verify_object(signed, pair[1])
    assert not check.ok and check.reason is reason, str(check)
    assert str(check).startswith(reason.value)


def test_changing_the_context_in_both_places_still_breaks_the_signature(pair, signed) -> None:
    other = [to_as.AS_CONTEXT, DATA_INTEGRITY_CONTEXT]
    signed["@context"] = signed["proof"]["@context"] = other
    assert verify_object(signed, pair[1]).reason is ProofFailure.BAD_SIGNATURE


def test_another_ed25519_key_does_not_verify(signed) -> None:
    check = verify_object(signed, new_pair()[1])
    assert check.reason is ProofFailure.BAD_SIGNATURE
    assert KEY_ID in check.detail


def test_an_rsa_key_is_refused_as_a_key(signed) -> None:
    rsa_pem = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key() \
        .public_bytes(serialization.Encoding.PEM,
                      serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    assert verify_object(signed, rsa_pem).reason is ProofFailure.INVALID_KEY
    assert verify_object(signed, "not a PEM").reason is ProofFailure.INVALID_KEY


def test_created_in_the_future_is_refused_beyond_the_clock_window(pair) -> None:
    now = datetime(2025, 3, 1, 10, tzinfo=timezone.utc)
    soon = sign_object(ENDORSEMENT, pair[0], KEY_ID, created=now + timedelta(minutes=5))
    assert verify_object(soon, pair[1], now=now, window_seconds=600).ok
    late = sign_object(ENDORSEMENT, pair[0], KEY_ID, created=now + timedelta(hours=2))
    check = verify_object(late, pair[1], now=now, window_seconds=3600)
    assert check.reason is ProofFailure.CREATED_IN_FUTURE
    assert verify_object(late, pair[1], now=now + timedelta(hours=2)).ok


def test_signing_refuses_a_signed_document_a_non_ed25519_key_and_non_json_numbers(
        pair, signed) -> None:
    with pytest.raises(ValueError, match="already carries a proof"):
        sign_object(signed, pair[0], KEY_ID, created=VECTOR_TIME)
    rsa_private = rsa.generate_private_key(public_exponent=65537, key_size=1024).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    with pytest.raises(ValueError, match="Ed25519"):
        sign_object(ENDORSEMENT, rsa_private, KEY_ID, created=VECTOR_TIME)
    with pytest.raises(ValueError, match="canonicalised"):
        sign_object({**ENDORSEMENT, "count": 2**60}, pair[0], KEY_ID, created=VECTOR_TIME)
