"""Builds the aiohttp Application: routes, middlewares, and resources opened and closed
with cleanup_ctx (database, worker)."""

from __future__ import annotations

import logging
from typing import AsyncIterator

from aiohttp import web

from ssefed.config import Config
from ssefed.db import migrate
from ssefed.db.session import Database, open_database
from ssefed.domain.actors import ensure_keys
from ssefed.vocab.ids import LocalIds
from ssefed.web import health, pages
from ssefed.web.api import organisations as org_api
from ssefed.web.keys import CONFIG, DB, IDS, WORKER
from ssefed.web.problems import problems_middleware
from ssefed.worker.runner import Worker

log = logging.getLogger("ssefed")


class SchemaBehind(RuntimeError):
    pass


def job_handlers(db: Database, ids: LocalIds) -> dict:
    async def actor_keys(payload: dict) -> None:
        await ensure_keys(db, ids, int(payload["actor_id"]))

    return {"actor.keys": actor_keys}


async def _database_ctx(app: web.Application) -> AsyncIterator[None]:
    db = app[DB]
    if not await migrate.is_current(db):
        await db.dispose()
        raise SchemaBehind("the database schema is not the newest: run `ssefed migrate` first")
    yield
    await db.dispose()


async def _worker_ctx(app: web.Application) -> AsyncIterator[None]:
    worker = app[WORKER]
    worker.start()
    yield
    await worker.stop(app[CONFIG].worker.shutdown_grace_seconds)


def create_app(config: Config, db: Database | None = None) -> web.Application:
    db = db or open_database(config)
    ids = LocalIds(config.node.base_url)
    app = web.Application(middlewares=[problems_middleware],
                          client_max_size=config.federation.max_body_bytes)
    app[CONFIG], app[DB], app[IDS] = config, db, ids
    app[WORKER] = Worker(db, job_handlers(db, ids), concurrency=config.worker.concurrency,
                         poll_interval=config.worker.poll_interval_seconds,
                         lock_seconds=config.worker.lock_seconds)
    app[pages.TEMPLATES] = pages.make_templates()
    app.cleanup_ctx.extend([_database_ctx, _worker_ctx])
    app.router.add_get("/", pages.home)
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/api/organisations", org_api.list_organisations)
    app.router.add_post("/api/organisations", org_api.create_organisation)
    return app
