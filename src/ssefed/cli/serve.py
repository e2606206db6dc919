"""ssefed serve: run the node (HTTP and background workers) until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from ssefed import datadir
from ssefed.app import create_app
from ssefed.cli.common import command, config_from, database
from ssefed.web.redact import loggable_path

log = logging.getLogger("ssefed")
ACCESS_FORMAT = '%a "%r" %s %b %Tfs "%{User-Agent}i"'


class AccessLog(AbstractAccessLogger):
    """One line per request, as ACCESS_FORMAT reads in aiohttp's terms (remote address,
    request line, status, body bytes, seconds, User-Agent), formatted only when emitted
    and without aiohttp's per-request format interpreter: the inbox logs thousands a second.
    A claim link's path is logged without its secret (web/redact.py)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        version = request.version
        self.logger.info('%s "%s %s HTTP/%d.%d" %d %d %.6fs "%s"', request.remote or "-",
                         request.method, loggable_path(request), version.major, version.minor,
                         response.status, response.body_length, time,
                         request.headers.get("User-Agent", "-"))

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)


def _session_key(config) -> bytes:
    """The session key (made when missing: a node made before it existed), after warning
    about any of the node's files that others may read."""
    data = config.data_path
    datadir.make_private_dir(data)
    key, made = datadir.session_key(data)
    if made:
        log.warning("no session key yet: made %s (mode 600); existing editing sessions "
                    "ended, organisations sign in again", data / datadir.SESSION_KEY_FILE)
    files = [data, data / datadir.SESSION_KEY_FILE, *datadir.sqlite_files(config.database_url)]
    if config.path is not None:
        files.append(config.path)
    for path, mode in datadir.loose_modes(files):
        log.warning("%s is not private: mode %04o, others may read it (chmod %s %s)", path,
                    mode, "700" if path.is_dir() else "600", path)
    return key


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "serve", run, help="run the node until stopped (SIGINT or SIGTERM)")
    p.add_argument("--host", help="address to listen on (default: [node] host)")
    p.add_argument("--port", type=int, help="port to listen on (default: [node] port, "
                                            "else the port of base_url)")


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    logging.getLogger().setLevel(config.log.level)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # The log format (cli/__init__.py) shows none of these: not collecting them saves a
    # stack walk and a few lookups per record (the logging HOWTO's "Optimization").
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    host = args.host or config.node.host
    port = args.port if args.port is not None else config.node.listen_port
    asyncio.run(_serve(config, host, port))
    return 0


async def _serve(config, host: str, port: int) -> None:
    async with database(config):  # refuses early, with a clear message, if unreachable/behind
        pass
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    app = create_app(config, session_key=_session_key(config))
    access_log = logging.getLogger("ssefed.access") if config.log.access_log else None
    if access_log is not None:
        access_log.setLevel(logging.INFO)
    runner = web.AppRunner(app, access_log=access_log, access_log_class=AccessLog,
                           access_log_format=ACCESS_FORMAT,
                           handle_signals=False,
                           shutdown_timeout=config.worker.shutdown_grace_seconds)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        log.warning("serving %s on http://%s:%d (public URL %s)", config.node.name, host, port,
                    config.node.base_url)
        await stop.wait()
        log.warning("stopping: finishing requests and jobs in flight")
    finally:
        await runner.cleanup()
    log.warning("stopped cleanly")
