"""The keys an actor lists in ``assertionMethod``, read from its own actor document (for
integrity proofs, federation/proofs.py): the stored document, or fetched from the
actor's origin, or the database's keys for a local actor."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ssefed.db.repos import actors as actor_repo
from ssefed.db.repos import remote as remote_repo
from ssefed.federation.client import FetchError
from ssefed.vocab.from_as import ParseError, parse_actor

REFETCH_INTERVAL = 30.0  # seconds between two refetches of one actor for a proof's key
MAX_REMEMBERED = 10_000


@dataclass(frozen=True)
class ListedKeys:
    """key id -> (kind, controller, SPKI PEM), or ``None`` with the ``problem``;
    ``fresh``: the actor document was fetched just now (refetching would not help)."""

    keys: dict[str, tuple[str, str | None, str]] | None
    problem: str = ""
    fresh: bool = False


def may_refetch(fed, actor: str) -> bool:  # a Federation
    """May ``actor`` be refetched now for a proof key (once per REFETCH_INTERVAL)?"""
    seen: dict[str, float] = fed.proof_refetched
    now = time.monotonic()
    if now - seen.get(actor, -REFETCH_INTERVAL) < REFETCH_INTERVAL:
        return False
    if len(seen) > MAX_REMEMBERED:
        seen.clear()
    seen[actor] = now
    return True


async def assertion_keys(fed, author: str, *, refresh: bool) -> ListedKeys:
    """The ``assertionMethod`` keys of ``author``: from its stored document unless
    ``refresh`` (or unknown), else fetched from its origin (Federation.fetch_actor refuses
    an answer of another origin)."""
    if fed.ids.is_local(author):
        async with fed.db.read() as s:
            actor = await remote_repo.get_actor(s, author)
            if actor is None or not actor.local or actor.deleted_at is not None:
                return ListedKeys(None, f"no local actor {author}", True)
            keys = await actor_repo.keys_of(s, actor.id)
        return ListedKeys({k.key_id: (k.kind, author, k.public_pem) for k in keys
                           if k.kind == "ed25519"}, fresh=True)
    fresh = refresh
    actor = None if refresh else await fed.known_actor(author)
    if actor is None or not actor.inbox or not actor.ap_json:
        fresh = True
        try:
            actor = await fed.fetch_actor(author)
        except (FetchError, ParseError) as exc:
            return ListedKeys(None, f"{author}: {exc}", True)
    if actor.deleted_at is not None:
        return ListedKeys(None, f"{author} was deleted", fresh)
    try:
        parsed = parse_actor(actor.ap_json or {})
    except ParseError as exc:
        return ListedKeys(None, f"{author}: {exc}", fresh)
    if parsed.id != author:
        return ListedKeys(None, f"{author} answered {parsed.id}", fresh)
    return ListedKeys({m.id: (m.kind, m.controller, m.public_key_pem)
                       for m in parsed.multikeys}, fresh=fresh)
