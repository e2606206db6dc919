"""Typed keys of what the aiohttp Application holds (explicit wiring)."""

from aiohttp import web

from ssefed.config import Config
from ssefed.db.session import Database
from ssefed.vocab.ids import LocalIds
from ssefed.worker.runner import Worker

CONFIG = web.AppKey("config", Config)
DB = web.AppKey("db", Database)
IDS = web.AppKey("ids", LocalIds)
WORKER = web.AppKey("worker", Worker)
DELIVERY_WAKE = web.AppKey("delivery_wake", object)  # () -> None: new deliveries queued
FEDERATION = web.AppKey("federation", object)  # federation.service.Federation
