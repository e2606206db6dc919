"""The chain search's pure parts: enumeration, cycles, ranking, guarantees, query parsing,
and the tolerant reading of peers' answers."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest

from ssefed.domain.chains import (Candidate, ChainQuery, build_chains, guarantee_of,
                                  links_of, parse_query, rank_candidates)
from ssefed.domain.errors import InvalidInput
from ssefed.federation.chainsearch import read_offer
from ssefed.geo import haversine_km

CAT = "https://w3id.org/ssefed/category/"
TODAY = date(2026, 12, 2)
OWN = "https://a.example/actors/network"


def cand(offer: str, output: str, inputs: tuple[str, ...] = (), *, lat: float = 45.0,
         lon: float = 5.0, guaranteed: bool = True, role: str = "transformation") -> Candidate:
    c = Candidate(offer=f"https://a.example/offers/{offer}", title=offer, role=role,
                  output=CAT + output, inputs=tuple(CAT + i for i in inputs),
                  actor=f"https://a.example/actors/{offer}", actor_name=offer,
                  node="a.example", lat=lat, lon=lon)
    c.guaranteed = guaranteed
    return c


def index(*cands: Candidate) -> dict[str, list[Candidate]]:
    out: dict[str, list[Candidate]] = {}
    for c in cands:
        out.setdefault(c.output, []).append(c)
    return out


def names(tree) -> list[str]:
    return [link["title"] for link in links_of(tree, ChainQuery(category=""))]


def test_a_linear_chain_is_found_last_to_first():
    wheat, flour = cand("wheat", "wheat", role="production"), cand("mill", "flour", ("wheat",))
    bread = cand("bakery", "bread", ("flour",))
    trees, truncated, _ = build_chains([bread], index(wheat, flour, bread),
                                       ChainQuery(category=CAT + "bread"))
    assert not truncated
    assert [names(t) for t in trees] == [["bakery", "mill", "wheat"]]
    links = links_of(trees[0], ChainQuery(category=CAT + "bread"))
    assert [(lk["position"], lk["supplies"]) for lk in links] == [(1, None), (2, 1), (3, 2)]


def test_a_distributor_passes_a_category_through_and_a_real_cycle_ends():
    shop = cand("shop", "bread", ("bread",), role="distribution")
    bakery = cand("bakery", "bread", ("flour",))
    mill = cand("mill", "flour", ("wheat",))
    wheat = cand("farm", "wheat", role="production")
    trees, _, _ = build_chains([shop], index(shop, bakery, mill, wheat),
                               ChainQuery(category=CAT + "bread"))
    assert names(trees[0]) == ["shop", "bakery", "mill", "farm"]
    # compost <- vegetables <- compost: no chain, and it ends
    veg = cand("veg", "vegetables", ("compost",))
    compost = cand("compost", "compost", ("vegetables",))
    trees, _, _ = build_chains([veg], index(veg, compost), ChainQuery(category=CAT + "vegetables"))
    assert trees == []


def test_max_hops_counts_links():
    wheat, flour = cand("wheat", "wheat", role="production"), cand("mill", "flour", ("wheat",))
    bread = cand("bakery", "bread", ("flour",))
    sup = index(wheat, flour, bread)
    assert build_chains([bread], sup, ChainQuery(category="", max_hops=2))[0] == []
    assert len(build_chains([bread], sup, ChainQuery(category="", max_hops=3))[0]) == 1


def test_competing_suppliers_are_alternatives_and_ranking_prefers_guaranteed_then_near():
    bread = cand("bakery", "bread", ("flour",), lat=45.0, lon=5.0)
    near_mill = cand("near-mill", "flour", ("wheat",), lat=45.01, lon=5.0, guaranteed=False)
    far_mill = cand("far-mill", "flour", ("wheat",), lat=45.5, lon=5.0)
    wheat = cand("farm", "wheat", lat=45.0, lon=5.0, role="production")
    trees, _, alts = build_chains([bread], index(bread, near_mill, far_mill, wheat),
                                  ChainQuery(category=CAT + "bread"))
    assert [names(t) for t in trees] == [["bakery", "far-mill", "farm"],
                                         ["bakery", "near-mill", "farm"]]
    assert trees[0].guaranteed and not trees[1].guaranteed
    link = links_of(trees[0], ChainQuery(category=""), alts)[1]
    assert [a["title"] for a in link["alternatives"]] == ["near-mill"]
    # among guaranteed ones, the shorter total distance first
    far_mill.guaranteed = near_mill.guaranteed = True
    trees, _, _ = build_chains([bread], index(bread, near_mill, far_mill, wheat),
                               ChainQuery(category=CAT + "bread"))
    assert names(trees[0])[1] == "near-mill"
    assert trees[0].distance < trees[1].distance


def test_enumeration_stays_bounded_with_many_suppliers_at_every_level():
    levels = [f"c{i}" for i in range(8)]
    sup: dict[str, list[Candidate]] = {}
    for depth, category in enumerate(levels):
        inputs = (levels[depth + 1],) if depth + 1 < len(levels) else ()
        sup[CAT + category] = [cand(f"{category}-{k}", category, inputs) for k in range(5)]
    query = ChainQuery(category=CAT + "c0", max_hops=8, limit=50)
    started = time.perf_counter()
    trees, truncated, _ = build_chains(sup[CAT + "c0"], sup, query, alternatives=3)
    assert time.perf_counter() - started < 2.0  # 5**8 = 390,625 chains if enumerated
    assert not truncated and 5 <= len(trees) <= 50
    assert all(t.size == 8 for t in trees)
    assert len({t.offers for t in trees}) == len(trees)


def test_several_inputs_make_a_tree_and_an_offer_is_never_used_twice():
    beer = cand("brewery", "beer", ("malt", "honey"))
    malt = cand("malting", "malt", ("barley",))
    honey = cand("bees", "honey", role="production")
    barley = cand("farm", "barley", role="production")
    trees, _, _ = build_chains([beer], index(beer, malt, honey, barley),
                               ChainQuery(category=CAT + "beer"))
    links = links_of(trees[0], ChainQuery(category=""))
    assert [(lk["title"], lk["supplies"]) for lk in links] == [
        ("brewery", None), ("malting", 1), ("farm", 2), ("bees", 1)]


def test_guarantee_needs_a_trusted_network_a_current_validity_and_a_fresh_offer():
    c = cand("mill", "flour")
    c.guaranteed = False
    b_net = "https://b.example/actors/network"
    def g(**kw):
        args = dict(own_network=OWN, trusted=frozenset({OWN, b_net}), vouchers={}, today=TODAY)
        args.update(kw)
        return guarantee_of(c, **args)
    assert g()["guaranteed"] is False and g()["reason"] == "no network lists this organisation"
    later = TODAY + timedelta(days=30)
    ok = g(vouchers={c.actor: [(b_net, later)]})
    assert ok["guaranteed"] and ok["validated_by"] == b_net and ok["valid_until"] == later.isoformat()
    untrusted = g(vouchers={c.actor: [(b_net, later)]}, trusted=frozenset({OWN}))
    assert not untrusted["guaranteed"] and "not a network this node trusts" in untrusted["reason"]
    expired = g(vouchers={c.actor: [(b_net, TODAY - timedelta(days=1))]})
    assert not expired["guaranteed"] and expired["expired"]
    # a trusted, current voucher wins over an untrusted one
    both = g(vouchers={c.actor: [("https://x.example/actors/n", later), (b_net, later)]})
    assert both["guaranteed"] and both["validated_by"] == b_net
    c.offer_valid_until = TODAY - timedelta(days=1)
    stale = g(vouchers={c.actor: [(b_net, later)]})
    assert not stale["guaranteed"] and stale["offer_expired"]
    # a local member: the node's own network, from its validation status
    c.offer_valid_until, c.local_validation = None, ("validated", later)
    assert g()["guaranteed"] and g()["validated_by"] == OWN
    c.local_validation = ("unvalidated", None)
    assert not g()["guaranteed"]


def test_radius_bounds_every_candidate_and_guaranteed_only_filters():
    near, far = cand("near", "flour", lat=45.0, lon=5.0), cand("far", "flour", lat=46.0, lon=5.0)
    unplaced = cand("nowhere", "flour")
    unplaced.lat = unplaced.lon = None
    q = ChainQuery(category="", near=(45.0, 5.0), radius_km=50)
    assert [c.title for c in rank_candidates([far, near, unplaced], q, 5)] == ["near"]
    far.guaranteed = False
    q = ChainQuery(category="", near=(45.0, 5.0), guaranteed_only=True)
    assert [c.title for c in rank_candidates([far, near], q, 5)] == ["near"]
    assert 110 < haversine_km(45.0, 5.0, 46.0, 5.0) < 112


def test_query_parameters_are_checked_with_the_field_named():
    q = parse_query({"category": "bread", "near": "45.1,5.7", "radius_km": "30",
                     "max_hops": "4", "guaranteed_only": "true", "limit": "5"}, max_hops_cap=8)
    assert q == ChainQuery(category=CAT + "bread", near=(45.1, 5.7), radius_km=30.0,
                           max_hops=4, guaranteed_only=True, limit=5)
    for params, field in (({}, "category"), ({"category": "nope"}, "category"),
                          ({"category": "bread", "near": "x,y"}, "near"),
                          ({"category": "bread", "near": "95,5"}, "near"),
                          ({"category": "bread", "radius_km": "5"}, "radius_km"),
                          ({"category": "bread", "max_hops": "9"}, "max_hops"),
                          ({"category": "bread", "limit": "0"}, "limit")):
        with pytest.raises(InvalidInput) as err:
            parse_query(params, max_hops_cap=8)
        assert err.value.field == field


def test_peer_offers_are_read_tolerantly_and_never_trusted_for_another_origin():
    item = {"offer": "https://c.example/offers/1", "actor": "https://c.example/actors/f",
            "output": CAT + "bread", "inputs": [CAT + "flour", 42], "role": "transformation",
            "location": {"lat": 45.1, "lon": 5.1}, "valid_until": "2027-01-31",
            "validated_by": "https://c.example/actors/network", "title": "Pain"}
    c = read_offer(item, "b.example")
    assert c is not None and c.node == "c.example" and c.via == "b.example"
    assert c.inputs == (CAT + "flour",) and c.offer_valid_until == date(2027, 1, 31)
    assert c.claimed_networks == ("https://c.example/actors/network",)
    assert read_offer({**item, "offer": "https://evil.example/offers/1"}, "b.example") is None
    assert read_offer({**item, "role": "magic"}, "b.example") is None
    assert read_offer("nonsense", "b.example") is None
    bad_place = read_offer({**item, "location": {"lat": "north", "lon": 5}}, "b.example")
    assert bad_place is not None and bad_place.lat is None


def test_the_peer_rate_limit_refuses_past_its_budget_and_refills():
    from ssefed.web.chains import RateLimiter

    limiter = RateLimiter(per_minute=3)
    assert [limiter.allow("b.example") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.allow("b.example")
    assert 0 < wait <= 20.0  # one request comes back every 20 s
    assert limiter.allow("c.example") == 0.0  # per host
    tokens, at = limiter.buckets["b.example"]
    limiter.buckets["b.example"] = (tokens, at - 21)
    assert limiter.allow("b.example") == 0.0
