"""A small RFC 8941 Structured Field Values parser and serialiser.

Only what RFC 9421 (HTTP Message Signatures) and RFC 9530 (Content-Digest) need:
Dictionaries whose members are Items or Inner Lists, with Parameters, and the bare
item types Integer, Decimal, String, Token, Byte Sequence and Boolean. Parsing follows
the algorithms of RFC 8941 §4.2 step by step; serialisation follows §4.1, so
``serialize_inner_list(*parse(...))`` gives the canonical form RFC 9421 signs.
"""

from __future__ import annotations

import base64
import re
from decimal import Decimal

__all__ = ["SFVError", "Token", "BareItem", "Params", "Item", "Member",
           "parse_dictionary", "serialize_bare_item", "serialize_params",
           "serialize_item", "serialize_inner_list"]


class SFVError(ValueError):
    """The field value is not a valid Structured Field."""


class Token(str):
    """A Token (RFC 8941 §3.3.4); plain ``str`` values are Strings."""


BareItem = int | Decimal | str | Token | bytes | bool
Params = dict[str, BareItem]
Item = tuple[BareItem, Params]
#: A Dictionary member: (bare item or list of Items, parameters).
Member = tuple[BareItem | list[Item], Params]

_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_TOKEN = re.compile(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]*)?")
_BYTES = re.compile(r":([A-Za-z0-9+/=]*):")


class _Parser:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def skip(self, chars: str) -> None:
        while self.i < len(self.s) and self.s[self.i] in chars:
            self.i += 1

    def dictionary(self) -> dict[str, Member]:
        out: dict[str, Member] = {}
        while self.i < len(self.s):
            key = self.key()
            if self.peek() == "=":
                self.i += 1
                out[key] = self.item_or_inner_list()
            else:
                out[key] = (True, self.params())
            self.skip(" \t")
            if self.i >= len(self.s):
                return out
            if self.peek() != ",":
                raise SFVError(f"expected ',' at {self.i}")
            self.i += 1
            self.skip(" \t")
            if self.i >= len(self.s):
                raise SFVError("trailing comma")
        return out

    def item_or_inner_list(self) -> Member:
        if self.peek() != "(":
            return self.item()
        self.i += 1
        items: list[Item] = []
        while self.i < len(self.s):
            self.skip(" ")
            if self.peek() == ")":
                self.i += 1
                return items, self.params()
            items.append(self.item())
            if self.peek() not in (" ", ")"):
                raise SFVError(f"bad inner list at {self.i}")
        raise SFVError("unterminated inner list")

    def item(self) -> Item:
        value = self.bare_item()
        return value, self.params()

    def params(self) -> Params:
        out: Params = {}
        while self.peek() == ";":
            self.i += 1
            self.skip(" ")
            key = self.key()
            value: BareItem = True
            if self.peek() == "=":
                self.i += 1
                value = self.bare_item()
            out[key] = value
        return out

    def key(self) -> str:
        m = _KEY.match(self.s, self.i)
        if not m:
            raise SFVError(f"expected a key at {self.i}")
        self.i = m.end()
        return m.group()

    def bare_item(self) -> BareItem:
        c = self.peek()
        if c == "-" or c.isdigit():
            return self.number()
        if c == '"':
            return self.string()
        if c == ":":
            m = _BYTES.match(self.s, self.i)
            if not m:
                raise SFVError(f"bad byte sequence at {self.i}")
            self.i = m.end()
            try:
                return base64.b64decode(m.group(1), validate=True)
            except ValueError as exc:
                raise SFVError("bad base64 in byte sequence") from exc
        if c == "?":
            flag = self.s[self.i + 1:self.i + 2]
            if flag not in ("0", "1"):
                raise SFVError(f"bad boolean at {self.i}")
            self.i += 2
            return flag == "1"
        m = _TOKEN.match(self.s, self.i)
        if not m:
            raise SFVError(f"unexpected {c!r} at {self.i}")
        self.i = m.end()
        return Token(m.group())

    def number(self) -> int | Decimal:
        m = _NUMBER.match(self.s, self.i)
        if not m:
            raise SFVError(f"bad number at {self.i}")
        text = m.group()
        digits = text.lstrip("-")
        if m.group(1) is None:
            if len(digits) > 15:
                raise SFVError("integer too long")
            self.i = m.end()
            return int(text)
        whole, frac = digits.split(".")
        if len(whole) > 12 or not 1 <= len(frac) <= 3:
            raise SFVError("bad decimal")
        self.i = m.end()
        return Decimal(text)

    def string(self) -> str:
        self.i += 1
        out: list[str] = []
        while self.i < len(self.s):
            c = self.s[self.i]
            self.i += 1
            if c == "\\":
                nxt = self.s[self.i:self.i + 1]
                if nxt not in ('"', "\\"):
                    raise SFVError("bad escape in string")
                out.append(nxt)
                self.i += 1
            elif c == '"':
                return "".join(out)
            elif not " " <= c <= "~":
                raise SFVError("invalid character in string")
            else:
                out.append(c)
        raise SFVError("unterminated string")


def parse_dictionary(text: str) -> dict[str, Member]:
    """Parse a Dictionary field value (RFC 8941 §4.2.2); raise SFVError if invalid."""
    parser = _Parser(text.strip(" "))
    return parser.dictionary()


def serialize_bare_item(value: BareItem) -> str:
    """Serialise one bare item (RFC 8941 §4.1.3.1)."""
    if isinstance(value, bool):
        return "?1" if value else "?0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        text = format(value.quantize(Decimal("0.001")).normalize(), "f")
        return text if "." in text else text + ".0"
    if isinstance(value, bytes):
        return ":" + base64.b64encode(value).decode("ascii") + ":"
    if isinstance(value, Token):
        return str(value)
    if isinstance(value, str):
        if any(not " " <= c <= "~" for c in value):
            raise SFVError("string holds characters outside printable ASCII")
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise SFVError(f"cannot serialise {type(value).__name__}")


def serialize_params(params: Params) -> str:
    """Serialise parameters (``;key=value``, or ``;key`` for true)."""
    return "".join(f";{k}" if v is True else f";{k}={serialize_bare_item(v)}"
                   for k, v in params.items())


def serialize_item(value: BareItem, params: Params) -> str:
    """Serialise an Item with its parameters."""
    return serialize_bare_item(value) + serialize_params(params)


def serialize_inner_list(items: list[Item], params: Params) -> str:
    """Serialise an Inner List with its parameters: ``("a" "b";x=1);p=2``."""
    return "(" + " ".join(serialize_item(v, p) for v, p in items) + ")" + serialize_params(params)
