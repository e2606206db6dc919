#!/usr/bin/env python
"""Ingestion throughput: organisations + offers imported per second, and remote offers
ingested per second, each against the bound of bare inserts of the same rows measured
in the same run.

    .venv/bin/python bench/ingest.py [--db sqlite|postgresql|both] [--offers-per-org 1]
        [--remote 5000] [--authors 50] [--timeout 1800] [--keep]

Import. A node is made with `ssefed init` (a fresh database: a SQLite file in a
temporary directory, or a PostgreSQL database made with CREATE DATABASE). Then, timed,
in this process and through the same function `ssefed import` calls
(`ssefed.domain.importing.import_csv`, with the progress callback of the CLI):
  1. the real directory `../shared/fixtures/directories/coops-uk-2023-03-standard.csv`
     (7,272 co-operatives, SSE standard CSV: mapping of ESSGlobal IRIs, SIC codes, legal
     forms, positions, validation of every field);
  2. an offers CSV in ssefed's offers template written by this script, --offers-per-org
     offers per imported organisation (categories of the shipped taxonomy, some with
     inputs, quantities, prices), validated as `ssefed offer add` validates, each stored
     with its Create activity (nothing to deliver: no followers).
Rate = (organisations + offers) / (time of 1 + time of 2). A second import of both files
follows (timed, printed; it must change nothing).

Remote offers. M received activities, Create of a FEP-0837 Proposal, made from the
fixtures (`../shared/fixtures/peers/fep0837-proposal-offer-*.json`, `mitra-proposal*.json`
and ssefed's own `schemas/json-schema/examples/offer.valid-*.json`) with unique ids, from
--authors remote actors already known to the node, are stored in inbox_items with their
`inbox.process` jobs as the inbox stores them (not timed: bench/inbox.py measures that).
Timed: the node's worker (the product's Worker with the product's job handlers) applies
them: tolerant reading, JSON Schema check, storage of the offer, its inputs and the
remote object, item marked processed. Rate = M / time until no job is left.

Bound, for each: the rows the product wrote (read back from its database once it is
done: actors + organisations, offers + offer_inputs + activities; or offers +
offer_inputs + remote_objects) inserted again as they are into a second fresh database of
the same schema, by SQLAlchemy Core executemany on the same engine settings, one
statement and one transaction per table; timed --bound-repeats times (3), each in a fresh
database, and the median taken. Target: product rate >= 30 % of the bound rate.

Nothing is written in the repository; the databases made are dropped at the end.
"""

from __future__ import annotations

import sys

sys.dont_write_bytecode = True

import argparse
import asyncio
import csv
import json
import os
import time
from pathlib import Path

import common
from common import log

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
COOPS = SHARED / "fixtures" / "directories" / "coops-uk-2023-03-standard.csv"
PEERS = SHARED / "fixtures" / "peers"
TARGET_RATIO = 0.30
CATEGORIES = [("wheat", []), ("flour", ["wheat"]), ("bread", ["flour"]), ("vegetables", []),
              ("repair", []), ("firewood", [])]


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    p.add_argument("--pg-url", default=os.environ.get("SSEFED_TEST_DATABASE_URL",
                                                      common.DEFAULT_PG))
    p.add_argument("--offers-per-org", type=int, default=1)
    p.add_argument("--remote", type=int, default=5000, help="received offers (activities)")
    p.add_argument("--authors", type=int, default=50, help="remote actors sending them")
    p.add_argument("--bound-repeats", type=int, default=3,
                   help="timed runs of each bound (fresh database each); the median is used")
    p.add_argument("--timeout", type=float, default=1800)
    p.add_argument("--keep", action="store_true", help="keep the scratch directory")
    p.add_argument("--what", choices=("import", "remote", "both"), default="both",
                   help="which figure to measure")
    p.add_argument("--profile", metavar="FILE",
                   help="cProfile the timed part of the product (not the bound) into FILE "
                        "(one file per figure: FILE.<db>-<what>)")
    return p.parse_known_args()[0]


# -- inputs -----------------------------------------------------------------------------

def known_categories() -> list[tuple[str, list[str]]]:
    from ssefed.domain.categories import known_codes

    codes = known_codes()
    chosen = [(c, [i for i in inputs if i in codes]) for c, inputs in CATEGORIES if c in codes]
    return chosen or [(sorted(codes)[0], [])]


def write_offers_csv(path: Path, handles: list[str], per_org: int) -> int:
    cats = known_categories()
    n = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["org", "ref", "direction", "role", "kind", "category", "inputs", "title",
                    "summary", "quantity", "unit", "price", "currency", "exchange",
                    "valid_until"])
        for i, handle in enumerate(handles):
            for k in range(per_org):
                cat, inputs = cats[(i + k) % len(cats)]
                demand = (i + k) % 5 == 4
                w.writerow([handle, f"o{k}", "demand" if demand else "offer",
                            "transformation" if inputs else "production", "product", cat,
                            ";".join(inputs), f"{cat.capitalize()} — lot {i}-{k}",
                            f"Proposé par la coopérative {handle}, livraison locale.",
                            f"{(i % 40) + 1}", "kg", "" if demand else f"{(i % 9) + 1}.50",
                            "" if demand else "EUR", "sale", "2027-06-30"])
                n += 1
    return n


def proposal_templates() -> list[dict]:
    files = (sorted(PEERS.glob("fep0837-proposal-offer-*.json"))
             + sorted(PEERS.glob("mitra-proposal*.json"))
             + sorted((ROOT / "schemas" / "json-schema" / "examples").glob("offer.valid-*.json")))
    return [json.loads(f.read_text()) for f in files]


def remote_activities(m: int, authors: list[str]) -> list[dict]:
    """M Create activities of Proposals with unique ids, round-robin over the authors."""
    from urllib.parse import urlsplit

    out = []
    templates = proposal_templates()
    for n in range(m):
        tpl = templates[n % len(templates)]
        author = authors[n % len(authors)]
        origin = urlsplit(author)._replace(path="").geturl()
        old_id, old_author = tpl["id"], tpl["attributedTo"]
        old_origin = urlsplit(old_author)._replace(path="").geturl()
        new_id = f"{author}/proposals/bench-{n}"
        text = (json.dumps(tpl).replace(old_id, new_id).replace(old_author, author)
                .replace(old_origin, origin))
        obj = json.loads(text)
        obj.pop("@context", None)
        out.append({"@context": tpl.get("@context"), "id": f"{new_id}/create", "type": "Create",
                    "actor": author, "object": obj,
                    "to": ["https://www.w3.org/ns/activitystreams#Public"]})
    return out


# -- helpers ----------------------------------------------------------------------------

async def fresh_url(dbkind: str, label: str, scratch: common.Scratch,
                    pg: common.PgDatabases) -> str:
    if dbkind == "sqlite":
        return ""  # the node's default file (data_dir/ssefed.sqlite3)
    return await pg.create(label)


async def open_node(dbkind: str, label: str, scratch: common.Scratch, pg: common.PgDatabases):
    """`ssefed init` a node; return its Config (loaded here) and Database."""
    from ssefed.config import load_config
    from ssefed.db.session import open_database

    node = common.Node(scratch.path / label, await fresh_url(dbkind, label, scratch, pg))
    await node.init()
    env = dict(os.environ)
    env.update(node.full_env())
    config = load_config(node.config, env=env)
    return config, open_database(config)


async def bound_db(dbkind: str, label: str, scratch: common.Scratch, pg: common.PgDatabases):
    """A second fresh database with the same schema (alembic upgrade head)."""
    from ssefed.config import async_database_url
    from ssefed.db import migrate
    from ssefed.db.session import Database

    if dbkind == "sqlite":
        url = async_database_url("", scratch.path / label)
    else:
        url = async_database_url(await pg.create(label), scratch.path)
    db = Database(url)
    await migrate.upgrade(db)
    return db


async def read_rows(db, table, where=None) -> list[dict]:
    from sqlalchemy import select

    q = select(table)
    if where is not None:
        q = q.where(where)
    async with db.read() as s:
        return [dict(r._mapping) for r in await s.execute(q.order_by(*table.primary_key))]


async def insert_bound(db, tables: list[tuple]) -> tuple[float, float]:
    """Insert the rows again with Core executemany, all the rows of a table in one
    statement and one transaction (fewer commits than the product makes: a bound on the
    high side); return the seconds it took (wall clock, CPU of this process)."""
    from sqlalchemy import insert

    t0, c0 = time.perf_counter(), time.process_time()
    for table, rows in tables:
        if rows:
            async with db.write() as s:
                conn = await s.connection()
                await conn.execute(insert(table), rows)
    return time.perf_counter() - t0, time.process_time() - c0


async def median_bound(dbkind: str, what: str, scratch: common.Scratch, pg: common.PgDatabases,
                       tables: list[tuple], untimed: list[tuple], args: argparse.Namespace
                       ) -> tuple[float, float]:
    """The bound, timed ``--bound-repeats`` times (a fresh database each: one short run
    swings by ±30 % on a shared box); the run of median time (wall clock, CPU)."""
    runs = []
    for k in range(args.bound_repeats):
        bdb = await bound_db(dbkind, f"{what}-bound-{dbkind}-{k}", scratch, pg)
        try:
            if untimed:
                await insert_bound(bdb, untimed)
            runs.append(await insert_bound(bdb, tables))
        finally:
            await bdb.dispose()
    runs.sort()
    log(f"[{dbkind}] {what} bound runs: " + ", ".join(f"{t:.2f} s" for t, _ in runs))
    return runs[len(runs) // 2]


# -- the two measurements -----------------------------------------------------------------

async def bench_import(dbkind: str, args: argparse.Namespace, scratch: common.Scratch,
                       pg: common.PgDatabases) -> dict:
    from sqlalchemy import func, select

    from ssefed.db.models import Activity, Actor, Delivery, Offer, OfferInput, Organisation
    from ssefed.domain.importing import import_csv
    from ssefed.vocab.ids import LocalIds

    from ssefed.cli.importing import Progress

    config, db = await open_node(dbkind, f"import-{dbkind}", scratch, pg)
    ids, domain = LocalIds(config.node.base_url), config.node.domain
    try:
        log(f"[{dbkind}] import: {COOPS.name}")
        t0, c0 = time.perf_counter(), time.process_time()
        orgs = await import_csv(db, ids, domain, COOPS, progress=Progress())
        t_orgs = time.perf_counter() - t0
        log(f"[{dbkind}]   {orgs.created} organisations created, {len(orgs.errors)} refused, "
            f"{orgs.with_position} with a position, in {t_orgs:.2f} s")
        async with db.read() as s:
            handles = list(await s.scalars(
                select(Actor.handle).join(Organisation, Organisation.actor_id == Actor.id)
                .where(Organisation.source == "import").order_by(Actor.id)))
        offers_csv = scratch.path / f"offers-{dbkind}.csv"
        n_offers = write_offers_csv(offers_csv, handles, args.offers_per_org)
        t_offers = 0.0
        offers = None
        if n_offers:
            log(f"[{dbkind}] import: {n_offers} offers (offers template)")
            t0 = time.perf_counter()
            offers = await import_csv(db, ids, domain, offers_csv, progress=Progress())
            t_offers = time.perf_counter() - t0
            log(f"[{dbkind}]   {offers.created} offers created, {len(offers.errors)} refused, "
                f"in {t_offers:.2f} s")
        cpu = time.process_time() - c0
        t0 = time.perf_counter()
        again = await import_csv(db, ids, domain, COOPS)
        again_offers = await import_csv(db, ids, domain, offers_csv) if n_offers else None
        t_again = time.perf_counter() - t0
        async with db.read() as s:
            counts = {m.__tablename__: int(await s.scalar(select(func.count()).select_from(m)))
                      for m in (Organisation, Offer, Activity, Delivery)}
        ok = (orgs.created == 7272 and not orgs.errors and again.unchanged == 7272
              and again.created == again.updated == 0 and counts["organisations"] == 7272
              and counts["offers"] == n_offers and counts["deliveries"] == 0
              and (offers is None or (offers.created == n_offers and not offers.errors
                                      and again_offers.unchanged == n_offers)))
        log(f"[{dbkind}]   re-import of both files: {again.unchanged} + "
            f"{again_offers.unchanged if again_offers else 0} unchanged, "
            f"{again.created + again.updated} changed, in {t_again:.2f} s; tables {counts}")
        if not ok:
            raise RuntimeError(f"import did not give what it should: {orgs} {offers} {again} "
                               f"{again_offers} {counts}")
        imported = Organisation.__table__.c.source == "import"
        org_rows = await read_rows(db, Organisation.__table__, imported)
        actor_ids = {r["actor_id"] for r in org_rows}
        actor_rows = [r for r in await read_rows(db, Actor.__table__) if r["id"] in actor_ids]
        tables = [(Actor.__table__, actor_rows), (Organisation.__table__, org_rows),
                  (Offer.__table__, await read_rows(db, Offer.__table__)),
                  (OfferInput.__table__, await read_rows(db, OfferInput.__table__)),
                  (Activity.__table__, await read_rows(db, Activity.__table__))]
    finally:
        await db.dispose()
    t_bound, cpu_bound = await median_bound(dbkind, "import", scratch, pg, tables, [], args)
    n = 7272 + n_offers
    rate, bound = n / (t_orgs + t_offers), n / t_bound
    log(f"[{dbkind}] import: {n} rows (organisations + offers) in {t_orgs + t_offers:.2f} s = "
        f"{rate:.0f}/s ({1e6 * cpu / n:.0f} µs of CPU per row in this process); bound: {sum(len(r) for _, r in tables)} table rows "
        f"({', '.join(f'{t.name} {len(r)}' for t, r in tables)}) in {t_bound:.2f} s = "
        f"{bound:.0f} organisations+offers/s ({1e6 * cpu_bound / n:.0f} µs of CPU per row)")
    return {"rate": rate, "bound": bound, "n": n, "t": t_orgs + t_offers, "t_bound": t_bound}


async def bench_remote(dbkind: str, args: argparse.Namespace, scratch: common.Scratch,
                       pg: common.PgDatabases) -> dict:
    from sqlalchemy import func, select

    from ssefed.app import batch_job_handlers, job_handlers
    from ssefed.db.base import utcnow
    from ssefed.db.models import InboxItem, Job, Offer, OfferInput, RemoteObject
    from ssefed.db.repos import inbox as inbox_repo
    from ssefed.db.repos import remote as remote_repo
    from ssefed.federation.handlers import Handlers
    from ssefed.federation.service import Federation
    from ssefed.worker.runner import Worker

    config, db = await open_node(dbkind, f"remote-{dbkind}", scratch, pg)
    fed = Federation(config, db)
    m = args.remote
    try:
        authors = [f"https://peer{k}.bench.invalid/users/coop{k}" for k in range(args.authors)]
        async with db.write() as s:
            for a in authors:
                host = a.split("/")[2]
                await remote_repo.upsert_actor(
                    s, ap_id=a, domain=host, handle=a.rsplit("/", 1)[1], type_="Organization",
                    name=a, summary="", inbox=f"{a}/inbox", shared_inbox=f"https://{host}/inbox",
                    manually_approves=False, ap_json={"id": a, "type": "Organization"},
                    fetched_at=utcnow(), keys=[])
        docs = remote_activities(m, authors)
        for i in range(0, m, 256):  # as the inbox stores them (group commit of 256)
            await inbox_repo.store_batch(db, [
                {"ap_id": d["id"], "type": "Create", "actor_ap_id": d["actor"],
                 "key_id": f"{d['actor']}#main-key", "document": json.dumps(d)}
                for d in docs[i:i + 256]])
        log(f"[{dbkind}] remote: {m} Create(Proposal) stored in the inbox from {len(authors)} "
            f"actors ({len(proposal_templates())} fixture shapes); worker concurrency "
            f"{config.worker.concurrency}")
        handlers = Handlers(fed)
        worker = Worker(db, job_handlers(db, fed.ids, handlers),
                        concurrency=config.worker.concurrency,
                        poll_interval=config.worker.poll_interval_seconds,
                        lock_seconds=config.worker.lock_seconds,
                        batch_handlers=batch_job_handlers(handlers))
        started, c0 = utcnow(), time.process_time()
        profiler = start_profile(args)
        worker.start()
        while True:  # the end is read from the jobs themselves: polling costs little
            await asyncio.sleep(0.2)
            async with db.read() as s:
                left = int(await s.scalar(select(func.count()).select_from(Job)
                                          .where(Job.state.in_(("pending", "running")))))
            if not left:
                break
        stop_profile(profiler, args, f"{dbkind}-remote")
        cpu = time.process_time() - c0
        async with db.read() as s:
            ended = await s.scalar(select(func.max(Job.updated_at)))
        elapsed = (ended - started).total_seconds()
        await worker.stop(5)
        async with db.read() as s:
            states = dict((await s.execute(select(InboxItem.state, func.count())
                                           .group_by(InboxItem.state))).all())
            remote_offers = int(await s.scalar(select(func.count()).select_from(Offer)
                                               .where(Offer.local.is_(False))))
        log(f"[{dbkind}] remote: applied in {elapsed:.2f} s = {m / elapsed:.0f}/s "
            f"({1e6 * cpu / m:.0f} µs of CPU per offer in this process); inbox items "
            f"{states}, remote offers stored {remote_offers}")
        if states.get("processed") != m or remote_offers != m:
            raise RuntimeError(f"remote: {states}, {remote_offers} offers")
        tables = [(Offer.__table__, await read_rows(db, Offer.__table__)),
                  (OfferInput.__table__, await read_rows(db, OfferInput.__table__)),
                  (RemoteObject.__table__, await read_rows(db, RemoteObject.__table__))]
        from ssefed.db.models import Actor

        author_rows = [r for r in await read_rows(db, Actor.__table__) if r["ap_id"] in authors]
    finally:
        await fed.close()
        await db.dispose()
    t_bound, cpu_bound = await median_bound(dbkind, "remote", scratch, pg, tables,
                                            [(Actor.__table__, author_rows)], args)
    rate, bound = m / elapsed, m / t_bound
    log(f"[{dbkind}] remote bound: {sum(len(r) for _, r in tables)} table rows "
        f"({', '.join(f'{t.name} {len(r)}' for t, r in tables)}) in {t_bound:.2f} s = "
        f"{bound:.0f} offers/s ({1e6 * cpu_bound / m:.0f} µs of CPU per offer)")
    return {"rate": rate, "bound": bound, "n": m, "t": elapsed, "t_bound": t_bound}


def start_profile(args: argparse.Namespace):
    """A running cProfile.Profile when --profile is given (else None)."""
    if not args.profile:
        return None
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    return profiler


def stop_profile(profiler, args: argparse.Namespace, label: str) -> None:
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(f"{args.profile}.{label}")
        log(f"profile written to {args.profile}.{label}")


async def bench(args: argparse.Namespace) -> int:
    info = common.print_header("ssefed ingest benchmark")
    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    pg = common.PgDatabases(args.pg_url)
    if "postgresql" in dbs:
        print(f"   postgresql: {await common.pg_server_version(args.pg_url)} "
              f"at {args.pg_url.rpartition('@')[2]}")
    print(f"   organisations: {COOPS.name}, offers per organisation {args.offers_per_org}, "
          f"remote offers {args.remote} from {args.authors} actors", flush=True)
    scratch = common.Scratch(args.keep)
    rows = []
    ok = True
    try:
        for dbkind in dbs:
            for what, fn in (("import orgs+offers", bench_import),
                             ("remote offers", bench_remote)):
                if args.what != "both" and not what.startswith(args.what):
                    continue
                r = await fn(dbkind, args, scratch, pg)
                ratio = r["rate"] / r["bound"]
                ok = ok and ratio >= TARGET_RATIO
                rows.append([dbkind, what, str(r["n"]), f"{r['t']:.2f} s", f"{r['rate']:,.0f}/s",
                             f"{r['bound']:,.0f}/s", f"{100 * ratio:.0f} %", "≥ 30 %",
                             "met" if ratio >= TARGET_RATIO else "NOT met"])
    finally:
        await pg.drop_all()
        scratch.cleanup()
    print()
    print(f"== results ({info['date']}, nproc={os.cpu_count()})")
    common.print_table(rows, ["db", "what", "rows", "time", "product", "bound", "ratio",
                              "target", "verdict"])
    return 0 if ok else 1


async def main() -> int:
    args = parse_args()
    return await common.run_bounded(bench(args), args.timeout)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
