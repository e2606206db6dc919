"""Participatory validation as ActivityStreams JSON: charters, applications (a ``Join`` of
the network carrying a ``MembershipApplication``), endorsements (an ``Endorsement`` object
with an FEP-8b32 integrity proof, delivered in a ``Create`` and relayed by the network in
an ``Add`` to the application's endorsements collection) and decisions (``Accept``,
``Reject`` or ``TentativeAccept`` of the application, with the rule and the endorsements
it rests on). Builders and tolerant, bounded readers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ssefed.vocab import from_as
from ssefed.vocab.proposals import check_schema
from ssefed.vocab.to_as import AS_CONTEXT, PUBLIC, SSEFED_NS, iso

# The values of an endorsement's ``college``: ISO 26000's six stakeholder groups (consumers,
# government, industry, labour, NGOs, and service, support, research and others), as
# (French, English) labels; and of its ``stance``.
COLLEGES: dict[str, tuple[str, str]] = {
    "consumers": ("Consommateurs et usagers", "Consumers and users"),
    "government": ("Pouvoirs publics", "Government"),
    "industry": ("Entreprises et organisations de l'ESS", "Industry (SSE organisations)"),
    "labour": ("Travailleurs", "Labour"),
    "ngo": ("Associations et ONG", "NGOs"),
    "ssro": ("Services, soutien, recherche et autres", "Service, support, research and others"),
}
STANCES = ("endorse", "object")
DATA_INTEGRITY_CONTEXT = "https://w3id.org/security/data-integrity/v2"
VALIDATION_TERMS: dict[str, Any] = {
    "ssefed": SSEFED_NS,
    "Charter": "ssefed:Charter", "Criterion": "ssefed:Criterion",
    "MembershipApplication": "ssefed:MembershipApplication",
    "Endorsement": "ssefed:Endorsement",
    "charter": {"@id": "ssefed:charter", "@type": "@id"},
    "criteria": {"@id": "ssefed:criterion", "@container": "@list"},
    "criterion": {"@id": "ssefed:answersCriterion", "@type": "@id"},
    "required": "ssefed:required", "version": "ssefed:version",
    "approach": "ssefed:approach",
    "answers": {"@id": "ssefed:answer", "@container": "@set"},
    "answer": "ssefed:answerValue", "evidence": "ssefed:evidence",
    "endorsements": {"@id": "ssefed:endorsements", "@type": "@id"},
    "application": {"@id": "ssefed:application", "@type": "@id"},
    "stance": "ssefed:stance", "college": "ssefed:college",
    "outcome": "ssefed:outcome", "rule": "ssefed:rule",
    "basis": {"@id": "ssefed:basis", "@container": "@set"},
    "endorsement": {"@id": "ssefed:endorsement"},
    "peer": "ssefed:peerMember", "endorserKind": "ssefed:endorserKind",
    "minEndorsements": "ssefed:minEndorsements", "minColleges": "ssefed:minColleges",
    "minPeerMembers": "ssefed:minPeerMembers", "objectionsBlock": "ssefed:objectionsBlock",
    "applicationState": "ssefed:applicationState",
    "endorsementsCount": "ssefed:endorsementsCount",
    "counted": "ssefed:counted", "resolved": "ssefed:resolved",
    "validUntil": {"@id": "ssefed:validUntil", "@type": "http://www.w3.org/2001/XMLSchema#date"},
}
CONTEXT: list[Any] = [AS_CONTEXT, DATA_INTEGRITY_CONTEXT, VALIDATION_TERMS]
DECISION_VERBS = {"validated": "Accept", "refused": "Reject", "needs_more": "TentativeAccept"}
VERB_OUTCOMES = {v: k for k, v in DECISION_VERBS.items()}
MAX_BASIS = 200


def charter_document(charter, network_iri: str) -> dict[str, Any]:  # models.Charter
    """One version of a charter: its criteria in order, each with its own IRI."""
    return {
        "@context": CONTEXT, "id": charter.ap_id, "type": "Charter",
        "attributedTo": network_iri, "name": charter.name, "summary": charter.summary,
        "version": charter.version, "approach": charter.approach,
        "published": iso(charter.published_at),
        "criteria": [{"id": f"{charter.ap_id}#{c['key']}", "type": "Criterion",
                      "name": c["text"], **({"nameMap": {"fr": c["text"], "en": c["text_en"]}}
                                            if c.get("text_en") else {}),
                      "required": bool(c.get("required", True))} for c in charter.criteria],
    }


def application_document(app, applicant_iri: str, *, endorsements_total: int | None = None
                         ) -> dict[str, Any]:
    """The application as the network publishes it. Also typed ``Note`` (with a readable
    ``content``), so that a Mastodon user can see it, like it (an endorsement) or answer
    it with #objection."""
    content = (f"<p>Demande d'adhésion / membership application: "
               f'<a href="{applicant_iri}">{applicant_iri}</a></p>'
               "<p>Soutenir : aimer ce message. Objection : répondre avec #objection et la "
               "raison. / Endorse: like this post. Object: reply with #objection and why.</p>")
    doc: dict[str, Any] = {
        "@context": CONTEXT, "id": app.ap_id, "type": ["Note", "MembershipApplication"],
        "attributedTo": app.network_ap_id, "actor": applicant_iri, "object": app.network_ap_id,
        "content": content, "published": iso(app.created_at),
        "charter": app.charter_ap_id, "answers": list(app.answers),
        "applicationState": app.state, "endorsements": f"{app.ap_id}/endorsements",
        "to": [PUBLIC], "cc": [f"{app.network_ap_id}/followers", applicant_iri],
    }
    if app.valid_until is not None:
        doc["validUntil"] = app.valid_until.isoformat()
    if endorsements_total is not None:
        doc["endorsementsCount"] = endorsements_total
    return doc


def join_activity(join_id: str, applicant_iri: str, network_iri: str, charter_iri: str | None,
                  answers: list[dict[str, Any]], published: datetime) -> dict[str, Any]:
    """An organisation applies to a network on another node: a ``Join`` of its actor (as
    groups are joined in Lemmy and Mobilizon), carrying the application."""
    return {"@context": CONTEXT, "id": join_id, "type": "Join", "actor": applicant_iri,
            "object": network_iri, "to": [network_iri], "published": iso(published),
            "instrument": {"type": "MembershipApplication", "charter": charter_iri,
                           "answers": answers}}


def endorsement_document(iri: str, endorser: str, application: str, applicant: str | None,
                         network: str, *, stance: str, college: str | None, content: str,
                         published: datetime) -> dict[str, Any]:
    """An endorsement of (or objection to) an application, by its endorser (signed with
    an integrity proof before it is sent)."""
    doc: dict[str, Any] = {
        "@context": CONTEXT, "id": iri, "type": "Endorsement", "attributedTo": endorser,
        "object": application, "stance": stance, "published": iso(published),
        "to": [network], "cc": [PUBLIC],
    }
    if applicant:
        doc["target"] = applicant
    if college:
        doc["college"] = college
    if content:
        doc["content"] = content
    return doc


def decision_activity(iri: str, network: str, application: str, applicant: str, *,
                      outcome: str, until: date | None, rule: dict[str, Any],
                      basis: list[dict[str, Any]], note: str, join_id: str | None,
                      published: datetime) -> dict[str, Any]:
    """The network's decision: Accept (validated), Reject (refused) or TentativeAccept
    (needs more) of the application; ``basis`` embeds each endorsement it rests on, as
    its endorser signed it, with the college the reviewers confirmed."""
    doc: dict[str, Any] = {
        "@context": CONTEXT, "id": iri, "type": DECISION_VERBS[outcome], "actor": network,
        "object": join_id or application, "application": application, "target": applicant,
        "outcome": outcome, "rule": rule, "basis": basis[:MAX_BASIS],
        "to": [applicant], "cc": [PUBLIC, f"{network}/followers"], "published": iso(published),
    }
    if until is not None:
        doc["validUntil"] = until.isoformat()
    if note:
        doc["summary"] = note
    return doc


# -- readers -------------------------------------------------------------------------------
@dataclass(frozen=True)
class EndorsementFacts:
    id: str
    endorser: str
    application: str
    applicant: str | None
    stance: str
    college: str | None
    content: str


def is_endorsement(obj: Any) -> bool:
    return isinstance(obj, dict) and "Endorsement" in from_as.as_list(obj.get("type"))


def read_endorsement(obj: dict[str, Any]) -> EndorsementFacts:
    """An endorsement object, checked against ``endorsement.schema.json`` (SchemaError, a
    ValueError, with the JSON Pointer of the field) and read (ValueError naming the field)."""
    check_schema("endorsement", obj)
    iri = obj.get("id")
    if not isinstance(iri, str) or not iri.startswith(("https://", "http://")):
        raise ValueError("object.id: missing or not an http(s) IRI")
    endorser = from_as.first_id(obj.get("attributedTo"))
    if not endorser:
        raise ValueError("object.attributedTo: missing")
    application = from_as.first_id(obj.get("object"))
    if not application or not application.startswith(("https://", "http://")):
        raise ValueError("object.object: the application is missing")
    stance = obj.get("stance", "endorse")
    if stance not in STANCES:
        raise ValueError(f"object.stance: expected one of {', '.join(STANCES)}")
    college = obj.get("college")
    if college is not None and college not in COLLEGES:
        raise ValueError(f"object.college: expected one of {', '.join(COLLEGES)}")
    content = obj.get("content")
    return EndorsementFacts(iri[:2048], endorser, application,
                            from_as.first_id(obj.get("target")), stance, college,
                            content[:2000] if isinstance(content, str) else "")


@dataclass(frozen=True)
class DecisionFacts:
    id: str
    network: str
    application: str
    applicant: str
    outcome: str
    valid_until: date | None
    rule: dict[str, Any]
    basis: list[dict[str, Any]]
    join_id: str | None


def is_decision(raw: dict[str, Any]) -> bool:
    return raw.get("type") in VERB_OUTCOMES and isinstance(raw.get("application"), str)


def read_decision(raw: dict[str, Any]) -> DecisionFacts:
    """A decision activity, checked against ``decision.schema.json`` (SchemaError with the
    JSON Pointer of the field); its basis's endorsements are checked one by one when they
    are verified."""
    check_schema("decision", raw)
    iri, network = raw.get("id"), from_as.first_id(raw.get("actor"))
    application, applicant = raw.get("application"), from_as.first_id(raw.get("target"))
    if not isinstance(iri, str) or not network or not isinstance(application, str) \
            or not applicant:
        raise ValueError("decision: id, actor, application and target are required")
    outcome = raw.get("outcome") or VERB_OUTCOMES.get(raw.get("type", ""))
    if outcome != VERB_OUTCOMES.get(raw.get("type", "")):
        raise ValueError("outcome: does not match the activity's type")
    until = None
    if isinstance(raw.get("validUntil"), str):
        try:
            until = date.fromisoformat(raw["validUntil"][:10])
        except ValueError:
            raise ValueError("validUntil: not a date") from None
    basis = [b for b in from_as.as_list(raw.get("basis"))[:MAX_BASIS] if isinstance(b, dict)]
    join = from_as.first_id(raw.get("object"))
    return DecisionFacts(iri, network, application, applicant, outcome, until,
                         raw.get("rule") if isinstance(raw.get("rule"), dict) else {},
                         basis, join if join != application else None)
