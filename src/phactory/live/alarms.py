"""Alarms of the live monitors, with the ISA-18.2 life cycle.

An alarm is one *occurrence*: a monitor's rule fired at a time (raised) and later the
process returned inside its limits (cleared). Its state follows ANSI/ISA-18.2-2016
(IEC 62682), §11 "alarm states" (figure 7), from two independent facts, whether the
condition is still present (*active*) and whether an operator has acknowledged it:

==================  ======  ============  ==========================================
state               active  acknowledged  meaning
==================  ======  ============  ==========================================
``unack``           yes     no            new: annunciated, waits for an operator
``acked``           yes     yes           seen by an operator, the condition persists
``rtn_unack``       no      no            returned to normal before anyone saw it
``normal``          no      yes           over; kept in the history
==================  ======  ============  ==========================================

*Shelving* (ISA-18.2 §16.4) is done to an alarm *point* (a deployed monitor), by an
operator, for a limited time and with a reason: while shelved, the point's occurrences
are still detected and recorded (``shelved`` on the occurrence) but not annunciated (the
active-alarm list leaves them out); when the time is over they are annunciated again if
still active. A shelved point never hides a GMP record: the deviation of an alarm on a
running batch is opened all the same (:mod:`phactory.live.deviations`), since what
happened to the batch must be in its record whatever the operator's screen showed.

Who acknowledged or shelved, when, and with which note or reason is kept with the alarm
and in its history (:class:`AlarmEvent`); the persistence is the application's
(``app_monitor_*`` tables, :mod:`phactory.app.services.monitoring`), which calls the
rules here. Times are timezone-aware UTC: ``raised_at`` and ``cleared_at`` are *data*
times (the start of the grid step whose row fired or cleared the rule), ``detected_at``
the wall-clock time the monitor saw it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Final, Literal

from phactory.errors import ConflictError, InvalidError

__all__ = [
    "MAX_NOTE",
    "MAX_SHELVE",
    "AlarmEvent",
    "AlarmRecord",
    "AlarmState",
    "Contribution",
    "Shelving",
    "acknowledge",
    "alarm_state",
    "check_note",
    "clear",
    "shelve_until",
]

AlarmState = Literal["unack", "acked", "rtn_unack", "normal"]
#: Longest shelving an operator may ask for (ISA-18.2 §16.4.2: shelving is time-limited).
MAX_SHELVE: Final = dt.timedelta(hours=24)
#: Longest acknowledgement note or shelving reason [characters].
MAX_NOTE: Final = 2000


def alarm_state(active: bool, acknowledged: bool) -> AlarmState:
    """The ISA-18.2 state of an alarm (see the module docstring)."""
    if active:
        return "acked" if acknowledged else "unack"
    return "normal" if acknowledged else "rtn_unack"


@dataclass(frozen=True, slots=True)
class Contribution:
    """How much one variable contributed to the statistic that fired.

    Attributes
    ----------
    variable
        The model's variable name.
    tag
        The historian tag it was read from.
    value
        Its contribution (the model's units: a share of T² or SPE; see
        :class:`phactory.monitor.mspc.MspcScores`).
    """

    variable: str
    tag: str
    value: float


@dataclass(frozen=True, slots=True)
class Shelving:
    """An alarm point shelved until ``until`` by ``by`` (at ``at``) for ``reason``."""

    until: dt.datetime
    by: str
    at: dt.datetime
    reason: str

    def active(self, now: dt.datetime) -> bool:
        """Whether the point is still shelved at ``now``."""
        return now < self.until


@dataclass(frozen=True, slots=True)
class AlarmRecord:
    """One alarm occurrence of a monitor (see the module docstring).

    Attributes
    ----------
    id
        Its number (the application's; ``0`` before it is stored).
    monitor
        The deployed monitor's name.
    site, unit
        Where (``""`` if the deployment names none).
    raised_at
        Data time of the row that fired the rule.
    detected_at
        Wall-clock time the monitor raised it.
    statistic
        ``"t2"``, ``"spe"``, ``"t2+spe"`` (which exceeded its limit on that row), or
        ``"persistence"`` (the k-of-n rule fired on a row within limits).
    t2, spe, t2_limit, spe_limit
        The statistics and their limits on that row.
    top
        The largest contributions, largest first.
    cleared_at
        Data time of the row that cleared it (``None`` while active).
    acked_at, acked_by, ack_note
        Its acknowledgement (``None`` before).
    shelved
        Raised while its point was shelved (recorded, not annunciated).
    batch_id, step, deviation_id
        The running batch and step it fired on and the deviation opened in its record.
    """

    id: int
    monitor: str
    site: str
    unit: str
    raised_at: dt.datetime
    detected_at: dt.datetime
    statistic: str
    t2: float
    spe: float
    t2_limit: float
    spe_limit: float
    top: tuple[Contribution, ...] = ()
    cleared_at: dt.datetime | None = None
    acked_at: dt.datetime | None = None
    acked_by: str | None = None
    ack_note: str = ""
    shelved: bool = False
    batch_id: str | None = None
    step: str | None = None
    deviation_id: str | None = None

    @property
    def active(self) -> bool:
        """Whether the condition is still present."""
        return self.cleared_at is None

    @property
    def acknowledged(self) -> bool:
        """Whether an operator acknowledged it."""
        return self.acked_at is not None

    @property
    def state(self) -> AlarmState:
        """Its ISA-18.2 state."""
        return alarm_state(self.active, self.acknowledged)

    @property
    def tags(self) -> tuple[str, ...]:
        """The tags of its top contributions."""
        return tuple(c.tag for c in self.top)


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    """One line of an alarm's history: what happened, when, by whom.

    ``kind`` is ``raised``, ``cleared``, ``acknowledged``, ``shelved``, ``unshelved`` or
    ``deviation``; ``actor`` a user name, or ``monitor`` for what the monitor did.
    """

    id: int
    alarm_id: int | None
    monitor: str
    at: dt.datetime
    kind: str
    actor: str
    note: str = ""


def check_note(text: str, what: str, *, required: bool) -> str:
    """``text`` stripped, checked as a note or reason.

    Raises
    ------
    InvalidError
        Empty where ``required``, longer than :data:`MAX_NOTE`, or with control
        characters other than line breaks and tabs.
    """
    cleaned = text.strip()
    if required and not cleaned:
        raise InvalidError(f"{what} is required")
    if len(cleaned) > MAX_NOTE:
        raise InvalidError(f"{what} holds at most {MAX_NOTE} characters, not {len(cleaned)}")
    if any(not (c.isprintable() or c in "\n\t") for c in cleaned):
        raise InvalidError(f"{what} holds control characters")
    return cleaned


def acknowledge(alarm: AlarmRecord, who: str, when: dt.datetime, note: str = "") -> AlarmRecord:
    """``alarm`` acknowledged by ``who`` at ``when`` (active or returned to normal).

    Raises
    ------
    ConflictError
        If it was acknowledged already (naming by whom and when).
    InvalidError
        A malformed note.
    """
    if alarm.acked_at is not None:
        raise ConflictError(
            f"alarm {alarm.id} was acknowledged already by {alarm.acked_by} at "
            f"{alarm.acked_at.isoformat(timespec='seconds')}"
        )
    text = check_note(note, "the acknowledgement note", required=False)
    return replace(alarm, acked_at=when, acked_by=who, ack_note=text)


def clear(alarm: AlarmRecord, when: dt.datetime) -> AlarmRecord:
    """``alarm`` returned to normal at ``when`` (data time); unchanged if it was cleared."""
    return alarm if alarm.cleared_at is not None else replace(alarm, cleared_at=when)


def shelve_until(
    now: dt.datetime,
    *,
    until: dt.datetime | None = None,
    minutes: float | None = None,
    limit: dt.timedelta = MAX_SHELVE,
) -> dt.datetime:
    """When a shelving asked for now ends: at ``until``, or ``minutes`` from ``now``.

    Raises
    ------
    InvalidError
        Neither or both given, a naive ``until``, an end not after ``now``, or a
        shelving longer than ``limit``.
    """
    if (until is None) == (minutes is None):
        raise InvalidError("give the end of the shelving (until) or its length (minutes)")
    if minutes is not None:
        if not 0 < minutes < 1e9:
            raise InvalidError(f"a shelving lasts a positive number of minutes, not {minutes}")
        until = now + dt.timedelta(minutes=minutes)
    assert until is not None
    if until.tzinfo is None or until.utcoffset() is None:
        raise InvalidError(f"the end of the shelving {until.isoformat()} has no time zone")
    if until <= now:
        raise InvalidError(f"the end of the shelving {until.isoformat()} is not in the future")
    if until - now > limit:
        hours = limit.total_seconds() / 3600
        raise InvalidError(f"an alarm is shelved for at most {hours:g} h (ISA-18.2 §16.4)")
    return until.astimezone(dt.UTC)
