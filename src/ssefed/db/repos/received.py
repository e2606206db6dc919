"""Data access for what other servers sent: their objects and offers as stored here, read
and written for many received objects at once, in one write transaction (Core statements
on the ``Connection`` of ``Database.run``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from ssefed.db.base import utcnow
from ssefed.db.models import Actor, Offer, OfferInput, RemoteObject

OBJECTS, OFFERS, INPUTS = RemoteObject.__table__, Offer.__table__, OfferInput.__table__
OFFER_FIELDS = ("direction", "kind", "role", "exchange", "category", "title", "summary",
                "quantity", "unit", "price", "currency", "lat", "lon", "valid_until")


@dataclass
class StoredOffer:
    id: int | None  # None: inserted by the same transaction
    actor_id: int
    local: bool


@dataclass
class StoredAuthor:
    id: int
    local: bool
    inbox: str | None
    ap_json: dict[str, Any] | None


@dataclass
class Stored:
    """What is stored of some ids: remote objects (their ``attributedTo``), offers, and
    the actors who may be their authors."""

    objects: dict[str, str | None]
    offers: dict[str, StoredOffer]
    authors: dict[str, StoredAuthor]


def stored(conn: Connection, object_ids: list[str], offer_ids: list[str],
           author_ids: list[str]) -> Stored:
    """One query per table, whatever the number of ids."""
    def rows(*columns, ids: list[str]) -> list:
        return list(conn.execute(select(*columns).where(columns[0].in_(list(dict.fromkeys(ids)))))) if ids else []

    actors = Actor.__table__
    return Stored(
        {ap_id: owner for ap_id, owner in rows(OBJECTS.c.ap_id, OBJECTS.c.attributed_to,
                                               ids=object_ids)},
        {r[0]: StoredOffer(*r[1:]) for r in rows(OFFERS.c.ap_id, OFFERS.c.id, OFFERS.c.actor_id,
                                                 OFFERS.c.local, ids=offer_ids)},
        {r[0]: StoredAuthor(*r[1:]) for r in rows(actors.c.ap_id, actors.c.id, actors.c.local,
                                                  actors.c.inbox, actors.c.ap_json,
                                                  ids=author_ids)})


@dataclass
class Changes:
    """The rows to write, by id: a later change of the same id replaces the earlier one
    (whether it is then inserted or updated is what was stored before the first)."""

    objects: dict[str, tuple[bool, dict[str, Any]]] = field(default_factory=dict)
    offers: dict[str, tuple[int | None, dict[str, Any], list[str]]] = field(
        default_factory=dict)

    def object(self, ap_id: str, type_: str, attributed_to: str, doc: dict[str, Any],
               exists: bool) -> None:
        exists = self.objects[ap_id][0] if ap_id in self.objects else exists
        self.objects[ap_id] = (exists, {"type": type_, "attributed_to": attributed_to,
                                        "ap_json": doc})

    def offer(self, proposal: Any, doc: dict[str, Any], actor_id: int,
              offer_id: int | None) -> None:
        """``proposal``: a vocab.proposals.RemoteProposal; ``offer_id``: its stored row."""
        offer_id = self.offers[proposal.id][0] if proposal.id in self.offers else offer_id
        values = {name: getattr(proposal, name) for name in OFFER_FIELDS}
        values.update(actor_id=actor_id, ap_json=doc)
        self.offers[proposal.id] = (offer_id, values, list(dict.fromkeys(proposal.inputs)))


def write(conn: Connection, changes: Changes) -> None:
    """Write ``changes``: a few statements whatever their number (executemany)."""
    now = utcnow()
    times = {"deleted_at": None, "updated_at": now}
    new = [{"ap_id": ap_id, **values, **times, "received_at": now}
           for ap_id, (exists, values) in changes.objects.items() if not exists]
    changed = [{"b_ap_id": ap_id, **values, **times}
               for ap_id, (exists, values) in changes.objects.items() if exists]
    if new:
        conn.execute(insert(OBJECTS), new)
    if changed:
        conn.execute(update(OBJECTS).where(OBJECTS.c.ap_id == bindparam("b_ap_id")), changed)
    new = [{"ap_id": ap_id, **values, **times, "local": False, "published_at": now}
           for ap_id, (offer_id, values, _) in changes.offers.items() if offer_id is None]
    changed = [{"b_id": offer_id, **values, **times}
               for offer_id, values, _ in changes.offers.values() if offer_id is not None]
    ids = {ap_id: offer_id for ap_id, (offer_id, _, _) in changes.offers.items() if offer_id}
    if new:
        ids.update({ap_id: offer_id for offer_id, ap_id in conn.execute(
            insert(OFFERS).returning(OFFERS.c.id, OFFERS.c.ap_id,
                                     sort_by_parameter_order=True), new)})
    if changed:
        conn.execute(update(OFFERS).where(OFFERS.c.id == bindparam("b_id")), changed)
        conn.execute(delete(INPUTS).where(INPUTS.c.offer_id.in_([c["b_id"] for c in changed])))
    inputs = [{"offer_id": ids[ap_id], "category": category, "position": position}
              for ap_id, (_, _, categories) in changes.offers.items()
              for position, category in enumerate(categories)]
    if inputs:
        conn.execute(insert(INPUTS), inputs)
