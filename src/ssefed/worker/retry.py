"""Retry policy: a pure function of the attempt count (and a random source for jitter)."""

from __future__ import annotations

import random


def next_delay(attempts: int, *, base: float = 30.0, cap: float = 6 * 3600.0,
               max_attempts: int = 25, rng: random.Random | None = None) -> float | None:
    """Seconds to wait before attempt ``attempts + 1``, or None to give up.

    Exponential (base * 2^(n-1), capped) with +/-25 % jitter; with the defaults the
    attempts span a little over 4 days before giving up.
    """
    if attempts >= max_attempts:
        return None
    delay = min(cap, base * (2 ** max(0, attempts - 1)))
    r = (rng or random).uniform(-0.25, 0.25)
    return max(1.0, delay * (1 + r))
