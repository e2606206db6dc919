"""Origin and ownership (issue 18), tried as an attacker would: a hostile server
(tests/adversarial/hostile.py, its own loopback port and so its own origin, its own keys)
against a real node. Each test makes its own servers, so the tests share one node per
backend and depend on nothing of each other.

The rules (ssefed/federation/trust.py): an object is what its origin serves; an actor
speaks only for itself; a key belongs to the actor whose document lists it, on its
origin; an actor's inboxes are on its origin; ids are on their actor's origin.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from ssefed.domain import keys as keygen
from tests.adversarial.hostile import HostileServer, activity, wait_until
from tests.conftest import BACKENDS, FreshDatabases
from tests.integration.test_inbox_refusals import Target, coop_node
from tests.nodes import NodeFactory

EXAMPLE = Path(__file__).parents[2] / "schemas/json-schema/examples/offer.valid-today.json"


@pytest.fixture(scope="module", params=BACKENDS)
def target(request, tmp_path_factory) -> Iterator[Target]:
    dbs = FreshDatabases(request.param, tmp_path_factory.mktemp(f"origin-{request.param}"))
    factory = NodeFactory(dbs.tmp_path, dbs)
    try:
        yield coop_node(factory, "origin")
    finally:
        factory.stop_all()
        dbs.drop_all()


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    with HostileServer() as server:
        yield server


@pytest.fixture
def victim() -> Iterator[HostileServer]:
    """Another server, honest: the origin an attacker tries to speak for."""
    with HostileServer() as server:
        yield server


def offer_of(actor: str, offer_id: str) -> dict[str, Any]:
    """A valid FEP-0837 offer (the schema's example) published by ``actor``."""
    text = EXAMPLE.read_text()
    text = text.replace("https://ess-hautes-vallees.example/offers/0b6c1a4e-farine-t65", offer_id)
    text = text.replace("https://ess-hautes-vallees.example/actors/moulin-du-pont-rouge", actor)
    return json.loads(text)


def settled(target: Target, ap_id: str) -> str | None:
    """The state of the received activity once the worker is done with it."""
    rows = wait_until(lambda: [r for r in target.node.sql(
        "SELECT state FROM inbox_items WHERE ap_id = :id", id=ap_id) if r[0] != "pending"])
    return rows[0][0] if rows else None


def test_announced_object_served_with_another_origins_id_is_not_stored(target, hostile,
                                                                        victim):
    """An unrelated server cannot make the node show an offer in a member's name: the
    document it serves claims an id (and author) on the member's origin."""
    member = victim.add_actor("member")
    mallory = hostile.add_actor("mallory")
    forged_id = f"{victim.base_url}/offers/{uuid.uuid4().hex}"
    hostile.serve("/objects/relay", offer_of(member.id, forged_id))
    announce = activity(mallory.id, "Announce", f"{hostile.base_url}/objects/relay")
    assert hostile.post(target.shared_inbox, announce, mallory).status_code == 202
    assert settled(target, announce["id"]) is not None
    assert target.node.sql("SELECT count(*) FROM offers WHERE ap_id = :id", id=forged_id) == [(0,)]
    assert target.node.sql("SELECT count(*) FROM remote_objects WHERE ap_id = :id",
                           id=forged_id) == [(0,)]


def test_announced_object_of_its_own_origin_is_stored(target, hostile, victim):
    """The same Announce of an offer its origin really serves is stored (the rule above
    refuses the lie, not the Announce)."""
    member = victim.add_actor("member")
    offer_id = f"{victim.base_url}/offers/{uuid.uuid4().hex}"
    victim.serve(offer_id.removeprefix(victim.base_url), offer_of(member.id, offer_id))
    mallory = hostile.add_actor("mallory")
    announce = activity(mallory.id, "Announce", offer_id)
    assert hostile.post(target.shared_inbox, announce, mallory).status_code == 202
    assert settled(target, announce["id"]) is not None
    assert wait_until(lambda: target.node.sql(
        "SELECT count(*) FROM offers WHERE ap_id = :id", id=offer_id) == [(1,)])


def test_actor_fetched_through_a_redirect_to_another_origin_is_not_believed(target, hostile,
                                                                             victim):
    """Impersonation through a redirect: the victim's actor URL redirects (an open
    redirect of its server) to the attacker, who serves the victim's id with its own key."""
    attacker = hostile.add_actor("attacker")
    victim_iri = f"{victim.base_url}/users/victim"
    fake = dict(attacker.document(), id=victim_iri, inbox=f"{victim_iri}/inbox",
                publicKey={"id": f"{victim_iri}#main-key", "owner": victim_iri,
                           "publicKeyPem": attacker.public_pem})
    hostile.serve("/fake-victim", fake)
    victim.redirect("/users/victim", f"{hostile.base_url}/fake-victim")
    note = {"id": f"{victim_iri}/notes/{uuid.uuid4().hex}", "type": "Note",
            "attributedTo": victim_iri, "content": "Je suis la victime"}
    create = activity(victim_iri, "Create", note)
    resp = hostile.post(target.shared_inbox, create, attacker, key_id=f"{victim_iri}#main-key")
    assert resp.status_code == 401, resp.text
    assert "another origin" in resp.json()["detail"]
    assert target.node.sql("SELECT count(*) FROM actors WHERE ap_id = :id", id=victim_iri) == [(0,)]


def test_key_listed_first_by_another_actor_never_locks_out_its_owner(target, hostile):
    """Mallory's document lists Alice's key id (same host) and one of another origin:
    Alice still signs in with her own key, and the other origin's key is never stored."""
    alice = hostile.add_actor("alice")
    mallory = hostile.add_actor("mallory")
    elsewhere_key = "http://127.0.0.2:9/users/someone#main-key"
    squat = keygen.generate("rsa")
    doc = mallory.document()
    doc["publicKey"] = [doc["publicKey"],
                        {"id": alice.key_id, "owner": mallory.id, "publicKeyPem": squat.public_pem},
                        {"id": elsewhere_key, "owner": mallory.id,
                         "publicKeyPem": squat.public_pem}]
    hostile.serve(mallory.path, doc)
    first = activity(mallory.id, "Follow", target.coop)
    assert hostile.post(target.shared_inbox, first, mallory).status_code == 202
    assert target.node.sql("SELECT count(*) FROM actor_keys WHERE key_id = :id",
                           id=elsewhere_key) == [(0,)]

    note = {"id": f"{alice.id}/notes/{uuid.uuid4().hex}", "type": "Note",
            "attributedTo": alice.id, "content": "Bonjour"}
    resp = hostile.post(target.shared_inbox, activity(alice.id, "Create", note), alice)
    assert resp.status_code == 202, resp.text
    assert target.node.sql(
        "SELECT a.ap_id FROM actor_keys k JOIN actors a ON a.id = k.actor_id "
        "WHERE k.key_id = :id", id=alice.key_id) == [(alice.id,)]


def test_actor_cannot_create_or_delete_for_another_actor_of_its_host(target, hostile):
    alice = hostile.add_actor("alice")
    mallory = hostile.add_actor("mallory")
    # an offer in Alice's name, sent by Mallory from the same host
    offer_id = f"{hostile.base_url}/offers/{uuid.uuid4().hex}"
    forged = activity(mallory.id, "Create", offer_of(alice.id, offer_id))
    resp = hostile.post(target.shared_inbox, forged, mallory)
    assert resp.status_code == 400, resp.text
    assert resp.json()["detail"].startswith("object.attributedTo")

    # Alice's own note, which Mallory then tries to delete
    note = {"id": f"{alice.id}/notes/{uuid.uuid4().hex}", "type": "Note",
            "attributedTo": alice.id, "content": "À moi"}
    created = activity(alice.id, "Create", note)
    assert hostile.post(target.shared_inbox, created, alice).status_code == 202
    assert settled(target, created["id"]) == "processed"
    hello = activity(mallory.id, "Follow", target.coop)  # the node now knows Mallory
    assert hostile.post(target.shared_inbox, hello, mallory).status_code == 202
    delete = activity(mallory.id, "Delete", note["id"])
    assert hostile.post(target.shared_inbox, delete, mallory).status_code == 202
    assert settled(target, delete["id"]) == "rejected"
    assert target.node.sql("SELECT deleted_at FROM remote_objects WHERE ap_id = :id",
                           id=note["id"]) == [(None,)]


def test_activity_id_on_another_origin_is_refused_so_ids_cannot_be_squatted(target, hostile,
                                                                             victim):
    """Mallory cannot take the id of another server's (future) activity, or one of this
    node's own namespace: the real one would then be dropped as a duplicate."""
    mallory = hostile.add_actor("mallory")
    for squatted in (f"{victim.base_url}/users/bob/follows/1",
                     f"{target.node.base_url}/activities/{uuid.uuid4()}"):
        follow = activity(mallory.id, "Follow", target.coop, id_=squatted)
        resp = hostile.post(target.shared_inbox, follow, mallory)
        assert resp.status_code == 400, resp.text
        assert resp.json()["detail"].startswith("id:")
        assert target.node.sql("SELECT count(*) FROM inbox_items WHERE ap_id = :id",
                               id=squatted) == [(0,)]


def test_inbox_on_another_origin_is_never_delivered_to(target, hostile, victim):
    """An actor whose inbox is on another server cannot make the node POST there."""
    reflector = hostile.add_actor("reflector")
    victim.inboxes.add("/users/victim/inbox")
    hostile.serve(reflector.path, dict(reflector.document(),
                                       inbox=f"{victim.base_url}/users/victim/inbox"))
    follow = activity(reflector.id, "Follow", target.coop)
    resp = hostile.post(target.shared_inbox, follow, reflector)
    assert resp.status_code == 401, resp.text
    assert "inbox" in resp.json()["detail"]
    # the node's worker would have answered the Follow with an Accept by now
    assert not wait_until(lambda: victim.requests("POST"), timeout=3)


def test_hostile_actor_document_is_refused_with_401_not_a_server_error(target, hostile):
    """What the node fetches is read by the same strict JSON rule as what it is sent: an
    actor document with a 5,000-digit number or nesting past the limit is refused."""
    for name, trap in (("digits", "9" * 5000), ("deep", "[" * 200 + "]" * 200)):
        actor = hostile.add_actor(name)
        hostile.raw[actor.path] = json.dumps(actor.document())[:-1] + f', "trap": {trap}}}'
        resp = hostile.post(target.shared_inbox, activity(actor.id, "Follow", target.coop), actor)
        assert resp.status_code == 401, resp.text
        assert "cannot fetch the key's actor" in resp.json()["detail"]
