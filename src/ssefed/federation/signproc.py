"""Raw signatures (the private-key operation) computed in a child process.

Why a process and not threads: RSA signing releases the GIL, but a signing thread must
take the GIL back after each operation, and while the event loop thread is busy (as it
is during a fan-out) it waits up to the 5 ms switch interval for it: the threads barely
sign faster than the loop itself. A child process has its own GIL.

The child is started by the node (``python -m ssefed.federation.signproc``) and speaks
over its stdin and stdout only: the node sends each private key once (keys never leave
the node's own processes and are never written anywhere), then batches of
``(request, key, algorithm, bytes to sign)``; the child answers with the signatures.
Everything is bounded: frame size, items per batch, bytes per item, keys held. The child
exits when its stdin closes, and the kernel kills it when the node dies (Linux
``PR_SET_PDEATHSIG``). If the child dies, the requests it held are signed in the event
loop, and it is restarted at most ``MAX_RESTARTS`` times per ``RESTART_WINDOW`` seconds;
beyond that the node signs in the event loop.

Frames, both ways: a 4-byte big-endian length, then the payload.
  node -> child  b"K" key(u32) pem        register a private key under a number
                 b"C" 0(u32)             forget every key
                 b"S" n(u32) n × [id(u32) key(u32) alg(u8) len(u32) data]
  child -> node  b"R" n(u32) n × [id(u32) ok(u8) len(u32) signature-or-error-text]
                 (a batch is answered in several such frames, the first ones small)
"""

from __future__ import annotations

import asyncio
import logging
import os
import struct
import sys
import time
from typing import Callable

MAX_FRAME = 4 * 1024 * 1024
MAX_BATCH = 256            # items per frame
MAX_DATA = 64 * 1024       # bytes signed per item (a signature base is well under 4 KiB)
MAX_KEYS = 1024            # private keys the child holds
MAX_PEM = 16 * 1024
MAX_IN_FLIGHT = 4096       # requests waiting for the child (beyond: signed in the loop)
MAX_RESTARTS = 3
RESTART_WINDOW = 600.0
ALGORITHMS = ("", "rsa-v1_5-sha256", "rsa-pss-sha512", "ecdsa-p256-sha256", "ed25519")
_ALG_CODE = {a: i for i, a in enumerate(ALGORITHMS)}

log = logging.getLogger("ssefed.signing")


class SigningUnavailable(Exception):
    """The child cannot sign this now; the caller signs in the event loop."""


# --- the node's side ------------------------------------------------------------------------

class SigningProcess:
    """Sends signing requests to the child, batched: requests made during one turn of the
    event loop go out as one frame."""

    def __init__(self, sign_locally: Callable[[str, str | None, bytes], bytes]) -> None:
        self._sign_locally = sign_locally
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task | None = None
        self._starting: asyncio.Task | None = None
        self._keys: dict[str, int] = {}
        self._waiting: dict[int, asyncio.Future[bytes]] = {}
        self._batch: list[bytes] = []
        self._frames: list[bytes] = []  # frames to send, in order, before the batch
        self._flush_scheduled = False
        self._next_id = 0
        self._starts: list[float] = []
        self._closed = False
        self._wanted = False

    @property
    def ready(self) -> bool:
        return self._proc is not None and self._proc.returncode is None and self._reader is not None

    def start(self) -> None:
        """Start the child in the background (signing is local until it is up); after
        this, a child that died is started again on the next request (within limits)."""
        self._wanted = True
        if self._closed or self._starting is not None or self.ready:
            return
        now = time.monotonic()
        self._starts = [t for t in self._starts if now - t < RESTART_WINDOW]
        if len(self._starts) > MAX_RESTARTS:
            return
        self._starts.append(now)
        self._starting = asyncio.create_task(self._spawn(), name="ssefed-signing-start")

    async def _spawn(self) -> None:
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "ssefed.federation.signproc", str(os.getpid()),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                close_fds=True)
            assert proc.stdout is not None
            hello = await asyncio.wait_for(proc.stdout.readexactly(4), 30)
            if hello != b"SIGN":
                raise RuntimeError(f"unexpected greeting {hello!r}")
        except Exception as exc:  # signing stays local
            log.warning("signing process did not start: %s", exc)
            self._starting = None
            return
        if self._closed:
            await self._terminate(proc)
            self._starting = None
            return
        self._proc, self._keys = proc, {}
        self._reader = asyncio.create_task(self._read(proc), name="ssefed-signing-read")
        self._starting = None
        log.debug("signing process %s started", proc.pid)

    async def sign(self, private_pem: str, algorithm: str | None, data: bytes) -> bytes:
        """The raw signature of ``data`` (as httpsig.sign_bytes gives it)."""
        if not self.ready or len(self._waiting) >= MAX_IN_FLIGHT or len(data) > MAX_DATA:
            if not self.ready and self._wanted:
                self.start()
            return self._sign_locally(private_pem, algorithm, data)
        code = _ALG_CODE.get(algorithm or "")
        key = self._keys.get(private_pem)
        if key is None:
            if len(private_pem) > MAX_PEM or code is None:
                return self._sign_locally(private_pem, algorithm, data)
            if len(self._keys) >= MAX_KEYS:  # the child forgets them all (after the
                self._seal_batch()            # requests made before), numbers start again
                self._keys.clear()
                self._frames.append(struct.pack(">IcI", 5, b"C", 0))
            key = self._keys[private_pem] = len(self._keys)
            pem = private_pem.encode("ascii")
            self._frames.append(struct.pack(">IcI", 5 + len(pem), b"K", key) + pem)
        if code is None:
            return self._sign_locally(private_pem, algorithm, data)
        self._next_id = request = (self._next_id + 1) & 0xFFFFFFFF
        future = asyncio.get_running_loop().create_future()
        self._waiting[request] = future
        self._batch.append(struct.pack(">IIBI", request, key, code, len(data)) + data)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        try:
            return await future
        except SigningUnavailable:
            return self._sign_locally(private_pem, algorithm, data)

    def _flush(self) -> None:
        self._flush_scheduled = False
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdin.is_closing():
            self._fail_all()
            return
        self._seal_batch()
        out, self._frames = self._frames, []
        try:
            proc.stdin.write(b"".join(out))
        except (ConnectionError, RuntimeError) as exc:
            log.warning("signing process unreachable: %s", exc)
            self._fail_all()

    def _seal_batch(self) -> None:
        """The requests made so far become frames, after the frames already waiting."""
        batch, self._batch = self._batch, []
        for i in range(0, len(batch), MAX_BATCH):
            part = batch[i:i + MAX_BATCH]
            payload = b"".join(part)
            self._frames.append(struct.pack(">IcI", 5 + len(payload), b"S", len(part))
                                + payload)

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        stdout = proc.stdout
        try:
            while True:
                (length,) = struct.unpack(">I", await stdout.readexactly(4))
                if not 5 <= length <= MAX_FRAME:
                    raise ValueError(f"frame of {length} bytes")
                frame = await stdout.readexactly(length)
                if frame[:1] != b"R":
                    raise ValueError(f"unexpected frame {frame[:1]!r}")
                (count,) = struct.unpack_from(">I", frame, 1)
                pos = 5
                for _ in range(count):
                    request, ok, size = struct.unpack_from(">IBI", frame, pos)
                    pos += 9
                    value = frame[pos:pos + size]
                    pos += size
                    future = self._waiting.pop(request, None)
                    if future is None or future.done():
                        continue
                    if ok:
                        future.set_result(value)
                    else:  # signed again in the event loop, which raises the same error
                        log.debug("signing process: %s", value.decode("utf-8", "replace"))
                        future.set_exception(SigningUnavailable())
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # EOF, a bad frame: the child is gone
            if not self._closed:
                log.warning("signing process %s stopped (%s); signing in the event loop",
                            proc.pid, exc or type(exc).__name__)
        finally:
            if self._proc is proc:
                self._proc, self._reader, self._keys = None, None, {}
                self._frames = []
            self._fail_all()
            if proc.returncode is None:
                asyncio.ensure_future(self._terminate(proc))

    def _fail_all(self) -> None:
        waiting, self._waiting = self._waiting, {}
        self._batch, self._frames = [], []
        for future in waiting.values():
            if not future.done():
                future.set_exception(SigningUnavailable())

    @staticmethod
    async def _terminate(proc: asyncio.subprocess.Process) -> None:
        if proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 2)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()

    async def close(self) -> None:
        self._closed = True
        if self._starting is not None:
            self._starting.cancel()
            try:
                await self._starting
            except BaseException:
                pass
        proc, reader = self._proc, self._reader
        self._proc = self._reader = None
        if proc is not None:
            await self._terminate(proc)
        if reader is not None:
            reader.cancel()
            try:
                await reader
            except BaseException:
                pass
        self._fail_all()


# --- the child's side -----------------------------------------------------------------------

def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except Exception:  # stdin EOF still ends the child
            pass
    if os.getppid() != parent:  # the node died before prctl took effect
        os._exit(0)


def _read_exactly(stream, n: int) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise EOFError
    return data


def _answer(stdout, items: list[bytes]) -> None:
    payload = b"".join(items)
    stdout.write(struct.pack(">IcI", 5 + len(payload), b"R", len(items)) + payload)
    stdout.flush()


def child_main(argv: list[str]) -> int:
    if argv:
        _die_with_parent(int(argv[0]))
    from ssefed.federation.httpsig import sign_bytes

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    keys: dict[int, str] = {}
    stdout.write(b"SIGN")
    stdout.flush()
    try:
        while True:
            (length,) = struct.unpack(">I", _read_exactly(stdin, 4))
            if not 5 <= length <= MAX_FRAME:
                return 2
            frame = _read_exactly(stdin, length)
            kind = frame[:1]
            (n,) = struct.unpack_from(">I", frame, 1)
            if kind == b"C":
                keys.clear()
                continue
            if kind == b"K":
                if n >= MAX_KEYS or len(frame) - 5 > MAX_PEM:
                    return 2
                keys[n] = frame[5:].decode("ascii")
                continue
            if kind != b"S" or n > MAX_BATCH:
                return 2
            # Answers go back in growing chunks (1, 2, 4 ... 16 signatures): the first
            # request of a burst is not kept waiting for the whole batch to be signed.
            pos, out, chunk = 5, [], 1
            for _ in range(n):
                request, key, code, size = struct.unpack_from(">IIBI", frame, pos)
                pos += 13
                if size > MAX_DATA or pos + size > len(frame) or code >= len(ALGORITHMS):
                    return 2
                data = frame[pos:pos + size]
                pos += size
                try:
                    value, ok = sign_bytes(keys[key], ALGORITHMS[code] or None, data), 1
                except Exception as exc:  # told to the node, which signs itself
                    value, ok = repr(exc)[:500].encode(), 0
                out.append(struct.pack(">IBI", request, ok, len(value)) + value)
                if len(out) >= chunk:
                    _answer(stdout, out)
                    out, chunk = [], min(2 * chunk, 16)
            if out:
                _answer(stdout, out)
    except (EOFError, BrokenPipeError, struct.error):
        return 0


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
