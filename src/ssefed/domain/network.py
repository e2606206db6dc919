"""The network's own actor: created once by ``ssefed init``."""

from __future__ import annotations

from ssefed.db.models import Actor
from ssefed.db.repos import actors as actor_repo
from ssefed.db.session import Database
from ssefed.domain.actors import check_handle, ensure_keys
from ssefed.vocab.ids import LocalIds

# Group: Mastodon shows a Group as a followable account with its posts and boosts, and
# labels it "Group"; a Service is labelled as an automated account, which a network is not.
NETWORK_ACTOR_TYPE = "Group"


async def create_network_actor(db: Database, ids: LocalIds, domain: str, handle: str,
                               name: str, summary: str = "") -> tuple[Actor, bool]:
    """Create the network's actor with its key pairs; return (actor, created).

    Idempotent: when the node already has its network actor, nothing changes.
    """
    check_handle(handle)
    async with db.write() as s:
        existing = await actor_repo.get_network(s)
        if existing is None:
            actor = await actor_repo.add(s, Actor(
                ap_id=ids.actor(handle), local=True, is_network=True, domain=domain,
                handle=handle, type=NETWORK_ACTOR_TYPE, name=name, summary=summary))
            created = True
        else:
            actor, created = existing, False
    await ensure_keys(db, ids, actor.id)
    return actor, created
