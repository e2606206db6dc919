"""Data access for actors and keys learnt from other servers."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from sqlalchemy import delete, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from ssefed.db.models import Actor, ActorKey


async def get_actor(s: AsyncSession, ap_id: str) -> Actor | None:
    return await s.scalar(select(Actor).where(Actor.ap_id == ap_id))


async def get_key(s: AsyncSession, key_id: str) -> tuple[ActorKey, Actor] | None:
    row = (await s.execute(select(ActorKey, Actor).join(Actor, ActorKey.actor_id == Actor.id)
                           .where(ActorKey.key_id == key_id))).first()
    return (row[0], row[1]) if row else None


async def upsert_actor(s: AsyncSession, *, ap_id: str, domain: str, handle: str | None,
                       type_: str, name: str, summary: str, inbox: str | None,
                       shared_inbox: str | None, manually_approves: bool,
                       ap_json: dict[str, Any], fetched_at: datetime,
                       keys: list[tuple[str, str, str]],
                       owns: Callable[[str, str], bool] = lambda key_id, actor: False) -> Actor:
    """Insert or refresh a remote actor with the keys its document lists
    (kind, key id, SPKI PEM); keys it no longer lists are forgotten. ``owns(key id, actor
    IRI)``: is the key the actor's own even when another actor listed it first?"""
    actor = await get_actor(s, ap_id)
    if actor is not None and actor.local:
        raise ValueError(f"{ap_id} is a local actor")
    if handle is not None and (actor is None or actor.handle != handle):
        clash = await s.scalar(select(Actor).where(Actor.domain == domain, Actor.handle == handle,
                                                   Actor.ap_id != ap_id))
        if clash is not None:  # the handle moved to another actor: the old one loses it
            clash.handle = None
            await s.flush()
    values = dict(domain=domain, handle=handle, type=type_, name=name, summary=summary,
                  inbox=inbox, shared_inbox=shared_inbox,
                  manually_approves_followers=manually_approves, ap_json=ap_json,
                  fetched_at=fetched_at, deleted_at=None)
    if actor is None:
        actor = Actor(ap_id=ap_id, local=False, is_network=False, **values)
        s.add(actor)
    else:
        for key, value in values.items():
            setattr(actor, key, value)
    await s.flush()
    listed = {key_id for _, key_id, _ in keys}
    await s.execute(delete(ActorKey).where(ActorKey.actor_id == actor.id,
                                           ActorKey.key_id.not_in(listed) if listed else true()))
    for kind, key_id, pem in keys:
        existing = await s.scalar(select(ActorKey).where(ActorKey.key_id == key_id))
        if existing is None:
            s.add(ActorKey(actor_id=actor.id, kind=kind, key_id=key_id, public_pem=pem))
        elif existing.actor_id == actor.id or owns(key_id, ap_id):
            # a key under the actor's own IRI is its own, whoever listed it first
            existing.actor_id, existing.public_pem, existing.kind = actor.id, pem, kind
        # else a key id already owned by another actor is not taken over
    await s.flush()
    return actor
