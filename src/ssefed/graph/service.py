"""SPARQL over the projection, as the endpoint and the CLI use it: check the query,
bring the projection up to date, run the query within the configured limits."""

from __future__ import annotations

import asyncio

from ssefed.config import Config
from ssefed.db.session import Database
from ssefed.graph.projection import Projection, SyncReport
from ssefed.graph.queries import Answer, QueryStopped, check_query, run_query


class Sparql:
    def __init__(self, config: Config, db: Database) -> None:
        self.db, self.limits = db, config.sparql
        self.projection = Projection.for_config(config)
        self._slots = asyncio.Semaphore(self.limits.concurrency)
        self.last_sync: SyncReport | None = None

    async def answer(self, text: str, *, graph_format: str = "turtle") -> Answer:
        """The answer to ``text``; QueryRefused (bad or refused query) or QueryStopped."""
        query = check_query(text)
        timeout = self.limits.timeout_seconds
        try:
            await asyncio.wait_for(self._slots.acquire(), timeout)
        except asyncio.TimeoutError:
            raise QueryStopped("busy", f"{self.limits.concurrency} queries are running; "
                                       f"none ended within {timeout:g} s") from None
        try:
            self.last_sync = await self.projection.sync(self.db, wait=timeout)
            return await run_query(self.projection.store_path, self.projection.lock_path,
                                   query, timeout=timeout,
                                   max_memory_mb=self.limits.max_memory_mb,
                                   max_results=self.limits.max_results,
                                   graph_format=graph_format)
        finally:
            self._slots.release()

    async def rebuild(self) -> SyncReport:
        return await self.projection.rebuild(self.db)
