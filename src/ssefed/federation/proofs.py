"""Object integrity proofs (FEP-8b32): a W3C Data Integrity ``DataIntegrityProof`` with the
``eddsa-jcs-2022`` cryptosuite, so that a document signed by an actor on one node and
relayed by another (an endorsement, a membership statement) can be checked on its own by
any node, against the signer's own actor document, whoever delivered it.

The cryptosuite (vc-di-eddsa, eddsa-jcs-2022): the data signed with Ed25519 is
``SHA-256(JCS(proof options)) || SHA-256(JCS(document without proof))``, where the proof
options are the ``proof`` object without ``proofValue`` and JCS is RFC 8785; ``proofValue``
is the 64-byte signature in multibase base58btc (``z…``). A proof made here carries the
document's ``@context`` (context injection, as the FEP's test vectors and Fedify do); a
received proof may carry none (Mitra's), but when it carries one it must be exactly the
document's, so that no context can be swapped under a signature.

Pure functions (:func:`sign_object`, :func:`verify_object`) do no I/O;
:func:`verify_relayed` resolves the key through the signer's actor document, fetched from
its own origin. Verifiers return a :class:`ProofCheck` with a typed reason, never a bare
``None``.
"""

from __future__ import annotations

import copy
import enum
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

import rfc8785
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from ssefed.config import FederationConfig
from ssefed.db.base import utcnow
from ssefed.domain.actors import ensure_keys
from ssefed.federation import trust
from ssefed.federation.proofkeys import ListedKeys, assertion_keys, may_refetch
from ssefed.vocab.from_as import first_id
from ssefed.vocab.multibase import b58decode, b58encode

__all__ = [
    "CRYPTOSUITE", "DATA_INTEGRITY_CONTEXT", "PROOF_PURPOSE", "PROOF_TYPE", "ProofCheck",
    "ProofFailure", "author_of", "sign_as", "sign_object", "verify_object", "verify_relayed",
    "with_integrity_context",
]  # fmt: skip

PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-jcs-2022"
PROOF_PURPOSE = "assertionMethod"
AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
#: The context added to a document that defines no proof terms (Mitra's current one).
DATA_INTEGRITY_CONTEXT = "https://w3id.org/security/data-integrity/v2"
#: Context URLs that already define ``proof`` and ``DataIntegrityProof``.
_PROOF_CONTEXTS = frozenset(
    f"{scheme}://{rest}{suffix}"
    for rest in ("w3id.org/security/data-integrity/v1", "w3id.org/security/data-integrity/v2",
                 "www.w3.org/ns/credentials/v2")
    for scheme in ("https", "http") for suffix in ("", ".jsonld"))
MAX_PROOFS = 8  # a proof set larger than this is refused, not walked
MAX_PROOF_VALUE_LEN = 128  # 64 bytes are 86 to 88 base58 characters
DEFAULT_WINDOW_SECONDS = FederationConfig.signature_window_seconds
_DATETIME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)",
                       re.IGNORECASE)


class ProofFailure(enum.Enum):
    """Why an integrity proof was refused; ``.value`` is a short human text."""

    NO_PROOF = "the document carries no integrity proof"
    UNSUPPORTED_TYPE = "the proof type is not DataIntegrityProof"
    UNSUPPORTED_CRYPTOSUITE = "the proof's cryptosuite is not eddsa-jcs-2022"
    WRONG_PURPOSE = "the proof purpose is not assertionMethod"
    MALFORMED = "the proof is malformed"
    MALFORMED_PROOF_VALUE = "the proofValue is not a base58btc Ed25519 signature"
    CONTEXT_MISMATCH = "the proof's @context is not the document's @context"
    NOT_CANONICAL = "the document cannot be canonicalised (RFC 8785)"
    CREATED_IN_FUTURE = "the proof was created in the future, beyond the clock window"
    EXPIRED = "the proof has expired"
    INVALID_KEY = "the public key cannot be read or is not an Ed25519 key"
    BAD_SIGNATURE = "the signature does not verify"
    NO_ACTOR = "the document names no actor (actor or attributedTo)"
    ACTOR_MISMATCH = "the document's actor is not the claimed signer"
    KEY_ORIGIN = "the key is not on the claimed actor's origin"
    BLOCKED = "the signer's domain is blocked on this node"
    ACTOR_UNAVAILABLE = "the signer's actor document could not be fetched"
    KEY_NOT_LISTED = "the signer's actor document does not list the key in assertionMethod"
    CONTROLLER_MISMATCH = "the key's controller is not the document's actor"


@dataclass(frozen=True)
class ProofCheck:
    """The outcome of a verification: ``ok``, else ``reason`` (typed) and ``detail``.

    On success ``verification_method`` is the key that verified, ``created`` the proof's
    time (if given) and, from :func:`verify_relayed`, ``actor`` the verified signer."""

    ok: bool
    reason: ProofFailure | None = None
    detail: str = ""
    verification_method: str | None = None
    created: str | None = None
    actor: str | None = None

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        if self.ok:
            return f"verified: signed by {self.actor or self.verification_method}"
        assert self.reason is not None
        return f"{self.reason.value}: {self.detail}" if self.detail else self.reason.value


def _fail(reason: ProofFailure, detail: str = "", **extra: Any) -> ProofCheck:
    return ProofCheck(False, reason, detail, **extra)


# --- contexts, times, canonical form -------------------------------------------------


def with_integrity_context(context: Any) -> Any:
    """``context`` with the data-integrity context added when none of its URLs defines the
    proof terms, as Mitra writes it: after the context URLs, before the inline terms (the
    data-integrity context protects its terms; inline terms that follow cannot clash)."""
    if context is None:
        return [AS_CONTEXT, DATA_INTEGRITY_CONTEXT]
    items = list(context) if isinstance(context, list) else [context]
    if any(isinstance(item, str) and item in _PROOF_CONTEXTS for item in items):
        return copy.deepcopy(context)
    at = next((i for i, item in enumerate(items) if not isinstance(item, str)), len(items))
    return copy.deepcopy(items[:at]) + [DATA_INTEGRITY_CONTEXT] + copy.deepcopy(items[at:])


def _xsd(ts: datetime) -> str:
    """An XML Schema dateTime in UTC, to the second (as the FEP's examples write it)."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=timezone.utc)
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: Any) -> datetime | None:
    """An XML Schema dateTime with a zone (Mitra writes nanoseconds: cut to microseconds)."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    match = _DATETIME.fullmatch(value)
    if match is None:
        return None
    base, fraction, zone = match.groups()
    text = base + (fraction[:7] if fraction else "") + ("+00:00" if zone.upper() == "Z" else zone)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _jcs(value: Any) -> bytes | None:
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, RecursionError, TypeError):
        return None


def _unsecured(doc: dict) -> dict:
    """The document as signed: without ``proof``, and without a Linked Data Signature 1.0
    ``signature`` (FEP-8b32: one added after the proof is removed before verifying)."""
    out = {k: v for k, v in doc.items() if k != "proof"}
    ld = out.get("signature")
    if isinstance(ld, dict) and "signatureValue" in ld:
        del out["signature"]
    return out


def _hash_data(proof_options: dict, doc_hash: bytes) -> bytes | None:
    canonical = _jcs(proof_options)
    return None if canonical is None else hashlib.sha256(canonical).digest() + doc_hash


# --- signing --------------------------------------------------------------------------


def sign_object(doc: dict, private_key_pem: str, verification_method: str, *,
                created: datetime) -> dict:
    """A copy of ``doc`` with an eddsa-jcs-2022 ``proof`` by ``verification_method`` (the
    key id of ``private_key_pem``, an Ed25519 PKCS#8 PEM), made at ``created``. The
    data-integrity context is added to ``@context`` when missing; the proof carries the
    resulting ``@context``. Raises ValueError for a document that already has a proof,
    cannot be canonicalised, or a key that is not Ed25519."""
    if not isinstance(doc, dict):
        raise TypeError("only a JSON object can be signed")
    if "proof" in doc:
        raise ValueError("the document already carries a proof")
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise ValueError("integrity proofs are signed with an Ed25519 key")
    signed = copy.deepcopy(doc)
    signed["@context"] = with_integrity_context(doc.get("@context"))
    options = {"@context": copy.deepcopy(signed["@context"]), "type": PROOF_TYPE,
               "cryptosuite": CRYPTOSUITE, "verificationMethod": verification_method,
               "proofPurpose": PROOF_PURPOSE, "created": _xsd(created)}
    canonical = _jcs(signed)
    data = None if canonical is None else _hash_data(options,
                                                     hashlib.sha256(canonical).digest())
    if data is None:
        raise ValueError("the document cannot be canonicalised (RFC 8785: numbers beyond "
                         "I-JSON, or values that are not JSON)")
    signed["proof"] = {**options, "proofValue": "z" + b58encode(key.sign(data))}
    return signed


# --- verifying ------------------------------------------------------------------------


def _proofs(doc: Any) -> list[dict] | ProofCheck:
    if not isinstance(doc, dict):
        return _fail(ProofFailure.MALFORMED, "the document is not a JSON object")
    value = doc.get("proof")
    items = value if isinstance(value, list) else [] if value is None else [value]
    if not items:
        return _fail(ProofFailure.NO_PROOF)
    if len(items) > MAX_PROOFS:
        return _fail(ProofFailure.MALFORMED, f"more than {MAX_PROOFS} proofs")
    if not all(isinstance(p, dict) for p in items):
        return _fail(ProofFailure.MALFORMED, "a proof is not a JSON object")
    return items


def _precheck(proof: dict, doc: dict, now: datetime, window: float) -> bytes | ProofCheck:
    """Everything but the signature: supported, well-formed, in time. Returns the signature."""
    vm = proof.get("verificationMethod")
    if proof.get("type") != PROOF_TYPE:
        return _fail(ProofFailure.UNSUPPORTED_TYPE, f"type is {proof.get('type')!r}")
    if proof.get("cryptosuite") != CRYPTOSUITE:
        return _fail(ProofFailure.UNSUPPORTED_CRYPTOSUITE,
                     f"cryptosuite is {proof.get('cryptosuite')!r}")
    if proof.get("proofPurpose") != PROOF_PURPOSE:
        return _fail(ProofFailure.WRONG_PURPOSE, f"proofPurpose is {proof.get('proofPurpose')!r}")
    if not isinstance(vm, str) or not vm:
        return _fail(ProofFailure.MALFORMED, "verificationMethod is missing or not a string")
    value = proof.get("proofValue")
    signature = b""
    if isinstance(value, str) and value.startswith("z") and len(value) <= MAX_PROOF_VALUE_LEN:
        try:
            signature = b58decode(value[1:])
        except ValueError:
            pass
    if len(signature) != 64:
        return _fail(ProofFailure.MALFORMED_PROOF_VALUE,
                     "expected 'z' and the base58btc of 64 bytes")
    if "@context" in proof and ("@context" not in doc or proof["@context"] != doc["@context"]):
        return _fail(ProofFailure.CONTEXT_MISMATCH,
                     "the document's @context was changed or the proof names another one")
    skew = timedelta(seconds=window)
    for name in ("created", "expires"):
        if name in proof and _parse_time(proof[name]) is None:
            return _fail(ProofFailure.MALFORMED, f"{name} is not an XML Schema dateTime")
    created = _parse_time(proof.get("created"))
    if created is not None and created > now + skew:
        return _fail(ProofFailure.CREATED_IN_FUTURE, f"created {proof['created']}")
    expires = _parse_time(proof.get("expires"))
    if expires is not None and expires + skew < now:
        return _fail(ProofFailure.EXPIRED, f"expired {proof['expires']}")
    return signature


def _check_signature(proof: dict, signature: bytes, doc_hash: bytes,
                     key: ed25519.Ed25519PublicKey) -> ProofCheck:
    options = {k: v for k, v in proof.items() if k != "proofValue"}
    data = _hash_data(options, doc_hash)
    if data is None:
        return _fail(ProofFailure.MALFORMED, "the proof cannot be canonicalised (RFC 8785)")
    vm = proof["verificationMethod"]
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return _fail(ProofFailure.BAD_SIGNATURE, f"not signed by the key {vm} (or changed "
                                                 "since it was signed)",
                     verification_method=vm)
    created = proof.get("created")
    return ProofCheck(True, verification_method=vm,
                      created=created if isinstance(created, str) else None)


def _public_key(public_key_pem: str) -> ed25519.Ed25519PublicKey | ProofCheck:
    try:
        key = serialization.load_pem_public_key(public_key_pem.encode())
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        return _fail(ProofFailure.INVALID_KEY, str(exc))
    if not isinstance(key, ed25519.Ed25519PublicKey):
        return _fail(ProofFailure.INVALID_KEY, f"a {type(key).__name__}")
    return key


def _doc_hash(doc: dict) -> bytes | ProofCheck:
    canonical = _jcs(_unsecured(doc))
    if canonical is None:
        return _fail(ProofFailure.NOT_CANONICAL, "numbers beyond I-JSON or non-JSON values")
    return hashlib.sha256(canonical).digest()


def verify_object(doc: dict, public_key_pem: str, *, verification_method: str | None = None,
                  now: datetime | None = None,
                  window_seconds: float = DEFAULT_WINDOW_SECONDS) -> ProofCheck:
    """Check ``doc``'s integrity proof against ``public_key_pem`` (SPKI PEM, Ed25519).

    With a proof set, the proofs by ``verification_method`` (all, when not given) are tried
    and the first that verifies wins; otherwise the first one's failure is returned.
    ``created`` may be at most ``window_seconds`` ahead of ``now``. Says nothing about who
    owns the key: see :func:`verify_relayed` for that."""
    proofs = _proofs(doc)
    if isinstance(proofs, ProofCheck):
        return proofs
    if verification_method is not None:
        proofs = [p for p in proofs if p.get("verificationMethod") == verification_method]
        if not proofs:
            return _fail(ProofFailure.NO_PROOF, f"no proof by the key {verification_method}")
    key = _public_key(public_key_pem)
    if isinstance(key, ProofCheck):
        return key
    doc_hash = _doc_hash(doc)
    if isinstance(doc_hash, ProofCheck):
        return doc_hash
    now = now or datetime.now(timezone.utc)
    first: ProofCheck | None = None
    for proof in proofs:
        signature = _precheck(proof, doc, now, window_seconds)
        check = signature if isinstance(signature, ProofCheck) else \
            _check_signature(proof, signature, doc_hash, key)
        if check.ok:
            return check
        first = first or check
    assert first is not None
    return first


# --- relayed documents: the key through its controller's own actor document -----------

def author_of(doc: dict) -> str | None | ProofCheck:
    """Who a document says made it: ``actor`` (an activity) or ``attributedTo`` (an
    object); both present and different is refused."""
    actor, attributed = first_id(doc.get("actor")), first_id(doc.get("attributedTo"))
    if actor and attributed and actor != attributed:
        return _fail(ProofFailure.ACTOR_MISMATCH,
                     f"actor {actor} and attributedTo {attributed} differ")
    return actor or attributed


async def verify_relayed(fed, doc: dict, *, claimed_actor: str | None = None,
                         now: datetime | None = None) -> ProofCheck:
    """Verify a document relayed by anyone: its proof must be made with a key that its
    author's own actor document, fetched from the author's origin, lists in
    ``assertionMethod`` and whose controller is that author.

    ``fed`` is a :class:`~ssefed.federation.service.Federation`. The author is the
    document's ``actor`` or ``attributedTo``; ``claimed_actor``, when given, must be it. The
    key id must be on the author's origin (checked before anything is fetched). A key the
    stored actor does not list, or a signature that fails with the stored key, makes the
    node refetch the actor once (key rotation; once per actor per 30 s, see
    :mod:`~ssefed.federation.proofkeys`), then refuse.
    On success ``ProofCheck.actor`` is the verified author."""
    proofs = _proofs(doc)
    if isinstance(proofs, ProofCheck):
        return proofs
    author = author_of(doc)
    if isinstance(author, ProofCheck):
        return author
    origin = trust.origin(author)
    if origin is None:
        return _fail(ProofFailure.NO_ACTOR)
    if claimed_actor is not None and claimed_actor != author:
        return _fail(ProofFailure.ACTOR_MISMATCH,
                     f"the document is by {author}, not by {claimed_actor}")
    on_origin = [p for p in proofs if trust.same_origin(p.get("verificationMethod"), author)]
    if not on_origin:
        vm = next((p.get("verificationMethod") for p in proofs), None)
        return _fail(ProofFailure.KEY_ORIGIN,
                     f"the key {vm} is not on {origin}, the origin of {author}")
    now = now or datetime.now(timezone.utc)
    window = fed.config.federation.signature_window_seconds
    checked = [(p, _precheck(p, doc, now, window)) for p in on_origin]
    usable = [(p, s) for p, s in checked if not isinstance(s, ProofCheck)]
    if not usable:
        return checked[0][1]  # type: ignore[return-value]
    if await fed.is_blocked(urlsplit(author).netloc.lower()):
        return _fail(ProofFailure.BLOCKED, urlsplit(author).netloc.lower())
    doc_hash = _doc_hash(doc)
    if isinstance(doc_hash, ProofCheck):
        return doc_hash
    proof, signature = usable[0]
    vm = proof["verificationMethod"]
    listed = await assertion_keys(fed, author, refresh=False)
    check = _against(listed, author, vm, proof, signature, doc_hash)
    if (not check.ok and not listed.fresh and check.reason in (
            ProofFailure.KEY_NOT_LISTED, ProofFailure.BAD_SIGNATURE,
            ProofFailure.ACTOR_UNAVAILABLE) and may_refetch(fed, author)):
        listed = await assertion_keys(fed, author, refresh=True)
        check = _against(listed, author, vm, proof, signature, doc_hash)
    if not check.ok:
        return check
    return ProofCheck(True, verification_method=vm, created=check.created, actor=author)


def _against(listed: ListedKeys, author: str, vm: str, proof: dict, signature: bytes,
             doc_hash: bytes) -> ProofCheck:
    if listed.keys is None:
        return _fail(ProofFailure.ACTOR_UNAVAILABLE, listed.problem)
    entry = listed.keys.get(vm)
    if entry is None:
        return _fail(ProofFailure.KEY_NOT_LISTED, f"{author} does not list {vm}")
    kind, controller, pem = entry
    if controller and controller != author:
        return _fail(ProofFailure.CONTROLLER_MISMATCH,
                     f"the key {vm} is controlled by {controller}, not by {author}")
    if kind != "ed25519":
        return _fail(ProofFailure.INVALID_KEY, f"the key {vm} is a {kind} key")
    key = _public_key(pem)
    if isinstance(key, ProofCheck):
        return key
    return _check_signature(proof, signature, doc_hash, key)


async def sign_as(db, ids, actor, doc: dict) -> dict:
    """``doc`` signed by the local ``actor`` (a db ``Actor``) with its Ed25519 key (made
    now if it has none yet), dated now. ``db`` is the node's Database, ``ids`` its
    LocalIds. A document naming another author is refused (ValueError): its proof could
    never verify."""
    author = author_of(doc)
    if isinstance(author, ProofCheck) or (author is not None and author != actor.ap_id):
        raise ValueError(f"the document is not by {actor.ap_id}")
    keys = await ensure_keys(db, ids, actor.id)
    key = next((k for k in keys if k.kind == "ed25519" and k.private_pem), None)
    if key is None:
        raise ValueError(f"{actor.ap_id} is not a local actor with an Ed25519 key")
    return sign_object(doc, key.private_pem, key.key_id, created=utcnow())
