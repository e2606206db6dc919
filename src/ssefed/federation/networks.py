"""Reading other networks' members collections (who vouches for whom) and finding the
chain endpoint of peer nodes (NodeInfo metadata)."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from ssefed.db.base import utcnow
from ssefed.db.models import Host
from ssefed.db.repos import hosts as host_repo
from ssefed.db.repos import networks as network_repo
from ssefed.federation import trust
from ssefed.federation.client import FetchError
from ssefed.federation.service import Federation
from ssefed.vocab import from_as

log = logging.getLogger("ssefed.networks")

MAX_MEMBER_PAGES = 100
MAX_MEMBERS = 20_000
MIN_REFRESH_SECONDS = 10.0  # a network's collection is read at most this often
PEER_API_TTL = timedelta(hours=6)
NODEINFO_2_1 = "http://nodeinfo.diaspora.software/ns/schema/2.1"
PEER_API_VERSION = 1


def _date(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def read_members(items: list[Any], network: str) -> dict[str, date | None]:
    """The members a collection page lists: ``Membership`` items (or bare actor IRIs) of
    validated members; anything else is skipped. ``None``: no validity end given."""
    out: dict[str, date | None] = {}
    for item in items:
        if isinstance(item, str):
            if item.startswith(("https://", "http://")):
                out[item] = None
            continue
        if not isinstance(item, dict):
            continue
        member = from_as.first_id(item.get("member") or item.get("object"))
        if not member or not member.startswith(("https://", "http://")):
            continue
        if item.get("validationStatus") not in (None, "validated"):
            continue
        by = from_as.first_id(item.get("attributedTo"))
        if by is not None and by != network:
            continue
        out[member] = _date(item.get("validUntil"))
    return out


async def refresh_members(fed: Federation, network: str, *, force: bool = False) -> int | None:
    """Read ``network``'s members collection from its origin (paged, bounded) and store
    what it lists; return how many members it lists, or None when not read now."""
    async with fed.db.read() as s:
        known = await network_repo.get(s, network)
    if (not force and known is not None and known.checked_at is not None
            and (utcnow() - known.checked_at).total_seconds() < MIN_REFRESH_SECONDS):
        return None
    try:
        actor = await fed.actor(network, refresh=True)
        members_url = from_as.first_id((actor.ap_json or {}).get("members"))
        if not members_url or not trust.same_origin(members_url, network):
            raise FetchError("refused", f"{network} publishes no members collection of its own")
        members: dict[str, date | None] = {}
        page: Any = await fed.fetch_json(members_url)
        page = page.get("first") or page
        for _ in range(MAX_MEMBER_PAGES):
            if isinstance(page, str):
                if not trust.same_origin(page, network):
                    break
                page = await fed.fetch_json(page)
            if not isinstance(page, dict):
                break
            items = from_as.as_list(page.get("orderedItems") or page.get("items"))
            members.update(read_members(items, network))
            if len(members) >= MAX_MEMBERS:
                break
            page = page.get("next")
            if not page:
                break
    except (FetchError, from_as.ParseError, ValueError) as exc:
        async with fed.db.write() as s:
            await network_repo.mark_failed(s, network, str(exc), utcnow())
        log.info("members of %s not read: %s", network, exc)
        return None
    async with fed.db.write() as s:
        await network_repo.replace_members(s, network, members_url, members, utcnow())
    return len(members)


def names_networks(actor_json: dict[str, Any] | None) -> list[str]:
    """The networks a remote organisation says it belongs to (a claim, to be checked
    against their members collections)."""
    if not actor_json:
        return []
    claimed = from_as.as_list(actor_json.get("memberOf")) + from_as.as_list(
        actor_json.get("validatedBy"))
    return list(dict.fromkeys(i for i in (from_as.first_id(c) for c in claimed)
                              if i and i.startswith(("https://", "http://"))))


class PeerDirectory:
    """Where each peer node answers chain questions, from its NodeInfo (cached in memory
    and in the hosts table)."""

    def __init__(self, fed: Federation) -> None:
        self.fed = fed
        self._cache: dict[str, tuple[str, float]] = {}

    def base(self, domain: str) -> str:
        scheme = "http" if self.fed.config.federation.allow_private_addresses else "https"
        return f"{scheme}://{domain}"

    async def api_of(self, domain: str, timeout: float) -> str:
        """The chain endpoint of ``domain``, '' when it has none."""
        cached = self._cache.get(domain)
        if cached is not None and time.monotonic() - cached[1] < PEER_API_TTL.total_seconds():
            return cached[0]
        async with self.fed.db.read() as s:
            row = await s.get(Host, domain)
        if (row is not None and row.peer_api is not None and row.peer_api_checked_at
                and utcnow() - row.peer_api_checked_at < PEER_API_TTL):
            self._cache[domain] = (row.peer_api, time.monotonic())
            return row.peer_api
        api = await asyncio.wait_for(self._discover(domain), timeout)
        async with self.fed.db.write() as s:
            host = await host_repo.get_or_add(s, domain)
            host.peer_api, host.peer_api_checked_at = api, utcnow()
        self._cache[domain] = (api, time.monotonic())
        return api

    async def _discover(self, domain: str) -> str:
        client = self.fed.client
        links = await client.get_json(f"{self.base(domain)}/.well-known/nodeinfo", None,
                                      accept="application/json")
        href = next((link.get("href") for link in (links or {}).get("links") or []
                     if isinstance(link, dict) and link.get("rel") == NODEINFO_2_1), None)
        if not isinstance(href, str) or urlsplit(href).netloc.lower() != domain:
            return ""
        info = await client.get_json(href, None, accept="application/json")
        chains = (((info or {}).get("metadata") or {}).get("ssefed") or {}).get("chains") or {}
        endpoint = chains.get("offers") if isinstance(chains, dict) else None
        if (not isinstance(endpoint, str) or urlsplit(endpoint).netloc.lower() != domain
                or chains.get("version") != PEER_API_VERSION):
            return ""
        return endpoint


def is_stale(checked_at: datetime | None, max_age_seconds: float) -> bool:
    return checked_at is None or (utcnow() - checked_at).total_seconds() > max_age_seconds
