"""The retry policy of jobs and deliveries, written once: exponential backoff (base *
2^(n-1), capped) with jitter, given up after a number of attempts or an age."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """With the defaults (jobs) 25 attempts span about 4 days before it gives up."""

    base: float = 30.0
    cap: float = 6 * 3600.0
    jitter: float = 0.25               # +/- this fraction of the delay
    max_attempts: int | None = 25
    give_up_after: float | None = None  # seconds since the first attempt

    def next_delay(self, attempts: int, age: float = 0.0,
                   rng: random.Random | None = None) -> float | None:
        """Seconds before attempt ``attempts + 1``, or None to give up (pure)."""
        if self.max_attempts is not None and attempts >= self.max_attempts:
            return None
        if self.give_up_after is not None and age >= self.give_up_after:
            return None
        delay = min(self.cap, self.base * (2 ** max(0, attempts - 1)))
        delay *= 1 + (rng or random).uniform(-self.jitter, self.jitter)
        if self.give_up_after is not None:  # the last attempt comes when the time is up
            delay = min(delay, self.give_up_after - age + 1.0)
        return max(1.0, delay)


JOBS = Backoff()
