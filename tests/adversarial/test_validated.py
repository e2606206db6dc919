"""One notion of "validated", from verified sources only (issue 18).

Three live nodes: the mill of node B applies to the network of node A, which validates
it; B's and C's networks follow A's (they trust it). A hostile server serves an
organisation whose actor document says it is validated by A's network. On every node,
/api/search (its items, ``validated_only=true`` and its total), the organisation's page
and /api/chains must agree: the mill is validated by A's network, the hostile one is not.
"""

from __future__ import annotations

import json
import uuid
from datetime import date
from pathlib import Path

import pytest
import requests

from tests.conftest import BACKENDS, FreshDatabases
from tests.fakepeer import FakePeer
from tests.integration.test_chains import chains, offer, org, wait_until
from tests.integration.test_federation import host, last_line, ok
from tests.integration.test_inbox_refusals import post_signed
from tests.nodes import NodeFactory

CHARTER = {"slug": "ess", "name": "Charte", "summary": "Nos engagements.",
           "approach": "criteria",
           "criteria": [{"key": "gouvernance", "text": "Gouvernance démocratique"}]}
ANSWERS = [{"criterion": "gouvernance", "answer": "yes", "evidence": "SCOP"}]
# the network's rule asks for nothing: the reviewers' decision is what this test needs
EASY_RULE = {"SSEFED_VALIDATION_MIN_ENDORSEMENTS": "0", "SSEFED_VALIDATION_MIN_COLLEGES": "0",
             "SSEFED_VALIDATION_MIN_PEER_MEMBERS": "0"}
AS2 = "application/activity+json"


def _write(node, name: str, doc) -> str:
    path = node.directory / name
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return str(path)


def search(node, **params) -> dict:
    r = requests.get(f"{node.base_url}/api/search", params=params, timeout=15)
    assert r.status_code == 200, r.text
    return r.json()


def item_of(node, iri: str, q: str, **params) -> dict | None:
    return next((i for i in search(node, q=q, type="organisation", **params)["items"]
                 if i["id"] == iri), None)


def link_of(node, category: str, offer_iri: str) -> dict | None:
    for chain in chains(node, category=category)["chains"]:
        for link in chain["links"]:
            if link["offer"] == offer_iri:
                return link
    return None


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A, B, C started once for the module; the mill of B validated by A's network. The
    backends are mixed (A on SQLite, B and C on PostgreSQL when it is there): every check
    is made on every node, so both databases' search answers."""
    tmp = Path(tmp_path_factory.mktemp("validated"))
    dbs = {kind: FreshDatabases(kind, tmp) for kind in BACKENDS}
    factories = {kind: NodeFactory(tmp, d) for kind, d in dbs.items()}
    first, last = factories[BACKENDS[0]], factories[BACKENDS[-1]]
    try:
        a = first.create("a", network_name="Réseau des Hautes-Vallées", extra_env=EASY_RULE)
        b, c = last.create("b"), last.create("c")
        for node in (a, b, c):
            node.start()
        a_net = f"{a.base_url}/actors/network"
        charter = last_line(a.cli("charter", "publish", _write(a, "charter.json", CHARTER)))
        charter_iri = charter.rsplit(": ", 1)[1]
        moulin = org(b, "moulin", "Moulin du Pont", 45.2, 5.2)
        flour = offer(b, "moulin", "transformation", "flour", "Farine T80")
        # B's and C's networks follow A's (and so trust it); A and C follow the mill
        for node in (b, c):
            ok(node.cli("follow", f"network@{host(a)}", "--as", "network"))
        for node in (a, c):
            ok(node.cli("follow", f"moulin@{host(b)}", "--as", "network"))
        assert c.wait_for("SELECT count(*) FROM follows WHERE state = 'accepted'",
                          [(2,)]) == [(2,)]
        for node in (a, b):  # A: B, C -> A and A -> mill; B: B -> A and A, C -> mill
            assert node.wait_for("SELECT count(*) FROM follows WHERE state = 'accepted'",
                                 [(3,)]) == [(3,)], node.name
        for node in (a, b, c):  # indexed before the decision: not validated yet
            item = wait_until(lambda n=node: item_of(n, moulin, "moulin"))
            assert item and item["validated"] is False, (node.name, item)
        ok(b.cli("apply", "moulin", "--network", f"network@{host(a)}", "--charter",
                 charter_iri, "--answers", _write(b, "answers.json", ANSWERS)))
        assert a.wait_for("SELECT count(*) FROM applications", [(1,)]) == [(1,)]
        ok(a.cli("review", "decide", "1", "validated"))
        until = a.sql("SELECT valid_until FROM applications")[0][0]
        # B and C read A's members collection again (A announced the new member)
        for node in (b, c):
            assert node.wait_for(
                "SELECT count(*) FROM memberships WHERE network_ap_id = :n AND "
                "member_ap_id = :m", [(1,)], n=a_net, m=moulin) == [(1,)], node.name
        # C holds the mill's offer (it follows the mill)
        assert c.wait_for("SELECT count(*) FROM offers WHERE ap_id = :o", [(1,)],
                          o=flour) == [(1,)]
        yield {"a": a, "b": b, "c": c, "a_net": a_net, "moulin": moulin, "flour": flour,
               "until": date.fromisoformat(str(until)[:10])}
        for node in (a, b, c):
            assert "Traceback" not in node.log(), node.log()
    finally:
        for kind in BACKENDS:
            factories[kind].stop_all()
            dbs[kind].drop_all()


def test_organisation_validated_by_trusted_network_is_validated_in_search_page_and_chains_alike(
        world):
    a, b, c = world["a"], world["b"], world["c"]
    moulin, flour, a_net, until = world["moulin"], world["flour"], world["a_net"], world["until"]
    for node in (a, b, c):
        # /api/search: the item, validated_only=true, and its total and facets
        item = wait_until(lambda n=node: (i := item_of(n, moulin, "moulin")) and i["validated"]
                          and i)
        assert item, (node.name, item_of(node, moulin, "moulin"))
        assert item["validationExpired"] is False
        strict = search(node, q="moulin", type="organisation", validated_only="true")
        assert moulin in [i["id"] for i in strict["items"]], node.name
        assert strict["total"] >= 1 and sum(strict["facets"]["sector"].values()) <= \
            strict["total"]
        offers = search(node, q="farine", type="offer", validated_only="true")
        assert flour in [i["id"] for i in offers["items"]], node.name
        # /api/chains: the same network vouches, until the same day
        link = wait_until(lambda n=node: (lk := link_of(n, "flour", flour))
                          and lk["guaranteed"] and lk)
        assert link, (node.name, link_of(node, "flour", flour))
        assert link["guarantee"]["validated_by"] == a_net
        assert link["guarantee"]["valid_until"] == until.isoformat()
    # the organisation's page (on its own node): validated by A's network
    page = requests.get(moulin, headers={"Accept": "text/html", "Accept-Language": "en"},
                        timeout=10)
    assert page.status_code == 200
    assert "not validated" not in page.text
    assert "Réseau des Hautes-Vallées vouches that this organisation" in page.text, page.text

    # C no longer follows A's network, so no longer trusts it: the mill is not validated
    # there any more, in the search as in the chains
    ok(c.cli("unfollow", f"network@{host(a)}", "--as", "network"))
    assert wait_until(lambda: (i := item_of(c, moulin, "moulin")) and not i["validated"])
    assert moulin not in [i["id"] for i in search(c, q="moulin", validated_only="true")["items"]]
    link = wait_until(lambda: (lk := link_of(c, "flour", flour)) and not lk["guaranteed"]
                      and lk)
    assert link and "not a network this node trusts" in link["guarantee"]["reason"], link


def test_remote_actor_declaring_itself_validated_is_not_validated_in_search(world):
    a, c, a_net = world["a"], world["c"], world["a_net"]
    with FakePeer() as peer:
        liar = peer.add_actor("liar")
        doc = liar.document()
        doc.update({
            "type": "Organization", "name": "Coopérative Usurpée",
            "summary": "Se dit validée", "validationStatus": "validated",
            "validUntil": "2099-12-31", "validatedBy": a_net, "memberOf": [a_net],
            "sectors": ["10.71"],
            "location": {"type": "Place", "latitude": 45.3, "longitude": 5.3}})
        peer.serve(liar.path, doc)
        for node in (a, c):
            follow = {"@context": "https://www.w3.org/ns/activitystreams",
                      "id": f"{liar.id}#follows/{uuid.uuid4()}", "type": "Follow",
                      "actor": liar.id, "object": f"{node.base_url}/actors/network"}
            r = post_signed(f"{node.base_url}/actors/network/inbox", follow, liar)
            assert r.status_code == 202, r.text
            assert node.wait_for("SELECT count(*) FROM organisations o JOIN actors x ON "
                                 "x.id = o.actor_id WHERE x.ap_id = :i", [(1,)],
                                 i=liar.id) == [(1,)], node.name
    for node in (a, c):
        item = wait_until(lambda n=node: item_of(n, liar.id, "usurpee"))
        assert item, (node.name, search(node, q="usurpee"))
        assert item["validated"] is False and item["validationExpired"] is False, item
        strict = search(node, q="usurpee", validated_only="true")
        assert strict["total"] == 0 and strict["items"] == [], strict
        assert strict["facets"]["sector"] == {} and search(node, q="usurpee")["facets"][
            "sector"] == {"10": 1}
        # in a circle (the per-cell counts answer the total): not among the validated
        near = search(node, near="45.3,5.3", radius_km="2", validated_only="true")
        assert liar.id not in [i["id"] for i in near["items"]]
