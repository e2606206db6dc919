"""Removing a member organisation: its actor becomes a Tombstone and its followers
receive a Delete."""

from __future__ import annotations

from ssefed.db.base import utcnow
from ssefed.db.models import Actor
from ssefed.db.session import Database
from ssefed.domain import outbox
from ssefed.domain.actors import ensure_keys
from ssefed.domain.errors import Conflict
from ssefed.vocab import to_as
from ssefed.vocab.ids import LocalIds


async def remove_organisation(db: Database, ids: LocalIds, actor: Actor) -> int:
    """Mark the actor deleted and queue Delete(actor) to its followers; return how many
    inboxes will receive it."""
    if actor.is_network:
        raise Conflict("the network's own actor cannot be removed")
    await ensure_keys(db, ids, actor.id)  # it must still sign its Delete
    async with db.write() as s:
        row = await s.get(Actor, actor.id)
        row.deleted_at = utcnow()
        inboxes = await outbox.follower_inboxes(s, row)
        doc = to_as.activity(row.ap_id, "Delete", row.ap_id, to=[to_as.PUBLIC],
                             cc=[f"{row.ap_id}/followers"], published=utcnow())
        await outbox.publish(s, row, doc, inboxes=inboxes)
    return len(inboxes)
