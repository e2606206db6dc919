"""Readers of JSON input fields that raise InvalidInput naming the field."""

from __future__ import annotations

from typing import Any

from ssefed.domain.errors import InvalidInput
import math


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


def place(value: Any, field: str = "near") -> tuple[float, float]:
    """``"LAT,LON"`` -> (lat, lon), or InvalidInput naming ``field``."""
    try:
        lat_s, lon_s = str(value).split(",")
        point = (float(lat_s), float(lon_s))
    except ValueError:
        raise InvalidInput(field, "expected LAT,LON (e.g. 45.19,5.72)") from None
    if not all(map(math.isfinite, point)) or not (-90 <= point[0] <= 90
                                                  and -180 <= point[1] <= 180):
        raise InvalidInput(field, "latitude or longitude out of range")
    return point
