"""Whose address a per-address limit counts: the connection's peer, unless that peer is
one of ``[node] trusted_proxies``; then X-Forwarded-For is read from the right, skipping
trusted proxies, and the first address not trusted is the client."""

from __future__ import annotations

from unittest import mock

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from ssefed.config import Config, ConfigError, NodeConfig, load_config
from ssefed.web.clients import client_address
from ssefed.web.keys import CONFIG


def request(peer: str, forwarded: str | list[str] | None = None, *,
            trusted: tuple[str, ...] = ()) -> web.Request:
    app = web.Application()
    app[CONFIG] = Config(node=NodeConfig(trusted_proxies=trusted))
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        (peer, 40000) if name == "peername" else default)
    values = [forwarded] if isinstance(forwarded, str) else forwarded or []
    headers = [("X-Forwarded-For", v) for v in values]
    from multidict import CIMultiDict

    return make_mocked_request("POST", "/api/reports", headers=CIMultiDict(headers), app=app,
                               transport=transport)


def test_without_trusted_proxies_forwarded_for_is_ignored():
    assert client_address(request("198.51.100.7", "203.0.113.9")) == "198.51.100.7"


def test_forwarded_for_from_a_peer_that_is_not_trusted_is_ignored():
    req = request("198.51.100.7", "203.0.113.9", trusted=("127.0.0.1", "10.0.0.0/8"))
    assert client_address(req) == "198.51.100.7"


def test_behind_a_trusted_proxy_the_forwarded_client_is_the_address():
    req = request("127.0.0.1", "203.0.113.9", trusted=("127.0.0.1",))
    assert client_address(req) == "203.0.113.9"


def test_addresses_a_client_put_in_forwarded_for_itself_are_not_believed():
    # the client sent "X-Forwarded-For: 1.2.3.4"; the proxy appended the real address
    req = request("10.0.0.2", "1.2.3.4, 203.0.113.9, 10.0.0.5", trusted=("10.0.0.0/8",))
    assert client_address(req) == "203.0.113.9"


def test_forwarded_for_over_several_header_lines_is_read_as_one_list():
    req = request("10.0.0.2", ["1.2.3.4", "203.0.113.9"], trusted=("10.0.0.0/8",))
    assert client_address(req) == "203.0.113.9"


def test_forwarded_for_that_is_not_an_address_leaves_the_last_trusted_hop():
    req = request("10.0.0.2", "203.0.113.9, garbage", trusted=("10.0.0.0/8",))
    assert client_address(req) == "10.0.0.2"


def test_ipv4_mapped_peer_and_ports_and_brackets_are_normalised():
    req = request("::ffff:127.0.0.1", "[2001:db8::1]:4711", trusted=("127.0.0.1",))
    assert client_address(req) == "2001:db8::1"
    req = request("127.0.0.1", "203.0.113.9:51000", trusted=("127.0.0.0/8",))
    assert client_address(req) == "203.0.113.9"


def test_trusted_proxies_are_read_from_the_environment_as_a_list():
    cfg = load_config("/nonexistent.toml",
                      env={"SSEFED_NODE_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8 ::1"})
    assert cfg.node.trusted_proxies == ("127.0.0.1", "10.0.0.0/8", "::1")


def test_trusted_proxy_that_is_not_an_address_is_a_config_error():
    with pytest.raises(ConfigError, match="trusted_proxies"):
        load_config("/nonexistent.toml", env={"SSEFED_NODE_TRUSTED_PROXIES": "proxy.local"})
