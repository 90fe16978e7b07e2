"""The monitoring tables of the application: deployed monitors, alarms, alarm history.

Why the application's own tables (``app_monitors``, ``app_monitor_alarms``,
``app_monitor_alarm_events``, Alembic revision ``a0003``) and not the historian's plant
events: an alarm is a small record with a *life cycle* (acknowledged by someone, shelved
until a time, cleared), read and changed by people through the workspace, and each of
those changes must be kept with who and when. That is a transactional, relational job
(an acknowledgement checks the alarm's current state and writes it in one transaction;
a shelving is refused with a conflict when someone acknowledged meanwhile), which the
application's database does with its accounts and change log, on SQLite and PostgreSQL
alike. The historian keeps what is time-series: the monitors' statistics (T², SPE,
limits, alarm flag) as tags (:mod:`phactory.live.monitoring`), read for control charts.

Rules are not here (who may do what: :mod:`phactory.app.services.monitoring`; the
ISA-18.2 life cycle: :mod:`phactory.live.alarms`); this module stores and reads.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from phactory.app.errors import Conflict, Invalid, Missing
from phactory.app.schema import MonitorAlarmEventRow, MonitorAlarmRow, MonitorRow
from phactory.app.services.db import AppDatabase, now
from phactory.historian.times import to_us
from phactory.live.alarms import AlarmEvent, AlarmRecord, Contribution, Shelving
from phactory.live.monitoring import MonitorState
from phactory.model.ids import ID_MAX, is_id

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from phactory.live.monitoring import AlarmTransition

__all__ = [
    "MONITOR_ACTOR",
    "Deployment",
    "MonitorStore",
    "NewAlarm",
    "alarm_of",
    "check_name",
    "finite",
    "model_variables",
    "summarize",
]

#: The actor of what a monitor does by itself.
MONITOR_ACTOR = "monitor"


@dataclass(frozen=True, slots=True)
class Deployment:
    """A monitoring model deployed on the live plant.

    Attributes
    ----------
    family
        ``mspc``, ``batch``, ``softsensor`` or ``rul``
        (:data:`phactory.monitor.modelfile.FAMILIES`).
    site, unit, tag_prefix
        Where it watches (``""``: not named) and the prefix put before each variable to
        make its tag.
    model_file, model_sha256
        The model's file in the data folder and its SHA-256.
    summary
        What the model is (method, variables, limits), for lists.
    settings
        How it reads the historian (``every_s``, ``settle_s``, ``hold_s``,
        ``clear_after``, ``mapping``).
    state
        Where its live monitor stopped (:class:`phactory.live.monitoring.MonitorState`).
    shelving
        Its alarm point's shelving, if any (may be over: see :meth:`Shelving.active`).
    """

    id: int
    name: str
    family: str
    site: str
    unit: str
    tag_prefix: str
    model_file: str
    model_sha256: str
    summary: dict[str, Any]
    settings: dict[str, Any]
    state: dict[str, Any]
    created_at: dt.datetime
    created_by: str
    shelving: Shelving | None = None


@dataclass(frozen=True, slots=True)
class NewAlarm:
    """A raise to store: the transition, where it fired, and its deviation."""

    transition: AlarmTransition
    batch_id: str | None = None
    step: str | None = None
    deviation_id: str | None = None


def _deployment(r: MonitorRow) -> Deployment:
    shelving = None
    if r.shelved_until is not None:
        shelving = Shelving(
            r.shelved_until, r.shelved_by or "", r.shelved_at or r.shelved_until,
            r.shelve_reason or "",
        )  # fmt: skip
    return Deployment(
        r.id, r.name, r.family, r.site, r.unit, r.tag_prefix, r.model_file, r.model_sha256,
        dict(r.summary), dict(r.settings), dict(r.state), r.created_at, r.created_by, shelving,
    )  # fmt: skip


def _num(x: float | None) -> float:
    return math.nan if x is None else float(x)


def _db_num(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def alarm_of(r: MonitorAlarmRow) -> AlarmRecord:
    """The alarm of a row."""
    top = tuple(
        Contribution(str(c["variable"]), str(c["tag"]), _num(c.get("value"))) for c in r.top
    )
    return AlarmRecord(
        r.id, r.monitor, r.site, r.unit, r.raised_at, r.detected_at, r.statistic,
        _num(r.t2), _num(r.spe), _num(r.t2_limit), _num(r.spe_limit), top, r.cleared_at,
        r.acked_at, r.acked_by, r.ack_note, r.shelved, r.batch_id, r.step, r.deviation_id,
    )  # fmt: skip


def _event(r: MonitorAlarmEventRow) -> AlarmEvent:
    return AlarmEvent(r.id, r.alarm_id, r.monitor, r.at, r.kind, r.actor, r.note)


def finite(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def check_name(value: str, what: str, *, required: bool) -> str:
    value = value.strip()
    if not value and not required:
        return ""
    if not is_id(value, ID_MAX):
        raise Invalid(
            f"{what} {value!r:.120}: letters, digits, '.', '_' and '-', starting with a letter "
            f"or digit, at most {ID_MAX} characters"
        )
    return value


def model_variables(model: Any) -> tuple[str, ...]:
    """The variables a model reads (its inputs), whatever its family."""
    for attr in ("variables_", "x_names_", "feature_names_"):
        names = getattr(model, attr, None)
        if names:
            return tuple(str(n) for n in names)
    return ()


def summarize(model: Any) -> dict[str, Any]:
    """What a model is, for lists: family, method, variables, limits."""
    state: dict[str, Any] = {}
    try:
        state = model.to_state()
    except Exception:  # a summary never stops a deployment
        state = {}
    return {
        "family": str(getattr(model, "family", "")),
        "method": str(state.get("method", getattr(model, "method", ""))),
        "variables": list(model_variables(model)),
        "t2_limit": finite(getattr(model, "t2_limit_", None)),
        "spe_limit": finite(getattr(model, "spe_limit_", None)),
        "persistence": list(getattr(model, "persistence", (1, 1))),
        "responses": [str(r) for r in getattr(model, "y_names_", ())],
    }


class MonitorStore:
    """Reads and writes the monitoring tables (see the module docstring)."""

    def __init__(self, db: AppDatabase) -> None:
        self.db = db

    # -- deployments ---------------------------------------------------------------------

    def add(
        self,
        *,
        name: str,
        family: str,
        site: str,
        unit: str,
        tag_prefix: str,
        model_file: str,
        model_sha256: str,
        summary: dict[str, Any],
        settings: dict[str, Any],
        who: str,
        session: Session,
    ) -> Deployment:
        """Store a new deployment in ``session``.

        Raises
        ------
        Conflict
            If a deployment of that name is active.
        """
        taken = session.scalar(
            select(MonitorRow.id).where(MonitorRow.name == name, MonitorRow.removed_at.is_(None))
        )
        if taken is not None:
            raise Conflict(f"a monitor named {name!r} is deployed already: remove it first")
        row = MonitorRow(
            name=name, family=family, site=site, unit=unit, tag_prefix=tag_prefix,
            model_file=model_file, model_sha256=model_sha256, summary=summary,
            settings=settings, state={}, created_at=now(), created_by=who,
        )  # fmt: skip
        session.add(row)
        session.flush()
        return _deployment(row)

    def active(self) -> list[Deployment]:
        """The deployments not removed, by name."""
        with self.db.session() as s:
            rows = s.scalars(
                select(MonitorRow).where(MonitorRow.removed_at.is_(None)).order_by(MonitorRow.name)
            )
            return [_deployment(r) for r in rows]

    def get(self, name: str) -> Deployment:
        """The active deployment named ``name``.

        Raises
        ------
        Missing
            If there is none.
        """
        with self.db.session() as s:
            row = s.scalar(
                select(MonitorRow).where(MonitorRow.name == name, MonitorRow.removed_at.is_(None))
            )
            if row is None:
                raise Missing(f"no monitor named {name!r} is deployed")
            return _deployment(row)

    def remove(self, deployment: Deployment, who: str, session: Session) -> None:
        """Mark a deployment removed (its alarms keep their history)."""
        session.execute(
            update(MonitorRow)
            .where(MonitorRow.id == deployment.id)
            .values(removed_at=now(), removed_by=who)
        )

    # -- scans ---------------------------------------------------------------------------

    def save_scan(
        self,
        deployment: Deployment,
        state: MonitorState,
        transitions: Sequence[NewAlarm | AlarmTransition],
        detected_at: dt.datetime,
    ) -> list[AlarmRecord]:
        """Store what a scan did in one transaction: the monitor's new state and, in
        their order, the alarms it raised (:class:`NewAlarm`; once per raising row, so
        that a raise seen again after a restart is not stored twice) and cleared (the
        clear of the alarm raised at its ``raised_at``), with their history. Returns the
        alarms stored now."""
        stored: list[AlarmRecord] = []
        with self.db.session(write=True, quiet=True) as s:
            row = s.get(MonitorRow, deployment.id)
            if row is None or row.removed_at is not None:
                return []
            shelved = row.shelved_until is not None and detected_at < row.shelved_until
            for item in transitions:
                if isinstance(item, NewAlarm):
                    alarm = self._raise(s, row, item, shelved, detected_at)
                    if alarm is not None:
                        stored.append(alarm)
                else:
                    self._clear(s, row, item, detected_at)
            row.state = state.to_json()
        return stored

    def _raise(
        self, s: Session, row: MonitorRow, new: NewAlarm, shelved: bool, detected_at: dt.datetime
    ) -> AlarmRecord | None:
        t = new.transition
        raised_us = to_us(t.at)
        exists = s.scalar(
            select(MonitorAlarmRow.id).where(
                MonitorAlarmRow.monitor_id == row.id, MonitorAlarmRow.raised_us == raised_us
            )
        )
        if exists is not None:
            return None
        alarm = MonitorAlarmRow(
            monitor_id=row.id, monitor=row.name, site=row.site, unit=row.unit,
            raised_us=raised_us, raised_at=t.at, detected_at=detected_at, cleared_at=None,
            statistic=t.statistic, t2=_db_num(t.t2), spe=_db_num(t.spe),
            t2_limit=_db_num(t.t2_limit), spe_limit=_db_num(t.spe_limit),
            top=[{"variable": c.variable, "tag": c.tag, "value": _db_num(c.value)}
                 for c in t.top],
            contributions={k: _db_num(v) for k, v in t.contributions.items()},
            acked_at=None, acked_by=None, ack_note="", shelved=shelved,
            batch_id=new.batch_id, step=new.step, deviation_id=new.deviation_id,
        )  # fmt: skip
        s.add(alarm)
        s.flush()
        note = t.describe() + (" (point shelved: not annunciated)" if shelved else "")
        self._log(s, row, alarm.id, detected_at, "raised", MONITOR_ACTOR, note)
        if new.deviation_id is not None:
            where = f"batch {new.batch_id}" + (f", step {new.step}" if new.step else "")
            note = f"deviation {new.deviation_id} opened on {where}"
            self._log(s, row, alarm.id, detected_at, "deviation", MONITOR_ACTOR, note)
        return alarm_of(alarm)

    def _clear(
        self, s: Session, row: MonitorRow, t: AlarmTransition, detected_at: dt.datetime
    ) -> None:
        stmt = select(MonitorAlarmRow).where(
            MonitorAlarmRow.monitor_id == row.id, MonitorAlarmRow.cleared_at.is_(None)
        )
        if t.raised_at is not None:
            stmt = stmt.where(MonitorAlarmRow.raised_us == to_us(t.raised_at))
        alarm = s.scalar(stmt.order_by(MonitorAlarmRow.raised_at.desc()).limit(1))
        if alarm is None:
            return
        alarm.cleared_at = t.at
        self._log(s, row, alarm.id, detected_at, "cleared", MONITOR_ACTOR, t.describe())

    # -- alarms --------------------------------------------------------------------------

    def alarms(
        self,
        *,
        active: bool | None = None,
        acknowledged: bool | None = None,
        monitor: str | None = None,
        site: str | None = None,
        limit: int = 200,
    ) -> list[AlarmRecord]:
        """Alarms, newest first: ``active`` only the uncleared (``False``: only the
        cleared; ``None``: all), ``acknowledged`` likewise, of one monitor or site."""
        stmt = select(MonitorAlarmRow).order_by(
            MonitorAlarmRow.raised_at.desc(), MonitorAlarmRow.id.desc()
        )
        if active is not None:
            cleared = MonitorAlarmRow.cleared_at
            stmt = stmt.where(cleared.is_(None) if active else cleared.is_not(None))
        if acknowledged is not None:
            acked = MonitorAlarmRow.acked_at
            stmt = stmt.where(acked.is_not(None) if acknowledged else acked.is_(None))
        if monitor is not None:
            stmt = stmt.where(MonitorAlarmRow.monitor == monitor)
        if site is not None:
            stmt = stmt.where(MonitorAlarmRow.site == site)
        with self.db.session() as s:
            return [alarm_of(r) for r in s.scalars(stmt.limit(limit))]

    def alarm(self, alarm_id: int) -> tuple[AlarmRecord, dict[str, float], int]:
        """An alarm, every variable's contribution on its raising row, and its monitor's id.

        Raises
        ------
        Missing
            No such alarm.
        """
        with self.db.session() as s:
            row = s.get(MonitorAlarmRow, alarm_id)
            if row is None:
                raise Missing(f"no alarm {alarm_id}")
            contributions = {str(k): _num(v) for k, v in row.contributions.items()}
            return alarm_of(row), contributions, row.monitor_id

    def acknowledge(
        self, alarm_id: int, change: Any, who: str, note: str, at: dt.datetime
    ) -> AlarmRecord:
        """Store an acknowledgement made by ``change(alarm) -> alarm`` (the rule), checked
        against the alarm as stored, in one transaction.

        Raises
        ------
        Missing
            No such alarm.
        Conflict
            As ``change`` decides (acknowledged already).
        """
        with self.db.session(write=True) as s:
            row = s.get(MonitorAlarmRow, alarm_id, with_for_update=True)
            if row is None:
                raise Missing(f"no alarm {alarm_id}")
            done: AlarmRecord = change(alarm_of(row))
            row.acked_at, row.acked_by, row.ack_note = done.acked_at, done.acked_by, done.ack_note
            monitor = s.get(MonitorRow, row.monitor_id)
            assert monitor is not None
            self._log(s, monitor, row.id, at, "acknowledged", who, note)
            return alarm_of(row)

    def shelve(
        self,
        monitor_id: int,
        alarm_id: int | None,
        until: dt.datetime | None,
        who: str,
        reason: str,
        at: dt.datetime,
    ) -> Deployment:
        """Shelve a monitor's alarm point until ``until`` (``None``: unshelve), recorded
        in the history of ``alarm_id`` (if given) with who, when and the reason.

        Raises
        ------
        Missing
            If the monitor was removed.
        Conflict
            Unshelving a point that is not shelved.
        """
        with self.db.session(write=True) as s:
            row = s.get(MonitorRow, monitor_id, with_for_update=True)
            if row is None or row.removed_at is not None:
                raise Missing("the alarm's monitor is no longer deployed")
            if until is None:
                if row.shelved_until is None or row.shelved_until <= at:
                    raise Conflict(f"the alarms of monitor {row.name!r} are not shelved")
                row.shelved_until = None
                row.shelved_at, row.shelved_by, row.shelve_reason = None, None, None
                self._log(s, row, alarm_id, at, "unshelved", who, reason)
            else:
                row.shelved_until, row.shelved_at = until, at
                row.shelved_by, row.shelve_reason = who, reason
                note = f"until {until.isoformat(timespec='seconds')}: {reason}"
                self._log(s, row, alarm_id, at, "shelved", who, note)
            return _deployment(row)

    def history(
        self,
        *,
        alarm_id: int | None = None,
        monitor: str | None = None,
        limit: int = 200,
    ) -> list[AlarmEvent]:
        """Lines of the alarm history, newest first, of one alarm or monitor."""
        stmt = select(MonitorAlarmEventRow).order_by(MonitorAlarmEventRow.id.desc())
        if alarm_id is not None:
            stmt = stmt.where(MonitorAlarmEventRow.alarm_id == alarm_id)
        if monitor is not None:
            stmt = stmt.where(MonitorAlarmEventRow.monitor == monitor)
        with self.db.session() as s:
            return [_event(r) for r in s.scalars(stmt.limit(limit))]

    @staticmethod
    def _log(
        s: Session,
        monitor: MonitorRow,
        alarm_id: int | None,
        at: dt.datetime,
        kind: str,
        actor: str,
        note: str,
    ) -> None:
        s.add(
            MonitorAlarmEventRow(
                monitor_id=monitor.id, alarm_id=alarm_id, monitor=monitor.name, at=at,
                kind=kind, actor=actor[:100], note=note,
            )
        )  # fmt: skip
