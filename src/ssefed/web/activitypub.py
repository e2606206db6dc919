"""ActivityPub endpoints: actors (JSON or HTML by content negotiation), their
collections, activities, and the inboxes."""

from __future__ import annotations

import json
from datetime import date

from typing import Any, Callable

from aiohttp import web

from ssefed.db.repos import activities as activity_repo
from ssefed.db.repos import actors as actor_repo
from ssefed.db.repos import follows as follow_repo
from ssefed.db.repos import offers as offer_repo
from ssefed.db.repos import vetting as vetting_repo
from ssefed.db.models import Actor, Organisation
from ssefed.domain.actors import ensure_keys
from ssefed.federation.inbound import Inbox, Refusal
from ssefed.federation.ratelimit import RateLimited
from ssefed.vocab import to_as
from ssefed.web.keys import CONFIG, DB, IDS
from ssefed.web import directory
from ssefed.web.problems import Problem, problem, query_int, read_body, require_json_type
from ssefed.vocab import jsonld
from ssefed.db.repos import networks as network_repo

INBOX = web.AppKey("inbox", Inbox)
AS2 = "application/activity+json"
PAGE_SIZE = 20
MEMBERS_PAGE = 200


def wants_activity_json(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return "application/activity+json" in accept or "application/ld+json" in accept or (
        "application/json" in accept and "text/html" not in accept)


def wants_turtle(request: web.Request) -> bool:
    return "text/turtle" in request.headers.get("Accept", "")


def as_turtle(doc: dict[str, Any]) -> web.Response:
    """The document's RDF (through the bundled contexts only) as Turtle."""
    graph = jsonld.to_rdf_graph(doc)
    for prefix, ns in (("as", "https://www.w3.org/ns/activitystreams#"),
                       ("ssefed", "https://w3id.org/ssefed/ns#"),
                       ("vf", "https://w3id.org/valueflows/ont/vf#"),
                       ("schema", "https://schema.org/"), ("sec", "https://w3id.org/security#")):
        graph.bind(prefix, ns)
    return web.Response(text=graph.serialize(format="turtle"), content_type="text/turtle",
                        charset="utf-8", headers={"Vary": "Accept"})


def as_json(doc: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(status=status, content_type=AS2, charset="utf-8",
                        text=json.dumps(doc, ensure_ascii=False),
                        headers={"Vary": "Accept"})


async def _actor(request: web.Request) -> Actor:
    handle = request.match_info["handle"]
    async with request.app[DB].read() as s:
        actor = await actor_repo.get_local_by_handle(s, handle)
    if actor is None:
        raise Problem(404, "Not Found", f"no actor {handle!r} on this node")
    return actor


async def actor_page(request: web.Request) -> web.Response:
    actor = await _actor(request)
    config = request.app[CONFIG]
    if actor.deleted_at is not None:
        if wants_activity_json(request):
            return as_json(to_as.tombstone(actor), status=410)
        raise Problem(410, "Gone", f"{actor.name} was removed from this node")
    if wants_activity_json(request) or wants_turtle(request):
        keys = await ensure_keys(request.app[DB], request.app[IDS], actor.id)  # lazily, once
        async with request.app[DB].read() as s:
            org = await s.get(Organisation, actor.id)
            network = await actor_repo.get_network(s) if org is not None else None
            others = tuple(await vetting_repo.outgoing_validated(s, actor.id, date.today())) \
                if org is not None else ()
        doc = to_as.actor_document(actor, keys, config.node.base_url, org,
                                   network.ap_id if network else None, others)
        return as_turtle(doc) if wants_turtle(request) else as_json(doc)
    return await directory.organisation_page(request, actor)


async def _collection(request: web.Request, collection: str, count, page,
                      item: Callable[[Any], tuple[int, Any]], size: int = PAGE_SIZE,
                      context: Any = to_as.AS_CONTEXT) -> web.Response:
    """An OrderedCollection with its total or, with ``?page``, a page of it (newest first,
    ``max_id`` the cursor): ``count(s)``, ``page(s, before_id, limit)`` gives the rows,
    ``item(row)`` a row's (id, item)."""
    async with request.app[DB].read() as s:
        if "page" not in request.query:
            doc = to_as.ordered_collection(collection, await count(s), f"{collection}?page=true")
        else:
            rows = [item(r) for r in await page(s, query_int(request, "max_id"), size)]
            next_ = (f"{collection}?page=true&max_id={rows[-1][0]}" if len(rows) == size
                     else None)
            doc = to_as.collection_page(request.app[CONFIG].node.base_url + request.path_qs,
                                        collection, [i for _, i in rows], next_)
    return as_json({**doc, "@context": context})


async def outbox(request: web.Request) -> web.Response:
    actor = await _actor(request)
    return await _collection(
        request, f"{actor.ap_id}/outbox", lambda s: activity_repo.count_public(s, actor.id),
        lambda s, before, n: activity_repo.page_public(s, actor.id, before, n),
        lambda r: (r.id, r.ap_json))


async def _follow_collection(request: web.Request, followers: bool) -> web.Response:
    actor = await _actor(request)
    key = {"followed_id": actor.id} if followers else {"follower_id": actor.id}
    return await _collection(
        request, f"{actor.ap_id}/{'followers' if followers else 'following'}",
        lambda s: follow_repo.count(s, **key),
        lambda s, before, n: follow_repo.page(s, **key, before_id=before, limit=n),
        lambda r: (r[0].id, r[1].ap_id))


async def followers(request: web.Request) -> web.Response:
    return await _follow_collection(request, True)


async def following(request: web.Request) -> web.Response:
    return await _follow_collection(request, False)


async def members(request: web.Request) -> web.Response:
    """The network's members collection: the organisations it vouches for, each with its
    validity end. Other nodes read it to check a member's guarantee."""
    actor = await _actor(request)
    if not actor.is_network:
        raise Problem(404, "Not Found", "only the network's actor has a members collection")
    return await _collection(
        request, f"{actor.ap_id}/members", network_repo.count_members,
        lambda s, before, n: network_repo.members_page(s, before_id=before, limit=n),
        lambda r: (r[0].id, to_as.membership(actor.ap_id, *r)), MEMBERS_PAGE,
        to_as.MEMBERS_CONTEXT)


async def activity(request: web.Request) -> web.Response:
    iri = request.app[CONFIG].node.base_url + request.path
    async with request.app[DB].read() as s:
        row = await activity_repo.by_ap_id(s, iri)
    if row is None or not row.public:
        raise Problem(404, "Not Found", "no such activity")
    return as_json(row.ap_json)


async def inbox(request: web.Request) -> web.Response:
    """Per-actor and shared inbox: verify, store, 202; side effects run later."""
    config = request.app[CONFIG]
    if "handle" in request.match_info:
        target = await _actor(request)
        if target.deleted_at is not None:  # senders drop followers that answer 410
            raise Problem(410, "Gone", f"{target.ap_id} was removed from this node")
    require_json_type(request)
    body = await read_body(request, config.federation.max_body_bytes)
    # @target-uri is rebuilt from base_url, never from what a proxy passed on.
    url = config.node.base_url + request.path_qs
    try:
        received = await request.app[INBOX].receive(request.method, url, request.headers, body)
    except RateLimited as limited:  # the sender's budget per minute is spent
        return problem(limited.status, limited.title, limited.detail,
                       retry_after=limited.retry_after)
    except Refusal as refusal:
        raise Problem(refusal.status, refusal.title, refusal.detail,
                      **({"field": refusal.field} if refusal.field else {})) from None
    key = (received.accepted, received.note)
    answer = _RECEIVED.get(key)
    if answer is None:  # the few possible answers, serialised once
        answer = json.dumps({"status": "accepted" if received.accepted else "ignored",
                             "detail": received.note}).encode()
        if len(_RECEIVED) < 64:
            _RECEIVED[key] = answer
    return web.Response(body=answer, status=202, content_type="application/json",
                        charset="utf-8")


_RECEIVED: dict[tuple[bool, str], bytes] = {}


async def offer_page(request: web.Request) -> web.Response:
    """An offer or demand: its Proposal JSON, or a page for people."""
    iri = request.app[CONFIG].node.base_url + request.path
    async with request.app[DB].read() as s:
        offer = await offer_repo.local_by_iri(s, iri)
        actor = await s.get(Actor, offer.actor_id) if offer is not None else None
    if offer is None or actor is None:
        raise Problem(404, "Not Found", "no such offer")
    if offer.deleted_at is not None or actor.deleted_at is not None:
        if wants_activity_json(request):
            return as_json({"@context": to_as.AS_CONTEXT, "id": iri, "type": "Tombstone",
                            "formerType": "Proposal"}, status=410)
        raise Problem(410, "Gone", "this offer was withdrawn")
    if wants_turtle(request):
        return as_turtle(to_as.offer_object(offer, actor))
    if wants_activity_json(request):
        return as_json(to_as.offer_object(offer, actor))
    return await directory.offer_page(request, offer, actor)
