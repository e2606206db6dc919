"""ActivityPub client-to-server: an organisation publishes, updates and withdraws its
offers and demands by POSTing to its outbox with its bearer token.

An ``Update`` whose ``object`` is just an IRI (not an object) re-confirms it as it is:
the organisation's own actor IRI re-confirms its validation and all its current offers
(domain/reconfirm.py), one of its offers' IRIs that offer alone."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ssefed.db.base import utcnow
from ssefed.db.models import Actor, OfferInput, Organisation
from ssefed.db.repos import offers as offer_repo
from ssefed.domain import tokens
from ssefed.domain.offers import OfferInput as NewOffer
from ssefed.domain.publishing import add_offer, publish_offer
from ssefed.vocab import proposals
from ssefed.vocab.from_as import ParseError, first_id
from ssefed.web.keys import CONFIG, DB, DELIVERY_WAKE, IDS
from ssefed.web.problems import Problem, read_json
from ssefed.domain import reconfirm
from ssefed.domain.reminders import today_utc

OFFER_FIELDS = ("direction", "kind", "role", "exchange", "category", "title", "summary",
                "quantity", "unit", "price", "currency", "lat", "lon", "valid_until")


async def _authorised_actor(request: web.Request, s) -> Actor:
    given = request.headers.get("Authorization", "")
    if not given.startswith("Bearer "):
        raise Problem(401, "Unauthorized", "a bearer token of this actor is required "
                                           "(ssefed token create HANDLE)")
    actor = await tokens.actor_for(s, given[7:].strip())
    if actor is None or actor.handle != request.match_info["handle"]:
        raise Problem(403, "Forbidden", "this token does not belong to this actor")
    return actor


def _proposal(obj: Any, actor: Actor, object_id: str) -> proposals.RemoteProposal:
    """Check a posted Proposal (JSON Schema, then our reader); 422 naming the path."""
    if not isinstance(obj, dict):
        raise Problem(422, "Invalid input", "object must be a Proposal object", field="/object")
    author = first_id(obj.get("attributedTo"))
    if author not in (None, actor.ap_id):
        raise Problem(403, "Forbidden", "an actor publishes only its own offers",
                      field="/object/attributedTo")
    doc = {**obj, "id": object_id, "attributedTo": actor.ap_id}
    if not proposals.is_proposal(doc):
        doc["type"] = ["Note", "Proposal"]
    try:
        proposals.check_schema("offer", doc)
        return proposals.read_proposal(doc)
    except proposals.SchemaError as exc:
        raise Problem(422, "Invalid input", exc.message, field="/object" + exc.path) from None
    except ParseError as exc:
        raise Problem(422, "Invalid input", exc.message,
                      field="/object/" + exc.path.replace(".", "/")) from None


def _as_input(p: proposals.RemoteProposal) -> NewOffer:
    return NewOffer(**{f: getattr(p, f) for f in OFFER_FIELDS}, inputs=list(p.inputs))


async def outbox_post(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    body = await read_json(request, config.federation.max_body_bytes)
    if not isinstance(body, dict):
        raise Problem(422, "Invalid input", "expected a JSON object", field="/")
    verb = body.get("type")
    if verb not in ("Create", "Update", "Delete"):  # a bare object means Create
        body = {"type": "Create", "object": body}
        verb = "Create"
    if verb == "Update" and isinstance(body.get("object"), str):
        return await _reconfirm(request, body["object"])
    async with request.app[DB].write() as s:
        actor = await _authorised_actor(request, s)
        if verb == "Create":
            iri = request.app[IDS].new_offer()
            data = _as_input(_proposal(body.get("object"), actor, iri))
            org = await s.get(Organisation, actor.id)
            offer = await add_offer(s, request.app[IDS], actor, data,
                                    lat=org.lat if org else None, lon=org.lon if org else None,
                                    validity_days=config.freshness.offer_validity_days)
            status, location = 201, offer.ap_id
        else:
            target = first_id(body.get("object"))
            offer = await offer_repo.local_by_iri(s, target or "", live=True)
            if offer is None or offer.actor_id != actor.id:
                raise Problem(404, "Not Found", "no such offer of this actor", field="/object")
            if verb == "Delete":
                offer.deleted_at = utcnow()
            else:
                data = _as_input(_proposal(body.get("object"), actor, offer.ap_id))
                for f in OFFER_FIELDS:
                    setattr(offer, f, getattr(data, f))
                offer.inputs = [OfferInput(category=c, position=i)
                                for i, c in enumerate(dict.fromkeys(data.inputs))]
                offer.updated_at = utcnow()
                await s.flush()
            await publish_offer(s, actor, offer, verb)
            status, location = 200, offer.ap_id
    request.app[DELIVERY_WAKE]()
    return web.json_response({"id": location, "status": verb.lower() + "d"}, status=status,
                             headers={"Location": location})


async def _reconfirm(request: web.Request, iri: str) -> web.Response:
    """``Update`` of a bare IRI: re-confirm the actor itself, or one of its offers, as is."""
    config, db = request.app[CONFIG], request.app[DB]
    async with db.write() as s:
        actor = await _authorised_actor(request, s)
    if iri == actor.ap_id:
        done = await reconfirm.reconfirm_organisation(db, request.app[IDS], config.node.base_url,
                                                      actor, config.freshness,
                                                      today=today_utc())
    else:
        async with db.read() as s:
            offer = await offer_repo.local_by_iri(s, iri, live=True)
        if offer is None or offer.actor_id != actor.id:
            raise Problem(404, "Not Found", "the object of a re-confirming Update is the IRI of "
                                            "this actor or of one of its current offers",
                          field="/object")
        done = await reconfirm.reconfirm_offer(db, actor, iri, config.freshness,
                                               today=today_utc())
    request.app[DELIVERY_WAKE]()
    return web.json_response({"id": iri, "status": "reconfirmed", **done.as_json()},
                             headers={"Location": iri})
