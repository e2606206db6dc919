"""Origin and ownership: who may say what. Every rule is written here once.

Everything this node receives passes these checks, whichever way it came:
- pushed to an inbox: ``check_activity`` (in ``Inbox.receive``, before anything is
  stored), then ``owned_object`` for each object applied (``federation/apply/``, alone or
  in a batch), and ``check_stored_owner`` before it replaces a stored one;
- pulled from another server: ``check_served`` (in ``Federation.fetch_json``, the one
  fetch function) and ``check_actor`` (in ``Federation.fetch_actor``).

The rules (SECURITY.md explains the threat model):
- an object is what its origin serves: a fetched document's ``id`` is on the origin of
  the URL that finally answered (after redirects); an actor's ``id`` is the URL it was
  fetched from;
- an actor speaks only for itself: an activity's ``id`` is on its actor's origin, and
  what it creates, updates or deletes is attributed to that very actor (not another
  actor of the same host);
- a key belongs to the actor whose document lists it, on that actor's origin;
- an actor's inboxes are on its own origin;
- nothing received takes an id in this node's own namespace.
"""

from __future__ import annotations

import functools
from typing import Any, Callable
from urllib.parse import urldefrag, urlsplit

from ssefed.vocab import from_as

_DEFAULT_PORTS = {"http": 80, "https": 443}


class Untrusted(ValueError):
    """Someone claims what it may not say: ``field`` names where (a JSON path of the
    received document, as ParseError does), the message why."""

    def __init__(self, field: str, why: str) -> None:
        super().__init__(f"{field}: {why}")
        self.field, self.why = field, why


def origin(iri: Any) -> str | None:
    """``scheme://host:port`` of an http(s) IRI (lower case, explicit port), else None."""
    if not isinstance(iri, str):
        return None
    return _parse(iri)[0]


@functools.lru_cache(maxsize=4096)  # the same actors, request after request
def _parse(iri: str) -> tuple[str | None, str | None]:
    """(origin, literal ``scheme://authority`` prefix of ``iri`` as written, when it is)."""
    try:
        parts = urlsplit(iri)
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return None, None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None, None
    prefix = f"{parts.scheme}://{parts.netloc}"
    return f"{scheme}://{parts.hostname.lower()}:{port}", (
        prefix if iri.startswith(prefix) else None)


def same_origin(iri: Any, of: Any) -> bool:
    """Is ``iri`` on the origin of ``of``? ``of`` is the known side (an actor, a URL that
    answered), parsed once and cached; ``iri`` (a new id every time) is parsed only when
    it does not begin with ``of``'s own ``scheme://authority`` followed by ``/``, ``?``,
    ``#`` or nothing (the same characters there are the same origin for any parser)."""
    if not isinstance(of, str) or not isinstance(iri, str):
        return False
    known, prefix = _parse(of)
    if known is None:
        return False
    if prefix is not None and iri.startswith(prefix) and iri[len(prefix):len(prefix) + 1] in (
            "", "/", "?", "#"):
        return True
    return known == _parse.__wrapped__(iri)[0]  # not cached: it would evict the actors


# -- what is fetched --------------------------------------------------------------------
def check_served(doc: dict[str, Any], url: str, final_url: str) -> None:
    """A document fetched from ``url`` that ``final_url`` answered (after redirects):
    its ``id``, when it has one, must be on the origin of ``final_url``."""
    doc_id = doc.get("id")
    if doc_id is None:
        return
    if not isinstance(doc_id, str) or not same_origin(doc_id, final_url):
        where = url if final_url == url else f"{url} (redirected to {final_url})"
        raise Untrusted("id", f"{where} served a document of another origin: {str(doc_id)[:200]}")


def check_actor(actor: from_as.RemoteActor, url: str, final_url: str) -> None:
    """An actor document fetched from ``url``: its id is the URL asked for or the one that
    answered, on the answering origin; its inboxes are on its origin."""
    if actor.id not in (url, final_url) or not same_origin(actor.id, final_url):
        raise Untrusted("id", f"{url} answered the actor {actor.id[:200]}")
    for field, inbox in (("inbox", actor.inbox), ("endpoints.sharedInbox", actor.shared_inbox)):
        if inbox is not None and not same_origin(inbox, actor.id):
            raise Untrusted(field, f"an actor's inbox is on its own origin, not {inbox[:200]}")


def key_belongs_to(key_id: str, actor_iri: str) -> bool:
    """May ``actor_iri``'s document list the key ``key_id``? Only a key on its origin."""
    return same_origin(key_id, actor_iri)


def key_named_for(key_id: str, actor_iri: str) -> bool:
    """Is ``key_id`` under the actor's own IRI (``<actor>#main-key``, ``<actor>/main-key``)?
    Such a key is the actor's, even if another actor of its origin listed it first."""
    base = urldefrag(key_id)[0]
    return base == actor_iri or base.startswith(actor_iri.rstrip("/") + "/")


# -- what is pushed ---------------------------------------------------------------------
# Verbs whose object the activity's actor must own (an actor speaks only for itself).
AUTHORED = ("Create", "Update", "Delete")


def check_activity(activity: from_as.Activity, is_local: Callable[[str], bool]) -> None:
    """An activity received in an inbox, before it is stored: signed by ``activity.actor``
    (checked by the caller), it may only speak for that actor."""
    actor = activity.actor or ""
    if origin(actor) is None:
        raise Untrusted("actor", "not an http(s) IRI")
    if is_local(actor):
        raise Untrusted("actor", "an actor of this node sends nothing to its own inbox")
    if activity.id is not None and not same_origin(activity.id, actor):
        raise Untrusted("id", "an activity's id is on its actor's origin")
    if activity.type in AUTHORED and activity.object_id != actor:
        check_authored(activity.object, activity.object_id, actor, is_local, field="object")
    if activity.type == "Undo" and isinstance(activity.object, dict):
        inner = activity.object
        if from_as.first_id(inner.get("actor")) not in (None, actor):
            raise Untrusted("object.actor", "an actor can only undo its own activities")


def check_authored(obj: dict[str, Any] | None, object_id: str | None, actor: str,
                   is_local: Callable[[str], bool], *, field: str = "object") -> None:
    """An object created, updated or deleted by ``actor`` (embedded, or only its id)."""
    if object_id is None:
        raise Untrusted(f"{field}.id" if obj is not None else field, "missing")
    if is_local(object_id):
        raise Untrusted(f"{field}.id", "an id of this node is not another server's to use")
    if not same_origin(object_id, actor):
        raise Untrusted(f"{field}.id", "the object is not on its actor's origin")
    if obj is not None:
        attributed = from_as.first_id(obj.get("attributedTo"))
        if attributed is not None and attributed != actor:
            raise Untrusted(f"{field}.attributedTo",
                            "an actor creates, updates and deletes only its own objects")


def owned_object(obj: dict[str, Any], author: str | None,
                 is_local: Callable[[str], bool]) -> tuple[str, str, str]:
    """(id, type, author) of an object about to be stored as ``author``'s: the actor that
    sent it, or the origin that served it (its ``attributedTo`` then). Raise Untrusted."""
    object_id = obj.get("id")
    if not isinstance(object_id, str) or origin(object_id) is None:
        raise Untrusted("object.id", "missing or not an http(s) IRI")
    attributed = from_as.first_id(obj.get("attributedTo")) or author
    if author is None or attributed != author:
        raise Untrusted("object.attributedTo", "the object does not belong to the actor")
    check_authored(obj, object_id, author, is_local)
    object_type = obj.get("type")
    if isinstance(object_type, list):
        object_type = next((t for t in object_type if isinstance(t, str)), "Object")
    return object_id, str(object_type or "Object")[:64], author


def check_stored_owner(field: str, owner: Any, author: Any) -> None:
    """An object already stored here (an offer, a remote object) is replaced only by the
    actor it is stored as; ``owner`` None: this node's own, which no one else replaces."""
    if owner is None or owner != author:
        raise Untrusted(field, "the object belongs to another actor")
