"""Received activities applied many at a time (federation/inbox_batch.py) give each item
the outcome it gets alone: offers stored, schema failures rejected with their path, an
object twice in one batch applied in order, other verbs and unknown authors by the
one-by-one path."""

import asyncio
import copy
import json

from sqlalchemy import text

from ssefed.config import load_config
from ssefed.db import migrate
from ssefed.db.base import utcnow
from ssefed.db.repos import inbox as inbox_repo
from ssefed.db.repos import remote as remote_repo
from ssefed.db.session import open_database
from ssefed.federation.handlers import Handlers
from ssefed.federation.inbox_batch import process_batch
from ssefed.federation.service import Federation
from tests.conftest import PEERS

PROPOSAL = json.loads((PEERS / "fep0837-proposal-offer-full.json").read_text())
ALICE = "https://market.example/users/alice"
NETWORK = "https://network.example/actors/network"


def _create(n: int, obj: dict, verb: str = "Create") -> dict:
    return {"id": f"https://market.example/activities/{verb.lower()}-{n}", "type": verb,
            "actor": ALICE, "object": obj}


def _offer(n: int, **changes) -> dict:
    obj = copy.deepcopy(PROPOSAL)
    obj.pop("@context")
    obj["id"] = f"https://market.example/proposals/p{n}"
    obj.update(changes)
    return obj


def test_a_mixed_batch_gives_each_item_its_own_outcome(databases, tmp_path):
    config = load_config(tmp_path / "none.toml", env={
        "SSEFED_DATABASE_URL": databases.new_url(),
        "SSEFED_NODE_BASE_URL": "http://127.0.0.1:9", "SSEFED_NODE_DATA_DIR": str(tmp_path)})

    async def run() -> tuple:
        db = open_database(config)
        await migrate.upgrade(db)
        fed = Federation(config, db)
        try:
            async with db.write() as s:
                await remote_repo.upsert_actor(
                    s, ap_id=ALICE, domain="market.example", handle="alice", type_="Person",
                    name="Alice", summary="", inbox=f"{ALICE}/inbox", shared_inbox=None,
                    manually_approves=False, ap_json={"id": ALICE, "memberOf": NETWORK},
                    fetched_at=utcnow(),
                    keys=[])
            docs = [
                _create(1, _offer(1)),
                _create(2, _offer(2, purpose="sell")),  # fails the schema
                _create(3, _offer(3)),
                _create(4, _offer(3, name="Renamed bike"), "Update"),  # same object again
                _create(5, _offer(5, attributedTo="https://elsewhere.example/users/bob")),
                {"id": "https://market.example/activities/like-6", "type": "Like",
                 "actor": ALICE, "object": "https://market.example/proposals/p1"},
            ]
            ids = await inbox_repo.store_batch(db, [
                {"ap_id": d["id"], "type": d["type"], "actor_ap_id": ALICE, "key_id": None,
                 "ap_json": d} for d in docs])
            results = await process_batch(Handlers(fed), [{"item": i} for i in ids.values()])
            async with db.read() as s:
                items = [(r.ap_id.rsplit("/", 1)[1], r.state, r.error)
                         for r in await inbox_repo.list_by_state(s, "processed", 50)
                         + await inbox_repo.list_by_state(s, "rejected", 50)]
                offers = [tuple(r) for r in (await s.execute(text(
                    "SELECT ap_id, title, price FROM offers ORDER BY ap_id"))).all()]
                jobs = [tuple(r) for r in (await s.execute(text(
                    "SELECT kind, payload FROM jobs WHERE kind = 'network.members'"))).all()]
            return results, sorted(items), offers, jobs
        finally:
            await fed.close()
            await db.dispose()

    results, items, offers, jobs = asyncio.run(run())
    assert results == [None] * 6
    states = {name: (state, error) for name, state, error in items}
    assert states["create-1"] == ("processed", None)
    assert states["create-3"] == ("processed", None) and states["update-4"] == ("processed", None)
    assert states["create-2"][0] == "rejected" and states["create-2"][1].startswith("/purpose")
    assert states["create-5"][0] == "rejected" and "attributedTo" in states["create-5"][1]
    assert states["like-6"] == ("processed", None)
    assert [(o[0].rsplit("/", 1)[1], o[1], float(o[2])) for o in offers] == [
        ("p1", "Offering used bike", 30.0), ("p3", "Renamed bike", 30.0)]
    # Alice says she is a member of a network: its members collection is to be read
    # once, so the guarantee of her offers can be checked
    assert [(kind, json.loads(p) if isinstance(p, str) else p) for kind, p in jobs] == [
        ("network.members", {"network": NETWORK})]


CATEGORY = "https://w3id.org/ssefed/category/"


def _stored_rows(path) -> dict:
    """What a node's SQLite file holds after received offers (ids and times left out, but
    the storage class of every value kept: the raw path must store what SQLAlchemy does)."""
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        def rows(sql: str) -> list:
            return [tuple((v, type(v).__name__) for v in r) for r in conn.execute(sql)]

        offer_columns = [r[1] for r in conn.execute("PRAGMA table_info(offers)")
                         if r[1] not in ("id", "ap_id", "published_at", "updated_at", "deleted_at")]
        return {
            "offers": rows(f"SELECT ap_id, {', '.join(offer_columns)}, deleted_at IS NULL, "
                           "length(published_at), length(updated_at) FROM offers ORDER BY ap_id"),
            "inputs": rows("SELECT o.ap_id, i.category, i.position FROM offer_inputs i "
                           "JOIN offers o ON o.id = i.offer_id ORDER BY o.ap_id, i.position"),
            "objects": rows("SELECT ap_id, type, attributed_to, ap_json, deleted_at IS NULL, "
                            "length(received_at), length(updated_at) FROM remote_objects "
                            "ORDER BY ap_id"),
            "items": rows("SELECT ap_id, state, error FROM inbox_items ORDER BY ap_id"),
            "jobs": rows("SELECT kind, payload, dedupe_key, state, attempts, "
                         "length(run_at), locked_until, last_error FROM jobs ORDER BY id"),
        }
    finally:
        conn.close()


def test_the_sqlite_direct_path_stores_what_the_session_path_stores(databases, tmp_path,
                                                                   monkeypatch):
    """The same batches of received activities applied on SQLite through the driver
    (one thread hop) and through sessions give the same rows, value for value."""
    import pytest

    from ssefed.db.session import Database

    if databases.backend != "sqlite":
        pytest.skip("the direct path is SQLite's")

    batches = [
        [_create(1, _offer(1, inputCategories=[f"{CATEGORY}wheat", f"{CATEGORY}flour"])),
         _create(2, _offer(2)),
         _create(3, _offer(3, purpose="sell")),  # fails the schema: nothing stored
         _create(4, _offer(4, attributedTo="https://elsewhere.example/users/bob"))],
        [_create(5, _offer(1, name="Renamed bike", inputCategories=[f"{CATEGORY}bread"]),
                 "Update"),
         _create(6, _offer(2, name="Same again")),  # a Create of a stored offer: refreshed
         _create(7, _offer(7, validUntil="2031-01-31")),
         {"id": "https://market.example/activities/delete-8", "type": "Delete",
          "actor": ALICE, "object": "https://market.example/proposals/p2"}],
    ]

    def apply(name: str, direct: bool) -> dict:
        url = f"sqlite:///{tmp_path / name}.sqlite3"
        config = load_config(tmp_path / "none.toml", env={
            "SSEFED_DATABASE_URL": url, "SSEFED_NODE_BASE_URL": "http://127.0.0.1:9",
            "SSEFED_NODE_DATA_DIR": str(tmp_path)})

        async def run() -> None:
            db = open_database(config)
            await migrate.upgrade(db)
            fed = Federation(config, db)
            try:
                async with db.write() as s:
                    await remote_repo.upsert_actor(
                        s, ap_id=ALICE, domain="market.example", handle="alice",
                        type_="Person", name="Alice", summary="", inbox=f"{ALICE}/inbox",
                        shared_inbox=None, manually_approves=False,
                        ap_json={"id": ALICE, "memberOf": NETWORK}, fetched_at=utcnow(),
                        keys=[])
                for docs in batches:
                    ids = await inbox_repo.store_batch(db, [
                        {"ap_id": d["id"], "type": d["type"], "actor_ap_id": ALICE,
                         "key_id": None, "ap_json": d} for d in docs])
                    assert await process_batch(Handlers(fed), [
                        {"item": i} for i in ids.values()]) == [None] * len(docs)
                assert (db._raw_thread is not None) == direct  # the path meant was taken
            finally:
                await fed.close()
                await db.dispose()

        with monkeypatch.context() as m:
            if not direct:
                m.setattr(Database, "has_direct_writes", property(lambda self: False))
            asyncio.run(run())
        return _stored_rows(tmp_path / f"{name}.sqlite3")

    by_sessions, direct = apply("sessions", False), apply("direct", True)
    assert direct == by_sessions
    # and what both stored is what was sent
    assert [(o[0][0].rsplit("/", 1)[1], o[-3][0]) for o in direct["offers"]] == [
        ("p1", 1), ("p2", 0), ("p7", 1)]  # p2 deleted
    assert [(i[0][0].rsplit("/", 1)[1], i[1][0]) for i in direct["inputs"]] == [
        ("p1", f"{CATEGORY}bread")]
    states = {i[0][0].rsplit("/", 1)[1]: i[1][0] for i in direct["items"]}
    assert states == {"create-1": "processed", "create-2": "processed", "create-3": "rejected",
                      "create-4": "rejected", "update-5": "processed", "create-6": "processed",
                      "create-7": "processed", "delete-8": "processed"}
    assert [j[0][0] for j in direct["jobs"]] == (["inbox.process"] * 4 + ["network.members"]
                                                 + ["inbox.process"] * 4)
