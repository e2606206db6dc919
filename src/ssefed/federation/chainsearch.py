"""The chain query service: this node's federated graph (its database), the live
fan-out to peer nodes for what it cannot source, and the guarantee of every link
checked against the members collections of the networks this node trusts."""

from __future__ import annotations

import asyncio
import time
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from ssefed.db.repos import actors as actor_repo
from ssefed.db.repos import chains as chain_repo
from ssefed.db.repos import networks as network_repo
from ssefed.db.repos import vetting as vetting_repo
from ssefed.domain import chains, validity
from ssefed.domain.chains import Candidate, ChainQuery, PeerAnswer, Source
from ssefed.domain.reminders import today_utc
from ssefed.federation.claims import OfferClaims
from ssefed.federation.client import FetchError
from ssefed.federation.networks import PeerDirectory, is_stale, names_networks, refresh_members
from ssefed.federation.service import Federation
from ssefed.terms import ROLES
from ssefed.federation.vetting import decision_summary

MAX_INPUTS = 20
MAX_NAMED_PEERS = 20
TRUST_TTL = 5.0  # seconds
PER_CATEGORY_FETCH = 20  # candidates read from the database per category, before ranking


def candidate_from_row(r: chain_repo.SupplierRow, docs: dict[str, dict]) -> Candidate:
    doc = docs.get(r.actor, {}) if not r.local else {}
    charters = tuple(str(c) for c in (doc.get("charters") or []) if isinstance(c, str))[:20]
    return Candidate(
        offer=r.offer, title=r.title, role=r.role, output=r.category, inputs=r.inputs,
        actor=r.actor, actor_name=r.actor_name, node=r.domain, lat=r.lat, lon=r.lon,
        offer_valid_until=r.valid_until,
        local_validation=(r.org_status, r.org_valid_until) if r.local else None,
        claimed_networks=tuple(names_networks(doc)) if not r.local else (),
        charters=charters)


class ChainService:
    def __init__(self, fed: Federation, peers: PeerDirectory | None = None) -> None:
        self.fed, self.db, self.config = fed, fed.db, fed.config.chains
        self.peers = peers or PeerDirectory(fed)
        self.claims = OfferClaims(fed)
        self._own: str | None = None
        self._trusted: tuple[frozenset[str], float] | None = None

    async def own_network(self) -> str | None:
        if self._own is None:
            async with self.db.read() as s:
                network = await actor_repo.get_network(s)
            self._own = network.ap_id if network else None
        return self._own

    async def query(self, query: ChainQuery, *, fan_out: bool = True) -> dict[str, Any]:
        fanout = _FanOut(self, query) if fan_out else None
        # One read session for the levels read in a row (a checkout costs round trips on
        # PostgreSQL); it is closed before peers are asked, never held while waiting.
        held: list[Any] = []

        async def session():
            if not held:
                cm = self.db.read()
                held.append((cm, await cm.__aenter__()))
            return held[0][1]

        async def release() -> None:
            if held:
                cm, _ = held.pop()
                await cm.__aexit__(None, None, None)

        async def local(categories: list[str]) -> dict[str, list[Candidate]]:
            s = await session()
            rows = await chain_repo.suppliers(
                s, categories, per_category=PER_CATEGORY_FETCH, near=query.near,
                radius_km=query.radius_km)
            remote_ids = list({r.actor_id for rs in rows.values() for r in rs if not r.local})
            docs = await chain_repo.actor_documents(s, remote_ids)
            return {c: [candidate_from_row(r, docs) for r in rs] for c, rs in rows.items()}

        async def peers(categories: list[str], remaining: float) -> PeerAnswer:
            await release()
            return await fanout.ask(categories, remaining)

        async def guarantees(cands: list[Candidate], remaining: float) -> None:
            await release()
            await self.set_guarantees(cands, remaining)

        try:
            result = await chains.find_chains(
                query, local=local, peers=peers if fanout else None, guarantees=guarantees,
                deadline_seconds=self.config.fanout_timeout_seconds,
                suppliers_per_input=self.config.suppliers_per_input,
                alternatives=self.config.alternatives)
        finally:
            await release()
        result["trusted_networks"] = sorted(await self.trusted())
        return result

    async def verify_claims(self, peer: str, cands: list[Candidate], deadline: float
                            ) -> list[Candidate]:
        """A peer's candidates as their origins state them: its own organisations' offers
        as it says (a peer speaks for its own origin); the others verified against what
        this node holds, or at their origin (federation.claims), else marked unverified."""
        foreign = [c for c in cands if c.node != peer.lower()]
        if not foreign:
            return cands
        async with self.db.read() as s:
            rows = await chain_repo.offers_by_iri(s, list({c.offer for c in foreign}))
            docs = await chain_repo.actor_documents(
                s, list({r.actor_id for r in rows.values() if not r.local}))
        held = {iri: candidate_from_row(r, docs) for iri, r in rows.items()}
        checked = iter(await self.claims.check(foreign, held, deadline))
        return [next(checked) if c.node != peer.lower() else c for c in cands]

    async def trusted(self) -> frozenset[str]:
        """This node's network, the configured ones and (by default) those it follows;
        kept a few seconds (every query asks twice)."""
        if self._trusted is not None and time.monotonic() - self._trusted[1] < TRUST_TTL:
            return self._trusted[0]
        own = await self.own_network()
        async with self.db.read() as s:
            trusted = await validity.trusted_networks(s, own, self.config)
        self._trusted = (trusted, time.monotonic())
        return self._trusted[0]

    async def set_guarantees(self, cands: list[Candidate], remaining: float) -> None:
        """Set each candidate's guarantee: members collections of trusted networks that
        are too old are read again first, within the time left; the decisions behind
        validations are checked on the endorsements this node verified."""
        own, trusted = await self.own_network(), await self.trusted()
        remote = sorted({c.actor for c in cands if c.local_validation is None and c.verified})
        vouchers: dict[str, list[tuple[str, date | None]]] = {}
        if remote:
            async with self.db.read() as s:
                vouchers = await network_repo.vouchers(s, remote)
                networks = {n for c in cands if c.verified for n in c.claimed_networks}
                networks |= {n for vs in vouchers.values() for n, _ in vs}
                networks = sorted((networks & trusted) - {own})
                checked = await s.run_sync(network_repo.checked, networks)
            stale = [n for n in networks
                     if is_stale(checked.get(n), self.config.members_max_age_seconds)]
            if stale and remaining > 0.05:
                try:
                    await asyncio.wait_for(chains.gather_limited(
                        [refresh_members(self.fed, n) for n in stale[:20]], 4), remaining)
                except asyncio.TimeoutError:
                    pass
        actors = sorted({c.actor for c in cands})
        async with self.db.read() as s:  # who vouches, as search and pages see it
            # this network's own members come with their state (Candidate.local_validation)
            vouchers = await validity.vouchers(s, actors, own, own_members=False)
            decisions = await self._decisions(s, actors)
        day = today_utc()
        for c in cands:
            c.guarantee = chains.guarantee_of(c, own_network=own, trusted=trusted,
                                              vouchers=vouchers, today=day,
                                              decisions=decisions)
            c.guaranteed = c.guarantee["guaranteed"]

    async def _decisions(self, s: AsyncSession, actors: list[str]
                         ) -> dict[tuple[str, str], dict]:
        """The newest validation decision known here for each organisation of ``actors``,
        summarised on the endorsements this node verified."""
        found = await vetting_repo.decisions_of(s, actors)
        if not found:
            return {}
        iris = [str(b.get("endorsement")) for d in found.values() for b in d.basis or []]
        known = await vetting_repo.endorsements_by_iri(s, iris)
        hosts = {urlsplit(e.endorser_ap_id).netloc.lower() for e in known.values()}
        blocked = frozenset([h for h in hosts if await self.fed.is_blocked(h)])
        return {key: decision_summary(d, known, blocked) for key, d in found.items()
                if d.outcome == "validated"}


class _FanOut:
    """The live fan-out of one query: the peers this node knows (through follows) are
    asked first; the peers they name are asked once, and the peers those name never (one
    level, no crawl). A peer that failed is not asked again in the same query."""

    def __init__(self, service: ChainService, query: ChainQuery) -> None:
        self.service, self.query = service, query
        self.config = service.config
        self.tier1: list[str] | None = None
        self.tier2: list[str] = []
        self.failed: set[str] = set()

    async def _known(self) -> list[str]:
        if self.tier1 is None:
            async with self.service.db.read() as s:
                domains = await network_repo.peer_domains(s)
            own = self.service.fed.domain.lower()
            self.tier1 = [d for d in domains if d.lower() != own]
        return self.tier1

    async def ask(self, categories: list[str], remaining: float) -> PeerAnswer:
        deadline = time.monotonic() + remaining
        out: dict[str, list[Candidate]] = {}
        sources: list[Source] = []
        tier1 = [p for p in await self._known() if p not in self.failed]
        await self._round(tier1[:self.config.peers_per_hop], categories, deadline, out,
                          sources, name_peers=True)
        missing = [c for c in categories if not out.get(c)]
        tier2 = [p for p in self.tier2 if p not in self.failed and p not in tier1]
        if missing and tier2 and deadline - time.monotonic() > 0.05:
            await self._round(tier2[:self.config.peers_per_hop], missing, deadline, out,
                              sources, name_peers=False)
        return PeerAnswer(out, sources)

    async def _round(self, peers: list[str], categories: list[str], deadline: float,
                     out: dict[str, list[Candidate]], sources: list[Source], *,
                     name_peers: bool) -> None:
        if not peers:
            return
        answers = await asyncio.gather(*(self._ask_one(p, categories, deadline) for p in peers))
        own = self.service.fed.domain.lower()
        for peer, (source, cands, named) in zip(peers, answers):
            if source is not None:
                sources.append(source)
                if source.status != "ok":
                    self.failed.add(peer)
            for c in cands:
                out.setdefault(c.output, []).append(c)
            if name_peers:
                for d in named:
                    if d != own and d not in self.tier2 and d not in (self.tier1 or []):
                        self.tier2.append(d)

    async def _ask_one(self, peer: str, categories: list[str], deadline: float
                       ) -> tuple[Source | None, list[Candidate], list[str]]:
        start = time.monotonic()

        def source(status: str, detail: str = "") -> Source:
            return Source(peer, status, int((time.monotonic() - start) * 1000), detail[:300])

        fed = self.service.fed
        try:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return source("timeout", "no time left"), [], []
            api = await self.service.peers.api_of(peer, remaining)
            if not api:
                return None, [], []  # not an ssefed-compatible node: nothing to ask
            params: list[tuple[str, str]] = [("category", c) for c in categories]
            if self.query.near is not None:
                params.append(("near", f"{self.query.near[0]},{self.query.near[1]}"))
                if self.query.radius_km is not None:
                    params.append(("radius_km", str(self.query.radius_km)))
            params.append(("limit", str(self.config.peer_answer_max_offers)))
            url = f"{api}?{urlencode(params)}"
            signer = await fed.instance_signer()
            doc = await asyncio.wait_for(
                fed.client.get_json(url, signer, accept="application/json"),
                max(0.01, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            return source("timeout", f"no answer within {self.config.fanout_timeout_seconds} s"), [], []
        except FetchError as exc:
            if exc.reason == "timeout":
                return source("timeout", str(exc)), [], []
            refused = exc.reason in ("refused", "blocked") or exc.status in (401, 403, 429)
            return source("refused" if refused else "error", str(exc)), [], []
        except Exception as exc:  # a broken peer never breaks the query
            return source("error", f"{type(exc).__name__}: {exc}"), [], []
        if not isinstance(doc, dict) or doc.get("version") != 1:
            return source("error", "not a version 1 answer"), [], []
        answered = source("ok")
        wanted = set(categories)
        offers = doc.get("offers") if isinstance(doc.get("offers"), list) else []
        cands = [c for c in (read_offer(item, peer) for item in
                             offers[:self.config.peer_answer_max_offers])
                 if c is not None and c.output in wanted]
        # what it says of other origins counts as they state it (their category included)
        cands = [c for c in await self.service.verify_claims(peer, cands, deadline)
                 if c.output in wanted]
        peers = doc.get("peers") if isinstance(doc.get("peers"), list) else []
        named = [d for d in (_domain(p) for p in peers[:MAX_NAMED_PEERS]) if d]
        return answered, cands, named


def _domain(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    if "://" in value:
        value = urlsplit(value).netloc
    value = value.strip().lower()
    return value if value and "/" not in value and len(value) <= 255 else None


def _iri(value: Any) -> str | None:
    return value if isinstance(value, str) and value.startswith(("https://", "http://")) \
        and len(value) <= 2048 else None


def read_offer(item: Any, via: str) -> Candidate | None:
    """One offer of a peer's answer, read tolerantly; anything malformed is skipped."""
    if not isinstance(item, dict):
        return None
    offer, actor, output = _iri(item.get("offer")), _iri(item.get("actor")), _iri(item.get("output"))
    role = item.get("role")
    inputs = item.get("inputs") or []
    if not (offer and actor and output) or role not in ROLES or not isinstance(inputs, list):
        return None
    if urlsplit(offer).netloc.lower() != urlsplit(actor).netloc.lower():
        return None  # an offer is published on its organisation's node
    inputs_t = tuple(i for i in (_iri(v) for v in inputs[:MAX_INPUTS]) if i)
    loc = item.get("location") if isinstance(item.get("location"), dict) else {}
    lat, lon = loc.get("lat"), loc.get("lon")
    if not (isinstance(lat, (int, float)) and isinstance(lon, (int, float))
            and -90 <= lat <= 90 and -180 <= lon <= 180):
        lat = lon = None
    until = None
    if isinstance(item.get("valid_until"), str):
        try:
            until = datetime.fromisoformat(item["valid_until"][:10]).date()
        except ValueError:
            until = None
    claims = [n for n in (_iri(v) for v in (item.get("validated_by"), *(
        item.get("member_of") or [] if isinstance(item.get("member_of"), list) else []))) if n]
    charters = tuple(c for c in (_iri(v) for v in (item.get("charters") or [])[:20]) if c) \
        if isinstance(item.get("charters"), list) else ()
    name = item.get("actor_name") if isinstance(item.get("actor_name"), str) else ""
    title = item.get("title") if isinstance(item.get("title"), str) else ""
    return Candidate(offer=offer, title=title[:500], role=role, output=output, inputs=inputs_t,
                     actor=actor, actor_name=name[:500], node=urlsplit(actor).netloc.lower(),
                     lat=lat, lon=lon, offer_valid_until=until, via=via,
                     claimed_networks=tuple(dict.fromkeys(claims)), charters=charters)


async def peer_answer(service: ChainService, categories: list[str], *,
                      near: tuple[float, float] | None, radius_km: float | None, limit: int,
                      requester: str) -> dict[str, Any]:
    """What this node tells a peer asking which offers it holds that output these
    categories near a place (peer API version 1): public data only, bounded."""
    per_category = max(1, limit // max(1, len(categories)))
    async with service.db.read() as s:
        rows = await chain_repo.suppliers(s, categories, per_category=per_category, near=near,
                                          radius_km=radius_km)
        docs = await chain_repo.actor_documents(
            s, list({r.actor_id for rs in rows.values() for r in rs if not r.local}))
        domains = await network_repo.peer_domains(s, limit=MAX_NAMED_PEERS + 1)
    own = await service.own_network()
    offers: list[dict[str, Any]] = []
    for category in categories:
        for r in rows.get(category, []):
            item: dict[str, Any] = {
                "offer": r.offer, "title": r.title, "role": r.role, "kind": r.kind,
                "output": r.category, "inputs": list(r.inputs), "actor": r.actor,
                "actor_name": r.actor_name, "node": r.domain,
                "location": {"lat": r.lat, "lon": r.lon} if r.lat is not None else None,
                "valid_until": r.valid_until.isoformat() if r.valid_until else None}
            if r.local:
                if r.org_status == "validated" and own:
                    item["validated_by"] = own
                    item["validation_valid_until"] = (r.org_valid_until.isoformat()
                                                      if r.org_valid_until else None)
            else:
                doc = docs.get(r.actor, {})
                item["member_of"] = names_networks(doc)
                charters = [c for c in (doc.get("charters") or []) if isinstance(c, str)]
                if charters:
                    item["charters"] = charters[:20]
            offers.append(item)
    base = service.peers.base
    return {"version": 1, "node": service.fed.domain, "offers": offers[:limit],
            "truncated": len(offers) > limit,
            "peers": [base(d) for d in domains if d != requester][:MAX_NAMED_PEERS]}
