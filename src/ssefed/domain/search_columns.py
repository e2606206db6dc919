"""The storage of the search projection (domain/search_projection.py): the entries'
columns by slot (numpy arrays), what a page shows of each, and the postings of terms and
words."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

EMPTY = np.zeros(0, np.int64)


class Postings:
    """The slots of the entries holding each key (a term or a word): a sorted vocabulary
    with its slots in one array (key i's slots are ``slots[starts[i]:starts[i+1]]``), plus
    the postings added since that array was built, folded into it once they are a
    quarter of its size (so each posting is copied a bounded number of times)."""

    def __init__(self) -> None:
        self.vocab: list[str] = []
        self.starts = np.zeros(1, np.int64)
        self.slots = np.zeros(0, np.int32)
        self.recent: dict[str, list[int]] = {}
        self._recent_sorted: list[str] | None = []  # the recent keys sorted, for prefixes
        self.recent_count = 0

    def add(self, slot: int, keys: Iterable[str]) -> None:
        for key in keys:
            held = self.recent.get(key)
            if held is None:
                self.recent[key] = [slot]
                self._recent_sorted = None
            else:
                held.append(slot)
            self.recent_count += 1

    def due(self) -> bool:
        return self.recent_count > max(50_000, len(self.slots) // 4)

    def exact(self, key: str) -> np.ndarray:
        i = bisect_left(self.vocab, key)
        found = i < len(self.vocab) and self.vocab[i] == key
        base = self.slots[self.starts[i]:self.starts[i + 1]] if found else EMPTY
        extra = self.recent.get(key)
        return np.concatenate([base, np.array(extra, np.int64)]) if extra else base

    def prefix(self, start: str) -> np.ndarray:
        """The slots of every key that begins with ``start``."""
        end = start + "\U0010ffff"
        lo, hi = bisect_left(self.vocab, start), bisect_right(self.vocab, end)
        base = self.slots[self.starts[lo]:self.starts[hi]]
        if self._recent_sorted is None:
            self._recent_sorted = sorted(self.recent)
        recent = self._recent_sorted
        rlo, rhi = bisect_left(recent, start), bisect_right(recent, end)
        extra = [s for key in recent[rlo:rhi] for s in self.recent[key]]
        return np.concatenate([base, np.array(extra, np.int64)]) if extra else base

    def fold(self, alive: np.ndarray) -> None:
        """Merge the recent postings into the array, without those of dead slots."""
        keys = sorted(set(self.vocab).union(self.recent))
        index = {k: i for i, k in enumerate(keys)}
        old_ids = np.repeat(np.array([index[k] for k in self.vocab], np.int64),
                            np.diff(self.starts))
        new_ids = np.array([index[k] for k, held in self.recent.items() for _ in held],
                           np.int64)
        new_slots = np.array([s for held in self.recent.values() for s in held], np.int64)
        ids = np.concatenate([old_ids, new_ids])
        slots = np.concatenate([self.slots.astype(np.int64), new_slots])
        keep = alive[slots]
        ids, slots = ids[keep], slots[keep]
        order = np.lexsort((slots, ids))
        ids, slots = ids[order], slots[order]
        counts = np.bincount(ids, minlength=len(keys))
        used = np.flatnonzero(counts)
        self.vocab = [keys[i] for i in used]
        self.starts = np.concatenate([[0], np.cumsum(counts[used])]).astype(np.int64)
        self.slots = slots.astype(np.int32)
        self.recent, self._recent_sorted, self.recent_count = {}, [], 0


@dataclass(frozen=True, slots=True)
class Shown:
    """What a page shows of an entry beside its columns."""
    ap_id: str
    name: str
    summary: str
    node: str | None
    local: bool
    category: str | None
    sectors: tuple[str, ...]


class Columns:
    """The entries' columns, by slot; slots are appended, a dead one is never reused."""

    def __init__(self, coded: Iterable[str], capacity: int = 1024) -> None:
        self.n = 0
        self.alive = np.zeros(capacity, bool)
        self.key = np.zeros(capacity, np.int64)
        self.actor = np.zeros(capacity, np.int64)
        self.local = np.zeros(capacity, bool)
        self.xyz = np.full((capacity, 3), np.nan)
        self.latlon = np.full((capacity, 2), np.nan)
        self.codes = {f: np.zeros(capacity, np.int16) for f in coded}
        self.validated = np.zeros(capacity, bool)
        self.validated_until = np.zeros(capacity, np.int32)
        self.valid_until = np.zeros(capacity, np.int32)
        self.shown: list[Shown] = []

    def grow(self) -> None:
        def bigger(a: np.ndarray, fill: Any = 0) -> np.ndarray:
            out = np.full((2 * len(a),) + a.shape[1:], fill, a.dtype)
            out[:len(a)] = a
            return out

        self.alive, self.key = bigger(self.alive), bigger(self.key)
        self.actor, self.local = bigger(self.actor), bigger(self.local)
        self.xyz, self.latlon = bigger(self.xyz, np.nan), bigger(self.latlon, np.nan)
        self.codes = {f: bigger(a) for f, a in self.codes.items()}
        self.validated = bigger(self.validated)
        self.validated_until, self.valid_until = (bigger(self.validated_until),
                                                  bigger(self.valid_until))
