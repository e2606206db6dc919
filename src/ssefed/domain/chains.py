"""Solidarity supply chains: from a final category back to primary production, across
the offers this node holds and, for inputs it cannot source, those its peers hold.

A chain is a tree of offers: the final offer (its output is the category asked for),
then for each input category it consumes an offer that outputs it, and so on down to
offers with no inputs. A distributor passing a category through (input = output) is a
link like any other; the search never uses an offer twice in one chain, so a real cycle
ends it.

Bounded enumeration: for each input, only the ``suppliers_per_input`` best suppliers are
followed (guaranteed first, then nearest), and each offer keeps its ``alternatives`` best
subtrees: the best choice for every input, and the variants that swap one input's
supplier for its next best. Results are memoised per (offer, remaining hops), so the work
grows with offers × hops × suppliers, never exponentially; a hard cap on expansions
stops pathological graphs (the answer then says ``truncated``).
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Awaitable, Callable, Iterable

from ssefed.domain.validity import listing_key, own_member_listed
from ssefed.geo import haversine_km
from ssefed.domain import categories
from ssefed.domain.errors import InvalidInput
from ssefed.domain.fields import place

MAX_EXPANSIONS = 20_000
MAX_LIMIT = 50
MAX_CATEGORIES_PER_LEVEL = 200


@dataclass(frozen=True)
class ChainQuery:
    category: str
    near: tuple[float, float] | None = None
    radius_km: float | None = None
    max_hops: int = 6
    guaranteed_only: bool = False
    limit: int = 10


@dataclass
class Candidate:
    """An offer that may be a link: what it outputs and consumes, who publishes it, where."""
    offer: str
    title: str
    role: str
    output: str
    inputs: tuple[str, ...]
    actor: str
    actor_name: str
    node: str  # the organisation's home node (domain)
    lat: float | None = None
    lon: float | None = None
    offer_valid_until: date | None = None
    via: str | None = None  # the peer node that told us about it (live fan-out)
    local_validation: tuple[str | None, date | None] | None = None  # own members only
    claimed_networks: tuple[str, ...] = ()
    charters: tuple[str, ...] = ()
    guarantee: dict[str, Any] = field(default_factory=dict)
    guaranteed: bool = False
    # False: a peer reported it for another origin, which did not confirm it (never
    # guaranteed); the reason says why
    verified: bool = True
    unverified_reason: str = ""

    @property
    def located(self) -> bool:
        return self.lat is not None and self.lon is not None


@dataclass(slots=True)
class Tree:
    c: Candidate
    children: tuple[Tree, ...]
    size: int
    guaranteed: bool
    distance: float  # sum of the distances between each link and the link it supplies
    offers: frozenset[str]

    def rank(self) -> tuple:
        return (not self.guaranteed, self.size, self.distance)


@dataclass
class Source:
    node: str
    status: str  # ok | timeout | error | refused
    ms: int
    detail: str = ""


@dataclass
class PeerAnswer:
    candidates: dict[str, list[Candidate]]
    sources: list[Source]


def distance(a: Candidate, b: Candidate) -> float | None:
    if not (a.located and b.located):
        return None
    return haversine_km(a.lat, a.lon, b.lat, b.lon)  # type: ignore[arg-type]


def guarantee_of(c: Candidate, *, own_network: str | None, trusted: frozenset[str],
                 vouchers: dict[str, list[tuple[str, date | None]]], today: date,
                 decisions: dict[tuple[str, str], dict[str, Any]] | None = None
                 ) -> dict[str, Any]:
    """Who vouches for ``c``'s organisation, until when, and whether that counts here:
    a link is guaranteed only when the offer is verified (as its origin states it), a
    network this node trusts lists the organisation in its members collection, its
    validity has not ended, and the offer is not stale.
    When this node holds the network's decision (participatory validation), its rule must
    also hold on the endorsements this node verified itself (``decisions``: per
    (network, organisation), from federation.validation.decision_summary)."""
    listed: list[tuple[str, date | None]] = []
    if c.local_validation is not None and own_network:
        status, until = c.local_validation
        if own_member_listed(status, until):
            listed.append((own_network, until))
    listed += vouchers.get(c.actor, [])
    key = listing_key(trusted, today)  # the order search and pages use (domain/validity.py)

    g: dict[str, Any] = {"validated_by": None, "valid_until": None, "trusted": False,
                         "expired": False, "charters": list(c.charters), "endorsements": [],
                         "offer_valid_until": c.offer_valid_until.isoformat()
                         if c.offer_valid_until else None,
                         "offer_expired": bool(c.offer_valid_until and
                                               c.offer_valid_until < today)}
    if listed:
        network, until = sorted(listed, key=key)[0]
        g.update(validated_by=network, valid_until=until.isoformat() if until else None,
                 trusted=network in trusted, expired=bool(until and until < today))
    else:
        g["claimed_by"] = list(c.claimed_networks)
    if not listed:
        g["reason"] = ("claims membership of " + ", ".join(c.claimed_networks) +
                       ", which does not list it" if c.claimed_networks
                       else "no network lists this organisation")
    elif not g["trusted"]:
        g["reason"] = f"{g['validated_by']} is not a network this node trusts"
    elif g["expired"]:
        g["reason"] = f"validation expired on {g['valid_until']}"
    elif g["offer_expired"]:
        g["reason"] = f"offer expired on {g['offer_valid_until']}"
    else:
        g["reason"] = f"validated by {g['validated_by']}" + (
            f" until {g['valid_until']}" if g["valid_until"] else "")
    decision = (decisions or {}).get((g["validated_by"], c.actor)) if listed else None
    grounded = True
    if decision is not None:
        g["decision"], g["rule_met"] = decision["decision"], decision["rule_met"]
        g["endorsements"] = decision["endorsements"]
        grounded = decision["rule_met"]
        if not grounded and g["trusted"] and not g["expired"]:
            g["reason"] = (f"the decision of {g['validated_by']} does not hold on the "
                           "endorsements this node verified: " + "; ".join(decision["missing"]))
    g["verified"] = c.verified
    if not c.verified:
        g["reason"] = (f"reported by {c.via or 'a peer'}, not confirmed by its origin: "
                       f"{c.unverified_reason or 'not verified'}")
    g["guaranteed"] = (c.verified and bool(listed) and g["trusted"] and not g["expired"]
                       and not g["offer_expired"] and grounded)
    return g


def within(c: Candidate, query: ChainQuery) -> bool:
    if query.near is None or query.radius_km is None:
        return True
    if not c.located:
        return False
    return haversine_km(query.near[0], query.near[1], c.lat, c.lon) <= query.radius_km  # type: ignore[arg-type]


def rank_candidates(cands: Iterable[Candidate], query: ChainQuery, keep: int) -> list[Candidate]:
    """Guaranteed first, then nearest to the place asked (unplaced last); one per offer."""
    seen: set[str] = set()
    unique = [c for c in cands if within(c, query) and not (c.offer in seen or seen.add(c.offer))]
    if query.guaranteed_only:
        unique = [c for c in unique if c.guaranteed]

    def key(c: Candidate) -> tuple:
        if query.near is None:
            return (not c.guaranteed, 0.0, c.offer)
        d = haversine_km(query.near[0], query.near[1], c.lat, c.lon) if c.located else 1e9
        return (not c.guaranteed, d, c.offer)

    return sorted(unique, key=key)[:keep]


class _Builder:
    def __init__(self, suppliers: dict[str, list[Candidate]], *, max_hops: int,
                 alternatives: int) -> None:
        self.suppliers, self.max_hops, self.alternatives = suppliers, max_hops, alternatives
        self.memo: dict[tuple[str, int], list[Tree]] = {}
        self.expansions = 0
        self.truncated = False
        self.alts: dict[tuple[str, str], list[Tree]] = {}  # (consumer, input) -> options

    def options(self, c: Candidate, path: frozenset[str], hops_left: int) -> list[Tree]:
        """The best subtrees rooted at ``c`` with at most ``hops_left`` links."""
        key = (c.offer, hops_left)
        if key in self.memo:
            cached = [t for t in self.memo[key] if not (t.offers - {c.offer}) & path]
            if cached or not self.memo[key]:
                return cached
        self.expansions += 1
        if self.expansions > MAX_EXPANSIONS:
            self.truncated = True
            return []
        if not c.inputs:
            result = [Tree(c, (), 1, c.guaranteed, 0.0, frozenset({c.offer}))]
        elif hops_left <= 1:
            result = []
        else:
            per_input: list[list[Tree]] = []
            for category in c.inputs:
                opts: list[Tree] = []
                for s in self.suppliers.get(category, []):
                    if s.offer in path:
                        continue  # a real cycle: this offer is already in the chain
                    for t in self.options(s, path | {s.offer}, hops_left - 1):
                        d = distance(s, c) or 0.0
                        opts.append(Tree(t.c, t.children, t.size, t.guaranteed,
                                         t.distance + d, t.offers))
                opts.sort(key=Tree.rank)
                opts = opts[:self.alternatives]
                if not opts:
                    per_input = []
                    break
                self.alts[(c.offer, category)] = opts
                per_input.append(opts)
            result = []
            if per_input:
                combos = [tuple(o[0] for o in per_input)]
                for i, o in enumerate(per_input):
                    for alt in o[1:]:
                        combos.append(tuple(alt if j == i else per_input[j][0]
                                            for j in range(len(per_input))))
                for combo in combos:
                    size = 1 + sum(t.size for t in combo)
                    offers = frozenset({c.offer}).union(*(t.offers for t in combo))
                    if size > hops_left or len(offers) < size:
                        continue  # too long, or one offer used twice across branches
                    result.append(Tree(c, combo, size,
                                       c.guaranteed and all(t.guaranteed for t in combo),
                                       sum(t.distance for t in combo), offers))
                result.sort(key=Tree.rank)
                result = result[:self.alternatives]
        self.memo[key] = result
        return result


def build_chains(finals: list[Candidate], suppliers: dict[str, list[Candidate]],
                 query: ChainQuery, *, alternatives: int = 3
                 ) -> tuple[list[Tree], bool, dict[tuple[str, str], list[Tree]]]:
    """The best chains (trees) for ``query`` from ranked candidates; whether the
    enumeration was cut by its cap; the options kept for each (consumer, input)."""
    builder = _Builder(suppliers, max_hops=query.max_hops, alternatives=alternatives)
    chains: list[Tree] = []
    for final in finals:
        for tree in builder.options(final, frozenset({final.offer}), query.max_hops):
            d = (haversine_km(query.near[0], query.near[1], final.lat, final.lon)
                 if query.near and final.located else 0.0)
            chains.append(replace(tree, distance=tree.distance + d))
    if query.guaranteed_only:
        chains = [t for t in chains if t.guaranteed]
    chains.sort(key=Tree.rank)
    unique: list[Tree] = []
    seen: set[frozenset[str]] = set()
    for t in chains:
        if t.offers not in seen:
            seen.add(t.offers)
            unique.append(t)
    return unique[:query.limit], builder.truncated, builder.alts


def score(tree: Tree) -> float:
    """Higher is better, in the order of the answer: guaranteed first, then fewer
    links, then shorter total distance."""
    return round((1_000_000 if tree.guaranteed else 0) + (100 - tree.size) * 10_000
                 - min(tree.distance, 9_999.0), 3)


def _location(c: Candidate) -> dict[str, Any] | None:
    return {"lat": c.lat, "lon": c.lon} if c.located else None


def links_of(tree: Tree, query: ChainQuery,
             alts: dict[tuple[str, str], list[Tree]] | None = None) -> list[dict[str, Any]]:
    """The links of a chain, last to first (the final offer is position 1), each with the
    position of the link it supplies and the other suppliers that could take its place."""
    links: list[dict[str, Any]] = []

    def walk(t: Tree, supplies: dict[str, Any] | None, parent: Candidate | None) -> None:
        c = t.c
        if parent is not None:
            d = distance(c, parent)
        elif query.near is not None and c.located:
            d = haversine_km(query.near[0], query.near[1], c.lat, c.lon)  # type: ignore[arg-type]
        else:
            d = None
        link = {"position": len(links) + 1,
                "supplies": supplies["position"] if supplies else None,
                "role": c.role, "actor": c.actor, "actor_name": c.actor_name, "node": c.node,
                "offer": c.offer, "title": c.title, "output": c.output,
                "inputs": list(c.inputs), "location": _location(c),
                "distance_km": round(d, 1) if d is not None else None,
                "guarantee": c.guarantee, "guaranteed": c.guaranteed,
                "verified": c.verified}
        if c.via:
            link["via"] = c.via
        if parent is not None and alts:
            others = [o.c for o in alts.get((parent.offer, c.output), []) if o.c.offer != c.offer]
            link["alternatives"] = [
                {"offer": o.offer, "title": o.title, "actor": o.actor,
                 "actor_name": o.actor_name, "node": o.node, "guaranteed": o.guaranteed,
                 "verified": o.verified, "distance_km": round(d2, 1) if (d2 := distance(o, parent)) is not None else None}
                for o in others]
        links.append(link)
        for child in t.children:
            walk(child, link, c)

    walk(tree, None, None)
    return links


async def find_chains(query: ChainQuery, *, local: Callable[[list[str]], Awaitable[dict[str, list[Candidate]]]],
                      peers: Callable[[list[str], float], Awaitable[PeerAnswer]] | None,
                      guarantees: Callable[[list[Candidate], float], Awaitable[None]],
                      deadline_seconds: float, suppliers_per_input: int = 5,
                      alternatives: int = 3) -> dict[str, Any]:
    """Answer a chain query: gather candidates level by level (the node's own federated
    graph first, then a live fan-out for the categories it cannot source), set each
    candidate's guarantee, and enumerate the chains. Every step is bounded."""
    start = time.monotonic()
    deadline = start + deadline_seconds
    found: dict[str, list[Candidate]] = {}
    sources: dict[str, Source] = {}
    partial = False
    needed = [query.category]
    for _level in range(query.max_hops):
        todo = [c for c in dict.fromkeys(needed) if c not in found][:MAX_CATEGORIES_PER_LEVEL]
        if not todo:
            break
        here = await local(todo)
        for category in todo:
            found[category] = list(here.get(category, []))
        # a category only distributors pass through (input = output) is not sourced yet
        missing = [c for c in todo if all(c in cand.inputs for cand in found[c])]
        if missing and peers is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0.05:
                partial = True
            else:
                answer = await peers(missing, remaining)
                for category, cands in answer.candidates.items():
                    if category in found:
                        found[category].extend(cands)
                for src in answer.sources:
                    prev = sources.get(src.node)
                    if prev is None or prev.status == "ok":
                        sources[src.node] = src
        needed = [i for cands in found.values() for c in cands for i in c.inputs
                  if i not in found]
    everyone = [c for cands in found.values() for c in cands]
    await guarantees(everyone, max(0.0, deadline - time.monotonic()))
    ranked = {category: rank_candidates(cands, query, suppliers_per_input)
              for category, cands in found.items()}
    finals = rank_candidates(found.get(query.category, []), query, max(suppliers_per_input,
                                                                       query.limit))
    trees, truncated, alts = build_chains(finals, ranked, query, alternatives=alternatives)
    chains = []
    for tree in trees:
        chains.append({"score": score(tree), "guaranteed": tree.guaranteed,
                       "total_distance_km": round(tree.distance, 1),
                       "links": links_of(tree, query, alts)})
    partial = partial or truncated or any(s.status != "ok" for s in sources.values())
    return {"category": query.category, "chains": chains, "partial": partial,
            "truncated": truncated,
            "sources": [{"node": s.node, "status": s.status, "ms": s.ms,
                         **({"detail": s.detail} if s.detail else {})}
                        for s in sources.values()],
            "ms": int((time.monotonic() - start) * 1000)}


def parse_query(params: dict[str, Any], *, max_hops_cap: int) -> ChainQuery:
    """Check the parameters of a chain query (API or CLI); raise InvalidInput naming the field."""
    raw = (params.get("category") or "").strip()
    if not raw:
        raise InvalidInput("category", "is required (a category code or IRI)")
    try:
        category = categories.to_iri(raw)
    except ValueError as exc:
        raise InvalidInput("category", str(exc)) from None

    near = place(params["near"]) if params.get("near") else None

    def number(key: str, lo: float, hi: float, default: Any, cast: Callable = float) -> Any:
        value = params.get(key)
        if value in (None, ""):
            return default
        try:
            n = cast(value)
        except (TypeError, ValueError):
            raise InvalidInput(key, "must be a number") from None
        if not (lo <= n <= hi) or (isinstance(n, float) and not math.isfinite(n)):
            raise InvalidInput(key, f"must be between {lo:g} and {hi:g}")
        return n

    radius = number("radius_km", 0.1, 20_000, None)
    if radius is not None and near is None:
        raise InvalidInput("radius_km", "needs near=LAT,LON")
    max_hops = number("max_hops", 1, max_hops_cap, min(6, max_hops_cap), int)
    limit = number("limit", 1, MAX_LIMIT, 10, int)
    g = params.get("guaranteed_only", False)
    if isinstance(g, str):
        if g.lower() not in ("true", "false", "1", "0", "yes", "no", ""):
            raise InvalidInput("guaranteed_only", "must be true or false")
        g = g.lower() in ("true", "1", "yes")
    return ChainQuery(category=category, near=near, radius_km=radius, max_hops=max_hops,
                      guaranteed_only=bool(g), limit=limit)


async def gather_limited(coros: list[Awaitable[Any]], limit: int) -> list[Any]:
    sem = asyncio.Semaphore(limit)

    async def one(c: Awaitable[Any]) -> Any:
        async with sem:
            return await c

    return await asyncio.gather(*(one(c) for c in coros), return_exceptions=True)
