"""Following other actors, and answering follow requests, for local actors."""

from __future__ import annotations

from ssefed.db.base import utcnow
from ssefed.db.models import Actor, Follow
from ssefed.db.repos import follows as follow_repo
from ssefed.domain import outbox
from ssefed.domain.errors import Conflict, NotFound
from ssefed.federation.handlers import send_accept
from ssefed.federation.service import Federation
from ssefed.vocab import to_as


async def resolve(fed: Federation, target: str) -> Actor:
    """An actor from ``acct:user@domain``, ``user@domain``, ``@user@domain`` or its URL."""
    iri = target if target.startswith(("https://", "http://")) else await fed.webfinger(target)
    return await fed.actor(iri, refresh=True)


async def follow(fed: Federation, local: Actor, target: Actor) -> Follow:
    """Record a pending follow and queue the Follow activity to the target's inbox."""
    if target.local:
        raise Conflict("following an actor of this same node is not needed")
    if not target.inbox:
        raise Conflict(f"{target.ap_id} has no inbox")
    async with fed.db.write() as s:
        existing = await follow_repo.get(s, local.id, target.id)
        if existing is not None and existing.state == "accepted":
            return existing
        doc = to_as.activity(local.ap_id, "Follow", target.ap_id, to=[target.ap_id],
                             published=utcnow())
        if existing is None:
            existing = await follow_repo.add(s, Follow(ap_id=doc["id"], follower_id=local.id,
                                                       followed_id=target.id, state="pending"))
        else:
            existing.ap_id, existing.state = doc["id"], "pending"
        await outbox.publish(s, local, doc, inboxes=[target.inbox], public=False)
        return existing


async def unfollow(fed: Federation, local: Actor, target: Actor) -> None:
    async with fed.db.write() as s:
        existing = await follow_repo.get(s, local.id, target.id)
        if existing is None:
            raise NotFound(f"@{local.handle} does not follow {target.ap_id}")
        inner = {"id": existing.ap_id, "type": "Follow", "actor": local.ap_id,
                 "object": target.ap_id}
        doc = to_as.activity(local.ap_id, "Undo", inner, to=[target.ap_id], published=utcnow())
        await s.delete(existing)
        if target.inbox:
            await outbox.publish(s, local, doc, inboxes=[target.inbox], public=False)


async def answer_request(fed: Federation, local: Actor, follower: Actor, accept: bool) -> None:
    """Accept or reject a pending follow request of ``follower`` to ``local``."""
    async with fed.db.write() as s:
        existing = await follow_repo.get(s, follower.id, local.id)
        if existing is None or existing.state != "pending":
            raise NotFound(f"no pending follow request from {follower.ap_id}")
        existing.state = "accepted" if accept else "rejected"
        follow_json = {"id": existing.ap_id, "type": "Follow", "actor": follower.ap_id,
                       "object": local.ap_id}
        await send_accept(s, local, follower, follow_json, "Accept" if accept else "Reject")
        if not accept:
            await s.delete(existing)
