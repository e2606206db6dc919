"""The SSRF guard: a node connects only to globally routable addresses (IANA's
special-purpose registries, not a list of private ranges), and an IPv4 address carried
inside an IPv6 one (IPv4-mapped, 6to4, NAT64) must be globally routable too."""

from __future__ import annotations

import pytest

from ssefed.federation.client import _non_public_literal, address_is_public


def test_carrier_grade_nat_address_is_refused():
    assert address_is_public("100.64.0.1") is False
    assert address_is_public("100.127.255.254") is False


@pytest.mark.parametrize("ip", ["169.254.169.254", "fd00:ec2::254", "100.100.100.200"])
def test_cloud_metadata_addresses_are_refused(ip):
    assert address_is_public(ip) is False


def test_6to4_address_embedding_a_private_ipv4_is_refused():
    assert address_is_public("2002:a00:1::1") is False  # 10.0.0.1
    assert address_is_public("2002:7f00:1::") is False  # 127.0.0.1
    assert address_is_public("2002:a9fe:a9fe::") is False  # 169.254.169.254


def test_6to4_address_embedding_a_public_ipv4_is_allowed():
    assert address_is_public("2002:5db8:d822::1") is True  # 93.184.216.34


def test_nat64_address_embedding_a_private_ipv4_is_refused():
    assert address_is_public("64:ff9b::a00:1") is False  # 10.0.0.1
    assert address_is_public("64:ff9b::a9fe:a9fe") is False  # 169.254.169.254
    assert address_is_public("64:ff9b::7f00:1") is False  # 127.0.0.1


def test_nat64_address_embedding_a_public_ipv4_is_allowed():
    assert address_is_public("64:ff9b::5db8:d822") is True  # 93.184.216.34


def test_local_use_nat64_prefix_is_refused():
    assert address_is_public("64:ff9b:1::5db8:d822") is False


def test_ipv4_mapped_address_is_judged_by_its_ipv4():
    assert address_is_public("::ffff:127.0.0.1") is False
    assert address_is_public("::ffff:100.64.0.1") is False
    assert address_is_public("::ffff:93.184.216.34") is True


def test_ipv4_compatible_address_is_refused():
    assert address_is_public("::a00:1") is False
    assert address_is_public("::5db8:d822") is False


@pytest.mark.parametrize("ip", ["224.0.0.1", "239.1.2.3", "ff02::1", "ff0e::1"])
def test_multicast_address_is_refused(ip):
    assert address_is_public(ip) is False


@pytest.mark.parametrize("ip", ["192.0.0.8", "192.0.0.170", "192.88.99.1", "198.18.0.1",
                                "192.0.2.1", "0.1.2.3", "240.0.0.1", "255.255.255.255"])
def test_special_purpose_ipv4_address_is_refused(ip):
    assert address_is_public(ip) is False


@pytest.mark.parametrize("ip", ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1",
                                "::1", "::", "0.0.0.0", "fe80::1", "fc00::1", "2001:db8::1",
                                "2001::1", "100::1", "2001:20::1"])
def test_private_loopback_and_documentation_addresses_are_refused(ip):
    assert address_is_public(ip) is False


@pytest.mark.parametrize("ip", ["93.184.216.34", "1.1.1.1", "2606:4700::1111",
                                "2a01:4f8::1"])
def test_globally_routable_address_is_allowed(ip):
    assert address_is_public(ip) is True


@pytest.mark.parametrize("host", ["100.64.0.1", "2002:a00:1::1", "64:ff9b::a9fe:a9fe",
                                  "2130706433", "0x7f.1", "127.1", "0177.0.0.1"])
def test_url_host_that_is_a_non_public_literal_is_refused(host):
    assert _non_public_literal(host) is True


@pytest.mark.parametrize("host", ["example.org", "93.184.216.34", "2606:4700::1111",
                                  "1e100.net", "cafe.example"])
def test_url_host_that_is_a_name_or_public_literal_is_not_refused_as_literal(host):
    assert _non_public_literal(host) is False
