"""Multibase base58btc (``z…``) and FEP-521a Multikey values: the one place they are
encoded and decoded (actor documents, received keys, integrity proofs)."""

from __future__ import annotations

from typing import Any, Literal

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

__all__ = ["KeyKind", "b58decode", "b58encode", "decode_multikey", "ed25519_multibase",
           "spki_pem"]

KeyKind = Literal["rsa", "ed25519"]

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58)}
_ED25519_PUB, _RSA_PUB = 0xED, 0x1205


def b58encode(data: bytes) -> str:
    """base58btc (Bitcoin alphabet) of ``data``, without the multibase ``z``."""
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = _B58[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def b58decode(text: str) -> bytes:
    """Decode base58btc (no ``z``); raises ValueError on bad characters. Callers bound
    the length (the work grows with its square)."""
    num = 0
    for ch in text:
        digit = _B58_INDEX.get(ch)
        if digit is None:
            raise ValueError(f"invalid base58 character {ch!r}")
        num = num * 58 + digit
    body = num.to_bytes((num.bit_length() + 7) // 8, "big") if num else b""
    zeros = len(text) - len(text.lstrip("1"))
    return b"\x00" * zeros + body


def spki_pem(key: Any) -> str:
    """A public key object as SPKI PEM text (``BEGIN PUBLIC KEY``)."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def _uvarint(data: bytes) -> tuple[int, int]:
    """Read an unsigned LEB128 varint; return (value, bytes consumed)."""
    value = 0
    for i, byte in enumerate(data[:9]):
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, i + 1
    raise ValueError("truncated multicodec prefix")


def decode_multikey(multibase: str) -> tuple[KeyKind, str]:
    """``publicKeyMultibase`` (base58btc ``z``) -> (kind, SPKI PEM)."""
    if not multibase.startswith("z"):
        raise ValueError("only base58btc ('z') multibase is supported")
    data = b58decode(multibase[1:])
    codec, used = _uvarint(data)
    payload = data[used:]
    if codec == _ED25519_PUB:
        if len(payload) != 32:
            raise ValueError(f"Ed25519 key must be 32 bytes, got {len(payload)}")
        return "ed25519", spki_pem(ed25519.Ed25519PublicKey.from_public_bytes(payload))
    if codec == _RSA_PUB:
        try:
            key = serialization.load_der_public_key(payload)  # accepts PKCS#1 DER
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise ValueError(f"RSA key does not parse: {exc}") from None
        if not isinstance(key, rsa.RSAPublicKey):
            raise ValueError("rsa-pub multikey does not hold an RSA key")
        return "rsa", spki_pem(key)
    raise ValueError(f"unsupported multicodec 0x{codec:x}")


def ed25519_multibase(public_pem: str) -> str:
    """FEP-521a publicKeyMultibase: base58btc of the multicodec 0xed01 + the raw key."""
    key = serialization.load_pem_public_key(public_pem.encode())
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "z" + b58encode(b"\xed\x01" + raw)
