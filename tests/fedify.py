"""A real Fedify (1.5.9) ActivityPub server for interoperability tests.

The peer's sources live in ``../shared/peers/fedify-peer`` beside the checkout (the only
thing the tests take from ``../shared``; without it these tests fail naming the path); they
are read only. They are copied into a project-local build dir (``.cache/fedify-peer``,
gitignored), ``npm ci`` runs there once (again only when package.json / package-lock.json
change), and ``node peer.mjs --port P --name NAME`` runs as a subprocess on a free
loopback port. Node and npm are required: without them this raises ``FedifyUnavailable``
(tests fail, they never skip). See the peer's README.md for its admin API.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import requests

from tests.nodes import free_port

PROJECT = Path(__file__).resolve().parents[1]
SHARED_PEER = PROJECT.parent / "shared" / "peers" / "fedify-peer"
BUILD_DIR = PROJECT / ".cache" / "fedify-peer"
SOURCES = ("package.json", "package-lock.json", "peer.mjs")
STAMP = ".ssefed-npm-ci.sha256"
NPM_TIMEOUT = 900.0


class FedifyUnavailable(RuntimeError):
    """The Fedify peer cannot be built or started (missing tools, npm failure, crash)."""


def _sources_hash(directory: Path) -> str:
    h = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        h.update(name.encode() + b"\0" + (directory / name).read_bytes() + b"\0")
    return h.hexdigest()


def build(build_dir: Path = BUILD_DIR, source: Path = SHARED_PEER) -> Path:
    """Copy the peer into ``build_dir`` and install its dependencies (once); return the dir.

    ``npm ci`` is skipped when node_modules exists and was installed from the same
    package.json + package-lock.json (their hash is kept in a stamp file). A file lock
    keeps two test processes from installing at the same time.
    """
    if not source.is_dir():
        raise FedifyUnavailable(f"{source} does not exist: the Fedify peer's sources are "
                                f"taken from ../shared/peers/fedify-peer beside the checkout")
    missing_tools = [t for t in ("node", "npm") if shutil.which(t) is None]
    if missing_tools:
        raise FedifyUnavailable(
            f"{' and '.join(missing_tools)} not found on PATH: the Fedify interoperability "
            f"tests need Node.js 20+ with npm (e.g. `apt-get install nodejs npm`)")
    missing = [n for n in SOURCES if not (source / n).is_file()]
    if missing:
        raise FedifyUnavailable(f"the Fedify peer sources are missing from {source}: "
                                f"{', '.join(missing)}")
    build_dir.mkdir(parents=True, exist_ok=True)
    with open(build_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for name in SOURCES:
            # copyfile, not copy: the sources are read-only and the copy must be writable
            shutil.copyfile(source / name, build_dir / name)
        wanted = _sources_hash(build_dir)
        stamp = build_dir / STAMP
        installed = stamp.read_text().strip() if stamp.exists() else ""
        if installed != wanted or not (build_dir / "node_modules" / "@fedify" / "fedify").is_dir():
            stamp.unlink(missing_ok=True)
            try:
                result = subprocess.run(
                    ["npm", "ci", "--no-audit", "--no-fund"], cwd=build_dir,
                    capture_output=True, text=True, timeout=NPM_TIMEOUT,
                    env={**os.environ, "npm_config_update_notifier": "false"})
            except subprocess.TimeoutExpired as exc:
                raise FedifyUnavailable(f"`npm ci` in {build_dir} did not finish in "
                                        f"{NPM_TIMEOUT:.0f} s:\n{exc.stdout}\n{exc.stderr}") from None
            if result.returncode != 0:
                raise FedifyUnavailable(f"`npm ci` in {build_dir} failed "
                                        f"(exit {result.returncode}):\n{result.stdout}\n"
                                        f"{result.stderr}")
            stamp.write_text(wanted + "\n")
    return build_dir


@dataclass
class FedifyPeer:
    """A running Fedify peer and its admin API."""

    name: str
    port: int
    directory: Path
    log_path: Path
    process: subprocess.Popen | None = None
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def actor(self) -> str:
        return f"{self.base_url}/users/{self.name}"

    @property
    def key_id(self) -> str:
        return f"{self.actor}#main-key"

    @property
    def handle(self) -> str:
        return f"{self.name}@127.0.0.1:{self.port}"

    def output(self) -> str:
        """What the peer printed (stdout and stderr)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace") \
            if self.log_path.exists() else ""

    # -- admin API --------------------------------------------------------------------------
    def _get(self, path: str) -> Any:
        r = self.session.get(f"{self.base_url}{path}", timeout=30)
        r.raise_for_status()
        return r.json()

    def _post(self, path: str, body: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
        r = self.session.post(f"{self.base_url}{path}", json=body, timeout=timeout)
        data = r.json()
        if r.status_code != 200 or not data.get("ok"):
            raise AssertionError(f"fedify {path} -> {r.status_code}: {data}\n"
                                 f"--- peer output ---\n{self.output()[-4000:]}")
        return data

    def health(self) -> dict[str, Any]:
        return self._get("/admin/health")

    def follow(self, target: str) -> dict[str, Any]:
        return self._post("/admin/follow", {"target": target})

    def create_note(self, to: list[str], content: str) -> dict[str, Any]:
        return self._post("/admin/create-note", {"to": to, "content": content})

    def following(self) -> list[dict[str, Any]]:
        return self._get("/admin/following")

    def followers(self) -> list[str]:
        return self._get("/admin/followers")

    def log(self) -> list[dict[str, Any]]:
        return self._get("/admin/log")

    def errors(self) -> list[dict[str, Any]]:
        return self._get("/admin/errors")

    def wait(self, fetch: Callable[[], Any], check: Callable[[Any], Any],
             timeout: float = 20, interval: float = 0.1) -> Any:
        """Poll ``fetch()`` until ``check`` accepts its value; return the last value."""
        deadline = time.monotonic() + timeout
        value = fetch()
        while not check(value) and time.monotonic() < deadline:
            time.sleep(interval)
            value = fetch()
        return value

    def wait_log(self, match: Callable[[dict[str, Any]], bool],
                 timeout: float = 20) -> dict[str, Any] | None:
        """The first inbox-log entry ``match`` accepts, polled until ``timeout`` (else None)."""
        entries = self.wait(self.log, lambda log: any(match(e) for e in log), timeout)
        return next((e for e in entries if match(e)), None)

    # -- process ----------------------------------------------------------------------------
    def start(self, timeout: float = 60) -> FedifyPeer:
        node = shutil.which("node")
        if node is None:
            raise FedifyUnavailable("node not found on PATH: the Fedify interoperability "
                                    "tests need Node.js 20+")
        with open(self.log_path, "a", encoding="utf-8") as out:
            self.process = subprocess.Popen(
                [node, "peer.mjs", "--port", str(self.port), "--name", self.name],
                cwd=self.directory, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise FedifyUnavailable(f"the Fedify peer exited at start "
                                        f"(code {self.process.returncode}):\n{self.output()}")
            try:
                if requests.get(f"{self.base_url}/admin/health", timeout=1).ok:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise FedifyUnavailable(f"the Fedify peer did not answer /admin/health within "
                                f"{timeout:.0f} s:\n{self.output()}")

    def stop(self, timeout: float = 10) -> None:
        """Stop the peer process this object started (by its pid, nothing else)."""
        self.session.close()
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_peer(log_dir: Path, name: str = "alice", build_dir: Path = BUILD_DIR) -> FedifyPeer:
    """Build (if needed) and start a Fedify peer named ``name`` on a free loopback port."""
    directory = build(build_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    peer = FedifyPeer(name=name, port=port, directory=directory,
                      log_path=log_dir / f"fedify-{name}-{port}.log")
    return peer.start()
