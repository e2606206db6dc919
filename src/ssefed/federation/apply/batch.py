"""Received activities applied many at a time: the ``inbox.process`` jobs the worker
claimed together.

A Create or Update of an object sent by its own origin (offers included: the common
case) is stored by the same function as when it comes alone (objects.store_objects),
for the whole batch in one write transaction, where the items' outcomes are marked and
their jobs finished too. Each item gets its own outcome (stored, or refused by trust);
anything else (another verb, an object or an author to fetch) is left to Handlers, one
by one, and so is the whole batch when the database refuses it.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from ssefed.db.repos import inbox as inbox_repo
from ssefed.db.repos import jobs as job_repo
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

    def apply(conn: Connection) -> set[int]:
        left = set(rest)
        stored = objects.store_objects(conn, [received for _, _, received in ready])
        for (position, item_id, _), outcome in zip(ready, stored):
            if outcome == objects.AUTHOR_UNKNOWN:
                left.add(position)  # its author is to be fetched first
            else:
                outcomes.append((item_id, "processed" if outcome is None else "rejected",
                                 None if outcome is None else str(outcome)))
        inbox_repo.mark_many(conn, outcomes)
        job_repo.finish_many(conn, batch.unfinished(set(range(len(batch.payloads))) - left))
        return left

    try:
        rest = await db.run(apply)
    except DBAPIError as exc:
        log.warning("a batch of %d received items was refused (%s): applied one by one",
                    len(ready), str(exc).splitlines()[0][:200])
        return set(range(len(batch.payloads)))
    batch.done.update(set(range(len(batch.payloads))) - rest)
    return rest
