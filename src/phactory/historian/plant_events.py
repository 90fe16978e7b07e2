"""Plant events kept by the historian, from which the live event log is rebuilt.

Equipment-state changes and batch, procedure and phase events
(:class:`~phactory.events.plant_event.PlantEvent`) are stored as they arrive and read back
in time order (:class:`phactory.events.live.LiveEventLog` assembles them). An event is
identified by its publisher and number ``(source, seq)``, so a replay after an outage
stores nothing new; an event without a number (``seq == -1``) by its whole content
(a SHA-256 of it), so an identical copy is stored once too.

Each event may be filed under a site (``site``, the site part of the unified namespace
its publisher wrote under: ``phactory/v1/<site>/...``), which :meth:`EventStore.read`
filters on by prefix. Times are kept as µs since the epoch and come back as aware UTC
datetimes (the same instant as given). Events are the plant's record: retention never
deletes them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Iterable
from typing import Any, Final

from phactory.errors import InvalidError
from phactory.events.plant_event import PlantEvent
from phactory.historian.database import Database
from phactory.historian.ingest import IngestResult
from phactory.historian.tags import storable_text
from phactory.historian.times import from_us, to_us

__all__ = ["EventStore"]

#: Longest text field of an event [characters].
FIELD_MAX: Final = 10_000
_TEXT_FIELDS: Final = ("kind", "unit", "state", "batch", "order", "product", "procedure",
                       "phase", "detail", "source")  # fmt: skip
_COLUMNS: Final = (
    "source, seq, ident, t_us, site, kind, unit, state, batch, order_id, product, procedure, "
    "phase, value, detail"
)


def _ident(t_us: int, e: PlantEvent) -> str:
    text = "\x1f".join(
        [str(t_us), e.kind, e.unit, e.state, e.batch, e.order, e.product, e.procedure,
         e.phase, repr(e.value), e.detail]
    )  # fmt: skip
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _row(i: int, e: PlantEvent, site: str) -> tuple[Any, ...]:
    if not isinstance(e, PlantEvent):
        raise InvalidError(f"event {i}: expected a PlantEvent, not {type(e).__name__}")
    where = f"event {i} ({e.kind!r:.60} at {e.t!s:.40})"
    t_us = to_us(e.t, where)
    for field in _TEXT_FIELDS:
        value = getattr(e, field)
        if not storable_text(value, FIELD_MAX):
            raise InvalidError(f"{where}: {field} must be text of at most {FIELD_MAX} characters")
    if not e.kind:
        raise InvalidError(f"{where}: kind is empty")
    if isinstance(e.seq, bool) or not isinstance(e.seq, int) or e.seq < -1 or e.seq >= 2**63:
        raise InvalidError(f"{where}: seq must be an integer >= -1, not {e.seq!r}")
    value = e.value
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidError(f"{where}: value must be a number or None, not {value!r:.40}")
        value = float(value) if math.isfinite(value) else None
    ident = "" if e.seq >= 0 else _ident(t_us, e)
    return (e.source, e.seq, ident, t_us, site, e.kind, e.unit, e.state, e.batch, e.order,
            e.product, e.procedure, e.phase, value, e.detail)  # fmt: skip


class EventStore:
    """Stores and reads plant events (see the module docstring)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def ingest(self, events: Iterable[PlantEvent], *, site: str = "") -> IngestResult:
        """Store ``events`` once each (by ``(source, seq)``), filed under ``site``.

        Raises
        ------
        InvalidError
            If an event is malformed (naming it); nothing is stored.
        """
        if not storable_text(site, FIELD_MAX):
            raise InvalidError("site must be text")
        rows = [_row(i, e, site) for i, e in enumerate(events)]
        if not rows:
            return IngestResult(0, 0)
        with self.db.transaction(write=True) as cur:
            # rowcount of executemany: the rows inserted, summed (sqlite3 and psycopg)
            cur.executemany(
                f"INSERT INTO hist_events ({_COLUMNS}) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                rows,
            )
            stored = max(cur.rowcount, 0)
        return IngestResult(stored, len(rows) - stored)

    def read(
        self,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        *,
        site_prefix: str | None = None,
    ) -> list[PlantEvent]:
        """Events in ``[start, end)`` (``None``: unbounded), filed under a site starting
        with ``site_prefix`` (plain text; ``None``: any), by time, source and number.

        Raises
        ------
        InvalidError
            If a time is naive, or ``start >= end``.
        """
        where: list[str] = []
        params: list[Any] = []
        if start is not None:
            where.append("t_us >= ?")
            params.append(to_us(start, "start"))
        if end is not None:
            where.append("t_us < ?")
            params.append(to_us(end, "end"))
        if start is not None and end is not None and params[0] >= params[1]:
            raise InvalidError(f"start {start.isoformat()} must be before end {end.isoformat()}")
        if site_prefix:
            if not isinstance(site_prefix, str):
                raise InvalidError("site_prefix must be text")
            where.append("substr(site, 1, ?) = ?")
            params += [len(site_prefix), site_prefix]
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with self.db.transaction() as cur:
            cur.execute(
                "SELECT t_us, kind, unit, state, batch, order_id, product, procedure, phase, "
                f"value, detail, source, seq, ident FROM hist_events{clause} ORDER BY t_us",
                params,
            )
            rows = cur.fetchall()
        # Ties in time by publisher and number, compared as Python does on both databases
        # (PostgreSQL would order text by its collation).
        rows.sort(key=lambda r: (r[0], r[11], r[12], r[13]))
        return [
            PlantEvent(t=from_us(r[0]), kind=r[1], unit=r[2], state=r[3], batch=r[4],
                       order=r[5], product=r[6], procedure=r[7], phase=r[8],
                       value=None if r[9] is None else float(r[9]), detail=r[10],
                       source=r[11], seq=int(r[12]))
            for r in rows
        ]  # fmt: skip
