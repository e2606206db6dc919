"""Raw signatures (the private-key operation of httpsig.sign_bytes) made beside the event
loop, in a stock process pool.

Why a process and not threads: RSA signing releases the GIL, but a signing thread must
take it back after each operation, and while the event loop is busy (as it is during a
fan-out) it waits up to the 5 ms switch interval for it: threads barely sign faster than
the loop itself. A worker process has its own GIL.

The requests made during one turn of the event loop go to the pool as one task, so a
fan-out costs one pickling and one pipe round trip per turn, not per signature, and each
private key goes once per batch, however many requests it signs. Private keys travel
with their batch through the pool's pipe only (never written anywhere, never
logged); the worker keeps them parsed (httpsig caches them). A worker that dies breaks
the pool: the batch is sent once more to a new pool, and signed in the event loop if that
breaks too. A request the worker cannot sign is signed in the event loop, which raises
the error it would raise anyway.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import multiprocessing
import os
import signal
import sys
from concurrent.futures.process import BrokenProcessPool
from typing import Callable

from ssefed.federation.httpsig import sign_bytes

log = logging.getLogger("ssefed.signing")

Request = tuple[str, str | None, bytes]  # private key (PEM), algorithm, bytes to sign


def sign_batch(keys: list[str], requests: list[tuple[int, str | None, bytes]]
               ) -> list[bytes | None]:
    """In a worker: each request's signature (a request names its private key by its
    index in ``keys``), None for those that failed (their error is raised again when the
    node signs them itself)."""
    out: list[bytes | None] = []
    for key, algorithm, data in requests:
        try:
            out.append(sign_bytes(keys[key], algorithm, data))
        except Exception:
            out.append(None)
    return out


def _worker_setup(node: int) -> None:
    # Ctrl-C is the node's to handle (it closes the pool); and when the node dies without
    # closing it, the kernel ends the worker (Linux PR_SET_PDEATHSIG) instead of leaving
    # it holding the keys.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
    if os.getppid() != node:  # the node died before prctl took effect
        os._exit(0)


def process_pool() -> concurrent.futures.Executor:
    """One worker process, started afresh (spawn: forking a node that runs threads could
    copy a lock another thread holds)."""
    return concurrent.futures.ProcessPoolExecutor(
        1, mp_context=multiprocessing.get_context("spawn"),
        initializer=_worker_setup, initargs=(os.getpid(),))


class SigningPool:
    """Signs in an executor (``new_executor()``, made again when it breaks), one batch per
    turn of the event loop."""

    def __init__(self, new_executor: Callable[[], concurrent.futures.Executor]) -> None:
        self._new_executor = new_executor
        self._executor: concurrent.futures.Executor | None = None
        self._batch: list[tuple[Request, asyncio.Future[bytes | None]]] = []
        self._sending: set[asyncio.Task] = set()
        self._running = False  # till start() (one-off commands) and after close(): in the loop

    def start(self) -> None:
        """Sign in the executor from now on; its worker starts now, so that the first
        request does not wait for it."""
        self._running = True
        self._pool().submit(sign_batch, [], [])

    def _pool(self) -> concurrent.futures.Executor:
        if self._executor is None:
            self._executor = self._new_executor()
        return self._executor

    async def sign(self, private_pem: str, algorithm: str | None, data: bytes) -> bytes:
        """The raw signature of ``data``, as ``sign_bytes`` gives it."""
        if not self._running:
            return sign_bytes(private_pem, algorithm, data)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bytes | None] = loop.create_future()
        if not self._batch:
            loop.call_soon(self._send)
        self._batch.append(((private_pem, algorithm, data), future))
        signature = await future
        return signature if signature is not None else sign_bytes(private_pem, algorithm, data)

    def _send(self) -> None:
        batch, self._batch = self._batch, []
        task = asyncio.ensure_future(self._sign_batch(batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _sign_batch(self, batch: list[tuple[Request, asyncio.Future]]) -> None:
        signatures: list[bytes | None] = [None] * len(batch)
        keys: dict[str, int] = {}
        requests = [(keys.setdefault(pem, len(keys)), algorithm, data)
                    for (pem, algorithm, data), _ in batch]
        try:
            for attempt in (1, 2):
                pool = self._pool()
                try:
                    signatures = await asyncio.get_running_loop().run_in_executor(
                        pool, sign_batch, list(keys), requests)
                    break
                except BrokenProcessPool:
                    log.warning("the signing process died; %s", "starting another" if attempt == 1
                                else "this batch is signed in the event loop")
                    if self._executor is pool:
                        self._executor = None
                    pool.shutdown(wait=False)
        except Exception as exc:  # the pool is closed or cannot start: signed in the loop
            log.warning("signing process unavailable (%s); signing in the event loop",
                        type(exc).__name__)
        finally:
            for (_, future), signature in zip(batch, signatures):
                if not future.done():
                    future.set_result(signature)

    async def close(self) -> None:
        self._running = False
        for task in list(self._sending):
            task.cancel()
        await asyncio.gather(*self._sending, return_exceptions=True)
        if self._executor is not None:
            executor, self._executor = self._executor, None
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)
