"""Data access for follow relations."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ssefed.db.models import Actor, Follow


async def get(s: AsyncSession, follower_id: int, followed_id: int) -> Follow | None:
    return await s.scalar(select(Follow).where(Follow.follower_id == follower_id,
                                               Follow.followed_id == followed_id))


async def by_ap_id(s: AsyncSession, ap_id: str) -> Follow | None:
    return await s.scalar(select(Follow).where(Follow.ap_id == ap_id))


async def add(s: AsyncSession, follow: Follow) -> Follow:
    s.add(follow)
    await s.flush()
    return follow


async def count(s: AsyncSession, *, followed_id: int | None = None,
                follower_id: int | None = None, state: str = "accepted") -> int:
    q = select(func.count()).select_from(Follow).where(Follow.state == state)
    if followed_id is not None:
        q = q.where(Follow.followed_id == followed_id)
    if follower_id is not None:
        q = q.where(Follow.follower_id == follower_id)
    return int(await s.scalar(q) or 0)


async def page(s: AsyncSession, *, followed_id: int | None = None, follower_id: int | None = None,
               state: str = "accepted", before_id: int | None = None, limit: int = 20
               ) -> list[tuple[Follow, Actor]]:
    """Follows with the actor on the other side, newest first."""
    other = aliased(Actor)
    q = select(Follow, other)
    if followed_id is not None:
        q = q.join(other, Follow.follower_id == other.id).where(Follow.followed_id == followed_id)
    else:
        q = q.join(other, Follow.followed_id == other.id).where(Follow.follower_id == follower_id)
    q = q.where(Follow.state == state)
    if before_id is not None:
        q = q.where(Follow.id < before_id)
    rows = await s.execute(q.order_by(Follow.id.desc()).limit(limit))
    return [(f, a) for f, a in rows]


async def delivery_inboxes(s: AsyncSession, followed_id: int) -> list[str]:
    """Where the remote accepted followers of an actor get its activities: each one's
    shared inbox when it has one, else its own inbox; each inbox once, in inbox order.
    Read from the follows' deliver_to (kept by triggers) through their index: 10,000
    followers on 100 servers are about 100 index probes, not a join and a sort of 10,000."""
    rows = await s.scalars(
        select(Follow.deliver_to).distinct()
        .where(Follow.followed_id == followed_id, Follow.state == "accepted",
               Follow.deliver_to.is_not(None))
        .order_by(Follow.deliver_to))
    return list(rows)
