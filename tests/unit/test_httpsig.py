"""HTTP signatures (draft-cavage-12 as Mastodon speaks it, RFC 9421): published test vectors,
a real Mastodon request, round trips, typed refusals, and two independent implementations
(http-message-signatures for RFC 9421, apsig for draft-cavage)."""

from __future__ import annotations

import base64
import dataclasses
import json
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import http_sf
import http_message_signatures as hms  # the `test` extra: an independent RFC 9421 implementation
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from multidict import CIMultiDict

from ssefed.domain.keys import KeyPair, generate
from ssefed.federation import httpsig as hs
from tests.conftest import PEERS

F = hs.Failure
URL = "https://node.example/inbox"
BODY = b'{"type":"Follow","actor":"https://peer.example/users/a"}'
T0 = datetime(2025, 1, 25, 23, 43, 24, tzinfo=timezone.utc)


def load(name: str) -> Any:
    return json.loads((PEERS / name).read_text(encoding="utf-8"))


def parse_http(text: str) -> tuple[str, str, list[tuple[str, str]], bytes]:
    """Split an HTTP/1.1 message as printed in the specs (LF line ends)."""
    head, _, body = text.partition("\n\n")
    start, *lines = head.split("\n")
    method, target, _ = start.split(" ")
    headers = [(n.strip(), v.strip()) for n, _, v in (line.partition(":") for line in lines)]
    return method, target, headers, body.encode()


def refused(reason: hs.Failure, fn: Any, *args: Any, **kwargs: Any) -> hs.VerificationError:
    with pytest.raises(hs.VerificationError) as exc:
        fn(*args, **kwargs)
    assert exc.value.reason is reason, exc.value
    return exc.value


def check(method: str, url: str, headers: Any, body: bytes | None, pem: str, **kw: Any) -> None:
    hs.verify(hs.parse_signature(method, url, headers), method, url, headers, body, pem, **kw)


@pytest.fixture(scope="module")
def rsa_key() -> KeyPair:
    return generate("rsa")


@pytest.fixture(scope="module")
def other_rsa_key() -> KeyPair:
    return generate("rsa")


@pytest.fixture(scope="module", params=["rsa", "ed25519"])
def key(request: pytest.FixtureRequest, rsa_key: KeyPair) -> KeyPair:
    return rsa_key if request.param == "rsa" else generate("ed25519")


SIGNERS = {"cavage": hs.sign_cavage, "rfc9421": hs.sign_rfc9421}


def signed(spec: str, key: KeyPair, method: str = "POST", body: bytes | None = BODY,
           now: datetime = T0, url: str = URL, **kw: Any) -> dict[str, str]:
    headers = {"Content-Type": "application/activity+json", "Accept": "application/activity+json"}
    headers.update(SIGNERS[spec](method, url, headers, body, "https://node.example/actor#main-key",
                                 key.private_pem, now, **kw))
    return headers


# --- draft-cavage-12 Appendix C ----------------------------------------------------------

CAVAGE = load("draft-cavage-12-test-vectors.json")
C_METHOD, C_TARGET, C_HEADERS, C_BODY = parse_http(CAVAGE["request"])
C_URL = "https://example.com" + C_TARGET
C_NOW = parsedate_to_datetime(dict(C_HEADERS)["Date"])


def cavage_authorization(example: dict[str, Any]) -> str:
    return "".join(example["authorization_printed"]).removeprefix("Authorization: ")


@pytest.mark.parametrize("index", [0, 1], ids=["C.1", "C.2"])
def test_cavage_vectors_verify(index: int) -> None:
    example = CAVAGE["examples"][index]
    if index == 0:
        assert example["signature_header"] == cavage_authorization(example).removeprefix("Signature ")
    for extra in (("Authorization", cavage_authorization(example)),
                  ("Signature", cavage_authorization(example).removeprefix("Signature "))):
        headers = CIMultiDict(C_HEADERS + [extra])
        info = hs.parse_signature(C_METHOD, C_URL, headers)
        assert (info.spec, info.key_id, info.algorithm) == ("cavage", "Test", "rsa-sha256")
        assert hs.signature_base(info, C_METHOD, C_URL, headers) == example["signing_string"].encode()
        hs.verify(info, C_METHOD, C_URL, headers, C_BODY, CAVAGE["key"]["public_key_pem"],
                  require_policy=False)
        # C.1 does not sign (request-target) nor host: not enough for an inbox.
        if index == 0:
            refused(F.MISSING_COVERED_COMPONENT, hs.verify, info, C_METHOD, C_URL, headers, C_BODY,
                    CAVAGE["key"]["public_key_pem"], now=C_NOW)


def test_cavage_vectors_signing_is_deterministic() -> None:
    pem = CAVAGE["key"]["private_key_pem"]
    for example in CAVAGE["examples"]:  # C.3 too: its printed string is what was signed
        raw = hs.sign_bytes(pem, "rsa-v1_5-sha256", example["signing_string"].encode())
        assert base64.b64encode(raw).decode() == example["signature_params"]["signature"]
    for example, covered in ((CAVAGE["examples"][0], ("date",)),
                             (CAVAGE["examples"][1], ("(request-target)", "host", "date"))):
        out = hs.sign_cavage(C_METHOD, C_URL, dict(C_HEADERS), C_BODY, "Test", pem, C_NOW,
                             covered=covered)
        assert out["Date"] == dict(C_HEADERS)["Date"] and out["Host"] == "example.com"
        assert out["Digest"] == dict(C_HEADERS)["Digest"] == hs.digest_header(C_BODY)
        assert out["Signature"].endswith(f'signature="{example["signature_params"]["signature"]}"')


def test_cavage_vector_c3_is_refused_but_its_printed_string_verifies() -> None:
    example = CAVAGE["examples"][2]
    headers = CIMultiDict(C_HEADERS + [("Signature", "".join(example["signature_header_printed"])
                                        .removeprefix("Signature: "))])
    # draft-12 §2.3: (created) with an rsa-* algorithm MUST be an error (Mastodon agrees).
    refused(F.MALFORMED, hs.parse_signature, C_METHOD, C_URL, headers)
    sig = base64.b64decode(example["signature_params"]["signature"])
    pub = CAVAGE["key"]["public_key_pem"]
    hs.verify_bytes(pub, "rsa-v1_5-sha256", example["signing_string"].encode(), sig)
    lines = example["signing_string"].split("\n")
    with_pseudo = "\n".join(lines[:1] + ["(created): 1402170695", "(expires): 1402170699"] + lines[1:])
    refused(F.BAD_SIGNATURE, hs.verify_bytes, pub, "rsa-v1_5-sha256", with_pseudo.encode(), sig)


# --- RFC 9421 Appendix B -----------------------------------------------------------------

RFC = load("rfc9421-test-vectors.json")
R_METHOD, R_TARGET, R_HEADERS, R_BODY = parse_http(RFC["test_request"])
R_URL = "https://example.com" + R_TARGET
EXAMPLES = {e["label"]: e for e in RFC["examples"]}
REQUEST_ASYMMETRIC = ["sig-b21", "sig-b22", "sig-b23", "sig-b26"]


def rfc_headers(example: dict[str, Any]) -> CIMultiDict[str]:
    return CIMultiDict(R_HEADERS + [("Signature-Input", example["signature_input"]),
                                    ("Signature", example["signature"])])


@pytest.mark.parametrize("label", REQUEST_ASYMMETRIC)
def test_rfc9421_vectors_base_and_signature(label: str) -> None:
    example = EXAMPLES[label]
    key = RFC["keys"][example["keyid"]]
    headers = rfc_headers(example)
    info = hs.parse_signature(R_METHOD, R_URL, headers)
    assert (info.spec, info.label, info.key_id, info.created) == (
        "rfc9421", label, example["keyid"], 1618884473)
    assert hs.signature_base(info, R_METHOD, R_URL, headers) == example["signature_base"].encode()
    # No vector carries `alg`: the algorithm comes with the key (RFC 9421 §3.2 step 5).
    hs.verify(info, R_METHOD, R_URL, headers, R_BODY, key["public_key_pem"],
              require_policy=False, key_algorithm=example["algorithm"])
    if example["algorithm"] == "rsa-pss-sha512":  # the RSA key alone means rsa-v1_5-sha256
        refused(F.BAD_SIGNATURE, hs.verify, info, R_METHOD, R_URL, headers, R_BODY,
                key["public_key_pem"], require_policy=False)
    else:
        hs.verify(info, R_METHOD, R_URL, headers, R_BODY, key["public_key_pem"], require_policy=False)
    # Full policy: these vectors do not sign @method+@target-uri (and are from 2021).
    refused(F.MISSING_COVERED_COMPONENT, hs.verify, info, R_METHOD, R_URL, headers, R_BODY,
            key["public_key_pem"], key_algorithm=example["algorithm"],
            now=datetime.fromtimestamp(1618884473, timezone.utc))


def test_rfc9421_vector_b26_ed25519_signing_reproduces_published_headers() -> None:
    example = EXAMPLES["sig-b26"]
    key = RFC["keys"]["test-key-ed25519"]
    out = hs.sign_rfc9421(R_METHOD, R_URL, dict(R_HEADERS), None, "test-key-ed25519",
                          key["private_key_pem"], datetime.fromtimestamp(1618884473, timezone.utc),
                          covered=("date", "@method", "@path", "@authority", "content-type",
                                   "content-length"),
                          label="sig-b26", include_alg=False)
    assert out == {"Signature-Input": example["signature_input"], "Signature": example["signature"]}


def test_rfc9421_vector_b24_response_is_not_a_request() -> None:
    example = EXAMPLES["sig-b24"]
    key = RFC["keys"]["test-key-ecc-p256"]
    signature = hs._dictionary(example["signature"])["sig-b24"][0]
    assert isinstance(signature, bytes)
    hs.verify_bytes(key["public_key_pem"], "ecdsa-p256-sha256", example["signature_base"].encode(),
                    signature)  # ECDSA r‖s, randomized: verify only
    headers = CIMultiDict(parse_http(example["response"])[2] + [
        ("Signature-Input", example["signature_input"]), ("Signature", example["signature"])])
    info = hs.parse_signature("GET", R_URL, headers)
    refused(F.MALFORMED, hs.verify, info, "GET", R_URL, headers, None, key["public_key_pem"],
            require_policy=False)  # @status has no meaning on a request


def test_rfc9421_vector_b25_hmac_is_never_accepted() -> None:
    example = EXAMPLES["sig-b25"]
    headers = rfc_headers(example)
    info = hs.parse_signature(R_METHOD, R_URL, headers)
    assert hs.signature_base(info, R_METHOD, R_URL, headers) == example["signature_base"].encode()
    secret = RFC["keys"]["test-shared-secret"]["base64"]
    refused(F.INVALID_KEY, hs.verify, info, R_METHOD, R_URL, headers, R_BODY, secret,
            require_policy=False)
    refused(F.UNSUPPORTED_ALGORITHM, hs.verify, info, R_METHOD, R_URL, headers, R_BODY,
            RFC["keys"]["test-key-rsa"]["public_key_pem"], require_policy=False,
            key_algorithm="hmac-sha256")
    with_alg = CIMultiDict(R_HEADERS + [
        ("Signature-Input", example["signature_input"] + ';alg="hmac-sha256"'),
        ("Signature", example["signature"])])
    refused(F.UNSUPPORTED_ALGORITHM, hs.parse_signature, R_METHOD, R_URL, with_alg)


def test_rfc9421_unsigned_label_is_skipped_for_a_supported_one() -> None:
    b25, b26 = EXAMPLES["sig-b25"], EXAMPLES["sig-b26"]
    headers = CIMultiDict(R_HEADERS + [
        ("Signature-Input", b25["signature_input"] + ';alg="hmac-sha256"'),
        ("Signature-Input", b26["signature_input"]),  # a second field line, joined with ", "
        ("Signature", b25["signature"] + ", " + b26["signature"])])
    info = hs.parse_signature(R_METHOD, R_URL, headers)
    assert info.label == "sig-b26"
    hs.verify(info, R_METHOD, R_URL, headers, R_BODY, RFC["keys"]["test-key-ed25519"]["public_key_pem"],
              require_policy=False)


def test_rfc9421_pkcs1_rsa_key_signs_and_verifies() -> None:
    key = RFC["keys"]["test-key-rsa"]
    assert "BEGIN RSA PUBLIC KEY" in key["public_key_pem"]
    headers = dict(R_HEADERS)
    headers.update(hs.sign_rfc9421("POST", URL, headers, R_BODY, "test-key-rsa", key["private_key_pem"]))
    assert 'alg="rsa-v1_5-sha256"' in headers["Signature-Input"]
    check("POST", URL, headers, R_BODY, key["public_key_pem"])


# --- a real Mastodon 4.4 request -----------------------------------------------------------

MASTODON = load("mastodon-accept-follow-signed-request.json")
M_URL = "https://fedi-test.mooo.com/users/rarely-typical/inbox"
M_BODY = json.dumps(MASTODON["body"], separators=(",", ":"), ensure_ascii=False).encode()
M_PEM = load("mastodon-actor-with-fields.json")["publicKey"]["publicKeyPem"]
M_NOW = parsedate_to_datetime(dict(MASTODON["headers"])["date"])


def m_headers(**changes: str) -> CIMultiDict[str]:
    headers = dict(MASTODON["headers"])
    headers.update(changes)
    return CIMultiDict((n.title(), v) for n, v in headers.items())  # any case must do


def test_mastodon_request_verifies() -> None:
    assert hs.digest_header(M_BODY) == dict(MASTODON["headers"])["digest"]
    info = hs.parse_signature("POST", M_URL, m_headers())
    assert info.key_id == "https://tech.lgbt/users/rarely_typical#main-key"
    assert info.covered == ("(request-target)", "host", "date", "digest", "content-type")
    hs.verify(info, "POST", M_URL, m_headers(), M_BODY, M_PEM, now=M_NOW)
    hs.verify(info, "POST", M_URL, m_headers(), M_BODY, M_PEM, now=M_NOW + timedelta(minutes=59))
    refused(F.EXPIRED, hs.verify, info, "POST", M_URL, m_headers(), M_BODY, M_PEM)  # today


def test_mastodon_request_tampering_is_refused() -> None:
    sig = dict(MASTODON["headers"])["signature"]
    b64 = sig.split('signature="')[1].rstrip('"')
    raw = bytearray(base64.b64decode(b64))
    raw[17] ^= 1
    flipped = sig.replace(b64, base64.b64encode(bytes(raw)).decode())
    refused(F.BAD_SIGNATURE, check, "POST", M_URL, m_headers(signature=flipped), M_BODY, M_PEM, now=M_NOW)
    later = "Sat, 25 Jan 2025 23:43:25 GMT"
    refused(F.BAD_SIGNATURE, check, "POST", M_URL, m_headers(date=later), M_BODY, M_PEM, now=M_NOW)
    body = M_BODY.replace(b"Accept", b"Accepx")  # one body byte
    refused(F.DIGEST_MISMATCH, check, "POST", M_URL, m_headers(), body, M_PEM, now=M_NOW)
    refused(F.BAD_SIGNATURE, check, "POST", M_URL, m_headers(digest=hs.digest_header(body)), body,
            M_PEM, now=M_NOW)
    refused(F.BAD_SIGNATURE, check, "POST", M_URL.replace("inbox", "outbox"), m_headers(), M_BODY,
            M_PEM, now=M_NOW)  # (request-target) is signed
    refused(F.HOST_MISMATCH, check, "POST", M_URL.replace("fedi-test.mooo.com", "node.example"),
            m_headers(), M_BODY, M_PEM, now=M_NOW)  # replayed to another server
    refused(F.KEY_MISMATCH, check, "POST", M_URL, m_headers(), M_BODY, generate("ed25519").public_pem,
            now=M_NOW)  # rsa-sha256 names the key type


# --- round trips ---------------------------------------------------------------------------

@pytest.mark.parametrize("spec", ["cavage", "rfc9421"])
def test_round_trip_post_and_get(spec: str, key: KeyPair) -> None:
    headers = signed(spec, key)
    info = hs.parse_signature("POST", URL, headers)
    assert info.spec == spec and info.key_id == "https://node.example/actor#main-key"
    hs.verify(info, "POST", URL, headers, BODY, key.public_pem, now=T0)
    hs.verify(info, "POST", URL, CIMultiDict((k.upper(), v) for k, v in headers.items()), BODY,
              key.public_pem, now=T0 + timedelta(seconds=3600))
    get_url = "https://node.example/users/a/outbox?page=2"
    headers = signed(spec, key, "GET", None, url=get_url)
    assert "Digest" not in headers and "Content-Digest" not in headers
    check("GET", get_url, headers, None, key.public_pem, now=T0)
    refused(F.BAD_SIGNATURE, check, "GET", get_url.replace("page=2", "page=3"), headers, None,
            key.public_pem, now=T0)


def test_sign_outputs_expected_shapes(rsa_key: KeyPair) -> None:
    out = hs.sign_cavage("POST", "https://peer.example:443/inbox", {}, BODY, "kid", rsa_key.private_pem, T0)
    assert out["Host"] == "peer.example" and out["Date"] == "Sat, 25 Jan 2025 23:43:24 GMT"
    assert out["Signature"].startswith(
        'keyId="kid",algorithm="rsa-sha256",headers="(request-target) host date digest",signature="')
    out = hs.sign_rfc9421("POST", "https://peer.example/inbox", {}, BODY, "kid", rsa_key.private_pem, T0)
    assert out["Content-Digest"] == hs.content_digest_header(BODY)
    assert out["Signature-Input"] == ('sig1=("@method" "@target-uri" "content-digest");'
                                      f'created={int(T0.timestamp())};keyid="kid";alg="rsa-v1_5-sha256"')
    assert hs.digest_header(b"") == "SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    assert hs.content_digest_header(b"") == "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"
    with pytest.raises(ValueError, match="x-absent"):  # signing errors are ValueErrors
        hs.sign_cavage("GET", URL, {}, None, "kid", rsa_key.private_pem, covered=("date", "x-absent"))
    with pytest.raises(ValueError):
        hs.sign_rfc9421("GET", URL, {}, None, "kid", "not a key")


def test_cavage_hs2019_created_and_missing_algorithm(key: KeyPair) -> None:
    headers = signed("cavage", key, covered=("(request-target)", "(created)", "host", "digest"))
    assert 'algorithm="hs2019"' in headers["Signature"] and "created=" in headers["Signature"]
    check("POST", URL, headers, BODY, key.public_pem, now=T0)  # (created) replaces Date
    refused(F.EXPIRED, check, "POST", URL, headers, BODY, key.public_pem, now=T0 + timedelta(hours=2))
    plain = signed("cavage", key)
    for algorithm in ("hs2019", None):  # `algorithm` is not signed: derive it from the key
        sig = plain["Signature"].replace('algorithm="rsa-sha256",', "").replace('algorithm="hs2019",', "")
        if algorithm:
            sig = f'algorithm="{algorithm}",' + sig
        check("POST", URL, {**plain, "Signature": sig}, BODY, key.public_pem, now=T0)


def test_pkcs1_public_key_is_accepted(rsa_key: KeyPair) -> None:
    pub = serialization.load_pem_public_key(rsa_key.public_pem.encode())
    pkcs1 = pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1).decode()
    pkcs1 += "\n"  # Mobilizon sends a trailing blank line
    assert pkcs1.startswith("-----BEGIN RSA PUBLIC KEY-----") and pkcs1.endswith("-----\n\n")
    for spec in SIGNERS:
        check("POST", URL, signed(spec, rsa_key), BODY, pkcs1, now=T0)
    mobilizon = load("mobilizon-group.json")["publicKey"]["publicKeyPem"]
    assert mobilizon.endswith("-----END RSA PUBLIC KEY-----\n\n")
    assert hs.load_public_key(mobilizon).key_size >= 2048  # type: ignore[union-attr]
    refused(F.INVALID_KEY, hs.load_public_key, "not a key")


# --- typed refusals ------------------------------------------------------------------------

def test_missing_signature() -> None:
    refused(F.NO_SIGNATURE, hs.parse_signature, "POST", URL, {"Date": "x", "Authorization": "Bearer t"})
    refused(F.MALFORMED, hs.parse_signature, "POST", URL, {"Signature": 'keyId="k",headers="date"'})
    refused(F.MALFORMED, hs.parse_signature, "POST", URL, {"Signature": 'keyId="k" signature="AA=="'})
    refused(F.MALFORMED, hs.parse_signature, "POST", URL, {"Signature-Input": 'sig1=("@method");keyid="k"'})
    refused(F.MALFORMED, hs.parse_signature, "POST", URL,
            {"Signature-Input": 'sig1=("@method");keyid="k"', "Signature": "sig1=:A@:, x"})
    refused(F.MALFORMED, hs.parse_signature, "POST", URL,
            {"Signature-Input": 'sig1=("@method");keyid="k"', "Signature": "sig1=1"})


@pytest.mark.parametrize("spec", ["cavage", "rfc9421"])
def test_bad_signature_and_digest_mismatch(spec: str, key: KeyPair) -> None:
    headers = signed(spec, key)
    name = "Signature"
    value = headers[name]
    b64 = value.split('signature="')[1][:-1] if spec == "cavage" else value.split(":")[1]
    raw = bytearray(base64.b64decode(b64))
    raw[0] ^= 0x80
    refused(F.BAD_SIGNATURE, check, "POST", URL,
            {**headers, name: value.replace(b64, base64.b64encode(bytes(raw)).decode())},
            BODY, key.public_pem, now=T0)
    refused(F.DIGEST_MISMATCH, check, "POST", URL, headers, BODY + b" ", key.public_pem, now=T0)
    # without the policy too: a digest that is present must match the body
    refused(F.DIGEST_MISMATCH, check, "POST", URL, headers, b"", key.public_pem, require_policy=False)
    other = "Digest" if spec == "cavage" else "Content-Digest"
    fake = hs.digest_header(b"x") if spec == "cavage" else hs.content_digest_header(b"x")
    # a new body with its own digest: the digest matches, the signature covering it does not
    refused(F.BAD_SIGNATURE, check, "POST", URL, {**headers, other: fake}, b"x", key.public_pem, now=T0)


@pytest.mark.parametrize("spec", ["cavage", "rfc9421"])
@pytest.mark.parametrize("offset", [-2, 2, -3600 - 5, 3600 + 5])
def test_time_window_both_sides(spec: str, offset: int, rsa_key: KeyPair) -> None:
    headers = signed(spec, rsa_key, now=T0 + timedelta(seconds=offset))
    if abs(offset) <= 3600:
        check("POST", URL, headers, BODY, rsa_key.public_pem, now=T0)
    else:
        err = refused(F.EXPIRED, check, "POST", URL, headers, BODY, rsa_key.public_pem, now=T0)
        assert err.detail and str(err).startswith(F.EXPIRED.value)
        check("POST", URL, headers, BODY, rsa_key.public_pem, now=T0, window_seconds=7200)
        check("POST", URL, headers, BODY, rsa_key.public_pem, now=T0, require_policy=False)


@pytest.mark.parametrize(("spec", "covered", "reason"), [
    ("cavage", ("host", "date", "digest"), F.MISSING_COVERED_COMPONENT),
    ("cavage", ("(request-target)", "date", "digest"), F.MISSING_COVERED_COMPONENT),
    ("cavage", ("(request-target)", "host", "date"), F.MISSING_COVERED_COMPONENT),
    ("cavage", ("(request-target)", "host", "digest"), F.MISSING_COVERED_COMPONENT),
    ("rfc9421", ("@target-uri", "content-digest"), F.MISSING_COVERED_COMPONENT),
    ("rfc9421", ("@method", "content-digest"), F.MISSING_COVERED_COMPONENT),
    ("rfc9421", ("@method", "@request-target", "content-digest"), F.MISSING_COVERED_COMPONENT),
    ("rfc9421", ("@method", "@target-uri"), F.MISSING_COVERED_COMPONENT),
    ("rfc9421", ("@method", "@authority", "@request-target", "content-digest"), None),
    ("rfc9421", ("@method", "@target-uri", "content-digest", "content-type"), None),
    ("cavage", ("(request-target)", "host", "date", "digest", "content-type"), None),
])
def test_inbox_policy_on_covered_components(spec: str, covered: tuple[str, ...],
                                            reason: hs.Failure | None, rsa_key: KeyPair) -> None:
    headers = signed(spec, rsa_key, covered=covered)
    if reason is None:
        check("POST", URL, headers, BODY, rsa_key.public_pem, now=T0)
        return
    refused(reason, check, "POST", URL, headers, BODY, rsa_key.public_pem, now=T0)
    check("POST", URL, headers, BODY, rsa_key.public_pem, require_policy=False)  # crypto is fine


@pytest.mark.parametrize("spec", ["cavage", "rfc9421"])
def test_post_without_digest_header(spec: str, rsa_key: KeyPair) -> None:
    covered = ("(request-target)", "host", "date") if spec == "cavage" else ("@method", "@target-uri")
    headers = signed(spec, rsa_key, covered=covered)
    del headers["Digest" if spec == "cavage" else "Content-Digest"]
    refused(F.MISSING_DIGEST, check, "POST", URL, headers, BODY, rsa_key.public_pem, now=T0)
    refused(F.MISSING_DIGEST, check, "POST", URL, headers, None, rsa_key.public_pem, now=T0)


def test_hmac_and_unknown_algorithms_are_refused(rsa_key: KeyPair) -> None:
    headers = signed("cavage", rsa_key)
    for algorithm in ("hmac-sha256", "HMAC-SHA256", "rsa-sha1", "ecdsa-sha256", "rsa-sha512"):
        tampered = {**headers, "Signature": headers["Signature"].replace("rsa-sha256", algorithm)}
        refused(F.UNSUPPORTED_ALGORITHM, hs.parse_signature, "POST", URL, tampered)
    headers = signed("rfc9421", rsa_key)
    for algorithm in ("hmac-sha256", "rsa-v1_5-sha1", "ecdsa-p384-sha384"):
        tampered = {**headers,
                    "Signature-Input": headers["Signature-Input"].replace("rsa-v1_5-sha256", algorithm)}
        refused(F.UNSUPPORTED_ALGORITHM, hs.parse_signature, "POST", URL, tampered)
    refused(F.UNSUPPORTED_ALGORITHM, hs.verify_bytes, rsa_key.public_pem, "hmac-sha256", b"x", b"y")


@pytest.mark.parametrize("spec", ["cavage", "rfc9421"])
def test_key_id_tampering(spec: str, rsa_key: KeyPair, other_rsa_key: KeyPair) -> None:
    headers = signed(spec, rsa_key)
    name = "Signature" if spec == "cavage" else "Signature-Input"
    evil_id = "https://evil.example/actor#main-key"
    tampered = {**headers, name: headers[name].replace("https://node.example/actor#main-key", evil_id)}
    info = hs.parse_signature("POST", URL, tampered)
    assert info.key_id == evil_id
    # The verifier fetches evil's key: the signature was not made with it.
    refused(F.BAD_SIGNATURE, hs.verify, info, "POST", URL, tampered, BODY, other_rsa_key.public_pem, now=T0)
    if spec == "rfc9421":  # keyid is inside "@signature-params": the real key refuses it too
        refused(F.BAD_SIGNATURE, hs.verify, info, "POST", URL, tampered, BODY, rsa_key.public_pem, now=T0)
    # A key fetched for one request's keyId cannot vouch for another request.
    good = hs.parse_signature("POST", URL, headers)
    refused(F.KEY_MISMATCH, hs.verify, good, "POST", URL, tampered, BODY, rsa_key.public_pem, now=T0)
    refused(F.MALFORMED, hs.verify, dataclasses.replace(good, covered=good.covered[:-1]), "POST", URL,
            headers, BODY, rsa_key.public_pem, now=T0)


def test_key_type_must_fit_algorithm(rsa_key: KeyPair) -> None:
    ed = generate("ed25519")
    headers = signed("rfc9421", rsa_key)
    refused(F.KEY_MISMATCH, check, "POST", URL, headers, BODY, ed.public_pem, now=T0)
    refused(F.KEY_MISMATCH, check, "POST", URL, headers, BODY, rsa_key.public_pem, now=T0,
            key_algorithm="rsa-pss-sha512")
    headers = signed("cavage", ed)  # hs2019 + Ed25519 key
    refused(F.BAD_SIGNATURE, check, "POST", URL, headers, BODY, generate("ed25519").public_pem, now=T0)
    refused(F.BAD_SIGNATURE, check, "POST", URL, headers, BODY, rsa_key.public_pem, now=T0)


def test_repeated_header_fields_are_joined(rsa_key: KeyPair) -> None:
    base = {"Content-Type": "application/activity+json"}
    out = hs.sign_cavage("POST", URL, {**base, "X-Multi": "a, b"}, BODY, "kid", rsa_key.private_pem, T0,
                         covered=("(request-target)", "host", "date", "digest", "x-multi"))
    received = CIMultiDict(list(base.items()) + list(out.items()) + [("X-Multi", " a "), ("x-multi", "b")])
    check("POST", URL, received, BODY, rsa_key.public_pem, now=T0)


# --- Structured Fields, as httpsig reads and writes them (http-sf) ------------------------

def test_structured_fields_as_signatures_use_them() -> None:
    parsed = hs._dictionary('a=("x" "y";n="Pet" t);created=1;k=tok, b=:AAE=:, c, d=?0;q=-1.5')
    items, params = parsed["a"]
    assert items == [("x", {}), ("y", {"n": "Pet"}), ("t", {})] and params == {"created": 1, "k": "tok"}
    assert isinstance(items[2][0], http_sf.Token) and isinstance(params["k"], http_sf.Token)
    assert type(items[0][0]) is str  # a String, which component names must be
    assert parsed["b"] == (b"\x00\x01", {}) and parsed["c"] == (True, {})
    assert parsed["d"][0] is False and str(parsed["d"][1]["q"]) == "-1.5"
    assert http_sf.ser([(items, params)]) == '("x" "y";n="Pet" t);created=1;k=tok'
    assert http_sf.ser(('a"b\\', {"x": True, "y": False})) == '"a\\"b\\\\";x;y=?0'
    for bad in ("a=(", 'a="x', "a=1,", "A=1", "a=:@@:", "a=1 b=2", "a=1234567890123456", 'a="\\x"',
                "a=\udcff"):
        with pytest.raises(ValueError):
            hs._dictionary(bad)


# --- independent implementation: http-message-signatures (RFC 9421) ----------------------

HMS_ALG = {"rsa": hms.algorithms.RSA_V1_5_SHA256, "ed25519": hms.algorithms.ED25519}


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_http_message_signatures_verifies_ours(method: str, key: KeyPair) -> None:
    body = BODY if method == "POST" else None
    headers = {"Content-Type": "application/activity+json"}
    headers.update(hs.sign_rfc9421(method, URL + "?q=1", headers, body, "kid", key.private_pem))
    prepared = requests.Request(method, URL + "?q=1", headers=headers, data=body).prepare()
    verifier = hms.HTTPMessageVerifier(
        signature_algorithm=HMS_ALG[key.kind],
        key_resolver=hms.MappingKeyResolver(public_keys={"kid": key.public_pem.encode()}, private_keys={}))
    required = ("@method", "@target-uri") + (("content-digest",) if body else ())
    [result] = verifier.verify(prepared, body=body, require_components=required)
    assert result.parameters["keyid"] == "kid" and result.label == "sig1"
    prepared.headers["Signature"] = prepared.headers["Signature"].replace("sig1=:", "sig1=:AAAA")
    with pytest.raises(hms.InvalidSignature):
        verifier.verify(prepared, body=body)


def hms_signer(key: KeyPair) -> Any:
    return hms.HTTPMessageSigner(
        signature_algorithm=HMS_ALG[key.kind],
        key_resolver=hms.MappingKeyResolver(public_keys={}, private_keys={"kid": key.private_pem.encode()}))


@pytest.mark.parametrize("url", [URL + "?q=%20x", "http://127.0.0.1:8080/users/a/inbox"])
@pytest.mark.parametrize("method", ["POST", "GET"])
def test_ours_verifies_http_message_signatures(method: str, url: str, key: KeyPair) -> None:
    body = BODY if method == "POST" else None
    prepared = requests.Request(method, url, headers={"Content-Type": "application/activity+json"},
                                data=body).prepare()
    hms_signer(key).sign(prepared, key_id="kid", label="sig1", body=body,
                         covered_component_ids=("@method", "@authority", "@target-uri"))
    check(method, prepared.url, prepared.headers, body, key.public_pem)
    if body:
        refused(F.DIGEST_MISMATCH, check, method, prepared.url, prepared.headers, body + b"!", key.public_pem)
    refused(F.BAD_SIGNATURE, check, "PUT", prepared.url, prepared.headers, body, key.public_pem)


def test_http_message_signatures_derived_components_and_expires(rsa_key: KeyPair) -> None:
    url = "http://LOCALHOST:8080/a%2Fb/c?x=1&y=%7E&z"
    prepared = requests.Request("POST", url, data=BODY,
                                headers={"Content-Type": "application/activity+json"}).prepare()
    covered = ("@method", "@scheme", "@authority", "@request-target", "@path", "@query",
               "@target-uri", '"@query-param";name="y"', "content-type")
    hms_signer(rsa_key).sign(prepared, key_id="kid", label="sig1", body=BODY, covered_component_ids=covered)
    url = prepared.url  # what goes on the wire: requests re-quotes %7E as ~
    check("POST", url, prepared.headers, BODY, rsa_key.public_pem)
    info = hs.parse_signature("POST", url, prepared.headers)
    assert info.covered[:3] == ("@method", "@scheme", "@authority")
    assert info.component_params[7] == (("name", "y"),)
    past = datetime.now(timezone.utc) - timedelta(seconds=30)
    prepared = requests.Request("POST", URL, data=BODY).prepare()
    hms_signer(rsa_key).sign(prepared, key_id="kid", label="sig1", body=BODY,
                             created=past - timedelta(seconds=30), expires=past,
                             covered_component_ids=("@method", "@target-uri"))
    refused(F.EXPIRED, check, "POST", URL, prepared.headers, BODY, rsa_key.public_pem)
    check("POST", URL, prepared.headers, BODY, rsa_key.public_pem, require_policy=False)


def test_deterministic_signatures_match_http_message_signatures(key: KeyPair) -> None:
    prepared = requests.Request("POST", URL, data=BODY).prepare()
    hms_signer(key).sign(prepared, key_id="kid", label="sig1", body=BODY, created=T0,
                         covered_component_ids=("@method", "@target-uri"))
    ours = hs.sign_rfc9421("POST", URL, {}, BODY, "kid", key.private_pem, T0)
    assert ours == {name: prepared.headers[name] for name in ours}


# --- independent implementation: apsig (draft-cavage) ----------------------

def test_apsig_cross_check(rsa_key: KeyPair) -> None:
    import apsig.draft.sign as apsig_sign
    import apsig.draft.verify as apsig_verify
    private = serialization.load_pem_private_key(rsa_key.private_pem.encode(), password=None)
    url = URL  # apsig 0.6 leaves the query out of (request-target): sign paths without one
    # apsig signs (rsa-sha256) → ours verifies, also relabelled hs2019 (algorithm is not signed)
    headers = apsig_sign.Signer(headers={"Content-Type": "application/activity+json"},
                                private_key=private, method="POST", url=url, key_id="kid",
                                body=BODY).sign()
    assert 'algorithm="rsa-sha256"' in headers["Signature"]
    check("POST", url, headers, BODY, rsa_key.public_pem)
    hs2019 = headers["Signature"].replace("rsa-sha256", "hs2019")
    check("POST", url, {**headers, "Signature": hs2019, "Authorization": "Signature " + hs2019},
          BODY, rsa_key.public_pem)
    refused(F.DIGEST_MISMATCH, check, "POST", url, headers, BODY + b" ", rsa_key.public_pem)
    # ours signs → apsig verifies
    ours = {"Content-Type": "application/activity+json"}
    ours.update(hs.sign_cavage("POST", url, ours, BODY, "kid", rsa_key.private_pem))
    verifier = apsig_verify.Verifier(public_pem=rsa_key.public_pem, method="POST", url=url,
                                     headers=ours, body=BODY)
    assert verifier.verify(raise_on_fail=True) == "kid"
    bad = apsig_verify.Verifier(public_pem=rsa_key.public_pem, method="POST", url=url,
                                headers=ours, body=BODY + b" ")
    with pytest.raises(Exception, match="Digest mismatch"):
        bad.verify(raise_on_fail=True)
