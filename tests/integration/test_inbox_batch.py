"""Received activities applied many at a time (federation/apply/batch.py) give each item
the outcome it gets alone: offers stored, schema failures rejected with their path, an
object twice in one batch applied in order, another actor's objects refused, other verbs
and unknown authors left to the one-by-one path; a refused item spoils none of the
others."""

import asyncio
import copy
import json
import time

from sqlalchemy import func, select, text

from ssefed.app import batch_job_handlers, job_handlers
from ssefed.config import load_config
from ssefed.db import migrate
from ssefed.db.base import utcnow
from ssefed.db.models import Job
from ssefed.db.repos import inbox as inbox_repo
from ssefed.db.repos import remote as remote_repo
from ssefed.db.session import open_database
from ssefed.federation.apply.batch import apply_batch
from ssefed.federation.handlers import Handlers
from ssefed.federation.service import Federation
from ssefed.worker.runner import JobBatch, Worker
from tests.conftest import PEERS

PROPOSAL = json.loads((PEERS / "fep0837-proposal-offer-full.json").read_text())
ALICE = "https://market.example/users/alice"
BOB = "https://market.example/users/bob"  # another actor of the same origin
NETWORK = "https://network.example/actors/network"
CATEGORY = "https://w3id.org/ssefed/category/"


def _activity(n: int, obj: dict, verb: str = "Create", actor: str = ALICE) -> dict:
    who = actor.rsplit("/", 1)[1]
    return {"id": f"https://market.example/activities/{who}-{verb.lower()}-{n}", "type": verb,
            "actor": actor, "object": obj}


def _offer(key: str, author: str = ALICE, **changes) -> dict:
    obj = copy.deepcopy(PROPOSAL)
    obj.pop("@context")
    obj["id"] = f"https://market.example/proposals/{key}"
    obj["attributedTo"] = author
    obj.update(changes)
    return obj


def _name(iri: str) -> str:
    return iri.rsplit("/", 1)[1]


class Node:
    """A node's database and federation, without HTTP: what the worker applies."""

    def __init__(self, url: str, tmp_path) -> None:
        self.config = load_config(tmp_path / "none.toml", env={
            "SSEFED_DATABASE_URL": url, "SSEFED_NODE_BASE_URL": "http://127.0.0.1:9",
            "SSEFED_NODE_DATA_DIR": str(tmp_path)})

    async def __aenter__(self) -> "Node":
        self.db = open_database(self.config)
        await migrate.upgrade(self.db)
        self.fed = Federation(self.config, self.db)
        self.handlers = Handlers(self.fed)
        async with self.db.write() as s:
            for actor, doc in ((ALICE, {"id": ALICE, "memberOf": NETWORK}), (BOB, {"id": BOB})):
                await remote_repo.upsert_actor(
                    s, ap_id=actor, domain="market.example", handle=_name(actor),
                    type_="Person", name=_name(actor), summary="", inbox=f"{actor}/inbox",
                    shared_inbox=None, manually_approves=False, ap_json=doc,
                    fetched_at=utcnow(), keys=[])
        return self

    async def __aexit__(self, *exc) -> None:
        await self.fed.close()
        await self.db.dispose()

    async def receive(self, docs: list[dict]) -> list[int]:
        """Store ``docs`` as the inbox does (items and their ``inbox.process`` jobs)."""
        ids = await inbox_repo.store_batch(self.db, [
            {"ap_id": d["id"], "type": d["type"], "actor_ap_id": d["actor"],
             "key_id": None, "document": json.dumps(d)} for d in docs])
        return list(ids.values())

    async def apply_together(self, item_ids: list[int]) -> set[int]:
        """Apply the items as one batch of the worker; the positions it left alone."""
        async with self.db.read() as s:
            jobs = {json.loads(p)["item"] if isinstance(p, str) else p["item"]: i
                    for i, p in (await s.execute(select(Job.id, Job.payload)
                                                 .where(Job.kind == "inbox.process"))).all()}
        batch = JobBatch([{"item": i} for i in item_ids], [jobs[i] for i in item_ids])
        rest = await apply_batch(self.handlers, batch)
        for position in sorted(rest):
            await self.handlers.process(batch.payloads[position])
        return rest

    async def apply_alone(self, item_ids: list[int]) -> None:
        for item_id in item_ids:
            await self.handlers.process({"item": item_id})

    async def outcomes(self) -> dict[str, tuple[str, str | None]]:
        async with self.db.read() as s:
            rows = (await s.execute(text("SELECT ap_id, state, error FROM inbox_items"))).all()
        return {_name(ap_id): (state, error) for ap_id, state, error in rows}

    async def rows(self) -> dict[str, list]:
        """What received offers left in the database (ids and times left out)."""
        async with self.db.read() as s:
            def q(sql: str) -> list:
                return s.execute(text(sql))

            return {
                "offers": [tuple(r) for r in (await q(
                    "SELECT o.ap_id, a.ap_id, o.local, o.direction, o.kind, o.role, "
                    "o.exchange, o.category, o.title, o.summary, o.quantity, o.unit, "
                    "o.price, o.currency, o.lat, o.lon, o.valid_until, o.ap_json, "
                    "o.deleted_at IS NULL FROM offers o JOIN actors a ON a.id = o.actor_id "
                    "ORDER BY o.ap_id")).all()],
                "inputs": [tuple(r) for r in (await q(
                    "SELECT o.ap_id, i.category, i.position FROM offer_inputs i "
                    "JOIN offers o ON o.id = i.offer_id ORDER BY o.ap_id, i.position")).all()],
                "objects": [tuple(r) for r in (await q(
                    "SELECT ap_id, type, attributed_to, ap_json, deleted_at IS NULL "
                    "FROM remote_objects ORDER BY ap_id")).all()],
                "jobs": [tuple(r) for r in (await q(
                    "SELECT kind, dedupe_key FROM jobs WHERE kind <> 'inbox.process' "
                    "ORDER BY id")).all()],
            }


async def _work_until_done(node: Node, timeout: float = 30) -> None:
    """The node's worker, with the application's job handlers, until no job is left."""
    worker = Worker(node.db, job_handlers(node.db, node.fed.ids, node.handlers),
                    poll_interval=0.05, batch_handlers=batch_job_handlers(node.handlers))
    worker.start()
    try:
        deadline = time.monotonic() + timeout
        while True:
            async with node.db.read() as s:
                left = await s.scalar(select(func.count()).select_from(Job).where(
                    Job.kind == "inbox.process", Job.state.in_(("pending", "running"))))
            if not left:
                return
            assert time.monotonic() < deadline, f"{left} inbox.process jobs left"
            await asyncio.sleep(0.05)
    finally:
        await worker.stop(5)


def test_a_mixed_batch_gives_each_item_its_own_outcome(databases, tmp_path):
    docs = [
        _activity(1, _offer("p1")),
        _activity(2, _offer("p2", purpose="sell")),  # fails the schema
        _activity(3, _offer("p3")),
        _activity(4, _offer("p3", name="Renamed bike"), "Update"),  # same object again
        _activity(5, _offer("p5", author="https://elsewhere.example/users/bob")),
        {"id": "https://market.example/activities/alice-like-6", "type": "Like",
         "actor": ALICE, "object": "https://market.example/proposals/p1"},
    ]

    async def run() -> tuple:
        async with Node(databases.new_url(), tmp_path) as node:
            await node.receive(docs)
            await _work_until_done(node)
            return await node.outcomes(), await node.rows()

    states, rows = asyncio.run(run())
    assert states["alice-create-1"] == ("processed", None)
    assert states["alice-create-3"] == ("processed", None)
    assert states["alice-update-4"] == ("processed", None)
    assert states["alice-create-2"][0] == "rejected"
    assert states["alice-create-2"][1].startswith("/purpose")
    assert states["alice-create-5"][0] == "rejected" and "attributedTo" in states["alice-create-5"][1]
    assert states["alice-like-6"] == ("processed", None)
    assert [(_name(o[0]), o[8], float(o[12])) for o in rows["offers"]] == [
        ("p1", "Offering used bike", 30.0), ("p3", "Renamed bike", 30.0)]
    # Alice says she is a member of a network: its members collection is to be read
    # once, so the guarantee of her offers can be checked
    assert rows["jobs"] == [("network.members", f"network.members:first:{NETWORK}")]


def test_a_batch_stores_what_the_same_activities_store_one_by_one(databases, tmp_path):
    """One application for both: the same received activities, applied as batches and
    one at a time, leave the same rows, value for value."""
    batches = [
        [_activity(1, _offer("p1", inputCategories=[f"{CATEGORY}wheat", f"{CATEGORY}flour"])),
         _activity(2, _offer("p2")),
         _activity(3, _offer("p3", purpose="sell")),  # fails the schema: nothing stored
         _activity(4, _offer("p4", author="https://elsewhere.example/users/bob")),
         _activity(5, {"id": "https://market.example/notes/n5", "type": "Note",
                       "attributedTo": ALICE, "content": "hello"})],
        [_activity(6, _offer("p1", name="Renamed bike", inputCategories=[f"{CATEGORY}bread"]),
                   "Update"),
         _activity(7, _offer("p2", name="Same again")),  # a Create of a stored offer: refreshed
         _activity(8, _offer("p8", validUntil="2031-01-31")),
         {"id": "https://market.example/activities/alice-delete-9", "type": "Delete",
          "actor": ALICE, "object": "https://market.example/proposals/p2"}],
    ]

    async def run(together: bool) -> tuple:
        async with Node(databases.new_url(), tmp_path) as node:
            # the Delete (last of the second batch) is left to the one-by-one path
            for docs, left_alone in zip(batches, (set(), {3})):
                ids = await node.receive(docs)
                if together:
                    assert await node.apply_together(ids) == left_alone
                else:
                    await node.apply_alone(ids)
            return await node.outcomes(), await node.rows()

    together, alone = asyncio.run(run(True)), asyncio.run(run(False))
    assert together == alone
    states, rows = together
    assert {name: state for name, (state, _) in states.items()} == {
        "alice-create-1": "processed", "alice-create-2": "processed",
        "alice-create-3": "rejected", "alice-create-4": "rejected",
        "alice-create-5": "processed", "alice-update-6": "processed",
        "alice-create-7": "processed", "alice-create-8": "processed",
        "alice-delete-9": "processed"}
    assert [(_name(o[0]), o[-1]) for o in rows["offers"]] == [
        ("p1", True), ("p2", False), ("p8", True)]  # p2 deleted
    assert [(_name(i[0]), i[1]) for i in rows["inputs"]] == [("p1", f"{CATEGORY}bread")]
    assert [_name(o[0]) for o in rows["objects"]] == ["n5", "p1", "p2", "p8"]


def test_another_actors_offer_is_refused_alike_alone_and_in_a_batch(databases, tmp_path):
    """Offers claiming another actor (of another origin, or of the same host), or taking
    the id of an offer stored as another actor's, are refused by the same checks whether
    they come alone or among others in a batch; what was stored is left as it was, and
    the honest items of the batch are stored."""
    first = [_activity(1, _offer("bob-1", author=BOB, name="Bob's bike"), actor=BOB)]
    hostile = [
        _activity(2, _offer("a-2")),  # honest
        _activity(3, _offer("a-3", author="https://elsewhere.example/users/carol")),
        _activity(4, _offer("a-4", author=BOB)),  # another actor of the same host
        _activity(5, _offer("bob-1", name="Taken over"), "Update"),  # Bob's stored offer
        _activity(6, _offer("a-6")),  # honest, stored in this batch...
        _activity(7, _offer("a-6", author=BOB, name="Bob's now"), "Update", actor=BOB),  # ...then claimed
        _activity(8, _offer("a-8")),  # honest
    ]

    async def run(together: bool) -> tuple:
        async with Node(databases.new_url(), tmp_path) as node:
            await node.apply_alone(await node.receive(first))
            ids = await node.receive(hostile)
            if together:
                # applied by the batch itself, not left to the one-by-one path
                assert await node.apply_together(ids) == set()
            else:
                await node.apply_alone(ids)
            return await node.outcomes(), await node.rows()

    together, alone = asyncio.run(run(True)), asyncio.run(run(False))
    assert together == alone
    states, rows = together
    for name in ("alice-create-3", "alice-create-4", "alice-update-5", "bob-update-7"):
        assert states[name][0] == "rejected" and "attributedTo" in states[name][1], name
    for name in ("bob-create-1", "alice-create-2", "alice-create-6", "alice-create-8"):
        assert states[name] == ("processed", None), name
    assert [(_name(o[0]), _name(o[1]), o[8]) for o in rows["offers"]] == [
        ("a-2", "alice", "Offering used bike"), ("a-6", "alice", "Offering used bike"),
        ("a-8", "alice", "Offering used bike"), ("bob-1", "bob", "Bob's bike")]
    assert [(_name(o[0]), _name(o[2])) for o in rows["objects"]] == [
        ("a-2", "alice"), ("a-6", "alice"), ("a-8", "alice"), ("bob-1", "bob")]
