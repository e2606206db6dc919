"""Floods (issue 18): a peer's actor or host that sends more than its budget per minute is
answered 429 with Retry-After and nothing is stored; only verified requests spend a
budget; and what a flood leaves in the database goes after a configurable age
(received bodies, finished jobs and deliveries), while each received activity's id is
kept for ``dedupe_days`` so a peer's retry is never applied twice.

One node per backend for the module, with small limits (4 per actor, 10 per host per
minute: no test waits for a budget to refill) and ``received_days = 2`` (bodies are
cleared before ids are forgotten). Each test sends from its own fake peer (its own
port, so its own host) and its own actors. Retention runs in the test process on the
node's database with a ``now`` days ahead (ssefed.domain.retention.prune), which is what
the node's periodic ``retention.prune`` job runs with the real time.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from typing import Any, Iterator

import pytest
from sqlalchemy import insert, select

from ssefed.config import async_database_url, load_config
from ssefed.db.base import utcnow
from ssefed.db.models import InboxItem, Job
from ssefed.db.session import Database
from ssefed.domain import retention
from tests.conftest import BACKENDS, FreshDatabases
from tests.fakepeer import FakePeer
from tests.integration.test_inbox_refusals import (
    Target, assert_accepted, assert_problem, coop_node, create_note, follow, new_id,
    post_signed)
from tests.nodes import Node, NodeFactory

PER_ACTOR, PER_HOST = 4, 10
LIMITS = {"SSEFED_FEDERATION_INBOX_PER_ACTOR_PER_MINUTE": str(PER_ACTOR),
          "SSEFED_FEDERATION_INBOX_PER_HOST_PER_MINUTE": str(PER_HOST),
          "SSEFED_RETENTION_RECEIVED_DAYS": "2", "SSEFED_RETENTION_DEDUPE_DAYS": "14",
          "SSEFED_RETENTION_JOBS_DAYS": "7", "SSEFED_RETENTION_DELIVERIES_DAYS": "30"}


@pytest.fixture(scope="module", params=BACKENDS)
def flood_node(request, tmp_path_factory) -> Iterator[Target]:
    dbs = FreshDatabases(request.param, tmp_path_factory.mktemp(f"flood-{request.param}"))
    factory = NodeFactory(dbs.tmp_path, dbs)
    try:
        yield coop_node(factory, "flood", extra_env=LIMITS)
    finally:
        factory.stop_all()
        dbs.drop_all()


@pytest.fixture
def peer() -> Iterator[FakePeer]:
    with FakePeer() as fake:
        yield fake


def by_actor(node: Node, actor: str) -> int:
    return node.sql("SELECT count(*) FROM inbox_items WHERE actor_ap_id = :a", a=actor)[0][0]


def assert_too_many(resp, *fragments: str) -> int:
    """A 429 problem+json that says which budget, with Retry-After in seconds."""
    assert_problem(resp, 429, *fragments)
    wait = int(resp.headers["Retry-After"])
    assert 1 <= wait <= 60
    return wait


def on_node_db(node: Node, work) -> Any:
    """Run ``work(db, config)`` on the node's database, with the node's configuration."""
    config = load_config(node.config, env=node.env)

    async def run() -> Any:
        db = Database(async_database_url(node.database_url, node.directory))
        try:
            return await work(db, config)
        finally:
            await db.dispose()

    return asyncio.run(run())


def prune(node: Node, days_ahead: float) -> retention.Pruned:
    """The node's retention, run as if ``days_ahead`` days had passed."""
    return on_node_db(node, lambda db, config: retention.prune(
        db, config.retention, now=utcnow() + timedelta(days=days_ahead)))


# -- rate limits ---------------------------------------------------------------------------

def test_actor_over_its_per_minute_limit_gets_429_with_retry_after(flood_node, peer):
    node = flood_node.node
    alice, bob = peer.add_actor("alice"), peer.add_actor("bob")
    for i in range(PER_ACTOR):
        assert_accepted(post_signed(flood_node.shared_inbox, create_note(alice, f"n{i}"), alice))

    over = post_signed(flood_node.shared_inbox, create_note(alice, "one too many"), alice)
    assert_too_many(over, f"per minute for the actor {alice.id}")
    also_personal = post_signed(flood_node.inbox, follow(alice, flood_node.coop), alice)
    assert_too_many(also_personal, alice.id)
    assert by_actor(node, alice.id) == PER_ACTOR, "an activity over the limit was stored"
    # another actor of the same host still has its own budget
    assert_accepted(post_signed(flood_node.shared_inbox, create_note(bob), bob))


def test_host_over_its_limit_gets_429_even_with_new_actors(flood_node, peer):
    node = flood_node.node
    actors = [peer.add_actor(f"a{i}") for i in range(PER_HOST // 2)]
    for actor in actors:  # two each: every actor within its own budget
        for _ in range(2):
            assert_accepted(post_signed(flood_node.shared_inbox, create_note(actor), actor))

    newcomer = peer.add_actor("newcomer")
    over = post_signed(flood_node.shared_inbox, create_note(newcomer), newcomer)
    assert_too_many(over, f"per minute for the host {peer.host}")
    assert by_actor(node, newcomer.id) == 0
    # refused before any signature work: the newcomer's key was never fetched
    assert peer.requests("GET", newcomer.path) == []
    # another host is not affected
    with FakePeer() as other:
        carol = other.add_actor("carol")
        assert_accepted(post_signed(flood_node.shared_inbox, create_note(carol), carol))


def test_forged_requests_do_not_spend_an_actors_budget(flood_node, peer):
    """Only verified requests count: requests in alice's name signed with another key are
    refused (401) and leave her budget whole."""
    alice, mallory = peer.add_actor("alice"), peer.add_actor("mallory")
    for _ in range(PER_ACTOR * 2):
        forged = post_signed(flood_node.shared_inbox, create_note(alice), alice,
                             private_pem=mallory.private_pem)
        assert_problem(forged, 401)
    for i in range(PER_ACTOR):
        assert_accepted(post_signed(flood_node.shared_inbox, create_note(alice, f"{i}"), alice))


# -- retention -----------------------------------------------------------------------------

def item(node: Node, ap_id: str) -> list[tuple]:
    return node.sql("SELECT state, ap_json IS NULL FROM inbox_items WHERE ap_id = :id",
                    id=ap_id)


def test_retention_prunes_old_bodies_but_a_retry_within_dedupe_days_is_not_applied_twice(
        flood_node, peer):
    node = flood_node.node
    alice = peer.add_actor("alice")
    activity = follow(alice, flood_node.coop)
    assert_accepted(post_signed(flood_node.inbox, activity, alice))
    assert node.wait_for("SELECT state FROM inbox_items WHERE ap_id = :id", [("processed",)],
                         id=activity["id"]) == [("processed",)]
    assert len(peer.wait_for(lambda r: len(r) >= 1, "POST", alice.inbox_path)) == 1  # Accept
    node.wait_for("SELECT count(*) FROM deliveries WHERE state <> 'done'", [(0,)])
    jobs_before = node.sql("SELECT id FROM jobs WHERE state = 'done'")
    assert jobs_before

    pruned = prune(node, 3)  # past received_days (2), within dedupe_days (14)
    assert pruned.bodies >= 1 and pruned.items == 0
    assert item(node, activity["id"]) == [("processed", True)]  # the id stays, the body goes

    # the peer retries (a new signature, the same activity): acknowledged, not applied
    again = assert_accepted(post_signed(flood_node.inbox, activity, alice), "ignored")
    assert "duplicate" in again["detail"]
    time.sleep(1.5)  # several worker polls: a second effect would show by now
    assert len(peer.requests("POST", alice.inbox_path)) == 1, "the Follow was applied twice"
    assert node.sql("SELECT count(*) FROM inbox_items WHERE ap_id = :id",
                    id=activity["id"]) == [(1,)]

    pruned = prune(node, 8)  # past jobs_days (7): finished jobs go, the pending stay
    assert pruned.jobs >= len(jobs_before)
    gone = {i for (i,) in jobs_before} & {i for (i,) in node.sql("SELECT id FROM jobs")}
    assert not gone, "finished jobs older than jobs_days were kept"
    assert node.sql("SELECT count(*) FROM jobs WHERE state = 'pending'")[0][0] >= 1
    assert node.sql("SELECT count(*) FROM deliveries WHERE state = 'done'")[0][0] >= 1

    pruned = prune(node, 15)  # past dedupe_days: the id goes too
    assert pruned.items >= 1
    assert item(node, activity["id"]) == []
    pruned = prune(node, 31)  # past deliveries_days
    assert pruned.deliveries >= 1
    assert node.sql("SELECT count(*) FROM deliveries WHERE state = 'done'") == [(0,)]
    # what the node published stays served
    assert node.sql("SELECT count(*) FROM activities WHERE type = 'Accept'")[0][0] >= 1


def test_pending_items_are_never_pruned(flood_node, peer):
    """An activity stored but not applied yet (here: one whose job never ran) keeps its
    body and its row whatever its age; so does a pending job."""
    node = flood_node.node
    alice = peer.add_actor("alice")
    doc = create_note(alice, "pas encore traitée")

    async def store_pending(db: Database, _config) -> None:
        async with db.write() as s:
            await s.execute(insert(InboxItem).values(
                ap_id=doc["id"], type="Create", actor_ap_id=alice.id, key_id=alice.key_id,
                ap_json=doc, state="pending", received_at=utcnow() - timedelta(days=100)))
            await s.execute(insert(Job).values(
                kind="test.never", payload={}, dedupe_key=new_id(alice, "job"),
                state="pending", attempts=0, run_at=utcnow() + timedelta(days=365),
                created_at=utcnow() - timedelta(days=100),
                updated_at=utcnow() - timedelta(days=100)))

    on_node_db(node, store_pending)
    prune(node, 100)
    assert item(node, doc["id"]) == [("pending", False)]

    async def read(db: Database, _config) -> tuple:
        async with db.read() as s:
            body = await s.scalar(select(InboxItem.ap_json).where(InboxItem.ap_id == doc["id"]))
            job = await s.scalar(select(Job.state).where(Job.kind == "test.never"))
        return body, job

    body, job = on_node_db(node, read)
    assert (body if isinstance(body, dict) else json.loads(body)) == doc
    assert job == "pending"


def test_the_node_queues_its_retention_run(flood_node):
    """The worker runs retention itself: the run of the current hour is queued at start,
    and once it ran, the next one (other tests may have pruned the finished one)."""
    node = flood_node.node

    def next_run_queued(rows: list[tuple]) -> bool:
        return any(state == "pending" and run_at > utcnow() for state, run_at in rows)

    async def runs(db: Database, _config) -> list[tuple]:
        deadline = time.monotonic() + 20
        while True:
            async with db.read() as s:
                rows = [tuple(r) for r in await s.execute(
                    select(Job.state, Job.run_at).where(Job.kind == retention.PRUNE_JOB))]
            if next_run_queued(rows) or time.monotonic() > deadline:
                return rows
            await asyncio.sleep(0.2)

    assert next_run_queued(on_node_db(node, runs))
