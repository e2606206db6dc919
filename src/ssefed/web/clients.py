"""Who is asking: the client address that per-address limits count.

Behind a reverse proxy every connection comes from the proxy, so one client's budget
would be everyone's. ``[node] trusted_proxies`` names the proxies whose
``X-Forwarded-For`` is believed; the header is read from the right (each proxy appends
the address it received the request from), skipping trusted proxies, and the first
address that is not one is the client. What a client wrote in the header itself is to
the left of that and never believed. Without trusted proxies the header is ignored.
"""

from __future__ import annotations

import functools
import ipaddress

from aiohttp import web

from ssefed.web.keys import CONFIG

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _address(text: str) -> Address | None:
    """An address as X-Forwarded-For or a peer name gives it (``[v6]:port`` and
    ``v4:port`` too), IPv4-mapped IPv6 as its IPv4; None if it is not an address."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # IPv4 with a port
        text = text.partition(":")[0]
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def _trusted(addr: Address, networks: tuple[Network, ...]) -> bool:
    return any(addr in net for net in networks)


def client_address(request: web.Request) -> str:
    """The address of the client behind ``request``, as text: the connection's peer, or
    the client a trusted proxy forwarded the request for ("unknown" when the peer has no
    address, as on a Unix socket)."""
    peer_text = request.remote or ""
    peer = _address(peer_text)
    if peer is None:
        return peer_text or "unknown"
    networks = _networks(request.app[CONFIG].node.trusted_proxies)
    if not networks or not _trusted(peer, networks):
        return str(peer)
    hops = [h for line in request.headers.getall("X-Forwarded-For", ())
            for h in line.split(",") if h.strip()]
    client = peer
    for hop in reversed(hops):
        addr = _address(hop)
        if addr is None:  # garbage: believe no further
            break
        client = addr
        if not _trusted(addr, networks):
            break
    return str(client)
