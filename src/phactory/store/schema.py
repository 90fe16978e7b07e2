"""Database tables, as typed SQLAlchemy 2 ORM classes.

The schema is changed only through Alembic revisions in :mod:`phactory.store.migrations`;
a test checks that the head revision and these classes agree.

Conventions
-----------
* Timestamps are :class:`UTCDateTime`: timezone-aware UTC in Python on every backend
  (``timestamptz`` on PostgreSQL, naive UTC text on SQLite).
* Documents (site content, overrides, parameters, results, event payloads) are
  :class:`sqlalchemy.JSON`, i.e. ``json`` rather than ``jsonb`` on PostgreSQL, because
  ``jsonb`` does not give back exactly what was stored: it turns ``1e300`` into an integer,
  drops key order and rejects ``\\u0000``. Documents are always JSON objects: SQLite
  gives its ``JSON`` columns numeric affinity, which would rewrite a bare number.
* Constraint names follow :data:`NAMING_CONVENTION`, so migrations can name them on both
  backends.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Final, get_args

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from phactory.store.records import RunStatus

__all__ = [
    "NAMING_CONVENTION",
    "RUN_STATUSES",
    "Base",
    "EventRow",
    "RunRow",
    "ScenarioRow",
    "SiteVersionRow",
    "UTCDateTime",
]

#: Names for indexes and constraints, identical on SQLite and PostgreSQL.
NAMING_CONVENTION: Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Every status a run can have, in lifecycle order.
RUN_STATUSES: Final = get_args(RunStatus)

#: Lengths of identifier columns; a site object id has at most 100 characters.
ID_LENGTH: Final = 100


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python.

    Naive datetimes are refused on the way in, because the store cannot know their zone.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to UTC; drop the zone on SQLite, which cannot store it."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: give a timezone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Attach (SQLite) or normalise (PostgreSQL) the UTC zone."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _json(*, nullable: bool) -> JSON:
    # none_as_null: Python None in a nullable document column is SQL NULL, not JSON 'null'.
    return JSON(none_as_null=nullable)


class Base(DeclarativeBase):
    """Declarative base of all store tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class SiteVersionRow(Base):
    """One immutable version of a site definition, with the hash of its content.

    A hash is not unique per site: going back to earlier content makes a new version, so
    that the latest version is always the content saved last.
    """

    __tablename__ = "site_versions"
    __table_args__ = (CheckConstraint("version >= 1", name="version_positive"),)

    site_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    content: Mapped[dict[str, Any]] = mapped_column(_json(nullable=False))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(200))


class ScenarioRow(Base):
    """A named variant of one site version: overrides and run settings."""

    __tablename__ = "scenarios"
    __table_args__ = (
        ForeignKeyConstraint(
            ["site_id", "site_version"],
            ["site_versions.site_id", "site_versions.version"],
            ondelete="RESTRICT",
        ),
        Index(None, "site_id", "site_version"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    site_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    site_version: Mapped[int] = mapped_column(Integer)
    overrides: Mapped[dict[str, Any]] = mapped_column(_json(nullable=False))
    run_settings: Mapped[dict[str, Any]] = mapped_column(_json(nullable=False))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(200))


class RunRow(Base):
    """One job (simulation, scheduling, ...) on a site version, with its status and results."""

    __tablename__ = "runs"
    __table_args__ = (
        ForeignKeyConstraint(
            ["site_id", "site_version"],
            ["site_versions.site_id", "site_versions.version"],
            ondelete="RESTRICT",
        ),
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in RUN_STATUSES) + ")", name="status_known"
        ),
        CheckConstraint("progress >= 0 AND progress <= 1", name="progress_fraction"),
        Index(None, "site_id", "site_version"),
        Index(None, "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    scenario_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("scenarios.id", ondelete="SET NULL"), index=True
    )
    site_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    site_version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    progress: Mapped[float] = mapped_column(Float)
    params: Mapped[dict[str, Any]] = mapped_column(_json(nullable=False))
    results: Mapped[dict[str, Any] | None] = mapped_column(_json(nullable=True))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(200))


class EventRow(Base):
    """One entry of a run's event log; ``seq`` orders the entries of a run from 0."""

    __tablename__ = "events"

    run_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    t_h: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(64))
    unit: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    batch: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    payload: Mapped[dict[str, Any] | None] = mapped_column(_json(nullable=True))
