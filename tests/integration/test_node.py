import asyncio
import os
import signal
import subprocess
import time

import aiohttp
import requests

from ssefed.config import async_database_url
from ssefed.db import migrate
from ssefed.db.session import Database
from tests.nodes import SSEFED


def test_healthz_and_home_page_of_a_running_node(nodes):
    node = nodes.start("a", network_name="Réseau ESS du Val Test")
    health = requests.get(f"{node.base_url}/healthz", timeout=5)
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "database": "ok", "migrations": "current",
                             "revision": migrate.head_revision()}
    home = requests.get(f"{node.base_url}/", timeout=5)
    assert home.status_code == 200 and home.headers["Content-Type"].startswith("text/html")
    assert "<h1>Réseau ESS du Val Test</h1>" in home.text
    assert 'href="/healthz"' in home.text
    # one log line per request
    assert '"GET /healthz HTTP/1.1" 200' in node.log()


def test_unknown_path_and_bad_input_get_problem_json(nodes):
    node = nodes.start("a")
    missing = requests.get(f"{node.base_url}/no/such/page", timeout=5)
    assert missing.status_code == 404
    assert missing.headers["Content-Type"].startswith("application/problem+json")
    assert missing.json()["status"] == 404
    auth = {"Authorization": f"Bearer {node.admin_token()}"}
    bad = requests.post(f"{node.base_url}/api/organisations", data=b"{not json", timeout=5,
                        headers={**auth, "Content-Type": "application/json"})
    assert bad.status_code == 415 and "not JSON" in bad.json()["detail"]
    untyped = requests.post(f"{node.base_url}/api/organisations", data=b"{}", headers=auth,
                            timeout=5)
    assert untyped.status_code == 415 and untyped.json()["field"] == "Content-Type"
    invalid = requests.post(f"{node.base_url}/api/organisations", headers=auth, timeout=5,
                            json={"handle": "coop", "name": "Coop", "lat": 95, "lon": 6})
    assert invalid.status_code == 422 and invalid.json()["field"] == "lat"
    unauth = requests.post(f"{node.base_url}/api/organisations", timeout=5,
                           json={"handle": "coop", "name": "Coop"})
    assert unauth.status_code == 401
    huge = requests.post(f"{node.base_url}/api/organisations", timeout=5,
                         headers={**auth, "Content-Type": "application/json"},
                         data=b"[" + b"0," * 600_000 + b"0]")
    assert huge.status_code == 413
    assert "Traceback" not in node.log()
    # nothing half-written: no organisation exists
    assert requests.get(f"{node.base_url}/api/organisations", timeout=5).json()["items"] == []


def test_healthz_answers_503_when_the_schema_is_behind(nodes, tmp_path):
    node = nodes.start("a")

    async def downgrade() -> None:
        db = Database(async_database_url(node.database_url, tmp_path))
        try:
            await migrate.downgrade(db, "base")
        finally:
            await db.dispose()

    asyncio.run(downgrade())
    health = requests.get(f"{node.base_url}/healthz", timeout=5)
    assert health.status_code == 503
    assert health.json()["migrations"] == "behind"


def test_sigterm_stops_cleanly_and_leaves_no_job_claimed(nodes):
    node = nodes.start("a")
    auth = {"Authorization": f"Bearer {node.admin_token()}"}
    for i in range(20):  # each queues a key-generation job
        r = requests.post(f"{node.base_url}/api/organisations", headers=auth, timeout=10,
                          json={"handle": f"org{i}", "name": f"Organisation {i}"})
        assert r.status_code == 201
    started = time.monotonic()
    assert node.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 15
    assert "stopped cleanly" in node.log()

    states = node.job_counts()
    assert states.get("running", 0) == 0
    assert sum(states.values()) == 20
    # Restarted, the node finishes what was left.
    node.start()
    assert node.wait_jobs_done(20) == {"done": 20}


def test_concurrent_writers_never_see_database_is_locked(nodes):
    """Web requests, the node's workers and another process (`ssefed demo`) write at once."""
    node = nodes.start("a", extra_env={"SSEFED_WORKER_CONCURRENCY": "4"})
    auth = {"Authorization": f"Bearer {node.admin_token()}"}

    async def post_many(n: int) -> list[int]:
        async with aiohttp.ClientSession() as http:
            async def one(i: int) -> int:
                async with http.post(f"{node.base_url}/api/organisations", headers=auth,
                                     json={"handle": f"c{i}", "name": f"Coop {i}",
                                           "lat": 45.0 + i / 1000, "lon": 6.0}) as r:
                    await r.read()
                    return r.status
            return list(await asyncio.gather(*(one(i) for i in range(n))))

    demo = subprocess.Popen([*SSEFED, "--config", str(node.config), "demo"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **node.env})
    statuses = asyncio.run(post_many(150))
    out, err = demo.communicate(timeout=120)
    assert demo.returncode == 0, err
    assert statuses == [201] * 150
    listing = requests.get(f"{node.base_url}/api/organisations?limit=500", timeout=10).json()
    assert len(listing["items"]) >= 150 + 25
    total = len(listing["items"])
    assert node.wait_jobs_done(total) == {"done": total}  # the workers wrote every key pair
    assert "database is locked" not in node.log() + err
    assert "Traceback" not in node.log()
