"""Folding text for search, the same way for both databases: lower case, accents and
ligatures removed (é -> e, œ -> oe), split into words of letters and digits. What is
indexed and what is asked are folded by this one function, so SQLite FTS5 and
PostgreSQL full-text search see the same words and give the same totals."""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[a-z0-9]+")
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss", "ø": "o", "đ": "d", "ł": "l",
                            "ı": "i", "þ": "th", "ð": "d"})
MAX_QUERY_WORDS = 12


def fold(text: str) -> str:
    text = text.lower()
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKD", text.translate(_LIGATURES))
    return "".join(c for c in text if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """The folded words of ``text``, in order (duplicates kept)."""
    return _WORD.findall(fold(text))


def indexed(*parts: str, limit: int = 20_000) -> str:
    """The text a search entry is indexed by: its folded words, space-separated."""
    return " ".join(w for part in parts if part for w in words(part))[:limit]


def query_words(q: str) -> list[str]:
    """The words of a full-text query (each matches as a prefix), at most 12."""
    return list(dict.fromkeys(words(q)))[:MAX_QUERY_WORDS]
