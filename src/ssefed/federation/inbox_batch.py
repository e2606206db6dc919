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
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import DBAPIError

from ssefed.db.repos import received as received_repo
from ssefed.federation.handlers import Handlers, check_networks, same_origin
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


def _candidate(doc: dict[str, Any]) -> tuple[from_as.Activity, dict[str, Any]] | None:
    """The activity and its object when the short way applies to it."""
    try:
        activity = from_as.parse_activity(doc)
    except from_as.ParseError:
        return None  # Handlers.process says what is wrong
    obj = activity.object
    if (activity.type not in ("Create", "Update") or not isinstance(obj, dict)
            or activity.object_id == activity.actor or not proposals.is_proposal(obj)
            or not same_origin(obj.get("id") or activity.actor, activity.actor)):
        return None
    return activity, obj


def _read(activity: from_as.Activity, obj: dict[str, Any]) -> tuple[str, str, Any]:
    """The checks of Handlers._store_object, in the same order; raise ValueError."""
    object_id = obj.get("id")
    if not isinstance(object_id, str) or not object_id.startswith(("https://", "http://")):
        raise ValueError("object.id: missing or not an http(s) IRI")
    attributed = from_as.first_id(obj.get("attributedTo")) or activity.actor
    if not same_origin(attributed, activity.actor) or not same_origin(object_id,
                                                                      activity.actor):
        raise ValueError("object.attributedTo: the object does not belong to the actor")
    object_type = obj.get("type")
    if isinstance(object_type, list):
        object_type = next((t for t in object_type if isinstance(t, str)), "Object")
    proposals.check_schema("offer", obj)
    return attributed, str(object_type or "Object")[:64], proposals.read_proposal(obj)


async def process_batch(handlers: Handlers, payloads: list[dict[str, Any]],
                        stored: dict[int, tuple[str, dict[str, Any]]] | None = None,
                        batch: JobBatch | None = None) -> list[BaseException | None]:
    """Apply the stored activities of ``payloads`` (``inbox.process`` jobs); one result
    per job: None when done, the exception when it is to be retried. ``stored``: the items
    already read ({id: (state, activity)}); ``batch``: the jobs of ``payloads``, those
    applied here are finished in the same transaction (see JobBatch)."""
    db = handlers.db
    ids = [int(p["item"]) for p in payloads]
    if stored is None:
        async with db.read() as s:
            stored = await received_repo.items(s, ids)
    results: list[BaseException | None] = [None] * len(payloads)
    slow: list[int] = []
    fast: list[_Fast] = []
    rejected: list[tuple[int, str, str | None]] = []
    seen: set[str] = set()
    for index, item_id in enumerate(ids):
        state, doc = stored.get(item_id, ("gone", None))
        if state != "pending":
            continue
        found = _candidate(doc)
        if found is None or found[1].get("id") in seen:
            slow.append(index)
            continue
        activity, obj = found
        try:
            attributed, type_, proposal = _read(activity, obj)
        except ValueError as exc:  # ParseError and SchemaError too
            rejected.append((item_id, "rejected", str(exc)))
            continue
        seen.add(obj["id"])
        fast.append(_Fast(index, item_id, obj, proposal, attributed, type_))
    applied: set[int] = set()  # positions applied here (not by the one-by-one path)
    if fast or rejected or len(slow) < len(payloads):
        try:
            async with db.write() as s:
                authors = await received_repo.actors(s, sorted({f.attributed for f in fast}))
                known = [(a := authors.get(f.attributed)) is not None and bool(a[1] or a[2])
                         for f in fast]
                slow += [f.index for f, ok in zip(fast, known) if not ok]  # author to fetch
                fast = [f for f, ok in zip(fast, known) if ok]
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
            slow += [f.index for f in fast]
            applied = set(range(len(payloads))) - set(slow)
            async with db.write() as s:
                await received_repo.mark_items(s, rejected)
                if batch is not None:
                    await batch.finish(s, applied)
        if batch is not None:
            batch.done.update(applied)
    for index in sorted(slow):
        try:
            await handlers.process(payloads[index])
        except Exception as exc:  # noqa: BLE001 - the worker retries this job by policy
            results[index] = exc
    return results


async def _store(s, fast: list[_Fast], authors: dict[str, tuple[int, bool, str | None]]
                 ) -> list[tuple[int, str, str | None]]:  # noqa: ANN001
    """Write the offers and objects of ``fast``; the state of each item."""
    outcomes: list[tuple[int, str, str | None]] = []
    if not fast:
        return outcomes
    offers = await received_repo.offers(s, [f.proposal.id for f in fast])
    objects = await received_repo.objects(s, [f.obj["id"] for f in fast])
    new, new_inputs, changed, changed_inputs = [], [], [], []
    new_objects, changed_objects = [], []
    for f in fast:
        author_id = authors[f.attributed][0]
        p = f.proposal
        offer = offers.get(p.id)
        if offer is not None and (offer[1] or offer[2] != author_id):
            outcomes.append((f.item_id, "rejected", "id: the offer belongs to another actor"))
            continue
        row_object = objects.get(f.obj["id"])
        if row_object is not None and row_object[1] != f.attributed:
            outcomes.append((f.item_id, "rejected",
                             "object.attributedTo: the object belongs to another actor"))
            continue
        values = {c: getattr(p, c) for c in received_repo.REMOTE_OFFER_COLUMNS}
        values["ap_json"] = f.obj
        if offer is None:
            new.append({"ap_id": p.id, "actor_id": author_id, "local": False, **values})
            new_inputs.append(p.inputs)
        else:
            changed.append({"_id": offer[0], **values})
            changed_inputs.append(p.inputs)
        if row_object is None:
            new_objects.append({"ap_id": f.obj["id"], "type": f.type,
                                "attributed_to": f.attributed, "ap_json": f.obj})
        else:
            changed_objects.append({"_id": row_object[0], "type": f.type, "ap_json": f.obj})
        outcomes.append((f.item_id, "processed", None))
    await received_repo.store_offers(s, new, new_inputs, changed, changed_inputs)
    await received_repo.store_objects(s, new_objects, changed_objects)
    return outcomes
