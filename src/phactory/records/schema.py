"""Tables of the electronic batch record, as typed SQLAlchemy 2 ORM classes.

The record tables live in the same database as the store (:mod:`phactory.store`), but on
their own :class:`~sqlalchemy.MetaData` and their own Alembic history
(:mod:`phactory.records.migrate`, version table ``ebr_alembic_version``), so that the
store's schema and its migrations stay untouched. All table names start with ``ebr_``.

Tables
------
``ebr_audit``
    The audit trail: append-only and hash-chained (:mod:`phactory.records.audit`). Every
    column is text or integer and is hashed exactly as stored, so that a change of any
    single byte is found by :func:`phactory.records.audit.verify_chain`. The database
    refuses ``UPDATE`` and ``DELETE`` (and ``TRUNCATE`` on PostgreSQL) with triggers
    (21 CFR 11.10(c) and (e); EU GMP Annex 11 §7.1 and §9).
``ebr_signatures``, ``ebr_lot_links``
    Electronic signatures and material movements (genealogy): append-only as well.
``ebr_users``
    Accounts; rows cannot be deleted, so a user id is never reused (21 CFR 11.100(a),
    11.300(a)).
``ebr_batches``, ``ebr_steps``, ``ebr_deviations``, ``ebr_lots``, ``ebr_allocations``
    The current state of batches, their steps, deviations, lots and the units their unit
    procedures hold. They may be updated, but only by the service layer, and every change
    of GMP data in them is written to the audit trail in the same transaction with its
    old and new value and a reason.

The tables are private to :mod:`phactory.records`: other packages (the batch engine
included) write through :class:`phactory.records.RecordTx` and read through the record
service's parts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from phactory.store.schema import NAMING_CONVENTION, UTCDateTime

__all__ = [
    "AllocationRow",
    "AuditRow",
    "BatchRow",
    "DeviationRow",
    "LotLinkRow",
    "LotRow",
    "RecordsBase",
    "SignatureRow",
    "StepRow",
    "UserRow",
]

_ID: Final = 100
_PATH: Final = 300


class RecordsBase(DeclarativeBase):
    """Declarative base of the electronic-batch-record tables (own metadata)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class AuditRow(RecordsBase):
    """One entry of the hash-chained audit trail (see :mod:`phactory.records.audit`)."""

    __tablename__ = "ebr_audit"
    __table_args__ = (
        Index(None, "batch_id"),
        Index(None, "subject"),
    )

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ts: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(_ID))
    batch_id: Mapped[str | None] = mapped_column(String(_ID))
    kind: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(_PATH))
    field: Mapped[str] = mapped_column(String(200))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    data: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    #: The account that acted (e.g. the web account), next to ``user_id`` (the signer).
    acting_account: Mapped[str | None] = mapped_column(String(_ID))
    #: Hash format of the entry: ``None`` for format 1 (before ``acting_account``), else 2.
    hash_version: Mapped[int | None] = mapped_column(Integer)


class UserRow(RecordsBase):
    """An account: printed name, role, qualifications, password hash and lockout state."""

    __tablename__ = "ebr_users"

    user_id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    full_name: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    skills: Mapped[list[str]] = mapped_column(JSON)
    password_hash: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean)
    locked: Mapped[bool] = mapped_column(Boolean)
    failed_attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Set by an administrator's password reset: the user must choose a new password.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    #: When the password last changed; sessions opened before are ended.
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class BatchRow(RecordsBase):
    """A batch: its control recipe, ISA-88 state, record status and engine lease."""

    __tablename__ = "ebr_batches"
    __table_args__ = (Index(None, "status"),)

    batch_id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    site_id: Mapped[str] = mapped_column(String(_ID))
    recipe_id: Mapped[str] = mapped_column(String(_ID))
    recipe_version: Mapped[str] = mapped_column(String(40))
    product: Mapped[str] = mapped_column(String(_ID))
    order_id: Mapped[str | None] = mapped_column(String(_ID))
    patient: Mapped[str | None] = mapped_column(String(_ID))
    state: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    control_recipe: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(_ID))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    runner: Mapped[str | None] = mapped_column(String(200))
    heartbeat: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Recipe time / wall-clock time its simulated units run at (``inf``: instant);
    #: ``None``: that of the engine running it.
    time_scale: Mapped[float | None] = mapped_column(Float)


class StepRow(RecordsBase):
    """One phase of a batch (a step of the record): state, unit and progress."""

    __tablename__ = "ebr_steps"

    batch_id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    step: Mapped[str] = mapped_column(String(_PATH), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    unit: Mapped[str] = mapped_column(String(_ID))
    state: Mapped[str] = mapped_column(String(16))
    elapsed_h: Mapped[float] = mapped_column(Float)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    blocked_by: Mapped[str | None] = mapped_column(String(_ID))


class SignatureRow(RecordsBase):
    """An electronic signature bound to the hash of the record content it signs."""

    __tablename__ = "ebr_signatures"
    __table_args__ = (
        Index(None, "record_type", "record_id"),
        Index(None, "batch_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    batch_id: Mapped[str | None] = mapped_column(String(_ID))
    record_type: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[str] = mapped_column(String(_PATH))
    user_id: Mapped[str] = mapped_column(String(_ID))
    printed_name: Mapped[str] = mapped_column(Text)
    meaning: Mapped[str] = mapped_column(String(16))
    signed_at: Mapped[str] = mapped_column(String(32))
    content_hash: Mapped[str] = mapped_column(String(64))
    signature_hash: Mapped[str] = mapped_column(String(64))
    audit_seq: Mapped[int] = mapped_column(BigInteger)


class DeviationRow(RecordsBase):
    """A deviation linked to its batch step, with its workflow status."""

    __tablename__ = "ebr_deviations"
    __table_args__ = (
        Index(None, "batch_id"),
        Index(None, "batch_id", "step", "cause"),
        CheckConstraint(
            "status IN ('open', 'investigation', 'capa', 'closed')", name="status_known"
        ),
    )

    deviation_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    batch_id: Mapped[str | None] = mapped_column(String(_ID))
    step: Mapped[str | None] = mapped_column(String(_PATH))
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    raised_by: Mapped[str] = mapped_column(String(_ID))
    #: What raised it, e.g. ``material:feed-media``: one deviation per batch, step and cause.
    cause: Mapped[str | None] = mapped_column(String(_PATH))


class LotRow(RecordsBase):
    """A material lot known to the record: received, from the site file, or produced."""

    __tablename__ = "ebr_lots"

    lot_id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    material: Mapped[str] = mapped_column(String(_ID))
    quantity: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16))
    expiry: Mapped[str | None] = mapped_column(String(10))
    patient: Mapped[str | None] = mapped_column(String(_ID))
    batch_id: Mapped[str | None] = mapped_column(String(_ID))
    supplier: Mapped[str | None] = mapped_column(String(200))
    supplier_lot: Mapped[str | None] = mapped_column(String(_ID))
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_by: Mapped[str | None] = mapped_column(String(_ID))


class LotLinkRow(RecordsBase):
    """A lot consumed or produced by a batch step: one edge of the genealogy graph."""

    __tablename__ = "ebr_lot_links"
    __table_args__ = (
        Index(None, "lot_id"),
        Index(None, "batch_id"),
        CheckConstraint("direction IN ('consumed', 'produced')", name="direction_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(String(_ID))
    step: Mapped[str] = mapped_column(String(_PATH))
    lot_id: Mapped[str] = mapped_column(String(_ID))
    material: Mapped[str] = mapped_column(String(_ID))
    quantity: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(40))
    direction: Mapped[str] = mapped_column(String(16))
    audit_seq: Mapped[int] = mapped_column(BigInteger)


class AllocationRow(RecordsBase):
    """A unit procedure's request for a unit of its class, the unit granted, its release.

    Units are allocated when their unit procedure starts (ISA-88 dynamic allocation): the
    request is written when the procedure is due, ``unit`` when a unit is granted, and
    ``released_at`` when the procedure (or the batch) ends.
    """

    __tablename__ = "ebr_allocations"
    __table_args__ = (
        Index(None, "batch_id"),
        Index(None, "equipment_class", "released_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(String(_ID))
    unit_procedure: Mapped[str] = mapped_column(String(_ID))
    equipment_class: Mapped[str] = mapped_column(String(_ID))
    unit: Mapped[str | None] = mapped_column(String(_ID))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    allocated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
