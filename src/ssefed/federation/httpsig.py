"""Sign and verify HTTP requests: draft-cavage-http-signatures-12 as Mastodon speaks it
(``Signature`` + ``Digest: SHA-256=``) and RFC 9421 HTTP Message Signatures (``Signature-Input``
+ ``Signature`` + RFC 9530 ``Content-Digest``). Pure and I/O-free: the caller fetches keys.

Inbound use::

    info = parse_signature(method, url, headers)          # which key to fetch
    pem = await fetch_key(info.key_id)
    verify(info, method, url, headers, body, pem)        # raises VerificationError(reason)

HMAC is never accepted. Algorithm names used internally are the RFC 9421 ones; the cavage
names map onto them (``rsa-sha256`` → ``rsa-v1_5-sha256``; ``hs2019`` or no algorithm →
derived from the key: RSA → PKCS#1 v1.5 SHA-256, Ed25519 → Ed25519).
"""

from __future__ import annotations

import base64
import email.utils
import enum
import functools
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal, NamedTuple
from urllib.parse import parse_qsl, quote, urlsplit

import http_sf
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (decode_dss_signature,
                                                             encode_dss_signature)


PublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey
PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey

#: Algorithms accepted in RFC 9421 ``alg`` (and as ``key_algorithm``). Never HMAC.
RFC9421_ALGORITHMS = frozenset({"rsa-v1_5-sha256", "rsa-pss-sha512", "ecdsa-p256-sha256", "ed25519"})
#: draft-cavage ``algorithm`` values accepted, mapped to RFC 9421 names (None: from the key).
CAVAGE_ALGORITHMS: dict[str | None, str | None] = {
    "rsa-sha256": "rsa-v1_5-sha256", "ed25519": "ed25519", "hs2019": None, None: None}
_DIGESTS = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}


class Failure(enum.Enum):
    """Why a request signature was refused; ``.value`` is a short human text."""

    NO_SIGNATURE = "the request carries no signature"
    MALFORMED = "the signature headers are malformed"
    UNSUPPORTED_ALGORITHM = "the signature algorithm is not supported"
    BAD_SIGNATURE = "the signature does not verify"
    MISSING_COVERED_COMPONENT = "a required part of the request is not signed"
    DIGEST_MISMATCH = "the body digest does not match the body"
    MISSING_DIGEST = "the request has a body but no usable digest"
    EXPIRED = "the signature time is outside the accepted window"
    KEY_MISMATCH = "the key does not belong to this signature"
    INVALID_KEY = "the public key cannot be read or has an unsupported type"
    HOST_MISMATCH = "the signed host is not this server"


class VerificationError(Exception):
    """A refused signature: ``reason`` is typed, ``detail`` says what exactly."""

    def __init__(self, reason: Failure, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class SignedRequestInfo:
    """What a signature claims, read before the key is fetched.

    ``covered`` lists header names / pseudo-headers (cavage, e.g. ``(request-target)``) or
    component names (RFC 9421, e.g. ``@method``); ``component_params`` holds the RFC 9421
    parameters of each covered component (parallel to ``covered``).
    """

    spec: Literal["cavage", "rfc9421"]
    key_id: str
    algorithm: str | None
    covered: tuple[str, ...]
    created: int | None
    expires: int | None = None
    signature: bytes = field(default=b"", repr=False)
    label: str | None = None
    component_params: tuple[tuple[tuple[str, Any], ...], ...] = ()
    signature_params: str | None = None  # RFC 9421 "@signature-params" value


def _fail(reason: Failure, detail: str = "") -> VerificationError:
    return VerificationError(reason, detail)


class NormalizedHeaders(dict):
    """Header fields as the signature code reads them (see normalize_headers). Parsing the
    signature remembers its result here, so verify() on the same object need not parse
    it again."""

    __slots__ = ("signature_info",)

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.signature_info: SignedRequestInfo | None = None


def normalize_headers(headers: Mapping[str, str]) -> NormalizedHeaders:
    """Lower-case names, trim values, join repeated fields with ", " (multidicts too).
    Pass the result to parse_signature and verify to normalise only once per request."""
    if type(headers) is NormalizedHeaders:
        return headers
    out: dict[str, list[str]] = {}
    for name, value in headers.items():
        out.setdefault(name.lower(), []).append(str(value).strip(" \t"))
    return NormalizedHeaders((name, ", ".join(values)) for name, values in out.items())



def _merge(headers: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    names = {n.lower() for n in extra}
    return {**{k: v for k, v in headers.items() if k.lower() not in names}, **extra}


class _Url(NamedTuple):
    scheme: str
    authority: str
    path: str
    query: str

    @property
    def request_target(self) -> str:
        return self.path + (f"?{self.query}" if self.query else "")


@functools.lru_cache(maxsize=1024)  # the same few inbox URLs, request after request
def _url(url: str) -> _Url:
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        raise ValueError(f"not an absolute URL: {url!r}")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    port = parts.port
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    authority = host if port is None or port == default else f"{host}:{port}"
    return _Url(parts.scheme.lower(), authority, parts.path or "/", parts.query)


def _host_authority(scheme: str, host: str) -> str | None:
    try:
        return _url(f"{scheme}://{host}/").authority
    except ValueError:
        return None


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(timezone.utc)
    return now.replace(tzinfo=timezone.utc) if now.tzinfo is None else now.astimezone(timezone.utc)


# --- keys and raw signatures -------------------------------------------------------------

@functools.lru_cache(maxsize=4096)
def load_public_key(pem: str) -> PublicKey:
    """Load an SPKI (``BEGIN PUBLIC KEY``) or PKCS#1 (``BEGIN RSA PUBLIC KEY``) PEM.

    Surrounding blank lines (Mobilizon) are tolerated. Raises VerificationError(INVALID_KEY).
    """
    try:
        key = serialization.load_pem_public_key(pem.strip().encode("ascii") + b"\n")
    except (ValueError, TypeError, UnsupportedAlgorithm, UnicodeEncodeError) as exc:
        raise _fail(Failure.INVALID_KEY, str(exc)) from exc
    if not isinstance(key, (rsa.RSAPublicKey, ed25519.Ed25519PublicKey, ec.EllipticCurvePublicKey)):
        raise _fail(Failure.INVALID_KEY, type(key).__name__)
    return key


@functools.lru_cache(maxsize=1024)
def _load_private_key(pem: str) -> PrivateKey:
    # Private keys are only ever our own, generated by us: the RSA consistency check
    # (tens of milliseconds per load) is skipped, and loaded keys are cached.
    key = serialization.load_pem_private_key(pem.strip().encode("ascii") + b"\n", password=None,
                                             unsafe_skip_rsa_key_validation=True)
    if not isinstance(key, (rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey, ec.EllipticCurvePrivateKey)):
        raise ValueError(f"unsupported private key type {type(key).__name__}")
    return key


def _key_algorithm(key: PublicKey | PrivateKey) -> str:
    """The default RFC 9421 algorithm of a key (RSA → rsa-v1_5-sha256)."""
    if isinstance(key, (rsa.RSAPublicKey, rsa.RSAPrivateKey)):
        return "rsa-v1_5-sha256"
    if isinstance(key, (ed25519.Ed25519PublicKey, ed25519.Ed25519PrivateKey)):
        return "ed25519"
    if isinstance(key.curve, ec.SECP256R1):
        return "ecdsa-p256-sha256"
    raise _fail(Failure.INVALID_KEY, f"unsupported curve {key.curve.name}")


def _check_key(algorithm: str, key: PublicKey | PrivateKey) -> None:
    if algorithm not in RFC9421_ALGORITHMS:
        raise _fail(Failure.UNSUPPORTED_ALGORITHM, algorithm)
    expected = "rsa-v1_5-sha256" if algorithm == "rsa-pss-sha512" else algorithm
    if _key_algorithm(key) != expected:
        raise _fail(Failure.KEY_MISMATCH, f"{algorithm} signature, {type(key).__name__}")


def sign_bytes(private_key_pem: str, algorithm: str | None, data: bytes) -> bytes:
    """Sign ``data`` with an RFC 9421 algorithm (None: the key's default). ECDSA gives r‖s."""
    key = _load_private_key(private_key_pem)
    algorithm = algorithm or _key_algorithm(key)
    _check_key(algorithm, key)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    if algorithm == "rsa-pss-sha512":
        return key.sign(data, padding.PSS(padding.MGF1(hashes.SHA512()), 64), hashes.SHA512())
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def verify_bytes(public_key_pem: str | PublicKey, algorithm: str | None, data: bytes,
                 signature: bytes) -> None:
    """Check a raw signature; raises VerificationError (BAD_SIGNATURE, KEY_MISMATCH, ...)."""
    key = load_public_key(public_key_pem) if isinstance(public_key_pem, str) else public_key_pem
    algorithm = algorithm or _key_algorithm(key)
    _check_key(algorithm, key)
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            if len(signature) != 64:
                raise InvalidSignature
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"),
                                       int.from_bytes(signature[32:], "big"))
            key.verify(der, data, ec.ECDSA(hashes.SHA256()))
        elif algorithm == "rsa-pss-sha512":
            key.verify(signature, data, padding.PSS(padding.MGF1(hashes.SHA512()), 64),
                       hashes.SHA512())
        else:
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise _fail(Failure.BAD_SIGNATURE, algorithm) from None


# --- digests -------------------------------------------------------------------------------

_last_digest: tuple[bytes, str] = (b"", "SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")


def digest_header(body: bytes) -> str:
    """RFC 3230 ``Digest`` value as Mastodon sends it: ``SHA-256=<base64>``."""
    global _last_digest
    last = _last_digest
    if last[0] is body:  # a fan-out posts the same body object again and again
        return last[1]
    value = "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")
    _last_digest = (body, value)
    return value


@functools.lru_cache(maxsize=8)  # requests signed in the same second share their Date
def _date_header(second: int) -> str:
    return email.utils.format_datetime(datetime.fromtimestamp(second, timezone.utc), usegmt=True)


def content_digest_header(body: bytes) -> str:
    """RFC 9530 ``Content-Digest`` value: ``sha-256=:<base64>:``."""
    return "sha-256=" + http_sf.ser((hashlib.sha256(body).digest(), {}))


def _digests(h: Mapping[str, str]) -> dict[str, dict[str, bytes]]:
    """Supported digests per header ({"digest": {"sha-256": b"..."}}); MALFORMED if unreadable."""
    found: dict[str, dict[str, bytes]] = {}
    if "digest" in h:
        found["digest"] = {}
        for part in h["digest"].split(","):
            name, _, value = part.strip().partition("=")
            if name.lower() in _DIGESTS:
                try:
                    found["digest"][name.lower()] = base64.b64decode(value, validate=True)
                except ValueError:
                    raise _fail(Failure.MALFORMED, "Digest is not base64") from None
    if "content-digest" in h:
        try:
            members = _dictionary(h["content-digest"])
        except ValueError as exc:
            raise _fail(Failure.MALFORMED, f"Content-Digest: {exc}") from None
        found["content-digest"] = {k: v for k, (v, _) in members.items()
                                   if k in _DIGESTS and isinstance(v, bytes)}
    return found


def _check_digests(h: Mapping[str, str], body: bytes) -> None:
    for header, values in _digests(h).items():
        if not values:
            raise _fail(Failure.MISSING_DIGEST, f"{header} has no sha-256/sha-512 value")
        for name, value in values.items():
            if not hmac.compare_digest(value, _DIGESTS[name](body).digest()):
                raise _fail(Failure.DIGEST_MISMATCH, f"{header} {name}")


# --- parsing -------------------------------------------------------------------------------

_CAVAGE_PARAM = re.compile(r'\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"([^"]*)"|([^",\s]*))\s*(?:,|$)')
_NUMBER = re.compile(r"[0-9]{1,15}(\.[0-9]+)?")


def _parse_cavage(value: str) -> SignedRequestInfo:
    params: dict[str, str] = {}
    value, pos = value.strip(), 0
    while pos < len(value):
        m = _CAVAGE_PARAM.match(value, pos)
        if not m or m.end() == pos:
            raise _fail(Failure.MALFORMED, f"cannot parse Signature at {pos}")
        name = m.group(1).lower()
        if name in params:
            raise _fail(Failure.MALFORMED, f"duplicate {m.group(1)}")
        params[name] = m.group(2) if m.group(2) is not None else m.group(3)
        pos = m.end()
    if not params.get("keyid") or not params.get("signature"):
        raise _fail(Failure.MALFORMED, "keyId and signature are required")
    algorithm = params["algorithm"].lower() if "algorithm" in params else None
    if algorithm not in CAVAGE_ALGORITHMS:
        raise _fail(Failure.UNSUPPORTED_ALGORITHM, str(algorithm))
    covered = tuple(params.get("headers", "date").lower().split())  # Mastodon's default: date
    times: dict[str, int | None] = {}
    for name in ("created", "expires"):
        raw = params.get(name)
        if raw is not None and not _NUMBER.fullmatch(raw):
            raise _fail(Failure.MALFORMED, f"{name}={raw!r}")
        times[name] = int(float(raw)) if raw is not None else None
        if f"({name})" in covered:
            if times[name] is None:
                raise _fail(Failure.MALFORMED, f"({name}) signed without a {name} parameter")
            if algorithm is not None and algorithm.startswith(("rsa", "hmac", "ecdsa")):
                raise _fail(Failure.MALFORMED, f"({name}) is not allowed with {algorithm}")
    try:
        signature = base64.b64decode(params["signature"], validate=True)
    except ValueError:
        raise _fail(Failure.MALFORMED, "signature is not base64") from None
    if not covered:
        raise _fail(Failure.MALFORMED, "empty headers parameter")
    return SignedRequestInfo("cavage", params["keyid"], algorithm, covered, times["created"],
                             times["expires"], signature)


def _dictionary(value: str) -> dict[str, Any]:
    """An RFC 8941 Dictionary field (http-sf); ValueError if it is not one."""
    return http_sf.parse(value.encode("utf-8", "surrogateescape"), tltype="dictionary")


def _timestamp(params: dict[str, Any], name: str) -> int | None:
    value = params.get(name)
    if value is not None and (type(value) is not int):
        raise _fail(Failure.MALFORMED, f"{name} is not an integer")
    return value


def _parse_rfc9421(h: Mapping[str, str]) -> SignedRequestInfo:
    if "signature" not in h:
        raise _fail(Failure.MALFORMED, "Signature-Input without Signature")
    try:
        inputs = _dictionary(h["signature-input"])
        signatures = _dictionary(h["signature"])
    except ValueError as exc:
        raise _fail(Failure.MALFORMED, str(exc)) from None
    refused = None
    for label, (items, params) in inputs.items():
        if label not in signatures:
            continue
        signature = signatures[label][0]
        if not isinstance(items, list) or not isinstance(signature, bytes):
            raise _fail(Failure.MALFORMED, f"{label}: not an inner list / byte sequence")
        alg = params.get("alg")
        if alg is not None and alg not in RFC9421_ALGORITHMS:
            refused = alg  # e.g. hmac-sha256: try another label, else refuse
            continue
        keyid = params.get("keyid")
        if not isinstance(keyid, str) or not keyid:
            raise _fail(Failure.MALFORMED, f"{label}: keyid missing or not a string")
        names = tuple(str(v) for v, _ in items)
        cparams = tuple(tuple(p.items()) for _, p in items)
        if any(type(v) is not str or v != v.lower() for v, _ in items) or \
                len(set(zip(names, cparams))) != len(names):
            raise _fail(Failure.MALFORMED, f"{label}: bad or repeated component names")
        return SignedRequestInfo("rfc9421", keyid, str(alg) if alg else None, names,
                                 _timestamp(params, "created"), _timestamp(params, "expires"),
                                 signature, label, cparams, http_sf.ser([(items, params)]))
    if refused is not None:
        raise _fail(Failure.UNSUPPORTED_ALGORITHM, str(refused))
    raise _fail(Failure.MALFORMED, "no label is in both Signature-Input and Signature")


def parse_signature(method: str, url: str, headers: Mapping[str, str]) -> SignedRequestInfo:
    """Read the request's signature (RFC 9421 preferred, else ``Signature`` / ``Authorization:
    Signature`` draft-cavage). Raises VerificationError: NO_SIGNATURE, MALFORMED, UNSUPPORTED_ALGORITHM.
    """
    h = normalize_headers(headers)
    if h.signature_info is not None:
        return h.signature_info
    if "signature-input" in h:
        info = _parse_rfc9421(h)
    elif "signature" in h:
        info = _parse_cavage(h["signature"])
    else:
        scheme, _, rest = h.get("authorization", "").partition(" ")
        if scheme.lower() != "signature":
            raise _fail(Failure.NO_SIGNATURE)
        info = _parse_cavage(rest)
    h.signature_info = info
    return info


# --- signature bases -----------------------------------------------------------------------

def _form_encode(text: str) -> str:
    """Percent-encode as RFC 9421 §2.2.8 asks (HTML form set, space as %20)."""
    return quote(text, safe="*").replace("~", "%7E")


def _derived(name: str, params: dict[str, Any], method: str, u: _Url, target: str) -> str:
    if name == "@query-param":
        wanted = params.get("name")
        if set(params) != {"name"} or type(wanted) is not str:
            raise _fail(Failure.MALFORMED, "@query-param needs exactly a name parameter")
        found = [v for k, v in parse_qsl(u.query, keep_blank_values=True) if _form_encode(k) == wanted]
        if len(found) != 1:
            raise _fail(Failure.MALFORMED, f"query parameter {wanted!r} absent or repeated")
        return _form_encode(found[0])
    if params:
        raise _fail(Failure.MALFORMED, f"unsupported parameters on {name}")
    values = {"@method": method.upper(), "@target-uri": target, "@authority": u.authority,
              "@scheme": u.scheme, "@request-target": u.request_target, "@path": u.path,
              "@query": f"?{u.query}"}
    if name not in values:
        raise _fail(Failure.MALFORMED, f"unsupported derived component {name}")
    return values[name]


def signature_base(info: SignedRequestInfo, method: str, url: str,
                   headers: Mapping[str, str]) -> bytes:
    """The exact bytes signed: the cavage signing string or the RFC 9421 §2.5 signature base."""
    h, u = normalize_headers(headers), _url(url)
    lines: list[str] = []
    if info.spec == "cavage":
        for name in info.covered:
            if name == "(request-target)":
                value = f"{method.lower()} {u.request_target}"
            elif name in ("(created)", "(expires)"):
                value = str(info.created if name == "(created)" else info.expires)
            elif name in h:
                value = h[name]
            else:
                raise _fail(Failure.MALFORMED, f"signed header {name} is absent")
            lines.append(f"{name}: {value}")
    else:
        target = f"{u.scheme}://{u.authority}{u.request_target}"
        for name, params in zip(info.covered, info.component_params, strict=True):
            if name.startswith("@"):
                value = _derived(name, dict(params), method, u, target)
            elif params:
                raise _fail(Failure.MALFORMED, f"unsupported parameters on {name}")
            elif name in h:
                value = h[name]
            else:
                raise _fail(Failure.MALFORMED, f"signed field {name} is absent")
            lines.append(f"{http_sf.ser((name, dict(params)))}: {value}")
        lines.append(f'"@signature-params": {info.signature_params}')
    if any(c in line for line in lines for c in "\r\n"):
        raise _fail(Failure.MALFORMED, "newline in a signed value")
    return "\n".join(lines).encode("utf-8", "surrogateescape")


# --- signing -------------------------------------------------------------------------------

def _signing_base(info: SignedRequestInfo, method: str, url: str, headers: Mapping[str, str]) -> bytes:
    try:
        return signature_base(info, method, url, headers)
    except VerificationError as exc:  # e.g. a covered header the caller did not supply
        raise ValueError(exc.detail) from exc


@dataclass
class PreparedSignature:
    """A request signature short of its private-key operation: ``headers`` to add, the
    bytes to sign with ``algorithm`` (for sign_bytes), and how the signature is written.
    ``complete(sign_bytes(pem, algorithm, data))`` gives the headers to add."""

    headers: dict[str, str]
    algorithm: str | None
    data: bytes
    _spec: str
    _template: str

    def complete(self, raw_signature: bytes) -> dict[str, str]:
        if self._spec == "rfc9421":  # the template is the Signature-Input value
            label = self._template.split("=", 1)[0]
            return {**self.headers, "Signature-Input": self._template,
                    "Signature": f"{label}={http_sf.ser((raw_signature, {}))}"}
        signature = base64.b64encode(raw_signature).decode("ascii")
        return {**self.headers, "Signature": f'{self._template}{signature}"'}


def prepare_cavage(method: str, url: str, headers: Mapping[str, str], body: bytes | None,
                   key_id: str, private_key_pem: str, now: datetime | None = None, *,
                   covered: Sequence[str] | None = None) -> PreparedSignature:
    """sign_cavage up to the private-key operation (see PreparedSignature)."""
    key = _load_private_key(private_key_pem)
    when = _utc(now)
    if '"' in key_id:
        raise ValueError("keyId cannot hold a double quote")
    out = {"Host": _url(url).authority, "Date": _date_header(int(when.timestamp()))}
    if body is not None or method.upper() == "POST":
        out["Digest"] = digest_header(body or b"")
    names = tuple(covered or ("(request-target)", "host", "date") + (("digest",) if "Digest" in out else ()))
    if "(expires)" in names:
        raise ValueError("(expires) is not supported when signing")
    rsa_key = isinstance(key, rsa.RSAPrivateKey)
    algorithm = "rsa-sha256" if rsa_key and "(created)" not in names else "hs2019"
    created = int(when.timestamp()) if "(created)" in names else None
    info = SignedRequestInfo("cavage", key_id, algorithm, names, created)
    data = _signing_base(info, method, url, _merge(headers, out))
    extra = f"created={created}," if created is not None else ""
    template = (f'keyId="{key_id}",algorithm="{algorithm}",{extra}'
                f'headers="{" ".join(names)}",signature="')
    return PreparedSignature(out, None, data, "cavage", template)


def sign_cavage(method: str, url: str, headers: Mapping[str, str], body: bytes | None,
                key_id: str, private_key_pem: str, now: datetime | None = None, *,
                covered: Sequence[str] | None = None) -> dict[str, str]:
    """Sign as Mastodon does; return the headers to add: Host, Date, Digest (POST or body), Signature.

    ``covered`` defaults to ``(request-target) host date [digest]``. RSA keys sign
    ``algorithm="rsa-sha256"``; Ed25519 keys, or a ``(created)`` in ``covered``, give ``hs2019``.
    """
    p = prepare_cavage(method, url, headers, body, key_id, private_key_pem, now, covered=covered)
    return p.complete(sign_bytes(private_key_pem, p.algorithm, p.data))


def prepare_rfc9421(method: str, url: str, headers: Mapping[str, str], body: bytes | None,
                    key_id: str, private_key_pem: str, now: datetime | None = None, *,
                    covered: Sequence[str] | None = None, label: str = "sig1",
                    include_alg: bool = True) -> PreparedSignature:
    """sign_rfc9421 up to the private-key operation (see PreparedSignature)."""
    algorithm = _key_algorithm(_load_private_key(private_key_pem))
    out: dict[str, str] = {}
    if body is not None:
        out["Content-Digest"] = content_digest_header(body)
    names = tuple(covered or ("@method", "@target-uri") + (("content-digest",) if body is not None else ()))
    params: dict[str, Any] = {"created": int(_utc(now).timestamp()), "keyid": key_id}
    if include_alg:
        params["alg"] = algorithm
    sig_params = http_sf.ser([([(n, {}) for n in names], params)])
    info = SignedRequestInfo("rfc9421", key_id, algorithm, names, int(params["created"]),
                             label=label, component_params=((),) * len(names),
                             signature_params=sig_params)
    data = _signing_base(info, method, url, _merge(headers, out))
    return PreparedSignature(out, algorithm, data, "rfc9421", f"{label}={sig_params}")


def sign_rfc9421(method: str, url: str, headers: Mapping[str, str], body: bytes | None,
                 key_id: str, private_key_pem: str, now: datetime | None = None, *,
                 covered: Sequence[str] | None = None, label: str = "sig1",
                 include_alg: bool = True) -> dict[str, str]:
    """Sign per RFC 9421; return the headers to add: Content-Digest (with body), Signature-Input,
    Signature. ``covered`` defaults to ``@method @target-uri [content-digest]``; params are
    ``created``, ``keyid`` and ``alg`` (``rsa-v1_5-sha256`` / ``ed25519`` / ``ecdsa-p256-sha256``).
    """
    p = prepare_rfc9421(method, url, headers, body, key_id, private_key_pem, now,
                        covered=covered, label=label, include_alg=include_alg)
    return p.complete(sign_bytes(private_key_pem, p.algorithm, p.data))


# --- verification --------------------------------------------------------------------------

@functools.lru_cache(maxsize=256)  # requests sent in the same second share their Date
def _http_date(value: str) -> datetime:
    return _utc(email.utils.parsedate_to_datetime(value))


def _check_time(t: datetime, now: datetime, window: int, what: str) -> None:
    if abs((now - t).total_seconds()) > window:
        raise _fail(Failure.EXPIRED, f"{what} {t.isoformat()} is more than {window}s from now")


def _check_policy(info: SignedRequestInfo, method: str, u: _Url, h: Mapping[str, str],
                  body: bytes, now: datetime, window: int) -> None:
    covered = set(info.covered)
    needs_digest = bool(body) or method.upper() == "POST"
    if info.spec == "cavage":
        required = ["(request-target)", "host"] + (["digest"] if needs_digest else [])
        if not covered & {"date", "(created)"}:
            required.append("date")
        digest_names = ("digest",)
    else:
        required = ["@method"] + (["content-digest"] if needs_digest else [])
        if "@target-uri" not in covered:
            required += ["@authority", "@request-target"]
        digest_names = ("content-digest",)
    if needs_digest and not any(d in h for d in digest_names):
        raise _fail(Failure.MISSING_DIGEST, f"no {digest_names[0]} header")
    missing = [name for name in required if name not in covered]
    if missing:
        raise _fail(Failure.MISSING_COVERED_COMPONENT, " ".join(missing))
    if info.spec == "cavage" and _host_authority(u.scheme, h.get("host", "")) != u.authority:
        raise _fail(Failure.HOST_MISMATCH, f"{h.get('host')!r} is not {u.authority}")
    if info.spec == "rfc9421" and info.created is None:
        raise _fail(Failure.MISSING_COVERED_COMPONENT, "created parameter")
    if info.created is not None and (info.spec == "rfc9421" or "(created)" in covered):
        try:
            created = datetime.fromtimestamp(info.created, timezone.utc)
        except (ValueError, OverflowError, OSError):  # past year 9999 or before year 1
            raise _fail(Failure.EXPIRED, f"created {info.created} is out of range") from None
        _check_time(created, now, window, "created")
    else:
        try:
            date = _http_date(h.get("date", ""))
        except (TypeError, ValueError, OverflowError):  # Overflow: a year past datetime's
            raise _fail(Failure.MALFORMED, f"Date {h.get('date')!r}") from None
        _check_time(date, now, window, "Date")
    if info.expires is not None and info.expires < now.timestamp():
        raise _fail(Failure.EXPIRED, f"expired at {info.expires}")


def verify(info: SignedRequestInfo, method: str, url: str, headers: Mapping[str, str],
           body: bytes | None, public_key_pem: str, *, now: datetime | None = None,
           window_seconds: int = 3600, require_policy: bool = True,
           key_algorithm: str | None = None) -> None:
    """Verify a request signature; return None or raise VerificationError.

    ``info`` must come from ``parse_signature`` on this request (another keyId: KEY_MISMATCH).
    Always checked: key type vs algorithm, any present ``Digest``/``Content-Digest`` against
    ``body`` (unless ``body`` is None), and the signature. With ``require_policy`` also the inbox
    policy: (request-target)+host [cavage] or @method+@target-uri (or +@authority+@request-target)
    [RFC 9421] signed, a signed digest on POST or non-empty bodies, the signed host equal to
    ``url``'s, and Date / (created) / created within ±``window_seconds`` of ``now``.
    ``key_algorithm`` is the RFC 9421 algorithm the key is known to be for (e.g. rsa-pss-sha512),
    used when the signature names none.
    """
    h, u = normalize_headers(headers), _url(url)
    current = parse_signature(method, url, h)
    if current.key_id != info.key_id:
        raise _fail(Failure.KEY_MISMATCH, f"request signed by {current.key_id}, not {info.key_id}")
    if current != info:
        raise _fail(Failure.MALFORMED, "the parsed signature does not belong to this request")
    key = load_public_key(public_key_pem)
    if key_algorithm is not None and key_algorithm not in RFC9421_ALGORITHMS:
        raise _fail(Failure.UNSUPPORTED_ALGORITHM, key_algorithm)
    algorithm = CAVAGE_ALGORITHMS[info.algorithm] if info.spec == "cavage" else info.algorithm
    if algorithm is not None and key_algorithm is not None and algorithm != key_algorithm:
        raise _fail(Failure.KEY_MISMATCH, f"{algorithm} signature, {key_algorithm} key")
    algorithm = algorithm or key_algorithm or _key_algorithm(key)
    _check_key(algorithm, key)
    if require_policy:
        body = b"" if body is None else body
        _check_policy(info, method, u, h, body, _utc(now), window_seconds)
    if body is not None:
        _check_digests(h, body)
    verify_bytes(key, algorithm, signature_base(info, method, url, h), info.signature)
