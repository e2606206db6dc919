"""The one outbound HTTP client: every fetch and every POST to another server goes here.

It signs every request (draft-cavage by default, RFC 9421 for hosts known to take it,
retrying once with the other spec on a 401: "double-knocking"), bounds time and size,
follows at most ``max_redirects`` redirects, re-checking each hop, and refuses
loopback, private, link-local and multicast addresses unless the node is configured
for tests (``allow_private_addresses``). Blocked domains are refused both ways.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import ipaddress
import socket
from dataclasses import dataclass
from typing import Any, Awaitable, Callable
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver
from aiohttp.resolver import DefaultResolver
from yarl import URL

from ssefed import __version__
from ssefed.federation import httpsig, signing
from ssefed.vocab import strictjson

AS2_ACCEPT = ('application/activity+json, application/ld+json; '
              'profile="https://www.w3.org/ns/activitystreams";q=0.9, application/json;q=0.5')
AS2_CONTENT_TYPE = "application/activity+json"
USER_AGENT = f"ssefed/{__version__} (+https://w3id.org/ssefed)"


class FetchError(Exception):
    """A remote request failed; ``reason`` is short and stable: 'refused', 'blocked',
    'timeout', 'too-large', 'status', 'redirects', 'network', 'not-json'."""

    def __init__(self, reason: str, detail: str, status: int | None = None,
                 retry_after: str | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail, self.status, self.retry_after = reason, detail, status, retry_after


# Special-purpose blocks Python 3.11's ``is_global`` may still call global (its lists were
# corrected in 3.11.10 and later): IETF protocol assignments (192.0.0.0/24, where some
# clouds put services), the retired 6to4 relay anycast, IPv4-compatible IPv6 (::/96),
# local-use NAT64 (64:ff9b:1::/48).
_NOT_GLOBAL = tuple(ipaddress.ip_network(n) for n in (
    "192.0.0.0/24", "192.88.99.0/24", "::/96", "64:ff9b:1::/48"))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # well-known prefix: the last 32 bits are IPv4


def _routable(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return (addr.is_global and not addr.is_multicast and not addr.is_reserved
            and not any(addr in net for net in _NOT_GLOBAL if net.version == addr.version))


def address_is_public(ip: str) -> bool:
    """Is ``ip`` globally routable, so a node may connect to it? Decided by IANA's
    special-purpose registries (``is_global``), not by a list of private ranges, so
    carrier-grade NAT, metadata and benchmarking addresses are refused too. An IPv4
    address carried in an IPv6 one (IPv4-mapped, NAT64, 6to4) must be routable too."""
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return _routable(addr.ipv4_mapped)
        if addr in _NAT64:
            return _routable(ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF))
        if addr.sixtofour is not None and not _routable(addr.sixtofour):
            return False
    return _routable(addr)


@functools.lru_cache(maxsize=1024)  # the same hosts, request after request
def _non_public_literal(host: str) -> bool:
    """Is ``host`` an IP address literal that is not public? Loose IPv4 forms a resolver
    would read as an address (2130706433, 127.1, 0x7f.1) count as literals."""
    try:
        return not address_is_public(host)
    except ValueError:
        pass
    parts = host.lower().split(".")  # 1 to 4 decimal, octal or 0x-hex numbers
    if not 1 <= len(parts) <= 4 or not all(
            p.isascii() and (p.isdigit() or (p.startswith("0x") and all(
                c in "0123456789abcdef" for c in p[2:]))) for p in parts):
        return False
    try:
        packed = socket.inet_aton(host)
    except OSError:
        return True  # looks like an address but is not a valid one: never a host name
    return not address_is_public(str(ipaddress.IPv4Address(packed)))


class GuardedResolver(AbstractResolver):
    """Resolves names, then refuses any answer that is not a public address."""

    def __init__(self, allow_private: bool) -> None:
        self._inner = DefaultResolver()
        self.allow_private = allow_private

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET):
        infos = await self._inner.resolve(host, port, family)
        if not self.allow_private:
            for info in infos:
                if not address_is_public(info["host"]):
                    raise OSError(f"refusing non-public address {info['host']} of {host}")
        return infos

    async def close(self) -> None:
        await self._inner.close()


@dataclass(frozen=True)
class Signer:
    """Who signs: a local actor's key id and private key."""

    key_id: str
    private_pem: str


@dataclass
class Response:
    status: int
    url: str
    headers: dict[str, str]
    body: bytes

    def json(self, max_depth: int = 32) -> Any:
        """The body, read by the one rule for JSON someone else sent (vocab/strictjson)."""
        try:
            return strictjson.loads(self.body, max_depth=max_depth)
        except strictjson.JSONRefused as exc:
            reason = "not-json" if exc.status == 415 else "refused"
            raise FetchError(reason, f"{self.url} answered {exc.detail} "
                                     f"({exc.field})") from None


class FederationClient:
    def __init__(self, *, allow_private: bool, timeout: float, delivery_timeout: float,
                 max_bytes: int, max_redirects: int, max_json_depth: int = 32,
                 spec_for: Callable[[str], str | None] = lambda host: None,
                 remember_spec: Callable[[str, str], Awaitable[None]] | None = None,
                 is_blocked: Callable[[str], Awaitable[bool]] | None = None,
                 limit: int = 100, limit_per_host: int = 8, signing_threads: int = 0,
                 signing_process: bool = False) -> None:
        self.allow_private = allow_private
        self.timeout, self.delivery_timeout = timeout, delivery_timeout
        self.max_bytes, self.max_redirects = max_bytes, max_redirects
        self.max_json_depth = max_json_depth
        self.spec_for, self.remember_spec, self.is_blocked = spec_for, remember_spec, is_blocked
        self._limit, self._limit_per_host = limit, limit_per_host
        self._session: aiohttp.ClientSession | None = None
        self._fetch_session: aiohttp.ClientSession | None = None
        # RSA signing (about 0.4 ms for a 2048-bit key) goes beside the event loop: to a
        # worker process (see signing.py), or else to threads (it releases the GIL).
        self._signing: signing.SigningPool | None = None
        if signing_process:
            self._signing = signing.SigningPool(signing.process_pool)
        elif signing_threads > 0:
            self._signing = signing.SigningPool(functools.partial(
                concurrent.futures.ThreadPoolExecutor, signing_threads,
                thread_name_prefix="ssefed-sign"))

    def start(self) -> None:
        """Start what the client runs beside the event loop (the signing worker)."""
        if self._signing is not None:
            self._signing.start()

    async def __aenter__(self) -> FederationClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _new_session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(resolver=GuardedResolver(self.allow_private),
                                         limit=self._limit, limit_per_host=self._limit_per_host,
                                         ttl_dns_cache=60)
        return aiohttp.ClientSession(connector=connector, auto_decompress=True,
                                     headers={"User-Agent": USER_AGENT})

    @property
    def session(self) -> aiohttp.ClientSession:
        """Deliveries (POSTs to inboxes)."""
        if self._session is None or self._session.closed:
            self._session = self._new_session()
        return self._session

    @property
    def fetch_session(self) -> aiohttp.ClientSession:
        """Fetches (keys, actors, objects: what verifying a request waits for), in a pool
        of their own, so hosts that stall deliveries and hold their connections never
        starve them."""
        if self._fetch_session is None or self._fetch_session.closed:
            self._fetch_session = self._new_session()
        return self._fetch_session

    async def close(self) -> None:
        for session in (self._session, self._fetch_session):
            if session is not None:
                await session.close()
        if self._signing is not None:
            await self._signing.close()

    async def _signature(self, spec: str, method: str, url: str, headers: dict[str, str],
                         body: bytes | None, signer: Signer) -> dict[str, str]:
        if self._signing is None:
            sign = httpsig.sign_rfc9421 if spec == "rfc9421" else httpsig.sign_cavage
            return sign(method, url, headers, body, signer.key_id, signer.private_pem)
        prepare = httpsig.prepare_rfc9421 if spec == "rfc9421" else httpsig.prepare_cavage
        p = prepare(method, url, headers, body, signer.key_id, signer.private_pem)
        return p.complete(await self._signing.sign(signer.private_pem, p.algorithm, p.data))

    async def check_url(self, url: str) -> str:
        """Refuse what we never talk to; return the host (with port) of ``url``."""
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise FetchError("refused", f"not an http(s) URL: {url[:200]}")
        if parts.scheme == "http" and not self.allow_private:
            raise FetchError("refused", f"plain http is only allowed in test setups: {url[:200]}")
        if parts.username or parts.password:
            raise FetchError("refused", "URLs with credentials are refused")
        host = parts.hostname.lower()
        if not self.allow_private and _non_public_literal(host):
            raise FetchError("refused", f"non-public address {host}")
        if host in ("localhost",) and not self.allow_private:
            raise FetchError("refused", "localhost")
        netloc = parts.netloc.lower()
        if self.is_blocked is not None and await self.is_blocked(netloc):
            raise FetchError("blocked", f"{netloc} is blocked on this node")
        return netloc

    async def _send(self, method: str, url: str, body: bytes | None, headers: dict[str, str],
                    signer: Signer | None, spec: str, timeout: float) -> Response:
        hdrs = dict(headers)
        # sign the request-target as it goes on the wire (yarl normalises the quoting)
        url = str(URL(url))
        if signer is not None:
            hdrs.update(await self._signature(spec, method, url, hdrs, body, signer))
        try:
            session = self.fetch_session if method == "GET" else self.session
            async with session.request(
                    method, url, data=body, headers=hdrs, allow_redirects=False,
                    timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                if resp.content_length is not None and resp.content_length > self.max_bytes:
                    raise FetchError("too-large", f"{url} answered {resp.content_length} bytes",
                                     resp.status)
                data = await resp.content.read(self.max_bytes + 1)
                if len(data) > self.max_bytes:
                    raise FetchError("too-large", f"{url} answered more than {self.max_bytes} "
                                                  "bytes", resp.status)
                return Response(resp.status, str(resp.url),
                                {k.lower(): v for k, v in resp.headers.items()}, data)
        except asyncio.TimeoutError:
            raise FetchError("timeout", f"{method} {url} took more than {timeout} s") from None
        except aiohttp.ClientError as exc:
            raise FetchError("network", f"{method} {url}: {exc}") from None
        except OSError as exc:
            raise FetchError("refused" if "refusing" in str(exc) else "network",
                             f"{method} {url}: {exc}") from None

    async def _signed(self, method: str, url: str, body: bytes | None, headers: dict[str, str],
                      signer: Signer | None, timeout: float) -> Response:
        host = await self.check_url(url)
        preferred = self.spec_for(host) or "cavage"
        resp = await self._send(method, url, body, headers, signer, preferred, timeout)
        if resp.status == 401 and signer is not None:
            other = "rfc9421" if preferred == "cavage" else "cavage"
            retry = await self._send(method, url, body, headers, signer, other, timeout)
            if retry.status < 400 and self.remember_spec is not None:
                await self.remember_spec(host, other)
            return retry
        return resp

    async def get(self, url: str, signer: Signer | None, accept: str = AS2_ACCEPT) -> Response:
        """Signed GET following at most ``max_redirects`` redirects (each hop re-checked)."""
        for _ in range(self.max_redirects + 1):
            resp = await self._signed("GET", url, None, {"Accept": accept}, signer, self.timeout)
            if resp.status in (301, 302, 303, 307, 308) and "location" in resp.headers:
                url = urljoin(url, resp.headers["location"])
                continue
            return resp
        raise FetchError("redirects", f"more than {self.max_redirects} redirects")

    async def get_json(self, url: str, signer: Signer | None, accept: str = AS2_ACCEPT) -> Any:
        return (await self.get_document(url, signer, accept))[1]

    async def get_document(self, url: str, signer: Signer | None, accept: str = AS2_ACCEPT
                           ) -> tuple[str, Any]:
        """(the URL that finally answered, after redirects; its JSON)."""
        resp = await self.get(url, signer, accept)
        if resp.status >= 400:
            raise FetchError("status", f"GET {url} answered {resp.status}", resp.status,
                             resp.headers.get("retry-after"))
        return resp.url, resp.json(self.max_json_depth)

    async def post(self, url: str, body: bytes, signer: Signer,
                   content_type: str = AS2_CONTENT_TYPE) -> Response:
        """Signed POST of an activity to an inbox (no redirects followed)."""
        return await self._signed("POST", url, body, {"Content-Type": content_type}, signer,
                                  self.delivery_timeout)
