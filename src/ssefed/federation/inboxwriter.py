"""Group commit for the inbox: verified activities arriving together are stored in one
transaction, and each request answers 202 only once its row is committed."""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

from ssefed.db.repos import activities as activity_repo
from ssefed.db.repos import hosts as host_repo
from ssefed.db.repos import inbox as inbox_repo
from ssefed.db.session import Database

MAX_BATCH = 256


class InboxWriter:
    def __init__(self, db: Database, is_down: Callable[[str], bool],
                 on_back: Callable[[str], None]) -> None:
        self.db, self.is_down, self.on_back = db, is_down, on_back
        self._queue: list[tuple[dict[str, Any], str, asyncio.Future]] = []
        self._task: asyncio.Task | None = None

    def store(self, row: dict[str, Any], host: str) -> Awaitable[int | None]:
        """Queue a row (InboxItem columns); the result is its id, or None for a duplicate."""
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._queue.append((row, host, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        return future

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            back = {host for _, host, _ in batch if self.is_down(host)}
            try:
                async with self.db.write() as s:
                    inserted = await inbox_repo.add_batch(s, [row for row, _, _ in batch])
                    for host in back:  # a host heard from again: its deliveries are due now
                        if await host_repo.heard_from(s, host):
                            await activity_repo.retry_host_now(s, host)
            except BaseException as exc:  # noqa: BLE001 - every waiting request learns it
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            for host in back:
                self.on_back(host)
            for row, _, future in batch:
                if not future.done():
                    # only the first of two identical ids in a batch gets the row
                    future.set_result(inserted.pop(row["ap_id"], None))
