"""SPARQL projection build rate: N organisations with one offer each are put in a fresh
database, then projected into an empty on-disk store by ``Projection.sync`` (database
reads, JSON-LD to RDF through pyld with the bundled contexts, store writes). The bound,
in the same run: the very same quads inserted bare into another empty store.

    .venv/bin/python bench/sparql.py --orgs 5000 [--db sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ssefed.config import Config, NodeConfig, async_database_url
from ssefed.db import migrate
from ssefed.db.models import Actor
from ssefed.db.session import Database
from ssefed.domain import offers as offer_domain
from ssefed.domain import organisations as org_domain
from ssefed.graph.projection import Projection
from ssefed.vocab.ids import LocalIds

BASE = "https://ess.example.org"


async def fill(db: Database, n: int) -> None:
    ids = LocalIds(BASE)
    async with db.write() as s:
        s.add(Actor(ap_id=f"{BASE}/actors/network", local=True, is_network=True,
                    domain="ess.example.org", handle="network", type="Group", name="Réseau"))
    for start in range(0, n, 500):
        async with db.write() as s:
            for i in range(start, min(n, start + 500)):
                data = org_domain.OrganisationInput(
                    handle=f"org-{i}", name=f"Coopérative {i}", summary="Une coopérative.",
                    legal_form="cooperative", sectors=["01.11"], lat=45.0 + i / 1e5, lon=5.7,
                    address=f"{i} rue des Lilas", locality="Grenoble", postal_code="38000",
                    country="FR", website=f"https://org-{i}.example")
                actor = await org_domain.create(s, ids, "ess.example.org", data,
                                                make_keys=False)
                await offer_domain.create(s, ids, actor, offer_domain.OfferInput(
                    direction="offer", kind="product", role="production",
                    category="https://w3id.org/ssefed/category/wheat", title=f"Blé {i}",
                    quantity=Decimal("10"), unit="t", price=Decimal("250"), currency="EUR"))


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orgs", type=int, default=2000)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    import pyoxigraph as ox

    tmp = Path(tempfile.mkdtemp(prefix="ssefed-bench-sparql-"))
    if args.db == "sqlite":
        url = f"sqlite:///{tmp / 'bench.sqlite3'}"
    else:
        import asyncpg
        admin = os.environ.get("SSEFED_TEST_DATABASE_URL",
                               "postgresql://postgres@127.0.0.1:5432/test")
        name = f"ssefed_bench_{uuid.uuid4().hex[:8]}"
        conn = await asyncpg.connect(admin)
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        url = admin.rpartition("/")[0] + "/" + name
    db = Database(async_database_url(url, tmp))
    try:
        await migrate.upgrade(db)
        t = time.perf_counter()
        await fill(db, args.orgs)
        print(f"filled {args.orgs} organisations + {args.orgs} offers in "
              f"{time.perf_counter() - t:.1f} s")
        config = Config(node=NodeConfig(base_url=BASE, data_dir=str(tmp / "data")),
                        path=tmp / "ssefed.toml")
        projection = Projection.for_config(config)
        t = time.perf_counter()
        report = await projection.sync(db)
        built = time.perf_counter() - t
        store = ox.Store.read_only(str(projection.store_path))
        quads = list(store)
        del store
        objects = report.projected
        print(f"projection: {objects} objects, {len(quads)} quads in {built:.2f} s = "
              f"{objects / built:,.0f} objects/s, {len(quads) / built:,.0f} quads/s")
        # the bound: the same quads, inserted bare into an empty store, in pages as sync does
        bare = ox.Store(str(tmp / "bare"))
        per_object = max(1, len(quads) // max(1, objects))
        page = 500 * per_object
        t = time.perf_counter()
        for i in range(0, len(quads), page):
            bare.extend(quads[i:i + page])
        bare.flush()
        bound = time.perf_counter() - t
        print(f"bound (bare Store.extend of the same quads, 500 objects a call): {bound:.2f} s "
              f"= {len(quads) / bound:,.0f} quads/s")
        bulk = ox.Store(str(tmp / "bulk"))
        t = time.perf_counter()
        for i in range(0, len(quads), page):
            bulk.bulk_extend(quads[i:i + page])
        bulk.flush()
        bulk_bound = time.perf_counter() - t
        print(f"bound (bare Store.bulk_extend, as a first build writes): {bulk_bound:.2f} s = "
              f"{len(quads) / bulk_bound:,.0f} quads/s")
        print(f"ratio projection/bound: {bulk_bound / built:.1%} of bulk_extend, "
              f"{bound / built:.1%} of extend")
        # and one incremental sync with nothing to do (what every query pays)
        t = time.perf_counter()
        await projection.sync(db)
        print(f"incremental sync with nothing new: {(time.perf_counter() - t) * 1000:.1f} ms")
    finally:
        await db.dispose()
        if args.db == "postgresql":
            import asyncpg
            conn = await asyncpg.connect(admin)
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
