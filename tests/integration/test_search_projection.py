"""The search projection on a real database: totals, facets and pages (walked with their
cursors) against a brute-force count over the organisations and offers written; changes
made by another process (an update, a deletion, an organisation that became a network)
seen at the next query."""

from __future__ import annotations

import random
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import insert, update

from ssefed.config import async_database_url
from ssefed.db import migrate
from ssefed.db.models import Actor, Offer, Organisation
from ssefed.db.session import Database
from ssefed.domain.search import parse_search
from ssefed.domain.search_projection import SearchProjection
from ssefed.geo import haversine_km

CENTRE = (53.48, -2.24)
FORMS = ["cooperative", "worker-cooperative", "association"]
SECTORS = ["01.11", "47.11", "56.10", "47.21"]
WORDS = ["bakery", "bread", "farm", "farmers", "food", "housing", "union", "crème"]
CAT = "https://w3id.org/ssefed/category/"


def organisations(rng: random.Random, n: int) -> list[dict]:
    out = []
    for i in range(n):
        placed = i % 13 != 0
        out.append({"i": i, "name": f"{rng.choice(WORDS)} {rng.choice(WORDS)} {i % 40}",
                    "lat": CENTRE[0] + rng.uniform(-0.5, 0.5) if placed else None,
                    "lon": CENTRE[1] + rng.uniform(-0.8, 0.8) if placed else None,
                    "sector": rng.choice(SECTORS + [None]),
                    "legal_form": rng.choice(FORMS), "accessible": i % 3 == 0})
    return out


async def write(db: Database, orgs: list[dict], rng: random.Random) -> list[dict]:
    now = datetime.now(timezone.utc)
    async with db.write() as s:
        await s.execute(insert(Actor), [dict(
            id=o["i"] + 1, ap_id=f"https://t.example/a/{o['i']}", local=True,
            is_network=False, domain="t.example", handle=f"a{o['i']}", type="Organization",
            name=o["name"], summary="", manually_approves_followers=False, created_at=now,
            updated_at=now) for o in orgs])
        await s.execute(insert(Organisation), [dict(
            actor_id=o["i"] + 1, sectors=[o["sector"]] if o["sector"] else [], qualifiers=[],
            lat=o["lat"], lon=o["lon"], address="", locality="Manchester", postal_code="",
            country="GB", activities=[], contact_public=True, claimed=True,
            legal_form=o["legal_form"], accessible_premises=o["accessible"],
            validation_status="unvalidated", source="test",
            updated_at=now) for o in orgs])
        offers = []
        for j in range(2 * len(orgs)):
            o = rng.choice(orgs)
            offers.append(dict(
                id=j + 1, ap_id=f"https://t.example/offers/{j}", actor_id=o["i"] + 1,
                local=True, direction="offer" if j % 3 else "demand",
                kind=rng.choice(["product", "service"]), role="production",
                exchange="sale", category=CAT + rng.choice(["bread", "repair"]),
                title=f"{rng.choice(WORDS)} {j}", summary="", lat=o["lat"], lon=o["lon"],
                published_at=now, updated_at=now))
        await s.execute(insert(Offer), offers)
    return offers


def expected_organisations(orgs: list[dict], *, near=None, radius=None, sector=None,
                           word=None, accessible=None) -> list[dict]:
    out = []
    for o in orgs:
        if accessible is not None and o["accessible"] != accessible:
            continue
        if sector and not (o["sector"] or "").startswith(sector):
            continue
        if word and not any(w.startswith(word) for w in
                            o["name"].replace("è", "e").split()):
            continue
        if near is not None:
            if o["lat"] is None or haversine_km(*near, o["lat"], o["lon"]) > radius:
                continue
        out.append(o)
    return out


async def walk(projection: SearchProjection, params: dict) -> tuple[dict, list[dict]]:
    """The first answer and every item of every page, by following ``next``."""
    first = answer = await projection.search(parse_search(params))
    items = list(answer["items"])
    for _ in range(100):
        if not answer["next"]:
            break
        answer = await projection.search(parse_search({**params, "cursor": answer["next"]}))
        assert answer["total"] == first["total"]
        items += answer["items"]
    return first, items


async def test_projection_totals_facets_and_pages_match_a_brute_force_count(databases,
                                                                          tmp_path: Path):
    db = Database(async_database_url(databases.new_url(), tmp_path))
    rng = random.Random(5)
    try:
        await migrate.upgrade(db)
        orgs = organisations(rng, 400)
        offers = await write(db, orgs, rng)
        projection = SearchProjection(db)
        everything = await projection.search(parse_search({}))
        assert everything["total"] == len(orgs) + len(offers)
        assert everything["facets"]["kind"] == {
            k: sum(1 for o in offers if o["kind"] == k) for k in ("product", "service")}
        # accessible premises: organisations marked so are found, the others not; an offer
        # counts as its publisher's premises
        accessible = {o["i"] + 1 for o in orgs if o["accessible"]}
        _, marked = await walk(projection, {"type": "organisation",
                                            "accessible_premises": "true", "limit": "50"})
        assert {i["id"] for i in marked} == {f"https://t.example/a/{a - 1}" for a in accessible}
        assert all(i["accessible_premises"] is True for i in marked)
        _, unmarked = await walk(projection, {"type": "organisation",
                                              "accessible_premises": "false", "limit": "50"})
        assert len(marked) + len(unmarked) == len(orgs) and not (
            {i["id"] for i in marked} & {i["id"] for i in unmarked})
        offered = sum(1 for o in offers if o["actor_id"] in accessible)
        assert everything["facets"]["accessible_premises"] == {
            True: len(accessible) + offered,
            False: len(orgs) - len(accessible) + len(offers) - offered}
        assert (await projection.search(parse_search(
            {"type": "offer", "accessible_premises": "true"})))["total"] == offered

        for step in range(25):
            near = (CENTRE[0] + rng.uniform(-0.3, 0.3), CENTRE[1] + rng.uniform(-0.3, 0.3))
            radius = rng.choice([3, 10, 25])
            sector = rng.choice([None, "47", "01.11", "A"])
            word = rng.choice([None, "bre", "farm", "creme"])
            accessible = (None, "true", "false")[step % 3]
            params = {"type": "organisation", "near": f"{near[0]},{near[1]}",
                      "radius_km": str(radius), "limit": "7"}
            if sector:
                params["sector"] = sector
            if word:
                params["q"] = word
            if accessible:
                params["accessible_premises"] = accessible
            expected = expected_organisations(
                orgs, near=near, radius=radius,
                sector={"A": "01"}.get(sector, sector), word=word,
                accessible=None if accessible is None else accessible == "true")
            first, items = await walk(projection, params)
            assert first["total"] == len(expected) == len(items)
            assert {i["id"] for i in items} == {f"https://t.example/a/{o['i']}"
                                                for o in expected}
            distances = [i["distance_km"] for i in items]
            assert distances == sorted(distances)
            forms = {f: sum(1 for o in expected if o["legal_form"] == f) for f in FORMS}
            assert first["facets"]["legal_form"] == {f: n for f, n in forms.items() if n}
            marked = {v: sum(1 for o in expected if o["accessible"] is v) for v in (True, False)}
            assert first["facets"]["accessible_premises"] == {v: n for v, n in marked.items() if n}

        # without a place, by name: every page in order, each entry once
        first, items = await walk(projection, {"q": "bread", "limit": "9"})
        names = [(i["name"], i["id"]) for i in items]
        assert len(set(names)) == len(names) == first["total"]
        assert [n for n, _ in names] == sorted(n for n, _ in names)
    finally:
        await db.dispose()


async def test_changes_made_elsewhere_show_at_the_next_query(databases, tmp_path: Path):
    db = Database(async_database_url(databases.new_url(), tmp_path))
    rng = random.Random(9)
    try:
        await migrate.upgrade(db)
        orgs = organisations(rng, 60)
        offers = await write(db, orgs, rng)
        projection = SearchProjection(db, max_age=0)
        assert (await projection.search(parse_search({})))["total"] == 180
        moved, gone, network = orgs[1]["i"] + 1, orgs[2]["i"] + 1, orgs[3]["i"] + 1
        later = datetime.now(timezone.utc)
        # what another process (the CLI, a worker) writes in the same database
        async with db.write() as s:
            await s.execute(update(Actor).where(Actor.id == moved).values(
                name="Zebra wholefoods", updated_at=later))
            await s.execute(update(Organisation).where(Organisation.actor_id == moved)
                            .values(lat=51.5, lon=-0.12, accessible_premises=True,
                                    updated_at=later))
            await s.execute(update(Actor).where(Actor.id == gone).values(
                deleted_at=later, updated_at=later))
            await s.execute(update(Actor).where(Actor.id == network).values(
                is_network=True, updated_at=later))
            await s.execute(update(Offer).where(Offer.id == 1).values(
                title="Zebra crossing paint", updated_at=later))
        found = await projection.search(parse_search({"q": "zebra",
                                                      "type": "organisation"}))
        assert [i["name"] for i in found["items"]] == ["Zebra wholefoods"]
        found = await projection.search(parse_search({"q": "zebra cross"}))
        assert [i["name"] for i in found["items"]] == ["Zebra crossing paint"]
        london = await projection.search(parse_search(
            {"near": "51.5,-0.12", "radius_km": "1"}))
        assert [i["id"] for i in london["items"]] == [f"https://t.example/a/{moved - 1}"]
        assert not orgs[1]["accessible"] and london["items"][0]["accessible_premises"] is True
        lost = {gone, network}
        left = await projection.search(parse_search({"limit": "1"}))
        assert left["total"] == 180 - 2 - sum(1 for o in offers if o["actor_id"] in lost)
        _, items = await walk(projection, {"limit": "100"})
        ids = {i["id"] for i in items}
        assert not ids & {f"https://t.example/a/{a - 1}" for a in lost}
        # a second process's own projection, loaded now, holds the same
        other = SearchProjection(db)
        again = await other.search(parse_search({"limit": "1"}))
        assert (again["total"], again["facets"]) == (left["total"], left["facets"])
    finally:
        await db.dispose()
