"""Received ``Flag`` activities: reports that an organisation's published information is
wrong or outdated, sent from the fediverse.

Mastodon sends a report as a bare ``Flag`` (not wrapped in a Create) to the reported
account's inbox, from its instance actor (``https://host/actor``, type Application) so
the reporter stays anonymous; ``object`` is the reported account's IRI, alone or first
in a list followed by the reported statuses; ``content`` is the reporter's comment
(plain text; other servers send HTML, or use ``summary``). The id is a random IRI that
may not resolve. ssefed reads the reason from ``ssefed:reason`` (``reason`` in our
context: wrong | outdated | other) and takes ``other`` when it is absent.

The inbox has verified the signature before this runs (handlers.py calls ``apply_flag``
from the job)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from ssefed.domain import reports as report_domain
from ssefed.federation.service import Federation
from ssefed.vocab import from_as
from ssefed.vocab.text import html_to_text

SSEFED_NS = "https://w3id.org/ssefed/ns#"
REASON_KEYS = ("reason", "ssefed:reason", SSEFED_NS + "reason")


@dataclass(frozen=True)
class ReceivedFlag:
    """What a Flag says: the reported IRIs (bounded), the reason and the text."""

    objects: list[str]
    reason: str
    text: str


def _reason(raw: dict[str, Any]) -> str:
    for key in REASON_KEYS:
        value = raw.get(key)
        if isinstance(value, dict):  # {"@id": ...} or {"@value": ...}
            value = value.get("@value") or value.get("@id") or value.get("id")
        if isinstance(value, str):
            code = value.strip().lower().removeprefix(SSEFED_NS).removeprefix("ssefed:")
            return code if code in report_domain.REASONS else "other"
    return "other"


def _text(raw: dict[str, Any]) -> str:
    for key in ("content", "summary"):
        value = raw.get(key)
        if isinstance(value, str) and value.strip():
            return html_to_text(value, report_domain.MAX_TEXT)
    content_map = raw.get("contentMap")
    if isinstance(content_map, dict):
        for value in list(content_map.values())[:10]:
            if isinstance(value, str) and value.strip():
                return html_to_text(value, report_domain.MAX_TEXT)
    return ""


def read_flag(raw: dict[str, Any]) -> ReceivedFlag:
    """Read a Flag's reported objects, reason and text; ValueError naming the field
    when it names no object."""
    objects: list[str] = []
    for entry in from_as.as_list(raw.get("object"))[:report_domain.MAX_OBJECTS * 5]:
        iri = from_as.first_id(entry)
        if isinstance(iri, str) and iri.startswith(("https://", "http://")) \
                and len(iri) <= report_domain.MAX_IRI:
            objects.append(iri)
    if not objects:
        raise ValueError("object: a Flag names the reported actor or objects by their IRIs")
    return ReceivedFlag(list(dict.fromkeys(objects))[:report_domain.MAX_OBJECTS],
                        _reason(raw), _text(raw))


def flag_id(activity: from_as.Activity) -> str:
    """The Flag's id, or (it has none) a digest of its JSON, as the dedupe key."""
    if activity.id:
        return activity.id
    canonical = json.dumps(activity.raw, sort_keys=True, ensure_ascii=False)
    return "urn:sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


async def apply_flag(fed: Federation, activity: from_as.Activity) -> str | None:
    """Store the reports a received Flag makes (one per organisation of this node it
    names). Returns None when stored (or stored before), else why it has no effect:
    none of its objects is an organisation or offer of this node, or the organisation
    has too many open reports. ValueError when the Flag names no object."""
    flag = read_flag(activity.raw)
    try:
        async with fed.db.write() as s:
            outcome = await report_domain.file_flag(
                s, ap_id=flag_id(activity), reporter=activity.actor or "", objects=flag.objects,
                reason=flag.reason, text=flag.text)
    except report_domain.TooManyOpen as exc:
        return str(exc)
    if not outcome.created and not outcome.already:
        shown = ", ".join(outcome.foreign[:3]) + (" …" if len(outcome.foreign) > 3 else "")
        return ("none of the reported objects is an organisation or an offer of this node: "
                + shown)
    return None
