"""Server-rendered HTML pages."""

from __future__ import annotations

import jinja2
from aiohttp import web

from ssefed import __version__
from ssefed.db.repos import actors as actor_repo
from ssefed.db.repos import offers as offer_repo
from ssefed.db.repos import organisations as org_repo
from ssefed.paths import TEMPLATES_DIR
from ssefed.web.keys import CONFIG, DB

TEMPLATES = web.AppKey("templates", jinja2.Environment)


def make_templates() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
                              autoescape=True, enable_async=False)


def render(request: web.Request, name: str, **context) -> web.Response:  # noqa: ANN003
    config = request.app[CONFIG]
    html = request.app[TEMPLATES].get_template(name).render(
        node_name=config.node.name, version=__version__, **context)
    return web.Response(text=html, content_type="text/html", charset="utf-8")


async def home(request: web.Request) -> web.Response:
    async with request.app[DB].read() as s:
        network = await actor_repo.get_network(s)
        members = await org_repo.list_local(s, limit=500)
        n_offers = await offer_repo.count(s, local=True, direction="offer")
        n_demands = await offer_repo.count(s, local=True, direction="demand")
    return render(request, "home.html", network=network, members=members,
                  n_offers=n_offers, n_demands=n_demands)
