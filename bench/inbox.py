#!/usr/bin/env python
"""Inbox throughput of one ssefed node, with its bound measured in the same run.

    .venv/bin/python bench/inbox.py [--db sqlite|postgresql|both] [--activities 5000]
        [--actors 50] [--concurrency 32] [--worker-concurrency 1] [--bound-repeats 3]
        [--drain SECONDS] [--node-env KEY=VALUE] [--profile] [--timeout 1800]

Measured: signed activities accepted per second (signature verified, parsed, deduplicated
by id, stored in inbox_items with its job, answered 202) by one real node process
(`ssefed init` + `ssefed serve`), driven by a separate load process.

Bound: a bare aiohttp server process, one handler that reads the same bodies, json.loads
them and inserts one row (no verification): SQLite in WAL mode with synchronous=NORMAL
via aiosqlite (as the node), or PostgreSQL via asyncpg. Same load process, same bodies,
same concurrency; it runs --bound-repeats times (a fresh table each) and its median rate
is used, since one run lasts under a second. Target: measured >= 50 % of the bound.

The load process (`bench/inbox.py _load`) serves N fake remote actors (Person, RSA 2048
key) from its own aiohttp server on 127.0.0.1, builds M distinct Create(Note) activities
(unique ids, spread round-robin over the actors), and for each target signs them all
(draft-cavage, rsa-sha256, `(request-target) host date digest`, fresh Date) into complete
HTTP/1.1 requests *before* the clock starts. It then writes them over `--concurrency`
keep-alive connections (one request in flight per connection, a minimal HTTP/1.1 client
on asyncio streams so the load generator costs as little CPU as possible) and counts the
statuses. Before each timed run it sends one other activity per actor (warm-up, not
timed): the node fetches every actor's key once there.

Also printed, to explain the figures: CPU time per request of the server, the load
process and (PostgreSQL) the database server processes, how busy the whole box was,
PostgreSQL's own counters per request, the node's job queue after the run (--drain: how
fast its worker then applies the queued activities), and with --profile a py-spy summary
of the node (BENCH_PY_SPY_ARGS adds py-spy options, e.g. --native).

Each run gets fresh databases (a SQLite file in a temporary directory, or a database made
with CREATE DATABASE on PostgreSQL, dropped at the end); processes are stopped at the end
and the whole run is bounded by --timeout. Nothing is written in the repository.
"""

from __future__ import annotations

import sys

sys.dont_write_bytecode = True

import argparse
import asyncio
import collections
import json
import os
import time
import uuid

import common
from common import log

SCRIPT = os.path.abspath(__file__)
AS2 = "application/activity+json"
AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
SEC_CONTEXT = "https://w3id.org/security/v1"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
TARGET_RATIO = 0.5


# =======================================================================================
# load process: fake actors, pre-signed requests, a minimal keep-alive HTTP client
# =======================================================================================

def note_activity(actor: str, n: int, published: str) -> dict:
    """A Create(Note) as Mastodon sends it (about 1.3 kB), unique ids."""
    sid = uuid.uuid4().hex
    note_id = f"{actor}/statuses/{sid}"
    text = (f"Bench note {n}: la coopérative propose des paniers de légumes bio, du pain "
            f"au levain et des ateliers de réparation de vélos chaque samedi matin. "
            f"Contact et commandes sur place ou par message. #ess #circuitcourt {sid}")
    return {
        "@context": [AS_CONTEXT, SEC_CONTEXT, {"sensitive": "as:sensitive",
                                                 "toot": "http://joinmastodon.org/ns#"}],
        "id": f"{note_id}/activity",
        "type": "Create",
        "actor": actor,
        "published": published,
        "to": [PUBLIC],
        "cc": [f"{actor}/followers"],
        "object": {
            "id": note_id,
            "type": "Note",
            "summary": None,
            "inReplyTo": None,
            "published": published,
            "url": f"{actor}/statuses/{sid}/html",
            "attributedTo": actor,
            "to": [PUBLIC],
            "cc": [f"{actor}/followers"],
            "sensitive": False,
            "content": f"<p>{text}</p>",
            "contentMap": {"fr": f"<p>{text}</p>"},
            "attachment": [],
            "tag": [],
        },
    }


class Load:
    def __init__(self, n_actors: int, n_activities: int) -> None:
        from ssefed.domain import keys as keygen

        self.gets = 0
        self.port = common.free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        t = time.perf_counter()
        self.actors = []
        for i in range(n_actors):
            pair = keygen.generate("rsa")
            actor_id = f"{self.base}/users/a{i}"
            self.actors.append({"id": actor_id, "key_id": f"{actor_id}#main-key",
                                "private_pem": pair.private_pem, "public_pem": pair.public_pem,
                                "name": f"a{i}"})
        common.progress(f"load: {n_actors} RSA-2048 actors made in "
                        f"{time.perf_counter() - t:.1f} s")
        published = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

        def body(i: int, a: dict) -> tuple[dict, bytes]:
            return a, json.dumps(note_activity(a["id"], i, published),
                                 separators=(",", ":"), ensure_ascii=False).encode()

        self.warm_bodies = [body(-1 - i, a) for i, a in enumerate(self.actors)]
        self.bodies = [body(i, self.actors[i % n_actors]) for i in range(n_activities)]
        self.body_bytes = sum(len(b) for _, b in self.bodies) / max(1, len(self.bodies))

    async def start_server(self) -> None:
        from aiohttp import web

        docs = {f"/users/{a['name']}": {
            "@context": [AS_CONTEXT, SEC_CONTEXT], "id": a["id"], "type": "Person",
            "preferredUsername": a["name"], "name": a["name"].upper(),
            "inbox": f"{a['id']}/inbox", "outbox": f"{a['id']}/outbox",
            "followers": f"{a['id']}/followers",
            "endpoints": {"sharedInbox": f"{self.base}/inbox"},
            "publicKey": {"id": a["key_id"], "owner": a["id"], "publicKeyPem": a["public_pem"]},
        } for a in self.actors}

        async def get(request: web.Request) -> web.Response:
            self.gets += 1
            doc = docs.get(request.path)
            if doc is None:
                return web.Response(status=404)
            return web.Response(text=json.dumps(doc), content_type=AS2)

        app = web.Application()
        app.router.add_get("/{tail:.*}", get)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()

    @staticmethod
    def sign_all(url: str, items: list[tuple[dict, bytes]]) -> list[bytes]:
        """Complete HTTP/1.1 requests, signed now (draft-cavage, as ssefed signs)."""
        from urllib.parse import urlsplit

        from ssefed.federation import httpsig

        parts = urlsplit(url)
        out = []
        for actor, body in items:
            hdrs = httpsig.sign_cavage("POST", url, {"Content-Type": AS2}, body,
                                       actor["key_id"], actor["private_pem"])
            head = (f"POST {parts.path} HTTP/1.1\r\n"
                    f"Host: {hdrs['Host']}\r\n"
                    f"User-Agent: ssefed-bench-load\r\n"
                    f"Accept: */*\r\n"
                    f"Content-Type: {AS2}\r\n"
                    f"Content-Length: {len(body)}\r\n"
                    f"Date: {hdrs['Date']}\r\n"
                    f"Digest: {hdrs['Digest']}\r\n"
                    f"Signature: {hdrs['Signature']}\r\n\r\n")
            out.append(head.encode("latin-1") + body)
        return out

    @staticmethod
    async def blast(url: str, requests: list[bytes], concurrency: int) -> dict:
        """Send ``requests`` over ``concurrency`` keep-alive connections; time and statuses."""
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
        statuses: collections.Counter = collections.Counter()
        samples: list[str] = []
        todo = iter(range(len(requests)))
        latencies: list[float] = []

        async def connect():
            return await asyncio.open_connection(host, port)

        async def one(reader, writer, raw: bytes):
            t = time.perf_counter()
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            low = head.lower()
            i = low.find(b"\r\ncontent-length:")
            if i < 0:
                raise RuntimeError(f"response without Content-Length: {head[:200]!r}")
            length = int(low[i + 17:low.find(b"\r\n", i + 2)].strip())
            body = await reader.readexactly(length)
            latencies.append(time.perf_counter() - t)
            return status, body, b"\r\nconnection: close" in low

        conns = [await connect() for _ in range(concurrency)]

        async def worker(conn) -> None:
            reader, writer = conn
            for i in todo:
                status, body, close = await one(reader, writer, requests[i])
                statuses[status] += 1
                if status != 202 and len(samples) < 5:
                    samples.append(f"{status} {body[:300].decode(errors='replace')}")
                if close:
                    writer.close()
                    reader, writer = await connect()
            writer.close()

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(c) for c in conns))
        elapsed = time.perf_counter() - t0
        latencies.sort()

        def pct(p: float) -> float:
            return latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else 0

        return {"elapsed": elapsed, "statuses": {str(k): v for k, v in statuses.items()},
                "samples": samples, "p50_ms": 1000 * pct(0.5), "p99_ms": 1000 * pct(0.99)}

    async def warm(self, url: str, concurrency: int) -> dict:
        reqs = self.sign_all(url, self.warm_bodies)
        before = self.gets
        result = await self.blast(url, reqs, min(concurrency, len(reqs)))
        result["actor_fetches"] = self.gets - before
        return result

    async def prepare(self, url: str) -> dict:
        t = time.perf_counter()
        self.prepared = (url, self.sign_all(url, self.bodies))
        signing = time.perf_counter() - t
        common.progress(f"load: {len(self.bodies)} requests signed for {url} in {signing:.1f} s")
        return {"signing_seconds": signing}

    async def run(self, url: str, concurrency: int) -> dict:
        prepared_url, reqs = self.prepared
        assert prepared_url == url
        before = self.gets
        result = await self.blast(url, reqs, concurrency)
        result["actor_fetches"] = self.gets - before
        result["sent"] = len(reqs)
        return result


async def load_main(argv: list[str]) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--actors", type=int, required=True)
    p.add_argument("--activities", type=int, required=True)
    a = p.parse_args(argv)
    load = Load(a.actors, a.activities)
    await load.start_server()
    await common.helper_loop({"warm": load.warm, "prepare": load.prepare, "run": load.run},
                             {"port": load.port, "body_bytes": load.body_bytes})


# =======================================================================================
# bound server: read, json.loads, insert one row; nothing else
# =======================================================================================

async def bound_main(argv: list[str]) -> None:
    from aiohttp import web

    p = argparse.ArgumentParser()
    p.add_argument("--sqlite")
    p.add_argument("--pg")
    p.add_argument("--pool", type=int, default=10)
    a = p.parse_args(argv)
    if a.sqlite:
        import aiosqlite

        db = await aiosqlite.connect(a.sqlite, isolation_level=None)  # autocommit: 1 txn/row
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute("PRAGMA busy_timeout=15000")
        async def reset() -> dict:
            await db.execute("DROP TABLE IF EXISTS items")
            await db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, ap_id TEXT NOT NULL "
                             "UNIQUE, doc TEXT NOT NULL)")
            await db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return {}

        async def insert(ap_id: str, body: str) -> None:
            await db.execute("INSERT INTO items (ap_id, doc) VALUES (?, ?) "
                             "ON CONFLICT (ap_id) DO NOTHING", (ap_id, body))

        async def count() -> dict:
            async with db.execute("SELECT count(*) FROM items") as cur:
                return {"rows": (await cur.fetchone())[0]}
    else:
        import asyncpg

        pool = await asyncpg.create_pool(a.pg, min_size=min(5, a.pool), max_size=a.pool)
        async def reset() -> dict:
            await pool.execute("DROP TABLE IF EXISTS items")
            await pool.execute("CREATE TABLE items (id bigserial PRIMARY KEY, ap_id text "
                               "NOT NULL UNIQUE, doc jsonb NOT NULL)")
            return {}

        async def insert(ap_id: str, body: str) -> None:
            await pool.execute("INSERT INTO items (ap_id, doc) VALUES ($1, $2::jsonb) "
                               "ON CONFLICT (ap_id) DO NOTHING", ap_id, body)

        async def count() -> dict:
            return {"rows": await pool.fetchval("SELECT count(*) FROM items")}

    async def inbox(request: web.Request) -> web.Response:
        body = await request.read()
        doc = json.loads(body)
        await insert(str(doc["id"]), body.decode())
        return web.json_response({"status": "accepted"}, status=202)

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post("/inbox", inbox)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = common.free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await reset()
    await common.helper_loop({"count": count, "reset": reset}, {"port": port})
    await runner.cleanup()


# =======================================================================================
# orchestrator
# =======================================================================================

def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    p.add_argument("--activities", type=int, default=5000,
                   help="signed activities in each timed run (default 5000)")
    p.add_argument("--actors", type=int, default=50,
                   help="fake remote actors the activities come from (default 50)")
    p.add_argument("--concurrency", type=int, default=32,
                   help="requests in flight, for the node and the bound (default 32)")
    p.add_argument("--worker-concurrency", type=int, default=1,
                   help="SSEFED_WORKER_CONCURRENCY of the node: the jobs that apply the "
                        "received activities run at the same time (default 1)")
    p.add_argument("--node-env", action="append", default=[], metavar="KEY=VALUE",
                   help="extra environment of the node (for experiments), repeatable")
    p.add_argument("--bound-repeats", type=int, default=3,
                   help="timed runs of the bound (fresh table each); its median is used")
    p.add_argument("--pg-url", default=common.DEFAULT_PG,
                   help="PostgreSQL admin URL; fresh databases are created beside it")
    p.add_argument("--timeout", type=float, default=1800, help="bound on the whole run, s")
    p.add_argument("--drain", type=float, default=0, metavar="SECONDS",
                   help="after the timed run, wait up to SECONDS for the node's worker to "
                        "apply the queued activities and report its rate (default: skip)")
    p.add_argument("--profile", action="store_true",
                   help="py-spy record (raw) the node during its timed run; print a summary")
    p.add_argument("--keep", action="store_true", help="keep the scratch directory")
    return p.parse_args()


async def node_counts(url: str) -> tuple[int, dict[str, int]]:
    """inbox_items stored, and the jobs that apply received activities (``inbox.process``)
    by state, read from the node's database; periodic jobs (reminders) are always pending
    and are not counted."""
    from sqlalchemy import text

    from ssefed.db.session import Database

    db = Database(url)
    try:
        async with db.read() as s:
            items = int(await s.scalar(text("SELECT count(*) FROM inbox_items")))
            jobs = {st: n for st, n in await s.execute(
                text("SELECT state, count(*) FROM jobs WHERE kind = 'inbox.process' "
                     "GROUP BY state"))}
            return items, jobs
    finally:
        await db.dispose()


def pg_text(d: dict[str, int] | None, m: int) -> str:
    if not d:
        return ""
    return (f"PostgreSQL statistics of the node's database over the timed run (+2 s), per "
            f"accepted "
            f"activity: {d['xact_commit'] / m:.1f} commits, {d['xact_rollback'] / m:.1f} "
            f"rollbacks, {d['tup_inserted'] / m:.1f} rows inserted, {d['tup_updated'] / m:.1f} "
            f"updated, {d['tup_fetched'] / m:.1f} fetched")


async def drain_jobs(node: common.Node, dbkind: str, limit: float) -> dict:
    """After the load: how fast the node's worker applies the queued activities (the
    side effects run from jobs, never in the inbox request)."""
    t0 = time.perf_counter()
    _, jobs = await node_counts(node.sqlalchemy_url())
    left0 = jobs.get("pending", 0) + jobs.get("running", 0)
    left = left0
    while left and time.perf_counter() - t0 < limit:
        await asyncio.sleep(0.5)
        _, jobs = await node_counts(node.sqlalchemy_url())
        left = jobs.get("pending", 0) + jobs.get("running", 0)
    took = time.perf_counter() - t0
    rate = (left0 - left) / took if took else 0.0
    log(f"[{dbkind}] after the load: {left0 - left} of {left0} queued jobs applied in "
        f"{took:.1f} s = {rate:.0f} jobs/s ({left} left; jobs now {jobs})")
    return {"queued": left0, "applied": left0 - left, "seconds": took, "rate": rate}


def ok_count(result: dict) -> int:
    return int(result["statuses"].get("202", 0))


def median(values: list[float]) -> float:
    v = sorted(values)
    return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2


async def run_bound(dbkind: str, args: argparse.Namespace, scratch: common.Scratch,
                    pg: common.PgDatabases, load: common.Helper) -> dict:
    """The bare handler, --bound-repeats timed runs (a fresh table each), median rate."""
    m = args.activities
    if dbkind == "sqlite":
        bound = common.Helper(SCRIPT, "_bound", "--sqlite", str(scratch.path / "bound.sqlite3"))
    else:
        bound = common.Helper(SCRIPT, "_bound", "--pg", await pg.create("inbound"))
    runs = []
    try:
        ready = await bound.start(60)
        url = f"http://127.0.0.1:{ready['port']}/inbox"
        log(f"[{dbkind}] bound server pid {bound.pid} on {url}: warm-up")
        await load.call(120, cmd="warm", url=url, concurrency=args.concurrency)
        await load.call(300, cmd="prepare", url=url)
        for i in range(args.bound_repeats):
            await bound.call(60, cmd="reset")
            meter = common.CpuMeter(dbkind == "postgresql", server=bound.pid,
                                    load=load.pid).start()
            r = await load.call(args.timeout, cmd="run", url=url, concurrency=args.concurrency)
            r["cpu"] = meter.stop()
            rows = (await bound.call(30, cmd="count"))["rows"]
            r["rate"] = ok_count(r) / r["elapsed"]
            log(f"[{dbkind}] bound run {i + 1}/{args.bound_repeats}: {ok_count(r)}/{m} answered "
                f"202 in {r['elapsed']:.2f} s = {r['rate']:.0f}/s (p50 {r['p50_ms']:.1f} ms, "
                f"p99 {r['p99_ms']:.1f} ms); rows stored {rows}")
            log(f"[{dbkind}]   CPU: {common.cpu_text(r['cpu'], m)}")
            if ok_count(r) != m or rows != m:
                raise RuntimeError(f"bound: {r['statuses']} {r['samples']}, rows {rows}")
            runs.append(r)
    finally:
        await bound.stop()
    return {"runs": runs, "rate": median([r["rate"] for r in runs])}


async def run_node(dbkind: str, args: argparse.Namespace, scratch: common.Scratch,
                   pg: common.PgDatabases, load: common.Helper) -> dict:
    m = args.activities
    node_db = "" if dbkind == "sqlite" else await pg.create("node")
    # inbox rate limits raised: 5,000 activities in about a second from one host
    env = {"SSEFED_WORKER_CONCURRENCY": str(args.worker_concurrency), **common.NO_INBOX_LIMITS}
    env.update(dict(kv.split("=", 1) for kv in args.node_env))
    node = common.Node(scratch.path / f"node-{dbkind}", node_db, env=env)
    out: dict = {}
    try:
        log(f"[{dbkind}] node: ssefed init")
        await node.init()
        await node.start()
        url = f"{node.base_url}/inbox"
        log(f"[{dbkind}] node pid {node.pid} on {node.base_url}, env "
            + " ".join(f"{k}={v}" for k, v in env.items()) + ": warm-up, one activity per actor")
        w = await load.call(300, cmd="warm", url=url, concurrency=args.concurrency)
        if ok_count(w) != args.actors:
            raise RuntimeError(f"node warm-up: {w['statuses']} {w['samples']}\n{node.log_tail()}")
        log(f"[{dbkind}] node warm-up done: {w['actor_fetches']} actor documents fetched")
        await load.call(300, cmd="prepare", url=url)
        await asyncio.sleep(1.0)  # let the warm-up's jobs run before the clock starts
        prof = None
        if args.profile:
            prof = await common.py_spy_record(node.pid, scratch.path / f"inbox-{dbkind}.raw")
        pg0 = await pg.stats(node_db) if dbkind == "postgresql" else {}
        log(f"[{dbkind}] node: timed run of {m} activities, {args.concurrency} connections")
        meter = common.CpuMeter(dbkind == "postgresql", server=node.pid, load=load.pid).start()
        r = await load.call(args.timeout, cmd="run", url=url, concurrency=args.concurrency)
        r["cpu"] = meter.stop()
        await common.py_spy_stop(prof)
        stored, jobs = await node_counts(node.sqlalchemy_url())
        r["rate"] = ok_count(r) / r["elapsed"]
        log(f"[{dbkind}] node: {ok_count(r)}/{m} answered 202 in {r['elapsed']:.2f} s "
            f"= {r['rate']:.0f}/s (p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms); "
            f"inbox_items {stored} (expected {args.actors} warm-up + {m}); actor fetches "
            f"during the run: {r['actor_fetches']}; jobs right after the run: {jobs}")
        log(f"[{dbkind}]   CPU: {common.cpu_text(r['cpu'], m)}")
        if ok_count(r) != m or stored != m + args.actors:
            raise RuntimeError(f"node: {r['statuses']} {r['samples']}, stored {stored}\n"
                               f"{node.log_tail()}")
        out = {"runs": [r], "rate": r["rate"], "jobs": jobs}
        if dbkind == "postgresql":
            # Backends flush their counters within about a second of going idle; the
            # worker keeps running meanwhile, so this is approximate (+2 s of jobs).
            await asyncio.sleep(2.0)
            after = await pg.stats(node_db)
            out["pg"] = {k: after[k] - pg0.get(k, 0) for k in after}
            log(f"[{dbkind}]   {pg_text(out['pg'], m)}")
        if args.drain:
            out["drain"] = await drain_jobs(node, dbkind, args.drain)
        if prof is not None:
            summary = common.summarise_raw_profile(
                scratch.path / f"inbox-{dbkind}.raw",
                prefixes=("ssefed", "sqlalchemy", "aiosqlite", "asyncpg", "aiohttp/web"))
            out["profile"] = summary
            log(f"[{dbkind}] py-spy profile of the node during the timed run:\n{summary}")
    finally:
        await node.stop()
    return out


async def bench_one(dbkind: str, args: argparse.Namespace, scratch: common.Scratch,
                    pg: common.PgDatabases, load: common.Helper) -> dict:
    bound = await run_bound(dbkind, args, scratch, pg, load)
    node = await run_node(dbkind, args, scratch, pg, load)
    return {"db": dbkind, "bound": bound, "node": node, "bound_rate": bound["rate"],
            "node_rate": node["rate"], "ratio": node["rate"] / bound["rate"]}


async def main() -> int:
    args = parse_args()
    return await common.run_bounded(bench(args), args.timeout)


async def bench(args: argparse.Namespace) -> int:
    info = common.print_header("ssefed inbox benchmark")
    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    pg = common.PgDatabases(args.pg_url)
    if "postgresql" in dbs:
        print(f"   postgresql: {await common.pg_server_version(args.pg_url)} "
              f"at {args.pg_url.rpartition('@')[2]}")
    print(f"   activities {args.activities}, actors {args.actors}, concurrency "
          f"{args.concurrency}, node worker concurrency {args.worker_concurrency}", flush=True)
    scratch = common.Scratch(args.keep)
    results = []
    load = common.Helper(SCRIPT, "_load", "--actors", str(args.actors),
                         "--activities", str(args.activities))
    try:
        ready = await load.start(600)
        log(f"load process pid {load.pid}: actors served on 127.0.0.1:{ready['port']}, "
            f"{args.activities} activities of {ready['body_bytes']:.0f} bytes on average")
        for dbkind in dbs:
            results.append(await bench_one(dbkind, args, scratch, pg, load))
    finally:
        await load.stop()
        await pg.drop_all()
        scratch.cleanup()
    print()
    print(f"== results ({info['date']}, nproc={os.cpu_count()})")
    rows = [[r["db"], f"{r['node_rate']:.0f}/s", f"{r['bound_rate']:.0f}/s",
             f"{100 * r['ratio']:.0f} %", "≥ 50 %",
             "met" if r["ratio"] >= TARGET_RATIO else "NOT met"] for r in results]
    common.print_table(rows, ["db", "node: accepted/s", "bound: rows/s", "ratio",
                              "target", "verdict"])
    return 0 if all(r["ratio"] >= TARGET_RATIO for r in results) else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_load":
        asyncio.run(load_main(sys.argv[2:]))
    elif len(sys.argv) > 1 and sys.argv[1] == "_bound":
        asyncio.run(bound_main(sys.argv[2:]))
    else:
        sys.exit(asyncio.run(main()))
