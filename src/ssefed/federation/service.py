"""The federation context: database, IRIs, the outbound client and what the node
remembers of other servers (blocked domains, the signature spec each one takes)."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import quote, urlsplit

from ssefed.config import Config
from ssefed.db.base import utcnow
from ssefed.db.models import Actor
from ssefed.db.repos import actors as actor_repo
from ssefed.db.repos import hosts as host_repo
from ssefed.db.repos import organisations as org_repo
from ssefed.db.repos import remote as remote_repo
from ssefed.db.session import Database
from ssefed.domain.actors import ensure_keys
from ssefed.federation import trust
from ssefed.federation.client import FederationClient, FetchError, Signer
from ssefed.vocab import from_as
from ssefed.vocab.ids import LocalIds
from ssefed.vocab.org_facts import read_facts

BLOCKS_TTL = 5.0  # seconds a cached block list is trusted (the CLI edits it from another process)


class Federation:
    def __init__(self, config: Config, db: Database) -> None:
        self.config, self.db = config, db
        self.ids = LocalIds(config.node.base_url)
        self.domain = config.node.domain
        fed = config.federation
        self._specs: dict[str, str] = {}
        self._blocks: set[str] = set()
        self._blocks_at = 0.0
        self._blocks_reload: asyncio.Future | None = None
        self.client = FederationClient(
            allow_private=fed.allow_private_addresses, timeout=fed.fetch_timeout_seconds,
            delivery_timeout=fed.delivery_timeout_seconds, max_bytes=fed.max_fetch_bytes,
            max_redirects=fed.max_redirects, max_json_depth=fed.max_json_depth,
            spec_for=self._specs.get,
            remember_spec=self._remember_spec, is_blocked=self.is_blocked,
            signing_threads=config.worker.signing_threads,
            signing_process=config.worker.signing_process)
        self._instance_signer: Signer | None = None
        self.down_hosts: set[str] = set()  # hosts failing deliveries (in-memory view)
        self.proof_refetched: dict[str, float] = {}  # actor -> last refetch for a proof key

    async def close(self) -> None:
        await self.client.close()

    async def load(self) -> None:
        async with self.db.read() as s:
            self._specs.update(await host_repo.specs(s))
            self.down_hosts |= await host_repo.failing(s)

    def is_down(self, host: str) -> bool:
        return host in self.down_hosts

    def back_up(self, host: str) -> None:
        self.down_hosts.discard(host)

    async def _remember_spec(self, host: str, spec: str) -> None:
        self._specs[host] = spec
        async with self.db.write() as s:
            await host_repo.set_spec(s, host, spec)

    async def is_blocked(self, host: str) -> bool:
        """Is ``host`` (a domain, with or without port) or a parent domain blocked?"""
        if time.monotonic() - self._blocks_at > BLOCKS_TTL:
            # One reload for all concurrent callers, all woken together when it is done
            # (a lock would let them through one per turn of the event loop).
            if self._blocks_reload is None or self._blocks_reload.done():
                self._blocks_reload = asyncio.ensure_future(self._reload_blocks())
            reload = self._blocks_reload
            try:
                await asyncio.shield(reload)
            finally:
                if reload.done() and self._blocks_reload is reload:
                    self._blocks_reload = None
        if not self._blocks:
            return False
        name = host.lower().rsplit(":", 1)[0] if host.count(":") == 1 else host.lower()
        parts = name.split(".")
        candidates = {host.lower(), name} | {".".join(parts[i:]) for i in range(len(parts) - 1)}
        return bool(candidates & self._blocks)

    async def _reload_blocks(self) -> None:
        started = time.monotonic()
        async with self.db.read() as s:
            self._blocks = await host_repo.blocked_domains(s)
        self._blocks_at = started

    async def signer_for(self, actor: Actor) -> Signer:
        """The RSA signer of a local actor (its keys are made on first use)."""
        keys = await ensure_keys(self.db, self.ids, actor.id)
        rsa = next(k for k in keys if k.kind == "rsa")
        return Signer(rsa.key_id, rsa.private_pem or "")

    async def instance_signer(self) -> Signer:
        """Signed fetches are made as the network's own actor."""
        if self._instance_signer is None:
            async with self.db.read() as s:
                network = await actor_repo.get_network(s)
            if network is None:
                raise RuntimeError("this node has no network actor: run `ssefed init`")
            self._instance_signer = await self.signer_for(network)
        return self._instance_signer

    async def fetch_json(self, url: str) -> dict:
        """The document ``url`` serves, as its origin serves it: the one way this node
        reads another server's JSON (trust.check_served: an ``id`` of another origin than
        the URL that finally answered is refused)."""
        return (await self._fetch(url))[1]

    async def _fetch(self, url: str) -> tuple[str, dict]:
        final_url, doc = await self.client.get_document(url, await self.instance_signer())
        if not isinstance(doc, dict):
            raise FetchError("not-json", f"{url} did not answer a JSON object")
        try:
            trust.check_served(doc, url, final_url)
        except trust.Untrusted as exc:
            raise FetchError("refused", str(exc)) from None
        return final_url, doc

    async def fetch_actor(self, iri: str) -> Actor:
        """Fetch a remote actor from its origin and store it with the keys it lists."""
        if self.ids.is_local(iri):
            async with self.db.read() as s:
                actor = await remote_repo.get_actor(s, iri)
            if actor is None:
                raise FetchError("status", f"no local actor {iri}", 404)
            return actor
        final_url, doc = await self._fetch(iri)
        actor = from_as.parse_actor(doc)
        try:
            trust.check_actor(actor, iri, final_url)
        except trust.Untrusted as exc:
            raise FetchError("refused", str(exc)) from None
        return await self.store_actor(actor)

    async def store_actor(self, actor: from_as.RemoteActor) -> Actor:
        keys = [(k.kind, k.id, k.pem) for k in actor.public_keys]
        keys += [(m.kind, m.id, m.public_key_pem) for m in actor.multikeys
                 if m.id not in {k.id for k in actor.public_keys}]
        # a key belongs to the actor whose document lists it, on that actor's origin
        keys = [k for k in keys if trust.key_belongs_to(k[1], actor.id)]
        facts = read_facts(actor.raw) if actor.type == "Organization" else None
        async with self.db.write() as s:
            stored = await remote_repo.upsert_actor(
                s, ap_id=actor.id, domain=urlsplit(actor.id).netloc.lower(),
                handle=actor.preferred_username, type_=actor.type, name=actor.name or "",
                summary=actor.summary or "", inbox=actor.inbox, shared_inbox=actor.shared_inbox,
                manually_approves=actor.manually_approves_followers, ap_json=actor.raw,
                fetched_at=utcnow(), keys=keys, owns=trust.key_named_for)
            if facts is not None:  # a remote SSE organisation: the directory shows it
                await org_repo.upsert_remote_facts(s, stored.id, facts)
            return stored

    async def known_actor(self, iri: str) -> Actor | None:
        async with self.db.read() as s:
            return await remote_repo.get_actor(s, iri)

    async def actor(self, iri: str, *, refresh: bool = False) -> Actor:
        """A stored actor, fetched when unknown (or when ``refresh``)."""
        if not refresh:
            known = await self.known_actor(iri)
            if known is not None and (known.local or known.inbox):
                return known
        return await self.fetch_actor(iri)

    async def webfinger(self, account: str) -> str:
        """Resolve ``user@domain`` (or ``acct:user@domain``, ``@user@domain``) to an actor IRI."""
        acct = account.removeprefix("acct:").lstrip("@")
        user, sep, domain = acct.rpartition("@")
        if not sep or not user or not domain:
            raise FetchError("refused", f"not an account handle: {account!r}")
        scheme = "http" if self.config.federation.allow_private_addresses else "https"
        url = (f"{scheme}://{domain}/.well-known/webfinger?resource="
               f"{quote('acct:' + acct, safe='')}")
        doc = await self.client.get_json(url, None, accept="application/jrd+json, application/json")
        for link in doc.get("links") or [] if isinstance(doc, dict) else []:
            if (isinstance(link, dict) and link.get("rel") == "self"
                    and isinstance(link.get("href"), str)
                    and (link.get("type") or "").split(";")[0].strip() in (
                        "application/activity+json", "application/ld+json")):
                return link["href"]
        raise FetchError("status", f"WebFinger of {acct} names no ActivityPub actor")
