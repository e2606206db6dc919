"""Three real ssefed nodes on loopback ports federate: discovery, follows both ways,
publications reaching followers, backlog after a stop, and no loss after SIGKILL."""

import json
import signal
import time

import requests

ACTIVITY_JSON = {"Accept": "application/activity+json"}


def last_line(result) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip().splitlines()[-1]


def ok(result) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def host(node) -> str:
    return f"127.0.0.1:{node.port}"


def add_offer(node, org: str, title: str, category: str = "wheat") -> str:
    return last_line(node.cli("offer", "add", "--org", org, "--direction", "offer",
                              "--role", "production", "--kind", "product", "--category",
                              category, "--title", title))


def doc(value):
    """A JSON column as read by plain SQL: text on SQLite, decoded on PostgreSQL."""
    return json.loads(value) if isinstance(value, str) else value


def objects(node, iri: str) -> list[tuple]:
    return [(t, doc(j), d) for t, j, d in node.sql(
        "SELECT type, ap_json, deleted_at FROM remote_objects WHERE ap_id = :iri", iri=iri)]


def following_state(node, follower: str, followed: str) -> list[tuple]:
    return node.sql(
        "SELECT f.state FROM follows f JOIN actors a ON a.id = f.follower_id "
        "JOIN actors b ON b.id = f.followed_id WHERE a.ap_id = :a AND b.ap_id = :b",
        a=follower, b=followed)


def test_webfinger_host_meta_and_nodeinfo_describe_the_node(nodes):
    a = nodes.create("a")
    ok(a.cli("org", "add", "--handle", "ferme", "--name", "Ferme des Combes", "--lat", "45.1",
             "--lon", "5.7", "--legal-form", "producer-cooperative", "--sector", "01.11",
             "--website", "https://ferme.example"))
    ok(a.cli("offer", "add", "--org", "ferme", "--direction", "offer", "--role", "production",
             "--kind", "product", "--category", "wheat", "--title", "Blé"))
    a.start()
    finger = requests.get(f"{a.base_url}/.well-known/webfinger",
                          params={"resource": f"acct:ferme@{host(a)}"}, timeout=5)
    assert finger.status_code == 200
    assert finger.headers["Content-Type"].startswith("application/jrd+json")
    self_link = next(link for link in finger.json()["links"] if link["rel"] == "self")
    assert self_link == {"rel": "self", "type": "application/activity+json",
                         "href": f"{a.base_url}/actors/ferme"}
    by_url = requests.get(f"{a.base_url}/.well-known/webfinger",
                          params={"resource": f"{a.base_url}/actors/ferme"}, timeout=5)
    assert by_url.json()["subject"] == f"acct:ferme@{host(a)}"
    unknown = requests.get(f"{a.base_url}/.well-known/webfinger",
                           params={"resource": f"acct:nobody@{host(a)}"}, timeout=5)
    assert unknown.status_code == 404
    meta = requests.get(f"{a.base_url}/.well-known/host-meta", timeout=5)
    assert "/.well-known/webfinger?resource={uri}" in meta.text
    links = requests.get(f"{a.base_url}/.well-known/nodeinfo", timeout=5).json()["links"]
    info = requests.get(links[0]["href"], timeout=5).json()
    assert info["software"]["name"] == "ssefed" and info["protocols"] == ["activitypub"]
    assert info["usage"]["users"]["total"] == 2  # the network and ferme
    assert info["usage"]["localPosts"] == 1

    context = requests.get(f"{a.base_url}/ns/context.jsonld", timeout=5)
    assert context.headers["Content-Type"].startswith("application/ld+json")
    assert "inputCategories" in context.json()["@context"]
    vocabulary = requests.get(f"{a.base_url}/ns/ssefed.ttl", timeout=5)
    assert vocabulary.headers["Content-Type"].startswith("text/turtle")
    assert "rdfs:subClassOf vf:Proposal" in vocabulary.text

    actor = requests.get(f"{a.base_url}/actors/ferme", headers=ACTIVITY_JSON, timeout=5)
    assert actor.headers["Content-Type"].startswith("application/activity+json")
    doc = actor.json()
    assert doc["type"] == "Organization" and doc["preferredUsername"] == "ferme"
    assert doc["publicKey"]["owner"] == doc["id"]
    assert doc["publicKey"]["publicKeyPem"].startswith("-----BEGIN PUBLIC KEY-----")
    assert doc["assertionMethod"][0]["type"] == "Multikey"
    assert doc["assertionMethod"][0]["publicKeyMultibase"].startswith("z6Mk")
    assert doc["endpoints"]["sharedInbox"] == f"{a.base_url}/inbox"
    # its SSE facts, valid against the published JSON Schema
    assert doc["location"]["latitude"] == 45.1 and doc["sectors"] == ["01.11"]
    assert doc["legalForm"] == "https://w3id.org/ssefed/legal-form/producer-cooperative"
    assert doc["memberOf"] == [f"{a.base_url}/actors/network"]
    assert doc["attachment"][0]["type"] == "PropertyValue"  # Mastodon shows the website
    from ssefed.vocab.proposals import check_schema

    check_schema("organization", doc)
    network = requests.get(f"{a.base_url}/actors/network", headers={
        "Accept": 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'},
        timeout=5).json()
    assert network["type"] == "Group"
    turtle = requests.get(f"{a.base_url}/actors/ferme", headers={"Accept": "text/turtle"},
                          timeout=5)
    assert turtle.headers["Content-Type"].startswith("text/turtle")
    import rdflib

    graph = rdflib.Graph().parse(data=turtle.text, format="turtle")
    subject = rdflib.URIRef(doc["id"])
    assert (subject, rdflib.URIRef("https://w3id.org/ssefed/ns#sector"),
            rdflib.Literal("01.11")) in graph
    offer_iri = ok(a.cli("offer", "list")).splitlines()[0].split("\t")[0]
    offer_ttl = requests.get(offer_iri, headers={"Accept": "text/turtle"}, timeout=5)
    offer_graph = rdflib.Graph().parse(data=offer_ttl.text, format="turtle")
    assert (rdflib.URIRef(offer_iri), rdflib.RDF.type,
            rdflib.URIRef("https://w3id.org/valueflows/ont/vf#Proposal")) in offer_graph
    page = requests.get(f"{a.base_url}/actors/ferme", headers={"Accept": "text/html"}, timeout=5)
    assert page.headers["Content-Type"].startswith("text/html") and "Ferme des Combes" in page.text
    outbox = requests.get(doc["outbox"], headers=ACTIVITY_JSON, timeout=5).json()
    assert outbox["type"] == "OrderedCollection" and outbox["totalItems"] == 1
    first = requests.get(outbox["first"], headers=ACTIVITY_JSON, timeout=5).json()
    assert first["orderedItems"][0]["type"] == "Create"


def test_three_nodes_follow_both_ways_and_publications_reach_followers(nodes):
    a, b, c = nodes.start("a"), nodes.start("b"), nodes.start("c")
    ok(a.cli("org", "add", "--handle", "ferme", "--name", "Ferme des Combes"))
    ok(b.cli("org", "add", "--handle", "moulin", "--name", "Moulin du Pont"))
    ferme, moulin = f"{a.base_url}/actors/ferme", f"{b.base_url}/actors/moulin"
    a_network, b_network = f"{a.base_url}/actors/network", f"{b.base_url}/actors/network"
    c_network = f"{c.base_url}/actors/network"

    # moulin published before anyone followed it: a new follower backfills it
    early = add_offer(b, "moulin", "Farine T80", "flour")

    # discovery by WebFinger, follows in both directions between A and B, and C
    ok(b.cli("follow", f"ferme@{host(a)}", "--as", "network"))
    ok(c.cli("follow", f"acct:ferme@{host(a)}", "--as", "network"))
    ok(c.cli("follow", f"@network@{host(a)}", "--as", "network"))
    ok(a.cli("follow", moulin, "--as", "ferme"))
    assert b.wait_for("SELECT f.state FROM follows f JOIN actors a ON a.id = f.follower_id "
                      "WHERE a.local", [("accepted",)]) == [("accepted",)]
    assert following_state(b, b_network, ferme) == [("accepted",)]
    assert c.wait_for("SELECT count(*) FROM follows WHERE state = 'accepted'", [(2,)])
    assert a.wait_for("SELECT count(*) FROM follows WHERE state = 'accepted'", [(4,)])
    assert "accepted" in ok(a.cli("following", "ferme"))
    followers = ok(a.cli("followers", "ferme"))
    assert b_network in followers and c_network in followers
    assert following_state(a, ferme, moulin) == [("accepted",)]
    # backfill: A holds moulin's earlier offer without it being sent again
    assert a.wait_for("SELECT type FROM remote_objects WHERE ap_id = :iri", [("Note",)],
                      iri=early)

    # Create reaches both followers; the network's Announce reaches C
    offer = add_offer(a, "ferme", "Blé tendre bio")
    for node in (b, c):
        rows = node.wait_for("SELECT count(*) FROM remote_objects WHERE ap_id = :iri", [(1,)],
                             iri=offer)
        assert rows == [(1,)], node.name
        assert objects(node, offer)[0][1]["name"] == "Blé tendre bio"
        # followers hold the structured data, not only the post
        assert node.wait_for("SELECT direction, category, role, local FROM offers "
                             "WHERE ap_id = :iri", lambda r: bool(r), iri=offer) == [
            ("offer", "https://w3id.org/ssefed/category/wheat", "production", False)]
    assert c.wait_for("SELECT actor_ap_id, object_ap_id FROM interactions WHERE type = 'Announce'",
                      [(a_network, offer)])
    # Update and Delete follow
    ok(a.cli("offer", "update", offer, "--title", "Blé tendre bio, récolte 2026"))
    for node in (b, c):
        node.wait_for("SELECT ap_json FROM remote_objects WHERE ap_id = :iri",
                      lambda rows: rows and doc(rows[0][0])["name"].endswith("2026"), iri=offer)
        assert objects(node, offer)[0][1]["name"] == "Blé tendre bio, récolte 2026"
    ok(a.cli("offer", "remove", offer))
    for node in (b, c):
        rows = node.wait_for("SELECT deleted_at IS NOT NULL FROM remote_objects WHERE ap_id = :iri",
                             lambda rows: rows and rows[0][0], iri=offer)
        assert rows and rows[0][0]
        assert node.sql("SELECT deleted_at IS NOT NULL FROM offers WHERE ap_id = :iri",
                        iri=offer) == [(True,)]
    # every activity arrived exactly once
    for node in (b, c):
        dup = node.sql("SELECT ap_id, count(*) FROM inbox_items GROUP BY ap_id HAVING count(*) > 1")
        assert dup == []
    # removing an organisation sends Delete(actor); its URL answers 410 Tombstone
    ok(a.cli("org", "remove", "ferme"))
    gone = requests.get(ferme, headers=ACTIVITY_JSON, timeout=5)
    assert gone.status_code == 410 and gone.json()["type"] == "Tombstone"
    for node in (b, c):
        assert node.wait_for("SELECT deleted_at IS NOT NULL FROM actors WHERE ap_id = :iri",
                             lambda rows: rows and rows[0][0], iri=ferme)[0][0]
    assert "Traceback" not in a.log() + b.log() + c.log()


def test_manual_approval_waits_for_the_admin(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    ok(a.cli("org", "add", "--handle", "coop", "--name", "Coop",
             "--manually-approves-followers"))
    coop = f"{a.base_url}/actors/coop"
    ok(b.cli("follow", f"coop@{host(a)}", "--as", "network"))
    pending = a.wait_for("SELECT state FROM follows", [("pending",)])
    assert pending == [("pending",)]
    assert f"{b.base_url}/actors/network" in ok(a.cli("follow-requests", "list", "--as", "coop"))
    time.sleep(0.5)
    assert following_state(b, f"{b.base_url}/actors/network", coop) == [("pending",)]
    ok(a.cli("follow-requests", "accept", f"{b.base_url}/actors/network", "--as", "coop"))
    assert b.wait_for("SELECT state FROM follows", [("accepted",)]) == [("accepted",)]
    # unfollow: Undo(Follow) removes the relation on both sides
    ok(b.cli("unfollow", coop, "--as", "network"))
    assert a.wait_for("SELECT count(*) FROM follows", [(0,)]) == [(0,)]


def test_a_stopped_node_gets_its_backlog_when_it_is_heard_from_again(nodes):
    # Retries are far apart here: only hearing from B again makes A retry at once.
    slow = {"SSEFED_WORKER_DELIVERY_RETRY_BASE_SECONDS": "600"}
    a = nodes.start("a", extra_env=slow)
    b = nodes.start("b")
    ok(a.cli("org", "add", "--handle", "ferme", "--name", "Ferme"))
    ok(b.cli("follow", f"ferme@{host(a)}", "--as", "network"))
    b.wait_for("SELECT state FROM follows", [("accepted",)])
    assert b.stop() == 0
    offers = [api_offer(a, "ferme", f"Lot {i}") for i in range(3)]
    a.wait_for("SELECT count(*) FROM deliveries WHERE state = 'pending' AND attempts > 0",
               [(3,)])
    assert "retrying" in ok(a.cli("deliveries"))
    b.start()
    ok(b.cli("follow", f"network@{host(a)}", "--as", "network"))  # B talks to A again
    rows = b.wait_for("SELECT count(*) FROM remote_objects", [(3,)], timeout=30)
    assert rows == [(3,)]
    assert sorted(r[0] for r in b.sql("SELECT ap_id FROM remote_objects")) == sorted(offers)


def api_offer(node, org: str, title: str) -> str:
    r = requests.post(f"{node.base_url}/api/offers", timeout=10,
                      headers={"Authorization": f"Bearer {node.admin_token()}"},
                      json={"org": org, "direction": "offer", "role": "production",
                            "kind": "product", "category": "wheat", "title": title})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_sigkill_during_a_fan_out_loses_no_delivery(nodes):
    # One delivery at a time, and the fan-out queued while the followers are down, so
    # that the kill lands in the middle of it.
    a = nodes.start("a", extra_env={"SSEFED_WORKER_DELIVERY_CONCURRENCY": "1",
                                    "SSEFED_WORKER_DELIVERY_RETRY_BASE_SECONDS": "1"})
    b, c = nodes.start("b"), nodes.start("c")
    ok(a.cli("org", "add", "--handle", "ferme", "--name", "Ferme"))
    ok(b.cli("follow", f"ferme@{host(a)}", "--as", "network"))
    ok(c.cli("follow", f"ferme@{host(a)}", "--as", "network"))
    a.wait_for("SELECT count(*) FROM follows WHERE state = 'accepted'", [(2,)])
    b.stop()
    c.stop()
    total = 150
    token = a.admin_token()
    with requests.Session() as http:
        for i in range(total):  # 2 deliveries each, failing for now
            r = http.post(f"{a.base_url}/api/offers", timeout=10,
                          headers={"Authorization": f"Bearer {token}"},
                          json={"org": "ferme", "direction": "offer", "role": "production",
                                "kind": "product", "category": "wheat", "title": f"Lot {i}"})
            assert r.status_code == 201
    b.start()
    c.start()
    creates = ("SELECT count(*) FROM deliveries WHERE state = 'done' "
               "AND activity_id IN (SELECT id FROM activities WHERE type = 'Create')")
    assert a.sql(creates) == [(0,)]
    for node in (b, c):  # hearing from them again makes A retry at once
        ok(node.cli("follow", f"network@{host(a)}", "--as", "network"))
    # Polled every 5 ms on one connection, so that the kill lands early in the fan-out
    # even on a loaded machine (a poll that opened an engine each time once saw all done).
    a.wait_for(creates, lambda rows: rows[0][0] >= 10, timeout=30, interval=0.005)
    a.stop(signal.SIGKILL)
    done = a.sql(creates)[0][0]
    assert 10 <= done < 2 * total, f"the kill did not land mid fan-out ({done} done)"
    a.start()
    for node in (b, c):
        rows = node.wait_for("SELECT count(*) FROM inbox_items WHERE type = 'Create'",
                             [(total,)], timeout=60)
        assert rows == [(total,)], node.name
        assert node.wait_for("SELECT count(DISTINCT ap_id) FROM remote_objects",
                             [(total,)]) == [(total,)]
    assert a.wait_for("SELECT count(*) FROM deliveries WHERE state != 'done'", [(0,)]) == [(0,)]


def test_a_blocked_domain_gets_nothing_and_cannot_be_followed(nodes):
    from ssefed.federation.service import BLOCKS_TTL

    a, b = nodes.start("a"), nodes.start("b")
    ok(a.cli("org", "add", "--handle", "ferme", "--name", "Ferme"))
    ok(b.cli("follow", f"ferme@{host(a)}", "--as", "network"))
    a.wait_for("SELECT state FROM follows", [("accepted",)])
    assert "blocked 127.0.0.1:" in ok(a.cli("block", host(b), "--reason", "spam"))
    assert host(b) in ok(a.cli("blocks"))
    time.sleep(BLOCKS_TTL + 0.5)  # the running node re-reads its block list
    offer = api_offer(a, "ferme", "Blé")
    rows = a.wait_for("SELECT d.state, d.last_error FROM deliveries d JOIN activities t "
                      "ON t.id = d.activity_id WHERE t.object_ap_id = :iri AND t.type = 'Create'",
                      lambda r: r and r[0][0] == "dead", iri=offer)
    assert rows[0][0] == "dead" and "blocked" in rows[0][1]
    assert b.sql("SELECT count(*) FROM remote_objects") == [(0,)]
    refused = a.cli("follow", f"network@{host(b)}", "--as", "network")
    assert refused.returncode == 1 and "blocked" in refused.stderr
    assert "Traceback" not in refused.stderr
