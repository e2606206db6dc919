"""What a peer answers to a chain query about an organisation on another origin is a
claim: a peer speaks for its own origin only. Such an offer counts once verified at its
origin: this node holds it as received from there (or published it), or fetches it once
from there (kept ``members_max_age_seconds``, within the query's time); what the node
then shows is what the origin said. A claim that cannot be verified is shown as
unverified, and is never guaranteed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any, AsyncIterator
from urllib.parse import urlsplit

from ssefed.domain.chains import Candidate
from ssefed.federation import trust
from ssefed.federation.apply.offers import read_offer
from ssefed.federation.client import FetchError
from ssefed.federation.networks import names_networks
from ssefed.federation.service import Federation
from ssefed.vocab import from_as, proposals

log = logging.getLogger("ssefed.claims")

FETCHES_PER_CHECK = 64  # offers fetched for one round of a query, at most
CONCURRENT_FETCHES = 8  # for the whole node
FETCHES_PER_ORIGIN = 4  # at once: one slow origin never takes all of the node's slots
MAX_CACHED = 10_000
TRANSIENT_SECONDS = 30.0  # an origin that did not answer is asked again after this
DEFINITE = frozenset({"status", "refused", "blocked", "not-json", "too-large", "redirects"})


def origin(iri: str) -> str:
    """The host (and port) of ``iri``, as a link's ``node`` names it."""
    return urlsplit(iri).netloc.lower()


@dataclass(frozen=True)
class Verdict:
    """What the origin said of an offer: its facts as a candidate (``None`` when it does
    not serve that offer), or why it could not be read."""

    candidate: Candidate | None
    reason: str = ""


class _Cache:
    """Verdicts by offer IRI, each until its expiry; the oldest go first past the bound."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[str, tuple[Any, float]] = OrderedDict()

    def get(self, key: str) -> Any:
        item = self._items.get(key)
        if item is None:
            return None
        if item[1] < time.monotonic():
            del self._items[key]
            return None
        return item[0]

    def put(self, key: str, value: Any, seconds: float) -> None:
        self._items[key] = (value, time.monotonic() + seconds)
        self._items.move_to_end(key)
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)


def unverified(c: Candidate, reason: str) -> Candidate:
    return replace(c, verified=False, unverified_reason=reason[:300], guarantee={},
                   guaranteed=False)


def from_origin(claim: Candidate, facts: Candidate) -> Candidate:
    """The claim as its origin states it (the peer that reported it kept as ``via``)."""
    return replace(facts, via=claim.via, verified=True, unverified_reason="", guarantee={},
                   guaranteed=False)


class OfferClaims:
    """Checks the offers peers report for other origins; one per node."""

    def __init__(self, fed: Federation) -> None:
        self.fed = fed
        self.max_age = fed.config.chains.members_max_age_seconds
        self._cache = _Cache(MAX_CACHED)  # offer -> Verdict
        self._actors = _Cache(MAX_CACHED)  # actor -> its document, as its origin serves it
        self._running: dict[str, asyncio.Task] = {}
        self._slots = asyncio.Semaphore(CONCURRENT_FETCHES)
        self._origins: dict[str, list[Any]] = {}  # host -> [its semaphore, fetches using it]

    async def check(self, claims: list[Candidate], held: dict[str, Candidate],
                    deadline: float) -> list[Candidate]:
        """Each claim as its origin states it, or marked unverified (and why). ``held``:
        the offers among them this node holds (published here or received from their
        origin), as candidates. Fetches end by ``deadline`` (time.monotonic()); a fetch
        still running then goes on, and its answer serves the next query."""
        verdicts: dict[str, Verdict] = {}
        todo: dict[str, str] = {}  # offer -> claimed actor
        for c in claims:
            if c.offer in verdicts or c.offer in todo:
                continue
            if c.offer in held:
                verdicts[c.offer] = Verdict(held[c.offer])
            elif (cached := self._cache.get(c.offer)) is not None:
                verdicts[c.offer] = cached
            elif self.fed.ids.is_local(c.offer):
                verdicts[c.offer] = Verdict(None, "this node holds no such offer")
            else:
                todo[c.offer] = c.actor
        if todo and deadline - time.monotonic() > 0.02:
            tasks = {iri: self._fetch(iri, actor)
                     for iri, actor in list(todo.items())[:FETCHES_PER_CHECK]}
            await asyncio.wait(set(tasks.values()), timeout=deadline - time.monotonic())
            for iri, task in tasks.items():
                if task.done() and not task.cancelled() and task.exception() is None:
                    verdicts[iri] = task.result()
        out: list[Candidate] = []
        for c in claims:
            v = verdicts.get(c.offer)
            if v is None:
                out.append(unverified(c, f"not verified at {c.node} within the query's time"))
            elif v.candidate is None:
                out.append(unverified(c, v.reason))
            elif v.candidate.actor != c.actor:
                out.append(unverified(c, f"{c.node} attributes this offer to another actor"))
            else:
                out.append(from_origin(c, v.candidate))
        return out

    def _once(self, key: str, make: Any) -> asyncio.Task:
        """One fetch per document at a time, whatever the number of queries waiting."""
        task = self._running.get(key)
        if task is None:
            task = asyncio.ensure_future(make())
            self._running[key] = task
            task.add_done_callback(lambda _t: self._running.pop(key, None))
        return task

    @contextlib.asynccontextmanager
    async def _slot(self, iri: str) -> AsyncIterator[None]:
        """A fetch slot of the node, taken after one of the origin's own (a slow origin
        holds at most FETCHES_PER_ORIGIN of the node's slots; the others wait their turn)."""
        host = origin(iri)
        entry = self._origins.setdefault(host, [asyncio.Semaphore(FETCHES_PER_ORIGIN), 0])
        entry[1] += 1
        try:
            async with entry[0], self._slots:
                yield
        finally:
            entry[1] -= 1
            if not entry[1]:
                self._origins.pop(host, None)

    def _fetch(self, iri: str, actor: str) -> asyncio.Task:
        return self._once(iri, lambda: self._read(iri, actor))

    async def _read(self, iri: str, actor: str) -> Verdict:
        actor_task = self._once("actor " + actor, lambda: self._actor_document(actor))
        async with self._slot(iri):
            offer_doc = await self._fetch_json(iri)
        actor_doc = await asyncio.gather(actor_task, return_exceptions=True)
        actor_doc = actor_doc[0]
        if isinstance(offer_doc, FetchError):
            verdict = Verdict(None, f"{origin(iri)} does not serve it: {offer_doc}")
            self._cache.put(iri, verdict, self.max_age if offer_doc.reason in DEFINITE
                            else min(TRANSIENT_SECONDS, self.max_age))
            return verdict
        if isinstance(offer_doc, BaseException):
            log.info("offer %s not read from its origin: %r", iri, offer_doc)
            verdict = Verdict(None, f"{origin(iri)} could not be read")
            self._cache.put(iri, verdict, min(TRANSIENT_SECONDS, self.max_age))
            return verdict
        verdict = self._read_offer(iri, offer_doc, actor_doc
                                   if isinstance(actor_doc, dict) else {})
        self._cache.put(iri, verdict, self.max_age)
        return verdict

    async def _fetch_json(self, iri: str) -> dict[str, Any] | BaseException:
        try:
            return await self.fed.fetch_json(iri)
        except Exception as exc:  # an origin's failure is a verdict
            return exc

    async def _actor_document(self, iri: str) -> dict[str, Any]:
        """The publisher's document: as stored here, else from its origin (kept here in
        memory, not stored)."""
        cached = self._actors.get(iri)
        if cached is not None:
            return cached
        known = await self.fed.known_actor(iri)
        if known is not None and known.ap_json:
            return known.ap_json
        async with self._slot(iri):
            doc = await self._fetch_json(iri)
        if not isinstance(doc, dict) or from_as.first_id(doc.get("id")) != iri:
            doc = {}
        self._actors.put(iri, doc, self.max_age if doc else min(TRANSIENT_SECONDS, self.max_age))
        return doc

    def _read_offer(self, iri: str, doc: dict[str, Any], actor_doc: dict[str, Any]) -> Verdict:
        where = origin(iri)
        if not proposals.is_proposal(doc):
            return Verdict(None, f"{where} serves no offer at this address")
        try:
            p = read_offer(doc)
        except ValueError as exc:
            return Verdict(None, f"{where} serves an unreadable offer: {exc}"[:300])
        try:  # an offer of its origin's own actor, as every received object
            trust.owned_object(doc, p.attributed_to, self.fed.ids.is_local)
        except trust.Untrusted:
            return Verdict(None, f"{where} serves another offer at this address")
        if p.id != iri:
            return Verdict(None, f"{where} serves another offer at this address")
        if p.direction != "offer":
            return Verdict(None, f"{where} serves a demand at this address")
        name = actor_doc.get("name") if isinstance(actor_doc.get("name"), str) else ""
        charters = tuple(c for c in (actor_doc.get("charters") or []) if isinstance(c, str)
                         )[:20] if isinstance(actor_doc.get("charters"), list) else ()
        return Verdict(Candidate(
            offer=p.id, title=p.title, role=p.role, output=p.category,
            inputs=tuple(dict.fromkeys(p.inputs)), actor=p.attributed_to,
            actor_name=name[:500], node=where, lat=p.lat, lon=p.lon,
            offer_valid_until=p.valid_until,
            claimed_networks=tuple(names_networks(actor_doc)), charters=charters))

    async def close(self) -> None:
        for task in list(self._running.values()):
            task.cancel()
        self._running.clear()
