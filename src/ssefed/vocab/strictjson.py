"""The one rule for reading JSON that someone else sent (an inbox POST, an API body).

A body that is not JSON is refused with 415; JSON beyond the node's limits with 400
naming the field (a JSON Pointer): containers nested deeper than ``max_json_depth``
(also when the nesting is deep enough to exhaust the parser's recursion), a number
literal of more than ``MAX_NUMBER_DIGITS`` digits (refused as text, before Python builds
a huge int: past 4,300 digits ``int()`` itself raises ValueError), a number too large for
a float, NaN/Infinity (not JSON, and PostgreSQL's JSON refuses them), and a string (or
key) holding NUL (``\\u0000``) or a lone surrogate (``\\ud800``), which PostgreSQL's JSONB
refuses too.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

__all__ = ["JSONRefused", "MAX_NUMBER_DIGITS", "depth_ok", "loads"]

MAX_NUMBER_DIGITS = 32


class JSONRefused(ValueError):
    """Why a received JSON text is refused: HTTP status (415 or 400), detail, field."""

    def __init__(self, status: int, detail: str, field: str) -> None:
        super().__init__(detail)
        self.status, self.detail, self.field = status, detail, field

    @property
    def title(self) -> str:
        return "Unsupported Media Type" if self.status == 415 else "Bad Request"


class _Refuse(Exception):
    """Raised by a number hook: the document is refused (its field found in a second pass)."""


def _digits(text: str) -> int:
    return len(text) - sum(text.count(c) for c in "-+.eE")


def _int(text: str) -> int:
    if len(text) > MAX_NUMBER_DIGITS and _digits(text) > MAX_NUMBER_DIGITS:
        raise _Refuse
    return int(text)


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_DIGITS and _digits(text) > MAX_NUMBER_DIGITS:
        raise _Refuse
    value = float(text)
    if math.isinf(value):
        raise _Refuse
    return value


# An escape that decodes to NUL or a surrogate; its literal prefix keeps the search fast
# (a pattern that also matched raw surrogates cost more than the parse itself).
_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def _suspect(text: str) -> bool:
    """Can ``text`` hold a NUL or a lone surrogate once decoded? Only through an escape
    (``\\u0000``, ``\\udXXX``) or a raw surrogate (from a str, or from bytes decoded with
    surrogatepass, which UTF-8 cannot encode)."""
    if _ESCAPE.search(text) is not None:
        return True
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def _unstorable(doc: Any) -> tuple[str, str] | None:
    """(reason, JSON Pointer) of the first string or key holding NUL or a lone surrogate."""
    stack: list[tuple[Any, list[str | int]]] = [(doc, [])]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            for key in value:
                if _UNSTORABLE.search(key):
                    shown = _UNSTORABLE.sub("\ufffd", key)  # the pointer is sent back
                    return "a key holding NUL or a lone surrogate", _pointer([*path, shown])
            stack.extend((child, [*path, key]) for key, child in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((child, [*path, i]) for i, child in reversed(list(enumerate(value))))
        elif isinstance(value, str) and _UNSTORABLE.search(value):
            return "a string holding NUL or a lone surrogate", _pointer(path)
    return None


def _constant(text: str) -> Any:
    raise _Refuse


_DECODER = json.JSONDecoder(parse_int=_int, parse_float=_float, parse_constant=_constant)


class _Bad:
    """Where a refused literal was, in the second pass that finds its field."""

    def __init__(self, text: str) -> None:
        self.text = text

    @property
    def reason(self) -> str:
        if self.text in ("NaN", "Infinity", "-Infinity"):
            return f"{self.text} is not a JSON number"
        if _digits(self.text) > MAX_NUMBER_DIGITS:
            return f"a number of more than {MAX_NUMBER_DIGITS} digits"
        return "a number too large"


def _mark(text: str) -> Any:
    try:
        return _float(text) if any(c in text for c in ".eE") else _int(text)
    except _Refuse:
        return _Bad(text)


_MARKING = json.JSONDecoder(parse_int=_mark, parse_float=_mark, parse_constant=_Bad)


def _pointer(path: list[str | int]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path) or "/"


def _find(doc: Any, max_depth: int | None) -> tuple[str, str] | None:
    """(reason, JSON Pointer) of the first refused literal, or of the first container
    nested deeper than ``max_depth``; None if there is none."""
    stack: list[tuple[Any, list[str | int]]] = [(doc, [])]
    while stack:
        value, path = stack.pop()
        if isinstance(value, _Bad):
            return value.reason, _pointer(path)
        if isinstance(value, dict):
            items: Any = value.items()
        elif isinstance(value, list):
            items = enumerate(value)
        else:
            continue
        if max_depth is not None and len(path) >= max_depth:
            return f"JSON nested deeper than {max_depth}", _pointer(path)
        stack.extend((child, [*path, key]) for key, child in reversed(list(items)))
    return None


def depth_ok(doc: Any, max_depth: int) -> bool:
    """True if no container nests deeper than ``max_depth`` (a top-level object is depth 1)."""
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > max_depth:
            return False
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return True


def loads(raw: bytes | str, *, max_depth: int) -> Any:
    """The JSON value of ``raw`` (bytes in any JSON encoding, as json.loads reads them),
    or JSONRefused."""
    try:
        text = (raw.decode(json.detect_encoding(raw), "surrogatepass")
                if isinstance(raw, (bytes, bytearray)) else raw)
        doc = _DECODER.decode(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise JSONRefused(415, f"the body is not JSON: {exc}", "body") from None
    except RecursionError:
        raise JSONRefused(400, f"JSON nested deeper than {max_depth}", "body") from None
    except (_Refuse, ValueError):  # ValueError: whatever int()/float() still refuse
        try:
            found = _find(_MARKING.decode(text), None)
        except Exception:  # refused all the same, only without its field
            found = None
        reason, field = found or ("a number out of range", "body")
        raise JSONRefused(400, f"{reason} at {field}", field) from None
    # every container opens with { or [, so fewer of them (counted in C, strings too)
    # than max_depth bounds the depth without walking the document
    if text.count("{") + text.count("[") > max_depth and not depth_ok(doc, max_depth):
        reason, field = _find(doc, max_depth) or (
            f"JSON nested deeper than {max_depth}", "body")
        raise JSONRefused(400, f"{reason} at {field}", field)
    if _suspect(text):
        found = _unstorable(doc)
        if found is not None:
            reason, field = found
            raise JSONRefused(400, f"{reason} at {field}", field)
    return doc
