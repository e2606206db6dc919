"""GET /healthz: the database answers and its schema is the newest."""

from __future__ import annotations

from aiohttp import web

from ssefed.db import migrate
from ssefed.web.keys import DB
from ssefed.web.problems import problem


async def healthz(request: web.Request) -> web.Response:
    db = request.app[DB]
    try:
        await db.ping()
        current = await migrate.current_revision(db)
    except Exception as exc:  # report, don't crash
        return problem(503, "Service Unavailable", f"database unreachable: {type(exc).__name__}",
                       database="error")
    head = migrate.head_revision()
    if current != head:
        return problem(503, "Service Unavailable",
                       "database schema is not the newest: run `ssefed migrate`",
                       database="ok", migrations="behind", revision=current, head=head)
    return web.json_response({"status": "ok", "database": "ok", "migrations": "current",
                              "revision": current})
