"""Applying many received activities in one go: the worker hands the ``inbox.process``
jobs it claimed together to ``process_batch``.

The common case, a Create or Update of a FEP-0837 Proposal embedded by its own author
(already known), goes a short way: the same reading and the same JSON Schema check as
``Handlers._store_object``, then one transaction for the whole batch (offers, their
inputs, remote objects and the items' states, written with Core statements). Anything
else — another verb, an object to fetch, an author to fetch, the same object twice in
the batch, or a batch the database refuses — is applied one by one by
``Handlers.process``, exactly as before. Each item is marked processed or rejected (with
the failing path) on its own.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass, field
from typing import Any, Callable

from sqlalchemy.exc import DBAPIError

from ssefed.db.repos import jobs as job_repo
from ssefed.db.repos import received as received_repo
from ssefed.federation import trust
from ssefed.federation.handlers import Handlers, check_networks
from ssefed.federation.trust import same_origin
from ssefed.federation.networks import names_networks
from ssefed.vocab import from_as, proposals
from ssefed.worker.runner import JobBatch

log = logging.getLogger("ssefed.inbox")


@dataclass
class _Fast:
    index: int
    item_id: int
    obj: dict[str, Any]
    proposal: proposals.RemoteProposal
    attributed: str
    type: str


Parsed = dict[int, "from_as.Activity | ValueError"]


def read_activities(stored: dict[int, tuple[str, dict[str, Any]]]) -> Parsed:
    """Each pending stored activity parsed once ({item id: activity, or the ParseError
    (a ValueError) saying what is wrong}), for Handlers.process_many and process_batch."""
    parsed: Parsed = {}
    for item_id, (state, doc) in stored.items():
        if state == "pending":
            try:
                parsed[item_id] = from_as.parse_activity(doc)
            except ValueError as exc:  # ParseError
                parsed[item_id] = exc
    return parsed


def _candidate(doc: dict[str, Any], activity: from_as.Activity | ValueError | None = None
               ) -> tuple[from_as.Activity, dict[str, Any]] | None:
    """The activity (``activity``: ``doc`` already parsed) and its object when the short
    way applies to it."""
    if activity is None:
        try:
            activity = from_as.parse_activity(doc)
        except from_as.ParseError as exc:
            activity = exc
    if isinstance(activity, ValueError):
        return None  # Handlers.process says what is wrong
    obj = activity.object
    if (activity.type not in ("Create", "Update") or not isinstance(obj, dict)
            or activity.object_id == activity.actor or not proposals.is_proposal(obj)
            or not same_origin(obj.get("id") or activity.actor, activity.actor)):
        return None
    return activity, obj


def _read(activity: from_as.Activity, obj: dict[str, Any], is_local: Callable[[str], bool]
          ) -> tuple[str, str, Any]:
    """The checks of Handlers._store_object, in the same order; raise ValueError."""
    _, object_type, attributed = trust.owned_object(obj, activity.actor, is_local)
    proposals.check_schema("offer", obj)
    return attributed, object_type, proposals.read_proposal(obj)


async def process_batch(handlers: Handlers, payloads: list[dict[str, Any]],
                        stored: dict[int, tuple[str, dict[str, Any]]] | None = None,
                        batch: JobBatch | None = None, parsed: Parsed | None = None
                        ) -> list[BaseException | None]:
    """Apply the stored activities of ``payloads`` (``inbox.process`` jobs); one result
    per job: None when done, the exception when it is to be retried. ``stored``: the items
    already read ({id: (state, activity)}); ``batch``: the jobs of ``payloads``, those
    applied here are finished in the same transaction (see JobBatch); ``parsed``: the
    activities already parsed (read_activities)."""
    db = handlers.db
    ids = [int(p["item"]) for p in payloads]
    if stored is None:
        stored = await read_items(db, ids)
    parsed = parsed or {}
    results: list[BaseException | None] = [None] * len(payloads)
    slow: list[int] = []
    fast: list[_Fast] = []
    rejected: list[tuple[int, str, str | None]] = []
    seen: set[str] = set()
    for index, item_id in enumerate(ids):
        state, doc = stored.get(item_id, ("gone", None))
        if state != "pending":
            continue
        found = _candidate(doc, parsed.get(item_id))
        if found is None or found[1].get("id") in seen:
            slow.append(index)
            continue
        activity, obj = found
        try:
            attributed, type_, proposal = _read(activity, obj, handlers.fed.ids.is_local)
        except ValueError as exc:  # ParseError and SchemaError too
            rejected.append((item_id, "rejected", str(exc)))
            continue
        seen.add(obj["id"])
        fast.append(_Fast(index, item_id, obj, proposal, attributed, type_))
    if fast or rejected or len(slow) < len(payloads):
        if db.is_sqlite and db.has_direct_writes:
            slow = await _apply_sqlite(db, payloads, fast, rejected, slow, batch)
        else:
            slow = await _apply(db, payloads, fast, rejected, slow, batch)
    for index in sorted(slow):
        try:
            await handlers.process(payloads[index])
        except Exception as exc:  # the worker retries this job by policy
            results[index] = exc
    return results


async def read_items(db, ids: list[int]) -> dict[int, tuple[str, dict[str, Any]]]:
    """{id: (state, activity)} of stored inbox items (on SQLite one hop to the driver)."""
    if db.is_sqlite and db.has_direct_writes:
        return await db.sqlite_direct_read(lambda conn: received_repo.sqlite_items(conn, ids))
    async with db.read() as s:
        return await received_repo.items(s, ids)


def _known_authors(fast: list[_Fast], authors: dict[str, tuple[int, bool, str | None]]
                   ) -> tuple[list[_Fast], list[int]]:
    """The items of ``fast`` whose author is stored with an inbox, and the positions of
    the others (their author is to be fetched: the one-by-one path)."""
    known = [(a := authors.get(f.attributed)) is not None and bool(a[1] or a[2]) for f in fast]
    return ([f for f, ok in zip(fast, known) if ok],
            [f.index for f, ok in zip(fast, known) if not ok])


async def _apply(db, payloads: list[dict[str, Any]], fast: list[_Fast],
                 rejected: list[tuple[int, str, str | None]], slow: list[int],
                 batch: JobBatch | None) -> list[int]:
    """The batch's transaction through sessions (PostgreSQL); returns the positions left
    to the one-by-one path."""
    try:
        async with db.write() as s:
            authors = await received_repo.actors(s, sorted({f.attributed for f in fast}))
            fast, unknown = _known_authors(fast, authors)
            slow = slow + unknown
            outcomes = await _store(s, fast, authors)
            await received_repo.mark_items(s, rejected + outcomes)
            # as Handlers._store_object does: read the members collections of the
            # networks a remote organisation names, so the guarantee of its offers can
            # be checked (one query for the batch's authors, in the same transaction)
            await check_networks(s, list((await received_repo.actor_documents(
                s, sorted({f.attributed for f in fast}))).values()))
            applied = set(range(len(payloads))) - set(slow)
            if batch is not None:
                await batch.finish(s, applied)
    except DBAPIError as exc:
        log.warning("a batch of %d received offers was refused (%s): applying them one "
                    "by one", len(fast), str(exc).splitlines()[0][:200])
        slow = slow + [f.index for f in fast]
        applied = set(range(len(payloads))) - set(slow)
        async with db.write() as s:
            await received_repo.mark_items(s, rejected)
            if batch is not None:
                await batch.finish(s, applied)
    if batch is not None:
        batch.done.update(applied)
    return slow


async def _apply_sqlite(db, payloads: list[dict[str, Any]], fast: list[_Fast],
                        rejected: list[tuple[int, str, str | None]], slow: list[int],
                        batch: JobBatch | None) -> list[int]:
    """The same transaction as ``_apply`` on SQLite, straight through the driver: one
    thread hop for the whole batch (reads, writes, items marked, jobs finished)."""
    def run(conn: sqlite3.Connection) -> tuple[list[int], set[int]]:
        authors = received_repo.sqlite_actors(conn, sorted({f.attributed for f in fast}))
        known, unknown = _known_authors(fast, authors)
        outcomes: list[tuple[int, str, str | None]] = []
        if known:
            plan = _plan(known, authors,
                         received_repo.sqlite_offers(conn, [f.proposal.id for f in known]),
                         received_repo.sqlite_objects(conn, [f.obj["id"] for f in known]))
            outcomes = plan.outcomes
            # an object is stored twice (its offer, its remote object): serialised once
            received_repo.sqlite_json_once(plan.new + plan.changed + plan.new_objects
                                           + plan.changed_objects)
            received_repo.sqlite_store_offers(conn, plan.new, plan.new_inputs, plan.changed,
                                              plan.changed_inputs)
            received_repo.sqlite_store_objects(conn, plan.new_objects, plan.changed_objects)
        received_repo.sqlite_mark_items(conn, rejected + outcomes)
        # the members collections to read, as check_networks does (see _apply)
        docs = received_repo.sqlite_actor_documents(conn, sorted({f.attributed for f in known}))
        claimed = list(dict.fromkeys(n for doc in docs.values() for n in names_networks(doc)[:5]))
        known_networks = received_repo.sqlite_known_networks(conn, claimed)
        for network in claimed:
            if network not in known_networks:
                job_repo.sqlite_enqueue_once(conn, "network.members", {"network": network},
                                             f"network.members:first:{network}")
        left = slow + unknown
        applied = set(range(len(payloads))) - set(left)
        if batch is not None:
            batch.sqlite_finish(conn, applied)
        return left, applied

    def refused(conn: sqlite3.Connection) -> set[int]:
        received_repo.sqlite_mark_items(conn, rejected)
        applied = set(range(len(payloads))) - set(slow) - {f.index for f in fast}
        if batch is not None:
            batch.sqlite_finish(conn, applied)
        return applied

    try:
        slow, applied = await db.sqlite_direct_write(run)
    except sqlite3.DatabaseError as exc:  # rolled back: nothing of it was written
        log.warning("a batch of %d received offers was refused (%s): applying them one "
                    "by one", len(fast), str(exc).splitlines()[0][:200])
        applied = await db.sqlite_direct_write(refused)
        slow = slow + [f.index for f in fast]
    if batch is not None:
        batch.done.update(applied)
    return slow


@dataclass
class _Plan:
    """What a batch writes: offer rows (new, and changed with ``_id``) with their input
    categories, remote object rows, and the outcome of each item."""

    outcomes: list[tuple[int, str, str | None]] = field(default_factory=list)
    new: list[dict[str, Any]] = field(default_factory=list)
    new_inputs: list[list[str]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    changed_inputs: list[list[str]] = field(default_factory=list)
    new_objects: list[dict[str, Any]] = field(default_factory=list)
    changed_objects: list[dict[str, Any]] = field(default_factory=list)


def _plan(fast: list[_Fast], authors: dict[str, tuple[int, bool, str | None]],
          offers: dict[str, tuple[int, bool, int]], objects: dict[str, tuple[int, str | None]]
          ) -> _Plan:
    """The rows to write for ``fast``, given the stored offers and objects of its ids."""
    plan = _Plan()
    for f in fast:
        author_id = authors[f.attributed][0]
        p = f.proposal
        offer = offers.get(p.id)
        if offer is not None and (offer[1] or offer[2] != author_id):
            plan.outcomes.append((f.item_id, "rejected", "id: the offer belongs to another actor"))
            continue
        row_object = objects.get(f.obj["id"])
        if row_object is not None and row_object[1] != f.attributed:
            plan.outcomes.append((f.item_id, "rejected",
                                  "object.attributedTo: the object belongs to another actor"))
            continue
        values = {c: getattr(p, c) for c in received_repo.REMOTE_OFFER_COLUMNS}
        values["ap_json"] = f.obj
        if offer is None:
            plan.new.append({"ap_id": p.id, "actor_id": author_id, "local": False, **values})
            plan.new_inputs.append(p.inputs)
        else:
            plan.changed.append({"_id": offer[0], **values})
            plan.changed_inputs.append(p.inputs)
        if row_object is None:
            plan.new_objects.append({"ap_id": f.obj["id"], "type": f.type,
                                     "attributed_to": f.attributed, "ap_json": f.obj})
        else:
            plan.changed_objects.append({"_id": row_object[0], "type": f.type,
                                         "ap_json": f.obj})
        plan.outcomes.append((f.item_id, "processed", None))
    return plan


async def _store(s, fast: list[_Fast], authors: dict[str, tuple[int, bool, str | None]]
                 ) -> list[tuple[int, str, str | None]]:
    """Write the offers and objects of ``fast``; the state of each item."""
    if not fast:
        return []
    plan = _plan(fast, authors, await received_repo.offers(s, [f.proposal.id for f in fast]),
                 await received_repo.objects(s, [f.obj["id"] for f in fast]))
    await received_repo.store_offers(s, plan.new, plan.new_inputs, plan.changed,
                                     plan.changed_inputs)
    await received_repo.store_objects(s, plan.new_objects, plan.changed_objects)
    return plan.outcomes
