"""ssefed token create|list|revoke: bearer tokens with which an organisation publishes."""

from __future__ import annotations

import argparse

from ssefed.cli.common import CommandError
from ssefed.cli.common import config_from, in_session, local_actor, on_database
from ssefed.domain import tokens


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("token", help="bearer tokens of an organisation (client-to-server posts)")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    c = verbs.add_parser("create", help="create a token (shown once)")
    c.add_argument("handle")
    c.add_argument("--label", default="")
    c.set_defaults(func=run_create)
    ls = verbs.add_parser("list", help="list an organisation's tokens")
    ls.add_argument("handle")
    ls.set_defaults(func=run_list)
    r = verbs.add_parser("revoke", help="revoke a token by its number")
    r.add_argument("id", type=int)
    r.set_defaults(func=run_revoke)


def run_create(args: argparse.Namespace) -> int:
    config = config_from(args)

    async def create(db) -> tuple[int, str]:
        actor = await local_actor(db, args.handle)
        async with db.write() as s:
            row, token = await tokens.create(s, actor, args.label)
            return row.id, token

    token_id, token = on_database(config, create)
    print(f"token {token_id} of @{args.handle} (keep it secret; it is not shown again):")
    print(token)
    return 0


def run_list(args: argparse.Namespace) -> int:
    config = config_from(args)

    async def tokens_of(db):
        actor = await local_actor(db, args.handle)
        async with db.read() as s:
            return await tokens.list_for(s, actor)

    rows = on_database(config, tokens_of)
    for t in rows:
        state = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "active"
        used = f"last used {t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never used"
        print(f"{t.id}\t{t.label}\tcreated {t.created_at:%Y-%m-%d}\t{used}\t{state}")
    print(f"{len(rows)} token(s)")
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    config = config_from(args)

    if not in_session(config, lambda s: tokens.revoke(s, args.id), write=True):
        raise CommandError(f"no active token {args.id}")
    print(f"revoked token {args.id}")
    return 0
