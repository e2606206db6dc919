"""ssefed init: write the config file, create the database and the network's actor."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import secrets
from pathlib import Path

import tomli_w

from ssefed import datadir
from ssefed.cli.common import command, database
from ssefed.config import AdminConfig, Config, NodeConfig, config_to_toml_dict, load_config, validate
from ssefed.db import migrate
from ssefed.domain.actors import check_handle
from ssefed.domain.network import create_network_actor
from ssefed.vocab.ids import LocalIds

HEADER = ("# ssefed node configuration, written by `ssefed init`.\n"
          "# Every key is documented in config.example.toml; each can be overridden by an\n"
          "# environment variable SSEFED_<SECTION>_<KEY>.\n")


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "init", run,
                help="create the config file, the database and the network's actor")
    p.add_argument("--base-url", help="public URL of the node, e.g. https://ess.example.org")
    p.add_argument("--name", help="name of the network, e.g. \"Réseau ESS des Hautes-Vallées\"")
    p.add_argument("--handle", default="network",
                   help="handle of the network's actor (default: network)")


def run(args: argparse.Namespace) -> int:
    path = Path(args.config)
    handle = check_handle(args.handle, "--handle")
    wrote = False
    if not path.exists():
        node = NodeConfig()
        node = dataclasses.replace(node, base_url=args.base_url or node.base_url,
                                   name=args.name or node.name)
        cfg = Config(node=node, admin=AdminConfig(token=secrets.token_urlsafe(32)))
        # Validate before writing anything: a bad --base-url must leave no file behind.
        text = HEADER + tomli_w.dumps(config_to_toml_dict(cfg))
        validate(cfg)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # it holds a secret
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        wrote = True
    config = load_config(path)
    datadir.make_private_dir(config.data_path)
    # What the node creates is its own only: the data directory (700), its database
    # file and journals, the session key (600).
    umask = os.umask(0o077)
    try:
        actor, created = asyncio.run(_init_database(config, handle))
        if wrote or created:
            datadir.session_key(config.data_path)
    finally:
        os.umask(umask)
    if wrote:
        print(f"wrote {path}")
    elif args.base_url and args.base_url.rstrip("/") != config.node.base_url.rstrip("/"):
        print(f"note: {path} exists and says base_url = {config.node.base_url}; "
              "--base-url was not applied")
    if created:
        print(f"created the network actor @{actor.handle}@{config.node.domain} ({actor.ap_id})")
        print(f"node ready: ssefed --config {path} serve")
    else:
        print(f"the node exists already: network actor @{actor.handle}@{config.node.domain} "
              f"({actor.ap_id}); nothing was changed")
    return 0


async def _init_database(config: Config, handle: str):
    async with database(config, require_current=False) as db:
        await migrate.upgrade(db)
        return await create_network_actor(db, LocalIds(config.node.base_url), config.node.domain,
                                          handle, config.node.name)
