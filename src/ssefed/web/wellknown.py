"""Discovery: WebFinger (RFC 7033), host-meta, NodeInfo 2.1."""

from __future__ import annotations

from urllib.parse import unquote

from aiohttp import web

from ssefed import __version__
from ssefed.db.repos import actors as actor_repo
from ssefed.db.repos import offers as offer_repo
from ssefed.db.repos import remote as remote_repo
from ssefed.web.keys import CONFIG, DB, IDS
from ssefed.web.problems import Problem
from ssefed.paths import SCHEMAS_DIR

JRD = "application/jrd+json"
NODEINFO_SCHEMA = "http://nodeinfo.diaspora.software/ns/schema/2.1"


async def webfinger(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    resource = request.query.get("resource", "").strip()
    if not resource:
        raise Problem(400, "Bad Request", "the resource parameter is required")
    async with request.app[DB].read() as s:
        if resource.startswith("acct:") or ("@" in resource and "://" not in resource):
            acct = unquote(resource.removeprefix("acct:")).lstrip("@")
            user, _, domain = acct.rpartition("@")
            if domain.lower() != config.node.domain.lower():
                raise Problem(404, "Not Found", f"{domain} is not this node's domain")
            actor = await actor_repo.get_local_by_handle(s, user.lower())
        elif request.app[IDS].is_local(resource):
            actor = await remote_repo.get_actor(s, resource)
            actor = actor if actor is not None and actor.local else None
        else:
            actor = None
    if actor is None or actor.deleted_at is not None:
        raise Problem(404, "Not Found", f"no account {resource}")
    body = {
        "subject": f"acct:{actor.handle}@{config.node.domain}",
        "aliases": [actor.ap_id],
        "links": [
            {"rel": "self", "type": "application/activity+json", "href": actor.ap_id},
            {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html",
             "href": actor.ap_id},
        ],
    }
    return web.json_response(body, content_type=JRD,
                             headers={"Access-Control-Allow-Origin": "*"})


async def host_meta(request: web.Request) -> web.Response:
    base = request.app[CONFIG].node.base_url
    xml = ('<?xml version="1.0" encoding="UTF-8"?>\n'
           '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n'
           f'  <Link rel="lrdd" template="{base}/.well-known/webfinger?resource={{uri}}"/>\n'
           '</XRD>\n')
    return web.Response(text=xml, content_type="application/xrd+xml")


async def nodeinfo_links(request: web.Request) -> web.Response:
    base = request.app[CONFIG].node.base_url
    return web.json_response({"links": [{"rel": NODEINFO_SCHEMA,
                                         "href": f"{base}/nodeinfo/2.1"}]})


async def nodeinfo(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    async with request.app[DB].read() as s:
        actors = await actor_repo.count_local(s)
        offers = await offer_repo.count(s, local=True)
    body = {
        "version": "2.1",
        "software": {"name": "ssefed", "version": __version__,
                     "repository": "https://w3id.org/ssefed", "homepage": "https://w3id.org/ssefed"},
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": False,
        "usage": {"users": {"total": actors, "activeMonth": actors, "activeHalfyear": actors},
                  "localPosts": offers},
        "metadata": {"nodeName": config.node.name,
                     # the peer chain API other software can implement (docs/federation.md)
                     "ssefed": {"chains": {"version": 1,
                                           "offers": f"{config.node.base_url}/api/peer/v1/offers"}}},
    }
    return web.json_response(
        body, content_type='application/json; profile="http://nodeinfo.diaspora.software/ns/schema/2.1#"')


async def context_document(request: web.Request) -> web.Response:
    """The ssefed JSON-LD context and vocabulary, served by every node (for RDF users;
    our documents never require fetching them: their terms are also inline)."""
    name = request.match_info.get("name", "context.jsonld")
    files = {"context.jsonld": ("context.jsonld", "application/ld+json"),
             "ssefed.ttl": ("ssefed.ttl", "text/turtle"),
             "categories.ttl": ("taxonomies/categories.ttl", "text/turtle")}
    if name not in files:
        raise Problem(404, "Not Found", f"no document {name}")
    path, content_type = files[name]
    return web.Response(body=(SCHEMAS_DIR / path).read_bytes(), content_type=content_type,
                        charset="utf-8", headers={"Access-Control-Allow-Origin": "*",
                                                  "Cache-Control": "public, max-age=86400"})
