"""Sessions of the editing pages, and their CSRF fields.

The session cookie ``ssefed_edit`` = ``<id>.<HMAC of the id>``: the id is random, and only
its SHA-256 is stored (``edit_sessions``, with the token it was opened with and its
expiry); signing out deletes the row, revoking the token deletes its rows. The HMAC key
is the node's own secret ``data_dir/session.key`` (ssefed/datadir.py), never the admin
token: deleting it ends every session.

CSRF: each session's POSTs carry ``csrf`` = HMAC("csrf", id). Before a session exists,
the sign-in form carries ``csrf`` = HMAC("sign-in", nonce) where the nonce is in a cookie
``ssefed_signin`` of its own (double submit): a cross-site POST has neither.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from ssefed.domain import tokens
from ssefed.web.keys import CONFIG

SESSION_KEY = web.AppKey("session_key", bytes)
COOKIE = "ssefed_edit"
SIGN_IN_COOKIE = "ssefed_signin"
SESSION_SECONDS = 8 * 3600
SIGN_IN_SECONDS = 3600
_SESSION = re.compile(r"([0-9a-f]{32})\.([0-9a-f]{64})")
_NONCE = re.compile(r"[0-9a-f]{64}")


def _mac(request: web.Request, purpose: str, text: str) -> str:
    return hmac.new(request.app[SESSION_KEY], f"{purpose}\0{text}".encode(),
                    hashlib.sha256).hexdigest()


def _set(request: web.Request, response: web.StreamResponse, name: str, value: str,
         max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/edit", httponly=True,
                        samesite="Strict",
                        secure=request.app[CONFIG].node.base_url.startswith("https://"))


def session_id(request: web.Request) -> str | None:
    """The session id of the request's cookie when its HMAC is genuine (whether the
    session is still open is for the database to say)."""
    m = _SESSION.fullmatch(request.cookies.get(COOKIE, ""))
    if not m or not hmac.compare_digest(m.group(2), _mac(request, "session", m.group(1))):
        return None
    return m.group(1)


def csrf(request: web.Request, sid: str) -> str:
    """The CSRF field of session ``sid``'s forms."""
    return _mac(request, "csrf", sid)


async def open_session(s: AsyncSession, token_id: int) -> str:
    """Open a session of the live token ``token_id`` (in the caller's write transaction);
    hand its id to ``set_session_cookie``."""
    return await tokens.open_session(s, token_id, SESSION_SECONDS)


def set_session_cookie(request: web.Request, response: web.StreamResponse, sid: str) -> None:
    _set(request, response, COOKIE, f"{sid}.{_mac(request, 'session', sid)}", SESSION_SECONDS)
    if SIGN_IN_COOKIE in request.cookies:
        _set(request, response, SIGN_IN_COOKIE, "", 0)


async def close_session(s: AsyncSession, request: web.Request,
                        response: web.StreamResponse, sid: str) -> None:
    """Sign out: the session ends on the server, and its cookie is cleared."""
    await tokens.close_session(s, sid)
    _set(request, response, COOKIE, "", 0)


def sign_in_nonce(request: web.Request) -> str:
    """The pre-session nonce of the request's cookie, or a new one."""
    nonce = request.cookies.get(SIGN_IN_COOKIE, "")
    return nonce if _NONCE.fullmatch(nonce) else secrets.token_hex(32)


def sign_in_field(request: web.Request, nonce: str) -> str:
    """The sign-in form's CSRF field for ``nonce`` (set its cookie with
    ``set_sign_in_cookie`` on the response)."""
    return _mac(request, "sign-in", nonce)


def set_sign_in_cookie(request: web.Request, response: web.StreamResponse, nonce: str) -> None:
    _set(request, response, SIGN_IN_COOKIE, nonce, SIGN_IN_SECONDS)


def sign_in_field_ok(request: web.Request, field: str) -> bool:
    """Whether a sign-in POST carries the field that goes with its own cookie."""
    nonce = request.cookies.get(SIGN_IN_COOKIE, "")
    return bool(_NONCE.fullmatch(nonce)) and hmac.compare_digest(
        field, _mac(request, "sign-in", nonce))
