"""Builds the aiohttp Application: routes, middlewares, and resources opened and closed
with cleanup_ctx (database, worker)."""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import AsyncIterator

from aiohttp import web

from ssefed import datadir
from ssefed.config import Config
from ssefed.db import migrate
from ssefed.db.session import Database, open_database
from ssefed.domain import reminders, retention
from ssefed.domain.actors import ensure_keys
from ssefed.vocab.ids import LocalIds
from ssefed.federation.chainsearch import ChainService
from ssefed.federation.delivery import Deliverer, RetryPolicy
from ssefed.federation.apply.batch import apply_batch
from ssefed.federation.handlers import Handlers, backfill
from ssefed.federation.inbound import Inbox
from ssefed.federation.networks import refresh_members
from ssefed.federation.service import Federation
from ssefed.graph.service import Sparql
from ssefed.web import (activitypub, c2s, chains, claim, directory, edit, health, pages,
                        reconfirm, reports, search, sessions, sparql, vetting, wellknown)
from ssefed.web.api import organisations as org_api
from ssefed.web.keys import CONFIG, DB, DELIVERY_WAKE, FEDERATION, IDS, WORKER
from ssefed.web.problems import problems_middleware
from ssefed.worker.runner import Worker

log = logging.getLogger("ssefed")


class SchemaBehind(RuntimeError):
    pass


DELIVERER = web.AppKey("deliverer", Deliverer)


def job_handlers(db: Database, ids: LocalIds, handlers: Handlers) -> dict:
    async def actor_keys(payload: dict) -> None:
        await ensure_keys(db, ids, int(payload["actor_id"]))

    async def network_members(payload: dict) -> None:
        await refresh_members(handlers.fed, str(payload["network"]),
                              force=bool(payload.get("force")))

    return {"actor.keys": actor_keys, "inbox.process": handlers.process,
            "network.members": network_members,
            "follow.backfill": partial(backfill, handlers),
            **reminders.job_handlers(db, handlers.fed.config),
            **retention.job_handlers(db, handlers.fed.config)}


def batch_job_handlers(handlers: Handlers) -> dict:
    """Job kinds run many at a time: received activities (federation/apply/batch.py);
    what it leaves, the worker runs one by one (Handlers.process), with its retries."""
    return {"inbox.process": partial(apply_batch, handlers)}


async def _database_ctx(app: web.Application) -> AsyncIterator[None]:
    db = app[DB]
    if not await migrate.is_current(db):
        await db.dispose()
        raise SchemaBehind("the database schema is not the newest: run `ssefed migrate` first")
    yield
    await db.dispose()


async def _worker_ctx(app: web.Application) -> AsyncIterator[None]:
    worker, deliverer = app[WORKER], app[DELIVERER]
    await app[FEDERATION].load()
    app[FEDERATION].client.start()
    await deliverer.reclaim_own()
    await reminders.schedule(app[DB], app[CONFIG].freshness)  # then every interval
    await retention.schedule(app[DB])  # then every hour
    worker.start()
    deliverer.start()
    app[DB].add_commit_listener(deliverer.committed)  # what this process publishes
    yield
    app[DB].remove_commit_listener(deliverer.committed)
    grace = app[CONFIG].worker.shutdown_grace_seconds
    await asyncio.gather(worker.stop(grace), deliverer.stop(grace))
    await app[FEDERATION].close()


# What every page may load: its own stylesheet (no inline style or script: the map is
# inline SVG styled by the stylesheet), and forms posting to the node; nothing from
# elsewhere, and no framing. Sent with every page (every response but JSON, which is only
# marked never to be sniffed), once, here.
CONTENT_SECURITY_POLICY = ("default-src 'none'; style-src 'self'; img-src 'self'; "
                           "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY,
                    "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "same-origin"}
JSON_TYPES = frozenset({"application/json", "application/activity+json", "application/ld+json",
                        "application/problem+json", "application/jrd+json"})


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    # the inbox and the APIs answer JSON by the thousand a second: one header, not five
    if response.content_type not in JSON_TYPES:
        response.headers.update(SECURITY_HEADERS)
    else:
        response.headers["X-Content-Type-Options"] = "nosniff"


def create_app(config: Config, db: Database | None = None,
               session_key: bytes | None = None) -> web.Application:
    """The node's application; ``session_key`` defaults to data_dir/session.key (made
    when missing: `serve` makes it first, to say so in its log)."""
    db = db or open_database(config)
    ids = LocalIds(config.node.base_url)
    app = web.Application(middlewares=[problems_middleware],
                          client_max_size=config.federation.max_body_bytes)
    app[CONFIG], app[DB], app[IDS] = config, db, ids
    app[sessions.SESSION_KEY] = session_key or datadir.session_key(config.data_path)[0]
    app.on_response_prepare.append(_security_headers)
    federation = Federation(config, db)
    deliverer = Deliverer(federation, concurrency=config.worker.delivery_concurrency,
                          per_host=config.worker.delivery_per_host,
                          poll_interval=config.worker.poll_interval_seconds,
                          policy=RetryPolicy(base=config.worker.delivery_retry_base_seconds,
                                             give_up_after=config.worker.delivery_give_up_seconds))

    def wake() -> None:
        app[WORKER].wake()
        deliverer.wake()

    handlers = Handlers(federation, wake)
    app[FEDERATION], app[DELIVERER] = federation, deliverer
    app[DELIVERY_WAKE] = deliverer.wake
    app[WORKER] = Worker(db, job_handlers(db, ids, handlers),
                         concurrency=config.worker.concurrency,
                         poll_interval=config.worker.poll_interval_seconds,
                         lock_seconds=config.worker.lock_seconds,
                         batch_handlers=batch_job_handlers(handlers))
    # Received activities queue jobs only: they wake the worker, not the deliverer.
    app[activitypub.INBOX] = Inbox(federation, lambda: app[WORKER].wake(), deliverer.wake)
    app[pages.TEMPLATES] = pages.make_templates()
    app[sparql.SPARQL] = Sparql(config, db)
    app.cleanup_ctx.extend([_database_ctx, _worker_ctx])
    chains.setup(app, ChainService(federation))
    search.setup(app)
    directory.setup(app)
    vetting.setup(app)
    reports.setup(app)
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/api/organisations", org_api.list_organisations)
    app.router.add_post("/api/organisations", org_api.create_organisation)
    app.router.add_post("/api/offers", org_api.create_offer)
    app.router.add_get("/.well-known/webfinger", wellknown.webfinger)
    app.router.add_get("/.well-known/host-meta", wellknown.host_meta)
    app.router.add_get("/.well-known/nodeinfo", wellknown.nodeinfo_links)
    app.router.add_get("/nodeinfo/2.1", wellknown.nodeinfo)
    app.router.add_get("/ns", wellknown.context_document)
    app.router.add_get("/ns/{name}", wellknown.context_document)
    app.router.add_post("/inbox", activitypub.inbox)
    app.router.add_get("/actors/{handle}", activitypub.actor_page)
    app.router.add_post("/actors/{handle}/inbox", activitypub.inbox)
    app.router.add_get("/actors/{handle}/outbox", activitypub.outbox)
    app.router.add_post("/actors/{handle}/outbox", c2s.outbox_post)
    app.router.add_get("/actors/{handle}/followers", activitypub.followers)
    app.router.add_get("/actors/{handle}/following", activitypub.following)
    app.router.add_get("/actors/{handle}/members", activitypub.members)
    app.router.add_get("/actors/{handle}/activities/{activity}", activitypub.activity)
    app.router.add_get("/offers/{id}", activitypub.offer_page)
    app.router.add_get("/sparql", sparql.sparql)
    app.router.add_post("/sparql", sparql.sparql)
    app.router.add_get("/claim/{secret}", claim.claim_form)
    app.router.add_post("/claim/{secret}", claim.claim_submit)
    edit.add_routes(app)
    reconfirm.add_routes(app)
    return app
