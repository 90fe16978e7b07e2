"""The change log: every change made through the application, with who and when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from phactory.app.schema import ChangeRow
from phactory.app.services.db import AppDatabase, now

__all__ = ["Change", "ChangeLog"]


@dataclass(frozen=True, slots=True)
class Change:
    """One entry of the change log."""

    id: int
    at: datetime
    actor: str
    action: str
    entity_kind: str
    entity_id: str
    summary: str
    detail: dict[str, Any]


def _change(row: ChangeRow) -> Change:
    return Change(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        entity_kind=row.entity_kind,
        entity_id=row.entity_id,
        summary=row.summary,
        detail=dict(row.detail or {}),
    )


class ChangeLog:
    """Append and read change-log entries (``app_changes``)."""

    def __init__(self, db: AppDatabase) -> None:
        self._db = db

    def record(
        self,
        actor: str,
        action: str,
        entity_kind: str,
        entity_id: str,
        summary: str,
        detail: dict[str, Any] | None = None,
        *,
        session: Session | None = None,
    ) -> Change:
        """Append one entry; ``action`` is a verb like ``"scenario.create"``.

        Give the ``session`` of the change itself, so that both are stored or neither;
        without one the entry is its own transaction (for events that change nothing
        else, such as a lockout).
        """
        row = ChangeRow(
            at=now(),
            actor=actor[:100],
            action=action[:64],
            entity_kind=entity_kind[:32],
            entity_id=str(entity_id)[:200],
            summary=summary,
            detail=detail or {},
        )
        if session is not None:
            session.add(row)
            session.flush()
            return _change(row)
        with self._db.session(write=True) as s:
            s.add(row)
            s.flush()
            return _change(row)

    def list(
        self,
        *,
        limit: int = 100,
        entity_kind: str | None = None,
        entity_id: str | None = None,
        actor: str | None = None,
    ) -> list[Change]:
        """Entries, newest first, optionally filtered."""
        stmt = select(ChangeRow).order_by(ChangeRow.id.desc()).limit(limit)
        if entity_kind is not None:
            stmt = stmt.where(ChangeRow.entity_kind == entity_kind)
        if entity_id is not None:
            stmt = stmt.where(ChangeRow.entity_id == entity_id)
        if actor is not None:
            stmt = stmt.where(ChangeRow.actor == actor)
        with self._db.session() as s:
            return [_change(r) for r in s.scalars(stmt)]
