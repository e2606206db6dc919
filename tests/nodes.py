"""Real ssefed nodes for tests: `ssefed init` then `ssefed serve` as processes on free
loopback ports, each with its own config, data dir, database and keys."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

SSEFED = [sys.executable, "-m", "ssefed"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(config: Path, *args: str, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*SSEFED, "--config", str(config), *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


@dataclass
class Node:
    name: str
    directory: Path
    database_url: str
    port: int
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None

    @property
    def config(self) -> Path:
        return self.directory / "ssefed.toml"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.directory / "serve.log"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return run_cli(self.config, *args, env=self.env, timeout=timeout)

    def admin_token(self) -> str:
        import tomllib

        return tomllib.loads(self.config.read_text())["admin"]["token"]

    def sql(self, query: str, **params) -> list[tuple]:
        """Rows of a read-only query on this node's database (what its admin would see)."""
        import asyncio

        from sqlalchemy import text

        from ssefed.config import async_database_url
        from ssefed.db.session import Database

        async def read() -> list[tuple]:
            db = Database(async_database_url(self.database_url, self.directory))
            try:
                async with db.read() as s:
                    return [tuple(r) for r in await s.execute(text(query), params)]
            finally:
                await db.dispose()

        return asyncio.run(read())

    def wait_for(self, query: str, expected, timeout: float = 20, interval: float = 0.1,
                 **params):
        """Poll ``query`` every ``interval`` seconds until it returns ``expected`` (or a
        callable accepts the rows); one connection for the whole wait, so that a poll
        costs a query, not an engine."""
        import asyncio

        from sqlalchemy import text

        from ssefed.config import async_database_url
        from ssefed.db.session import Database

        check = expected if callable(expected) else (lambda r: r == expected)

        async def poll() -> list[tuple]:
            db = Database(async_database_url(self.database_url, self.directory))
            deadline = time.monotonic() + timeout
            try:
                while True:
                    async with db.read() as s:
                        rows = [tuple(r) for r in await s.execute(text(query), params)]
                    if check(rows) or time.monotonic() >= deadline:
                        return rows
                    await asyncio.sleep(interval)
            finally:
                await db.dispose()

        return asyncio.run(poll())

    def job_counts(self) -> dict[str, int]:
        """Jobs of this node by state, read from its database (its periodic reminder
        and retention runs left out: they come on their own, one queued ahead at any
        time)."""
        import asyncio

        from ssefed.config import async_database_url
        from ssefed.db.repos import jobs
        from ssefed.db.session import Database

        async def read() -> dict[str, int]:
            db = Database(async_database_url(self.database_url, self.directory))
            try:
                async with db.read() as s:
                    return await jobs.counts(s, exclude=["freshness.remind", "retention.prune"])
            finally:
                await db.dispose()

        return asyncio.run(read())

    def wait_jobs_done(self, total: int, timeout: float = 60) -> dict[str, int]:
        deadline = time.monotonic() + timeout
        counts = self.job_counts()
        while counts.get("done", 0) < total and time.monotonic() < deadline:
            time.sleep(0.2)
            counts = self.job_counts()
        return counts

    def start(self, timeout: float = 30) -> Node:
        log = open(self.log_path, "a", encoding="utf-8")
        self.process = subprocess.Popen([*SSEFED, "--config", str(self.config), "serve"],
                                        stdout=log, stderr=subprocess.STDOUT,
                                        env={**os.environ, **self.env})
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"node {self.name} exited at start:\n{self.log()}")
            try:
                if requests.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return self
            except (requests.ConnectionError, requests.Timeout):  # not listening, or busy
                pass
            time.sleep(0.05)
        raise RuntimeError(f"node {self.name} did not become healthy:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Send ``sig`` and wait; return the exit code."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()


class NodeFactory:
    def __init__(self, tmp_path: Path, databases) -> None:
        self.tmp_path, self.databases = tmp_path, databases
        self.nodes: list[Node] = []

    def create(self, name: str = "a", *, network_name: str | None = None,
               extra_env: dict[str, str] | None = None) -> Node:
        """Initialise a node (config, database, network actor); not started yet."""
        port = free_port()
        node = Node(name=name, directory=self.tmp_path / f"node-{name}",
                    database_url=self.databases.new_url(), port=port)
        node.env = {"SSEFED_DATABASE_URL": node.database_url,
                    "SSEFED_FEDERATION_ALLOW_PRIVATE_ADDRESSES": "true",
                    "SSEFED_WORKER_POLL_INTERVAL_SECONDS": "0.2",
                    **(extra_env or {})}
        node.directory.mkdir(parents=True)
        result = node.cli("init", "--base-url", node.base_url, "--name",
                          network_name or f"Réseau test {name}")
        if result.returncode != 0:
            raise RuntimeError(f"init of node {name} failed:\n{result.stdout}{result.stderr}")
        self.nodes.append(node)
        return node

    def start(self, name: str = "a", **kwargs) -> Node:
        return self.create(name, **kwargs).start()

    def stop_all(self) -> None:
        for node in self.nodes:
            node.stop()
