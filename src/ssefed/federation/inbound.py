"""Inbound activities: verify the signature, parse, dedupe, store, and answer 202.

Side effects never run here: they run from a job (handlers.py), so a crash after the
202 loses nothing and the same activity id twice has its effect once.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urldefrag, urlsplit

from ssefed.db.models import Actor, ActorKey
from ssefed.db.repos import remote as remote_repo
from ssefed.federation import httpsig, trust
from ssefed.federation.client import FetchError
from ssefed.federation.inboxwriter import InboxWriter
from ssefed.federation.ratelimit import InboxLimits
from ssefed.federation.service import Federation
from ssefed.vocab import from_as, strictjson

log = logging.getLogger("ssefed.inbox")

REFETCH_INTERVAL = 30.0  # seconds between two refetches of the same key's actor
KEY_CACHE_SECONDS = 600.0  # keys read from the database are trusted this long in memory
KEY_CACHE_SIZE = 20_000


@dataclass
class Refusal(Exception):
    """Why an inbound request is refused: HTTP status, a short title, the detail."""

    status: int
    title: str
    detail: str
    field: str = ""  # what in the request is refused, when it is one field


def _reason(exc: httpsig.VerificationError) -> str:
    return f"{exc.reason.value}: {exc.detail}" if exc.detail else exc.reason.value


@dataclass(frozen=True)
class KnownKey:
    """A verified actor's key, as cached in memory: id, SPKI PEM, the actor listing it."""

    key_id: str
    public_pem: str
    owner: str


@dataclass
class Received:
    accepted: bool  # False: acknowledged and dropped (duplicate, Delete of an unknown actor)
    item_id: int | None
    note: str


class Inbox:
    def __init__(self, federation: Federation, wake=None, wake_deliveries=None) -> None:
        """``wake``: new jobs were queued (the worker); ``wake_deliveries``: deliveries
        became due (a failing host was heard from)."""
        self.fed = federation
        self.db = federation.db
        self.wake = wake or (lambda: None)
        self.wake_deliveries = wake_deliveries or (lambda: None)
        self._refetched: dict[str, float] = {}  # key id -> last refetch (rotation)
        self._keys: dict[str, tuple[KnownKey, float]] = {}  # key id -> (key, cached at)
        self.writer = InboxWriter(federation.db, federation.is_down, self._host_back)
        self._missed: dict[str, float] = {}  # key id -> last fetch that did not list it
        self._inflight: dict[str, asyncio.Future] = {}
        self.limits = InboxLimits.from_config(federation.config.federation)

    def _host_back(self, host: str) -> None:
        self.fed.back_up(host)
        self.wake_deliveries()

    async def receive(self, method: str, url: str, headers: Mapping[str, str],
                      body: bytes) -> Received:
        """Verify and store one POST to an inbox, or raise Refusal."""
        cfg = self.fed.config.federation
        try:
            doc = strictjson.loads(body, max_depth=cfg.max_json_depth)
        except strictjson.JSONRefused as exc:
            raise Refusal(exc.status, exc.title, exc.detail, exc.field) from None
        if not isinstance(doc, dict):
            raise Refusal(400, "Bad Request", "the body is not a JSON object", "body")
        try:
            activity = from_as.parse_activity(doc)
        except from_as.ParseError as exc:
            raise Refusal(400, "Bad Request", f"not an activity: {exc}") from None
        if not activity.actor:
            raise Refusal(400, "Bad Request", "the activity has no actor")
        try:  # who may say what: checked before anything is fetched or stored
            trust.check_activity(activity, self.fed.ids.is_local)
        except trust.Untrusted as exc:
            raise Refusal(400, "Bad Request", str(exc)) from None
        actor_host = urlsplit(activity.actor).netloc.lower()
        if await self.fed.is_blocked(actor_host):
            raise Refusal(403, "Forbidden", f"{actor_host} is blocked on this node")
        self.limits.check(activity.actor, actor_host)  # RateLimited: before signature work

        if activity.type == "Delete":
            known = await self.fed.known_actor(activity.actor)
            if known is None:
                # Delete floods: never verify or fetch for an actor we never stored.
                return Received(False, None, "Delete from an unknown actor: dropped")

        # Normalised once: parsing and verifying the signature below share it.
        headers = httpsig.normalize_headers(headers)
        try:
            info = httpsig.parse_signature(method, url, headers)
        except httpsig.VerificationError as exc:
            raise Refusal(401, "Unauthorized", _reason(exc)) from None
        key, owner = await self._key(info.key_id, activity, refetch=activity.type != "Delete")
        try:
            self._verify(info, method, url, headers, body, key)
        except httpsig.VerificationError as exc:
            if (exc.reason in (httpsig.Failure.BAD_SIGNATURE, httpsig.Failure.KEY_MISMATCH)
                    and activity.type != "Delete" and self._may_refetch(info.key_id)):
                key, owner = await self._key(info.key_id, activity, refetch=True, force=True)
                try:
                    self._verify(info, method, url, headers, body, key)
                except httpsig.VerificationError as again:
                    raise Refusal(401, "Unauthorized", _reason(again)) from None
            else:
                raise Refusal(401, "Unauthorized", _reason(exc)) from None

        self.limits.spend(activity.actor, actor_host)  # verified: only its actor spends it
        ap_id = activity.id or "urn:sha256:" + hashlib.sha256(body).hexdigest()
        item_id = await self.writer.store(
            {"ap_id": ap_id, "type": activity.type[:64], "actor_ap_id": activity.actor,
             "key_id": info.key_id, "document": body.decode(json.detect_encoding(body))},
            actor_host)
        self.wake()
        if item_id is None:
            return Received(False, None, "duplicate activity id: already received")
        return Received(True, item_id, "accepted")

    def _verify(self, info: httpsig.SignedRequestInfo, method: str, url: str,
                headers: Mapping[str, str], body: bytes, key: KnownKey) -> None:
        httpsig.verify(info, method, url, headers, body, key.public_pem,
                       window_seconds=self.fed.config.federation.signature_window_seconds)

    def _may_refetch(self, key_id: str) -> bool:
        now = time.monotonic()
        if now - self._refetched.get(key_id, -REFETCH_INTERVAL) < REFETCH_INTERVAL:
            return False
        if len(self._refetched) > 10_000:
            self._refetched.clear()
        self._refetched[key_id] = now
        return True

    async def _key(self, key_id: str, activity: from_as.Activity, *, refetch: bool,
                   force: bool = False) -> tuple[KnownKey, str]:
        """The key named by the signature, which must be listed by the activity's actor's
        own document. An unknown key makes the node fetch its actor; concurrent requests
        with the same unknown key wait for that one fetch. ``force``: refetch a known key
        (rotation)."""
        if not force:
            cached = self._keys.get(key_id)
            known = None
            if cached is not None and time.monotonic() - cached[1] < KEY_CACHE_SECONDS:
                known = cached[0]
            else:
                async with self.db.read() as s:
                    found = await remote_repo.get_key(s, key_id)
                if found is not None:
                    known = self._remember(found)
            # A key under the actor's own IRI that another actor listed first never locks
            # its owner out: the owner's document is read (at most once per interval).
            if known is not None and (known.owner == activity.actor or not refetch
                                      or not trust.key_named_for(key_id, activity.actor or "")
                                      or not self._may_refetch(key_id)):
                return self._owned(known, activity)
            if known is None and not refetch:
                raise Refusal(401, "Unauthorized", f"unknown key {key_id}")
            missed = self._missed.get(key_id)
            if missed is not None and time.monotonic() - missed < REFETCH_INTERVAL:
                raise Refusal(401, "Unauthorized", f"unknown key {key_id} (not listed by its "
                                                   "actor when fetched a moment ago)")
        self._keys.pop(key_id, None)
        owner_iri = await self._fetch_once(key_id, activity)
        async with self.db.read() as s:
            found = await remote_repo.get_key(s, key_id)
        if found is None:
            if len(self._missed) > 10_000:
                self._missed.clear()
            self._missed[key_id] = time.monotonic()
            raise Refusal(401, "Unauthorized",
                          f"the actor {owner_iri} does not list the key {key_id}")
        return self._owned(self._remember(found), activity)

    def _remember(self, found: tuple[ActorKey, Actor]) -> KnownKey:
        key, owner = found
        known = KnownKey(key.key_id, key.public_pem, owner.ap_id)
        if len(self._keys) >= KEY_CACHE_SIZE:
            self._keys.pop(next(iter(self._keys)))
        self._keys[key.key_id] = (known, time.monotonic())
        return known

    async def _fetch_once(self, key_id: str, activity: from_as.Activity) -> str:
        """Fetch the key's actor and return its IRI; a fetch already running for this key
        is shared. Every fetch counts against the key's refetch interval."""
        running = self._inflight.get(key_id)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._inflight[key_id] = future
        self._refetched[key_id] = time.monotonic()
        try:
            owner_iri = await self._key_owner(key_id, activity)
            try:
                await self.fed.fetch_actor(owner_iri)
            except (FetchError, from_as.ParseError) as exc:
                raise Refusal(401, "Unauthorized",
                              f"cannot fetch the key's actor: {exc}") from None
            future.set_result(owner_iri)
            return owner_iri
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters (if any) still receive it
            raise
        finally:
            self._inflight.pop(key_id, None)

    async def _key_owner(self, key_id: str, activity: from_as.Activity) -> str:
        """Who claims the key: the actor document at the key id, or the key document's
        owner (GoToSocial serves a stub at /main-key). A claim is only a hint: the owner's
        own document must list the key."""
        base, _ = urldefrag(key_id)
        if base == activity.actor:
            return base
        try:
            doc = await self.fed.fetch_json(base)
            parsed = from_as.parse_key_document(doc)
        except (FetchError, from_as.ParseError) as exc:
            raise Refusal(401, "Unauthorized", f"cannot fetch the key {key_id}: {exc}") from None
        if isinstance(parsed, from_as.RemoteActor):
            return parsed.id
        owner = getattr(parsed, "owner", None) or getattr(parsed, "controller", None)
        if not owner:
            raise Refusal(401, "Unauthorized", f"the key {key_id} names no owner")
        return owner

    @staticmethod
    def _owned(key: KnownKey, activity: from_as.Activity) -> tuple[KnownKey, str]:
        if key.owner != activity.actor:
            raise Refusal(401, "Unauthorized",
                          f"the key {key.key_id} belongs to {key.owner}, "
                          f"not to the activity's actor {activity.actor}")
        return key, key.owner
