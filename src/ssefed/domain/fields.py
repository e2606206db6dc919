"""Readers of JSON input fields that raise InvalidInput naming the field."""

from __future__ import annotations

from typing import Any

from ssefed.domain.errors import InvalidInput


def text(data: dict[str, Any], key: str, *, required: bool = False, max_len: int = 500,
         prefix: str = "") -> str:
    value = data.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidInput(prefix + key, "is required")
        return ""
    if not isinstance(value, str):
        raise InvalidInput(prefix + key, "must be a string")
    if len(value) > max_len:
        raise InvalidInput(prefix + key, f"must be at most {max_len} characters")
    return value.strip()


def number(data: dict[str, Any], key: str, lo: float, hi: float, prefix: str = "") -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(prefix + key, "must be a number")
    if not lo <= value <= hi:
        raise InvalidInput(prefix + key, f"must be between {lo} and {hi}")
    return float(value)
