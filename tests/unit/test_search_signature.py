"""The words' signature of a search entry (migration 0018) never rules out an entry whose
words hold the query's words as prefixes, whatever the words."""

from __future__ import annotations

import random
import string

from ssefed.db.repos.search import query_signature, word_signature
from ssefed.domain import text


def matches(indexed: str, asked: list[str]) -> bool:
    """The search's own test: each query word starts a word of the entry."""
    return all(f" {w}" in f" {indexed}" for w in asked)


def test_a_matching_entry_always_has_the_query_bits():
    rng = random.Random(5)
    letters = string.ascii_lowercase[:6] + "0"  # few letters: many shared starts
    checked = 0
    for _ in range(3000):
        entry = [("".join(rng.choice(letters) for _ in range(rng.randint(1, 9))))
                 for _ in range(rng.randint(0, 30))]
        indexed = text.indexed(" ".join(entry))
        sig = word_signature(indexed)
        assert -(1 << 63) <= sig < (1 << 63)  # fits a BIGINT
        words = indexed.split()
        asked = [w[:rng.randint(1, len(w))] for w in rng.sample(words, min(len(words), 3))]
        asked += ["".join(rng.choice(letters) for _ in range(rng.randint(1, 5)))]
        mask = query_signature(asked)
        if matches(indexed, asked):
            checked += 1
            assert sig & mask == mask, (indexed, asked)
    assert checked > 100


def test_the_signature_rules_out_entries_without_the_words():
    sig = word_signature(text.indexed("Hebden Bridge bakery co-operative"))
    assert sig & query_signature(["bak"]) == query_signature(["bak"])
    assert query_signature(["co", "op"]) == 0  # too short to say: nothing skipped
    # most other starts are not there (64 bits, 4 starts set at most)
    absent = [w for w in ("farm", "housing", "credit", "union", "energy", "school")
              if sig & query_signature([w]) != query_signature([w])]
    assert len(absent) >= 4
