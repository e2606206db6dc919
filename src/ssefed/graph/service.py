"""SPARQL over the projection, as the endpoint and the CLI use it: refuse an empty or
too large query, give each client its share of the slots, bring the projection up to
date, check and run the query within the configured limits (in a child process)."""

from __future__ import annotations

import asyncio
import math

from ssefed.config import Config
from ssefed.db.session import Database
from ssefed.graph.projection import Projection, SyncReport
from ssefed.graph.queries import Answer, OverClientShare, QueryStopped, check_size, run_query


class Sparql:
    def __init__(self, config: Config, db: Database) -> None:
        self.db, self.limits = db, config.sparql
        self.projection = Projection.for_config(config)
        self._slots = asyncio.Semaphore(self.limits.concurrency)
        self._by_client: dict[str, int] = {}  # queries running or waiting, per client

    async def answer(self, text: str, *, graph_format: str = "turtle",
                     client: str | None = None) -> Answer:
        """The answer to ``text``; QueryRefused (bad or refused query) or QueryStopped
        (OverClientShare when ``client`` already has its share of the slots)."""
        check_size(text, self.limits.max_query_bytes)
        if client is None:
            return await self._answer(text, graph_format)
        share = self.limits.concurrency_per_client
        if self._by_client.get(client, 0) >= share:
            # waiting counts too: queued behind the slots, one client's queries would
            # still keep everyone else's out
            raise OverClientShare(f"this client already has {share} "
                                  f"quer{'y' if share == 1 else 'ies'} running or waiting "
                                  "([sparql] concurrency_per_client); ask again when it "
                                  "has ended", math.ceil(self.limits.timeout_seconds))
        self._by_client[client] = self._by_client.get(client, 0) + 1
        try:
            return await self._answer(text, graph_format)
        finally:
            self._by_client[client] -= 1
            if not self._by_client[client]:
                del self._by_client[client]

    async def _answer(self, text: str, graph_format: str) -> Answer:
        timeout = self.limits.timeout_seconds
        try:
            await asyncio.wait_for(self._slots.acquire(), timeout)
        except asyncio.TimeoutError:
            raise QueryStopped("busy", f"{self.limits.concurrency} queries are running; "
                                       f"none ended within {timeout:g} s") from None
        try:
            await self.projection.sync(self.db, wait=timeout)
            return await run_query(self.projection.store_path, self.projection.lock_path,
                                   text, timeout=timeout,
                                   max_memory_mb=self.limits.max_memory_mb,
                                   max_results=self.limits.max_results,
                                   graph_format=graph_format)
        finally:
            self._slots.release()

    async def rebuild(self) -> SyncReport:
        return await self.projection.rebuild(self.db)
