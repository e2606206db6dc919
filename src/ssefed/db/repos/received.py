"""Data access for applying many received activities at once (federation/inbox_batch.py):
reads of what exists for a whole batch, and Core statements executed for many rows."""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ssefed.db.base import utcnow
from ssefed.db.models import Actor, InboxItem, Offer, OfferInput, RemoteObject

ITEMS, ACTORS, OFFERS = InboxItem.__table__, Actor.__table__, Offer.__table__
INPUTS, OBJECTS = OfferInput.__table__, RemoteObject.__table__

# What a received Proposal sets on its offer row (besides ap_json).
REMOTE_OFFER_COLUMNS = ("direction", "kind", "role", "exchange", "category", "title", "summary",
                        "quantity", "unit", "price", "currency", "lat", "lon", "valid_until")


async def items(s: AsyncSession, ids: list[int]) -> dict[int, tuple[str, dict[str, Any]]]:
    """{id: (state, ap_json)} of stored inbox items."""
    rows = await s.execute(select(ITEMS.c.id, ITEMS.c.state, ITEMS.c.ap_json)
                           .where(ITEMS.c.id.in_(ids)))
    return {i: (state, doc) for i, state, doc in rows}


async def actors(s: AsyncSession, iris: list[str]) -> dict[str, tuple[int, bool, str | None]]:
    """{ap_id: (id, local, inbox)} of the stored actors among ``iris``."""
    rows = await s.execute(select(ACTORS.c.ap_id, ACTORS.c.id, ACTORS.c.local, ACTORS.c.inbox)
                           .where(ACTORS.c.ap_id.in_(iris)))
    return {ap_id: (i, local, inbox) for ap_id, i, local, inbox in rows}


async def actor_documents(s: AsyncSession, iris: list[str]) -> dict[str, dict[str, Any] | None]:
    """{ap_id: ap_json} of the stored actors among ``iris``."""
    if not iris:
        return {}
    rows = await s.execute(select(ACTORS.c.ap_id, ACTORS.c.ap_json).where(ACTORS.c.ap_id.in_(iris)))
    return {ap_id: doc for ap_id, doc in rows}


async def offers(s: AsyncSession, ap_ids: list[str]) -> dict[str, tuple[int, bool, int]]:
    """{ap_id: (id, local, actor id)} of the stored offers among ``ap_ids``."""
    rows = await s.execute(select(OFFERS.c.ap_id, OFFERS.c.id, OFFERS.c.local,
                                  OFFERS.c.actor_id).where(OFFERS.c.ap_id.in_(ap_ids)))
    return {ap_id: (i, local, actor) for ap_id, i, local, actor in rows}


async def objects(s: AsyncSession, ap_ids: list[str]) -> dict[str, tuple[int, str | None]]:
    """{ap_id: (id, attributed_to)} of the stored remote objects among ``ap_ids``."""
    rows = await s.execute(select(OBJECTS.c.ap_id, OBJECTS.c.id, OBJECTS.c.attributed_to)
                           .where(OBJECTS.c.ap_id.in_(ap_ids)))
    return {ap_id: (i, attributed) for ap_id, i, attributed in rows}


async def store_offers(s: AsyncSession, new: list[dict[str, Any]], new_inputs: list[list[str]],
                       changed: list[dict[str, Any]], changed_inputs: list[list[str]]) -> None:
    """Insert received offers (rows of columns) and refresh stored ones (rows with ``_id``),
    with their input categories."""
    conn = await s.connection()
    rows: list[dict[str, Any]] = []
    if new:
        # ids matched by ap_id (returning them in order inserts row by row on SQLite)
        result = await conn.execute(insert(OFFERS).returning(OFFERS.c.ap_id, OFFERS.c.id), new)
        by_ap_id = {ap_id: i for ap_id, i in result}
        rows += [{"offer_id": by_ap_id[r["ap_id"]], "category": c, "position": n}
                 for r, cats in zip(new, new_inputs) for n, c in enumerate(dict.fromkeys(cats))]
    if changed:
        now = utcnow()
        # no values(): each row's keys (column names) are what its UPDATE sets
        await conn.execute(update(OFFERS).where(OFFERS.c.id == bindparam("_id")),
                           [{**r, "deleted_at": None, "updated_at": now} for r in changed])
        ids = [r["_id"] for r in changed]
        await conn.execute(delete(INPUTS).where(INPUTS.c.offer_id.in_(ids)))
        rows += [{"offer_id": i, "category": c, "position": n}
                 for i, cats in zip(ids, changed_inputs) for n, c in enumerate(dict.fromkeys(cats))]
    if rows:
        await conn.execute(insert(INPUTS), rows)


async def store_objects(s: AsyncSession, new: list[dict[str, Any]],
                        changed: list[dict[str, Any]]) -> None:
    """Insert remote objects and refresh stored ones (rows with ``_id``, ``type``, ``ap_json``)."""
    conn = await s.connection()
    now = utcnow()
    if new:
        await conn.execute(insert(OBJECTS), [{**r, "received_at": now, "updated_at": now}
                                             for r in new])
    if changed:
        await conn.execute(update(OBJECTS).where(OBJECTS.c.id == bindparam("_id")),
                           [{**r, "deleted_at": None, "updated_at": now} for r in changed])


async def mark_items(s: AsyncSession, outcomes: list[tuple[int, str, str | None]]) -> None:
    """Set the state (and error) of many inbox items: [(id, state, error)]."""
    if not outcomes:
        return
    conn = await s.connection()
    processed = [i for i, st, err in outcomes if st == "processed" and err is None]
    if processed:  # the common case: one statement for all
        await conn.execute(update(ITEMS).where(ITEMS.c.id.in_(processed))
                           .values(state="processed", error=None))
    others = [(i, st, err) for i, st, err in outcomes if not (st == "processed" and err is None)]
    if others:
        await conn.execute(update(ITEMS).where(ITEMS.c.id == bindparam("_id")),
                           [{"_id": i, "state": st, "error": err[:2000] if err else None}
                            for i, st, err in others])


# -- the same, straight to the sqlite3 driver ------------------------------------------
# For the batch of received offers on SQLite: run in Database.sqlite_direct_write (one
# thread hop, one transaction, no session). Same rows and columns as the functions above,
# stored as SQLAlchemy stores them on SQLite (JSON text, naive UTC stamps, numerics as
# REAL, dates as ISO text, booleans as 0/1).

def _marks(n: int) -> str:
    return ", ".join("?" * n)


def _select_in(conn: sqlite3.Connection, sql: str, values: list) -> list[tuple]:
    """Rows of ``sql`` (ending in ``IN``) for ``values``, in chunks under SQLite's limit."""
    rows: list[tuple] = []
    for k in range(0, len(values), 30000):
        chunk = values[k:k + 30000]
        rows += conn.execute(f"{sql} ({_marks(len(chunk))})", chunk).fetchall()
    return rows


def sqlite_items(conn: sqlite3.Connection, ids: list[int]
                 ) -> dict[int, tuple[str, dict[str, Any]]]:
    """``items`` on a sqlite3 connection."""
    return {i: (state, json.loads(doc) if doc is not None else None) for i, state, doc in
            _select_in(conn, "SELECT id, state, ap_json FROM inbox_items WHERE id IN", ids)}


def sqlite_actors(conn: sqlite3.Connection, iris: list[str]
                  ) -> dict[str, tuple[int, bool, str | None]]:
    """``actors`` on a sqlite3 connection."""
    return {ap_id: (i, bool(local), inbox) for ap_id, i, local, inbox in _select_in(
        conn, "SELECT ap_id, id, local, inbox FROM actors WHERE ap_id IN", iris)}


def sqlite_actor_documents(conn: sqlite3.Connection, iris: list[str]
                           ) -> dict[str, dict[str, Any] | None]:
    """``actor_documents`` on a sqlite3 connection."""
    return {ap_id: json.loads(doc) if doc is not None else None for ap_id, doc in _select_in(
        conn, "SELECT ap_id, ap_json FROM actors WHERE ap_id IN", iris)}


def sqlite_known_networks(conn: sqlite3.Connection, ap_ids: list[str]) -> set[str]:
    """The networks among ``ap_ids`` this node knows (networks.checked: their keys)."""
    return {a for a, in _select_in(conn, "SELECT ap_id FROM known_networks WHERE ap_id IN",
                                   ap_ids)}


def sqlite_offers(conn: sqlite3.Connection, ap_ids: list[str]) -> dict[str, tuple[int, bool, int]]:
    """``offers`` on a sqlite3 connection."""
    return {ap_id: (i, bool(local), actor) for ap_id, i, local, actor in _select_in(
        conn, "SELECT ap_id, id, local, actor_id FROM offers WHERE ap_id IN", ap_ids)}


def sqlite_objects(conn: sqlite3.Connection, ap_ids: list[str]) -> dict[str, tuple[int, str | None]]:
    """``objects`` on a sqlite3 connection."""
    return {ap_id: (i, attributed) for ap_id, i, attributed in _select_in(
        conn, "SELECT ap_id, id, attributed_to FROM remote_objects WHERE ap_id IN", ap_ids)}


def _sqlite_value(value: Any) -> Any:
    """A column value as SQLAlchemy binds it on SQLite (a str as it is: JSON text too)."""
    if isinstance(value, Decimal):
        return float(value)  # Numeric on SQLite: to_float
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return value


def sqlite_json_once(rows: list[dict[str, Any]]) -> None:
    """Replace the ``ap_json`` documents of ``rows`` by their JSON text (as SQLAlchemy
    writes it), each document serialised once however many rows hold it; the sqlite_store_*
    functions store such text as it is."""
    texts: dict[int, tuple[Any, str]] = {}  # id -> (the document, kept alive; its text)
    for r in rows:
        doc = r["ap_json"]
        if not isinstance(doc, str):
            if id(doc) not in texts:
                texts[id(doc)] = (doc, json.dumps(doc))
            r["ap_json"] = texts[id(doc)][1]


_SQLITE_OFFER = (f"INSERT INTO offers (ap_id, actor_id, local, {', '.join(REMOTE_OFFER_COLUMNS)}, "
                 f"ap_json, published_at, updated_at) VALUES "
                 f"({_marks(len(REMOTE_OFFER_COLUMNS) + 6)})")
_SQLITE_OFFER_UPDATE = (f"UPDATE offers SET {', '.join(f'{c} = ?' for c in REMOTE_OFFER_COLUMNS)}, "
                        f"ap_json = ?, deleted_at = NULL, updated_at = ? WHERE id = ?")


def sqlite_store_offers(conn: sqlite3.Connection, new: list[dict[str, Any]],
                        new_inputs: list[list[str]], changed: list[dict[str, Any]],
                        changed_inputs: list[list[str]]) -> None:
    """``store_offers`` on a sqlite3 connection (the same rows)."""
    stamp = _sqlite_value(utcnow())
    rows: list[tuple] = []
    for r, cats in zip(new, new_inputs):
        offer_id = conn.execute(_SQLITE_OFFER, [
            r["ap_id"], r["actor_id"], int(r["local"]),
            *(_sqlite_value(r[c]) for c in REMOTE_OFFER_COLUMNS), _sqlite_value(r["ap_json"]),
            stamp, stamp]).lastrowid
        rows += [(offer_id, c, n) for n, c in enumerate(dict.fromkeys(cats))]
    if changed:
        conn.executemany(_SQLITE_OFFER_UPDATE, [
            [*(_sqlite_value(r[c]) for c in REMOTE_OFFER_COLUMNS), _sqlite_value(r["ap_json"]),
             stamp, r["_id"]] for r in changed])
        ids = [r["_id"] for r in changed]
        conn.execute(f"DELETE FROM offer_inputs WHERE offer_id IN ({_marks(len(ids))})", ids)
        rows += [(i, c, n) for i, cats in zip(ids, changed_inputs)
                 for n, c in enumerate(dict.fromkeys(cats))]
    if rows:
        conn.executemany("INSERT INTO offer_inputs (offer_id, category, position) "
                         "VALUES (?, ?, ?)", rows)


def sqlite_store_objects(conn: sqlite3.Connection, new: list[dict[str, Any]],
                         changed: list[dict[str, Any]]) -> None:
    """``store_objects`` on a sqlite3 connection (the same rows)."""
    stamp = _sqlite_value(utcnow())
    if new:
        conn.executemany("INSERT INTO remote_objects (ap_id, type, attributed_to, ap_json, "
                         "received_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)", [
                             (r["ap_id"], r["type"], r["attributed_to"],
                              _sqlite_value(r["ap_json"]), stamp, stamp) for r in new])
    if changed:
        conn.executemany("UPDATE remote_objects SET type = ?, ap_json = ?, deleted_at = NULL, "
                         "updated_at = ? WHERE id = ?", [
                             (r["type"], _sqlite_value(r["ap_json"]), stamp, r["_id"])
                             for r in changed])


def sqlite_mark_items(conn: sqlite3.Connection, outcomes: list[tuple[int, str, str | None]]
                      ) -> None:
    """``mark_items`` on a sqlite3 connection."""
    processed = [i for i, st, err in outcomes if st == "processed" and err is None]
    for k in range(0, len(processed), 30000):
        chunk = processed[k:k + 30000]
        conn.execute(f"UPDATE inbox_items SET state = 'processed', error = NULL "
                     f"WHERE id IN ({_marks(len(chunk))})", chunk)
    others = [(st, err[:2000] if err else None, i) for i, st, err in outcomes
              if not (st == "processed" and err is None)]
    if others:
        conn.executemany("UPDATE inbox_items SET state = ?, error = ? WHERE id = ?", others)
