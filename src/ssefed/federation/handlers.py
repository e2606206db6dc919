"""Side effects of received activities, one function per verb, run from the
``inbox.process`` job (never in the inbox request). What they store of a received object
is stored by ``federation/apply/objects.py``, which batches of jobs use too
(``federation/apply/batch.py``)."""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable

from sqlalchemy import delete, select

from ssefed.db.base import utcnow
from ssefed.db.models import Actor, Follow, InboxItem, Interaction, RemoteObject
from ssefed.db.repos import follows as follow_repo
from ssefed.db.repos import offers as offer_repo
from ssefed.db.repos import inbox as inbox_repo
from ssefed.db.repos import jobs as job_repo
from ssefed.db.repos import remote as remote_repo
from ssefed.db.repos import vetting as vetting_repo
from ssefed.domain import outbox
from ssefed.domain.errors import DomainError
from ssefed.federation import trust, vetting
from ssefed.federation.apply import objects
from ssefed.federation.trust import same_origin
from ssefed.federation.client import FetchError
from ssefed.federation.networks import refresh_members
from ssefed.federation.reports import apply_flag
from ssefed.federation.service import Federation
from ssefed.vocab import from_as, to_as, vetting_as

log = logging.getLogger("ssefed.inbox")


class Ignored(Exception):
    """The activity is kept but has no effect (said why)."""


class Handlers:
    def __init__(self, federation: Federation, wake: Callable[[], None] = lambda: None) -> None:
        self.fed, self.db, self.wake = federation, federation.db, wake
        self.verbs: dict[str, Callable[[from_as.Activity], Awaitable[None]]] = {
            "Follow": self.follow, "Accept": self.accept, "Reject": self.reject,
            "Undo": self.undo, "Create": self.create, "Update": self.update,
            "Delete": self.delete, "Announce": self.announce, "Like": self.like,
            "Add": self.membership_changed, "Remove": self.membership_changed,
            "Join": self.join, "TentativeAccept": self.decision, "Flag": self.flag,
        }

    async def process(self, payload: dict[str, Any]) -> None:
        """Job entry point: apply one stored activity."""
        async with self.db.read() as s:
            item: InboxItem | None = await inbox_repo.get(s, int(payload["item"]))
        if item is None or item.state != "pending":
            return
        activity = from_as.parse_activity(item.ap_json)
        handler = self.verbs.get(activity.type)
        try:
            if handler is None:
                raise Ignored(f"{activity.type} has no effect here")
            try:
                await handler(activity)
            except DomainError as exc:  # not found, conflict: kept, with why
                raise Ignored(str(exc)) from None
        except Ignored as why:
            async with self.db.write() as s:
                await inbox_repo.mark(s, item.id, "ignored", str(why))
            return
        except (from_as.ParseError, ValueError) as exc:
            async with self.db.write() as s:
                await inbox_repo.mark(s, item.id, "rejected", str(exc))
            return
        async with self.db.write() as s:
            await inbox_repo.mark(s, item.id, "processed")

    async def _local_actor(self, iri: str | None) -> Actor:
        if not iri or not self.fed.ids.is_local(iri):
            raise Ignored(f"{iri} is not an actor of this node")
        async with self.db.read() as s:
            actor = await remote_repo.get_actor(s, iri)
        if actor is None or not actor.local or actor.deleted_at is not None:
            raise Ignored(f"no actor {iri} here")
        return actor

    async def _trusted_object(self, activity: from_as.Activity) -> dict[str, Any]:
        """The activity's object, taken as sent when it comes from the actor's own origin,
        else fetched from its origin (bounded: one fetch)."""
        obj = activity.object
        object_id = activity.object_id
        if obj is not None and same_origin(obj.get("id") or activity.actor, activity.actor):
            return obj
        if not object_id:
            raise ValueError("object: missing")
        try:
            return await self.fed.fetch_json(object_id)
        except FetchError as exc:
            raise Ignored(f"cannot fetch {object_id} from its origin: {exc}") from None

    # -- follows ---------------------------------------------------------------------------
    async def follow(self, activity: from_as.Activity) -> None:
        target = await self._local_actor(activity.object_id)
        follower = await self.fed.actor(activity.actor)
        async with self.db.write() as s:
            existing = await follow_repo.get(s, follower.id, target.id)
            if existing is None:
                existing = await follow_repo.add(s, Follow(
                    ap_id=activity.id, follower_id=follower.id, followed_id=target.id,
                    state="pending"))
            else:
                existing.ap_id = activity.id or existing.ap_id
            if target.manually_approves_followers and existing.state != "accepted":
                existing.state = "pending"
                return
            existing.state = "accepted"
            await send_accept(s, target, follower, activity.raw, "Accept")
        self.wake()

    async def accept(self, activity: from_as.Activity) -> None:
        if vetting_as.is_decision(activity.raw):
            return await self.decision(activity)
        await self._answer(activity, "accepted")

    async def reject(self, activity: from_as.Activity) -> None:
        if vetting_as.is_decision(activity.raw):
            return await self.decision(activity)
        await self._answer(activity, "rejected")

    # -- participatory validation (federation/vetting.py) -------------------------------
    async def join(self, activity: from_as.Activity) -> None:
        await vetting.on_join(self.fed, activity.raw, activity.actor)
        self.wake()

    async def decision(self, activity: from_as.Activity) -> None:
        if not vetting_as.is_decision(activity.raw):
            raise Ignored(f"{activity.type} of something else than an application")
        await vetting.on_decision(self.fed, activity.raw, activity.actor)
        self.wake()

    async def _answer(self, activity: from_as.Activity, state: str) -> None:
        """Accept/Reject of a Follow we sent: the follow is found by its id, or by the pair."""
        follow_id = activity.object_id
        async with self.db.write() as s:
            follow = await follow_repo.by_ap_id(s, follow_id) if follow_id else None
            if follow is None and activity.object is not None:
                inner = from_as.parse_activity(activity.object)
                local = await remote_repo.get_actor(s, inner.actor or "")
                if local is not None and local.local:
                    remote = await remote_repo.get_actor(s, activity.actor)
                    if remote is not None:
                        follow = await follow_repo.get(s, local.id, remote.id)
            if follow is None:
                raise Ignored("no such follow request")
            followed = await s.get(Actor, follow.followed_id)
            if followed is None or followed.ap_id != activity.actor:
                raise Ignored("only the followed actor can answer a follow request")
            follow.state = state
            if state == "accepted":
                await s.run_sync(job_repo.enqueue, "follow.backfill", {"follow": follow.id})
        self.wake()

    async def undo(self, activity: from_as.Activity) -> None:
        inner = activity.object
        if inner is None:  # only an id: find what it undoes among what we stored
            async with self.db.write() as s:
                removed = await s.execute(delete(Interaction).where(
                    Interaction.ap_id == activity.object_id,
                    Interaction.actor_ap_id == activity.actor))
                if removed.rowcount:
                    await vetting_repo.withdraw(s, activity.object_id or "", activity.actor)
                    return
                follow = await follow_repo.by_ap_id(s, activity.object_id or "")
                if follow is not None:
                    follower = await s.get(Actor, follow.follower_id)
                    if follower is not None and follower.ap_id == activity.actor:
                        await s.delete(follow)
                        return
            raise Ignored("nothing to undo")
        undone = from_as.parse_activity(inner)
        if undone.actor != activity.actor:
            raise ValueError("object.actor: an actor can only undo its own activities")
        async with self.db.write() as s:
            if undone.type == "Follow":
                follower = await remote_repo.get_actor(s, activity.actor)
                target = await remote_repo.get_actor(s, undone.object_id or "")
                if follower is None or target is None:
                    raise Ignored("no such follow")
                follow = await follow_repo.get(s, follower.id, target.id)
                if follow is not None:
                    await s.delete(follow)
            elif undone.type in ("Announce", "Like"):
                await s.execute(delete(Interaction).where(
                    Interaction.ap_id == undone.id, Interaction.actor_ap_id == activity.actor))
                if undone.type == "Like":  # a like of an application was an endorsement
                    await vetting_repo.withdraw(s, undone.id or "", activity.actor)
            else:
                raise Ignored(f"Undo of {undone.type} has no effect here")

    # -- objects ---------------------------------------------------------------------------
    async def create(self, activity: from_as.Activity) -> None:
        if vetting_as.is_endorsement(activity.object):
            await vetting.on_endorsement(self.fed, self.fed.config, activity.object,
                                            activity.actor)
            self.wake()
            return
        obj = objects.with_context(await self._trusted_object(activity), activity.raw)
        if objects.replies_to_application(obj) and await vetting.on_objection_reply(
                self.fed, self.fed.config, obj, activity.actor):
            self.wake()
            return
        await self.store_object(obj, activity.actor)

    async def update(self, activity: from_as.Activity) -> None:
        if activity.object_id == activity.actor:  # the actor updated its profile
            await self.fed.fetch_actor(activity.actor)
            return
        obj = objects.with_context(await self._trusted_object(activity), activity.raw)
        await self.store_object(obj, activity.actor)

    async def store_object(self, obj: dict[str, Any], author: str | None) -> None:
        """Store ``obj`` as ``author``'s (objects.store_objects, in a transaction of its
        own), its author fetched first when this node does not hold it."""
        received = objects.read_object(obj, author, self.fed.ids.is_local)
        if received.offer is not None:
            await self.fed.actor(received.author)
        [outcome] = await self.db.run(lambda conn: objects.store_objects(conn, [received]))
        if isinstance(outcome, ValueError):
            raise outcome
        if outcome == objects.AUTHOR_UNKNOWN:
            raise Ignored(f"the author {received.author} of the offer could not be read")

    async def delete(self, activity: from_as.Activity) -> None:
        target = activity.object_id
        async with self.db.write() as s:
            if target == activity.actor:
                actor = await remote_repo.get_actor(s, activity.actor)
                if actor is None or actor.local:
                    raise Ignored("unknown actor")
                actor.deleted_at = utcnow()
                await s.execute(delete(Follow).where(
                    (Follow.follower_id == actor.id) | (Follow.followed_id == actor.id)))
                return
            row = await s.scalar(select(RemoteObject).where(RemoteObject.ap_id == target))
            if row is None:
                raise Ignored("unknown object")
            trust.check_stored_owner("object", row.attributed_to, activity.actor)
            row.deleted_at = utcnow()
            await offer_repo.mark_deleted(s, row.ap_id, row.deleted_at)

    async def announce(self, activity: from_as.Activity) -> None:
        await self._interaction(activity, "Announce")
        object_id = activity.object_id
        if object_id and not self.fed.ids.is_local(object_id):
            async with self.db.read() as s:
                known = await s.scalar(select(RemoteObject.id)
                                       .where(RemoteObject.ap_id == object_id))
            if known is None:  # fetch the announced object from its origin, once
                try:
                    obj = await self.fed.fetch_json(object_id)
                    await self.store_object(obj, from_as.first_id(obj.get("attributedTo")))
                except (FetchError, ValueError) as exc:
                    log.info("announced object %s not stored: %s", object_id, exc)

    async def like(self, activity: from_as.Activity) -> None:
        if await vetting.on_like(self.fed, self.fed.config, activity.raw, activity.actor):
            self.wake()
        await self._interaction(activity, "Like")

    # -- reports ---------------------------------------------------------------------------
    async def flag(self, activity: from_as.Activity) -> None:
        """A report that an organisation's information is wrong or outdated (Mastodon's
        Flag): stored for the organisation and the reviewers (federation/reports.py)."""
        why = await apply_flag(self.fed, activity)
        if why is not None:
            raise Ignored(why)

    # -- networks' members -----------------------------------------------------------------
    async def membership_changed(self, activity: from_as.Activity) -> None:
        """A network added a member to (or removed one from) its members collection: read
        the collection again from its origin (what it says there is what counts)."""
        raw = activity.raw
        target = from_as.first_id(raw.get("target") or raw.get("origin"))
        if activity.type == "Add" and vetting_as.is_endorsement(activity.object):
            # a network relays an endorsement of one of its applications: verified here
            if not target or not target.endswith("/endorsements") or not same_origin(
                    target, activity.actor):
                raise Ignored("Add of an endorsement to something else than an application")
            await vetting.on_endorsement(self.fed, self.fed.config, activity.object,
                                            activity.actor)
            return
        actor = await self.fed.known_actor(activity.actor)
        members = from_as.first_id((actor.ap_json or {}).get("members")) if actor else None
        if not target or target != members or not same_origin(target, activity.actor):
            raise Ignored(f"{activity.type} has no effect here")
        async with self.db.write() as s:
            await s.run_sync(job_repo.enqueue, "network.members",
                             {"network": activity.actor, "force": True})
        self.wake()

    async def _interaction(self, activity: from_as.Activity, type_: str) -> None:
        if not activity.id or not activity.object_id:
            raise ValueError("id/object: an interaction needs both")
        async with self.db.write() as s:
            exists = await s.scalar(select(Interaction.id).where(Interaction.ap_id == activity.id))
            if exists is None:
                s.add(Interaction(ap_id=activity.id, type=type_, actor_ap_id=activity.actor,
                                  object_ap_id=activity.object_id))


async def send_accept(s, local: Actor, follower: Actor, follow_json: dict[str, Any],
                      verb: str) -> None:
    """Answer a Follow (Accept or Reject), with the Follow embedded, to the follower's inbox."""
    follow = to_as.strip_context(follow_json)
    doc = to_as.activity(local.ap_id, verb, follow, to=[follower.ap_id], published=utcnow())
    await outbox.publish(s, local, doc, inboxes=[follower.inbox] if follower.inbox else [],
                         public=False)


MAX_BACKFILL_PAGES = 5
MAX_BACKFILL_ITEMS = 200


async def backfill(handlers: Handlers, payload: dict[str, Any]) -> None:
    """Once a follow is accepted, read the followed actor's outbox (paged, bounded) so
    the follower holds what was published before."""
    fed = handlers.fed
    async with fed.db.read() as s:
        follow = await s.get(Follow, int(payload["follow"]))
        followed = await s.get(Actor, follow.followed_id) if follow else None
    if followed is None or followed.local or not followed.ap_json:
        return
    if followed.ap_json.get("members"):  # a network: read whom it vouches for
        await refresh_members(fed, followed.ap_id, force=True)
    outbox_url = from_as.first_id(followed.ap_json.get("outbox"))
    if not outbox_url or not same_origin(outbox_url, followed.ap_id):
        return
    collection = await fed.fetch_json(outbox_url)
    page: Any = collection.get("first") or collection
    seen = 0
    for _ in range(MAX_BACKFILL_PAGES):
        if isinstance(page, str):
            if not same_origin(page, followed.ap_id):
                return
            page = await fed.fetch_json(page)
        if not isinstance(page, dict):
            return
        for item in from_as.as_list(page.get("orderedItems") or page.get("items")):
            seen += 1
            if seen > MAX_BACKFILL_ITEMS:
                return
            if not isinstance(item, dict) or item.get("type") != "Create":
                continue
            obj = item.get("object")
            if isinstance(obj, dict) and same_origin(obj.get("id"), followed.ap_id):
                obj = objects.with_context(obj, item if "@context" in item else page)
                try:
                    await handlers.store_object(obj, followed.ap_id)
                except ValueError as exc:
                    log.info("backfill skipped %s: %s", obj.get("id"), exc)
        page = page.get("next")
        if not page:
            return
