"""The database schema. Change it only together with an Alembic migration in migrations/."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean, CheckConstraint, Date, Float, ForeignKey, Index, Integer, Numeric,
    String, Text, UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ssefed import terms
from ssefed.db.base import Base, JSONDoc, UTCDateTime, utcnow

IRI = String(2048)


class Actor(Base):
    """An ActivityPub actor: the network's own, a member organisation, or a remote one."""

    __tablename__ = "actors"
    __table_args__ = (
        UniqueConstraint("domain", "handle", name="uq_actors_domain_handle"),
        CheckConstraint("type IN ('Group', 'Service', 'Organization', 'Person', 'Application')",
                        name="type"),
        # a local actor by handle, the network's own actor: each publication looks them up
        Index("ix_actors_handle", "handle"),
        Index("ix_actors_is_network_local", "is_network", "local"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(IRI, unique=True)
    local: Mapped[bool] = mapped_column(Boolean, default=False)
    is_network: Mapped[bool] = mapped_column(Boolean, default=False)
    domain: Mapped[str] = mapped_column(String(255))
    handle: Mapped[str | None] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(500), default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    inbox: Mapped[str | None] = mapped_column(IRI)
    shared_inbox: Mapped[str | None] = mapped_column(IRI)
    manually_approves_followers: Mapped[bool] = mapped_column(Boolean, default=False)
    ap_json: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc)
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # remote: last fetched
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow,
                                                 index=True)

    keys: Mapped[list[ActorKey]] = relationship(back_populates="actor", lazy="raise")


class ActorKey(Base):
    """A key pair (local actors) or public key (remote actors): RSA for draft-cavage/RFC 9421,
    Ed25519 for integrity proofs (FEP-521a Multikey)."""

    __tablename__ = "actor_keys"
    __table_args__ = (CheckConstraint("kind IN ('rsa', 'ed25519')", name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    key_id: Mapped[str] = mapped_column(IRI, unique=True)
    public_pem: Mapped[str] = mapped_column(Text)
    private_pem: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor: Mapped[Actor] = relationship(back_populates="keys", lazy="raise")


class Organisation(Base):
    """SSE facts about an organisation actor (local member or received)."""

    __tablename__ = "organisations"
    __table_args__ = (
        CheckConstraint("validation_status IN ('unvalidated', 'pending', 'validated', "
                        "'refused', 'expired')", name="validation_status"),
        Index("ix_organisations_lat_lon", "lat", "lon"),
    )

    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"),
                                          primary_key=True)
    legal_form: Mapped[str | None] = mapped_column(String(64))
    sectors: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    qualifiers: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str] = mapped_column(Text, default="")
    locality: Mapped[str] = mapped_column(String(255), default="")
    postal_code: Mapped[str] = mapped_column(String(32), default="")
    country: Mapped[str] = mapped_column(String(2), default="")
    website: Mapped[str | None] = mapped_column(IRI)
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(64))
    organisational_structure: Mapped[str | None] = mapped_column(IRI)  # ESSGlobal IRI
    membership_type: Mapped[str | None] = mapped_column(IRI)  # ESSGlobal IRI
    activities: Mapped[list[str]] = mapped_column(JSONDoc, default=list)  # ESSGlobal ICA IRIs
    contact_public: Mapped[bool] = mapped_column(Boolean, default=True)
    claimed: Mapped[bool] = mapped_column(Boolean, default=True)  # imported: until claimed
    # as the organisation states it on /edit; false also means "not stated"
    accessible_premises: Mapped[bool] = mapped_column(Boolean, default=False)
    validation_status: Mapped[str] = mapped_column(String(16), default="unvalidated")
    valid_until: Mapped[date | None] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(32), default="admin")
    source_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    # the SPARQL projection follows changes by this column (and the actor's updated_at)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow,
                                                 index=True)


class Offer(Base):
    """An offer or a demand of an organisation (FEP-0837 Proposal when federated)."""

    __tablename__ = "offers"
    __table_args__ = (
        CheckConstraint(terms.sql_in("direction", terms.DIRECTIONS), name="direction"),
        CheckConstraint(terms.sql_in("kind", terms.KINDS), name="kind"),
        CheckConstraint(terms.sql_in("role", terms.ROLES), name="role"),
        CheckConstraint(terms.sql_in("exchange", terms.EXCHANGES), name="exchange"),
        Index("ix_offers_category_direction", "category", "direction"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # insert_sentinel: set before the INSERT and unique, so SQLAlchemy matches the ids
    # SQLite returns by it and inserts a batch in one statement (not one per row)
    ap_id: Mapped[str] = mapped_column(IRI, unique=True, insert_sentinel=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), index=True)
    local: Mapped[bool] = mapped_column(Boolean, default=True)
    direction: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(16))
    exchange: Mapped[str] = mapped_column(String(16), default="sale")
    category: Mapped[str] = mapped_column(IRI)
    title: Mapped[str] = mapped_column(String(500))
    summary: Mapped[str] = mapped_column(Text, default="")
    quantity: Mapped[Decimal | None] = mapped_column(Numeric(18, 6))
    unit: Mapped[str | None] = mapped_column(String(64))
    price: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))
    currency: Mapped[str | None] = mapped_column(String(255))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    valid_until: Mapped[date | None] = mapped_column(Date)
    ap_json: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow,
                                                 index=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the stable key of an offer imported from a CSV (``ssefed import``): re-import updates
    source_key: Mapped[str | None] = mapped_column(String(255), unique=True)

    inputs: Mapped[list[OfferInput]] = relationship(
        back_populates="offer", lazy="selectin", cascade="all, delete-orphan",
        order_by="OfferInput.position")


class OfferInput(Base):
    """An input category a transformer's offer consumes: what supply chains follow."""

    __tablename__ = "offer_inputs"

    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id", ondelete="CASCADE"),
                                          primary_key=True)
    category: Mapped[str] = mapped_column(IRI, primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    offer: Mapped[Offer] = relationship(back_populates="inputs")

    __table_args__ = (Index("ix_offer_inputs_category", "category"),)


class Job(Base):
    """A durable background job: a row with a small state machine (see worker/)."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'running', 'done', 'dead')", name="state"),
        Index("ix_jobs_state_run_at", "state", "run_at"),
        Index("ix_jobs_state_kind_run_at", "state", "kind", "run_at"),  # claims by kind
        UniqueConstraint("dedupe_key", name="uq_jobs_dedupe_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    dedupe_key: Mapped[str | None] = mapped_column(String(512))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    run_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Follow(Base):
    """A follow relation between two actors (either may be local)."""

    __tablename__ = "follows"
    __table_args__ = (
        UniqueConstraint("follower_id", "followed_id", name="uq_follows_follower_followed"),
        CheckConstraint("state IN ('pending', 'accepted', 'rejected')", name="state"),
        Index("ix_follows_followed_state", "followed_id", "state"),
        Index("ix_follows_followed_state_deliver_to", "followed_id", "state", "deliver_to"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(IRI, unique=True)  # the Follow activity's id
    follower_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"))
    followed_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    # Where the follower gets our activities: its shared inbox, else its own inbox; NULL
    # when it is local, deleted or has no inbox. Kept by the database's triggers from the
    # follower's actor row (migration 0017): never written by the application.
    deliver_to: Mapped[str | None] = mapped_column(IRI)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Activity(Base):
    """An activity published by a local actor (the outbox), stored before delivery."""

    __tablename__ = "activities"
    __table_args__ = (Index("ix_activities_actor_id_id", "actor_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(IRI, unique=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(32))
    object_ap_id: Mapped[str | None] = mapped_column(IRI)
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    ap_json: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Delivery(Base):
    """One POST of an activity to one inbox: a durable job with its own state machine."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("activity_id", "inbox", name="uq_deliveries_activity_inbox"),
        CheckConstraint("state IN ('pending', 'running', 'done', 'dead')", name="state"),
        Index("ix_deliveries_state_run_at", "state", "run_at"),
        Index("ix_deliveries_host_state", "host", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    inbox: Mapped[str] = mapped_column(IRI)
    host: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    run_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Host(Base):
    """What this node knows of another server: signature spec that works, circuit breaker."""

    __tablename__ = "hosts"

    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    signature_spec: Mapped[str | None] = mapped_column(String(16))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    open_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    block_reason: Mapped[str | None] = mapped_column(Text)
    # its chain endpoint (NodeInfo metadata), '' when it has none; when that was checked
    peer_api: Mapped[str | None] = mapped_column(IRI)
    peer_api_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class InboxItem(Base):
    """A verified activity received in an inbox, stored before any side effect."""

    __tablename__ = "inbox_items"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'processed', 'ignored', 'rejected')", name="state"),
        Index("ix_inbox_items_state", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(IRI, unique=True)  # dedupe: same id twice, effect once
    type: Mapped[str] = mapped_column(String(64))
    actor_ap_id: Mapped[str] = mapped_column(IRI)
    key_id: Mapped[str | None] = mapped_column(IRI)
    # NULL once pruned (domain/retention.py): the row stays a while as the dedupe
    ap_json: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RemoteObject(Base):
    """An object received from another server (Note, Proposal...), as last seen."""

    __tablename__ = "remote_objects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # insert_sentinel: set before the INSERT and unique, so SQLAlchemy matches the ids
    # SQLite returns by it and inserts a batch in one statement (not one per row)
    ap_id: Mapped[str] = mapped_column(IRI, unique=True, insert_sentinel=True)
    type: Mapped[str] = mapped_column(String(64))
    attributed_to: Mapped[str | None] = mapped_column(IRI, index=True)
    ap_json: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow,
                                                 index=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Interaction(Base):
    """An Announce or Like of an object, received; removed by Undo."""

    __tablename__ = "interactions"
    __table_args__ = (CheckConstraint("type IN ('Announce', 'Like')", name="type"),
                      Index("ix_interactions_object", "object_ap_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(IRI, unique=True)
    type: Mapped[str] = mapped_column(String(16))
    actor_ap_id: Mapped[str] = mapped_column(IRI)
    object_ap_id: Mapped[str] = mapped_column(IRI)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Token(Base):
    """A bearer token of a local actor (client-to-server posts, its editing pages).
    Only the SHA-256 of the token is stored."""

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="api")  # api | claim (one-time)
    label: Mapped[str] = mapped_column(String(255), default="")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EditSession(Base):
    """A signed-in session of an organisation's editing pages (web/sessions.py). The
    cookie holds a random id and its HMAC; only the id's SHA-256 is stored. Signing out
    deletes the row, so a copied cookie stops working at once; revoking the token
    deletes its sessions (and its rows cascade)."""

    __tablename__ = "edit_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sid_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("tokens.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class KnownNetwork(Base):
    """A network's actor (on another node) whose members collection this node reads:
    a network vouches for its members by listing them there."""

    __tablename__ = "known_networks"

    ap_id: Mapped[str] = mapped_column(IRI, primary_key=True)
    members_url: Mapped[str | None] = mapped_column(IRI)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class Membership(Base):
    """A member as listed by a remote network's members collection, when last read."""

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("network_ap_id", "member_ap_id", name="uq_memberships_network_member"),
        Index("ix_memberships_member", "member_ap_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    network_ap_id: Mapped[str] = mapped_column(
        ForeignKey("known_networks.ap_id", ondelete="CASCADE"))
    member_ap_id: Mapped[str] = mapped_column(IRI)
    valid_until: Mapped[date | None] = mapped_column(Date)


# -- participatory validation (domain/vetting.py) ---------------------------------------
COLLEGE_CHECK = ("college IS NULL OR college IN ('consumers', 'government', 'industry', "
                 "'labour', 'ngo', 'ssro')")


class Reviewer(Base):
    """A local person account (actor of type Person) with the network's reviewer role,
    created by the admin; its college is the one the admin gave it."""

    __tablename__ = "reviewers"
    __table_args__ = (CheckConstraint(COLLEGE_CHECK, name="college"),)

    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"),
                                          primary_key=True)
    college: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Charter(Base):
    """One version of a network's charter (its criteria never change once published:
    a change is a new version). Local, or read from another network."""

    __tablename__ = "charters"
    __table_args__ = (
        UniqueConstraint("network_ap_id", "slug", "version", name="uq_charters_version"),
        CheckConstraint("approach IN ('criteria', 'progress')", name="approach"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(IRI, unique=True)
    network_ap_id: Mapped[str] = mapped_column(IRI)
    local: Mapped[bool] = mapped_column(Boolean, default=True)
    slug: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(500))
    summary: Mapped[str] = mapped_column(Text, default="")
    approach: Mapped[str] = mapped_column(String(16), default="criteria")
    criteria: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc, default=list)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Application(Base):
    """An organisation's application to a network, with its answers to the charter's
    criteria. On the network's node (``local_network``) it is decided there; on the
    applicant's node it records what was asked and what was answered."""

    __tablename__ = "applications"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'validated', 'refused', 'needs_more', "
                        "'withdrawn')", name="state"),
        Index("ix_applications_network_state", "network_ap_id", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(IRI, unique=True)
    join_ap_id: Mapped[str | None] = mapped_column(IRI, unique=True)
    network_ap_id: Mapped[str] = mapped_column(IRI)
    local_network: Mapped[bool] = mapped_column(Boolean, default=True)
    applicant_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"),
                                              index=True)
    charter_ap_id: Mapped[str | None] = mapped_column(IRI)
    answers: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc, default=list)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    note: Mapped[str] = mapped_column(Text, default="")
    valid_until: Mapped[date | None] = mapped_column(Date)
    decision_ap_id: Mapped[str | None] = mapped_column(IRI)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Endorsement(Base):
    """An endorsement of (or an objection to) an application, by any actor, as this node
    verified it: ``verified`` says how (local, the endorser's own signed delivery, an
    integrity proof, or a fetch from its origin)."""

    __tablename__ = "endorsements"
    __table_args__ = (
        CheckConstraint("stance IN ('endorse', 'object')", name="stance"),
        CheckConstraint(COLLEGE_CHECK, name="college"),
        CheckConstraint("verified IN ('local', 'signature', 'proof', 'origin')",
                        name="verified"),
        Index("ix_endorsements_application", "application_ap_id"),
        Index("ix_endorsements_endorser", "endorser_ap_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(IRI, unique=True)
    application_ap_id: Mapped[str] = mapped_column(IRI)
    applicant_ap_id: Mapped[str | None] = mapped_column(IRI)
    endorser_ap_id: Mapped[str] = mapped_column(IRI)
    stance: Mapped[str] = mapped_column(String(8), default="endorse")
    college: Mapped[str | None] = mapped_column(String(16))  # as the endorser declared it
    content: Mapped[str] = mapped_column(Text, default="")
    verified: Mapped[str] = mapped_column(String(16))
    ap_json: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # an objection handled
    resolution: Mapped[str] = mapped_column(Text, default="")
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Endorser(Base):
    """This network's register of endorsers' stakeholder colleges (ISO 26000): declared
    by the endorser, confirmed by a reviewer."""

    __tablename__ = "endorsers"
    __table_args__ = (CheckConstraint(COLLEGE_CHECK, name="college"),
                      CheckConstraint("declared IS NULL OR declared IN ('consumers', "
                                      "'government', 'industry', 'labour', 'ngo', 'ssro')",
                                      name="declared"))

    ap_id: Mapped[str] = mapped_column(IRI, primary_key=True)
    declared: Mapped[str | None] = mapped_column(String(16))
    college: Mapped[str | None] = mapped_column(String(16))
    confirmed_by: Mapped[str | None] = mapped_column(IRI)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Decision(Base):
    """A network's decision on an application (this node's, or received from a network),
    with the rule it applied and the endorsements it rests on."""

    __tablename__ = "decisions"
    __table_args__ = (
        CheckConstraint("outcome IN ('validated', 'refused', 'needs_more')", name="outcome"),
        Index("ix_decisions_applicant", "applicant_ap_id", "network_ap_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(IRI, unique=True)
    network_ap_id: Mapped[str] = mapped_column(IRI)
    application_ap_id: Mapped[str] = mapped_column(IRI, index=True)
    applicant_ap_id: Mapped[str] = mapped_column(IRI)
    outcome: Mapped[str] = mapped_column(String(16))
    valid_until: Mapped[date | None] = mapped_column(Date)
    rule: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    basis: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc, default=list)
    ap_json: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

class Reminder(Base):
    """A reminder sent to a local organisation: its validation, or one of its offers or
    demands, ends on ``valid_until``. One per (subject, valid_until), so nothing is sent
    twice; ``resolved_at`` is set when the organisation re-confirms it."""

    __tablename__ = "reminders"
    __table_args__ = (
        UniqueConstraint("subject", "valid_until", name="uq_reminders_subject_valid_until"),
        CheckConstraint("subject_type IN ('validation', 'offer')", name="subject_type"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"),
                                          index=True)
    subject_type: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(IRI)  # the organisation's actor IRI, or the offer's
    title: Mapped[str] = mapped_column(String(500), default="")
    valid_until: Mapped[date] = mapped_column(Date)
    note_ap_id: Mapped[str] = mapped_column(IRI)  # the Note that told it
    email_to: Mapped[str | None] = mapped_column(String(320))  # when the e-mail hook was given it
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

class Report(Base):
    """A report that published information is wrong or outdated: received as an
    ActivityPub ``Flag`` (``ap_id``: its id) or filed through the public form / API
    (no ``ap_id``, no reporter). Open until one of the network's reviewers handles it."""

    __tablename__ = "reports"
    __table_args__ = (
        # a Flag naming objects of two organisations is one report for each
        UniqueConstraint("ap_id", "actor_id", name="uq_reports_ap_id_actor_id"),
        CheckConstraint("reason IN ('wrong', 'outdated', 'other')", name="reason"),
        CheckConstraint("state IN ('open', 'handled')", name="state"),
        CheckConstraint("source IN ('flag', 'form')", name="source"),
        Index("ix_reports_actor_id_state", "actor_id", "state"),
        Index("ix_reports_state_id", "state", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str | None] = mapped_column(IRI)  # the Flag's id (dedupe)
    source: Mapped[str] = mapped_column(String(8))
    reporter_ap_id: Mapped[str | None] = mapped_column(IRI)  # the Flag's actor
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"))
    object_ap_ids: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    reason: Mapped[str] = mapped_column(String(16), default="other")
    text: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16), default="open")
    resolution: Mapped[str | None] = mapped_column(Text)
    handled_by: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
