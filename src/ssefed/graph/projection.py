"""The node's knowledge as RDF, in an on-disk pyoxigraph store, kept in step with the
database (the source of truth).

* Every object is one named graph, named by its IRI: a local organisation or the
  network's actor (the document it serves, without its keys), a local offer or demand
  (its FEP-0837 Proposal), an actor received from another server, an offer received
  (its Proposal as received), and other public objects received. Its triples are those
  of the object's JSON-LD through the bundled contexts, i.e. exactly what its URL
  serves as Turtle (read by ``vocab.rdf_subset`` when it can, which gives the same graph
  as pyld several times faster, else by pyld). Queries see the union of all graphs as the default graph.
* Only public data: local organisations' e-mail and phone only when the organisation
  published them (as in their documents), no keys, tokens or activities; received
  objects only when addressed to the public (actors and offers are public documents).
* Kept in step by watermark: before answering, the rows of ``actors``,
  ``organisations``, ``offers`` and ``remote_objects`` whose ``updated_at`` is past the
  last one seen (less an overlap of OVERLAP seconds, for transactions that committed
  late; rows already projected at the same ``updated_at`` are skipped) are projected
  again; a row marked deleted (``deleted_at``), of a deleted actor, or no longer
  public has its graph removed. ``ssefed sparql --rebuild`` starts afresh.
* One writer at a time across processes (the node and the CLI): an exclusive
  ``flock`` on ``lock`` while syncing; query processes hold it shared while the store
  is open read-only.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterator

from ssefed.db.repos import projection as repo
from ssefed.db.session import Database
from ssefed.vocab import jsonld, rdf_subset, to_as
from ssefed.vocab import proposals

log = logging.getLogger("ssefed.graph")

FORMAT = 2  # bump when the projection of an object changes: the store is rebuilt
OVERLAP = timedelta(seconds=60)
PAGE = 500
SOURCES = ("actors", "organisations", "offers", "remote_objects")  # tables projected
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANGSTRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
KEY_PROPERTIES = ("publicKey", "assertionMethod")  # key material is not knowledge
PUBLIC = {to_as.PUBLIC, "as:Public", "Public"}


# --- objects as RDF -----------------------------------------------------------------------

def without_keys(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in KEY_PROPERTIES}


def is_public(doc: dict[str, Any]) -> bool:
    audience = []
    for key in ("to", "cc", "audience"):
        value = doc.get(key)
        audience += value if isinstance(value, list) else [value]
    return any(isinstance(a, str) and a in PUBLIC for a in audience)


def received_proposal(doc: dict[str, Any]) -> dict[str, Any]:
    """A received Proposal stored without a ``@context`` (taken out of its activity
    before ssefed kept the activity's context with it) is read with the FEP-0837 terms
    as ssefed sends them."""
    if "@context" in doc:
        return doc
    return {"@context": [to_as.AS_CONTEXT, {**to_as.INLINE_TERMS, **to_as.OFFER_TERMS}], **doc}


def _term(node: dict[str, Any], bnodes: dict[str, Any]) -> Any:
    import pyoxigraph as ox

    kind = node["type"]
    if kind == "IRI":
        return ox.NamedNode(node["value"])
    if kind == "blank node":
        if node["value"] not in bnodes:
            bnodes[node["value"]] = ox.BlankNode()  # fresh: unique in the whole store
        return bnodes[node["value"]]
    if node.get("language"):
        return ox.Literal(node["value"], language=node["language"])
    datatype = node.get("datatype")
    if datatype in (None, XSD_STRING, RDF_LANGSTRING):
        return ox.Literal(node["value"])
    return ox.Literal(node["value"], datatype=ox.NamedNode(datatype))


def _triples(doc: dict[str, Any], tolerant: bool) -> list:
    """The triples of ``doc``: read by ``rdf_subset`` when it uses only the JSON-LD features
    of ours (the same graph, several times faster), else by pyld."""
    source = jsonld.tolerant_document(doc) if tolerant else dict(doc)
    try:
        return [{"subject": s, "predicate": p, "object": o}
                for s, p, o in rdf_subset.to_rdf_triples(source)]
    except rdf_subset.Unsupported:
        return jsonld.to_rdf_triples(source)


def document_quads(graph_iri: str, doc: dict[str, Any], *, tolerant: bool) -> list:
    """The quads of ``doc`` in the named graph ``graph_iri``. Triples pyoxigraph refuses
    (an invalid IRI or language tag in a received document) are left out."""
    import pyoxigraph as ox

    graph = ox.NamedNode(graph_iri)
    bnodes: dict[str, Any] = {}
    quads = []
    for triple in _triples(doc, tolerant):
        try:
            quads.append(ox.Quad(_term(triple["subject"], bnodes),
                                 _term(triple["predicate"], bnodes),
                                 _term(triple["object"], bnodes), graph))
        except (ValueError, TypeError):
            continue
    return quads


# --- state and store ----------------------------------------------------------------------

@dataclass
class SyncReport:
    projected: int = 0
    removed: int = 0
    failed: int = 0
    seconds: float = 0.0
    skipped: bool = False  # another process held the store for longer than we waited

    def __str__(self) -> str:
        if self.skipped:
            return "projection busy (another process is writing it): answered as it is"
        return (f"{self.projected} object(s) projected, {self.removed} removed, "
                f"{self.failed} not readable as JSON-LD, in {self.seconds:.2f} s")


class _Writer:
    """The store opened for writing lazily, at the first change."""

    def __init__(self, path: Path, *, fresh: bool) -> None:
        self.path, self.store, self.fresh = path, None, fresh

    def apply(self, changes: dict[str, list | None]) -> None:
        import pyoxigraph as ox

        if self.store is None:
            self.store = ox.Store(str(self.path))
        quads = []
        for graph_iri, graph_quads in changes.items():
            graph = ox.NamedNode(graph_iri)
            if not self.fresh and self.store.contains_named_graph(graph):
                self.store.remove_graph(graph)
            if graph_quads:
                quads.extend(graph_quads)
        if quads and self.fresh:
            # an empty store being filled under the exclusive lock: no transactions needed
            self.store.bulk_extend(quads)
        elif quads:
            self.store.extend(quads)

    def close(self) -> None:
        if self.store is not None:
            self.store.flush()
            self.store = None  # dropping the last reference closes RocksDB


class Projection:
    """The projection of one node's database in ``directory``."""

    def __init__(self, directory: Path, base_url: str, database_url: str) -> None:
        self.directory = directory
        self.base_url = base_url
        self.database = hashlib.sha256(database_url.encode()).hexdigest()[:16]
        self._lock = asyncio.Lock()

    @classmethod
    def for_config(cls, config) -> Projection:
        return cls(config.data_path / "sparql", config.node.base_url, config.database_url)

    @property
    def store_path(self) -> Path:
        return self.directory / "store"

    @property
    def lock_path(self) -> Path:
        return self.directory / "lock"

    @property
    def state_path(self) -> Path:
        return self.directory / "state.json"

    # -- locking ---------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def _exclusive(self, wait: float) -> Iterator[bool]:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        got = False
        try:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    got = True
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        break
                    await asyncio.sleep(0.05)
            yield got
        finally:
            if got:
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    # -- state -----------------------------------------------------------------------------
    def _fresh_state(self) -> dict[str, Any]:
        return {"format": FORMAT, "database": self.database, "base_url": self.base_url,
                "sources": {}}

    def _peek_state(self) -> dict[str, Any] | None:
        """The state as the last sync left it; None when a sync would start afresh."""
        try:
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if (not isinstance(state, dict) or state.get("format") != FORMAT
                or state.get("database") != self.database
                or state.get("base_url") != self.base_url or not self.store_path.exists()):
            return None
        return state

    def _load_state(self) -> dict[str, Any]:
        state = self._peek_state()
        if state is None:
            shutil.rmtree(self.store_path, ignore_errors=True)
            state = self._fresh_state()
        return state

    def _save_state(self, state: dict[str, Any]) -> None:
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state), encoding="utf-8")
        os.replace(tmp, self.state_path)

    def _ensure_store(self) -> None:
        if not self.store_path.exists():
            import pyoxigraph as ox

            store = ox.Store(str(self.store_path))
            store.flush()
            del store

    # -- sync ------------------------------------------------------------------------------
    async def sync(self, db: Database, *, wait: float = 10.0) -> SyncReport:
        """Project what changed in the database since the last sync."""
        async with self._lock:
            if not await self._changed_since_last_sync(db):
                # the store's lock is not taken: it waits for every running query, and a
                # query that changes nothing need not wait behind someone else's
                return SyncReport()
            async with self._exclusive(wait) as got:
                if not got:
                    return SyncReport(skipped=True)
                return await self._sync_locked(db)

    async def rebuild(self, db: Database, *, wait: float = 60.0) -> SyncReport:
        """Drop the store and project the whole database again."""
        async with self._lock:
            async with self._exclusive(wait) as got:
                if not got:
                    return SyncReport(skipped=True)
                shutil.rmtree(self.store_path, ignore_errors=True)
                self.state_path.unlink(missing_ok=True)
                return await self._sync_locked(db)

    async def _changed_since_last_sync(self, db: Database) -> bool:
        """Whether a sync would project anything: read without the store's lock (the
        state file is replaced whole), on a copy of the state."""
        state = await asyncio.to_thread(self._peek_state)
        if state is None:
            return True
        for source in SOURCES:
            async with contextlib.aclosing(self._changes(db, state, source)) as pages:
                async for _ in pages:
                    return True
        return False

    async def _sync_locked(self, db: Database) -> SyncReport:
        started = time.monotonic()
        state = await asyncio.to_thread(self._load_state)
        fresh = not self.store_path.exists()
        await asyncio.to_thread(self._ensure_store)
        report = SyncReport()
        writer = _Writer(self.store_path, fresh=fresh)
        try:
            async with db.read() as s:
                network = await repo.network_iri(s)
            done_actors: set[int] = set()
            offers_to_redo: set[int] = set()
            for source in SOURCES[:2]:  # actors, organisations
                async for ids in self._changes(db, state, source):
                    ids = [i for i in ids if i not in done_actors]
                    done_actors.update(ids)
                    await self._project(db, writer, "actors", ids, report, network)
                    async with db.read() as s:
                        offers_to_redo.update(await repo.offer_ids_of(s, ids))
            done_offers: set[int] = set()
            async for ids in self._changes(db, state, "offers"):
                done_offers.update(ids)
                offers_to_redo.difference_update(ids)
                await self._project(db, writer, "offers", ids, report)
            pending = sorted(offers_to_redo - done_offers)
            for i in range(0, len(pending), PAGE):
                await self._project(db, writer, "offers", pending[i:i + PAGE], report)
            async for ids in self._changes(db, state, "remote_objects"):
                await self._project(db, writer, "remote_objects", ids, report)
        finally:
            await asyncio.to_thread(writer.close)
        await asyncio.to_thread(self._save_state, state)
        report.seconds = time.monotonic() - started
        return report

    async def _changes(self, db: Database, state: dict[str, Any], source: str):
        """Pages of ids of ``source`` changed since its watermark; the watermark moves
        as each page is handed out."""
        entry = state["sources"].setdefault(source, {"max": None, "seen": {}})
        last = datetime.fromisoformat(entry["max"]) if entry["max"] else None
        since = last - OVERLAP if last else None
        seen: dict[str, str] = entry["seen"]
        after = None
        while True:
            async with db.read() as s:
                rows = await repo.changed(s, source, since, after, PAGE)
            if not rows:
                break
            after = rows[-1]
            ids = [id_ for ts, id_ in rows if seen.get(str(id_)) != ts.isoformat()]
            if ids:
                yield ids
            for ts, id_ in rows:
                seen[str(id_)] = ts.isoformat()
                if last is None or ts > last:
                    last = ts
            if len(rows) < PAGE:
                break
        if last is not None:
            horizon = last - OVERLAP
            entry["max"] = last.isoformat()
            entry["seen"] = {k: v for k, v in seen.items()
                             if datetime.fromisoformat(v) >= horizon}

    async def _apply(self, writer: _Writer, work: list[tuple[str, dict | None, bool]],
                     report: SyncReport) -> None:
        """Convert (graph, document or None to remove, tolerant) and write, off the loop."""

        def convert() -> dict[str, list | None]:
            changes: dict[str, list | None] = {}
            for graph, doc, tolerant in work:
                if doc is None:
                    changes[graph] = None
                    report.removed += 1
                    continue
                try:
                    changes[graph] = document_quads(graph, doc, tolerant=tolerant)
                    report.projected += 1
                except Exception as exc:  # a received document pyld refuses
                    log.info("not projected: %s: %s", graph, exc)
                    changes[graph] = None
                    report.failed += 1
            writer.apply(changes)

        await asyncio.to_thread(convert)

    async def _project(self, db: Database, writer: _Writer, source: str, ids: list[int],
                       report: SyncReport, network: str | None = None) -> None:
        """Project the rows ``ids`` of ``source`` (actors, offers or remote_objects)."""
        async with db.read() as s:
            rows = await getattr(repo, source)(s, ids)
        work: list[tuple[str, dict | None, bool]] = []
        if source == "actors":
            for actor, org in rows:
                if actor.deleted_at is not None:
                    work.append((actor.ap_id, None, False))
                elif actor.local:  # what GET /actors/{handle} serves, without the keys
                    work.append((actor.ap_id, to_as.actor_document(
                        actor, [], self.base_url, org, network if org is not None else None),
                        False))
                elif actor.ap_json:
                    work.append((actor.ap_id, without_keys(actor.ap_json), True))
        elif source == "offers":
            for offer, actor in rows:
                if offer.deleted_at is not None or actor.deleted_at is not None:
                    work.append((offer.ap_id, None, False))
                elif offer.local:
                    work.append((offer.ap_id, to_as.offer_object(offer, actor), False))
                elif offer.ap_json:
                    work.append((offer.ap_id, received_proposal(offer.ap_json), True))
        else:
            for row in rows:
                if proposals.is_proposal(row.ap_json):
                    continue  # received offers are projected from the offers table
                if row.deleted_at is not None or not is_public(row.ap_json):
                    work.append((row.ap_id, None, False))
                else:
                    work.append((row.ap_id, row.ap_json, True))
        await self._apply(writer, work, report)
