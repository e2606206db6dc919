"""What a node shows must be what its origin said (issue 18): a hostile peer P (a fake
server on loopback, found as a peer because it follows A's network) answers A's chain
questions about offers of V, an honest node whose network A trusts. P speaks for its
own origin only: an offer it reports for V counts once V serves it (and as V states
it), else it is shown unverified and never guaranteed. A network's decision applies
only to an application of that network.

One scene per backend (module fixture): A on the backend under test, V on SQLite."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterator

import pytest
import requests

from ssefed.domain.vetting import Rule
from ssefed.federation import httpsig
from ssefed.vocab import vetting_as
from tests.conftest import BACKENDS, FreshDatabases
from tests.fakepeer import AS_CONTEXT, FakeActor, FakePeer
from tests.integration.test_chains import CAT, chains, offer, org
from tests.integration.test_federation import host, last_line, ok
from tests.nodes import Node, NodeFactory

AS2 = "application/activity+json"
NODEINFO_2_1 = "http://nodeinfo.diaspora.software/ns/schema/2.1"
PEER_API = "/api/peer/v1/offers"


@dataclass
class Scene:
    a: Node  # the node under test
    v: Node  # an honest origin, whose network A trusts
    p: FakePeer  # the hostile peer
    relay: FakeActor  # P's actor, a follower of A's network
    moulin: str  # V's validated organisation
    flour: str  # V's real offers, which A does not hold: flour (for one test only)...
    honey: str  # ... and honey

    def answer(self, *offers: dict[str, Any]) -> None:
        """What P answers to any chain question (version 1 of the peer API)."""
        self.p.serve(PEER_API, {"version": 1, "node": self.p.host, "offers": list(offers),
                                "truncated": False, "peers": []})


def signed_post(url: str, doc: dict[str, Any], actor: FakeActor) -> requests.Response:
    body = json.dumps(doc).encode()
    headers = {"Content-Type": AS2}
    headers.update(httpsig.sign_cavage("POST", url, headers, body, actor.key_id,
                                       actor.private_pem))
    return requests.post(url, data=body, headers=headers, timeout=20)


def serve_peer_api(p: FakePeer) -> None:
    p.serve("/.well-known/nodeinfo", {"links": [{"rel": NODEINFO_2_1,
                                                 "href": f"{p.base_url}/nodeinfo/2.1"}]})
    p.serve("/nodeinfo/2.1", {"version": "2.1", "software": {"name": "ssefed"},
                              "metadata": {"ssefed": {"chains": {
                                  "version": 1, "offers": p.base_url + PEER_API}}}})


@pytest.fixture(scope="module", params=BACKENDS)
def scene(request, tmp_path_factory) -> Iterator[Scene]:
    tmp = tmp_path_factory.mktemp(f"claims-{request.param}")
    dbs, v_dbs = FreshDatabases(request.param, tmp), FreshDatabases("sqlite", tmp)
    factory, v_factory = NodeFactory(tmp, dbs), NodeFactory(tmp, v_dbs)
    p = FakePeer().start()
    try:
        v = v_factory.start("v")
        v_network = f"{v.base_url}/actors/network"
        a = factory.start("a", extra_env={"SSEFED_CHAINS_TRUSTED_NETWORKS": v_network})
        moulin = org(v, "moulin", "Moulin du Pont", 45.20, 5.20)
        ok(v.cli("org", "approve", "moulin"))
        flour = offer(v, "moulin", "production", "flour", "Farine T80 du Moulin")
        honey = offer(v, "moulin", "production", "honey", "Miel de montagne")
        # P becomes a peer of A: its actor follows A's network (accepted)
        serve_peer_api(p)
        relay = p.add_actor("relay")
        follow = {"@context": AS_CONTEXT, "id": f"{relay.id}/follows/1", "type": "Follow",
                  "actor": relay.id, "object": f"{a.base_url}/actors/network"}
        r = signed_post(f"{a.base_url}/actors/network/inbox", follow, relay)
        assert r.status_code in (200, 202), r.text
        assert a.wait_for("SELECT count(*) FROM follows WHERE state = 'accepted'",
                          [(1,)]) == [(1,)]
        yield Scene(a, v, p, relay, moulin, flour, honey)
    finally:
        factory.stop_all()
        v_factory.stop_all()
        p.stop()
        dbs.drop_all()


def item(offer_iri: str, actor: str, category: str, title: str, *, node: str,
         member_of: list[str] = (), lat: float = 45.2, lon: float = 5.2) -> dict[str, Any]:
    return {"offer": offer_iri, "title": title, "role": "production", "kind": "product",
            "output": CAT + category, "inputs": [], "actor": actor, "actor_name": "Moulin",
            "node": node, "location": {"lat": lat, "lon": lon},
            "valid_until": None, "member_of": list(member_of)}


def links_by_offer(answer: dict) -> dict[str, dict]:
    return {link["offer"]: link for ch in answer["chains"] for link in ch["links"]}


def test_peer_cannot_make_another_origins_offer_guaranteed(scene: Scene):
    v_network = f"{scene.v.base_url}/actors/network"
    forged = f"{scene.v.base_url}/offers/{uuid.uuid4()}"  # V never published it
    own = f"{scene.p.base_url}/offers/{uuid.uuid4()}"  # P's own organisation's offer
    scene.answer(
        item(forged, scene.moulin, "bread", "Pain garanti du Moulin", node=host(scene.v),
             member_of=[v_network]),
        # V's real honey, said to be bread: V says what it is
        item(scene.honey, scene.moulin, "bread", "Pain", node=host(scene.v),
             member_of=[v_network]),
        item(own, scene.relay.id, "bread", "Pain du relais", node=scene.p.host))
    answer = chains(scene.a, category="bread")
    assert [s["node"] for s in answer["sources"]] == [scene.p.host], answer["sources"]
    links = links_by_offer(answer)
    assert set(links) == {forged, own}, links  # the real honey is no bread
    link = links[forged]
    assert link["verified"] is False and link["guaranteed"] is False, link
    assert link["guarantee"]["guaranteed"] is False and link["guarantee"]["verified"] is False
    assert "not confirmed by its origin" in link["guarantee"]["reason"]
    assert link["via"] == scene.p.host
    assert not any(ch["guaranteed"] for ch in answer["chains"])
    # P speaks for its own organisation: verified, not guaranteed (no trusted network)
    assert links[own]["verified"] is True and links[own]["guaranteed"] is False
    assert chains(scene.a, category="bread", guaranteed_only="true")["chains"] == []
    for lang, text in (("fr", "Non vérifiée"), ("en", "Unverified")):
        page = requests.get(f"{scene.a.base_url}/chains", params={"category": "bread"},
                            headers={"Accept-Language": lang}, timeout=15)
        assert page.status_code == 200 and text in page.text, lang


def test_offer_reported_by_peer_is_guaranteed_once_verified_at_its_origin(scene: Scene):
    v_network = f"{scene.v.base_url}/actors/network"
    # P reports V's real flour with its own words: a title and a place V never gave
    scene.answer(item(scene.flour, scene.moulin, "flour", "Farine frelatée", lat=10.0,
                      lon=10.0, node=host(scene.v), member_of=[v_network]))
    assert scene.a.sql("SELECT count(*) FROM offers WHERE ap_id = :i", i=scene.flour) == [(0,)]
    path = scene.flour.removeprefix(scene.v.base_url)
    fetched_before = scene.v.log().count(f"GET {path} ")
    for _ in range(2):
        answer = chains(scene.a, category="flour")
        link = links_by_offer(answer)[scene.flour]
        assert link["verified"] is True and link["guaranteed"] is True, link
        assert link["guarantee"]["validated_by"] == v_network
        # what A shows is what V said
        assert link["title"] == "Farine T80 du Moulin"
        assert link["actor_name"] == "Moulin du Pont"
        assert link["location"] == {"lat": 45.2, "lon": 5.2}
        assert link["via"] == scene.p.host
    # fetched once from V, then kept
    assert scene.v.log().count(f"GET {path} ") - fetched_before == 1


def test_decision_naming_another_networks_application_is_ignored(scene: Scene):
    a, v = scene.a, scene.v
    charter = {"slug": "ess", "name": "Charte", "summary": "", "approach": "criteria",
               "criteria": [{"key": "gouvernance", "text": "Gouvernance démocratique"}]}
    path = v.directory / "charter.json"
    path.write_text(json.dumps(charter), encoding="utf-8")
    charter_iri = last_line(v.cli("charter", "publish", str(path))).rsplit(": ", 1)[1]
    org(a, "ferme", "Ferme des Combes", 45.0, 5.0)
    answers = a.directory / "answers.json"
    answers.write_text(json.dumps([{"criterion": "gouvernance", "answer": "yes"}]),
                       encoding="utf-8")
    ok(a.cli("apply", "ferme", "--network", f"network@{host(v)}", "--charter", charter_iri,
             "--answers", str(answers)))
    join = a.sql("SELECT join_ap_id FROM applications")[0][0]
    assert v.wait_for("SELECT count(*) FROM applications", [(1,)]) == [(1,)]

    # another network (P's actor) "validates" the application ferme made to V's network
    forged = vetting_as.decision_activity(
        f"{scene.relay.id}/decisions/{uuid.uuid4()}", scene.relay.id,
        f"{scene.p.base_url}/applications/1", f"{a.base_url}/actors/ferme",
        outcome="validated", until=date.today() + timedelta(days=365),
        rule=Rule(min_endorsements=0, min_colleges=0, min_peer_members=0).to_json(), basis=[],
        note="", join_id=join, published=datetime.now(timezone.utc))
    r = signed_post(f"{a.base_url}/actors/ferme/inbox", forged, scene.relay)
    assert r.status_code in (200, 202), r.text
    done = a.wait_for("SELECT state FROM inbox_items WHERE ap_id = :i",
                      lambda rows: rows and rows[0][0] != "pending", i=forged["id"])
    assert done and done[0][0] in ("ignored", "rejected"), done
    assert a.sql("SELECT state FROM applications") == [("pending",)]
    assert a.sql("SELECT count(*) FROM decisions") == [(0,)]

    # V's own decision on it applies
    ok(v.cli("review", "decide", "1", "needs-more", "--note", "précisez"))
    assert a.wait_for("SELECT state FROM applications", [("needs_more",)]) == [("needs_more",)]
