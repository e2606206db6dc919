"""The inbox over the real network: a fake ActivityPub peer (tests/fakepeer.py, a real
aiohttp server on loopback) serves actors whose keys the test holds; the test signs
requests with ssefed.federation.httpsig and POSTs them to a real ssefed node.

Accepted: a signed Follow is stored then answered with a signed Accept; the same id
twice has its effect once; an RFC 9421 Create(Note) is stored; a rotated key is
accepted after one refetch. Refused, with a problem+json that says why and nothing
stored: every way a signature, a key claim or a body can be wrong; a blocked domain
(403, no request to it); a Delete from an actor never stored is dropped without any
request to its server.

The refusal tests share one node per backend (module fixture ``shared_node``, body limit
4096 bytes): each uses its own fake peer (own port), actors and keys, and checks that
the inbox_items count did not move during the test, so none depends on another or on
their order. Tests that must see acceptance, restart or block a node get their own.
"""

from __future__ import annotations

import base64
import concurrent.futures
import hashlib
import hmac
import http.client
import json
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator
from urllib.parse import urlsplit

import pytest
import requests

from ssefed.domain import keys as keygen
from ssefed.federation import httpsig
from tests.conftest import BACKENDS, PEERS, FreshDatabases
from tests.fakepeer import AS_CONTEXT, SEC_CONTEXT, FakeActor, FakePeer
from tests.nodes import Node, NodeFactory

AS2 = "application/activity+json"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
MAX_BODY = 4096  # SSEFED_FEDERATION_MAX_BODY_BYTES of the refusing node
MAX_DEPTH = 32   # default federation.max_json_depth


# -- nodes -----------------------------------------------------------------------------

@dataclass
class Target:
    """A running node with a local organisation actor ``coop`` to send activities to."""

    node: Node
    coop_doc: dict[str, Any]
    baseline: int = 0  # inbox_items when the current test began (shared node)

    @property
    def coop(self) -> str:
        return self.coop_doc["id"]

    @property
    def inbox(self) -> str:
        return self.coop_doc["inbox"]

    @property
    def shared_inbox(self) -> str:
        return f"{self.node.base_url}/inbox"

    def stored(self) -> int:
        return self.node.sql("SELECT count(*) FROM inbox_items")[0][0]


def ok(result) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def actor_json(url: str) -> dict[str, Any]:
    resp = requests.get(url, headers={"Accept": AS2}, timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()


def coop_node(factory: NodeFactory, name: str = "a", *, before_start: tuple = (),
              **kwargs: Any) -> Target:
    """Init a node (running ``before_start`` CLI commands), start it, add the organisation
    ``coop`` (through the admin API: as `ssefed org add`, one process start less) and read
    coop's published actor document."""
    node = factory.create(name, **kwargs)
    for args in before_start:
        ok(node.cli(*args))
    node.start()
    created = requests.post(f"{node.base_url}/api/organisations", timeout=10,
                            headers={"Authorization": f"Bearer {node.admin_token()}"},
                            json={"handle": "coop", "name": "Coop"})
    assert created.status_code == 201, created.text
    # Let the queued `actor.keys` job make coop's keys before its document is read: on
    # PostgreSQL that job and the GET's lazy ensure_keys can both insert the same key id
    # (UniqueViolation, 500; see the report) -- not what these tests are about.
    keys = node.wait_for("SELECT count(*) FROM actor_keys k JOIN actors a ON a.id = k.actor_id"
                         " WHERE a.local AND a.handle = 'coop'", [(2,)])
    assert keys == [(2,)], "coop's keys were never generated"
    return Target(node, actor_json(f"{node.base_url}/actors/coop"))


@pytest.fixture(scope="module", params=BACKENDS)
def shared_node(request, tmp_path_factory) -> Iterator[Target]:
    """One node per backend for the refusal tests, with a small body limit."""
    dbs = FreshDatabases(request.param, tmp_path_factory.mktemp(f"shared-{request.param}"))
    factory = NodeFactory(dbs.tmp_path, dbs)
    try:
        yield coop_node(factory, "shared",
                        extra_env={"SSEFED_FEDERATION_MAX_BODY_BYTES": str(MAX_BODY)})
    finally:
        factory.stop_all()
        dbs.drop_all()


@pytest.fixture
def shared(shared_node: Target) -> Target:
    """The shared node, its inbox_items count noted so a test can say it stored nothing."""
    shared_node.baseline = shared_node.stored()
    return shared_node


@pytest.fixture
def peer() -> Iterator[FakePeer]:
    with FakePeer() as fake:
        yield fake


# -- activities and signed requests -------------------------------------------------------

def new_id(actor: FakeActor, kind: str) -> str:
    return f"{actor.id}/{kind}/{uuid.uuid4().hex}"


def follow(actor: FakeActor, target: str) -> dict[str, Any]:
    return {"@context": AS_CONTEXT, "id": new_id(actor, "follows"), "type": "Follow",
            "actor": actor.id, "object": target}


def create_note(actor: FakeActor, text: str = "Bonjour") -> dict[str, Any]:
    note_id = new_id(actor, "notes")
    return {"@context": AS_CONTEXT, "id": f"{note_id}/activity", "type": "Create",
            "actor": actor.id, "to": [PUBLIC],
            "object": {"id": note_id, "type": "Note", "attributedTo": actor.id,
                       "content": f"<p>{text}</p>", "to": [PUBLIC],
                       "published": "2024-05-01T10:00:00Z"}}


def delete_of(actor: FakeActor) -> dict[str, Any]:
    return {"@context": AS_CONTEXT, "id": new_id(actor, "deletes"), "type": "Delete",
            "actor": actor.id, "object": actor.id, "to": [PUBLIC]}


def encode(doc: dict[str, Any] | bytes) -> bytes:
    return doc if isinstance(doc, bytes) else json.dumps(doc).encode("utf-8")


def signed_headers(url: str, body: bytes, actor: FakeActor, *, spec: str = "cavage",
                   now: datetime | None = None, covered: tuple[str, ...] | None = None,
                   key_id: str | None = None, private_pem: str | None = None) -> dict[str, str]:
    headers = {"Content-Type": AS2}
    sign = httpsig.sign_rfc9421 if spec == "rfc9421" else httpsig.sign_cavage
    headers.update(sign("POST", url, headers, body, key_id or actor.key_id,
                        private_pem or actor.private_pem, now, covered=covered))
    return headers


def post(url: str, body: bytes, headers: dict[str, str]) -> requests.Response:
    return requests.post(url, data=body, headers=headers, timeout=20)


def post_signed(url: str, doc: dict[str, Any] | bytes, actor: FakeActor,
                **kwargs: Any) -> requests.Response:
    body = encode(doc)
    return post(url, body, signed_headers(url, body, actor, **kwargs))


def assert_problem(resp: requests.Response, status: int, *fragments: str) -> None:
    """``status``, an application/problem+json body, and a ``detail`` that says why."""
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].split(";")[0].strip() == "application/problem+json"
    problem = resp.json()
    assert problem["status"] == status
    for fragment in fragments:
        assert fragment in problem.get("detail", ""), problem


def assert_refused(target: Target, resp: requests.Response, status: int,
                   *fragments: str) -> None:
    """A problem+json refusal that says why, and nothing stored by this test."""
    assert_problem(resp, status, *fragments)
    assert target.stored() == target.baseline, "a refused activity was stored"


def assert_accepted(resp: requests.Response, status: str = "accepted") -> dict[str, Any]:
    assert resp.status_code == 202, resp.text
    answer = resp.json()
    assert answer["status"] == status, answer
    return answer


def follow_states(node: Node, follower: str, followed: str) -> list[tuple]:
    return node.sql(
        "SELECT f.state FROM follows f JOIN actors a ON a.id = f.follower_id "
        "JOIN actors b ON b.id = f.followed_id WHERE a.ap_id = :a AND b.ap_id = :b",
        a=follower, b=followed)


def item_state(node: Node, ap_id: str) -> list[tuple]:
    return node.sql("SELECT state FROM inbox_items WHERE ap_id = :id", id=ap_id)


# -- accepted ---------------------------------------------------------------------------

def test_signed_follow_is_accepted_stored_and_answered_with_a_signed_accept(nodes, peer):
    target = coop_node(nodes)
    alice = peer.add_actor("alice")
    activity = follow(alice, target.coop)
    body = encode(activity)
    headers = signed_headers(target.inbox, body, alice)
    assert re.search(r'algorithm="rsa-sha256".*headers="\(request-target\) host date digest"',
                     headers["Signature"])

    assert_accepted(post(target.inbox, body, headers))
    assert target.stored() == 1
    # the node fetched alice's document to read her key
    assert len(peer.requests("GET", alice.path)) == 1

    node = target.node
    assert node.wait_for("SELECT state FROM inbox_items WHERE ap_id = :id", [("processed",)],
                         id=activity["id"]) == [("processed",)]
    assert follow_states(node, alice.id, target.coop) == [("accepted",)]

    delivered = peer.wait_for(lambda r: len(r) >= 1, "POST", alice.inbox_path)
    assert len(delivered) == 1, "the Accept never reached the fake peer's inbox"
    accept = delivered[0]
    published = actor_json(f"{node.base_url}/actors/coop")["publicKey"]
    info = httpsig.parse_signature("POST", alice.inbox, accept.headers)
    assert info.key_id == published["id"]
    httpsig.verify(info, "POST", alice.inbox, accept.headers, accept.body,
                   published["publicKeyPem"])  # raises when it does not verify
    doc = accept.json()
    assert doc["type"] == "Accept" and doc["actor"] == target.coop
    answered = doc["object"]["id"] if isinstance(doc["object"], dict) else doc["object"]
    assert answered == activity["id"]


def test_same_activity_id_twice_is_stored_once_and_processed_once(nodes, peer):
    target = coop_node(nodes)
    node = target.node
    alice = peer.add_actor("alice")
    activity = follow(alice, target.coop)

    assert_accepted(post_signed(target.inbox, activity, alice))
    again = assert_accepted(post_signed(target.inbox, activity, alice), "ignored")
    assert "duplicate" in again["detail"]
    assert node.sql("SELECT count(*) FROM inbox_items WHERE ap_id = :id",
                    id=activity["id"]) == [(1,)]

    assert node.wait_for("SELECT state FROM inbox_items WHERE ap_id = :id", [("processed",)],
                         id=activity["id"]) == [("processed",)]
    assert peer.wait_for(lambda r: len(r) >= 1, "POST", alice.inbox_path)
    time.sleep(1.5)  # several worker polls: a second effect would show by now
    assert len(peer.requests("POST", alice.inbox_path)) == 1  # one Accept
    assert follow_states(node, alice.id, target.coop) == [("accepted",)]
    assert node.sql("SELECT count(*) FROM jobs WHERE kind = 'inbox.process'") == [(1,)]
    assert len(peer.requests("GET", alice.path)) == 1  # the key was fetched once

    # the same id sent several times at once (her key is known now): stored once
    note = create_note(alice)
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: post_signed(target.shared_inbox, note, alice),
                                range(6)))
    assert [r.status_code for r in answers] == [202] * 6, [r.text for r in answers]
    assert sorted(r.json()["status"] for r in answers) == ["accepted"] + ["ignored"] * 5
    assert node.sql("SELECT count(*) FROM inbox_items WHERE ap_id = :id",
                    id=note["id"]) == [(1,)]
    assert node.wait_for("SELECT count(*) FROM remote_objects WHERE ap_id = :id", [(1,)],
                         id=note["object"]["id"]) == [(1,)]


def test_rfc9421_signed_create_note_is_accepted_and_stored(nodes, peer):
    target = coop_node(nodes)
    node = target.node
    alice = peer.add_actor("alice")
    activity = create_note(alice, "Signé selon la RFC 9421")
    body = encode(activity)
    headers = signed_headers(target.shared_inbox, body, alice, spec="rfc9421")
    assert "Signature-Input" in headers and "Content-Digest" in headers
    assert "Digest" not in headers

    assert_accepted(post(target.shared_inbox, body, headers))
    assert node.sql("SELECT type, actor_ap_id, key_id FROM inbox_items") == [
        ("Create", alice.id, alice.key_id)]
    assert node.wait_for("SELECT state FROM inbox_items WHERE ap_id = :id", [("processed",)],
                         id=activity["id"]) == [("processed",)]
    rows = node.sql("SELECT type, attributed_to, ap_json FROM remote_objects WHERE ap_id = :id",
                    id=activity["object"]["id"])
    assert [(t, a) for t, a, _ in rows] == [("Note", alice.id)]
    stored = rows[0][2] if isinstance(rows[0][2], dict) else json.loads(rows[0][2])
    assert stored["content"] == "<p>Signé selon la RFC 9421</p>"


def test_creates_arriving_together_are_each_stored_and_applied_once(nodes, peer):
    """Forty activities posted at once (group commit, jobs applied in batches): each new
    id is stored and applied once, a repeated one is acknowledged as a duplicate, an
    object sent again is stored once, and a Create of an object attributed to another
    server's actor is refused (400) without failing the others."""
    target = coop_node(nodes)
    node = target.node
    alice = peer.add_actor("alice")
    notes = [create_note(alice, f"Panier {i}") for i in range(36)]
    again = dict(notes[0], id=new_id(alice, "activities"))  # same note, another activity
    forged = create_note(alice, "Pas de moi")
    forged["object"]["attributedTo"] = "http://elsewhere.invalid/users/bob"
    sent = [*notes, again, forged, notes[1]]  # notes[1] twice: the same activity id
    first_note = post_signed(target.shared_inbox, create_note(alice, "Premier"), alice)
    assert_accepted(first_note)  # alice's key is fetched once, before the burst

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda doc: post_signed(target.shared_inbox, doc, alice), sent))

    # the forged one is refused at the door (an actor speaks only for itself)
    assert [a.status_code for a in answers] == [202] * (len(sent) - 2) + [400, 202]
    assert "object.attributedTo" in answers[-2].json()["detail"]
    assert sorted(a.json()["status"] for a in answers[:-2] + answers[-1:]).count("ignored") == 1
    assert target.stored() == 1 + 36 + 1
    states = node.wait_for("SELECT state, count(*) FROM inbox_items GROUP BY state ORDER BY state",
                           lambda rows: "pending" not in dict(rows))
    assert dict(states) == {"processed": 1 + 36 + 1}
    assert node.sql("SELECT error FROM inbox_items WHERE ap_id = :id", id=forged["id"]) == []
    objects = node.sql("SELECT ap_id, count(*) FROM remote_objects GROUP BY ap_id")
    assert len(objects) == 1 + 36 and all(n == 1 for _, n in objects)
    assert (forged["object"]["id"], 1) not in objects
    assert node.wait_for("SELECT count(*) FROM jobs WHERE kind = 'inbox.process' "
                         "AND state <> 'done'", [(0,)]) == [(0,)]


def test_rotated_key_is_accepted_after_one_refetch_of_the_actor(nodes, peer):
    target = coop_node(nodes)
    node = target.node
    alice = peer.add_actor("alice")
    first = follow(alice, target.coop)
    assert_accepted(post_signed(target.inbox, first, alice))
    assert len(peer.requests("GET", alice.path)) == 1
    # The node refetches a key's actor at most once per 30 s (inbound.REFETCH_INTERVAL),
    # the first fetch included, so a key rotated within 30 s of first contact is refused
    # until then. Keys rotate long after first contact: a restart (the limiter lives in
    # memory) stands for that time passing, without a 30 s sleep.
    assert node.stop() == 0
    node.start()

    peer.rotate_key(alice)  # a new key under the same key id
    second = create_note(alice, "Nouvelle clé")
    assert_accepted(post_signed(target.inbox, second, alice))
    assert len(peer.requests("GET", alice.path)) == 2  # refetched once
    assert node.sql("SELECT ap_id FROM inbox_items ORDER BY id") == [
        (first["id"],), (second["id"],)]
    assert node.sql("SELECT public_pem FROM actor_keys WHERE key_id = :k",
                    k=alice.key_id) == [(alice.public_pem,)]


# -- blocked domains --------------------------------------------------------------------

@pytest.mark.parametrize("blocked", ["host:port", "host"])
def test_activity_from_a_blocked_domain_is_refused_with_403_without_any_request(
        nodes, peer, blocked):
    """`ssefed block 127.0.0.1:PORT` blocks that one server; `ssefed block 127.0.0.1`
    every port of the host (Federation.is_blocked matches host:port, then host)."""
    domain = peer.host if blocked == "host:port" else "127.0.0.1"
    target = coop_node(nodes, before_start=(("block", domain),))
    alice = peer.add_actor("alice")

    resp = post_signed(target.shared_inbox, follow(alice, target.coop), alice)
    assert_problem(resp, 403, f"{peer.host} is blocked")
    resp = post_signed(target.inbox, create_note(alice), alice)
    assert_problem(resp, 403, f"{peer.host} is blocked")
    assert target.stored() == 0
    assert peer.requests() == []  # neither its key nor its actor was fetched

    with FakePeer() as neighbour:  # same host, another port
        bob = neighbour.add_actor("bob")
        resp = post_signed(target.inbox, follow(bob, target.coop), bob)
        if blocked == "host":
            assert_problem(resp, 403, f"{neighbour.host} is blocked")
            assert neighbour.requests() == []
            assert target.stored() == 0
        else:
            assert_accepted(resp)
            assert target.stored() == 1


# -- refusals (one shared node) ---------------------------------------------------------

def test_post_without_signature_is_refused_with_401(shared, peer):
    alice = peer.add_actor("alice")
    body = encode(follow(alice, shared.coop))
    headers = signed_headers(shared.inbox, body, alice)
    del headers["Signature"]
    assert_refused(shared, post(shared.inbox, body, headers), 401,
                   "the request carries no signature")
    assert peer.requests() == []


def test_signature_with_one_byte_flipped_is_refused_with_401(shared, peer):
    alice = peer.add_actor("alice")
    body = encode(follow(alice, shared.coop))
    headers = signed_headers(shared.inbox, body, alice)
    raw = bytearray(base64.b64decode(re.search(r'signature="([^"]+)"',
                                               headers["Signature"]).group(1)))
    raw[17] ^= 0x01
    headers["Signature"] = re.sub(r'signature="[^"]+"',
                                  f'signature="{base64.b64encode(bytes(raw)).decode()}"',
                                  headers["Signature"])
    assert_refused(shared, post(shared.inbox, body, headers), 401,
                   "the signature does not verify")


def test_body_changed_after_signing_is_refused_with_401(shared, peer):
    alice = peer.add_actor("alice")
    activity = create_note(alice, "Original")
    headers = signed_headers(shared.shared_inbox, encode(activity), alice)
    activity["object"]["content"] = "<p>Changed on the way</p>"
    assert_refused(shared, post(shared.shared_inbox, encode(activity), headers), 401,
                   "the body digest does not match the body")


@pytest.mark.parametrize("spec", ["cavage", "rfc9421"])
@pytest.mark.parametrize("hours", [-2, 2], ids=["two_hours_old", "two_hours_in_the_future"])
def test_signature_time_two_hours_away_is_refused_with_401(shared, peer, spec, hours):
    alice = peer.add_actor("alice")
    when = datetime.now(timezone.utc) + timedelta(hours=hours)
    resp = post_signed(shared.inbox, follow(alice, shared.coop), alice, spec=spec, now=when)
    assert_refused(shared, resp, 401, "the signature time is outside the accepted window",
                   "Date" if spec == "cavage" else "created", "3600s")


@pytest.mark.parametrize("covered, missing", [
    (("host", "date", "digest"), "(request-target)"),
    (("(request-target)", "date", "digest"), "host"),
    (("(request-target)", "host", "date"), "digest"),
], ids=["without_request_target", "without_host", "without_digest"])
def test_signature_not_covering_a_required_header_is_refused_with_401(shared, peer, covered,
                                                                      missing):
    alice = peer.add_actor("alice")
    resp = post_signed(shared.inbox, follow(alice, shared.coop), alice, covered=covered)
    assert_refused(shared, resp, 401, f"a required part of the request is not signed: {missing}")


def test_post_without_any_digest_header_is_refused_with_401(shared, peer):
    alice = peer.add_actor("alice")
    body = encode(follow(alice, shared.coop))
    headers = signed_headers(shared.inbox, body, alice,
                             covered=("(request-target)", "host", "date"))
    del headers["Digest"]
    assert_refused(shared, post(shared.inbox, body, headers), 401,
                   "the request has a body but no usable digest")


def test_signature_for_another_host_is_refused_with_401(shared, peer):
    alice = peer.add_actor("alice")
    body = encode(follow(alice, shared.coop))
    elsewhere = "http://other.example:8080" + shared.inbox.split(shared.node.base_url)[1]
    headers = signed_headers(elsewhere, body, alice)  # Host: other.example:8080
    assert_refused(shared, post(shared.inbox, body, headers), 401,
                   "the signed host is not this server")


def _hmac(data: bytes) -> bytes:
    return hmac.new(b"a shared secret", data, hashlib.sha256).digest()


@pytest.mark.parametrize("spec", ["cavage", "rfc9421"])
def test_hmac_signature_is_refused_with_401_without_fetching_anything(shared, peer, spec):
    alice = peer.add_actor("alice")
    url = shared.inbox
    body = encode(follow(alice, shared.coop))
    if spec == "cavage":
        headers = signed_headers(url, body, alice)
        covered = ("(request-target)", "host", "date", "digest")
        info = httpsig.SignedRequestInfo("cavage", alice.key_id, "hmac-sha256", covered, None)
        mac = base64.b64encode(_hmac(httpsig.signature_base(info, "POST", url, headers)))
        headers["Signature"] = (f'keyId="{alice.key_id}",algorithm="hmac-sha256",'
                                f'headers="{" ".join(covered)}",signature="{mac.decode()}"')
    else:
        digest = httpsig.content_digest_header(body)
        params = (f'("@method" "@target-uri" "content-digest");created={int(time.time())};'
                  f'keyid="{alice.key_id}";alg="hmac-sha256"')
        base = (f'"@method": POST\n"@target-uri": {url}\n"content-digest": {digest}\n'
                f'"@signature-params": {params}').encode()
        headers = {"Content-Type": AS2, "Content-Digest": digest,
                   "Signature-Input": f"sig1={params}",
                   "Signature": f"sig1=:{base64.b64encode(_hmac(base)).decode()}:"}
    assert_refused(shared, post(url, body, headers), 401,
                   "the signature algorithm is not supported: hmac-sha256")
    assert peer.requests() == []


def test_key_of_another_actor_is_refused_with_401(shared, peer):
    alice, mallory = peer.add_actor("alice"), peer.add_actor("mallory")
    activity = follow(alice, shared.coop)  # alice's Follow, signed with mallory's key
    resp = post_signed(shared.inbox, activity, mallory)
    assert_refused(shared, resp, 401, f"the key {mallory.key_id} belongs to {mallory.id}, "
                              f"not to the activity's actor {alice.id}")


def test_key_document_claiming_an_owner_who_does_not_list_it_is_refused_with_401(shared, peer):
    alice = peer.add_actor("alice")
    stray = keygen.generate("rsa")
    key_id = f"{peer.base_url}/keys/stray"
    peer.serve("/keys/stray", {"@context": [AS_CONTEXT, SEC_CONTEXT], "id": key_id,
                               "type": "Key", "owner": alice.id,
                               "publicKeyPem": stray.public_pem})
    resp = post_signed(shared.inbox, follow(alice, shared.coop), alice, key_id=key_id,
                       private_pem=stray.private_pem)
    assert_refused(shared, resp, 401, f"the actor {alice.id} does not list the key {key_id}")
    # the claim was checked against the owner's own document
    assert len(peer.requests("GET", "/keys/stray")) == 1
    assert len(peer.requests("GET", alice.path)) == 1
    assert shared.node.sql("SELECT count(*) FROM actor_keys WHERE key_id = :k",
                            k=key_id) == [(0,)]


def test_forged_signatures_make_the_node_fetch_the_actor_at_most_once(shared, peer):
    alice = peer.add_actor("alice")
    forger = keygen.generate("rsa")
    for _ in range(3):
        resp = post_signed(shared.shared_inbox, create_note(alice), alice,
                           private_pem=forger.private_pem)
        assert_refused(shared, resp, 401, "the signature does not verify")
    assert len(peer.requests("GET", alice.path)) == 1


def test_body_larger_than_max_body_bytes_is_refused_with_413(shared, peer):
    alice = peer.add_actor("alice")
    activity = create_note(alice, "x" * (MAX_BODY + 100))
    resp = post_signed(shared.shared_inbox, activity, alice)
    assert_refused(shared, resp, 413, f"at most {MAX_BODY} bytes")
    assert peer.requests() == []


def test_json_nested_deeper_than_max_json_depth_is_refused_with_400(shared, peer):
    alice = peer.add_actor("alice")
    activity = create_note(alice)
    deep: dict[str, Any] = {}
    inner = deep
    for _ in range(MAX_DEPTH + 5):
        inner["a"] = {}
        inner = inner["a"]
    activity["object"]["tag"] = deep
    body = encode(activity)
    assert len(body) < MAX_BODY
    assert_refused(shared, post_signed(shared.shared_inbox, body, alice), 400,
                   f"JSON nested deeper than {MAX_DEPTH}")
    assert peer.requests() == []


def test_invalid_json_is_refused_with_415(shared, peer):
    alice = peer.add_actor("alice")
    body = encode(follow(alice, shared.coop))[:-7]  # cut short: not JSON
    assert_refused(shared, post_signed(shared.inbox, body, alice), 415, "the body is not JSON")
    assert peer.requests() == []


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
def test_delete_from_an_actor_never_stored_is_dropped_with_202_without_any_request(
        shared, peer, signed):
    alice = peer.add_actor("alice")
    body = encode(delete_of(alice))
    headers = (signed_headers(shared.shared_inbox, body, alice) if signed
               else {"Content-Type": AS2})
    answer = assert_accepted(post(shared.shared_inbox, body, headers), "ignored")
    assert "unknown actor" in answer["detail"]
    assert shared.stored() == shared.baseline
    time.sleep(0.3)
    assert peer.requests() == []  # no key fetch, no actor fetch


# -- bodies arriving in pieces, and concurrent first activities of a new actor ----------

def post_in_two_pieces(url: str, body: bytes, headers: dict[str, str], *,
                       chunked: bool) -> requests.Response:
    """POST ``body`` in two TCP writes 0.3 s apart (as a slow network delivers it), with a
    Content-Length or as two chunks; return the answer as a requests.Response."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)
    try:
        conn.putrequest("POST", parts.path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        if chunked:
            conn.putheader("Transfer-Encoding", "chunked")
        else:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        half = len(body) // 2
        for i, piece in enumerate((body[:half], body[half:])):
            if i:
                time.sleep(0.3)
            conn.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece)
        if chunked:
            conn.send(b"0\r\n\r\n")
        answer = conn.getresponse()
        resp = requests.Response()
        resp.status_code, resp._content = answer.status, answer.read()
        resp.headers.update(dict(answer.getheaders()))
        return resp
    finally:
        conn.close()


@pytest.mark.parametrize("chunked", [False, True], ids=["content_length", "chunked"])
def test_body_arriving_in_two_pieces_is_read_whole_and_accepted(shared, peer, chunked):
    alice = peer.add_actor("alice")
    activity = create_note(alice, "Livré en deux morceaux")
    body = encode(activity)
    resp = post_in_two_pieces(shared.shared_inbox, body,
                              signed_headers(shared.shared_inbox, body, alice), chunked=chunked)
    assert_accepted(resp)
    assert shared.node.sql("SELECT count(*) FROM inbox_items WHERE ap_id = :id",
                           id=activity["id"]) == [(1,)]


def test_first_activities_of_a_new_actor_arriving_together_are_all_accepted(shared, peer):
    alice = peer.add_actor("alice")
    peer.delays[alice.path] = 0.6  # its server answers slowly: the key fetch takes a while
    notes = [create_note(alice, f"Note {i}") for i in range(3)]
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        first = pool.submit(post_signed, shared.shared_inbox, notes[0], alice)
        time.sleep(0.2)  # the first request is fetching alice's key now
        others = [pool.submit(post_signed, shared.shared_inbox, n, alice) for n in notes[1:]]
        answers = [f.result() for f in (first, *others)]
    for answer in answers:
        assert_accepted(answer)
    assert len(peer.requests("GET", alice.path)) == 1


# -- structured data: FEP-0837 proposals are checked against the JSON Schema ------------

def create_proposal(actor: FakeActor, purpose: str) -> dict[str, Any]:
    proposal = json.loads((PEERS / "fep0837-proposal-offer-full.json").read_text())
    proposal_id = new_id(actor, "proposals")
    proposal.update(id=proposal_id, attributedTo=actor.id, purpose=purpose)
    proposal["publishes"]["id"] = f"{proposal_id}#primary"
    proposal["reciprocal"]["id"] = f"{proposal_id}#reciprocal"
    return {"@context": proposal["@context"], "id": f"{proposal_id}/create", "type": "Create",
            "actor": actor.id, "to": [PUBLIC], "object": {
                k: v for k, v in proposal.items() if k != "@context"}}


def test_received_proposal_is_stored_as_a_remote_offer(nodes, peer):
    node = coop_node(nodes).node
    alice = peer.add_actor("alice")
    activity = create_proposal(alice, "offer")
    assert_accepted(post_signed(f"{node.base_url}/inbox", activity, alice))
    rows = node.wait_for("SELECT direction, category, local, title FROM offers "
                         "WHERE ap_id = :iri", lambda r: bool(r), iri=activity["object"]["id"])
    assert rows == [("offer", "https://www.wikidata.org/wiki/Q11442", False,
                     "Offering used bike")]


def test_proposal_failing_its_schema_is_kept_as_rejected_with_the_path(nodes, peer):
    node = coop_node(nodes).node
    alice = peer.add_actor("alice")
    activity = create_proposal(alice, "sell")  # purpose must be offer or request
    assert_accepted(post_signed(f"{node.base_url}/inbox", activity, alice))  # 202 first
    rows = node.wait_for("SELECT state, error FROM inbox_items WHERE ap_id = :id",
                         lambda r: r and r[0][0] != "pending", id=activity["id"])
    assert rows[0][0] == "rejected" and rows[0][1].startswith("/purpose:")
    listing = node.cli("inbox", "--rejected")
    assert listing.returncode == 0 and activity["id"] in listing.stdout
    assert "/purpose" in listing.stdout
    assert node.sql("SELECT count(*) FROM offers WHERE local = false") == [(0,)]
