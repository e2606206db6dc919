"""Received activities applied many at a time: the ``inbox.process`` jobs the worker
claimed together.

A Create or Update of an object sent by its own origin (offers included: the common
case) is applied by the same function as when it comes alone (objects.store_object), in
one write transaction for the whole batch. The items are first applied together in one
savepoint (one flush for all); if any of them is refused, that savepoint is rolled back
and each item is applied again in a savepoint of its own, so that the one refused (by
trust or by the database) is rolled back alone and the others are kept. The items'
outcomes are marked, and their jobs finished, in that transaction. Anything else
(another verb, an object or an author to fetch) is left to Handlers, one by one.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from ssefed.db.models import Actor
from ssefed.db.repos import inbox as inbox_repo
from ssefed.federation.apply import objects
from ssefed.federation.handlers import Handlers
from ssefed.vocab import from_as
from ssefed.worker.runner import JobBatch

log = logging.getLogger("ssefed.inbox")


async def apply_batch(handlers: Handlers, batch: JobBatch) -> set[int]:
    """Apply what can be applied together of ``batch``; return the positions left to
    ``Handlers.process`` (the worker runs them one by one, each with its retries)."""
    db, is_local = handlers.db, handlers.fed.ids.is_local
    async with db.read() as s:
        items = await inbox_repo.documents(s, [int(p["item"]) for p in batch.payloads])
    rest: set[int] = set()
    outcomes: list[tuple[int, str, str | None]] = []
    ready: list[tuple[int, int, objects.ReceivedObject]] = []
    for position, payload in enumerate(batch.payloads):
        item_id = int(payload["item"])
        state, doc = items.get(item_id, ("gone", None))
        if state != "pending":
            continue  # applied already (a job run twice), or pruned
        try:
            activity = from_as.parse_activity(doc)
            obj = objects.stored_as_sent(activity)
            if obj is None:
                rest.add(position)
                continue
            ready.append((position, item_id, objects.read_object(obj, activity.actor, is_local)))
        except ValueError as exc:  # ParseError, Untrusted, SchemaError
            outcomes.append((item_id, "rejected", str(exc)))
    handled = set(range(len(batch.payloads)))
    async with db.write() as s:
        stored = objects.Stored(s)
        await stored.load([received for _, _, received in ready])
        todo: list[tuple[int, int, objects.ReceivedObject, Actor | None]] = []
        for position, item_id, received in ready:
            author = stored.authors.get(received.author) if received.offer else None
            if received.offer is not None and not objects.can_author(author):
                rest.add(position)  # its author is to be fetched first
            else:
                todo.append((position, item_id, received, author))
        if await _all_at_once(s, stored, todo):
            outcomes += [(item_id, "processed", None) for _, item_id, _, _ in todo]
        else:
            for position, item_id, received, author in todo:
                outcome = await _alone(s, stored, item_id, received, author)
                if outcome is None:
                    rest.add(position)
                else:
                    outcomes.append(outcome)
        await inbox_repo.mark_many(s, outcomes)
        handled -= rest
        await batch.finish(s, handled)
    batch.done.update(handled)
    return rest


async def _all_at_once(s: AsyncSession, stored: objects.Stored,
                       todo: list[tuple[int, int, objects.ReceivedObject, Actor | None]]
                       ) -> bool:
    """Apply all of ``todo`` in one savepoint, written by one flush (the common case:
    nothing refused). False, with nothing of it kept, when any item is refused."""
    try:
        async with s.begin_nested():
            for _, _, received, author in todo:
                await objects.store_object(s, received, author, stored)
    except (ValueError, DBAPIError):
        stored.forget_unsaved()
        return False
    return True


async def _alone(s: AsyncSession, stored: objects.Stored, item_id: int,
                 received: objects.ReceivedObject, author: Actor | None
                 ) -> tuple[int, str, str | None] | None:
    """Apply one item in a savepoint of its own: its outcome, or None when the database
    refused it (then it is applied alone, by Handlers, with the job's retries)."""
    try:
        async with s.begin_nested():
            await objects.store_object(s, received, author, stored)
    except ValueError as exc:  # trust.Untrusted: another actor's id
        stored.forget_unsaved()
        return item_id, "rejected", str(exc)
    except DBAPIError as exc:
        stored.forget_unsaved()
        log.warning("received item %d refused in a batch (%s): applied alone",
                    item_id, str(exc).splitlines()[0][:200])
        return None
    return item_id, "processed", None
