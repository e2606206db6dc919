"""Claim links: an imported organisation takes over its account (one-time link from
`ssefed org claim-link H`) and receives its bearer token."""

from __future__ import annotations

from aiohttp import web

from ssefed.db.base import utcnow
from ssefed.db.models import Organisation
from ssefed.domain import tokens
from ssefed.web import sessions
from ssefed.web.keys import CONFIG, DB
from ssefed.web.pages import render
from ssefed.web.problems import Problem, read_body
from urllib.parse import parse_qs


async def _target(request: web.Request, s):
    found = await tokens.claim_target(s, request.match_info["secret"])
    if found is None:
        raise Problem(410, "Gone", "this claim link is unknown, used or expired: ask the "
                                   "network's admin for a new one")
    return found


async def claim_form(request: web.Request) -> web.Response:
    async with request.app[DB].read() as s:
        _, actor = await _target(request, s)
    return render(request, "claim.html", actor=actor, token=None,
                  handle=f"@{actor.handle}@{request.app[CONFIG].node.domain}")


async def claim_submit(request: web.Request) -> web.Response:
    form = parse_qs((await read_body(request, 10_000)).decode("utf-8", "replace"))
    async with request.app[DB].write() as s:
        link, actor = await _target(request, s)
        link.revoked_at = utcnow()  # one time only
        org = await s.get(Organisation, actor.id)
        if org is not None:
            org.claimed = True
            org.contact_public = form.get("publish_contacts") == ["yes"]
        row, token = await tokens.create(s, actor, "claimed account")
        sid = await sessions.open_session(s, row.id)  # its editing pages open at once
    response = render(request, "claim.html", actor=actor, token=token,
                      handle=f"@{actor.handle}@{request.app[CONFIG].node.domain}")
    response.headers["Cache-Control"] = "no-store"
    sessions.set_session_cookie(request, response, sid)
    return response
