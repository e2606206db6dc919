"""Participatory validation across three live nodes: an organisation of node B applies to
the network of node A; a reviewer and a validated member on A and two actors on C
endorse it or object; the rule decides; C, which follows A's network, holds the decision
and the endorsements, verifies them itself and computes the same guarantee for B's
offers as A does. Forgeries are refused: a bad signature, an endorser who is not who
they claim, and node A relaying an endorsement "from" an actor of C that C never issued.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timezone

import requests

from ssefed.federation import httpsig
from tests.integration.test_chains import chains, offer, org, wait_until
from tests.integration.test_federation import host, last_line, ok

CHARTER = {
    "slug": "ess", "name": "Charte de l'ESS des Hautes-Vallées",
    "summary": "Ce que nos membres s'engagent à respecter.", "approach": "criteria",
    "criteria": [
        {"key": "gouvernance", "text": "Gouvernance démocratique",
         "text_en": "Democratic governance"},
        {"key": "lucrativite", "text": "Lucrativité limitée", "text_en": "Limited profit"},
        {"key": "ancrage", "text": "Ancrage territorial", "text_en": "Local roots",
         "required": False},
    ],
}
ANSWERS = [
    {"criterion": "gouvernance", "answer": "yes", "evidence": "SCOP, une personne une voix",
     "url": "https://example.org/statuts.pdf"},
    {"criterion": "lucrativite", "answer": "partly", "evidence": "60 % des excédents en réserves"},
]
AS2 = "application/activity+json"


def write_json(node, name: str, doc) -> str:
    path = node.directory / name
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return str(path)


def activity_json(url: str) -> requests.Response:
    return requests.get(url, headers={"Accept": AS2}, timeout=10)


def private_key(node, actor_iri: str, kind: str = "rsa") -> tuple[str, str]:
    rows = node.sql("SELECT k.key_id, k.private_pem FROM actor_keys k JOIN actors a "
                    "ON a.id = k.actor_id WHERE a.ap_id = :iri AND k.kind = :kind",
                    iri=actor_iri, kind=kind)
    assert rows, f"no {kind} key of {actor_iri}"
    return rows[0]


def post_as(node, actor_iri: str, inbox: str, doc: dict) -> requests.Response:
    """POST ``doc`` to ``inbox`` signed (as Mastodon signs) with the key of ``actor_iri``,
    read from ``node``'s database: what that node's software could send."""
    key_id, pem = private_key(node, actor_iri)
    body = json.dumps(doc).encode()
    headers = {"Content-Type": AS2}
    headers.update(httpsig.sign_cavage("POST", inbox, headers, body, key_id, pem))
    return requests.post(inbox, data=body, headers=headers, timeout=10)


def state_of(node, query: str, **params):
    rows = node.sql(query, **params)
    return rows[0][0] if rows else None


def link_of(node, category: str, offer_iri: str) -> dict | None:
    for chain in chains(node, category=category)["chains"]:
        for link in chain["links"]:
            if link["offer"] == offer_iri:
                return link
    return None


def test_an_application_from_b_is_endorsed_on_a_and_c_decided_by_the_rule_and_checked_on_c(
        nodes):
    a, b, c = nodes.create("a"), nodes.create("b"), nodes.create("c")
    for node in (a, b, c):
        node.start()
    a_net = f"{a.base_url}/actors/network"

    # A's charter, its reviewer (college: service/support/research), a validated member
    charter = last_line(a.cli("charter", "publish", write_json(a, "charter.json", CHARTER)))
    charter_iri = charter.rsplit(": ", 1)[1]
    assert charter_iri == f"{a.base_url}/charters/ess/v1"
    doc = activity_json(charter_iri).json()
    assert doc["type"] == "Charter" and [c["id"].rsplit("#")[1] for c in doc["criteria"]] == [
        "gouvernance", "lucrativite", "ancrage"]
    ok(a.cli("reviewer", "add", "--handle", "claire", "--name", "Claire Revue",
             "--college", "ssro"))
    coop = org(a, "coop-a", "Coopérative des Combes", 45.0, 5.0)
    ok(a.cli("org", "approve", "coop-a"))
    # C: a consumers' association and a citizen who objects
    conso = org(c, "conso", "Association de consommateurs", 45.1, 5.1)
    voisin = org(c, "voisin", "Collectif des voisins", 45.1, 5.1)
    # B: the mill, with its flour
    moulin = org(b, "moulin", "Moulin du Pont", 45.2, 5.2)
    flour = offer(b, "moulin", "transformation", "flour", "Farine T80")

    # C's network follows A's (it trusts A's network and hears what A relays); A and C
    # follow the mill, so both hold its offers
    ok(c.cli("follow", f"network@{host(a)}", "--as", "network"))
    for node in (a, c):
        ok(node.cli("follow", f"moulin@{host(b)}", "--as", "network"))
    assert c.wait_for("SELECT count(*) FROM follows WHERE state = 'accepted'",
                      [(2,)]) == [(2,)]
    assert a.wait_for("SELECT count(*) FROM follows WHERE state = 'accepted'",
                      [(2,)]) == [(2,)]  # A follows the mill; C follows A

    # B's organisation applies to A's network (a Join with its answers)
    answers = write_json(b, "answers.json", ANSWERS)
    bad = b.cli("apply", "moulin", "--network", f"network@{host(a)}", "--charter",
                charter_iri, "--answers", write_json(b, "bad.json", ANSWERS[:1]))
    assert bad.returncode == 2 and "lucrativite" in bad.stderr
    ok(b.cli("apply", "moulin", "--network", f"network@{host(a)}", "--charter", charter_iri,
             "--answers", answers))
    assert a.wait_for("SELECT count(*) FROM applications WHERE state = 'pending'",
                      [(1,)]) == [(1,)]
    app_iri = state_of(a, "SELECT ap_id FROM applications")
    pending = ok(a.cli("review", "pending"))
    assert "Moulin du Pont" in pending and "0 of 3 endorsements" in pending
    published = activity_json(app_iri).json()
    assert "MembershipApplication" in published["type"] and published["actor"] == moulin
    assert [x["answer"] for x in published["answers"]] == ["yes", "partly"]

    # endorsements: A's reviewer, A's validated member, C's consumers' association
    ok(a.cli("endorse", "1", "--as", "claire", "--comment", "Visite faite le 12 novembre"))
    ok(a.cli("endorse", "1", "--as", "coop-a", "--college", "industry"))
    ok(c.cli("endorse", app_iri, "--as", "conso", "--college", "consumers",
             "--comment", "Nous achetons leur farine depuis 5 ans"))
    assert a.wait_for("SELECT count(*) FROM endorsements", [(3,)]) == [(3,)]
    # C's endorsement carries an FEP-8b32 proof and A took it from its endorser
    assert state_of(a, "SELECT verified FROM endorsements WHERE endorser_ap_id = :e",
                    e=conso) in ("proof", "signature")
    # ...and the objection of another actor on C
    ok(c.cli("endorse", app_iri, "--as", "voisin", "--object", "--college", "consumers",
             "--comment", "Le moulin rejette ses eaux dans le torrent"))
    assert a.wait_for("SELECT count(*) FROM endorsements WHERE stance = 'object'",
                      [(1,)]) == [(1,)]

    # reviewers confirm the declared colleges; the objection still blocks the rule
    unconfirmed = ok(a.cli("review", "endorsers"))
    assert coop in unconfirmed and conso in unconfirmed
    ok(a.cli("review", "confirm", coop, "--as", "claire"))
    ok(a.cli("review", "confirm", conso, "--as", "claire"))
    shown = json.loads(ok(a.cli("review", "show", "1", "--json")))
    by_college = {k: [v["endorser"] for v in vs]
                  for k, vs in shown["endorsements_by_college"].items() if vs}
    assert by_college == {"ssro": [f"{a.base_url}/actors/claire"], "industry": [coop],
                          "consumers": [conso], "unconfirmed": [voisin]}
    assert shown["state"] == "pending" and not shown["rule"]["met"]
    assert shown["rule"]["missing"] == ["1 unresolved objection(s)"]
    refused = a.cli("review", "decide", "1", "validated")
    assert refused.returncode == 1 and "unresolved objection" in refused.stderr

    # the reviewers handle the objection: the rule is met and decides
    objection = next(v for v in shown["endorsements_by_college"]["unconfirmed"])["id"]
    ok(a.cli("review", "resolve", str(objection), "--note", "Rejets conformes (arrêté 2025)",
             "--as", "claire"))
    assert a.wait_for("SELECT state FROM applications", [("validated",)]) == [("validated",)]
    until = state_of(a, "SELECT valid_until FROM applications")
    assert str(until)[:4] == str(date.today().year + 1)

    # A's members collection lists the mill; B knows it is validated and says so
    page = activity_json(f"{a_net}/members?page=true").json()
    assert {i["member"]: i.get("validUntil") for i in page["orderedItems"]}[moulin] == \
        str(until)[:10]
    assert b.wait_for("SELECT state FROM applications", [("validated",)]) == [("validated",)]
    assert wait_until(lambda: a_net in json.dumps(activity_json(moulin).json().get(
        "validatedBy")))

    # C holds A's decision and verified every endorsement itself
    assert c.wait_for("SELECT outcome FROM decisions", [("validated",)]) == [("validated",)]
    assert c.wait_for("SELECT count(*) FROM endorsements WHERE application_ap_id = :app",
                      [(4,)], app=app_iri) == [(4,)]
    verified = dict(c.sql("SELECT endorser_ap_id, verified FROM endorsements"))
    assert verified[f"{a.base_url}/actors/claire"] == "proof"
    assert verified[coop] == "proof" and verified[conso] == "local"

    # the same guarantee on A and on C: A's network vouches, the rule holds on verified
    # endorsements
    link_a = wait_until(lambda: (link := link_of(a, "flour", flour)) and link["guarantee"].get(
        "guaranteed") and link)
    link_c = wait_until(lambda: (link := link_of(c, "flour", flour)) and link["guarantee"].get(
        "guaranteed") and link)
    assert link_a and link_c, (link_of(a, "flour", flour), link_of(c, "flour", flour))
    for key in ("validated_by", "valid_until", "guaranteed", "rule_met", "decision"):
        assert link_a["guarantee"][key] == link_c["guarantee"][key], key
    assert link_c["guarantee"]["validated_by"] == a_net
    endorsers = {e["endorser"]: (e["college"], e["verified"])
                 for e in link_c["guarantee"]["endorsements"]}
    assert endorsers == {f"{a.base_url}/actors/claire": ("ssro", True),
                         coop: ("industry", True), conso: ("consumers", True),
                         voisin: (None, True)}

    page = requests.get(f"{c.base_url}/chains", params={"category": "flour"}, timeout=15).text
    assert "3 soutiens vérifiés ici" in page or "3 endorsements verified here" in page, page

    # -- forgeries -------------------------------------------------------------------------
    a_inbox = f"{a.base_url}/actors/network/inbox"
    forged = {"@context": ["https://www.w3.org/ns/activitystreams"],
              "id": f"{c.base_url}/endorsements/{uuid.uuid4()}", "type": "Endorsement",
              "attributedTo": voisin, "object": app_iri, "stance": "endorse"}
    create = {"@context": "https://www.w3.org/ns/activitystreams",
              "id": f"{conso}/activities/create-{uuid.uuid4()}", "type": "Create",
              "actor": conso, "object": forged, "to": [a_net]}
    # an endorser who is not who they claim: conso signs an endorsement "by" voisin,
    # refused at the door (an actor speaks only for itself), signed well or not
    body = json.dumps(create).encode()
    key_id, pem = private_key(c, conso)
    headers = {"Content-Type": AS2}
    headers.update(httpsig.sign_cavage("POST", a_inbox, headers, body, key_id, pem))
    headers["Signature"] = headers["Signature"].replace('signature="', 'signature="AAAA')
    for r in (requests.post(a_inbox, data=body, headers=headers, timeout=10),
              post_as(c, conso, a_inbox, create)):
        assert r.status_code == 400 and r.headers["Content-Type"].startswith(
            "application/problem+json")
        assert r.json()["detail"].startswith("object.attributedTo"), r.text
    assert state_of(a, "SELECT count(*) FROM inbox_items WHERE ap_id = :id",
                    id=create["id"]) == 0
    assert state_of(a, "SELECT count(*) FROM endorsements WHERE ap_id = :id",
                    id=forged["id"]) == 0

    # node A relays an endorsement "from" C's actor that C never issued, signed by A
    from ssefed.federation import proofs

    ed_key_id, ed_pem = private_key(a, a_net, "ed25519")
    relayed = proofs.sign_object(
        {**forged, "@context": ["https://www.w3.org/ns/activitystreams",
                                "https://w3id.org/security/data-integrity/v2"],
         "attributedTo": voisin}, ed_pem, ed_key_id, created=datetime.now(timezone.utc))
    add = {"@context": "https://www.w3.org/ns/activitystreams",
           "id": f"{a_net}/activities/add-{uuid.uuid4()}", "type": "Add", "actor": a_net,
           "object": relayed, "target": f"{app_iri}/endorsements"}
    r = post_as(a, a_net, f"{c.base_url}/actors/network/inbox", add)
    assert r.status_code == 202, r.text
    assert c.wait_for("SELECT state FROM inbox_items WHERE ap_id = :id", [("rejected",)],
                      id=add["id"]) == [("rejected",)]
    assert "never issued" in state_of(c, "SELECT error FROM inbox_items WHERE ap_id = :id",
                                      id=add["id"])
    assert state_of(c, "SELECT count(*) FROM endorsements WHERE ap_id = :id",
                    id=forged["id"]) == 0


def test_a_local_application_reviewed_through_the_api_with_a_mastodon_users_like_and_reply(
        nodes):
    from tests.fakepeer import FakePeer
    from tests.integration.test_inbox_refusals import post_signed

    a = nodes.start("a")
    a_net = f"{a.base_url}/actors/network"
    ok(a.cli("charter", "publish", write_json(a, "charter.json", CHARTER)))
    token = ok(a.cli("reviewer", "add", "--handle", "claire", "--name", "Claire",
                     "--college", "ssro")).strip().splitlines()[-1]
    coop = org(a, "coop-a", "Coopérative des Combes", 45.0, 5.0)
    ok(a.cli("org", "approve", "coop-a"))
    epicerie = org(a, "epicerie", "Épicerie solidaire", 45.0, 5.0)
    org_token = last_line(a.cli("token", "create", "epicerie"))
    ok(a.cli("apply", "epicerie", "--answers", write_json(a, "answers.json", ANSWERS)))
    again = a.cli("apply", "epicerie", "--answers", str(a.directory / "answers.json"))
    assert again.returncode == 1 and "already has an open application" in again.stderr
    assert state_of(a, "SELECT o.validation_status FROM organisations o JOIN actors a ON "
                       "a.id = o.actor_id WHERE a.ap_id = :e", e=epicerie) == "pending"
    app_iri = state_of(a, "SELECT ap_id FROM applications")
    api = f"{a.base_url}/api/review/applications"
    bearer = {"Authorization": f"Bearer {token}"}

    # the review API wants a reviewer (or the admin)
    r = requests.get(api, timeout=10)
    assert r.status_code == 401 and r.json()["status"] == 401
    r = requests.get(api, headers={"Authorization": f"Bearer {org_token}"}, timeout=10)
    assert r.status_code == 403 and "not a reviewer" in r.json()["detail"]
    listed = requests.get(api, headers=bearer, timeout=10).json()["applications"]
    assert [x["applicant"]["id"] for x in listed] == [epicerie]

    # a fediverse user (Mastodon-like server) likes the application, another objects in a
    # reply with #objection
    with FakePeer() as peer:
        alice, bob = peer.add_actor("alice"), peer.add_actor("bob")
        like = {"@context": "https://www.w3.org/ns/activitystreams",
                "id": f"{alice.id}#likes/1", "type": "Like", "actor": alice.id,
                "object": app_iri}
        assert post_signed(f"{a_net}/inbox", like, alice).status_code == 202
        note = {"id": f"{bob.id}/statuses/1", "type": "Note", "attributedTo": bob.id,
                "inReplyTo": app_iri, "to": [a_net],
                "content": "<p>Les prix ne sont pas affichés <a href='x'>#objection</a></p>",
                "tag": [{"type": "Hashtag", "name": "#objection"},
                        {"type": "Hashtag", "name": "#college_consumers"}]}
        create = {"@context": "https://www.w3.org/ns/activitystreams",
                  "id": f"{bob.id}/statuses/1/activity", "type": "Create", "actor": bob.id,
                  "object": note, "to": [a_net]}
        assert post_signed(f"{a_net}/inbox", create, bob).status_code == 202
        assert a.wait_for("SELECT count(*) FROM endorsements", [(2,)]) == [(2,)]
    rows = dict(a.sql("SELECT endorser_ap_id, stance FROM endorsements"))
    assert rows == {alice.id: "endorse", bob.id: "object"}
    assert state_of(a, "SELECT content FROM endorsements WHERE stance = 'object'") == \
        "Les prix ne sont pas affichés #objection"
    declared = dict(a.sql("SELECT ap_id, declared FROM endorsers"))
    assert (declared[alice.id], declared[bob.id]) == (None, "consumers")

    # the reviewer endorses through the API, the validated member through the CLI
    r = requests.post(f"{api}/1/endorse", json={"content": "Visite faite"}, headers=bearer,
                      timeout=20)
    assert r.status_code == 201, r.text
    ok(a.cli("endorse", "1", "--as", "coop-a", "--college", "industry"))
    for endorser, college in ((alice.id, "consumers"), (coop, None)):
        r = requests.post(f"{a.base_url}/api/review/endorsers/confirm", headers=bearer,
                          json={"endorser": endorser, "college": college}, timeout=20)
        assert r.status_code == 200, r.text
    r = requests.post(f"{a.base_url}/api/review/endorsers/confirm", headers=bearer,
                      json={"endorser": bob.id, "college": "aliens"}, timeout=20)
    assert r.status_code == 422 and r.json()["field"] == "college"
    shown = requests.get(f"{api}/1", headers=bearer, timeout=10).json()
    assert {k: sorted(v["endorser"] for v in vs)
            for k, vs in shown["endorsements_by_college"].items() if vs} == {
        "ssro": [f"{a.base_url}/actors/claire"], "industry": [coop],
        "consumers": [alice.id], "unconfirmed": [bob.id]}
    assert shown["rule"]["missing"] == ["1 unresolved objection(s)"]
    r = requests.post(f"{api}/1/decide", json={"outcome": "validated"}, headers=bearer,
                      timeout=20)
    assert r.status_code == 409 and "unresolved objection" in r.json()["detail"]

    # resolving the objection lets the rule decide; the member enters the collection
    objection = next(v for v in shown["endorsements_by_college"]["unconfirmed"])["id"]
    r = requests.post(f"{a.base_url}/api/review/objections/{objection}/resolve",
                      json={"note": "Prix affichés depuis"}, headers=bearer, timeout=20)
    assert r.status_code == 200, r.text
    assert a.wait_for("SELECT state FROM applications", [("validated",)]) == [("validated",)]
    assert state_of(a, "SELECT o.validation_status FROM organisations o JOIN actors a ON "
                       "a.id = o.actor_id WHERE a.ap_id = :e", e=epicerie) == "validated"
    page = activity_json(f"{a_net}/members?page=true").json()
    assert epicerie in {i["member"] for i in page["orderedItems"]}
    html = requests.get(epicerie, headers={"Accept": "text/html", "Accept-Language": "en"},
                        timeout=10).text
    assert "Participatory validation: 3 endorsements (consumers, industry, ssro)" in html
    decision_iri = state_of(a, "SELECT decision_ap_id FROM applications")
    decision = activity_json(decision_iri).json()
    assert decision["type"] == "Accept" and decision["outcome"] == "validated"
    assert {b["endorserKind"] for b in decision["basis"]} == {"reviewer", "peer", "user"}
    signed = [b["endorsement"] for b in decision["basis"] if isinstance(b["endorsement"], dict)]
    assert len(signed) == 2 and all(e["proof"]["cryptosuite"] == "eddsa-jcs-2022"
                                    for e in signed)
    r = requests.post(f"{api}/1/decide", json={"outcome": "refused"}, headers=bearer,
                      timeout=20)
    assert r.status_code == 409 and "already validated" in r.json()["detail"]
    r = requests.post(f"{api}/1/decide", json={"outcome": "maybe"}, headers=bearer, timeout=20)
    assert r.status_code in (409, 422)

    # what expires soon, for the reviewers: the two validated members, in 12 months
    r = requests.get(f"{a.base_url}/api/review/stale", params={"days": 400}, headers=bearer,
                     timeout=10)
    assert r.status_code == 200, r.text
    assert {i["id"] for i in r.json()["items"] if i["type"] == "validation"} >= {coop, epicerie}
    assert requests.get(f"{a.base_url}/api/review/stale", params={"days": "x"},
                        headers=bearer, timeout=10).json()["field"] == "days"

    # a report of outdated information, handled by the reviewer with its own token
    filed = requests.post(f"{a.base_url}/api/reports", timeout=10,
                          json={"object": epicerie, "reason": "outdated", "text": "Fermée"})
    assert filed.status_code == 201, filed.text
    listed = requests.get(f"{a.base_url}/api/reports", headers=bearer, timeout=10).json()
    assert [i["organisation"]["id"] for i in listed["items"]] == [epicerie]
    r = requests.post(f"{a.base_url}/api/reports/{filed.json()['id']}/handle", headers=bearer,
                      json={"note": "Rouverte"}, timeout=10)
    assert r.status_code == 200 and r.json()["handled_by"] == f"{a.base_url}/actors/claire"

    # a second application: the fediverse user likes it, then takes the like back
    ok(a.cli("org", "add", "--handle", "cafe", "--name", "Café associatif"))
    ok(a.cli("apply", "cafe", "--answers", str(a.directory / "answers.json")))
    app2 = state_of(a, "SELECT ap_id FROM applications WHERE id = 2")
    with FakePeer() as peer:
        carol = peer.add_actor("carol")
        like = {"@context": "https://www.w3.org/ns/activitystreams",
                "id": f"{carol.id}#likes/2", "type": "Like", "actor": carol.id, "object": app2}
        assert post_signed(f"{a_net}/inbox", like, carol).status_code == 202
        assert a.wait_for("SELECT count(*) FROM endorsements WHERE application_ap_id = :a",
                          [(1,)], a=app2) == [(1,)]
        undo = {"@context": "https://www.w3.org/ns/activitystreams",
                "id": f"{carol.id}#likes/2/undo", "type": "Undo", "actor": carol.id,
                "object": like}
        assert post_signed(f"{a_net}/inbox", undo, carol).status_code == 202
        assert a.wait_for("SELECT count(*) FROM endorsements WHERE application_ap_id = :a "
                          "AND withdrawn_at IS NULL", [(0,)], a=app2) == [(0,)]
    r = requests.post(f"{api}/2/decide", json={"outcome": "refused", "note": "hors charte"},
                      headers=bearer, timeout=20)
    assert r.status_code == 201 and r.json()["outcome"] == "refused"
    assert activity_json(r.json()["decision"]).json()["type"] == "Reject"
