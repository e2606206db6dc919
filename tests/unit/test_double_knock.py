"""The outbound client against a real aiohttp server on loopback that only takes
RFC 9421 signatures: it retries once with the other spec and remembers the winner."""

from aiohttp import web

from ssefed.domain import keys
from ssefed.federation import httpsig
from ssefed.federation.client import FederationClient, Signer


async def start(handler) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/inbox", handler)
    app.router.add_get("/doc", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    return runner, f"http://127.0.0.1:{port}"


async def test_double_knocking_falls_back_to_rfc9421_and_remembers_it():
    pair = keys.generate("rsa")
    seen: list[str] = []

    async def rfc9421_only(request: web.Request) -> web.Response:
        body = await request.read()
        info = None
        try:
            info = httpsig.parse_signature(request.method, str(request.url), request.headers)
        except httpsig.VerificationError:
            pass
        seen.append(info.spec if info else "none")
        if info is None or info.spec != "rfc9421":
            return web.Response(status=401)
        httpsig.verify(info, request.method, str(request.url), request.headers, body or None,
                       pair.public_pem)
        return web.Response(status=202)

    runner, base = await start(rfc9421_only)
    remembered: dict[str, str] = {}

    async def remember(host: str, spec: str) -> None:
        remembered[host] = spec

    client = FederationClient(allow_private=True, timeout=5, delivery_timeout=5, max_bytes=10_000,
                              max_redirects=3, spec_for=remembered.get, remember_spec=remember)
    signer = Signer("https://a.example/actor#main-key", pair.private_pem)
    try:
        first = await client.post(f"{base}/inbox", b'{"type":"Like"}', signer)
        assert first.status == 202
        assert seen == ["cavage", "rfc9421"]
        host = base.removeprefix("http://")
        assert remembered == {host: "rfc9421"}
        second = await client.post(f"{base}/inbox", b'{"type":"Like"}', signer)
        assert second.status == 202
        assert seen[2:] == ["rfc9421"]  # no second knock: the host is known
        fetched = await client.get(f"{base}/doc", signer)
        assert fetched.status == 202  # signed GETs use the remembered spec too
    finally:
        await client.close()
        await runner.cleanup()


async def test_responses_larger_than_the_cap_are_refused():
    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 50_000)

    runner, base = await start(big)
    client = FederationClient(allow_private=True, timeout=5, delivery_timeout=5, max_bytes=10_000,
                              max_redirects=3)
    try:
        import pytest

        from ssefed.federation.client import FetchError

        with pytest.raises(FetchError) as err:
            await client.get(f"{base}/doc", None)
        assert err.value.reason == "too-large"
    finally:
        await client.close()
        await runner.cleanup()


async def test_redirects_are_followed_at_most_max_redirects_times():
    hops: list[str] = []

    async def loop(request: web.Request) -> web.Response:
        hops.append(request.path)
        raise web.HTTPFound("/doc")

    runner, base = await start(loop)
    client = FederationClient(allow_private=True, timeout=5, delivery_timeout=5, max_bytes=10_000,
                              max_redirects=3)
    try:
        import pytest

        from ssefed.federation.client import FetchError

        with pytest.raises(FetchError) as err:
            await client.get(f"{base}/doc", None)
        assert err.value.reason == "redirects"
        assert len(hops) == 4  # the request and 3 redirects
    finally:
        await client.close()
        await runner.cleanup()
