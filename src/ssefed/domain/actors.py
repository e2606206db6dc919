"""Local actors: the network's own and its member organisations, and their keys."""

from __future__ import annotations

import asyncio
import re

from ssefed.db.models import Actor, ActorKey
from ssefed.db.repos import actors as actor_repo
from ssefed.db.session import Database
from ssefed.domain import keys
from ssefed.domain.errors import InvalidInput
from ssefed.vocab.ids import LocalIds

HANDLE = re.compile(r"^[a-z0-9_][a-z0-9_.-]{0,62}$")


def check_handle(handle: str, field: str = "handle") -> str:
    handle = handle.strip()
    if not HANDLE.match(handle):
        raise InvalidInput(field, "use 1 to 63 lowercase letters, digits, '_', '-' or '.', "
                                  f"starting with a letter or digit (got {handle!r})")
    return handle


async def ensure_keys(db: Database, ids: LocalIds, actor_id: int) -> list[ActorKey]:
    """Give a local actor its RSA and Ed25519 key pairs if it lacks them.

    Generation (tens of ms for RSA) runs in a thread, outside the write transaction.
    """
    async with db.read() as s:
        actor = await s.get(Actor, actor_id)
        if actor is None or not actor.local:
            return []
        have = {k.kind for k in await actor_repo.keys_of(s, actor_id)}
        ap_id = actor.ap_id
    missing = [k for k in keys.KINDS if k not in have]
    if not missing:
        async with db.read() as s:
            return await actor_repo.keys_of(s, actor_id)
    pairs = [await asyncio.to_thread(keys.generate, kind) for kind in missing]
    async with db.write() as s:
        for pair in pairs:  # another worker may have made them meanwhile: the first wins
            await actor_repo.add_key_once(s, actor_id=actor_id, kind=pair.kind,
                                          key_id=ids.key(ap_id, pair.kind),
                                          public_pem=pair.public_pem,
                                          private_pem=pair.private_pem)
    async with db.read() as s:
        return await actor_repo.keys_of(s, actor_id)
