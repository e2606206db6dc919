"""Server-rendered HTML pages."""

from __future__ import annotations

import jinja2
from aiohttp import web

from ssefed import __version__
from ssefed.paths import TEMPLATES_DIR
from ssefed.web import i18n
from ssefed.web.keys import CONFIG

TEMPLATES = web.AppKey("templates", jinja2.Environment)


def make_templates() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
                              autoescape=True, enable_async=False)


def render(request: web.Request, name: str, *, status: int = 200, **context) -> web.Response:
    """A page in the reader's language (``lang`` in ``context``, else negotiated: see
    web/i18n.py); templates get ``lang``, ``_`` (messages), ``format_date`` and ``switch_url``."""
    config = request.app[CONFIG]
    lang = context.pop("lang", None) or i18n.negotiate(request)
    context.setdefault("switch_url", i18n.switch_url(request, lang))
    html = request.app[TEMPLATES].get_template(name).render(
        node_name=config.node.name, version=__version__, lang=lang,
        _=i18n.translator(lang), format_date=lambda d: i18n.format_date(d, lang), **context)
    response = web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
    i18n.remember(request, response)
    return response


def see_other(location: str) -> web.Response:
    """The answer to a form's POST: the browser GETs ``location`` (never cached)."""
    return web.Response(status=303, headers={"Location": location, "Cache-Control": "no-store"})

