"""Browser tests: real headless Chromium (Debian's ``chromium`` and ``chromium-driver``)
driven by Selenium, on a real node loaded with the demo network, on each database.

One browser for the session, one demo node per module and database. Chromium that
cannot start makes the tests fail, never skip. Screenshots go to test-artifacts/browser/."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.browser import axe
from tests.conftest import BACKENDS, FreshDatabases
from tests.nodes import NodeFactory

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,1600")


def start_browser(profile: Path, lang: str = "fr-FR,fr"):
    """A headless Chromium with a fresh profile whose Accept-Language is ``lang``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        raise RuntimeError(f"{' and '.join(missing)} missing: the browser tests need Debian's "
                           f"chromium and chromium-driver (`apt-get install -y chromium "
                           f"chromium-driver`; `make test` and .ci/run install them)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--lang={lang.split(',')[0]}")
    options.add_experimental_option("prefs", {"intl.accept_languages": lang})
    try:
        driver = webdriver.Chrome(options=options,
                                  service=Service(executable_path=str(CHROMEDRIVER)))
    except Exception as exc:  # any failure to start is a test failure
        raise RuntimeError(f"headless Chromium did not start: {exc}") from exc
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(60)
    return driver


@pytest.fixture(scope="session")
def browser():
    profile = Path(tempfile.mkdtemp(prefix="ssefed-chromium-"))
    driver = start_browser(profile)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def axe_source() -> str:
    return axe.install().read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module", params=BACKENDS)
def demo_node(request, tmp_path_factory):
    """A running node with the demo network loaded (one per module and database)."""
    tmp = tmp_path_factory.mktemp(f"browser-{request.param}")
    databases = FreshDatabases(request.param, tmp)
    factory = NodeFactory(tmp, databases)
    try:
        node = factory.create("demo", network_name="Réseau ESS des Hautes-Vallées")
        loaded = node.cli("demo", timeout=300)
        assert loaded.returncode == 0, loaded.stdout + loaded.stderr
        node.start()
        node.backend = request.param
        yield node
    finally:
        factory.stop_all()
        databases.drop_all()
