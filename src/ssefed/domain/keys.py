"""Key pairs of local actors: RSA 2048 (HTTP signatures, as Mastodon reads them) and
Ed25519 (FEP-521a Multikey, integrity proofs)."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

KINDS = ("rsa", "ed25519")


@dataclass(frozen=True)
class KeyPair:
    kind: str
    public_pem: str
    private_pem: str


def generate(kind: str) -> KeyPair:
    """Generate a key pair; RSA takes tens of milliseconds, so call it off hot paths."""
    if kind == "rsa":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif kind == "ed25519":
        private = ed25519.Ed25519PrivateKey.generate()
    else:
        raise ValueError(f"unknown key kind {kind!r}")
    private_pem = private.private_bytes(serialization.Encoding.PEM,
                                        serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()).decode()
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return KeyPair(kind, public_pem, private_pem)
