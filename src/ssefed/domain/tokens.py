"""Bearer tokens of local actors: shown once, stored hashed, revocable."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ssefed.db.base import utcnow
from ssefed.db.models import Actor, Token


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create(s: AsyncSession, actor: Actor, label: str = "") -> tuple[Token, str]:
    """A new token for ``actor``: the row, and the token itself (never stored)."""
    token = "ssefed_" + secrets.token_urlsafe(32)
    row = Token(actor_id=actor.id, token_hash=_hash(token), label=label[:255])
    s.add(row)
    await s.flush()
    return row, token


async def actor_for(s: AsyncSession, token: str) -> Actor | None:
    """The live local actor a token belongs to (None when unknown or revoked)."""
    row = await s.scalar(select(Token).where(Token.token_hash == _hash(token),
                                             Token.revoked_at.is_(None)))
    if row is None:
        return None
    actor = await s.get(Actor, row.actor_id)
    if actor is None or not actor.local or actor.deleted_at is not None:
        return None
    row.last_used_at = utcnow()
    return actor


async def list_for(s: AsyncSession, actor: Actor) -> list[Token]:
    return list(await s.scalars(select(Token).where(Token.actor_id == actor.id)
                                .order_by(Token.id)))


async def revoke(s: AsyncSession, token_id: int) -> bool:
    row = await s.get(Token, token_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    return True
