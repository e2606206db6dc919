"""Whether an organisation is validated, by which network this node trusts, until when:
the one answer the search (its entries, ``validated_only``, its facets), the directory's
pages and the chains give.

It comes from what this node verified (db/repos/validity.py): the validation state of
its own members, its network's decisions on organisations of other nodes, and the
members collections of other networks as read from their origin. What an organisation's
actor document says of itself (``validationStatus``, ``validatedBy``, ``memberOf``) is a
claim, and never makes it validated.

The networks trusted are this node's own, those its configuration names and (by
default) those it follows."""

from __future__ import annotations

from datetime import date
from typing import Callable, Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from ssefed.config import ChainsConfig
from ssefed.db.repos import actors as actor_repo
from ssefed.db.repos import networks as network_repo
from ssefed.db.repos import validity as repo
from ssefed.domain.freshness import Guarantee

Listing = tuple[str, "date | None"]  # (network, valid until: None for no end)


async def own_network(s: AsyncSession) -> str | None:
    network = await actor_repo.get_network(s)
    return network.ap_id if network else None


async def trusted_networks(s: AsyncSession, own: str | None, config: ChainsConfig
                           ) -> frozenset[str]:
    """This node's network, the configured ones and (by default) those it follows."""
    trusted = set(config.trusted)
    if own:
        trusted.add(own)
    if config.trust_followed_networks:
        trusted |= await network_repo.followed_remote(s)
    return frozenset(trusted)


def listing_key(trusted: frozenset[str], today: date) -> Callable[[Listing], tuple]:
    """The order of the networks vouching for one organisation, the one that counts
    first: trusted before untrusted, current before ended, the latest end first."""
    def key(v: Listing) -> tuple:
        network, until = v
        return (network not in trusted, until is not None and until < today,
                -(until.toordinal() if until else 10**7))
    return key


def validity_of(listed: Iterable[Listing], trusted: frozenset[str], today: date) -> Guarantee:
    """The guarantee of an organisation from the networks vouching for it: validated
    (until a date, or with no end) by the first trusted one, expired when all the
    trusted ones' validations ended, unvalidated when no trusted network vouches."""
    counted = sorted((v for v in listed if v[0] in trusted), key=listing_key(trusted, today))
    if not counted:
        return Guarantee("unvalidated")
    network, until = counted[0]
    return Guarantee("expired" if until is not None and until < today else "validated",
                     until, network)


async def validities(s: AsyncSession, iris: Iterable[str] | None, *,
                     trusted: frozenset[str], own: str | None, today: date
                     ) -> dict[str, Guarantee]:
    """The guarantee of each of these organisations (``None``: every local one); an
    organisation no trusted network vouches for is left out (unvalidated)."""
    return {iri: g for iri, listed in (await repo.listings(s, iris, own)).items()
            if (g := validity_of(listed, trusted, today)).state != "unvalidated"}


async def guarantees(s: AsyncSession, iris: Iterable[str] | None, *, trust: ChainsConfig,
                     today: date) -> dict[str, Guarantee]:
    """``validities`` with the networks ``trust`` says this node trusts."""
    own = await own_network(s)
    return await validities(s, iris, trusted=await trusted_networks(s, own, trust), own=own,
                            today=today)


def own_member_listed(status: str | None, until: date | None) -> bool:
    """Does this network list one of its own organisations, given its validation state?
    Validated, or validated until a date now passed (expired). The same rule as the
    repository's own-members statement, for rows that already carry their state."""
    return status == "validated" or (status == "expired" and until is not None)


async def vouchers(s: AsyncSession, iris: Iterable[str], own: str | None, *,
                   own_members: bool = True) -> dict[str, list[Listing]]:
    """Every network known to vouch for each organisation, trusted or not (the chains
    say why an untrusted one does not count). ``own_members=False``: this network's own
    members are left out, for callers whose rows carry their state (own_member_listed)."""
    return await repo.listings(s, iris, own, own_members=own_members)


UNVALIDATED = Guarantee("unvalidated")
