"""The database schema. Change it only together with an Alembic migration in migrations/."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean, CheckConstraint, Date, Float, ForeignKey, Index, Integer, Numeric, String, Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ssefed.db.base import Base, JSONDoc, UTCDateTime, utcnow

IRI = String(2048)


class Actor(Base):
    """An ActivityPub actor: the network's own, a member organisation, or a remote one."""

    __tablename__ = "actors"
    __table_args__ = (
        UniqueConstraint("domain", "handle", name="uq_actors_domain_handle"),
        CheckConstraint("type IN ('Group', 'Service', 'Organization', 'Person', 'Application')",
                        name="type"),
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
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

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
    validation_status: Mapped[str] = mapped_column(String(16), default="unvalidated")
    valid_until: Mapped[date | None] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(32), default="admin")
    source_key: Mapped[str | None] = mapped_column(String(255), unique=True)


class Offer(Base):
    """An offer or a demand of an organisation (FEP-0837 Proposal when federated)."""

    __tablename__ = "offers"
    __table_args__ = (
        CheckConstraint("direction IN ('offer', 'demand')", name="direction"),
        CheckConstraint("kind IN ('product', 'service', 'equipment', 'premises', 'skills', "
                        "'tender')", name="kind"),
        CheckConstraint("role IN ('production', 'transformation', 'distribution', 'service')",
                        name="role"),
        CheckConstraint("exchange IN ('sale', 'exchange', 'loan', 'gift', 'pooling')",
                        name="exchange"),
        Index("ix_offers_category_direction", "category", "direction"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(IRI, unique=True)
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
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

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
