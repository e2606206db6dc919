"""Bounded work (issue 18): a host that stalls the deliveries it is sent, holding every
delivery connection the node allows it, never starves the fetches that verifying its
requests waits for (a key, an actor): they have a pool of their own, with their own
deadline. The node's one outbound client against a real stalling server on loopback."""

from __future__ import annotations

import asyncio
import time

from ssefed.domain import keys as keygen
from ssefed.federation.client import FederationClient, Signer
from tests.adversarial.hostile import HostileServer

PER_HOST = 4  # connections per host, deliveries and fetches alike


async def _stalled_deliveries_then_fetch(server: HostileServer) -> tuple[float, int]:
    pair = keygen.generate("rsa")
    signer = Signer(f"{server.base_url}/users/us#main-key", pair.private_pem)
    client = FederationClient(allow_private=True, timeout=3.0, delivery_timeout=30.0,
                              max_bytes=1 << 20, max_redirects=2, limit_per_host=PER_HOST)
    try:
        posts = [asyncio.ensure_future(client.post(f"{server.base_url}/users/slow/inbox",
                                                   b"{}", signer))
                 for _ in range(PER_HOST * 2)]
        await asyncio.sleep(0.5)  # every delivery connection to the host is now held
        started = time.monotonic()
        resp = await client.get(f"{server.base_url}/users/alice", signer)
        took = time.monotonic() - started
        for post in posts:
            post.cancel()
        await asyncio.gather(*posts, return_exceptions=True)
        return took, resp.status
    finally:
        await client.close()


def test_stalled_deliveries_never_starve_the_fetches_that_verification_needs():
    with HostileServer() as server:
        alice = server.add_actor("alice")
        server.inboxes.add("/users/slow/inbox")
        server.delays["/users/slow/inbox"] = 4.0  # answers deliveries after 4 s
        took, status = asyncio.run(_stalled_deliveries_then_fetch(server))
        assert status == 200
        assert took < 1.0, f"the key fetch waited {took:.1f} s behind stalled deliveries"
        assert server.requests("GET", alice.path)
