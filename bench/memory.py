"""Memory of a node: idle (just started, its own network and nothing else) and holding
100,000 organisations with 300,000 offers (the data of bench/search.py) after it has
answered a few searches and directory pages, on SQLite and PostgreSQL.

    .venv/bin/python bench/memory.py [--db sqlite|postgresql|both] [--orgs 100000]
                                     [--offers 300000]

Memory is the proportional set size (PSS, from /proc/PID/smaps_rollup) of the node's
process and its children (the signing and SPARQL processes), so that pages the children
share with their parent count once; the resident set (RSS) of the main process is printed
beside it. The floor, measured in the same run: a bare Python process that has imported
what the node imports (ssefed.app), before it opens anything.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import search as search_bench
from common import DEFAULT_PG, Node, PgDatabases, Scratch, log, print_header, print_table

QUERIES = ["/api/search?q=housing", "/api/search?near=51.5,-0.12&radius_km=30",
           "/api/search?near=53.48,-2.24&radius_km=50&q=food&type=organisation",
           "/api/search?type=offer&category=bread", "/search?q=community",
           "/search?near=55.95,-3.19&radius_km=20"]


def _kib(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def memory_mb(pid: int) -> tuple[float, float]:
    """(PSS of the process and all its descendants, RSS of the process) in MB."""
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        todo += common.child_pids(p)
    pss = sum(_kib(Path(f"/proc/{p}/smaps_rollup"), "Pss") for p in pids)
    return pss / 1024, _kib(Path(f"/proc/{pid}/status"), "VmRSS") / 1024


def floor_mb() -> float:
    """PSS of a bare Python process that has imported the node's code."""
    out = subprocess.run([common.PYTHON, "-c", "import ssefed.app, pathlib, os; print(sum("
                          "int(l.split()[1]) for l in pathlib.Path('/proc/self/smaps_rollup')"
                          ".read_text().splitlines() if l.startswith('Pss:')))"],
                         capture_output=True, text=True, check=True,
                         env={**os.environ, **common.CHILD_ENV})
    return int(out.stdout.strip()) / 1024


async def settle(node: Node) -> tuple[float, float]:
    await asyncio.sleep(3)  # let start-up work (workers' first passes) finish
    return memory_mb(node.pid)


async def ask(node: Node) -> float:
    """Run every query once; the seconds taken by all of them."""
    start = time.perf_counter()
    for q in QUERIES:
        url = node.base_url + q
        status = await asyncio.to_thread(_get, url)
        if status != 200:
            raise RuntimeError(f"{q}: HTTP {status}")
    return time.perf_counter() - start


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=600) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


async def run_db(kind: str, database_url: str, scratch: Scratch, args) -> list[list[str]]:
    from ssefed.db.session import Database

    node = Node(scratch.path / kind, database_url)
    await node.init()
    await node.start()
    try:
        await ask(node)
        idle_pss, idle_rss = await settle(node)
        log(f"{kind}: idle node {idle_pss:.0f} MB PSS ({idle_rss:.0f} MB RSS)")
    finally:
        await node.stop()
    log(f"{kind}: filling {args.orgs:,} organisations and {args.offers:,} offers")
    search_bench.N_ORGS, search_bench.N_OFFERS = args.orgs, args.offers
    db = Database(node.sqlalchemy_url())
    try:
        await search_bench.fill(db, random.Random(7))
    finally:
        await db.dispose()
    await node.start(timeout=300)
    try:
        first = await ask(node)
        again = await ask(node)
        full_pss, full_rss = await settle(node)
        log(f"{kind}: holding the data {full_pss:.0f} MB PSS ({full_rss:.0f} MB RSS); queries "
            f"{first:.1f} s the first time, {again:.2f} s again")
    finally:
        await node.stop()
    per = (full_pss - idle_pss) / (args.orgs + args.offers) * 100_000
    return [[kind, f"{idle_pss:.0f} MB ({idle_rss:.0f})", f"{full_pss:.0f} MB ({full_rss:.0f})",
             f"{per:.1f} MB", f"{first:.1f} s / {again:.2f} s"]]


async def main(args) -> int:
    print_header("Memory of a node: idle, and holding the search bench's data")
    floor = floor_mb()
    log(f"floor: a bare Python process with ssefed.app imported: {floor:.0f} MB PSS")
    scratch = Scratch(args.keep)
    pg = PgDatabases(args.pg)
    rows = []
    try:
        for kind in (["sqlite", "postgresql"] if args.db == "both" else [args.db]):
            url = "" if kind == "sqlite" else await pg.create("memory")
            rows += await run_db(kind, url, scratch, args)
    finally:
        await pg.drop_all()
        scratch.cleanup()
    print_table(rows, ["database", "idle PSS (RSS)", f"{args.orgs:,} orgs + {args.offers:,} "
                       "offers PSS (RSS)", "per 100,000 entries", "queries first / again"])
    print(f"floor (bare process with ssefed.app imported): {floor:.0f} MB PSS; idle is "
          f"{rows[0][1].split()[0]} MB, {float(rows[0][1].split()[0]) / floor:.1f} x the floor")
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    p.add_argument("--orgs", type=int, default=100_000)
    p.add_argument("--offers", type=int, default=300_000)
    p.add_argument("--pg", default=DEFAULT_PG, help="admin URL of PostgreSQL")
    p.add_argument("--keep", action="store_true", help="keep the scratch directory")
    sys.exit(asyncio.run(main(p.parse_args())))
