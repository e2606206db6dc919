"""axe-core (from npm) for the browser tests: ``npm ci`` of tests/browser/package.json
+ package-lock.json into ``.cache/axe-core`` (gitignored), once, again only when those
files change (as tests/fedify.py does for the Fedify peer). The script is injected into
pages by Selenium; ``violations`` runs ``axe.run()`` there.

Node and npm are required: without them this raises ``AxeUnavailable`` (the tests
fail, they never skip)."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parents[1]
BUILD_DIR = PROJECT / ".cache" / "axe-core"
SOURCES = ("package.json", "package-lock.json")
STAMP = ".ssefed-npm-ci.sha256"
NPM_TIMEOUT = 600.0
SERIOUS = ("serious", "critical")


class AxeUnavailable(RuntimeError):
    """axe-core cannot be installed (no node/npm, npm failure)."""


def _hash(directory: Path) -> str:
    h = hashlib.sha256()
    for name in SOURCES:
        h.update(name.encode() + b"\0" + (directory / name).read_bytes() + b"\0")
    return h.hexdigest()


def install(build_dir: Path = BUILD_DIR) -> Path:
    """Install axe-core (once) and return the path of ``axe.min.js``."""
    missing = [t for t in ("node", "npm") if shutil.which(t) is None]
    if missing:
        raise AxeUnavailable(f"{' and '.join(missing)} not found on PATH: the accessibility "
                             f"checks need Node.js with npm (e.g. `apt-get install nodejs npm`)")
    build_dir.mkdir(parents=True, exist_ok=True)
    script = build_dir / "node_modules" / "axe-core" / "axe.min.js"
    with open(build_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for name in SOURCES:
            shutil.copyfile(HERE / name, build_dir / name)
        wanted = _hash(build_dir)
        stamp = build_dir / STAMP
        if (stamp.read_text().strip() if stamp.exists() else "") != wanted or not script.is_file():
            stamp.unlink(missing_ok=True)
            try:
                result = subprocess.run(
                    ["npm", "ci", "--no-audit", "--no-fund"], cwd=build_dir, capture_output=True,
                    text=True, timeout=NPM_TIMEOUT,
                    env={**os.environ, "npm_config_update_notifier": "false"})
            except subprocess.TimeoutExpired as exc:
                raise AxeUnavailable(f"`npm ci` in {build_dir} did not finish in "
                                     f"{NPM_TIMEOUT:.0f} s:\n{exc.stdout}\n{exc.stderr}") from None
            if result.returncode != 0 or not script.is_file():
                raise AxeUnavailable(f"`npm ci` in {build_dir} failed (exit "
                                     f"{result.returncode}):\n{result.stdout}\n{result.stderr}")
            stamp.write_text(wanted + "\n")
    return script


RUN = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ['violations']})
  .then(r => done({violations: r.violations.map(v => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.map(n => ({target: n.target, html: n.html.slice(0, 300),
                                summary: n.failureSummary}))}))}))
  .catch(e => done({error: String(e)}));
"""


def violations(driver: Any, source: str) -> list[dict[str, Any]]:
    """All axe-core violations of the page open in ``driver`` (axe injected if needed)."""
    if not driver.execute_script("return typeof window.axe !== 'undefined'"):
        driver.execute_script(source)
    result = driver.execute_async_script(RUN)
    if "error" in result:
        raise AssertionError(f"axe.run failed: {result['error']}")
    return result["violations"]


def serious(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [v for v in found if v.get("impact") in SERIOUS]


def describe(found: list[dict[str, Any]]) -> str:
    lines = []
    for v in found:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']}")
        for n in v["nodes"][:5]:
            lines.append(f"    {n['target']}: {n['html']}\n      {n['summary']}")
    return "\n".join(lines)
