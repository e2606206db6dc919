"""federation/claims.py without a network: a peer's claim about another origin is taken
as this node holds it, or as the origin serves it (fetched once, kept), else unverified;
the cache of what origins said is bounded."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

from ssefed.domain.chains import Candidate
from ssefed.federation import claims
from ssefed.federation.client import FetchError

V = "https://v.example"
CAT = "https://w3id.org/ssefed/category/"


def proposal(iri: str, actor: str, category: str = "flour", title: str = "Farine") -> dict:
    return {"id": iri, "type": "Proposal", "attributedTo": actor, "purpose": "offer",
            "name": title, "publishes": {"type": "Intent", "action": "transfer",
                                              "resourceConformsTo": CAT + category}}


class FakeFed:
    def __init__(self, docs: dict[str, dict], delay: float = 0.0,
                 slow: str = "nowhere") -> None:
        self.docs, self.delay, self.fetched, self.slow = docs, delay, [], slow
        self.config = SimpleNamespace(chains=SimpleNamespace(members_max_age_seconds=60.0))
        self.ids = SimpleNamespace(is_local=lambda iri: iri.startswith("https://here.example"))

    async def fetch_json(self, url: str) -> dict:
        self.fetched.append(url)
        await asyncio.sleep(5 if self.slow in url else self.delay)
        if url not in self.docs:
            raise FetchError("status", f"GET {url} answered 404", 404)
        return self.docs[url]

    async def known_actor(self, iri: str):
        return None


def claim(offer: str, actor: str = f"{V}/actors/moulin", output: str = "flour",
          title: str = "Farine frelatée") -> Candidate:
    return Candidate(offer=offer, title=title, role="production", output=CAT + output,
                     inputs=(), actor=actor, actor_name="?", node="v.example",
                     via="p.example", claimed_networks=(f"{V}/actors/network",))


def test_a_claim_is_shown_as_its_origin_states_it_and_fetched_once():
    offer = f"{V}/offers/1"
    fed = FakeFed({offer: proposal(offer, f"{V}/actors/moulin", title="Farine T80"),
                   f"{V}/actors/moulin": {"id": f"{V}/actors/moulin", "name": "Moulin",
                                          "memberOf": f"{V}/actors/network"}})
    checker = claims.OfferClaims(fed)  # type: ignore[arg-type]

    async def run() -> list[list[Candidate]]:
        return [await checker.check([claim(offer)], {}, time.monotonic() + 1) for _ in range(2)]

    for (c,) in asyncio.run(run()):
        assert c.verified and c.title == "Farine T80" and c.actor_name == "Moulin"
        assert c.via == "p.example" and c.claimed_networks == (f"{V}/actors/network",)
    assert fed.fetched.count(offer) == 1


def test_a_claim_its_origin_does_not_confirm_is_unverified():
    served, other = f"{V}/offers/2", f"{V}/offers/3"
    fed = FakeFed({served: proposal(served, f"{V}/actors/autre"),
                   other: {**proposal(other, f"{V}/actors/moulin"), "purpose": "request"}})
    checker = claims.OfferClaims(fed)  # type: ignore[arg-type]
    forged, misattributed, demand = asyncio.run(checker.check(
        [claim(f"{V}/offers/missing"), claim(served), claim(other)], {}, time.monotonic() + 1))
    assert not forged.verified and "does not serve it" in forged.unverified_reason
    assert not misattributed.verified and "another actor" in misattributed.unverified_reason
    assert not demand.verified and "demand" in demand.unverified_reason


def test_a_held_offer_needs_no_fetch_and_a_slow_origin_leaves_the_claim_unverified():
    held, slow = f"{V}/offers/4", f"{V}/offers/5"
    fed = FakeFed({slow: proposal(slow, f"{V}/actors/moulin")}, delay=0.5)
    checker = claims.OfferClaims(fed)  # type: ignore[arg-type]
    as_held = claim(held, title="Farine T65")

    async def run() -> list[Candidate]:
        got = await checker.check([claim(held), claim(slow)], {held: as_held},
                                  time.monotonic() + 0.1)
        await asyncio.sleep(0.6)  # the fetch went on: the next query has its answer
        return got + await checker.check([claim(slow)], {}, time.monotonic() + 0.1)

    kept, late, later = asyncio.run(run())
    assert kept.verified and kept.title == "Farine T65" and held not in fed.fetched
    assert not late.verified and "within the query's time" in late.unverified_reason
    assert later.verified and fed.fetched.count(slow) == 1


def test_a_slow_origin_does_not_hold_back_the_claims_of_another():
    slow = [f"https://slow.example/offers/{i}" for i in range(12)]
    fast = f"{V}/offers/6"
    fed = FakeFed({fast: proposal(fast, f"{V}/actors/moulin")}, slow="slow.example")
    checker = claims.OfferClaims(fed)  # type: ignore[arg-type]

    async def run() -> list[Candidate]:
        got = await checker.check(
            [claim(i, actor="https://slow.example/actors/x") for i in slow] + [claim(fast)],
            {}, time.monotonic() + 0.5)
        await checker.close()
        return got

    *late, verified = asyncio.run(run())
    assert verified.verified and not any(c.verified for c in late)


def test_the_cache_of_what_origins_said_is_bounded():
    cache = claims._Cache(3)
    for i in range(5):
        cache.put(str(i), i, 60)
    assert [cache.get(str(i)) for i in range(5)] == [None, None, 2, 3, 4]
    cache.put("gone", 1, -1)
    assert cache.get("gone") is None
