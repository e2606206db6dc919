"""The network's approval of a member: what puts it in (or takes it out of) the
network's members collection, the word other nodes check before they count one of its
offers as a guaranteed link. Participatory validation (domain/applications.py) decides
it; the admin can also approve directly (``ssefed org approve``)."""

from __future__ import annotations

from datetime import date

from ssefed.db.base import utcnow
from ssefed.db.models import Actor, Organisation
from ssefed.db.repos import actors as actor_repo
from ssefed.db.session import Database
from ssefed.domain import outbox
from ssefed.domain.actors import ensure_keys
from ssefed.domain.errors import Conflict
from ssefed.vocab import to_as
from ssefed.vocab.ids import LocalIds
from ssefed.db.repos import vetting as vetting_repo
from types import SimpleNamespace


async def set_approval(db: Database, ids: LocalIds, base_url: str, actor: Actor,
                       until: date | None) -> Organisation:
    """Approve ``actor`` until ``until`` (None: withdraw the approval). The network's
    followers get an ``Add`` (or ``Remove``) of the membership to its members collection,
    and the organisation's followers an ``Update`` of its actor."""
    if actor.is_network or actor.deleted_at is not None:
        raise Conflict("only a current member organisation can be approved")
    keys = await ensure_keys(db, ids, actor.id)  # its Update is signed with them
    async with db.write() as s:
        org = await s.get(Organisation, actor.id)
        row = await s.get(Actor, actor.id)
        network = await actor_repo.get_network(s)
        if org is None or row is None or network is None:
            raise Conflict(f"@{actor.handle} is not a member organisation")
        await publish_approval(s, base_url, network, row, org, until, keys)
    return org


async def publish_approval(s, base_url: str, network: Actor, row: Actor, org: Organisation,
                           until: date | None, keys: list) -> None:
    """In the open write session: set the validation of a local organisation (None:
    withdraw it), ``Add`` (or ``Remove``) it to the network's members collection for the
    network's followers, and ``Update`` its actor for its own followers."""
    if until is None:
        org.validation_status, org.valid_until = "unvalidated", None
    else:
        org.validation_status, org.valid_until = "validated", until
    await s.flush()
    await publish_remote_member(s, network, row, org.validation_status, org.valid_until)

    others = tuple(await vetting_repo.outgoing_validated(s, row.id, date.today()))
    actor_doc = to_as.actor_document(row, keys, base_url, org, network.ap_id, others)
    update = to_as.activity(row.ap_id, "Update", to_as.strip_context(actor_doc),
                            to=[to_as.PUBLIC], cc=[f"{row.ap_id}/followers"],
                            published=utcnow())
    update["@context"] = actor_doc["@context"]
    await outbox.publish(s, row, update, inboxes=await outbox.follower_inboxes(s, row))


async def publish_remote_member(s, network: Actor, member: Actor, state: str,
                                until: date | None) -> None:
    """In the open write session: tell the network's followers that a member (of this
    node or another) joined (``Add``) or left (``Remove``) its members collection, so
    they read it again."""
    item = to_as.membership(network.ap_id, member,
                            SimpleNamespace(validation_status=state, valid_until=until))
    verb = "Add" if state == "validated" else "Remove"
    doc = to_as.activity(network.ap_id, verb, item, to=[to_as.PUBLIC],
                         cc=[f"{network.ap_id}/followers"], published=utcnow())
    doc["target" if verb == "Add" else "origin"] = f"{network.ap_id}/members"
    doc["@context"] = to_as.MEMBERS_CONTEXT
    await outbox.publish(s, network, doc, inboxes=await outbox.follower_inboxes(s, network))
