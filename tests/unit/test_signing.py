"""Signing in a process pool: real worker processes, real keys, every answer verified."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from aiohttp import web

from ssefed.domain import keys
from ssefed.federation import httpsig, signing
from ssefed.federation.client import FederationClient, Signer
from ssefed.federation.signing import SigningPool

RSA = keys.generate("rsa")
ED = keys.generate("ed25519")


class CountingPool(concurrent.futures.ProcessPoolExecutor):
    """The real pool of signing.process_pool, recording the size of each batch sent."""

    made: list[CountingPool] = []

    def __init__(self, **kwargs) -> None:
        super().__init__(1, mp_context=multiprocessing.get_context("spawn"),
                         initializer=signing._worker_setup, initargs=(os.getpid(),), **kwargs)
        self.batches: list[int] = []
        self.keys: list[int] = []  # private keys sent with each batch
        CountingPool.made.append(self)

    def submit(self, fn, /, *args, **kwargs):
        self.batches.append(len(args[1]))  # sign_batch(keys, requests)
        self.keys.append(len(args[0]))
        return super().submit(fn, *args, **kwargs)

    def worker_pids(self) -> list[int]:
        return list(self._processes or {})


@pytest.fixture
def pools():
    CountingPool.made = []
    yield CountingPool.made


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:  # a zombie (exited, not reaped) counts as gone
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def _until(condition, timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await asyncio.sleep(0.005)


async def _started(pool: SigningPool, counting: list[CountingPool]) -> CountingPool:
    pool.start()
    await _until(lambda: counting and counting[-1].worker_pids(), what="the worker")
    return counting[-1]


async def test_signatures_from_the_worker_verify_and_equal_those_made_in_the_loop(pools):
    pool = SigningPool(CountingPool)
    try:
        executor = await _started(pool, pools)
        data = [b"request %d" % i for i in range(50)]
        sigs = await asyncio.gather(*(pool.sign(RSA.private_pem, None, d) for d in data))
        for d, sig in zip(data, sigs):
            httpsig.verify_bytes(RSA.public_pem, None, d, sig)
            assert sig == httpsig.sign_bytes(RSA.private_pem, None, d)  # PKCS#1 v1.5
        sig = await pool.sign(RSA.private_pem, "rsa-pss-sha512", b"pss")
        httpsig.verify_bytes(RSA.public_pem, "rsa-pss-sha512", b"pss", sig)
        sig = await pool.sign(ED.private_pem, None, b"ed")
        assert sig == httpsig.sign_bytes(ED.private_pem, None, b"ed")
        assert sum(executor.batches) == 52 and len(pools) == 1  # all signed by the worker
        assert executor.worker_pids()[0] != os.getpid()
    finally:
        await pool.close()


async def test_requests_made_in_one_loop_turn_go_to_the_worker_as_one_batch_each_key_once(pools):
    pool = SigningPool(CountingPool)
    try:
        executor = await _started(pool, pools)
        first = [pool.sign(RSA.private_pem, None, b"a%d" % i) for i in range(100)]
        await asyncio.gather(*first)
        second = [pool.sign(key.private_pem, None, b"b%d" % i)
                  for i, key in enumerate([ED, RSA] * 4)]
        await asyncio.gather(*second)
        assert executor.batches == [0, 100, 8]  # the start, then one batch per turn
        assert executor.keys == [0, 1, 2]  # each key once per batch
    finally:
        await pool.close()


async def test_a_request_the_key_cannot_sign_fails_as_it_would_in_the_event_loop(pools):
    pool = SigningPool(CountingPool)
    try:
        await _started(pool, pools)
        with pytest.raises(Exception) as in_pool:
            await pool.sign(RSA.private_pem, "ed25519", b"x")
        with pytest.raises(Exception) as local:
            httpsig.sign_bytes(RSA.private_pem, "ed25519", b"x")
        assert type(in_pool.value) is type(local.value)
        assert str(in_pool.value) == str(local.value)
        good = await pool.sign(RSA.private_pem, None, b"y")  # the worker goes on
        httpsig.verify_bytes(RSA.public_pem, None, b"y", good)
        assert len(pools) == 1
    finally:
        await pool.close()


async def test_a_killed_worker_is_replaced_and_its_batch_signed_by_the_new_one(pools):
    pool = SigningPool(CountingPool)
    try:
        first = await _started(pool, pools)
        (pid,) = first.worker_pids()
        pending = asyncio.gather(*(pool.sign(RSA.private_pem, None, b"k%d" % i)
                                   for i in range(1000)))
        await _until(lambda: len(first.batches) == 2, what="the batch sent")
        os.kill(pid, signal.SIGKILL)  # while it signs the batch
        sigs = await pending
        for i, sig in enumerate(sigs):
            httpsig.verify_bytes(RSA.public_pem, None, b"k%d" % i, sig)
        assert len(pools) == 2 and pools[1].batches == [1000]  # sent again, to a new pool
        assert pools[1].worker_pids() and pools[1].worker_pids()[0] != pid
        later = await pool.sign(RSA.private_pem, None, b"later")
        httpsig.verify_bytes(RSA.public_pem, None, b"later", later)
        assert len(pools) == 2 and pools[1].batches == [1000, 1]
    finally:
        await pool.close()


def _broken_pool() -> concurrent.futures.Executor:
    # a worker that dies as it starts, every time
    return concurrent.futures.ProcessPoolExecutor(
        1, mp_context=multiprocessing.get_context("spawn"), initializer=os._exit,
        initargs=(3,))


async def test_a_pool_that_keeps_breaking_still_signs_every_request_in_the_event_loop():
    pool = SigningPool(_broken_pool)
    pool.start()
    try:
        sigs = await asyncio.gather(*(pool.sign(RSA.private_pem, None, b"%d" % i)
                                      for i in range(5)))
        for i, sig in enumerate(sigs):
            httpsig.verify_bytes(RSA.public_pem, None, b"%d" % i, sig)
    finally:
        await pool.close()


async def test_before_start_and_after_close_requests_are_signed_in_the_event_loop(pools):
    pool = SigningPool(CountingPool)
    sig = await pool.sign(RSA.private_pem, None, b"one-off")  # a CLI command's fetch
    httpsig.verify_bytes(RSA.public_pem, None, b"one-off", sig)
    assert pools == []  # no process started for it
    executor = await _started(pool, pools)
    (pid,) = executor.worker_pids()
    await pool.sign(RSA.private_pem, None, b"x")
    await pool.close()
    assert not _alive(pid)  # close ends the worker
    sig = await pool.sign(RSA.private_pem, None, b"after")
    httpsig.verify_bytes(RSA.public_pem, None, b"after", sig)
    assert len(pools) == 1


def test_the_worker_dies_with_the_node():
    node = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import asyncio
        from ssefed.federation.signing import SigningPool, process_pool
        async def main():
            pool = SigningPool(process_pool)
            pool.start()
            while not pool._executor._processes:
                await asyncio.sleep(0.01)
            print(*pool._executor._processes, flush=True)
            await asyncio.sleep(60)
        asyncio.run(main())
    """)], stdout=subprocess.PIPE, text=True, env=os.environ)
    try:
        worker = int(node.stdout.readline())
        assert _alive(worker)
        node.kill()  # no cleanup runs in the node
        node.wait(10)
        deadline = time.monotonic() + 10
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(worker)
    finally:
        node.kill()


async def test_posts_signed_by_the_worker_verify_at_the_receiver_in_both_specs():
    seen: list[str] = []

    async def inbox(request: web.Request) -> web.Response:
        body = await request.read()
        info = httpsig.parse_signature(request.method, str(request.url), request.headers)
        httpsig.verify(info, request.method, str(request.url), request.headers, body,
                       RSA.public_pem)  # raises on a bad signature or digest: a 500
        seen.append(info.spec)
        return web.Response(status=202)

    app = web.Application()
    app.router.add_post("/{name}/inbox", inbox)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    specs = {base.removeprefix("http://"): "rfc9421"}
    signer = Signer("https://a.example/actor#main-key", RSA.private_pem)
    client_of = functools.partial(FederationClient, allow_private=True, timeout=5,
                                  delivery_timeout=5, max_bytes=10_000, max_redirects=3,
                                  signing_process=True)
    try:
        for client in (client_of(), client_of(spec_for=specs.get)):
            client.start()
            try:
                answers = await asyncio.gather(*(client.post(f"{base}/{i}/inbox", b'{"n":%d}' % i,
                                                             signer) for i in range(20)))
                assert [a.status for a in answers] == [202] * 20
            finally:
                await client.close()
        assert seen == ["cavage"] * 20 + ["rfc9421"] * 20
    finally:
        await runner.cleanup()
