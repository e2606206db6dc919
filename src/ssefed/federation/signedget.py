"""Verifying a signed GET (the peer chain API): the same checks as the inbox, with the
key's owner taken from the key itself (there is no activity to name an actor)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urldefrag

from ssefed.federation import httpsig
from ssefed.federation.inbound import Inbox, Refusal


@dataclass(frozen=True)
class _Requester:
    actor: str
    type: str = "Get"


def _reason(exc: httpsig.VerificationError) -> str:
    return f"{exc.reason.value}: {exc.detail}" if exc.detail else exc.reason.value


async def verify_get(inbox: Inbox, url: str, headers: Mapping[str, str]) -> str:
    """The IRI of the actor whose key signed this GET, or raise Refusal (401)."""
    try:
        info = httpsig.parse_signature("GET", url, headers)
    except httpsig.VerificationError as exc:
        raise Refusal(401, "Unauthorized", _reason(exc)) from None
    requester = _Requester(urldefrag(info.key_id)[0])
    window = inbox.fed.config.federation.signature_window_seconds
    key, owner = await inbox._key(info.key_id, requester, refetch=True)
    try:
        httpsig.verify(info, "GET", url, headers, b"", key.public_pem, window_seconds=window)
    except httpsig.VerificationError as exc:
        if (exc.reason in (httpsig.Failure.BAD_SIGNATURE, httpsig.Failure.KEY_MISMATCH)
                and inbox._may_refetch(info.key_id)):  # key rotation
            key, owner = await inbox._key(info.key_id, requester, refetch=True,
                                          force=True)
            try:
                httpsig.verify(info, "GET", url, headers, b"", key.public_pem,
                               window_seconds=window)
            except httpsig.VerificationError as again:
                raise Refusal(401, "Unauthorized", _reason(again)) from None
        else:
            raise Refusal(401, "Unauthorized", _reason(exc)) from None
    return owner
