"""The inbox's rate limits (federation/ratelimit.py) alone, on an injected clock."""

import pytest

from ssefed.federation.ratelimit import Buckets, InboxLimits, RateLimited


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_budget_then_says_how_long_to_wait_and_refills():
    clock = Clock()
    buckets = Buckets(per_minute=6, max_keys=10, clock=clock)
    for _ in range(6):
        assert buckets.take("a") == 0
    assert buckets.take("a") == pytest.approx(10.0)  # one token every 10 s
    assert buckets.take("b") == 0  # another key has its own budget
    clock.now += 10.0
    assert buckets.take("a") == 0
    assert buckets.take("a") > 0


def test_wait_spends_nothing():
    buckets = Buckets(per_minute=1, max_keys=10, clock=Clock())
    assert buckets.wait("a") == 0
    assert buckets.wait("a") == 0
    assert buckets.take("a") == 0
    assert buckets.wait("a") == pytest.approx(60.0)


def test_the_number_of_keys_is_bounded_and_full_buckets_are_forgotten_first():
    clock = Clock()
    buckets = Buckets(per_minute=60, max_keys=100, clock=clock)
    for _ in range(60):
        buckets.take("spent")  # an active key: emptied
    for i in range(1000):
        buckets.take(f"k{i}")
        assert len(buckets) <= 100
    assert buckets.take("spent") > 0, "a spent key was forgotten while idle keys were kept"
    clock.now += 120.0
    for i in range(1000, 1100):
        buckets.take(f"k{i}")
    assert len(buckets) <= 100


def test_inbox_limits_check_then_spend_actor_and_host():
    clock = Clock()
    limits = InboxLimits(per_actor=2, per_host=3, clock=clock)
    a, b = "https://x.example/users/a", "https://x.example/users/b"
    limits.check(a, "x.example")  # checking spends nothing
    limits.check(a, "x.example")
    limits.spend(a, "x.example")
    limits.spend(a, "x.example")
    with pytest.raises(RateLimited) as actor_over:
        limits.check(a, "x.example")
    assert actor_over.value.retry_after == 30 and "per minute for the actor" in str(actor_over.value)
    limits.spend(b, "x.example")  # the host's third
    with pytest.raises(RateLimited) as host_over:
        limits.check("https://x.example/users/new", "x.example")
    assert "per minute for the host x.example" in str(host_over.value)
    with pytest.raises(RateLimited):  # spend re-checks (requests checked together)
        limits.spend("https://x.example/users/new", "x.example")
    limits.check("https://y.example/users/a", "y.example")  # other hosts are not affected
    clock.now += 20.0  # the host got one token back
    limits.spend("https://x.example/users/new", "x.example")
