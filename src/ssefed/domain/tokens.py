"""Bearer tokens of local actors: shown once, stored hashed, revocable."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ssefed.db.base import utcnow
from ssefed.db.models import Actor, EditSession, Token


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
                                             Token.kind == "api", Token.revoked_at.is_(None)))
    if row is None:
        return None
    actor = await s.get(Actor, row.actor_id)
    if actor is None or not actor.local or actor.deleted_at is not None:
        return None
    row.last_used_at = utcnow()
    return actor


async def row_for(s: AsyncSession, token: str) -> Token | None:
    """The live api token row of ``token`` (None when unknown or revoked)."""
    return await s.scalar(select(Token).where(Token.token_hash == _hash(token),
                                              Token.kind == "api", Token.revoked_at.is_(None)))


async def list_for(s: AsyncSession, actor: Actor) -> list[Token]:
    return list(await s.scalars(select(Token).where(Token.actor_id == actor.id,
                                                    Token.kind == "api").order_by(Token.id)))


async def create_claim(s: AsyncSession, actor: Actor, days: int) -> str:
    """A one-time claim secret for an (imported) organisation, valid ``days`` days."""
    secret = secrets.token_urlsafe(24)
    s.add(Token(actor_id=actor.id, token_hash=_hash(secret), kind="claim",
                label="claim link", expires_at=utcnow() + timedelta(days=days)))
    await s.flush()
    return secret


async def claim_target(s: AsyncSession, secret: str) -> tuple[Token, Actor] | None:
    """The unused, unexpired claim link ``secret`` and its actor."""
    row = await s.scalar(select(Token).where(Token.token_hash == _hash(secret),
                                             Token.kind == "claim", Token.revoked_at.is_(None)))
    if row is None or (row.expires_at is not None and row.expires_at < utcnow()):
        return None
    actor = await s.get(Actor, row.actor_id)
    if actor is None or actor.deleted_at is not None:
        return None
    return row, actor


async def revoke(s: AsyncSession, token_id: int) -> bool:
    """Revoke a token; the editing sessions opened with it end too."""
    row = await s.get(Token, token_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    await s.execute(delete(EditSession).where(EditSession.token_id == token_id))
    return True


# -- editing sessions: a random id per session, stored hashed, deleted on sign-out ----------

async def open_session(s: AsyncSession, token_id: int, seconds: int) -> str:
    """A new editing session of the (live) token ``token_id``: its id (never stored).
    Expired sessions are cleared on the way."""
    now = utcnow()
    await s.execute(delete(EditSession).where(EditSession.expires_at < now))
    sid = secrets.token_hex(16)
    s.add(EditSession(sid_hash=_hash(sid), token_id=token_id,
                      expires_at=now + timedelta(seconds=seconds)))
    await s.flush()
    return sid


async def session_token(s: AsyncSession, sid: str) -> Token | None:
    """The live api token of the unexpired editing session ``sid`` (None otherwise)."""
    row = await s.scalar(select(Token).join(EditSession, EditSession.token_id == Token.id)
                         .where(EditSession.sid_hash == _hash(sid),
                                EditSession.expires_at > utcnow(),
                                Token.kind == "api", Token.revoked_at.is_(None)))
    return row


async def close_session(s: AsyncSession, sid: str) -> None:
    """End the editing session ``sid`` (signing out): its cookie no longer opens it."""
    await s.execute(delete(EditSession).where(EditSession.sid_hash == _hash(sid)))
