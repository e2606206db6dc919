"""Participatory validation, the services on this node's database: charters, reviewers,
applications to this node's network, endorsements and objections, the endorsers'
colleges, and the decisions. What travels to and from other nodes is in
federation/vetting.py; the rule itself is pure, in domain/vetting.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from ssefed.db.base import utcnow
from ssefed.db.models import (Actor, Application, Charter, Decision, Endorsement, Endorser,
                              Organisation, Reviewer)
from ssefed.db.repos import actors as actor_repo
from ssefed.db.repos import jobs as job_repo
from ssefed.db.repos import vetting as repo
from ssefed.db.session import Database
from ssefed.domain import outbox, tokens
from ssefed.domain.actors import check_handle, ensure_keys
from ssefed.domain.errors import Conflict, InvalidInput, NotFound
from ssefed.domain.vetting import (OUTCOMES, CharterSpec, Rule, Verdict, Voice, evaluate,
                                      read_answers, valid_until)
from ssefed.vocab import to_as, vetting_as
from ssefed.vocab.ids import LocalIds
from ssefed.domain.membership import publish_approval
from ssefed.domain.membership import publish_remote_member


# -- charters ------------------------------------------------------------------------------
async def publish_charter(db: Database, ids: LocalIds, spec: CharterSpec) -> tuple[Charter, bool]:
    """Publish ``spec`` as the newest version of the network's charter ``spec.slug``
    (published versions never change); returns (version, whether it is new)."""
    async with db.write() as s:
        network = await actor_repo.get_network(s)
        if network is None:
            raise Conflict("this node has no network actor (run `ssefed init`)")
        latest = await repo.latest_charter(s, network.ap_id, spec.slug)
        if latest is not None and (latest.name, latest.summary, latest.approach,
                                   latest.criteria) == (spec.name, spec.summary,
                                                        spec.approach, spec.criteria):
            return latest, False
        version = latest.version + 1 if latest else 1
        row = Charter(ap_id=ids.charter(spec.slug, version), network_ap_id=network.ap_id,
                      local=True, slug=spec.slug, version=version, name=spec.name,
                      summary=spec.summary, approach=spec.approach, criteria=spec.criteria)
        s.add(row)
        await s.flush()
        return row, True


async def charter_for(s, network: str, ref: str | None) -> Charter:
    """The charter version an application answers: by IRI (a version, or a charter's
    newest), by slug (its newest), or the network's only charter when ``ref`` is None."""
    if ref and ref.startswith(("https://", "http://")):
        found = await repo.charter_by_iri(s, ref)
        if found is None and "/charters/" in ref:
            found = await repo.latest_charter(s, network, ref.rstrip("/").rsplit("/", 1)[-1])
    elif ref:
        found = await repo.latest_charter(s, network, ref)
    else:
        slugs = {c.slug for c in await repo.charters_of(s, network)}
        if len(slugs) != 1:
            raise InvalidInput("charter", "name the charter (this network has "
                                          f"{len(slugs) or 'no'} charters)")
        found = await repo.latest_charter(s, network, slugs.pop())
    if found is None or found.network_ap_id != network:
        raise InvalidInput("charter", f"no charter {ref!r} of this network")
    return found


# -- reviewers -----------------------------------------------------------------------------
async def add_reviewer(db: Database, ids: LocalIds, handle: str, name: str,
                       college: str) -> tuple[Actor, str]:
    """A local person account with the reviewer role, its college confirmed, and its
    token (shown once) for the review API."""
    check_handle(handle)
    if not name.strip():
        raise InvalidInput("name", "must not be empty")
    async with db.write() as s:
        if await actor_repo.get_local_by_handle(s, handle) is not None:
            raise Conflict(f"an actor with handle {handle!r} already exists")
        actor = Actor(ap_id=ids.actor(handle), local=True, is_network=False,
                      domain=urlsplit(ids.base).netloc, handle=handle, type="Person",
                      name=name.strip()[:500])
        s.add(actor)
        await s.flush()
        s.add(Reviewer(actor_id=actor.id, college=college))
        row = await repo.declare(s, actor.ap_id, college)
        row.college, row.confirmed_by, row.confirmed_at = college, "admin", utcnow()
        _, token = await tokens.create(s, actor, "reviewer")
        await job_repo.enqueue(s, "actor.keys", {"actor_id": actor.id},
                               dedupe_key=f"actor.keys:{actor.id}")
    return actor, token


async def reviewer_for(s, actor: Actor) -> Reviewer:
    row = await repo.reviewer(s, actor.id)
    if row is None:
        raise Conflict(f"@{actor.handle} is not a reviewer of this network")
    return row


# -- applications --------------------------------------------------------------------------
async def _new_application(s, ids: LocalIds, network: Actor, applicant: Actor,
                           charter: Charter, answers: Any, *, join_id: str | None
                           ) -> Application:
    answers = read_answers(answers, charter.criteria, lambda key: f"{charter.ap_id}#{key}")
    if await repo.open_application(s, network.ap_id, applicant.id) is not None:
        raise Conflict(f"{applicant.ap_id} already has an open application to this network")
    app = Application(ap_id=ids.new_application(), join_ap_id=join_id,
                      network_ap_id=network.ap_id, local_network=True,
                      applicant_id=applicant.id, charter_ap_id=charter.ap_id, answers=answers,
                      state="pending")
    s.add(app)
    await s.flush()
    if applicant.local:
        org = await s.get(Organisation, applicant.id)
        if org is not None and org.validation_status in ("unvalidated", "refused"):
            org.validation_status = "pending"
    # the network's followers (Mastodon users too) see it, and can endorse it there
    doc = vetting_as.application_document(app, applicant.ap_id)
    create = to_as.activity(network.ap_id, "Create", to_as.strip_context(doc),
                            to=[to_as.PUBLIC], cc=[f"{network.ap_id}/followers"],
                            published=utcnow())
    create["@context"] = vetting_as.CONTEXT
    await outbox.publish(s, network, create, inboxes=await outbox.follower_inboxes(s, network))
    return app


async def apply_local(db: Database, ids: LocalIds, handle: str, charter_ref: str | None,
                      answers: Any) -> Application:
    """A member organisation of this node applies to this node's network."""
    async with db.write() as s:
        network = await actor_repo.get_network(s)
        actor = await actor_repo.get_local_by_handle(s, handle)
        if actor is None or actor.deleted_at is not None or actor.is_network \
                or await s.get(Organisation, actor.id) is None:
            raise NotFound(f"no member organisation @{handle} on this node")
        charter = await charter_for(s, network.ap_id, charter_ref)
        return await _new_application(s, ids, network, actor, charter, answers, join_id=None)


async def receive_application(db: Database, ids: LocalIds, applicant: Actor, join_id: str,
                              charter_ref: str | None, answers: Any) -> Application:
    """An organisation of another node applied by a ``Join`` of this network's actor."""
    async with db.write() as s:
        existing = await repo.application(s, join_ap_id=join_id)
        if existing is not None:
            return existing  # the same Join twice
        network = await actor_repo.get_network(s)
        charter = await charter_for(s, network.ap_id, charter_ref)
        return await _new_application(s, ids, network, applicant, charter, answers,
                                      join_id=join_id)


async def application_ref(s, ref: str) -> Application:
    """An application by its number on this node or its IRI."""
    app = await repo.application(s, id_=int(ref)) if ref.isdigit() else \
        await repo.application(s, ap_id=ref)
    if app is None:
        raise NotFound(f"no application {ref} on this node")
    return app


# -- endorsements --------------------------------------------------------------------------
@dataclass(frozen=True)
class Received:
    """An endorsement as this node verified it."""
    facts: vetting_as.EndorsementFacts
    doc: dict[str, Any] | None
    verified: str  # local | signature | proof | origin


async def record_endorsement(s, config, ids: LocalIds, r: Received
                             ) -> tuple[Endorsement, Application | None]:
    """Store an endorsement or objection. For an application to this node's network it
    must be open; the network then relays it to its followers (an ``Add`` to the
    application's endorsements collection, the endorsement embedded as signed). An
    endorser's newer word on the same application replaces the older one."""
    f = r.facts
    known = await repo.endorsement(s, f.id)
    if known is not None:
        return known, None
    app = await repo.application(s, ap_id=f.application)
    if app is not None and app.local_network:
        if app.state not in ("pending", "needs_more"):
            raise Conflict(f"the application is {app.state}: it takes no more endorsements")
        applicant = await s.get(Actor, app.applicant_id)
        if applicant is not None and applicant.ap_id == f.endorser:
            raise Conflict("an organisation cannot endorse its own application")
        if f.applicant is not None and (applicant is None or applicant.ap_id != f.applicant):
            raise Conflict("the endorsement names another applicant than the application's")
    for old in await repo.endorsements_of(s, f.application):
        if old.endorser_ap_id == f.endorser:
            old.withdrawn_at = utcnow()
    row = Endorsement(ap_id=f.id, application_ap_id=f.application,
                      applicant_ap_id=f.applicant, endorser_ap_id=f.endorser, stance=f.stance,
                      college=f.college, content=f.content, verified=r.verified, ap_json=r.doc)
    s.add(row)
    await s.flush()
    if app is None or not app.local_network:
        return row, None
    await repo.declare(s, f.endorser, f.college)
    if r.doc is not None:
        network = await actor_repo.get_network(s)
        add = to_as.activity(network.ap_id, "Add", r.doc, to=[to_as.PUBLIC],
                             cc=[f"{network.ap_id}/followers"], published=utcnow())
        add["target"] = f"{app.ap_id}/endorsements"
        add["@context"] = vetting_as.CONTEXT
        await outbox.publish(s, network, add, inboxes=await outbox.follower_inboxes(s, network))
    return row, app


async def voices(s, app: Application, today: date) -> list[Voice]:
    """The application's endorsements and objections as this network's rule sees them:
    the college its reviewers confirmed, and whether the endorser is a validated member."""
    rows = await repo.endorsements_of(s, app.ap_id)
    iris = sorted({e.endorser_ap_id for e in rows})
    registry, reviewers = await repo.colleges(s, iris), await repo.reviewer_colleges(s, iris)
    out: list[Voice] = []
    for e in rows:
        if e.endorser_ap_id in reviewers:
            kind, college = "reviewer", reviewers[e.endorser_ap_id]
        else:
            member = await repo.is_validated_member(s, e.endorser_ap_id, today)
            kind = "peer" if member else "user"
            entry = registry.get(e.endorser_ap_id)
            college = entry.college if entry else None
        out.append(Voice(e.ap_id, e.endorser_ap_id, e.stance, college, kind == "peer",
                         e.resolved_at is not None, True, kind))
    return out


async def verdict(s, config, app: Application, today: date | None = None
                  ) -> tuple[Verdict, list[Voice]]:
    today = today or date.today()
    vs = await voices(s, app, today)
    return evaluate(Rule.from_config(config.validation), vs), vs


# -- decisions -----------------------------------------------------------------------------
async def decide_in(s, config, ids: LocalIds, base_url: str, app: Application,
                    outcome: str, *, note: str = "", by: str | None = None,
                    applicant_keys: list | None = None) -> Decision:
    """Decide ``app`` in the open write session and publish the decision (``Accept``,
    ``Reject`` or ``TentativeAccept``) to the applicant and the network's followers, with
    the rule and the endorsements it rests on. Validated needs the rule met; the member
    then enters the members collection until the end of its validity."""
    if outcome not in OUTCOMES:
        raise InvalidInput("outcome", f"expected one of {', '.join(OUTCOMES)}")
    if app.state not in ("pending", "needs_more"):
        raise Conflict(f"application {app.id} is already {app.state}")
    network = await actor_repo.get_network(s)
    applicant = await s.get(Actor, app.applicant_id)
    today = date.today()
    result, vs = await verdict(s, config, app, today)
    if outcome == "validated" and not result.met:
        raise Conflict("the network's rule is not met: " + "; ".join(result.missing))
    until = valid_until(today, config.freshness.validation_months) \
        if outcome == "validated" else None
    docs = await repo.endorsements_by_iri(s, [v.endorsement for v in vs])
    counted = {v.endorsement for v in result.counted}
    basis = [{"endorsement": (docs[v.endorsement].ap_json or v.endorsement)
              if v.endorsement in docs else v.endorsement,
              "college": v.college, "peer": v.peer, "endorserKind": v.kind,
              "stance": v.stance, "counted": v.endorsement in counted,
              **({"resolved": True} if v.resolved else {})} for v in vs]
    rule = Rule.from_config(config.validation).to_json()
    doc = vetting_as.decision_activity(
        ids.new_decision(), network.ap_id, app.ap_id, applicant.ap_id, outcome=outcome,
        until=until, rule=rule, basis=basis, note=note or "; ".join(result.missing),
        join_id=app.join_ap_id, published=utcnow())
    row = Decision(ap_id=doc["id"], network_ap_id=network.ap_id, application_ap_id=app.ap_id,
                   applicant_ap_id=applicant.ap_id, outcome=outcome, valid_until=until,
                   rule=rule, basis=[{**b, "endorsement": v.endorsement}
                                     for b, v in zip(basis, vs)], ap_json=doc)
    s.add(row)
    app.state, app.valid_until, app.decision_ap_id = outcome, until, doc["id"]
    app.decided_at, app.note = utcnow(), (note or "")[:2000]
    inboxes = await outbox.follower_inboxes(s, network)
    if not applicant.local and applicant.inbox:
        inboxes.append(applicant.inbox)
    await outbox.publish(s, network, doc, inboxes=inboxes)
    if applicant.local:
        org = await s.get(Organisation, applicant.id)
        if outcome == "validated":
            await publish_approval(s, base_url, network, applicant, org, until,
                                   applicant_keys or [])
        elif outcome == "refused" and org.validation_status == "pending":
            org.validation_status = "refused"
    elif outcome == "validated":
        await publish_remote_member(s, network, applicant, "validated", until)
    await s.flush()
    return row


async def _applicant_keys(db: Database, ids: LocalIds, app_id: int) -> list:
    """The keys of a local applicant (its actor's Update is part of a validation); made
    before the write transaction, as key generation is slow."""
    async with db.read() as s:
        app = await repo.application(s, id_=app_id)
        applicant = await s.get(Actor, app.applicant_id) if app else None
    return await ensure_keys(db, ids, applicant.id) if applicant and applicant.local else []


async def decide(db: Database, config, ids: LocalIds, ref: str, outcome: str, *,
                 note: str = "", by: str | None = None) -> Decision:
    """A reviewer decides an application (validated only when the rule is met)."""
    async with db.read() as s:
        app = await application_ref(s, ref)
    if not app.local_network:
        raise Conflict("this application is to another node's network: it decides there")
    keys = await _applicant_keys(db, ids, app.id)
    async with db.write() as s:
        app = await repo.application(s, id_=app.id)
        return await decide_in(s, config, ids, config.node.base_url, app, outcome, note=note,
                               by=by, applicant_keys=keys)


async def maybe_decide(db: Database, config, ids: LocalIds, app_ids: set[int]
                       ) -> list[Decision]:
    """With ``auto_decide``, validate each of these open applications whose rule is met."""
    out: list[Decision] = []
    if not config.validation.auto_decide:
        return out
    for app_id in sorted(app_ids):
        keys = await _applicant_keys(db, ids, app_id)
        async with db.write() as s:
            app = await repo.application(s, id_=app_id)
            if app is None or app.state not in ("pending", "needs_more"):
                continue
            result, _ = await verdict(s, config, app)
            if result.met:
                out.append(await decide_in(s, config, ids, config.node.base_url, app,
                                           "validated", note="the network's rule is met",
                                           applicant_keys=keys))
    return out


async def confirm_college(db: Database, config, ids: LocalIds, endorser: str,
                          college: str | None, by: str) -> Endorser:
    """A reviewer confirms an endorser's college (the declared one when ``college`` is
    None); open applications it endorsed are decided again."""
    async with db.write() as s:
        row = await repo.endorser(s, endorser)
        if row is None:
            raise NotFound(f"{endorser} has not endorsed anything here")
        college = college or row.declared
        if college is None:
            raise InvalidInput("college", "this endorser declared no college: name one")
        row.college, row.confirmed_by, row.confirmed_at = college, by, utcnow()
        apps = await repo.open_applications_of(s, endorser)
    await maybe_decide(db, config, ids, apps)
    return row


async def resolve_objection(db: Database, config, ids: LocalIds, endorsement_id: int,
                            note: str, by: str) -> Endorsement:
    """Reviewers handled an objection: it no longer blocks (it stays on record)."""
    async with db.write() as s:
        row = await repo.endorsement_by_id(s, endorsement_id)
        if row is None or row.stance != "object":
            raise NotFound(f"no objection {endorsement_id} on this node")
        row.resolved_at, row.resolution = utcnow(), f"{note} ({by})"[:2000]
        app = await repo.application(s, ap_id=row.application_ap_id)
    if app is not None:
        await maybe_decide(db, config, ids, {app.id})
    return row
