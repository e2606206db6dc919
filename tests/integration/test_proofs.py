"""Integrity proofs between two real nodes: an endorsement signed on node C by one of its
organisations, handed to node A (a relay), is verified on A against C's live actor
document (`ssefed proof sign` on C, `ssefed proof verify` on A); forgeries are refused
with the reason saying why."""

import asyncio
import json
from datetime import datetime, timezone

import requests
from sqlalchemy import text

from ssefed.federation.proofs import ProofFailure, sign_object

ACTIVITY_JSON = {"Accept": "application/activity+json"}


def ok(result) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def refused(result, reason: ProofFailure) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.startswith(f"ssefed: not verified: {reason.value}"), result.stderr
    return result.stderr


def two_nodes(nodes):
    c = nodes.create("c")
    ok(c.cli("org", "add", "--handle", "ferme", "--name", "Ferme des Combes"))
    a = nodes.create("a")
    ok(a.cli("org", "add", "--handle", "moulin", "--name", "Moulin du Pont"))
    c.start()
    a.start()
    return a, c


def endorsement(author: str, about: str, n: int = 1) -> dict:
    return {"@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{author}/endorsements/{n}", "type": "Note", "attributedTo": author,
            "content": "<p>Le Moulin du Pont nous fournit notre farine depuis 2019.</p>",
            "object": about, "published": "2025-03-01T10:00:00Z"}


def write(tmp_path, name: str, doc: dict):
    path = tmp_path / name
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def ed25519_private(node, actor: str) -> str:
    """The private Ed25519 key a node keeps for one of its actors (made at its first fetch)."""
    assert requests.get(actor, headers=ACTIVITY_JSON, timeout=5).status_code == 200
    rows = node.sql("SELECT k.private_pem FROM actor_keys k JOIN actors a ON a.id = k.actor_id "
                    "WHERE a.ap_id = :iri AND k.kind = 'ed25519'", iri=actor)
    assert len(rows) == 1
    return rows[0][0]


def drop_ed25519_key(node, actor: str) -> None:
    """A key rotation on ``node``'s side (there is no command for it): the Ed25519 key is
    removed, and a new one, under the same key id, is made when next needed."""
    from ssefed.config import async_database_url
    from ssefed.db.session import Database

    async def run() -> None:
        db = Database(async_database_url(node.database_url, node.directory))
        try:
            async with db.write() as s:
                await s.execute(text(
                    "DELETE FROM actor_keys WHERE kind = 'ed25519' AND actor_id = "
                    "(SELECT id FROM actors WHERE ap_id = :iri)"), {"iri": actor})
        finally:
            await db.dispose()

    asyncio.run(run())


def test_endorsement_signed_on_c_verifies_on_a_against_cs_live_actor_after_a_key_rotation(
        nodes, tmp_path):
    a, c = two_nodes(nodes)
    ferme, moulin = f"{c.base_url}/actors/ferme", f"{a.base_url}/actors/moulin"
    key_id = f"{ferme}#ed25519-key"

    signed = json.loads(ok(c.cli("proof", "sign", "--as", "ferme",
                                 str(write(tmp_path, "e1.json", endorsement(ferme, moulin))))))
    proof = signed["proof"]
    assert (proof["type"], proof["cryptosuite"], proof["proofPurpose"],
            proof["verificationMethod"]) == ("DataIntegrityProof", "eddsa-jcs-2022",
                                             "assertionMethod", key_id)
    assert signed["@context"] == ["https://www.w3.org/ns/activitystreams",
                                  "https://w3id.org/security/data-integrity/v2"]
    actor = requests.get(ferme, headers=ACTIVITY_JSON, timeout=5).json()
    assert [m["id"] for m in actor["assertionMethod"]] == [key_id]

    first = write(tmp_path, "signed-1.json", signed)
    out = ok(a.cli("proof", "verify", str(first)))
    assert out.strip() == f"verified: by {ferme} with the key {key_id}, created {proof['created']}"
    assert ok(a.cli("proof", "verify", "--actor", ferme, str(first))).startswith("verified")
    # A stored C's actor from C's own server, with the key it lists
    assert a.sql("SELECT count(*) FROM actor_keys k JOIN actors x ON x.id = k.actor_id "
                 "WHERE x.ap_id = :iri AND k.key_id = :k", iri=ferme, k=key_id) == [(1,)]

    # C rotates the key (same key id): A's stored key no longer matches, A refetches once
    drop_ed25519_key(c, ferme)
    second = write(tmp_path, "signed-2.json", json.loads(ok(c.cli(
        "proof", "sign", "--as", "ferme",
        str(write(tmp_path, "e2.json", endorsement(ferme, moulin, 2)))))))
    assert ok(a.cli("proof", "verify", str(second))).startswith(f"verified: by {ferme}")
    # ... and what the old key signed no longer verifies against C's actor
    stale = refused(a.cli("proof", "verify", str(first)), ProofFailure.BAD_SIGNATURE)
    assert f"not signed by the key {key_id}" in stale

    # a copy changed on the way is refused
    changed = {**signed, "content": "<p>Le Moulin du Pont ne nous fournit plus.</p>"}
    refused(a.cli("proof", "verify", str(write(tmp_path, "changed.json", changed))),
            ProofFailure.BAD_SIGNATURE)


def test_forgeries_in_the_name_of_cs_organisation_are_refused_with_their_reason(
        nodes, tmp_path):
    a, c = two_nodes(nodes)
    ferme, moulin = f"{c.base_url}/actors/ferme", f"{a.base_url}/actors/moulin"
    now = datetime.now(timezone.utc)
    moulin_key = ed25519_private(a, moulin)
    claim = endorsement(ferme, moulin)

    # signed with A's key, but naming C's key: the signature does not verify with C's key
    forged = sign_object(claim, moulin_key, f"{ferme}#ed25519-key", created=now)
    err = refused(a.cli("proof", "verify", str(write(tmp_path, "f1.json", forged))),
                  ProofFailure.BAD_SIGNATURE)
    assert f"not signed by the key {ferme}#ed25519-key" in err

    # signed with A's key under A's key id: a key of another origin than C's actor
    other_origin = sign_object(claim, moulin_key, f"{moulin}#ed25519-key", created=now)
    err = refused(a.cli("proof", "verify", str(write(tmp_path, "f2.json", other_origin))),
                  ProofFailure.KEY_ORIGIN)
    assert f"the key {moulin}#ed25519-key is not on {c.base_url}, the origin of {ferme}" in err

    # signed on C's own server, but by C's network actor: not a key ferme lists
    network = f"{c.base_url}/actors/network"
    by_network = sign_object(claim, ed25519_private(c, network), f"{network}#ed25519-key",
                             created=now)
    err = refused(a.cli("proof", "verify", str(write(tmp_path, "f3.json", by_network))),
                  ProofFailure.KEY_NOT_LISTED)
    assert f"{ferme} does not list {network}#ed25519-key" in err

    # a genuine proof by ferme, presented as being by someone else
    genuine = write(tmp_path, "g.json", json.loads(ok(c.cli(
        "proof", "sign", "--as", "ferme", str(write(tmp_path, "e.json", claim))))))
    err = refused(a.cli("proof", "verify", "--actor", moulin, str(genuine)),
                  ProofFailure.ACTOR_MISMATCH)
    assert f"the document is by {ferme}, not by {moulin}" in err

    # C's admin cannot sign in the name of another organisation, nor a document without proof
    wrong = c.cli("proof", "sign", "--as", "network", str(write(tmp_path, "w.json", claim)))
    assert wrong.returncode == 1 and f"the document is by {ferme}, not by @network" in wrong.stderr
    refused(a.cli("proof", "verify", str(write(tmp_path, "n.json", claim))),
            ProofFailure.NO_PROOF)
