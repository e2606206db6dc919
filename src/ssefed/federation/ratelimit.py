"""Inbox rate limits: a budget of activities per minute for each remote actor and for
each host ([federation] inbox_per_actor_per_minute, inbox_per_host_per_minute).

Two steps, so that nobody can spend another's budget: ``check`` (after the body is
parsed, before any signature work or key fetch) refuses a request whose actor or host
has spent its budget, spending nothing; ``spend`` (once the signature is verified)
takes one from each budget. Requests in someone's name that do not verify are refused
by the signature checks and cost that actor nothing; a host that floods with new actors
is stopped by its host budget before the node fetches their keys.

Budgets are token buckets in memory (a node is one process): ``per_minute`` tokens,
refilled continuously, bursts of as many. The number of keys is bounded: when it is
reached, full buckets (as good as absent) are forgotten, then the fullest, so that a
flood of new names cannot make the node forget a budget that is spent.
"""

from __future__ import annotations

import math
import time
from typing import Callable

MAX_ACTORS = 20_000  # buckets kept in memory (about 250 bytes each)
MAX_HOSTS = 5_000


class RateLimited(Exception):
    """A budget is spent: answer 429 with ``retry_after`` seconds."""

    status = 429
    title = "Too Many Requests"

    def __init__(self, detail: str, retry_after: float) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = max(1, math.ceil(retry_after))


class Buckets:
    """A token bucket per key: ``per_minute`` tokens, at most ``max_keys`` keys."""

    def __init__(self, per_minute: int, max_keys: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # tokens per second
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def __len__(self) -> int:
        return len(self._buckets)

    def _tokens(self, key: str, now: float) -> float:
        found = self._buckets.get(key)
        if found is None:
            return self.capacity
        tokens, at = found
        return min(self.capacity, tokens + (now - at) * self.rate)

    def wait(self, key: str) -> float:
        """0 when ``key`` has a token left, else the seconds until it has one."""
        tokens = self._tokens(key, self.clock())
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

    def take(self, key: str) -> float:
        """Take a token and return 0, or return the seconds to wait (nothing taken)."""
        now = self.clock()
        tokens = self._tokens(key, now)
        if tokens < 1.0:
            return (1.0 - tokens) / self.rate
        if key not in self._buckets and len(self._buckets) >= self.max_keys:
            self._make_room(now)
        self._buckets[key] = (tokens - 1.0, now)
        return 0.0

    def _make_room(self, now: float) -> None:
        """Forget the full buckets; if that frees too little, the fullest down to 90 % of
        the bound (one sort now and then, not one per new key)."""
        tokens = {k: self._tokens(k, now) for k in self._buckets}
        keep = [k for k, t in tokens.items() if t < self.capacity]
        limit = int(self.max_keys * 0.9)
        if len(keep) > limit:
            keep = sorted(keep, key=tokens.__getitem__)[:limit]
        self._buckets = {k: self._buckets[k] for k in keep}


class InboxLimits:
    """The inbox's budgets per actor and per host."""

    def __init__(self, per_actor: int, per_host: int, *,
                 clock: Callable[[], float] = time.monotonic,
                 max_actors: int = MAX_ACTORS, max_hosts: int = MAX_HOSTS) -> None:
        self.per_actor, self.per_host = per_actor, per_host
        self.actors = Buckets(per_actor, max_actors, clock)
        self.hosts = Buckets(per_host, max_hosts, clock)

    @classmethod
    def from_config(cls, federation) -> InboxLimits:  # FederationConfig
        return cls(federation.inbox_per_actor_per_minute, federation.inbox_per_host_per_minute)

    def check(self, actor: str, host: str) -> None:
        """Raise RateLimited when the actor's or the host's budget is spent (spends nothing)."""
        self._refuse(self.hosts.wait(host), self.actors.wait(actor), actor, host)

    def spend(self, actor: str, host: str) -> None:
        """Take one activity from both budgets, or raise RateLimited (taking nothing)."""
        host_wait, actor_wait = self.hosts.wait(host), self.actors.wait(actor)
        self._refuse(host_wait, actor_wait, actor, host)
        self.hosts.take(host)
        self.actors.take(actor)

    def _refuse(self, host_wait: float, actor_wait: float, actor: str, host: str) -> None:
        if host_wait > 0:
            raise RateLimited(f"at most {self.per_host} activities per minute for the host "
                              f"{host}", max(host_wait, actor_wait))
        if actor_wait > 0:
            raise RateLimited(f"at most {self.per_actor} activities per minute for the actor "
                              f"{actor}", actor_wait)
