"""Behind a reverse proxy, per-address limits count the clients the proxy names, not the
proxy: a node with ``[node] trusted_proxies = ["127.0.0.1"]`` and one report per minute
per address (the test talks to it from 127.0.0.1, as a proxy on the same machine would)."""

from __future__ import annotations

from typing import Iterator

import pytest
import requests

from tests.conftest import BACKENDS, FreshDatabases
from tests.nodes import Node, NodeFactory


@pytest.fixture(scope="module", params=BACKENDS)
def node(request, tmp_path_factory) -> Iterator[Node]:
    dbs = FreshDatabases(request.param, tmp_path_factory.mktemp(f"proxies-{request.param}"))
    factory = NodeFactory(dbs.tmp_path, dbs)
    try:
        yield factory.start("proxied", extra_env={
            "SSEFED_NODE_TRUSTED_PROXIES": "127.0.0.1, ::1",
            "SSEFED_REPORTS_REQUESTS_PER_MINUTE": "1"})
    finally:
        factory.stop_all()
        dbs.drop_all()


def report_from(node: Node, forwarded_for: str) -> int:
    resp = requests.post(f"{node.base_url}/api/reports", timeout=10,
                         json={"object": f"{node.base_url}/actors/nobody", "reason": "other"},
                         headers={"X-Forwarded-For": forwarded_for})
    return resp.status_code


def test_clients_behind_a_trusted_proxy_each_have_their_own_report_budget(node):
    assert report_from(node, "203.0.113.10") != 429
    assert report_from(node, "203.0.113.10") == 429  # this client's budget is spent
    assert report_from(node, "203.0.113.11") != 429  # another client behind the same proxy


def test_an_address_a_client_forges_in_forwarded_for_is_not_believed(node):
    assert report_from(node, "203.0.113.20") != 429
    # the client writes another address; the proxy appends the real one on the right
    assert report_from(node, "198.51.100.99, 203.0.113.20") == 429
