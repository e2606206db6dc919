"""The per-cell counts of the search (search_cells, migration 0016) against a recount
from scratch after inserts, updates that move entries to another cell, sector or type,
deletes (direct and by cascade); and radius searches answered from them against a
brute-force count of the same entries."""

from __future__ import annotations

import random
from datetime import date, datetime, timezone
from pathlib import Path

from sqlalchemy import delete, insert, select, text, update

from ssefed.config import async_database_url
from ssefed.db import migrate
from ssefed.db.models import Actor, SearchEntry, SearchTerm
from ssefed.db.repos import search as search_repo
from ssefed.geo import haversine_km
from ssefed.db.session import Database

RECOUNT = """
SELECT '' AS term, entry_type, cell, coalesce(legal_form, ''), coalesce(kind, ''),
       coalesce(division, ''), count(*)
  FROM search_entries WHERE cell IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6
UNION ALL
SELECT t.term, e.entry_type, e.cell, coalesce(e.legal_form, ''), coalesce(e.kind, ''),
       coalesce(e.division, ''), count(*)
  FROM search_terms t JOIN search_entries e ON e.id = t.entry_id
 WHERE e.cell IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6
"""
CENTRE = (53.48, -2.24)
FORMS = [None, "cooperative", "worker-cooperative"]
KINDS = [None, "product", "service"]
DIVISIONS = [None, "01", "47", "56"]
WORDS = ["bakery", "bread", "farm", "farmers", "food", "housing", "union"]


async def assert_cells_match_a_recount(db: Database) -> None:
    async with db.read() as s:
        kept = {tuple(r[:6]): r[6] for r in await s.execute(text(
            "SELECT term, entry_type, cell, legal_form, kind, division, n FROM search_cells"))}
        recount = {tuple(r[:6]): r[6] for r in await s.execute(text(RECOUNT))}
    assert kept == recount


def entry(rng: random.Random, i: int, actor_id: int) -> tuple[dict, list[str]]:
    lat = CENTRE[0] + rng.uniform(-0.6, 0.6)
    lon = CENTRE[1] + rng.uniform(-0.9, 0.9)
    if i % 17 == 0:
        lat = lon = None  # no position: not counted in cells
    kind = "offer" if i % 3 == 0 else "organisation"
    division = rng.choice(DIVISIONS)
    terms = [f"sector:{division}"] if division else []
    terms += rng.sample(["q:x", "q:y", "cat:z"], rng.randrange(3))
    return ({"ap_id": f"https://t.example/e/{i}", "entry_type": kind, "actor_id": actor_id,
             "offer_id": None, "local": True, "node": "t.example", "name": f"e{i}",
             "summary": "", "words": " ".join(rng.sample(WORDS, 2)), "lat": lat, "lon": lon,
             **search_repo.place_of(lat, lon), "legal_form": rng.choice(FORMS),
             "division": division, "direction": None, "kind": rng.choice(KINDS),
             "market": None, "category": None, "validated": False, "validated_until": None,
             "valid_until": None}, terms)


async def make_actors(db: Database, n: int) -> list[int]:
    now = datetime.now(timezone.utc)
    async with db.write() as s:
        await s.execute(insert(Actor), [dict(
            ap_id=f"https://t.example/a/{i}", local=True, is_network=False, domain="t.example",
            handle=f"a{i}", type="Organization", name=f"a{i}", summary="",
            manually_approves_followers=False, created_at=now, updated_at=now)
            for i in range(n)])
        return list((await s.execute(select(Actor.id).order_by(Actor.id))).scalars())


async def test_search_cells_follow_inserts_updates_and_deletes(databases, tmp_path: Path):
    db = Database(async_database_url(databases.new_url(), tmp_path))
    rng = random.Random(7)
    try:
        await migrate.upgrade(db)
        actors = await make_actors(db, 5)
        entries = [entry(rng, i, actors[i % 5]) for i in range(600)]
        async with db.write() as s:
            await search_repo.replace_entries(s, remove_ap_ids=[], entries=entries)
        await assert_cells_match_a_recount(db)
        async with db.read() as s:
            assert await s.scalar(text("SELECT count(*) FROM search_cells")) > 50

        # an entry moved to another cell, and others changing sector, type, kind
        async with db.write() as s:
            ids = list((await s.execute(select(SearchEntry.id).order_by(SearchEntry.id)))
                       .scalars())
            far = search_repo.place_of(51.5, -0.12)
            await s.execute(update(SearchEntry).where(SearchEntry.id.in_(ids[:40]))
                            .values(lat=51.5, lon=-0.12, **far))
            await s.execute(update(SearchEntry).where(SearchEntry.id.in_(ids[40:80]))
                            .values(division="47", kind="service"))
            await s.execute(update(SearchEntry).where(SearchEntry.id.in_(ids[80:90]))
                            .values(entry_type="offer"))
            await s.execute(update(SearchEntry).where(SearchEntry.id.in_(ids[90:100]))
                            .values(lat=None, lon=None, cell=None, x=None, y=None, z=None))
            await s.execute(update(SearchTerm).where(SearchTerm.entry_id.in_(ids[100:150]),
                                                     SearchTerm.term == "sector:01")
                            .values(term="sector:02"))
        await assert_cells_match_a_recount(db)
        async with db.read() as s:  # the terms followed their entries
            moved = set((await s.execute(select(SearchTerm.cell).where(
                SearchTerm.entry_id.in_(ids[:40])))).scalars())
            assert moved <= {far["cell"]}

        # deletes: some terms, entries replaced by the sync, an actor's by cascade
        async with db.write() as s:
            await s.execute(delete(SearchTerm).where(SearchTerm.entry_id.in_(ids[150:170])))
            await search_repo.replace_entries(
                s, remove_ap_ids=[e["ap_id"] for e, _ in entries[200:300]],
                entries=[entry(rng, i, actors[0]) for i in range(200, 260)])
            await s.execute(delete(Actor).where(Actor.id == actors[1]))
        await assert_cells_match_a_recount(db)

        async with db.write() as s:
            await search_repo.clear(s)
        await assert_cells_match_a_recount(db)
        async with db.read() as s:
            assert await s.scalar(text("SELECT count(*) FROM search_cells")) == 0
    finally:
        await db.dispose()


async def test_radius_searches_from_cells_and_terms_match_a_brute_force_count(databases,
                                                                             tmp_path: Path):
    db = Database(async_database_url(databases.new_url(), tmp_path))
    rng = random.Random(11)
    try:
        await migrate.upgrade(db)
        actors = await make_actors(db, 3)
        entries = [entry(rng, i, actors[i % 3]) for i in range(1500)]
        async with db.write() as s:
            await search_repo.replace_entries(s, remove_ap_ids=[], entries=entries)
        for _ in range(60):
            near = (CENTRE[0] + rng.uniform(-0.3, 0.3), CENTRE[1] + rng.uniform(-0.3, 0.3))
            f = {"near": near, "radius_km": rng.choice([3, 8, 20, 45]), "terms": [],
                 "type": rng.choice([None, "organisation"])}
            if rng.random() < 0.5:
                f["terms"] = [rng.choice(["sector:47", "q:x", "cat:z"])]
            if rng.random() < 0.3:
                f["legal_form"] = "cooperative"
            words = []
            if f["terms"] and rng.random() < 0.5:  # words too: not from the cells
                words = f["words"] = [rng.choice(["bread", "farm", "union", "ho"])]
            assert (search_repo._by_cells(f) is not None) == (not words)
            want = [e for e, terms in entries if e["lat"] is not None
                    and all(any(x.startswith(w) for x in e["words"].split()) for w in words)
                    and haversine_km(*near, e["lat"], e["lon"]) <= f["radius_km"]
                    and (not f["type"] or e["entry_type"] == f["type"])
                    and all(t in terms for t in f["terms"])
                    and (not f.get("legal_form") or e["legal_form"] == f["legal_form"])]
            async with db.read() as s:
                total, rows, facets = await search_repo.search(s, f, limit=10, after=None,
                                                               today=date(2026, 12, 3))
            assert total == len(want), f
            divisions: dict[str, int] = {}
            for e in want:
                if e["division"]:
                    divisions[e["division"]] = divisions.get(e["division"], 0) + 1
            assert facets["sector"] == divisions
            nearest = sorted(want, key=lambda e: haversine_km(
                *near, e["lat"], e["lon"]))[:10]
            assert [r.ap_id for r in rows] == [e["ap_id"] for e in nearest], f
    finally:
        await db.dispose()
