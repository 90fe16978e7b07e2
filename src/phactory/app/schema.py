"""Tables of the web application: accounts, tokens and sessions, change log, run artifacts.

They share the store's database but have their own Alembic history
(:mod:`phactory.app.migrations`, version table ``app_alembic_version``), like the batch
records, so that the store's migrations and its schema test never see them. No foreign
key points into the store's tables: the change log names store records by id.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql import expression

from phactory.store.schema import NAMING_CONVENTION, UTCDateTime

__all__ = [
    "AppBase",
    "ArtifactRow",
    "ChangeRow",
    "LoginFailureRow",
    "MonitorAlarmEventRow",
    "MonitorAlarmRow",
    "MonitorRow",
    "TokenRow",
    "UserRow",
]

#: Longest user name.
NAME_LENGTH: Final = 100


class AppBase(DeclarativeBase):
    """Declarative base of the ``app_*`` tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UserRow(AppBase):
    """A local account; never deleted (deactivated instead), so names are never reused."""

    __tablename__ = "app_users"

    name: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean)
    preferences: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(NAME_LENGTH))
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The password was set by someone else (the first start): it must be changed before
    #: anything else is allowed.
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=expression.false()
    )


class LoginFailureRow(AppBase):
    """Failed logins of one account name from one client address, and its lock.

    Kept in the database (not in a server's memory) so that every server process sees
    the same locks and ``phactory user unlock`` can end them; times are seconds since
    the Unix epoch (:class:`phactory.credentials.Attempts`).
    """

    __tablename__ = "app_login_failures"
    __table_args__ = (Index(None, "user_name"), Index(None, "last_failure"))

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    user_name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    client: Mapped[str] = mapped_column(String(200))
    failures: Mapped[int] = mapped_column(Integer)
    last_failure: Mapped[float | None] = mapped_column(Double)
    locked_until: Mapped[float | None] = mapped_column(Double)
    #: Locked until an administrator unlocks (``locked_until`` is then ignored).
    until_unlock: Mapped[bool] = mapped_column(Boolean)


class TokenRow(AppBase):
    """An API token (``kind == "api"``) or a browser session (``"session"``).

    Only the HMAC-SHA256 ``digest`` of the secret is kept.
    """

    __tablename__ = "app_tokens"
    __table_args__ = (Index(None, "digest", unique=True), Index(None, "user_name"))

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    user_name: Mapped[str] = mapped_column(
        String(NAME_LENGTH), ForeignKey("app_users.name", ondelete="RESTRICT")
    )
    digest: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(NAME_LENGTH))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ChangeRow(AppBase):
    """One entry of the change log: who changed what, when."""

    __tablename__ = "app_changes"
    __table_args__ = (Index(None, "entity_kind", "entity_id"), Index(None, "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(NAME_LENGTH))
    action: Mapped[str] = mapped_column(String(64))
    entity_kind: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class ArtifactRow(AppBase):
    """A large output of a run kept beside it (figures, a schedule's operations)."""

    __tablename__ = "app_run_artifacts"

    run_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MonitorRow(AppBase):
    """A monitoring model deployed on the live plant (:mod:`phactory.app.services.monitoring`).

    The model file is kept in the data folder (``model_file``, with its SHA-256); a
    removed deployment keeps its row (``removed_at``) so that its alarms keep their
    history. ``settings`` holds how it reads the historian (grid step, hold, tag map),
    ``state`` where its live monitor stopped (:class:`phactory.live.monitoring.MonitorState`),
    and the ``shelved_*`` columns the shelving of its alarm point (ISA-18.2).
    """

    __tablename__ = "app_monitors"
    __table_args__ = (Index(None, "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    family: Mapped[str] = mapped_column(String(16))
    site: Mapped[str] = mapped_column(String(NAME_LENGTH))
    unit: Mapped[str] = mapped_column(String(NAME_LENGTH))
    tag_prefix: Mapped[str] = mapped_column(Text)
    model_file: Mapped[str] = mapped_column(String(300))
    model_sha256: Mapped[str] = mapped_column(String(64))
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(NAME_LENGTH))
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    removed_by: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    shelved_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    shelved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    shelved_by: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    shelve_reason: Mapped[str | None] = mapped_column(Text)


class MonitorAlarmRow(AppBase):
    """One alarm occurrence of a deployed monitor (:class:`phactory.live.alarms.AlarmRecord`).

    One per monitor and raising row (``raised_us``), so that a monitor restarted after a
    crash that sees the same alarm again stores it once.
    """

    __tablename__ = "app_monitor_alarms"
    __table_args__ = (
        UniqueConstraint("monitor_id", "raised_us"),
        Index(None, "cleared_at"),
        Index(None, "raised_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    monitor_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("app_monitors.id", ondelete="RESTRICT")
    )
    monitor: Mapped[str] = mapped_column(String(NAME_LENGTH))
    site: Mapped[str] = mapped_column(String(NAME_LENGTH))
    unit: Mapped[str] = mapped_column(String(NAME_LENGTH))
    raised_us: Mapped[int] = mapped_column(BigInteger)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    statistic: Mapped[str] = mapped_column(String(16))
    t2: Mapped[float | None] = mapped_column(Double)
    spe: Mapped[float | None] = mapped_column(Double)
    t2_limit: Mapped[float | None] = mapped_column(Double)
    spe_limit: Mapped[float | None] = mapped_column(Double)
    top: Mapped[list[Any]] = mapped_column(JSON)
    contributions: Mapped[dict[str, Any]] = mapped_column(JSON)
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acked_by: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    ack_note: Mapped[str] = mapped_column(Text)
    shelved: Mapped[bool] = mapped_column(Boolean)
    batch_id: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    step: Mapped[str | None] = mapped_column(Text)
    deviation_id: Mapped[str | None] = mapped_column(String(NAME_LENGTH))


class MonitorAlarmEventRow(AppBase):
    """One line of the alarm history: raised, cleared, acknowledged, shelved, unshelved,
    deviation; who (a user, or ``monitor``) and when (wall clock)."""

    __tablename__ = "app_monitor_alarm_events"
    __table_args__ = (Index(None, "monitor_id", "id"), Index(None, "alarm_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    monitor_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("app_monitors.id", ondelete="RESTRICT")
    )
    alarm_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("app_monitor_alarms.id", ondelete="RESTRICT")
    )
    monitor: Mapped[str] = mapped_column(String(NAME_LENGTH))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(NAME_LENGTH))
    note: Mapped[str] = mapped_column(Text)
