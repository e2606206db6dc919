"""ssefed token create|list|revoke: bearer tokens with which an organisation publishes."""

from __future__ import annotations

import argparse

from ssefed.cli.common import CommandError
from ssefed.cli.common import command, config_from, in_actor_session, in_session, verbs
from ssefed.domain import tokens


def register(sub: argparse._SubParsersAction) -> None:
    token = verbs(sub, "token", help="bearer tokens of an organisation (client-to-server posts)")
    c = command(token, "create", run_create, "handle", help="create a token (shown once)")
    c.add_argument("--label", default="")
    command(token, "list", run_list, "handle", help="list an organisation's tokens")
    r = command(token, "revoke", run_revoke, help="revoke a token by its number")
    r.add_argument("id", type=int)


def run_create(args: argparse.Namespace) -> int:
    config = config_from(args)

    async def create(s, actor) -> tuple[int, str]:
        row, token = await tokens.create(s, actor, args.label)
        return row.id, token

    token_id, token = in_actor_session(config, args.handle, create, write=True)
    print(f"token {token_id} of @{args.handle} (keep it secret; it is not shown again):")
    print(token)
    return 0


def run_list(args: argparse.Namespace) -> int:
    rows = in_actor_session(config_from(args), args.handle, tokens.list_for)
    for t in rows:
        state = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "active"
        used = f"last used {t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never used"
        print(f"{t.id}\t{t.label}\tcreated {t.created_at:%Y-%m-%d}\t{used}\t{state}")
    print(f"{len(rows)} token(s)")
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    if not in_session(config_from(args), lambda s: tokens.revoke(s, args.id), write=True):
        raise CommandError(f"no active token {args.id}")
    print(f"revoked token {args.id}")
    return 0
