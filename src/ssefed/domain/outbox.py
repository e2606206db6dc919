"""Outbound activities: build, then store the activity and its delivery jobs in one
transaction; workers deliver them (delivery.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from ssefed.db.base import utcnow
from ssefed.db.models import Activity, Actor
from ssefed.db.repos import activities as activity_repo
from ssefed.db.repos import follows as follow_repo
from ssefed.vocab import to_as

PUBLISHED = "ssefed.published"  # session.info: what the transaction publishes


@dataclass(frozen=True)
class Published:
    """An activity stored with its deliveries. Once its transaction commits, this
    process's deliverer is handed it (Database.add_commit_listener, ``published_in``), so
    that it need not read back what it will deliver."""

    activity_id: int
    actor_id: int
    doc: dict[str, Any]


def published_in(info: dict[str, Any]) -> list[Published]:
    """What a committed transaction published (``info``: its session's)."""
    return info.get(PUBLISHED, [])


async def follower_inboxes(s: AsyncSession, actor: Actor) -> list[str]:
    """Where to deliver to an actor's followers: one shared inbox per host when the
    followers have one, their own inbox otherwise."""
    return await follow_repo.delivery_inboxes(s, actor.id)


async def publish(s: AsyncSession, actor: Actor, doc: dict[str, Any], *, inboxes: list[str],
                  public: bool = True) -> Activity:
    """Store ``doc`` (an activity of local ``actor``) and a delivery per inbox."""
    obj = doc.get("object")
    object_id = obj if isinstance(obj, str) else (obj or {}).get("id") if isinstance(obj, dict) else None
    local_prefix = urlsplit(actor.ap_id)._replace(path="", query="", fragment="").geturl()
    targets = [i for i in inboxes if not i.startswith(local_prefix + "/")]  # never POST to ourselves
    activity = await activity_repo.add(s, Activity(
        ap_id=doc["id"], actor_id=actor.id, type=doc["type"], object_ap_id=object_id,
        public=public, ap_json=doc), targets)
    if targets:
        # never handed over before the commit: a rolled-back id may be given again
        s.info.setdefault(PUBLISHED, []).append(Published(activity.id, actor.id, doc))
    return activity


async def publish_to_followers(s: AsyncSession, actor: Actor, type_: str, obj: Any, *,
                               extra_inboxes: list[str] | None = None) -> Activity:
    """A public activity addressed to Public and the actor's followers."""
    urls = to_as.Urls(actor.ap_id, "")
    doc = to_as.activity(actor.ap_id, type_, obj, to=[to_as.PUBLIC], cc=[urls.followers],
                         published=utcnow())
    inboxes = await follower_inboxes(s, actor) + list(extra_inboxes or [])
    return await publish(s, actor, doc, inboxes=inboxes)
