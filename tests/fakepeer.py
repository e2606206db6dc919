"""A tiny fake ActivityPub server for tests: a real aiohttp server on 127.0.0.1 (free
port), run in a background thread with its own event loop. It serves the documents the
test gives it (actors with RSA keys made in the test, key documents, anything) and
records every request it receives, so a test can say what a node fetched or delivered.

Usage::

    with FakePeer() as peer:
        alice = peer.add_actor("alice")            # Person with a fresh RSA key
        ...                                        # sign with alice.private_pem / alice.key_id
        peer.requests(method="GET", path=alice.path)
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import web
from multidict import CIMultiDict

from ssefed.domain import keys as keygen

AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
SEC_CONTEXT = "https://w3id.org/security/v1"


@dataclass(frozen=True)
class Recorded:
    """One request the fake peer received."""

    method: str
    path: str  # path and query, as sent
    headers: CIMultiDict = field(repr=False)
    body: bytes = field(repr=False)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FakeActor:
    """A Person served by the fake peer; its private key stays in the test."""

    peer: FakePeer = field(repr=False)
    name: str
    private_pem: str = field(repr=False)
    public_pem: str = field(repr=False)
    key_id: str = ""

    @property
    def path(self) -> str:
        return f"/users/{self.name}"

    @property
    def id(self) -> str:
        return self.peer.base_url + self.path

    @property
    def inbox_path(self) -> str:
        return f"{self.path}/inbox"

    @property
    def inbox(self) -> str:
        return self.peer.base_url + self.inbox_path

    def document(self) -> dict[str, Any]:
        return {
            "@context": [AS_CONTEXT, SEC_CONTEXT],
            "id": self.id,
            "type": "Person",
            "preferredUsername": self.name,
            "name": self.name.capitalize(),
            "inbox": self.inbox,
            "outbox": f"{self.id}/outbox",
            "publicKey": {"id": self.key_id, "owner": self.id, "publicKeyPem": self.public_pem},
        }


class FakePeer:
    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.inboxes: set[str] = set()
        self.delays: dict[str, float] = {}  # path -> seconds to wait before answering
        self._requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-peer",
                                        daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> FakePeer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    async def _start(self) -> None:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
            self._runner = None
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        if not self._loop.is_running():
            self._loop.close()

    def __enter__(self) -> FakePeer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what it serves ----------------------------------------------------------------
    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}"

    def serve(self, path: str, doc: dict[str, Any]) -> None:
        self.docs[path] = doc

    def add_actor(self, name: str) -> FakeActor:
        """Serve a new Person with a fresh RSA key (key id ``<actor>#main-key``)."""
        pair = keygen.generate("rsa")
        actor = FakeActor(self, name, pair.private_pem, pair.public_pem)
        actor.key_id = f"{actor.id}#main-key"
        self.publish(actor)
        self.inboxes.add(actor.inbox_path)
        return actor

    def publish(self, actor: FakeActor) -> None:
        self.serve(actor.path, actor.document())

    def rotate_key(self, actor: FakeActor) -> None:
        """Replace the actor's key by a new one under the same key id."""
        pair = keygen.generate("rsa")
        actor.private_pem, actor.public_pem = pair.private_pem, pair.public_pem
        self.publish(actor)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        with self._lock:
            self._requests.append(Recorded(request.method, request.path_qs,
                                           CIMultiDict(request.headers), body))
        if request.path in self.delays:
            await asyncio.sleep(self.delays[request.path])
        if request.method == "GET" and request.path in self.docs:
            return web.Response(text=json.dumps(self.docs[request.path]),
                                content_type="application/activity+json")
        if request.method == "POST" and request.path in self.inboxes:
            return web.Response(status=202)
        return web.Response(status=404)

    # -- what it received --------------------------------------------------------------
    def requests(self, method: str | None = None, path: str | None = None) -> list[Recorded]:
        with self._lock:
            found = list(self._requests)
        return [r for r in found if (method is None or r.method == method)
                and (path is None or r.path.split("?")[0] == path)]

    def wait_for(self, check: Callable[[list[Recorded]], bool], method: str | None = None,
                 path: str | None = None, timeout: float = 20) -> list[Recorded]:
        """Poll the recorded requests (filtered) until ``check`` accepts them."""
        deadline = time.monotonic() + timeout
        found = self.requests(method, path)
        while not check(found) and time.monotonic() < deadline:
            time.sleep(0.05)
            found = self.requests(method, path)
        return found
