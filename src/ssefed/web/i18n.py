"""The language of a page (French or English) and its messages.

The language is, in this order: ``?lang=fr|en`` (then remembered in the ``lang``
cookie), the ``lang`` cookie, the best of fr/en in ``Accept-Language``, French.
Messages are in ``ssefed.web.messages.MESSAGES``; templates call ``_('key', n=…, …)``."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from aiohttp import web

from ssefed.web.messages import MESSAGES

LANGS = ("fr", "en")
DEFAULT_LANG = "fr"
COOKIE = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600
MAX_ACCEPT_LANGUAGE = 40  # entries of the header looked at (bounded)


def from_accept_language(header: str) -> str | None:
    """The preferred of fr/en in an Accept-Language header (q-values honoured), or None."""
    best, best_q = None, 0.0
    for part in header.split(",")[:MAX_ACCEPT_LANGUAGE]:
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGS and q > best_q:  # ties: the first listed wins
            best, best_q = primary, q
    return best


def negotiate(request: web.Request) -> str:
    chosen = request.query.get("lang")
    if chosen in LANGS:
        return chosen
    cookie = request.cookies.get(COOKIE)
    if cookie in LANGS:
        return cookie
    return from_accept_language(request.headers.get("Accept-Language", "")) or DEFAULT_LANG


def switch_url(request: web.Request, lang: str) -> str:
    """This page in the other language (the same path and query, ``lang`` replaced)."""
    other = "en" if lang == "fr" else "fr"
    params = [(k, v) for k, v in request.query.items() if k != "lang"]
    return f"{request.path}?{urlencode(params + [('lang', other)])}"


def remember(request: web.Request, response: web.StreamResponse) -> None:
    """Keep a language chosen with ``?lang=`` in a cookie; the page varies by both."""
    chosen = request.query.get("lang")
    if chosen in LANGS and request.cookies.get(COOKIE) != chosen:
        response.set_cookie(COOKIE, chosen, max_age=COOKIE_MAX_AGE, path="/",
                            samesite="Lax", httponly=True)
    add_vary(response, "Accept-Language", "Cookie")


def add_vary(response: web.StreamResponse, *names: str) -> None:
    """Add header names to the response's one ``Vary`` header."""
    have = [v.strip() for v in response.headers.get("Vary", "").split(",") if v.strip()]
    have += [n for n in names if n.lower() not in {h.lower() for h in have}]
    response.headers["Vary"] = ", ".join(have)


def translate(lang: str, key: str, n: int | None = None, **values: object) -> str:
    """The message ``key`` in ``lang`` with ``{name}`` fields filled from ``values`` (and
    ``{n}``); a message given as (singular, plural) is chosen by ``n`` (French: 0 and 1
    are singular). An unknown key is shown as itself, so a missing message is seen."""
    entry = MESSAGES.get(key)
    if entry is None:
        return key
    text = entry.get(lang) or entry["en"]
    if isinstance(text, tuple):
        singular = (n is not None and n <= 1) if lang == "fr" else n == 1
        text = text[0] if singular else text[1]
    if n is not None:
        values = {"n": n, **values}
    return text.format(**values) if values else text


_MONTHS = {
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
           "septembre", "octobre", "novembre", "décembre"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
}


def format_date(value: date | None, lang: str) -> str:
    """2027-12-02 -> "2 décembre 2027" / "2 December 2027" ("1er" on the first, in French)."""
    if value is None:
        return ""
    day = "1er" if value.day == 1 and lang == "fr" else str(value.day)
    return f"{day} {_MONTHS.get(lang, _MONTHS['en'])[value.month - 1]} {value.year}"


def translator(lang: str):
    def _(key: str, n: int | None = None, **values: object) -> str:
        return translate(lang, key, n, **values)
    return _
