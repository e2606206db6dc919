"""Participatory validation between nodes: applying to another node's network (``Join``),
endorsing an application of another node (a signed ``Endorsement`` in a ``Create``),
and reading what networks relay (``Add`` of endorsements) and decide (``Accept``,
``Reject``, ``TentativeAccept``), verifying every endorsement before it counts.

An endorsement counts on a node only when that node verified it itself: delivered by
its endorser (HTTP signature of the endorser's own key), or carrying an FEP-8b32
integrity proof made with a key the endorser's own actor document lists, or fetched
from the endorser's origin. A node never takes a relaying network's word for it."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from ssefed.db.base import utcnow
from ssefed.db.models import Actor, Application, Decision, Organisation
from ssefed.db.repos import actors as actor_repo
from ssefed.db.repos import vetting as repo
from ssefed.domain import applications, outbox
from ssefed.domain.actors import ensure_keys
from ssefed.domain.errors import Conflict, InvalidInput, NotFound
from ssefed.domain.organisations import publish_profile
from ssefed.domain.vetting import Rule, Voice, college as check_college, evaluate, read_answers
from ssefed.federation.client import FetchError
from ssefed.federation.service import Federation
from ssefed.vocab import from_as, vetting_as
from ssefed.vocab.text import html_to_text
from ssefed.federation import proofs

log = logging.getLogger("ssefed.validation")


def _origin(iri: str | None) -> str:
    return urlsplit(iri or "").netloc.lower()


class Unverified(ValueError):
    """An endorsement this node could not verify (the reason says why)."""


async def verify_endorsement(fed: Federation, doc: Any, *, sender: str | None
                             ) -> applications.Received:
    """Check an endorsement received from ``sender`` (the HTTP-signed actor of the
    activity that carried it): it counts as sent by its endorser only when the sender is
    the endorser, its integrity proof verifies against the endorser's own key, or its
    origin serves the same endorsement. Raises Unverified saying why."""
    if isinstance(doc, str):  # only an IRI: fetch it from its origin
        try:
            fetched = await fed.fetch_json(doc)
        except FetchError as exc:
            raise Unverified(f"endorsement {doc}: cannot fetch it from its origin: {exc}") from None
        return await _from_origin(fed, fetched, doc)
    if not vetting_as.is_endorsement(doc):
        raise Unverified("not an Endorsement object")
    try:
        facts = vetting_as.read_endorsement(doc)
    except ValueError as exc:
        raise Unverified(str(exc)) from None
    if _origin(facts.id) != _origin(facts.endorser):
        raise Unverified(f"endorsement {facts.id}: its id is not on its endorser's origin")
    if fed.ids.is_local(facts.endorser):
        # "from" one of our own actors: only what this node issued itself counts
        async with fed.db.read() as s:
            ours = await repo.endorsement(s, facts.id)
        if ours is None or ours.verified != "local" or ours.endorser_ap_id != facts.endorser \
                or ours.application_ap_id != facts.application or ours.stance != facts.stance:
            raise Unverified(f"endorsement {facts.id} claims to be from {facts.endorser}, an "
                             "actor of this node, which never issued it")
        return applications.Received(facts, doc, "local")
    if "proof" in doc:
        result = await proofs.verify_relayed(fed, doc, claimed_actor=facts.endorser)
        reason = _proof_failure(result)
        if reason is not None:
            raise Unverified(f"endorsement {facts.id}: integrity proof refused: {reason}")
        return applications.Received(facts, doc, "proof")
    if sender is not None and sender == facts.endorser:
        return applications.Received(facts, doc, "signature")
    try:
        fetched = await fed.fetch_json(facts.id)
    except FetchError as exc:
        raise Unverified(f"endorsement {facts.id} carries no proof and its origin does not "
                         f"serve it: {exc}") from None
    received = await _from_origin(fed, fetched, facts.id)
    if (received.facts.endorser, received.facts.application, received.facts.stance) != (
            facts.endorser, facts.application, facts.stance):
        raise Unverified(f"endorsement {facts.id}: its origin serves something else")
    return received


async def _from_origin(fed: Federation, fetched: dict[str, Any], iri: str
                       ) -> applications.Received:
    try:
        facts = vetting_as.read_endorsement(fetched)
    except ValueError as exc:
        raise Unverified(f"endorsement {iri} from its origin: {exc}") from None
    if facts.id != iri or _origin(facts.endorser) != _origin(iri):
        raise Unverified(f"endorsement {iri}: its origin names another endorsement or endorser")
    return applications.Received(facts, fetched, "origin")


def _proof_failure(result: Any) -> str | None:
    """None when ``proofs.verify_relayed`` verified the proof, else why not."""
    return None if getattr(result, "ok", False) else str(result)


# -- receiving -----------------------------------------------------------------------------
async def on_join(fed: Federation, raw: dict[str, Any], actor_iri: str) -> Application:
    """A ``Join`` of this network's actor: an organisation of another node applies."""
    async with fed.db.read() as s:
        network = await actor_repo.get_network(s)
    if from_as.first_id(raw.get("object")) != network.ap_id:
        raise NotFound("only this network's actor can be joined")
    join_id = raw.get("id")
    if not isinstance(join_id, str) or _origin(join_id) != _origin(actor_iri):
        raise ValueError("id: a Join needs an id on its actor's origin")
    instrument = next((i for i in from_as.as_list(raw.get("instrument"))
                       if isinstance(i, dict)), {})
    applicant = await fed.actor(actor_iri)
    if applicant.type != "Organization":
        raise ValueError("actor: only organisations apply to a network")
    try:
        return await applications.receive_application(
            fed.db, fed.ids, applicant, join_id[:2048],
            from_as.first_id(instrument.get("charter")), instrument.get("answers"))
    except InvalidInput as exc:
        raise ValueError(f"instrument.{exc.field}: {exc.message}") from None


async def on_endorsement(fed: Federation, config, obj: dict[str, Any], sender: str
                         ) -> None:
    """An endorsement delivered to this node (by its endorser, or relayed in an ``Add``)."""
    received = await verify_endorsement(fed, obj, sender=sender)
    async with fed.db.write() as s:
        try:
            row, app = await applications.record_endorsement(s, config, fed.ids, received)
        except Conflict as exc:
            raise ValueError(str(exc)) from None
    if app is not None:
        await applications.maybe_decide(fed.db, config, fed.ids, {app.id})


async def _signed_word(fed: Federation, config, facts: vetting_as.EndorsementFacts,
                       app_id: int) -> None:
    """Record what an actor said of an application in an activity it signed itself (a
    like, a reply), then let the rule decide."""
    async with fed.db.write() as s:
        try:
            await applications.record_endorsement(
                s, config, fed.ids, applications.Received(facts, None, "signature"))
        except Conflict as exc:
            raise ValueError(str(exc)) from None
    await applications.maybe_decide(fed.db, config, fed.ids, {app_id})


async def on_like(fed: Federation, config, raw: dict[str, Any], actor_iri: str) -> bool:
    """A ``Like`` of one of this network's open applications (a Mastodon user's way to
    endorse it): an endorsement without a declared college. False when it is not one."""
    target = from_as.first_id(raw.get("object"))
    if not target or not fed.ids.is_local(target):
        return False
    async with fed.db.read() as s:
        app = await repo.application(s, ap_id=target)
    if app is None or not app.local_network or not isinstance(raw.get("id"), str):
        return False
    facts = vetting_as.EndorsementFacts(raw["id"][:2048], actor_iri, app.ap_id, None,
                                           "endorse", None, "")
    await _signed_word(fed, config, facts, app.id)
    return True


async def on_objection_reply(fed: Federation, config, obj: dict[str, Any], actor_iri: str
                             ) -> bool:
    """A reply (a Mastodon post) to one of this network's open applications with the
    hashtag #objection is an objection, its text the reason; #endorse an endorsement; a
    hashtag #college_<code> declares the author's college. False when it is neither."""
    target = from_as.first_id(obj.get("inReplyTo"))
    if not target or not fed.ids.is_local(target):
        return False
    tags = {str(t.get("name", "")).lstrip("#").lower() for t in from_as.as_list(obj.get("tag"))
            [:50] if isinstance(t, dict) and t.get("type") == "Hashtag"}
    stance = "object" if "objection" in tags else "endorse" if "endorse" in tags else None
    if stance is None:
        return False
    async with fed.db.read() as s:
        app = await repo.application(s, ap_id=target)
    if app is None or not app.local_network:
        return False
    declared = next((t[len("college_"):] for t in tags if t.startswith("college_")), None)
    try:
        declared = check_college(declared)
    except InvalidInput:
        declared = None
    text = html_to_text(str(obj.get("content") or ""), 2000)
    facts = vetting_as.EndorsementFacts(str(obj["id"])[:2048], actor_iri, app.ap_id, None,
                                           stance, declared, " ".join(text.split())[:2000])
    await _signed_word(fed, config, facts, app.id)
    return True


async def on_decision(fed: Federation, raw: dict[str, Any], actor_iri: str) -> Decision:
    """A network's decision. Stored with the endorsements of its basis that this node
    could verify (the others are kept out and named in the log); an applicant of this
    node learns its application's outcome, and publishes its membership when validated."""
    facts = vetting_as.read_decision(raw)
    if facts.network != actor_iri or _origin(facts.application) != _origin(actor_iri):
        raise ValueError("application: a network decides only on its own applications")
    if fed.ids.is_local(actor_iri):
        raise ValueError("actor: a decision of this node's own network cannot come from outside")
    if facts.join_id:  # the Join it answers, when it is ours, went to this network
        async with fed.db.read() as s:
            ours = await repo.application(s, join_ap_id=facts.join_id)
            applicant = await s.get(Actor, ours.applicant_id) if ours is not None else None
        if ours is not None and (ours.local_network or ours.network_ap_id != facts.network
                                 or applicant is None or applicant.ap_id != facts.applicant):
            raise ValueError("object: the application it names was made to another network "
                             "or by another applicant")
    refused: list[str] = []
    verified: list[dict[str, Any]] = []
    for entry in facts.basis:
        doc = entry.get("endorsement")
        try:
            r = await verify_endorsement(fed, doc, sender=None)
        except Unverified as exc:
            refused.append(str(exc))
            continue
        if r.facts.application != facts.application or r.facts.applicant not in (
                None, facts.applicant):
            refused.append(f"endorsement {r.facts.id} is about another application")
            continue
        async with fed.db.write() as s:
            await applications.record_endorsement(s, None, fed.ids, r)
        verified.append({"endorsement": r.facts.id, "endorser": r.facts.endorser,
                         "stance": r.facts.stance,
                         "college": _college(entry.get("college")),
                         "peer": entry.get("peer") is True,
                         "endorserKind": str(entry.get("endorserKind") or "user")[:16],
                         **({"resolved": True} if entry.get("resolved") is True else {})})
    for reason in refused:
        log.warning("decision %s: %s", facts.id, reason)
    async with fed.db.write() as s:
        row = await repo.decision(s, facts.id)
        if row is None:
            row = Decision(ap_id=facts.id[:2048], network_ap_id=facts.network,
                           application_ap_id=facts.application,
                           applicant_ap_id=facts.applicant, outcome=facts.outcome,
                           valid_until=facts.valid_until, rule=facts.rule, basis=verified,
                           ap_json={**raw, "ssefed:refused": refused[:50]})
            s.add(row)
        ours = (await repo.application(s, join_ap_id=facts.join_id) if facts.join_id
                else None)
        local_applicant = ours is not None and not ours.local_network
    if local_applicant:
        await _applicant_learns(fed, ours.id, facts)
    return row


def _college(value: Any) -> str | None:
    try:
        return check_college(value)
    except InvalidInput:
        return None


async def _applicant_learns(fed: Federation, app_id: int, facts: vetting_as.DecisionFacts
                            ) -> None:
    async with fed.db.write() as s:
        app = await repo.application(s, id_=app_id)
        app.state, app.valid_until = facts.outcome, facts.valid_until
        app.decision_ap_id, app.decided_at = facts.id, utcnow()
        applicant_id = app.applicant_id
    if facts.outcome == "validated":  # its actor now names the network among its validators
        await ensure_keys(fed.db, fed.ids, applicant_id)
        await publish_profile(fed.db, fed.ids, fed.config.node.base_url, applicant_id)


def decision_voices(d: Decision, known: dict[str, Any], blocked: frozenset[str] = frozenset()
                    ) -> list[Voice]:
    """The voices of a stored decision's basis, verified when this node holds the
    endorsement as verified and its endorser is not on a domain this node blocks."""
    out = []
    for b in d.basis or []:
        iri = b.get("endorsement")
        row = known.get(iri)
        if row is not None and _origin(row.endorser_ap_id) in blocked:
            row = None
        out.append(Voice(str(iri), str(b.get("endorser") or (row.endorser_ap_id if row else "")),
                         str(b.get("stance") or "endorse"), b.get("college"),
                         b.get("peer") is True, b.get("resolved") is True, row is not None,
                         str(b.get("endorserKind") or "user")))
    return out


def decision_summary(d: Decision, known: dict[str, Any],
                     blocked: frozenset[str] = frozenset()) -> dict[str, Any]:
    """What a chain link shows of the decision behind its guarantee, as this node checks
    it: the endorsements (each verified here or not; those of blocked domains are not
    trusted) and whether the rule holds on them."""
    vs = decision_voices(d, known, blocked)
    result = evaluate(Rule.from_json(d.rule), vs)
    return {"decision": d.ap_id, "rule_met": result.met, "missing": result.missing,
            "endorsements": [{"endorsement": v.endorsement, "endorser": v.endorser,
                              "college": v.college, "stance": v.stance, "kind": v.kind,
                              "verified": v.verified} for v in vs]}


# -- sending -------------------------------------------------------------------------------
async def apply_remote(fed: Federation, handle: str, network_ref: str, charter_iri: str,
                       answers: Any) -> Application:
    """A member organisation of this node applies to the network of another node: its
    charter is read from there, the answers checked against it, and a ``Join`` sent."""
    # follows -> handlers -> validation: handlers apply received endorsements
    from ssefed.federation.follows import resolve

    async with fed.db.read() as s:
        actor = await actor_repo.get_local_by_handle(s, handle)
        org = await s.get(Organisation, actor.id) if actor else None
    if actor is None or org is None or actor.deleted_at is not None:
        raise NotFound(f"no member organisation @{handle} on this node")
    network = await resolve(fed, network_ref)
    if network.local:
        raise Conflict("this node's own network: use `ssefed apply` without --network")
    if _origin(charter_iri) != _origin(network.ap_id):
        raise InvalidInput("charter", "the charter must be published by that network")
    doc = await fed.fetch_json(charter_iri)
    criteria = [{"key": str(c.get("id", "")).rsplit("#", 1)[-1], "required":
                 c.get("required") is not False} for c in from_as.as_list(doc.get("criteria"))
                [:100] if isinstance(c, dict) and isinstance(c.get("id"), str)]
    if doc.get("type") != "Charter" or not criteria:
        raise InvalidInput("charter", f"{charter_iri} is not a charter with criteria")
    checked = read_answers(answers, criteria, lambda key: f"{doc.get('id')}#{key}")
    join_id = f"{actor.ap_id}/activities/join-{fed.ids.new_application().rsplit('/', 1)[-1]}"
    join = vetting_as.join_activity(join_id, actor.ap_id, network.ap_id, doc.get("id"),
                                       checked, utcnow())
    async with fed.db.write() as s:
        if await repo.open_application(s, network.ap_id, actor.id) is not None:
            raise Conflict(f"@{handle} already has an open application to {network.ap_id}")
        app = Application(ap_id=join_id, join_ap_id=join_id, network_ap_id=network.ap_id,
                          local_network=False, applicant_id=actor.id,
                          charter_ap_id=str(doc.get("id")), answers=checked, state="pending")
        s.add(app)
        await outbox.publish(s, actor, join, inboxes=[network.inbox] if network.inbox else [],
                             public=False)
    return app


async def endorse(fed: Federation, config, endorser_handle: str, application: str, *,
                  stance: str, college: str | None, content: str) -> applications.Received:
    """A local actor endorses (or objects to) an application, of this node's network or
    of another node's: the endorsement is signed with an integrity proof, kept here (this
    node serves it at its IRI), and sent to the network, which relays it."""
    async with fed.db.read() as s:
        endorser = await actor_repo.get_local_by_handle(s, endorser_handle)
        local_app = await applications.application_ref(s, application) \
            if application.isdigit() or fed.ids.is_local(application) else None
    if endorser is None or endorser.deleted_at is not None or endorser.is_network:
        raise NotFound(f"no actor @{endorser_handle} on this node to endorse with")
    if local_app is not None:
        if not local_app.local_network:
            raise Conflict("this is an application to another node's network: endorse it "
                           "there by its IRI")
        async with fed.db.read() as s:
            applicant = await s.get(Actor, local_app.applicant_id)
        network_iri, app_iri, applicant_iri, inbox = (local_app.network_ap_id, local_app.ap_id,
                                                      applicant.ap_id, None)
    else:
        doc = await fed.fetch_json(application)
        if "MembershipApplication" not in from_as.as_list(doc.get("type")) \
                or doc.get("id") != application:
            raise InvalidInput("application", f"{application} is not a membership application")
        network_iri = from_as.first_id(doc.get("attributedTo"))
        applicant_iri = from_as.first_id(doc.get("actor"))
        if not network_iri or _origin(network_iri) != _origin(application):
            raise InvalidInput("application", "its network is not on its origin")
        network = await fed.actor(network_iri)
        app_iri, inbox = application, network.shared_inbox or network.inbox
    unsigned = vetting_as.endorsement_document(
        fed.ids.new_endorsement(), endorser.ap_id, app_iri, applicant_iri, network_iri,
        stance=stance, college=college, content=content, published=utcnow())
    signed = await proofs.sign_as(fed.db, fed.ids, endorser, unsigned)
    facts = vetting_as.read_endorsement(signed)
    received = applications.Received(facts, signed, "local")
    async with fed.db.write() as s:
        _, app = await applications.record_endorsement(s, config, fed.ids, received)
        if local_app is None:
            create = {"@context": vetting_as.CONTEXT,
                      "id": f"{facts.id}/create", "type": "Create", "actor": endorser.ap_id,
                      "object": signed, "to": [network_iri], "cc": [applicant_iri] if
                      applicant_iri else [], "published": signed.get("published")}
            await outbox.publish(s, endorser, create, inboxes=[inbox] if inbox else [])
        else:
            await repo.declare(s, endorser.ap_id, college)
    if local_app is not None:
        await applications.maybe_decide(fed.db, config, fed.ids, {local_app.id})
    return received
