"""Data access for what we know of other servers: blocks, signature spec, breaker."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ssefed.db.base import utcnow
from ssefed.db.models import Host


async def get_or_add(s: AsyncSession, host: str) -> Host:
    row = await s.get(Host, host)
    if row is None:
        row = Host(host=host, failures=0, blocked=False)
        s.add(row)
        await s.flush()
    return row


async def blocked_domains(s: AsyncSession) -> set[str]:
    return set(await s.scalars(select(Host.host).where(Host.blocked.is_(True))))


async def specs(s: AsyncSession) -> dict[str, str]:
    rows = await s.execute(select(Host.host, Host.signature_spec)
                           .where(Host.signature_spec.is_not(None)))
    return {h: spec for h, spec in rows}


async def set_spec(s: AsyncSession, host: str, spec: str) -> None:
    (await get_or_add(s, host)).signature_spec = spec


async def record_success(s: AsyncSession, host: str) -> bool:
    """Close the circuit; return True when it was open or failing (the host is back)."""
    row = await get_or_add(s, host)
    was_down = row.failures > 0 or row.open_until is not None
    row.failures, row.open_until, row.last_success_at = 0, None, utcnow()
    return was_down


async def record_failure(s: AsyncSession, host: str, open_until: datetime | None) -> int:
    row = await get_or_add(s, host)
    row.failures += 1
    if open_until is not None:
        row.open_until = open_until
    return row.failures


async def heard_from(s: AsyncSession, host: str) -> bool:
    """The host sent us something: close its circuit. True when it had been down."""
    row = await s.get(Host, host)
    if row is None or (row.failures == 0 and row.open_until is None):
        return False
    await s.execute(update(Host).where(Host.host == host)
                    .values(failures=0, open_until=None, last_success_at=utcnow()))
    return True


async def failing(s: AsyncSession) -> set[str]:
    rows = await s.scalars(select(Host.host).where((Host.failures > 0)
                                                   | Host.open_until.is_not(None)))
    return set(rows)
