"""Test setup: databases per backend (SQLite always, PostgreSQL when
SSEFED_TEST_DATABASE_URL is set) and real ssefed nodes on loopback ports."""

from __future__ import annotations

import asyncio
import concurrent.futures
import gzip
import os
import shutil
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.nodes import NodeFactory

PROJECT = Path(__file__).resolve().parents[1]
# Test data, with its provenance (tests/fixtures/README.md). Programs the interoperability
# tests run (the Fedify peer) are not copied: they come from ../shared/peers (tests/fedify.py).
FIXTURES = PROJECT / "tests" / "fixtures"
PEERS = FIXTURES / "peers"
COOPS_GZ = FIXTURES / "directories" / "coops-uk-2023-03-standard.csv.gz"
PG_URL = os.environ.get("SSEFED_TEST_DATABASE_URL", "").strip()

BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])

# Property tests (tests/adversarial/test_fuzz.py): "ci", the default, is derandomised and
# bounded, so a run is repeatable and quick; HYPOTHESIS_PROFILE=deep searches longer.
_FUZZ = dict(deadline=None, database=None,
             suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                    HealthCheck.filter_too_much])
settings.register_profile("ci", derandomize=True, max_examples=200, **_FUZZ)
settings.register_profile("deep", max_examples=5000, **_FUZZ)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_sessionstart(session):
    """With SSEFED_TEST_DATABASE_URL set, PostgreSQL must answer: fail loudly, never skip."""
    if PG_URL:
        try:
            _pg_exec("SELECT 1")
        except Exception as exc:
            pytest.exit(f"PostgreSQL for tests is unreachable ({exc})", returncode=3)


def pytest_report_header(config):
    return (f"ssefed database backends: {', '.join(BACKENDS)}"
            + ("" if PG_URL else " (set SSEFED_TEST_DATABASE_URL to add PostgreSQL)"))


def _pg_admin_dsn() -> str:
    return PG_URL.replace("postgresql+asyncpg://", "postgresql://").replace(
        "postgres://", "postgresql://")


def _pg_exec(sql: str) -> None:
    """Run one statement on the test server (in a thread: callers may be inside a loop)."""
    import asyncpg

    async def run() -> None:
        try:
            conn = await asyncpg.connect(_pg_admin_dsn(), timeout=10)
        except (OSError, asyncpg.PostgresError) as exc:
            raise RuntimeError(f"SSEFED_TEST_DATABASE_URL is set but PostgreSQL cannot be "
                               f"reached: {exc}") from None
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()


class FreshDatabases:
    """Hands out a new empty database per call: a SQLite file, or a new PostgreSQL
    database next to SSEFED_TEST_DATABASE_URL's (so nodes never share one)."""

    def __init__(self, backend: str, tmp_path: Path) -> None:
        self.backend, self.tmp_path = backend, tmp_path
        self.created: list[str] = []

    def new_url(self) -> str:
        name = f"ssefed_t_{uuid.uuid4().hex[:12]}"
        if self.backend == "sqlite":
            path = self.tmp_path / f"{name}.sqlite3"
            return f"sqlite:///{path}"
        _pg_exec(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        base = _pg_admin_dsn()
        head, _, _ = base.rpartition("/")
        return f"{head}/{name}"

    def drop_all(self) -> None:
        for name in self.created:
            _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def databases(backend: str, tmp_path: Path):
    dbs = FreshDatabases(backend, tmp_path)
    yield dbs
    dbs.drop_all()


@pytest.fixture
def nodes(databases: FreshDatabases, tmp_path: Path):
    factory = NodeFactory(tmp_path, databases)
    yield factory
    factory.stop_all()


@pytest.fixture(scope="session")
def coops_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 7,272 UK co-operatives as a plain CSV (`ssefed import` takes a file path); the
    repository keeps it gzipped (3.6 MB to 0.54 MB)."""
    path = tmp_path_factory.mktemp("directories") / COOPS_GZ.name.removesuffix(".gz")
    with gzip.open(COOPS_GZ, "rb") as packed, path.open("wb") as plain:
        shutil.copyfileobj(packed, plain)
    return path
