"""Group commit for the inbox: verified activities arriving together are stored in one
transaction, and each request answers 202 only once its row is committed."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

from ssefed.db.repos import activities as activity_repo
from ssefed.db.repos import hosts as host_repo
from ssefed.db.repos import inbox as inbox_repo
from ssefed.db.session import Database

log = logging.getLogger("ssefed.inbox")

MAX_BATCH = 256


class InboxWriter:
    def __init__(self, db: Database, is_down: Callable[[str], bool],
                 on_back: Callable[[str], None]) -> None:
        self.db, self.is_down, self.on_back = db, is_down, on_back
        self._queue: list[tuple[dict[str, Any], str, asyncio.Future]] = []
        self._drains: set[asyncio.Task] = set()
        # On PostgreSQL a group fills while the one before waits for its commit.
        self._most_drains = 1 if db.is_sqlite else 2

    def store(self, row: dict[str, Any], host: str) -> Awaitable[int | None]:
        """Queue a row (see inbox.add_batch); the result is its id, or None for a
        duplicate."""
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self.db.note_foreground()
        self._queue.append((row, host, future))
        if len(self._drains) < self._most_drains:
            drain = asyncio.create_task(self._drain())
            self._drains.add(drain)
            drain.add_done_callback(self._drains.discard)
        return future

    async def _insert(self, rows: list[dict[str, Any]]) -> dict[str, int]:
        return await inbox_repo.store_batch(self.db, rows)

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            try:
                inserted = await self._insert([row for row, _, _ in batch])
            except asyncio.CancelledError as exc:
                self._fail(batch, exc)
                raise
            except Exception as exc:  # every waiting request learns it
                if len(batch) == 1:
                    self._fail(batch, exc)
                    continue
                # One bad row must not fail the others: store them one by one.
                log.warning("storing %d received activities together failed (%r); "
                            "storing them one by one", len(batch), exc)
                inserted = {}
                for entry in batch:
                    try:
                        inserted.update(await self._insert([entry[0]]))
                    except asyncio.CancelledError as one:
                        self._fail(batch, one)
                        raise
                    except Exception as one:
                        self._fail([entry], one)
            for row, _, future in batch:
                if not future.done():
                    # only the first of two identical ids in a batch gets the row
                    future.set_result(inserted.pop(row["ap_id"], None))
            back = {host for _, host, _ in batch if self.is_down(host)}
            if back:
                await self._heard_from(back)

    async def _heard_from(self, hosts: set[str]) -> None:
        """Hosts we failed to deliver to sent us something: their deliveries are due now."""
        try:
            async with self.db.write() as s:
                for host in hosts:
                    if await host_repo.heard_from(s, host):
                        await activity_repo.retry_host_now(s, host)
        except Exception:  # the activities are stored; retries come anyway
            log.exception("marking %s as heard from failed", ", ".join(sorted(hosts)))
            return
        for host in hosts:
            self.on_back(host)

    @staticmethod
    def _fail(batch: list[tuple[dict[str, Any], str, asyncio.Future]],
              exc: BaseException) -> None:
        for _, _, future in batch:
            if not future.done():
                future.set_exception(exc)
