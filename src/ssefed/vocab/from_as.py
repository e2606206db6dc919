"""Tolerant readers for received ActivityStreams JSON.

Plain JSON only: ``@context`` is ignored, nothing is expanded or fetched.
Every reader takes an already-decoded ``dict`` and returns frozen dataclasses,
or raises :class:`ParseError` naming the offending field path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from ssefed.vocab.multibase import KeyKind, decode_multikey, spki_pem
from ssefed.vocab.strictjson import depth_ok as json_depth_ok  # re-exported

__all__ = [
    "ACTOR_TYPES", "PUBLIC", "Activity", "Multikey", "ParseError", "PublicKey",
    "RemoteActor", "addressees", "as_list", "decode_multikey", "first_id",
    "json_depth_ok", "parse_activity", "parse_actor", "parse_key_document",
]  # fmt: skip

ACTOR_TYPES = frozenset({"Person", "Service", "Group", "Organization", "Application"})
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
_PUBLIC_ALIASES = {"as:Public", "Public", PUBLIC}
_AS_PREFIXES = ("https://www.w3.org/ns/activitystreams#", "as:")
MAX_ID_LEN = 2048
MAX_PEM_LEN = 16_384
MAX_MULTIBASE_LEN = 4096


class ParseError(ValueError):
    """A received document could not be read; ``path`` names the field."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path or '<root>'}: {message}")
        self.path = path
        self.message = message


@dataclass(frozen=True)
class PublicKey:
    """A ``publicKey`` entry; ``pem`` is always SPKI (``BEGIN PUBLIC KEY``)."""

    id: str
    owner: str | None
    pem: str
    kind: KeyKind


@dataclass(frozen=True)
class Multikey:
    """A FEP-521a ``Multikey`` with its multibase value decoded to SPKI PEM."""

    id: str
    controller: str | None
    kind: KeyKind
    public_key_pem: str


@dataclass(frozen=True)
class RemoteActor:
    """The parts of a remote actor document this node uses."""

    id: str
    type: str
    preferred_username: str | None
    name: str | None
    summary: str | None
    inbox: str | None
    outbox: str | None
    shared_inbox: str | None
    followers: str | None
    following: str | None
    url: str | None
    public_keys: tuple[PublicKey, ...]
    multikeys: tuple[Multikey, ...]
    manually_approves_followers: bool
    raw: dict = field(repr=False, compare=False)

    def key(self, key_id: str) -> PublicKey | Multikey | None:
        """Return the key this document lists under exactly ``key_id``.

        ``publicKey`` entries win over ``assertionMethod`` ones with the same id.
        The caller still decides whether the key's owner/controller is trusted.
        """
        return next((k for k in (*self.public_keys, *self.multikeys) if k.id == key_id), None)


@dataclass(frozen=True)
class Activity:
    """An activity envelope; the embedded object (if any) is kept as a dict."""

    id: str | None
    type: str
    actor: str | None
    object_id: str | None
    object: dict | None
    to: tuple[str, ...]
    cc: tuple[str, ...]
    bto: tuple[str, ...]
    bcc: tuple[str, ...]
    audience: tuple[str, ...]
    published: str | None
    raw: dict = field(repr=False, compare=False)


def as_list(value: Any) -> list:
    """``None`` -> ``[]``, a list -> a copy of it, anything else -> ``[value]``."""
    return [] if value is None else list(value) if isinstance(value, list) else [value]


def _ref(value: Any) -> str | None:
    """The IRI a single string, object (``id``) or Link (``href``) points to."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        oid, href = value.get("id"), value.get("href")
        href = href if isinstance(href, str) else None
        if href and ("Link" in as_list(value.get("type")) or not isinstance(oid, str)):
            return href  # a Link (or Mention): its target is href, not its own id
        return oid if isinstance(oid, str) else None
    return None


def first_id(value: Any) -> str | None:
    """The first IRI in a string, object with ``id``, Link with ``href``, or list of those."""
    if isinstance(value, list):
        for item in value:  # one level only: nested lists are not descended into
            ref = _ref(item)
            if ref is not None:
                return ref
        return None
    return _ref(value)


def _is_http(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _iri(value: Any, path: str, *, required: bool = False) -> str | None:
    """Read an IRI field strictly: present but not an http(s) IRI of sane length raises."""
    ref = first_id(value)
    if ref is None:
        if required or value is not None:
            raise ParseError(path, "missing" if value is None else "not an IRI")
        return None
    if len(ref) > MAX_ID_LEN:
        raise ParseError(path, f"longer than {MAX_ID_LEN} characters")
    if not _is_http(ref):
        raise ParseError(path, "not an http(s) IRI")
    return ref


def _req_iri(value: Any, path: str) -> str:
    """Like :func:`_iri` but the field must be present."""
    ref = _iri(value, path, required=True)
    assert ref is not None
    return ref


def _loose_iri(value: Any) -> str | None:
    """Read an informational IRI field: anything unusable becomes ``None``."""
    ref = first_id(value)
    if ref is None or len(ref) > MAX_ID_LEN or not _is_http(ref):
        return None
    return ref


def _text(value: Any) -> str | None:
    """A non-empty string, else ``None`` (``""`` and ``null`` both read as absent)."""
    return value if isinstance(value, str) and value.strip() else None


def _short_type(value: str) -> str:
    return next((value[len(p) :] for p in _AS_PREFIXES if value.startswith(p)), value)


def _pick_type(value: Any, path: str, preferred: frozenset[str] = frozenset()) -> str:
    """One type name from a string or list: the first in ``preferred``, else the first string."""
    names = [_short_type(t) for t in as_list(value) if isinstance(t, str) and t]
    if not names:
        raise ParseError(path, "missing")
    return next((n for n in names if n in preferred), names[0])


def _addresses(value: Any) -> tuple[str, ...]:
    """Addressing field -> tuple of IRIs; Public aliases normalised, junk dropped."""
    out: list[str] = []
    for item in as_list(value):
        ref = _ref(item)
        if ref is None or len(ref) > MAX_ID_LEN:
            continue
        ref = PUBLIC if ref in _PUBLIC_ALIASES else ref
        if ref not in out:
            out.append(ref)
    return tuple(out)


def _indexed(base: str, index: int, many: bool) -> str:
    return f"{base}[{index}]" if many else base


def _sub(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _kind(key: Any, path: str) -> KeyKind:
    if isinstance(key, rsa.RSAPublicKey):
        return "rsa"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519"
    raise ParseError(path, f"unsupported key type {type(key).__name__}")


def _load_pem(value: Any, path: str) -> tuple[str, KeyKind]:
    """Parse SPKI or PKCS#1 PEM text and return it as SPKI PEM."""
    if not isinstance(value, str) or not value.strip():
        raise ParseError(path, "missing")
    if len(value) > MAX_PEM_LEN:
        raise ParseError(path, "PEM too long")
    try:
        key = serialization.load_pem_public_key(value.strip().encode("ascii"))
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ParseError(path, f"PEM does not parse: {exc}") from None
    return spki_pem(key), _kind(key, path)


def _parse_public_key(doc: dict, path: str) -> PublicKey:
    pem, kind = _load_pem(doc.get("publicKeyPem"), _sub(path, "publicKeyPem"))
    return PublicKey(
        id=_req_iri(doc.get("id"), _sub(path, "id")),
        owner=_iri(doc.get("owner"), _sub(path, "owner")),
        pem=pem,
        kind=kind,
    )


def _parse_multikey(doc: dict, path: str) -> Multikey:
    value, mb_path = doc.get("publicKeyMultibase"), _sub(path, "publicKeyMultibase")
    if not isinstance(value, str) or not value:
        raise ParseError(mb_path, "missing")
    if len(value) > MAX_MULTIBASE_LEN:
        raise ParseError(mb_path, "too long")
    try:
        kind, pem = decode_multikey(value)
    except ValueError as exc:
        raise ParseError(mb_path, str(exc)) from None
    return Multikey(
        id=_req_iri(doc.get("id"), _sub(path, "id")),
        controller=_iri(doc.get("controller"), _sub(path, "controller")),
        kind=kind,
        public_key_pem=pem,
    )


def _public_keys(value: Any) -> tuple[PublicKey, ...]:
    many = isinstance(value, list)  # bare key-id strings are references, not keys
    return tuple(
        _parse_public_key(item, _indexed("publicKey", i, many))
        for i, item in enumerate(as_list(value))
        if isinstance(item, dict)
    )


def _multikeys(value: Any) -> tuple[Multikey, ...]:
    many = isinstance(value, list)
    out: dict[str, Multikey] = {}
    for i, item in enumerate(as_list(value)):
        if not isinstance(item, dict):
            continue  # references to keys listed elsewhere
        if "publicKeyMultibase" not in item and "Multikey" not in as_list(item.get("type")):
            continue  # some other verification method type; not ours to read
        mk = _parse_multikey(item, _indexed("assertionMethod", i, many))
        out.setdefault(mk.id, mk)
    return tuple(out.values())


def _require_dict(doc: Any) -> dict:
    if not isinstance(doc, dict):
        raise ParseError("", f"expected a JSON object, got {type(doc).__name__}")
    return doc


def parse_actor(doc: dict) -> RemoteActor:
    """Read an actor document (Person, Service, Group, Organization, Application)."""
    doc = _require_dict(doc)
    actor_id = _req_iri(doc.get("id"), "id")
    actor_type = _pick_type(doc.get("type"), "type", ACTOR_TYPES)
    if actor_type not in ACTOR_TYPES:
        raise ParseError("type", f"not an actor type: {actor_type!r}")
    endpoints = doc.get("endpoints")
    shared = endpoints.get("sharedInbox") if isinstance(endpoints, dict) else None
    return RemoteActor(
        id=actor_id,
        type=actor_type,
        preferred_username=_text(doc.get("preferredUsername")),
        name=_text(doc.get("name")),
        summary=_text(doc.get("summary")),
        inbox=_iri(doc.get("inbox"), "inbox"),
        outbox=_loose_iri(doc.get("outbox")),
        shared_inbox=_iri(shared, "endpoints.sharedInbox"),
        followers=_loose_iri(doc.get("followers")),
        following=_loose_iri(doc.get("following")),
        url=_loose_iri(doc.get("url")),
        public_keys=_public_keys(doc.get("publicKey")),
        multikeys=_multikeys(doc.get("assertionMethod")),
        manually_approves_followers=doc.get("manuallyApprovesFollowers") is True,
        raw=doc,
    )


def parse_key_document(doc: dict) -> PublicKey | Multikey | RemoteActor:
    """Read whatever a key id dereferenced to.

    A bare key (``publicKeyPem``) gives a :class:`PublicKey`, a bare FEP-521a
    ``Multikey`` gives a :class:`Multikey`, and an actor (full, or GoToSocial's
    stub with no inbox) gives a :class:`RemoteActor` whose keys the caller looks
    up with :meth:`RemoteActor.key`. A stub's ``inbox`` is ``None``: re-fetch
    the key owner for the full actor.
    """
    doc = _require_dict(doc)
    types = {_short_type(t) for t in as_list(doc.get("type")) if isinstance(t, str)}
    if types & ACTOR_TYPES:
        return parse_actor(doc)
    if "publicKeyPem" in doc:
        return _parse_public_key(doc, "")
    if "publicKeyMultibase" in doc or "Multikey" in types:
        return _parse_multikey(doc, "")
    raise ParseError("type", "neither an actor nor a key document")


def parse_activity(doc: dict) -> Activity:
    """Read an activity envelope; ``object`` may be an IRI or an embedded object."""
    doc = _require_dict(doc)
    obj = doc.get("object")
    if isinstance(obj, list):  # several objects are legal AS2 but rare; keep the first
        obj = next((o for o in obj if isinstance(o, (str, dict))), None)
    object_id = first_id(obj)
    if object_id is not None and len(object_id) > MAX_ID_LEN:
        raise ParseError("object.id" if isinstance(obj, dict) else "object", "too long")
    published = doc.get("published")
    return Activity(
        id=_iri(doc.get("id"), "id"),
        type=_pick_type(doc.get("type"), "type"),
        actor=_iri(doc.get("actor"), "actor"),
        object_id=object_id,
        object=obj if isinstance(obj, dict) else None,
        to=_addresses(doc.get("to")),
        cc=_addresses(doc.get("cc")),
        bto=_addresses(doc.get("bto")),
        bcc=_addresses(doc.get("bcc")),
        audience=_addresses(doc.get("audience")),
        published=published if isinstance(published, str) else None,
        raw=doc,
    )


def addressees(activity: Activity) -> set[str]:
    """Every IRI the activity envelope is addressed to (to, cc, bto, bcc, audience)."""
    return {*activity.to, *activity.cc, *activity.bto, *activity.bcc, *activity.audience}
