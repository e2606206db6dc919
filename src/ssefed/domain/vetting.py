"""Participatory validation, the pure part: the check of a declared college, the
network's rule, and the verdict of a rule over the endorsements and objections an
application has.

The same ``evaluate`` runs on the network's node (to decide) and on any node that
received the decision (to check, counting only the endorsements it could verify itself),
so that both compute the same guarantee from the same evidence."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ssefed.domain.errors import InvalidInput
from ssefed.vocab.vetting_as import COLLEGES
import calendar

ANSWERS = ("yes", "partly", "no", "in_progress")
OUTCOMES = ("validated", "refused", "needs_more")
MAX_TEXT = 2000
MAX_CRITERIA = 100
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def college(value: Any, field_name: str = "college", *, optional: bool = True) -> str | None:
    """A college code, or InvalidInput naming the field."""
    if value in (None, "") and optional:
        return None
    if not isinstance(value, str) or value not in COLLEGES:
        raise InvalidInput(field_name, f"expected one of {', '.join(COLLEGES)}, got {value!r}")
    return value


def text(value: Any, field_name: str, *, limit: int = MAX_TEXT, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(field_name, "expected text")
    value = value.strip()
    if required and not value:
        raise InvalidInput(field_name, "must not be empty")
    if len(value) > limit:
        raise InvalidInput(field_name, f"at most {limit} characters")
    return value


@dataclass(frozen=True)
class Rule:
    """When an application is validated: at least ``min_endorsements`` endorsements from
    at least ``min_colleges`` colleges, ``min_peer_members`` of them from validated members,
    and no unresolved objection (when ``objections_block``)."""
    min_endorsements: int = 3
    min_colleges: int = 2
    min_peer_members: int = 1
    objections_block: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"minEndorsements": self.min_endorsements, "minColleges": self.min_colleges,
                "minPeerMembers": self.min_peer_members,
                "objectionsBlock": self.objections_block}

    @classmethod
    def from_json(cls, doc: Any) -> Rule:
        """The rule a decision states (bounded; anything missing: the default)."""
        doc = doc if isinstance(doc, dict) else {}

        def number(key: str, default: int) -> int:
            v = doc.get(key)
            return v if isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 10**6 \
                else default

        block = doc.get("objectionsBlock")
        return cls(number("minEndorsements", 3), number("minColleges", 2),
                   number("minPeerMembers", 1), block if isinstance(block, bool) else True)

    @classmethod
    def from_config(cls, cfg: Any) -> Rule:  # config.ValidationConfig
        return cls(cfg.min_endorsements, cfg.min_colleges, cfg.min_peer_members,
                   cfg.objections_block)


@dataclass(frozen=True)
class Voice:
    """One endorsement or objection as the rule sees it. ``college`` is the endorser's
    college as the network's reviewers confirmed it (None: not confirmed yet)."""
    endorsement: str
    endorser: str
    stance: str = "endorse"
    college: str | None = None
    peer: bool = False
    resolved: bool = False
    verified: bool = True
    kind: str = "user"  # peer | reviewer | user

    def to_json(self) -> dict[str, Any]:
        return {"endorsement": self.endorsement, "endorser": self.endorser,
                "stance": self.stance, "college": self.college, "peer": self.peer,
                "kind": self.kind, "resolved": self.resolved, "verified": self.verified}


@dataclass
class Verdict:
    met: bool
    counted: list[Voice] = field(default_factory=list)
    colleges: list[str] = field(default_factory=list)
    peers: int = 0
    open_objections: list[Voice] = field(default_factory=list)
    awaiting_college: list[Voice] = field(default_factory=list)
    unverified: list[Voice] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"met": self.met, "counted": len(self.counted), "colleges": self.colleges,
                "peerMembers": self.peers, "openObjections": len(self.open_objections),
                "awaitingCollege": len(self.awaiting_college),
                "unverified": len(self.unverified), "missing": self.missing}


def evaluate(rule: Rule, voices: list[Voice]) -> Verdict:
    """Apply ``rule`` to ``voices``: one endorsement per endorser counts, only when it is
    verified and its endorser's college is confirmed; an endorser who objects (and has
    not had the objection resolved) blocks when the rule says so."""
    counted: dict[str, Voice] = {}
    v = Verdict(met=False)
    for voice in voices:
        if not voice.verified:
            v.unverified.append(voice)
            continue
        if voice.stance == "object":
            if not voice.resolved:
                v.open_objections.append(voice)
            continue
        if voice.college is None:
            v.awaiting_college.append(voice)
            continue
        counted.setdefault(voice.endorser, voice)
    objecting = {o.endorser for o in v.open_objections}
    v.counted = [c for e, c in counted.items() if e not in objecting]
    v.colleges = sorted({c.college for c in v.counted if c.college})
    v.peers = sum(1 for c in v.counted if c.peer)
    if len(v.counted) < rule.min_endorsements:
        v.missing.append(f"{len(v.counted)} of {rule.min_endorsements} endorsements")
    if len(v.colleges) < rule.min_colleges:
        v.missing.append(f"{len(v.colleges)} of {rule.min_colleges} colleges")
    if v.peers < rule.min_peer_members:
        v.missing.append(f"{v.peers} of {rule.min_peer_members} endorsements from validated "
                         "members")
    if rule.objections_block and v.open_objections:
        v.missing.append(f"{len(v.open_objections)} unresolved objection(s)")
    v.met = not v.missing
    return v


# -- charters and answers ------------------------------------------------------------------
@dataclass(frozen=True)
class CharterSpec:
    slug: str
    name: str
    summary: str
    approach: str
    criteria: list[dict[str, Any]]


def read_charter_spec(doc: Any) -> CharterSpec:
    """A charter as the admin writes it (JSON): slug, name, summary, approach (criteria |
    progress) and criteria [{key, text, text_en?, required?}]; InvalidInput names the field."""
    if not isinstance(doc, dict):
        raise InvalidInput("charter", "expected a JSON object")
    slug = doc.get("slug")
    if not isinstance(slug, str) or not SLUG.match(slug):
        raise InvalidInput("slug", "lowercase letters, digits and '-', at most 63")
    approach = doc.get("approach", "criteria")
    if approach not in ("criteria", "progress"):
        raise InvalidInput("approach", "expected criteria or progress")
    criteria = doc.get("criteria")
    if not isinstance(criteria, list) or not criteria or len(criteria) > MAX_CRITERIA:
        raise InvalidInput("criteria", f"expected a list of 1 to {MAX_CRITERIA} criteria")
    out, keys = [], set()
    for i, c in enumerate(criteria):
        where = f"criteria[{i}]"
        if not isinstance(c, dict):
            raise InvalidInput(where, "expected an object with key and text")
        key = c.get("key")
        if not isinstance(key, str) or not SLUG.match(key) or key in keys:
            raise InvalidInput(f"{where}.key", "a unique slug (lowercase letters, digits, '-')")
        keys.add(key)
        required = c.get("required", True)
        if not isinstance(required, bool):
            raise InvalidInput(f"{where}.required", "expected true or false")
        out.append({"key": key, "text": text(c.get("text"), f"{where}.text", required=True),
                    "text_en": text(c.get("text_en"), f"{where}.text_en"),
                    "required": required})
    return CharterSpec(slug, text(doc.get("name"), "name", limit=500, required=True),
                       text(doc.get("summary"), "summary", limit=10_000),
                       approach, out)


def read_answers(answers: Any, criteria: list[dict[str, Any]], criterion_iri) -> list[dict]:
    """An applicant's answers to a charter version's criteria: every required criterion
    answered (yes | partly | no | in_progress), with evidence as text and/or a link.
    ``criterion_iri(key)`` gives a criterion's IRI; answers may name criteria by key or IRI."""
    if not isinstance(answers, list) or len(answers) > MAX_CRITERIA:
        raise InvalidInput("answers", "expected a list of answers, one per criterion")
    by_key = {c["key"]: c for c in criteria}
    by_iri = {criterion_iri(c["key"]): c["key"] for c in criteria}
    out: dict[str, dict[str, Any]] = {}
    for i, a in enumerate(answers):
        where = f"answers[{i}]"
        if not isinstance(a, dict):
            raise InvalidInput(where, "expected an object with criterion and answer")
        ref = a.get("criterion")
        key = ref if ref in by_key else by_iri.get(ref) if isinstance(ref, str) else None
        if key is None:
            raise InvalidInput(f"{where}.criterion", f"no criterion {ref!r} in this charter")
        if a.get("answer") not in ANSWERS:
            raise InvalidInput(f"{where}.answer", f"expected one of {', '.join(ANSWERS)}")
        url = a.get("url")
        if url not in (None, "") and (not isinstance(url, str) or len(url) > 2048
                                      or not url.startswith(("https://", "http://"))):
            raise InvalidInput(f"{where}.url", "expected an http(s) link")
        out[key] = {"criterion": criterion_iri(key), "answer": a["answer"],
                    "evidence": text(a.get("evidence"), f"{where}.evidence"),
                    **({"url": url} if url else {})}
    missing = [c["key"] for c in criteria if c["required"] and c["key"] not in out]
    if missing:
        raise InvalidInput("answers", f"required criteria not answered: {', '.join(missing)}")
    return [out[c["key"]] for c in criteria if c["key"] in out]


def valid_until(today: date, months: int) -> date:
    """``today`` plus ``months`` (the last day of the month when the day does not exist)."""
    m = today.month - 1 + months
    year, month = today.year + m // 12, m % 12 + 1
    return date(year, month, min(today.day, calendar.monthrange(year, month)[1]))
