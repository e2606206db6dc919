"""A hostile ActivityPub server for the adversarial tests: a FakePeer (a real aiohttp
server on its own loopback port, hence its own origin) with its own keys and signing,
that also redirects anywhere (``redirect``), stalls (``delays``), serves documents that
lie about their id, and signs whatever it posts with any key it holds."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import requests
from aiohttp import web

from ssefed.federation import httpsig
from tests.fakepeer import AS_CONTEXT, FakeActor, FakePeer

AS2 = "application/activity+json"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


class HostileServer(FakePeer):
    def __init__(self) -> None:
        super().__init__()
        self.redirects: dict[str, str] = {}  # path -> absolute URL to send a 302 to
        self.raw: dict[str, str] = {}  # path -> a body served as it is (any text)

    def redirect(self, path: str, to: str) -> None:
        self.redirects[path] = to

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.path in self.redirects:
            await super()._handle(request)  # recorded like any request
            raise web.HTTPFound(self.redirects[request.path])
        if request.method == "GET" and request.path in self.raw:
            await super()._handle(request)
            return web.Response(text=self.raw[request.path],
                                content_type="application/activity+json")
        return await super()._handle(request)

    def new_id(self, actor: FakeActor, kind: str) -> str:
        return f"{actor.id}/{kind}/{uuid.uuid4().hex}"

    @staticmethod
    def post(url: str, doc: dict[str, Any], actor: FakeActor, *, key_id: str | None = None,
             private_pem: str | None = None) -> requests.Response:
        """POST ``doc`` to ``url`` signed (draft-cavage) with the actor's key, or any key."""
        body = json.dumps(doc).encode()
        headers = {"Content-Type": AS2}
        headers.update(httpsig.sign_cavage("POST", url, headers, body, key_id or actor.key_id,
                                           private_pem or actor.private_pem))
        return requests.post(url, data=body, headers=headers, timeout=20)


def activity(actor: str, type_: str, obj: Any, *, id_: str | None = None) -> dict[str, Any]:
    doc = {"@context": AS_CONTEXT, "type": type_, "actor": actor, "object": obj, "to": [PUBLIC]}
    doc["id"] = id_ or f"{actor}/activities/{uuid.uuid4().hex}"
    return doc


def wait_until(check, timeout: float = 20.0, interval: float = 0.1):
    """Poll ``check()`` until it returns something truthy (returned), or the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(interval)
