"""What bench/inbox.py and bench/fanout.py share: run header, child processes (a real
ssefed node, helper processes of the scripts themselves), fresh PostgreSQL databases,
a global time bound, cleanup, and the results table.

Everything listens on 127.0.0.1 only. Scratch files go to a temporary directory outside
the repository (removed at the end unless --keep); PostgreSQL databases created by a run
are dropped at the end of that run.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import importlib.metadata
import json
import os
import platform
import secrets
import shlex
import shutil
import signal
import socket
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.dont_write_bytecode = True

PYTHON = sys.executable
SSEFED = [PYTHON, "-m", "ssefed"]
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
# Children of the bench write no bytecode caches either (nothing written in the repo).
CHILD_ENV = {"PYTHONDONTWRITEBYTECODE": "1"}
# The inbox's rate limits per remote actor and host (300 and 3,000 a minute by default)
# raised out of reach: a bench sends thousands of activities a minute from one host to
# measure throughput, which a real peer would not.
NO_INBOX_LIMITS = {"SSEFED_FEDERATION_INBOX_PER_ACTOR_PER_MINUTE": "100000000",
                   "SSEFED_FEDERATION_INBOX_PER_HOST_PER_MINUTE": "100000000"}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# -- run header -------------------------------------------------------------------------

def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("ssefed", "aiohttp", "sqlalchemy", "asyncpg", "aiosqlite", "cryptography"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "?"
    return out


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def print_header(title: str) -> dict[str, Any]:
    info = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "command": " ".join(shlex.quote(a) for a in [os.path.relpath(PYTHON)
                                                      if PYTHON.startswith(os.getcwd())
                                                      else PYTHON, *sys.argv]),
        "machine": f"{platform.system()} {platform.release()} {platform.machine()}, "
                   f"nproc={os.cpu_count()}, {cpu_model()}",
        "load average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "versions": " ".join(f"{k} {v}" for k, v in versions().items()),
    }
    print(f"== {title}")
    for k, v in info.items():
        print(f"   {k}: {v}")
    sys.stdout.flush()
    return info


async def pg_server_version(admin_url: str) -> str:
    import asyncpg

    conn = await asyncpg.connect(admin_url, timeout=10)
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


def print_table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"

    out = [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in rows]
    text = "\n".join(out)
    print(text, flush=True)
    return text


# -- time bound and cleanup -------------------------------------------------------------

async def run_bounded(coro, seconds: float) -> int:
    """Run the orchestrator coroutine within ``seconds``; on timeout, SIGTERM, SIGHUP or
    SIGINT it is cancelled, so its finally blocks stop the processes and drop the
    databases it made. Returns its exit code (2 when cut short)."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(coro)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        return await asyncio.wait_for(task, seconds)
    except asyncio.TimeoutError:
        print(f"ABORTED: the run took more than --timeout {seconds:.0f} s "
              "(processes stopped, databases dropped)", file=sys.stderr, flush=True)
        return 2
    except asyncio.CancelledError:
        print("ABORTED by a signal (processes stopped, databases dropped)", file=sys.stderr,
              flush=True)
        return 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Scratch:
    """A temporary directory (outside the repository) for one run."""

    def __init__(self, keep: bool) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="ssefed-bench-"))
        self.keep = keep

    def cleanup(self) -> None:
        if self.keep:
            log(f"kept scratch directory {self.path}")
        else:
            shutil.rmtree(self.path, ignore_errors=True)


# -- PostgreSQL -------------------------------------------------------------------------

class PgDatabases:
    """Fresh databases created with CREATE DATABASE beside the admin database, dropped at
    the end (DROP DATABASE ... WITH (FORCE))."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.created: list[str] = []

    def url_of(self, name: str) -> str:
        base, _, _ = self.admin_url.rpartition("/")
        return f"{base}/{name}"

    async def create(self, label: str) -> str:
        import asyncpg

        name = f"ssefed_bench_{label}_{os.getpid()}_{secrets.token_hex(3)}"
        conn = await asyncpg.connect(self.admin_url, timeout=10)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        self.created.append(name)
        return self.url_of(name)

    async def stats(self, url: str) -> dict[str, int]:
        """Cumulative transactions and statements of one database (pg_stat_database,
        pg_stat_user_tables); PostgreSQL flushes them within a second of each commit."""
        import asyncpg

        name = url.rpartition("/")[2]
        conn = await asyncpg.connect(self.admin_url, timeout=10)
        try:
            row = await conn.fetchrow(
                "SELECT xact_commit, xact_rollback, tup_returned, tup_fetched, tup_inserted, "
                "tup_updated FROM pg_stat_database WHERE datname = $1", name)
            return dict(row) if row else {}
        finally:
            await conn.close()

    async def drop_all(self) -> None:
        import asyncpg

        if not self.created:
            return
        conn = await asyncpg.connect(self.admin_url, timeout=10)
        try:
            for name in self.created:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                log(f"dropped PostgreSQL database {name}")
        finally:
            await conn.close()
        self.created.clear()


# -- child processes --------------------------------------------------------------------

async def stop_process(proc: asyncio.subprocess.Process | None, timeout: float = 20) -> None:
    """SIGTERM the child we started, then SIGKILL it if it lingers."""
    if proc is None or proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), timeout)
    except asyncio.TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


class Helper:
    """A helper process of a bench script (``python SCRIPT _role ...``) spoken to with one
    JSON object per line on stdin/stdout; its stderr (progress) goes to ours."""

    def __init__(self, script: str, role: str, *args: str) -> None:
        self.cmd = [PYTHON, script, role, *args]
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, timeout: float = 120) -> dict[str, Any]:
        self.proc = await asyncio.create_subprocess_exec(
            *self.cmd, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            env={**os.environ, **CHILD_ENV}, limit=64 * 1024 * 1024)
        return await self.read(timeout)  # the helper says it is ready

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc else 0

    async def read(self, timeout: float) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not line:
            code = await self.proc.wait()
            raise RuntimeError(f"helper {self.cmd[2]} exited ({code})")
        msg = json.loads(line)
        if "error" in msg:
            raise RuntimeError(f"helper {self.cmd[2]}: {msg['error']}")
        return msg

    async def call(self, timeout: float, **cmd: Any) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        await self.proc.stdin.drain()
        return await self.read(timeout)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(Exception):
                await self.call(5, cmd="quit")
                await asyncio.wait_for(self.proc.wait(), 5)  # it exits by itself
            await stop_process(self.proc, timeout=5)  # SIGTERM ends a helper at once


async def helper_loop(handlers: dict[str, Any], ready: dict[str, Any]) -> None:
    """Body of a helper process: answer each command line with one JSON line."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def say(msg: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(msg) + "\n")
        sys.stdout.flush()

    say(ready)
    while True:
        line = await reader.readline()
        if not line:
            return
        cmd = json.loads(line)
        if cmd.get("cmd") == "quit":
            say({"bye": True})
            return
        try:
            say(await handlers[cmd.pop("cmd")](**cmd))
        except Exception as exc:  # report to the orchestrator
            say({"error": f"{type(exc).__name__}: {exc}"})


def progress(msg: str) -> None:
    """Progress line of a helper process (stderr: stdout is the protocol)."""
    print(f"[{time.strftime('%H:%M:%S')}]   {msg}", file=sys.stderr, flush=True)


# -- a real ssefed node -----------------------------------------------------------------

@dataclass
class Node:
    """``ssefed init`` then ``ssefed serve`` as a process, as tests/nodes.py does."""

    directory: Path
    database_url: str  # "" = the SQLite default (data_dir/ssefed.sqlite3)
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: asyncio.subprocess.Process | None = None

    @property
    def config(self) -> Path:
        return self.directory / "ssefed.toml"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.directory / "serve.log"

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc else 0

    def full_env(self) -> dict[str, str]:
        env = {**os.environ, **CHILD_ENV,
               "SSEFED_FEDERATION_ALLOW_PRIVATE_ADDRESSES": "true", **self.env}
        if self.database_url:
            env["SSEFED_DATABASE_URL"] = self.database_url
        return env

    def admin_token(self) -> str:
        return tomllib.loads(self.config.read_text())["admin"]["token"]

    def sqlalchemy_url(self) -> str:
        from ssefed.config import async_database_url

        return async_database_url(self.database_url, self.directory / "data")

    async def init(self, name: str = "Réseau bench") -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        proc = await asyncio.create_subprocess_exec(
            *SSEFED, "--config", str(self.config), "init", "--base-url", self.base_url,
            "--name", name, env=self.full_env(), stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), 120)
        except BaseException:
            await stop_process(proc)
            raise
        if proc.returncode != 0:
            raise RuntimeError(f"ssefed init failed:\n{out.decode(errors='replace')}")

    async def start(self, timeout: float = 60) -> None:
        logf = open(self.log_path, "ab")  # handed to the child
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *SSEFED, "--config", str(self.config), "serve", env=self.full_env(),
                stdout=logf, stderr=asyncio.subprocess.STDOUT)
        finally:
            logf.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.returncode is not None:
                raise RuntimeError(f"ssefed serve exited at start:\n{self.log_tail()}")
            if await asyncio.to_thread(self._healthy):
                return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"ssefed serve did not become healthy:\n{self.log_tail()}")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def log_count(self, needle: str) -> int:
        try:
            with open(self.log_path, errors="replace") as fh:
                return sum(1 for line in fh if needle in line)
        except OSError:
            return 0

    async def stop(self) -> None:
        await stop_process(self.proc, timeout=30)


async def http_json(method: str, url: str, body: Any = None, token: str | None = None,
                    timeout: float = 120) -> tuple[int, Any]:
    """A plain JSON request (admin API), run in a thread."""
    def go() -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")

    return await asyncio.to_thread(go)


# -- CPU accounting ---------------------------------------------------------------------

_TCK = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int, system_only: bool = False) -> float:
    """User + system CPU seconds of a process, all threads (or system time only)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return sum(int(x) for x in fields[12 if system_only else 11:13]) / _TCK


def child_pids(pid: int) -> list[int]:
    """Direct children of a process (e.g. the node's signing process), from /proc."""
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            out += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        pass
    return sorted(set(out))


def postgres_cpu() -> float:
    """CPU seconds of every PostgreSQL server process on the box (read from /proc)."""
    total = 0.0
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if (d / "comm").read_text().strip() == "postgres":
                    fields = (d / "stat").read_text().rpartition(")")[2].split()
                    total += sum(int(x) for x in fields[11:13]) / _TCK
            except OSError:
                pass
    return total


def box_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores."""
    values = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return (total - idle) / _TCK, total / _TCK


class CpuMeter:
    """CPU used by given processes and by the whole box between start() and stop()."""

    def __init__(self, postgres: bool = False, **pids: int) -> None:
        self.pids = pids
        self.postgres = postgres

    def start(self) -> CpuMeter:
        self.t0 = time.perf_counter()
        self.p0 = {k: process_cpu(p) for k, p in self.pids.items()}
        self.s0 = {k: process_cpu(p, True) for k, p in self.pids.items()}
        self.pg0 = postgres_cpu() if self.postgres else 0.0
        self.b0 = box_cpu()
        return self

    def stop(self) -> dict[str, float]:
        wall = time.perf_counter() - self.t0
        b1 = box_cpu()
        out = {f"{k}_cpu_s": process_cpu(p) - self.p0[k] for k, p in self.pids.items()}
        out.update({f"{k}_sys_s": process_cpu(p, True) - self.s0[k]
                    for k, p in self.pids.items()})
        if self.postgres:  # backends that ended during the run are not counted
            out["postgres_cpu_s"] = postgres_cpu() - self.pg0
        out["box_busy_s"] = b1[0] - self.b0[0]
        out["box_util"] = out["box_busy_s"] / max(1e-9, b1[1] - self.b0[1])
        out["wall_s"] = wall
        return out


def cpu_text(cpu: dict[str, float], requests: int, unit: str = "request") -> str:
    parts = []
    for k, v in cpu.items():
        if k.endswith("_cpu_s"):
            sys_s = cpu.get(k[:-6] + "_sys_s")
            part = f"{k[:-6]} {1000 * v / max(1, requests):.2f} ms CPU/{unit}"
            if sys_s is not None and v > 0:
                part += f" ({100 * sys_s / v:.0f} % kernel)"
            parts.append(part)
    return ", ".join(parts) + f"; box {100 * cpu['box_util']:.0f} % busy ({os.cpu_count()} cores)"


# -- profiling --------------------------------------------------------------------------

async def py_spy_record(pid: int, out: Path) -> asyncio.subprocess.Process | None:
    """Start ``py-spy record -f raw`` (non-blocking sampling, per thread) on a process we
    started; stop it with py_spy_stop(). None if py-spy is absent."""
    exe = shutil.which("py-spy")
    if exe is None:
        log("py-spy not found: no profile")
        return None
    # BENCH_PY_SPY_ARGS adds py-spy options, e.g. --native or --gil; "--blocking" (ours)
    # samples with the target paused (more exact, slower); --native implies it.
    extra = shlex.split(os.environ.get("BENCH_PY_SPY_ARGS", ""))
    blocking = "--blocking" in extra or "--native" in extra
    extra = [a for a in extra if a != "--blocking"]
    if not blocking:
        extra.append("--nonblocking")
    proc = await asyncio.create_subprocess_exec(
        exe, "record", "-f", "raw", "-r", "200", "--threads", *extra,
        "-p", str(pid), "-o", str(out),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    await asyncio.sleep(1.0)  # let it attach
    return proc


async def py_spy_stop(proc: asyncio.subprocess.Process | None) -> None:
    """SIGINT makes py-spy write its profile and exit."""
    if proc is None or proc.returncode is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(proc.wait(), 60)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()


def summarise_raw_profile(path: Path, top: int = 25, prefixes: tuple[str, ...] = ()) -> str:
    """Self time and inclusive time per function of a py-spy raw (collapsed) profile."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no profile)"
    self_t: dict[str, int] = {}
    incl: dict[str, int] = {}
    threads: dict[str, int] = {}
    total = 0
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        if frames[0].startswith("thread ("):
            threads[frames[0]] = threads.get(frames[0], 0) + n
            frames = frames[1:] or ["?"]
        leaf = frames[-1]
        self_t[leaf] = self_t.get(leaf, 0) + n
        for f in set(frames):
            incl[f] = incl.get(f, 0) + n
    if not total:
        return "(empty profile)"
    packages: dict[str, int] = {}
    for f, n in self_t.items():
        loc = f[f.rfind("(") + 1:].split(":")[0] if "(" in f else f
        pkg = loc.split("/")[0] if "/" in loc else loc or "?"
        packages[pkg] = packages.get(pkg, 0) + n
    out = [f"samples: {total} at 200 Hz ("
           + ", ".join(f"{t}: {n}" for t, n in sorted(threads.items(), key=lambda kv: -kv[1])[:6])
           + ")", "self time by package: " + ", ".join(
               f"{p} {100 * n / total:.0f}%" for p, n in
               sorted(packages.items(), key=lambda kv: -kv[1])[:12]),
           "top self time (% of all samples):"]
    for f, n in sorted(self_t.items(), key=lambda kv: -kv[1])[:top]:
        out.append(f"  {100 * n / total:5.1f}%  {f}")
    out.append("top inclusive time (frames matching the given prefixes):")
    chosen = [(f, n) for f, n in incl.items() if not prefixes or any(p in f for p in prefixes)]
    for f, n in sorted(chosen, key=lambda kv: -kv[1])[:top]:
        out.append(f"  {100 * n / total:5.1f}%  {f}")
    return "\n".join(out)
