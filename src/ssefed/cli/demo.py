"""ssefed demo: load the demo network (fictional organisations of a mountain region)."""

from __future__ import annotations

import argparse
import sys

from ssefed.cli.common import CommandError
from ssefed.cli.common import command, config_from, on_database
from ssefed.db.repos import actors as actor_repo
from ssefed.domain.demo import load_demo
from ssefed.vocab.ids import LocalIds


def register(sub: argparse._SubParsersAction) -> None:
    command(sub, "demo", run, help="load the demo network's organisations, offers and demands")


def _progress(done: int, total: int) -> None:
    if sys.stderr.isatty():
        print(f"\rloading demo organisations: {done}/{total}", end="" if done < total else "\n",
              file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    config = config_from(args)

    async def load(db):
        async with db.read() as s:
            if await actor_repo.get_network(s) is None:
                raise CommandError("this node has no network actor yet: run `ssefed init`")
        return await load_demo(db, LocalIds(config.node.base_url), config.node.domain,
                               progress=_progress)

    result = on_database(config, load)
    print(f"demo loaded: {result.organisations_created} organisation(s) and "
          f"{result.offers_created} offer(s)/demand(s) added, "
          f"{result.organisations_existing} organisation(s) already there")
    return 0
