"""Where an actor's activities go (follows.deliver_to, kept by the triggers of migration
0017) against the answer computed here from the actors and follows themselves, after
new follows, followers whose inboxes change (a refetch, a shared inbox appearing or
going), followers deleted or removed (cascade), and follows accepted or rejected."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select, update

from ssefed.config import async_database_url
from ssefed.db import migrate
from ssefed.db.models import Actor, Follow
from ssefed.db.repos import follows as follow_repo
from ssefed.db.repos import imports as import_repo
from ssefed.db.session import Database

NOW = datetime(2026, 12, 3, tzinfo=timezone.utc)


def actor_row(i: int, *, local: bool = False, shared: str | None = None,
              inbox: str | None = "") -> dict:
    host = "local.example" if local else f"h{i % 7}.example"
    ap_id = f"https://{host}/users/u{i}"
    return dict(ap_id=ap_id, local=local, is_network=False, domain=host, handle=f"u{i}",
                type="Person", name=f"u{i}", summary="", manually_approves_followers=False,
                inbox=f"{ap_id}/inbox" if inbox == "" else inbox, shared_inbox=shared,
                created_at=NOW, updated_at=NOW)


async def expected(db: Database, followed_id: int) -> list[str]:
    """Computed from scratch: each accepted remote, live follower's shared inbox, else its
    own inbox; each once, sorted."""
    async with db.read() as s:
        rows = await s.execute(select(Actor.local, Actor.deleted_at, Actor.inbox,
                                      Actor.shared_inbox)
                               .join(Follow, Follow.follower_id == Actor.id)
                               .where(Follow.followed_id == followed_id,
                                      Follow.state == "accepted"))
        return sorted({shared or inbox for local, deleted, inbox, shared in rows
                       if not local and deleted is None and inbox})


async def assert_targets(db: Database, followed: list[int]) -> None:
    async with db.read() as s:
        many = await import_repo.follower_inboxes_of(s, followed)
        for followed_id in followed:
            want = await expected(db, followed_id)
            assert await follow_repo.delivery_inboxes(s, followed_id) == want
            assert many.get(followed_id, []) == want


async def test_delivery_inboxes_follow_the_followers_changes(databases, tmp_path: Path):
    db = Database(async_database_url(databases.new_url(), tmp_path))
    rng = random.Random(3)
    try:
        await migrate.upgrade(db)
        rows = [actor_row(0, local=True), actor_row(1, local=True)]  # the followed
        rows += [actor_row(i, shared=f"https://h{i % 7}.example/inbox" if i % 3 else None)
                 for i in range(2, 200)]
        rows += [actor_row(200, local=True), actor_row(201, inbox=None)]
        rows.append({**actor_row(202), "inbox": ""})  # an inbox-less remote actor
        async with db.write() as s:
            await s.execute(insert(Actor), rows)
            ids = list((await s.execute(select(Actor.id).order_by(Actor.id))).scalars())
            followed = ids[:2]
            await s.execute(insert(Follow), [dict(
                ap_id=f"https://x.example/follows/{f}/{a}", follower_id=a, followed_id=f,
                state=rng.choice(["accepted", "accepted", "accepted", "pending", "rejected"]),
                created_at=NOW, updated_at=NOW)
                for f in followed for a in ids[2:] if rng.random() < 0.7])
        await assert_targets(db, followed)
        async with db.read() as s:  # both kinds are there: shared inboxes and own inboxes
            targets = await follow_repo.delivery_inboxes(s, followed[0])
        assert any(t.endswith(".example/inbox") for t in targets)
        assert any("/users/" in t for t in targets)

        # refetched followers: a shared inbox appears, another goes, an inbox moves (the
        # ORM's unit of work and a bulk UPDATE); one follower deleted, one becomes local
        async with db.write() as s:
            for actor in (await s.scalars(select(Actor).where(Actor.id.in_(ids[2:20])))).all():
                actor.shared_inbox = None if actor.shared_inbox else "https://moved.example/inbox"
            await s.execute(update(Actor).where(Actor.id.in_(ids[20:40]))
                            .values(inbox="https://new.example/inbox-of-many"))
            await s.execute(update(Actor).where(Actor.id.in_(ids[40:45]))
                            .values(deleted_at=NOW))
            await s.execute(update(Actor).where(Actor.id == ids[45]).values(local=True))
            await s.execute(update(Actor).where(Actor.id.in_(ids[46:60]))
                            .values(name="renamed", fetched_at=NOW))  # no inbox change
        await assert_targets(db, followed)

        # follows accepted, rejected, removed; followers removed (cascade); new follows
        async with db.write() as s:
            await s.execute(update(Follow).where(Follow.state == "pending")
                            .values(state="accepted"))
            await s.execute(update(Follow).where(Follow.follower_id.in_(ids[60:80]))
                            .values(state="rejected"))
            await s.execute(delete(Follow).where(Follow.follower_id.in_(ids[80:90])))
            await s.execute(delete(Actor).where(Actor.id.in_(ids[90:100])))
            late = Actor(**actor_row(300, shared="https://late.example/inbox"))
            s.add(late)
            await s.flush()
            s.add(Follow(ap_id="https://x.example/follows/late", follower_id=late.id,
                         followed_id=followed[1], state="accepted"))
        await assert_targets(db, followed)
    finally:
        await db.dispose()


async def test_a_follow_made_while_its_follower_moves_gets_the_new_inbox(databases,
                                                                        tmp_path: Path):
    """Two transactions at once (PostgreSQL): a new follow and a change of its follower's
    inbox, in both orders; the follow ends with the new inbox."""
    db = Database(async_database_url(databases.new_url(), tmp_path))
    try:
        if db.is_sqlite:
            pytest.skip("SQLite runs one write transaction at a time: nothing interleaves")
        await migrate.upgrade(db)
        async with db.write() as s:
            await s.execute(insert(Actor), [actor_row(0, local=True), actor_row(1), actor_row(2)])
            ids = list((await s.execute(select(Actor.id).order_by(Actor.id))).scalars())
        for n, follower in enumerate(ids[1:]):
            moved = f"https://moved{n}.example/inbox"
            follow = Follow(ap_id=f"https://x.example/follows/{n}", follower_id=follower,
                            followed_id=ids[0], state="accepted")

            async def move(follower: int = follower, moved: str = moved, n: int = n) -> None:
                async with db.write() as s:
                    await s.execute(update(Actor).where(Actor.id == follower)
                                    .values(shared_inbox=moved))
                    if n == 1:  # the move first, committed after the follow has begun
                        await asyncio.sleep(0.3)

            if n == 0:  # the follow first, committed after the move has begun
                async with db.write() as s:
                    s.add(follow)
                    await s.flush()
                    mover = asyncio.create_task(move())
                    await asyncio.sleep(0.3)
                await mover
            else:
                mover = asyncio.create_task(move())
                await asyncio.sleep(0.1)
                async with db.write() as s:
                    s.add(follow)
                await mover
            async with db.read() as s:
                assert await s.scalar(select(Follow.deliver_to).where(
                    Follow.follower_id == follower)) == moved
            await assert_targets(db, ids[:1])
    finally:
        await db.dispose()
