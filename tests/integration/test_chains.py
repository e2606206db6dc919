"""Solidarity supply chains across three live nodes: wheat (farmers' coop, A) -> flour
(two competing mills, B) -> bread (bakery, C) -> distribution (grocery coop, A), queried
on A; the guarantee of every link comes from the members collection of a network A
trusts."""

from __future__ import annotations

import time
from datetime import date, timedelta

import requests

from tests.integration.test_federation import host, last_line, ok

CAT = "https://w3id.org/ssefed/category/"
ACTIVITY_JSON = {"Accept": "application/activity+json"}


def org(node, handle: str, name: str, lat: float, lon: float) -> str:
    ok(node.cli("org", "add", "--handle", handle, "--name", name, "--lat", str(lat),
                "--lon", str(lon)))
    return f"{node.base_url}/actors/{handle}"


def offer(node, handle: str, role: str, category: str, title: str,
          inputs: tuple[str, ...] = ()) -> str:
    args = ["offer", "add", "--org", handle, "--direction", "offer", "--role", role,
            "--kind", "product", "--category", category, "--title", title]
    for i in inputs:
        args += ["--input", i]
    return last_line(node.cli(*args))


def chains(node, **params) -> dict:
    r = requests.get(f"{node.base_url}/api/chains", params=params, timeout=15)
    assert r.status_code == 200, r.text
    return r.json()


def offers_of(chain: dict) -> list[str]:
    return [link["offer"] for link in chain["links"]]


def wait_until(check, timeout: float = 20):
    deadline = time.monotonic() + timeout
    value = check()
    while not value and time.monotonic() < deadline:
        time.sleep(0.2)
        value = check()
    return value


def test_a_chain_across_three_nodes_with_the_guarantee_of_every_link(nodes):
    c = nodes.create("c")
    b = nodes.create("b")
    c_network = f"{c.base_url}/actors/network"
    # A trusts C's network by its setting (it does not follow it), and reads members
    # collections again when they are older than a second.
    a = nodes.create("a", extra_env={"SSEFED_CHAINS_TRUSTED_NETWORKS": c_network,
                                     "SSEFED_CHAINS_MEMBERS_MAX_AGE_SECONDS": "1"})
    for node in (a, b, c):
        node.start()
    b_network = f"{b.base_url}/actors/network"

    ferme = org(a, "ferme", "Coopérative des Combes", 45.00, 5.00)
    epicerie = org(a, "epicerie", "Épicerie coopérative", 45.05, 5.05)
    moulin = org(b, "moulin", "Moulin du Pont", 45.20, 5.20)
    moulin2 = org(b, "moulin2", "Minoterie des Cols", 45.30, 5.30)
    fournil = org(c, "fournil", "Fournil coopératif", 45.10, 5.10)
    for node, handle in ((a, "ferme"), (a, "epicerie"), (b, "moulin"), (b, "moulin2"),
                         (c, "fournil")):
        ok(node.cli("org", "approve", handle))

    # A's network follows B's; B's follows C's (A knows C only through B)
    ok(a.cli("follow", f"network@{host(b)}", "--as", "network"))
    ok(b.cli("follow", f"network@{host(c)}", "--as", "network"))
    assert a.wait_for("SELECT count(*) FROM follows WHERE state = 'accepted'", [(1,)]) == [(1,)]
    assert b.wait_for("SELECT count(*) FROM follows WHERE state = 'accepted'", [(2,)]) == [(2,)]

    wheat = offer(a, "ferme", "production", "wheat", "Blé tendre bio")
    flour1 = offer(b, "moulin", "transformation", "flour", "Farine T80", ("wheat",))
    flour2 = offer(b, "moulin2", "transformation", "flour", "Farine T65", ("wheat",))
    bread = offer(c, "fournil", "transformation", "bread", "Pain au levain", ("flour",))
    grocery = offer(a, "epicerie", "distribution", "bread", "Pain en vrac", ("bread",))
    # A holds B's flours (announced by B's network); B holds C's bread; A does not
    assert a.wait_for("SELECT count(*) FROM offers WHERE NOT local", [(2,)]) == [(2,)]
    assert b.wait_for("SELECT count(*) FROM offers WHERE NOT local", [(1,)]) == [(1,)]
    assert a.sql("SELECT count(*) FROM offers WHERE ap_id = :i", i=bread) == [(0,)]
    # A read B's members collection when its follow was accepted
    assert a.wait_for("SELECT count(*) FROM memberships WHERE network_ap_id = :n", [(2,)],
                      n=b_network) == [(2,)]

    # the peer API is advertised in NodeInfo, and refuses unsigned questions
    info = requests.get(f"{b.base_url}/nodeinfo/2.1", timeout=5).json()
    endpoint = info["metadata"]["ssefed"]["chains"]
    assert endpoint == {"version": 1, "offers": f"{b.base_url}/api/peer/v1/offers"}
    unsigned = requests.get(endpoint["offers"], params={"category": CAT + "bread"}, timeout=5)
    assert unsigned.status_code == 401
    assert unsigned.headers["Content-Type"].startswith("application/problem+json")

    answer = chains(a, category="bread", near="45.05,5.05", radius_km="100")
    assert answer["partial"] is False, answer["sources"]
    assert [s["node"] for s in answer["sources"]] == [host(b)]
    assert answer["sources"][0]["status"] == "ok"
    # fewer links come first: bread straight from the bakery (3 links), then through the
    # grocery (4 links, the chain across the three nodes)
    assert offers_of(answer["chains"][0])[0] == bread
    best = next(ch for ch in answer["chains"] if offers_of(ch)[0] == grocery)
    assert best["guaranteed"] is True
    assert offers_of(best) in ([grocery, bread, flour1, wheat], [grocery, bread, flour2, wheat])
    links = best["links"]
    assert [link["position"] for link in links] == [1, 2, 3, 4]
    assert [link["supplies"] for link in links] == [None, 1, 2, 3]
    assert [link["role"] for link in links] == ["distribution", "transformation",
                                                 "transformation", "production"]
    assert [link["node"] for link in links] == [host(a), host(c), host(b), host(a)]
    assert [link["actor"] for link in links][:2] == [epicerie, fournil]
    assert links[3]["actor"] == ferme and links[2]["actor"] in (moulin, moulin2)
    assert [link["output"] for link in links] == [CAT + "bread", CAT + "bread", CAT + "flour",
                                                  CAT + "wheat"]
    assert links[1]["inputs"] == [CAT + "flour"] and links[3]["inputs"] == []
    assert links[1]["via"] == host(b)  # learnt from B's answer
    expected_by = {host(a): f"{a.base_url}/actors/network", host(b): b_network,
                   host(c): c_network}
    for link in links:
        g = link["guarantee"]
        assert link["guaranteed"] and g["guaranteed"] and g["trusted"], link
        assert g["validated_by"] == expected_by[link["node"]]
        assert date.fromisoformat(g["valid_until"]) > date.today()
        assert link["location"] is not None
    assert links[0]["distance_km"] < 1.0  # from the place asked
    assert 6.5 < links[1]["distance_km"] < 7.1  # bakery (45.10, 5.10) to grocery (45.05, 5.05)
    # the two competing mills are both there
    all_offers = {o for ch in answer["chains"] for o in offers_of(ch)}
    assert {flour1, flour2} <= all_offers
    other = flour2 if links[2]["offer"] == flour1 else flour1
    assert other in [alt["offer"] for alt in links[2]["alternatives"]]
    ranks = [(not ch["guaranteed"], len(ch["links"]), ch["total_distance_km"])
             for ch in answer["chains"]]
    assert ranks == sorted(ranks)

    # the same on the command line, and a page a consumer can read
    table = ok(a.cli("chains", "--category", "bread"))
    assert "GUARANTEED" in table and "Fournil coopératif" in table and "Moulin du Pont" in table
    page = requests.get(f"{a.base_url}/chains", params={"category": "bread"},
                        headers={"Accept-Language": "fr"}, timeout=15)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert "Fournil coopératif" in page.text and "Garanti" in page.text
    one = requests.get(best["url"].replace("near=", "near="), timeout=15)
    assert one.status_code == 200 and "Épicerie coopérative" in one.text

    # B withdraws its validation of the second mill: the chains through it are no longer
    # guaranteed, and guaranteed_only leaves them out
    ok(b.cli("org", "unapprove", "moulin2"))
    assert a.wait_for("SELECT count(*) FROM memberships WHERE network_ap_id = :n", [(1,)],
                      n=b_network) == [(1,)]
    answer = chains(a, category="bread")
    through = [ch for ch in answer["chains"] if flour2 in offers_of(ch)]
    assert through and not any(ch["guaranteed"] for ch in through)
    link = next(lk for lk in through[0]["links"] if lk["offer"] == flour2)
    assert link["guarantee"]["guaranteed"] is False and "does not list it" in link["guarantee"]["reason"]
    strict = chains(a, category="bread", guaranteed_only="true")
    assert strict["chains"] and all(ch["guaranteed"] for ch in strict["chains"])
    assert not any(flour2 in offers_of(ch) for ch in strict["chains"])

    # the bakery's validation expires: no chain is guaranteed any more
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    ok(c.cli("org", "approve", "fournil", "--until", yesterday))
    time.sleep(1.2)  # A's copy of C's members collection is now older than its max age

    def expired() -> dict | None:
        got = chains(a, category="bread")
        return got if got["chains"] and not any(
            ch["guaranteed"] for ch in got["chains"] if bread in offers_of(ch)) else None

    answer = wait_until(expired)
    assert answer, "the expired validation still counts"
    for ch in answer["chains"]:  # every chain goes through the bakery
        link = next(lk for lk in ch["links"] if lk["offer"] == bread)
        assert link["guarantee"]["expired"] is True and link["guaranteed"] is False
        assert link["guarantee"]["reason"] == f"validation expired on {yesterday}"
    assert chains(a, category="bread", guaranteed_only="true")["chains"] == []

    # with B stopped, A cannot source bread from C: the answer is partial and names B
    b.stop()
    started = time.monotonic()
    answer = chains(a, category="bread")
    assert time.monotonic() - started < 8
    assert answer["partial"] is True
    assert [(s["node"], s["status"]) for s in answer["sources"]] == [(host(b), "error")]
    assert not any(bread in offers_of(ch) for ch in answer["chains"])
    for node in (a, c):
        assert "Traceback" not in node.log()


def test_a_cycle_ends_and_bad_queries_are_refused(nodes):
    a = nodes.start("a")
    org(a, "compostiere", "Plateforme de compostage", 45.0, 5.0)
    org(a, "maraicher", "Maraîchers associés", 45.01, 5.01)
    ok(a.cli("org", "approve", "compostiere"))
    ok(a.cli("org", "approve", "maraicher"))
    # vegetables are grown with compost, compost is made from vegetables: a real cycle
    veg = offer(a, "maraicher", "production", "vegetables", "Légumes", ("compost",))
    compost = offer(a, "compostiere", "transformation", "compost", "Compost", ("vegetables",))
    answer = chains(a, category="vegetables", max_hops="8")
    assert answer["chains"] == [] and answer["partial"] is False
    # a primary producer of compost closes the chain: 2 links, no offer twice
    primary = offer(a, "compostiere", "production", "compost", "Compost de déchets verts")
    answer = chains(a, category="vegetables")
    assert [offers_of(ch) for ch in answer["chains"]] == [[veg, primary]]
    assert compost not in offers_of(answer["chains"][0])
    for params, field in (({}, "category"), ({"category": "no-such-thing"}, "category"),
                          ({"category": "bread", "near": "45"}, "near"),
                          ({"category": "bread", "radius_km": "5"}, "radius_km"),
                          ({"category": "bread", "max_hops": "99"}, "max_hops"),
                          ({"category": "bread", "guaranteed_only": "maybe"}, "guaranteed_only")):
        r = requests.get(f"{a.base_url}/api/chains", params=params, timeout=5)
        assert r.status_code == 422, (params, r.text)
        assert r.headers["Content-Type"].startswith("application/problem+json")
        assert r.json()["field"] == field
    bad = a.cli("chains", "--category", "no-such-thing")
    assert bad.returncode == 2 and "category" in bad.stderr and "Traceback" not in bad.stderr
