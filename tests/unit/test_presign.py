"""Signatures made ahead of their POSTs (a publication's first deliveries are signed by
the signing process while its transaction commits): a real client with its real signing
child, a real loopback server verifying every request."""

from __future__ import annotations

import asyncio

from aiohttp import web

from ssefed.domain import keys
from ssefed.federation import client as client_module
from ssefed.federation import httpsig
from ssefed.federation.client import FederationClient, Signer

PAIR = keys.generate("rsa")
SIGNER = Signer("https://a.example/actor#main-key", PAIR.private_pem)


async def _server(seen: list[dict]) -> tuple[web.AppRunner, str]:
    async def inbox(request: web.Request) -> web.Response:
        body = await request.read()
        info = httpsig.parse_signature(request.method, str(request.url), request.headers)
        httpsig.verify(info, request.method, str(request.url), request.headers, body,
                       PAIR.public_pem)  # raises on a bad signature or digest: a 500
        seen.append({"path": request.path, "spec": info.spec, "body": body,
                     "signature": request.headers.get("Signature")})
        return web.Response(status=202)

    app = web.Application()
    app.router.add_post("/{name}/inbox", inbox)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"


async def _client(spec_for=lambda host: None) -> tuple[FederationClient, list[bytes]]:
    client = FederationClient(allow_private=True, timeout=5, delivery_timeout=5,
                              max_bytes=10_000, max_redirects=3, spec_for=spec_for,
                              signing_process=True)
    client.start()
    for _ in range(500):
        if client.can_presign:
            break
        await asyncio.sleep(0.01)
    assert client.can_presign, "the signing process did not start"
    signed: list[bytes] = []
    real_sign = client._signing.sign

    async def counting(pem: str, algorithm: str | None, data: bytes) -> bytes:
        signed.append(data)
        return await real_sign(pem, algorithm, data)

    client._signing.sign = counting
    return client, signed


async def test_presigned_posts_verify_and_are_not_signed_again():
    seen: list[dict] = []
    runner, base = await _server(seen)
    urls = [f"{base}/a/inbox", f"{base}/b/inbox"]
    client, signed = await _client()
    body = b'{"type":"Create","id":"https://a.example/c/1"}'
    try:
        assert client.presign(urls, body, SIGNER) == 2
        await asyncio.sleep(0)  # the signing requests go out
        assert len(signed) == 2
        answers = await asyncio.gather(*(client.post(u, body, SIGNER) for u in urls))
        assert [a.status for a in answers] == [202, 202]
        assert len(signed) == 2  # the POSTs used the signatures made ahead
        assert sorted(s["path"] for s in seen) == ["/a/inbox", "/b/inbox"]
        # each presigned signature is used once: the next POST is signed again
        again = await client.post(urls[0], body, SIGNER)
        assert again.status == 202 and len(signed) == 3
    finally:
        await client.close()
        await runner.cleanup()


async def test_presigned_rfc9421_for_a_host_known_to_take_it():
    seen: list[dict] = []
    runner, base = await _server(seen)
    host = base.removeprefix("http://")
    client, signed = await _client({host: "rfc9421"}.get)
    body = b'{"type":"Update"}'
    try:
        assert client.presign([f"{base}/a/inbox"], body, SIGNER) == 1
        assert (await client.post(f"{base}/a/inbox", body, SIGNER)).status == 202
        assert len(signed) == 1 and seen[0]["spec"] == "rfc9421"
    finally:
        await client.close()
        await runner.cleanup()


async def test_another_body_or_a_stale_presignature_is_signed_afresh(monkeypatch):
    seen: list[dict] = []
    runner, base = await _server(seen)
    client, signed = await _client()
    url = f"{base}/a/inbox"
    try:
        client.presign([url], b'{"type":"Create"}', SIGNER)
        # another body to the same inbox: its own signature (the one made ahead covers the
        # other body's digest, and the server would refuse it)
        other = await client.post(url, b'{"type":"Delete"}', SIGNER)
        assert other.status == 202 and len(signed) == 2
        assert seen[-1]["body"] == b'{"type":"Delete"}'
        # a signature made ahead too long ago is not used
        monkeypatch.setattr(client_module, "PRESIGNED_MAX_AGE", 0.0)
        client.presign([url], b'{"type":"Like"}', SIGNER)
        assert (await client.post(url, b'{"type":"Like"}', SIGNER)).status == 202
        assert len(signed) == 4
    finally:
        await client.close()
        await runner.cleanup()


async def test_presigning_is_bounded_and_needs_the_signing_process(monkeypatch):
    plain = FederationClient(allow_private=True, timeout=5, delivery_timeout=5,
                             max_bytes=10_000, max_redirects=3)
    assert plain.presign(["http://127.0.0.1:9/x/inbox"], b"{}", SIGNER) == 0  # signs in the loop
    await plain.close()
    monkeypatch.setattr(client_module, "PRESIGNED_MAX", 5)
    client, signed = await _client()
    try:
        # malformed inboxes are skipped (their POSTs fail the usual way), the others go on
        bad = ["http://127.0.0.1:99999/x/inbox", "http://[::1/inbox", "mailto:x@y.example"]
        urls = bad + [f"http://127.0.0.1:9/{i}/inbox" for i in range(20)]
        assert client.presign(urls, b"{}", SIGNER) == 5
        await asyncio.sleep(0)
        assert len(client._presigned) == 5 and len(signed) == 5
    finally:
        await client.close()
