"""Supply chain queries: p50/p95 latency of a 4-link chain query answered from a node's
own federated graph, and with a live fan-out across three nodes, against the unit of
one indexed lookup of offers by category measured in the same run.

Three real nodes (`ssefed serve`), each holding 100,000 offers across 1,000 categories
(chains of 4 categories: c4g <- c4g+1 <- c4g+2 <- c4g+3) published by 1,000 validated
member organisations; plus a small chain spread over the three nodes (fan/0 on A, fan/1
on B, fan/2 and fan/3 on C; A follows B's network, B follows C's), that A can only answer
by asking B, then C (named by B).

    .venv/bin/python bench/chains.py [--db sqlite|postgresql|both] [--queries 200]

Targets: local p95 < 100 ms and under 20 lookups' worth; with fan-out p95 < 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from common import (DEFAULT_PG, NO_INBOX_LIMITS, Node, PgDatabases, Scratch, log,
                    print_header, print_table)

CATS = "https://bench.ssefed.example/cat/"
FAN = "https://bench.ssefed.example/fan/"
N_CATEGORIES = 1_000
N_OFFERS = 100_000
N_ORGS = 1_000


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def fill(node: Node, name: str, fan: list[tuple[str, str | None]],
               follows: str | None) -> None:
    """Bulk rows straight into the node's database (before it serves): organisations,
    offers and their inputs, and the follow of another node's network."""
    from sqlalchemy import insert, select, text

    from ssefed.db.models import Actor, Follow, Offer, OfferInput, Organisation
    from ssefed.db.session import Database

    rng = random.Random(name)
    db = Database(node.sqlalchemy_url())
    now = datetime.now(timezone.utc)
    until = date.today() + timedelta(days=365)
    host = f"127.0.0.1:{node.port}"
    try:
        async with db.write() as s:
            network_id = await s.scalar(select(Actor.id).where(Actor.is_network.is_(True)))
            first = (await s.scalar(select(Actor.id).order_by(Actor.id.desc()))) + 1
            actors, orgs = [], []
            for i in range(N_ORGS):
                ap = f"{node.base_url}/actors/org{i}"
                actors.append(dict(id=first + i, ap_id=ap, local=True, is_network=False,
                                   domain=host, handle=f"org{i}", type="Organization",
                                   name=f"Coopérative {name} {i}", summary="",
                                   manually_approves_followers=False, created_at=now,
                                   updated_at=now))
                orgs.append(dict(actor_id=first + i, sectors=[], qualifiers=[],
                                 lat=45 + rng.uniform(-1, 1), lon=5 + rng.uniform(-1, 1),
                                 address="", locality="", postal_code="", country="FR",
                                 activities=[], contact_public=True, claimed=True,
                                 validation_status="validated", valid_until=until,
                                 source="bench"))
            await s.execute(insert(Actor), actors)
            await s.execute(insert(Organisation), orgs)
            offers, inputs = [], []
            plan = [(CATS + str(i % N_CATEGORIES),
                     CATS + str(i % N_CATEGORIES + 1) if i % N_CATEGORIES % 4 != 3 else None)
                    for i in range(N_OFFERS)] + fan * 10
            for i, (category, needs) in enumerate(plan, start=1):
                owner = orgs[rng.randrange(N_ORGS)]
                offers.append(dict(id=i, ap_id=f"{node.base_url}/offers/{uuid.uuid4()}",
                                   actor_id=owner["actor_id"], local=True, direction="offer",
                                   kind="product", role="transformation" if needs else
                                   "production", exchange="sale", category=category,
                                   title=f"Offre {i}", summary="", lat=owner["lat"],
                                   lon=owner["lon"], published_at=now, updated_at=now))
                if needs:
                    inputs.append(dict(offer_id=i, category=needs, position=0))
                if len(offers) >= 5_000:
                    await s.execute(insert(Offer), offers)
                    await s.execute(insert(OfferInput), [x for x in inputs
                                                         if x["offer_id"] <= i])
                    offers, inputs = [], []
            if offers:
                await s.execute(insert(Offer), offers)
            if inputs:
                await s.execute(insert(OfferInput), inputs)
            if follows:
                remote = Actor(id=first + N_ORGS, ap_id=f"{follows}/actors/network", local=False,
                               is_network=False, domain=follows.split("://")[1],
                               handle="network", type="Group", name="peer",
                               inbox=f"{follows}/actors/network/inbox",
                               shared_inbox=f"{follows}/inbox")
                s.add(remote)
                await s.flush()
                s.add(Follow(ap_id=f"{node.base_url}/follows/{uuid.uuid4()}",
                             follower_id=network_id, followed_id=remote.id, state="accepted"))
            if s.bind.dialect.name == "postgresql":  # explicit ids: move the sequences on
                for table in ("actors", "offers"):
                    await s.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', "
                                         f"'id'), (SELECT max(id) FROM {table}))"))
        # the planner's statistics, as autovacuum (PostgreSQL) or the importer (both) leave
        # them after a bulk load: without them, plans over these tables are guesses
        async with db.write() as s:
            await s.execute(text("ANALYZE"))
    finally:
        await db.dispose()


async def lookup_unit(node: Node, n: int) -> list[float]:
    """One indexed lookup of offers by category, as the chain search makes it."""
    from sqlalchemy import select

    from ssefed.db.models import Offer
    from ssefed.db.session import Database

    db = Database(node.sqlalchemy_url())
    times = []
    try:
        for _ in range(n):
            category = CATS + str(random.randrange(N_CATEGORIES))
            t = time.perf_counter()
            async with db.read() as s:
                rows = (await s.execute(
                    select(Offer.id, Offer.ap_id, Offer.lat, Offer.lon, Offer.role)
                    .where(Offer.category == category, Offer.direction == "offer",
                           Offer.deleted_at.is_(None)).limit(50))).all()
            times.append(time.perf_counter() - t)
            assert rows
    finally:
        await db.dispose()
    return times


async def projections_loaded(nodes: list[Node]) -> float:
    """Wait until each node's search projection holds its 100,000 offers (its first
    search answers once it is loaded), so that chains are timed on nodes at rest, not
    beside that load; return how long it took."""
    import aiohttp

    t = time.perf_counter()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=900)) as http:
        for node in nodes:
            async with http.get(f"{node.base_url}/api/search", params={"limit": "1"}) as r:
                assert r.status == 200, await r.text()
    return time.perf_counter() - t


async def query_times(node: Node, categories: list[str], hops: int) -> tuple[list[float], dict]:
    import aiohttp

    times, last = [], {}
    async with aiohttp.ClientSession() as http:
        for category in categories:
            t = time.perf_counter()
            async with http.get(f"{node.base_url}/api/chains",
                                params={"category": category, "max_hops": str(hops)}) as r:
                last = await r.json()
                assert r.status == 200, last
            times.append(time.perf_counter() - t)
    return times, last


async def run_db(kind: str, args: argparse.Namespace, scratch: Scratch,
                 pg: PgDatabases | None) -> list[list[str]]:
    nodes = []
    for name in ("a", "b", "c"):
        url = await pg.create(f"chains_{name}") if pg else ""
        nodes.append(Node(scratch.path / f"{kind}-{name}", url,
                          env={"SSEFED_LOG_ACCESS_LOG": "false",
                               # the bench asks far more than a real peer would
                               "SSEFED_CHAINS_PEER_REQUESTS_PER_MINUTE": "1000000",
                               # ... and its nodes send each other thousands of offers
                               **NO_INBOX_LIMITS}))
    a, b, c = nodes
    try:
        for node in nodes:
            await node.init()
        log(f"{kind}: filling 3 × {N_OFFERS:,} offers")
        t = time.perf_counter()
        await fill(a, "a", [(FAN + "0", FAN + "1")], follows=b.base_url)
        await fill(b, "b", [(FAN + "1", FAN + "2")], follows=c.base_url)
        await fill(c, "c", [(FAN + "2", FAN + "3"), (FAN + "3", None)], follows=None)
        log(f"{kind}: filled in {time.perf_counter() - t:.1f} s; starting the nodes")
        for node in nodes:
            await node.start()
        loaded = await projections_loaded(nodes)
        log(f"{kind}: the nodes' search projections loaded in {loaded:.1f} s after their start")
        unit = await lookup_unit(a, args.queries)
        groups = [CATS + str(4 * random.randrange(N_CATEGORIES // 4)) for _ in range(args.queries)]
        await query_times(a, groups[:10], 4)  # warm-up
        local, answer = await query_times(a, groups, 4)
        assert answer["chains"] and len(answer["chains"][0]["links"]) == 4, answer
        assert not answer["sources"]
        await query_times(a, [FAN + "0"] * 3, 4)  # warm-up: keys, NodeInfo, members
        fan_n = max(20, args.queries // 4)
        fanned, answer = await query_times(a, [FAN + "0"] * fan_n, 4)
        assert answer["chains"] and len(answer["chains"][0]["links"]) == 4, answer
        assert {s["node"] for s in answer["sources"]} == {f"127.0.0.1:{b.port}",
                                                           f"127.0.0.1:{c.port}"}, answer
        memory = ", ".join(f"{n}: {rss_mb(node.pid):.0f} MB" for n, node in zip("abc", nodes))
    finally:
        for node in nodes:
            await node.stop()
    u50 = statistics.median(unit) * 1000
    l50, l95 = pct(local, 50) * 1000, pct(local, 95) * 1000
    f50, f95 = pct(fanned, 50) * 1000, pct(fanned, 95) * 1000
    ok_local = l95 < 100 and l95 / u50 < 20
    log(f"{kind}: local p50 {l50:.1f} ms p95 {l95:.1f} ms; fan-out p50 {f50:.1f} ms "
        f"p95 {f95:.1f} ms; one lookup {u50:.2f} ms; {memory}")
    return [[kind, "local graph, 4 links", str(len(local)), f"{l50:.1f} ms", f"{l95:.1f} ms",
             f"{u50:.2f} ms", f"{l95 / u50:.1f}", "met" if ok_local else "not met", memory],
            [kind, "fan-out A→B→C, 4 links", str(len(fanned)), f"{f50:.1f} ms",
             f"{f95:.1f} ms", f"{u50:.2f} ms", f"{f95 / u50:.1f}",
             "met" if f95 < 1000 else "not met", ""]]


async def main(args: argparse.Namespace) -> int:
    print_header("chain queries: local graph and live fan-out, three nodes × 100,000 offers")
    scratch = Scratch(args.keep)
    pg = PgDatabases(args.pg) if args.db in ("postgresql", "both") else None
    rows: list[list[str]] = []
    try:
        if args.db in ("sqlite", "both"):
            rows += await run_db("SQLite", args, scratch, None)
        if pg is not None:
            rows += await run_db("PostgreSQL", args, scratch, pg)
    finally:
        if pg is not None:
            await pg.drop_all()
        scratch.cleanup()
    print_table(rows, ["db", "query", "n", "p50", "p95", "unit: 1 lookup (p50)",
                       "p95 / unit", "target", "node memory (RSS)"])
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--pg", default=DEFAULT_PG, help="admin URL of the PostgreSQL server")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    sys.exit(asyncio.run(common.run_bounded(main(args), args.timeout)))
