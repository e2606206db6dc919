"""domain/validity.py: which network's listing makes an organisation validated."""

from __future__ import annotations

from datetime import date

from ssefed.domain.validity import validity_of

TODAY = date(2026, 12, 7)
A, B, X = "https://a.example/actors/network", "https://b.example/actors/network", \
    "https://x.example/actors/network"


def test_no_trusted_network_listing_it_is_unvalidated_whatever_untrusted_ones_say():
    g = validity_of([(X, None), (X, date(2030, 1, 1))], frozenset({A}), TODAY)
    assert (g.state, g.until, g.network) == ("unvalidated", None, None)
    assert validity_of([], frozenset({A}), TODAY).state == "unvalidated"


def test_the_trusted_listing_that_holds_longest_counts_and_an_ended_one_is_expired():
    listed = [(A, date(2027, 1, 1)), (B, None), (X, None)]
    assert validity_of(listed, frozenset({A}), TODAY).until == date(2027, 1, 1)
    g = validity_of(listed, frozenset({A, B}), TODAY)
    assert (g.state, g.until, g.network) == ("validated", None, B)
    ended = validity_of([(A, date(2026, 1, 1)), (B, date(2026, 6, 1))],
                        frozenset({A, B}), TODAY)
    assert (ended.state, ended.until, ended.network) == ("expired", date(2026, 6, 1), B)
    assert not ended.current
