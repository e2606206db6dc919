"""The signing child process: real processes, real keys, every answer verified."""

from __future__ import annotations

import asyncio
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time

import pytest

from ssefed.domain import keys
from ssefed.federation import httpsig, signproc
from ssefed.federation.signproc import SigningProcess

RSA = keys.generate("rsa")
ED = keys.generate("ed25519")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its parent) counts as gone
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def _started(sp: SigningProcess) -> SigningProcess:
    sp.start()
    for _ in range(500):
        if sp.ready:
            return sp
        await asyncio.sleep(0.01)
    raise AssertionError("the signing process did not start")


def test_signatures_from_the_child_verify_for_every_key_kind():
    async def main() -> None:
        sp = await _started(SigningProcess(httpsig.sign_bytes))
        try:
            data = [b"request %d" % i for i in range(300)]  # more than one batch frame
            sigs = await asyncio.gather(*(sp.sign(RSA.private_pem, None, d) for d in data))
            for d, sig in zip(data, sigs):
                httpsig.verify_bytes(RSA.public_pem, None, d, sig)
            sig = await sp.sign(RSA.private_pem, "rsa-pss-sha512", b"pss")
            httpsig.verify_bytes(RSA.public_pem, "rsa-pss-sha512", b"pss", sig)
            sig = await sp.sign(ED.private_pem, None, b"ed")
            httpsig.verify_bytes(ED.public_pem, None, b"ed", sig)
            assert sp.ready
        finally:
            await sp.close()

    asyncio.run(main())


def test_a_request_the_key_cannot_sign_fails_as_it_would_in_the_event_loop():
    async def main() -> None:
        sp = await _started(SigningProcess(httpsig.sign_bytes))
        try:
            with pytest.raises(Exception) as in_child:
                await sp.sign(RSA.private_pem, "ed25519", b"x")
            with pytest.raises(Exception) as local:
                httpsig.sign_bytes(RSA.private_pem, "ed25519", b"x")
            assert str(local.value) in str(in_child.value)
            assert sp.ready  # the child goes on
        finally:
            await sp.close()

    asyncio.run(main())


def test_a_killed_child_loses_no_signature_and_is_started_again():
    async def main() -> None:
        sp = await _started(SigningProcess(httpsig.sign_bytes))
        try:
            first = sp._proc.pid
            pending = asyncio.gather(*(sp.sign(RSA.private_pem, None, b"k%d" % i)
                                       for i in range(400)))
            await asyncio.sleep(0.02)
            os.kill(first, signal.SIGKILL)
            sigs = await pending  # signed by the child or, after its death, in the loop
            for i, sig in enumerate(sigs):
                httpsig.verify_bytes(RSA.public_pem, None, b"k%d" % i, sig)
            await sp.sign(RSA.private_pem, None, b"next")  # starts a new child
            await _started(sp)
            assert sp._proc.pid != first
            sig = await sp.sign(RSA.private_pem, None, b"again")
            httpsig.verify_bytes(RSA.public_pem, None, b"again", sig)
        finally:
            await sp.close()

    asyncio.run(main())


def test_restarts_are_bounded_then_signing_stays_in_the_event_loop(monkeypatch):
    monkeypatch.setattr(signproc, "MAX_RESTARTS", 1)

    async def main() -> None:
        sp = SigningProcess(httpsig.sign_bytes)
        try:
            for _ in range(2):  # the first start and one restart
                await _started(sp)
                os.kill(sp._proc.pid, signal.SIGKILL)
                while sp.ready:
                    await asyncio.sleep(0.01)
            sig = await sp.sign(RSA.private_pem, None, b"local")
            httpsig.verify_bytes(RSA.public_pem, None, b"local", sig)
            await asyncio.sleep(0.3)
            assert not sp.ready and sp._starting is None
        finally:
            await sp.close()

    asyncio.run(main())


def test_close_ends_the_child():
    async def main() -> int:
        sp = await _started(SigningProcess(httpsig.sign_bytes))
        await sp.sign(RSA.private_pem, None, b"x")
        pid = sp._proc.pid
        await sp.close()
        return pid

    pid = asyncio.run(main())
    assert not _alive(pid)


def test_the_child_dies_with_the_node():
    parent = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import asyncio, sys
        from ssefed.federation import httpsig
        from ssefed.federation.signproc import SigningProcess
        async def main():
            sp = SigningProcess(httpsig.sign_bytes)
            sp.start()
            while not sp.ready:
                await asyncio.sleep(0.01)
            print(sp._proc.pid, flush=True)
            await asyncio.sleep(60)
        asyncio.run(main())
    """)], stdout=subprocess.PIPE, text=True, env=os.environ)
    try:
        child = int(parent.stdout.readline())
        assert _alive(child)
        parent.kill()  # no cleanup runs in the parent
        parent.wait(10)
        deadline = time.monotonic() + 5
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child)
    finally:
        parent.kill()


def test_the_child_refuses_oversized_frames():
    for frame in (struct.pack(">I", signproc.MAX_FRAME + 1),
                  struct.pack(">IcI", 5, b"S", signproc.MAX_BATCH + 1),
                  struct.pack(">IcI", 5 + 13, b"S", 1)
                  + struct.pack(">IIBI", 1, 0, 1, signproc.MAX_DATA + 1)):
        child = subprocess.run([sys.executable, "-m", "ssefed.federation.signproc"],
                               input=frame, capture_output=True, timeout=30, env=os.environ)
        assert child.stdout == b"SIGN" and child.returncode == 2


def test_data_beyond_the_bound_is_signed_in_the_event_loop():
    async def main() -> None:
        sp = await _started(SigningProcess(httpsig.sign_bytes))
        try:
            big = b"x" * (signproc.MAX_DATA + 1)
            sig = await sp.sign(RSA.private_pem, None, big)
            httpsig.verify_bytes(RSA.public_pem, None, big, sig)
            assert sp._next_id == 0  # never sent to the child
        finally:
            await sp.close()

    asyncio.run(main())


def test_more_keys_than_the_child_holds_are_all_signed_by_the_child(monkeypatch):
    monkeypatch.setattr(signproc, "MAX_KEYS", 2)
    pairs = [keys.generate("ed25519") for _ in range(5)]

    async def main() -> None:
        sp = await _started(SigningProcess(lambda *a: pytest.fail("signed in the loop")))
        try:
            for _ in range(2):  # interleaved in one batch: old numbers, forget, new numbers
                sigs = await asyncio.gather(*(sp.sign(p.private_pem, None, b"%d" % i)
                                              for i, p in enumerate(pairs)))
                for i, (p, sig) in enumerate(zip(pairs, sigs)):
                    httpsig.verify_bytes(p.public_pem, None, b"%d" % i, sig)
        finally:
            await sp.close()

    asyncio.run(main())
