import random
from datetime import datetime, timezone

import pytest

from ssefed.federation.client import FederationClient, FetchError, address_is_public
from ssefed.federation.delivery import RetryPolicy, retry_after_seconds
from ssefed.worker.retry import JOBS


def test_backoff_grows_exponentially_with_bounded_jitter():
    policy = RetryPolicy(base=60, cap=6 * 3600, give_up_after=52 * 3600)
    rng = random.Random(1)
    delays = [policy.next_delay(n, age=0, rng=rng) for n in range(1, 8)]
    for n, delay in enumerate(delays, 1):
        nominal = min(6 * 3600, 60 * 2 ** (n - 1))
        assert 0.8 * nominal <= delay <= 1.2 * nominal
    assert delays == sorted(delays)


def test_retries_span_at_least_two_days_then_give_up():
    policy = RetryPolicy()
    rng = random.Random(7)
    age, attempts = 0.0, 0
    while True:
        attempts += 1
        delay = policy.next_delay(attempts, age, rng=rng)
        if delay is None:
            break
        age += delay
        assert attempts < 100
    assert age >= 48 * 3600
    assert policy.next_delay(attempts + 1, 53 * 3600) is None


def test_jobs_back_off_the_same_way_and_give_up_after_25_attempts():
    rng = random.Random(3)
    delays = [JOBS.next_delay(n, rng=rng) for n in range(1, 25)]
    for n, delay in enumerate(delays, 1):
        nominal = min(6 * 3600, 30 * 2 ** (n - 1))
        assert 0.75 * nominal <= delay <= 1.25 * nominal
    assert 3.5 * 86400 <= sum(delays) <= 4.5 * 86400
    assert JOBS.next_delay(25) is None


def test_breaker_opens_after_threshold_and_probe_interval_doubles_to_a_cap():
    policy = RetryPolicy(breaker_threshold=3, probe_interval=60, probe_cap=3600)
    assert policy.open_for(1) is None and policy.open_for(2) is None
    assert policy.open_for(3) == 60 and policy.open_for(4) == 120
    assert policy.open_for(20) == 3600


def test_retry_after_seconds_and_http_date():
    now = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
    assert retry_after_seconds("120", now) == 120
    assert retry_after_seconds("Mon, 23 Nov 2026 12:05:00 GMT", now) == 300
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None, now) is None
    assert retry_after_seconds("99999999", now) == 7 * 86400


@pytest.mark.parametrize("ip, public", [
    ("127.0.0.1", False), ("10.1.2.3", False), ("172.16.0.1", False), ("192.168.1.1", False),
    ("169.254.169.254", False), ("224.0.0.1", False), ("::1", False), ("fe80::1", False),
    ("::ffff:127.0.0.1", False), ("0.0.0.0", False), ("93.184.216.34", True),
    ("2606:4700::1111", True),
])
def test_address_classification(ip, public):
    assert address_is_public(ip) is public


def client(allow_private: bool) -> FederationClient:
    return FederationClient(allow_private=allow_private, timeout=1, delivery_timeout=1,
                            max_bytes=1000, max_redirects=3)


@pytest.mark.parametrize("url", [
    "http://example.org/actor",          # plain http outside test setups
    "https://127.0.0.1/actor", "https://[::1]/actor", "https://10.0.0.1/x",
    "https://169.254.169.254/latest/meta-data", "https://localhost/x",
    "ftp://example.org/x", "https://user:pw@example.org/x",
])
async def test_ssrf_guard_refuses_before_any_connection(url):
    async with client(False) as c:
        with pytest.raises(FetchError) as err:
            await c.get(url, None)
    assert err.value.reason == "refused"


async def test_resolver_refuses_names_that_resolve_to_private_addresses():
    from ssefed.federation.client import GuardedResolver

    strict, lenient = GuardedResolver(False), GuardedResolver(True)
    try:
        with pytest.raises(OSError, match="refusing non-public address 127.0.0.1"):
            await strict.resolve("localhost", 443)
        assert {r["host"] for r in await lenient.resolve("localhost", 443)} & {"127.0.0.1", "::1"}
    finally:
        await strict.close()
        await lenient.close()


async def test_test_setups_may_fetch_loopback_over_http():
    async with client(True) as c:
        assert await c.check_url("http://127.0.0.1:9/x") == "127.0.0.1:9"
