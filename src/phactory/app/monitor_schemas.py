"""Request and response bodies of ``/api/v1/monitor``, in the style of
:mod:`phactory.app.schemas`: a ``...Create`` (or action) body per change, a ``...Public``
per answer, read from the typed results of
:class:`phactory.app.services.monitoring.MonitorService` (``from_attributes``).

Every text (monitor names, tags, notes, reasons) is data: clients show it as text.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from phactory.live.alarms import MAX_NOTE
from phactory.model.ids import ID_MAX, ID_PATTERN

if TYPE_CHECKING:
    from phactory.app.services.monitoring import ScoreSeries

__all__ = [
    "AcknowledgeCreate",
    "AlarmDetailPublic",
    "AlarmEventPublic",
    "AlarmPublic",
    "ContributionPublic",
    "MonitorCreate",
    "MonitorPublic",
    "ResultCreate",
    "ResultPublic",
    "ScoresPublic",
    "ShelveCreate",
    "UnshelveCreate",
]

_READ = ConfigDict(from_attributes=True)
Name = Annotated[str, Field(pattern=ID_PATTERN, max_length=ID_MAX)]
OptionalName = Annotated[str, Field(pattern=r"^$|" + ID_PATTERN, max_length=ID_MAX)]
Duration = Annotated[str, Field(max_length=40, description="a duration: 500ms, 1s, 10s, 1min")]


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


#: A number, ``null`` where it is not finite (NaN: not computed).
Number = Annotated[float | None, BeforeValidator(_num)]


class MonitorCreate(BaseModel):
    """A model to deploy (form fields beside the uploaded model file, which is not one
    of them: other fields are ignored)."""

    name: Name = Field(description="the monitor's name (alarms and published tags carry it)")
    site: OptionalName = Field("", description="the site it watches ('' none)")
    unit: OptionalName = Field(
        "", description="the unit it watches: an alarm opens a deviation on its running batch"
    )
    tag_prefix: str = Field(
        "", max_length=500, description="put before each variable to make its tag "
        "(site/area/cell/unit/)",
    )  # fmt: skip
    every: Duration = Field("1s", description="grid step the data are scored on")
    settle: Duration = Field("250ms", description="ingest delay allowed before a step is scored")
    hold: Duration | None = Field(
        None, description="longest last-value hold of a tag without samples (10 steps)"
    )
    clear_after: int = Field(3, ge=1, le=10_000, description="rows within limits that clear")
    backfill: Duration | None = Field(
        None, description="history scored at the first scan (default none: from now)"
    )
    life_start: dt.datetime | None = Field(
        None, description="RUL models: the start of the unit's life (installation, overhaul)"
    )
    time_unit_h: float = Field(
        1.0, gt=0, le=1e6, allow_inf_nan=False, description="RUL models: hours per time unit"
    )


class ContributionPublic(BaseModel):
    """One variable's contribution to the statistic that fired (in units of its limit)."""

    model_config = _READ

    variable: str
    tag: str
    value: Number


class MonitorPublic(BaseModel):
    """A deployed monitor and how it runs."""

    model_config = _READ

    name: str
    family: str = Field(description="mspc, batch, softsensor or rul")
    method: str
    site: str
    unit: str
    tag_prefix: str
    variables: list[str]
    tags: list[str] = Field(description="the historian tag of each variable")
    every_s: float
    created_at: dt.datetime
    created_by: str
    status: str = Field(description="running, waiting (see problem) or error")
    problem: str
    last_scan_at: dt.datetime | None
    rows_scored: int = Field(description="rows scored by this server since it started")
    stale_rows: int = Field(description="rows not scored for want of data")
    alarm_active: bool
    shelved_until: dt.datetime | None
    shelved_by: str | None
    shelve_reason: str | None
    t2_limit: float | None
    spe_limit: float | None
    score_prefix: str = Field(description="the historian tags of its statistics start so")


class AlarmPublic(BaseModel):
    """An alarm occurrence and its ISA-18.2 state."""

    model_config = _READ

    id: int
    monitor: str
    site: str
    unit: str
    state: str = Field(description="unack, acked, rtn_unack (returned to normal) or normal")
    raised_at: dt.datetime = Field(description="data time of the row that fired")
    detected_at: dt.datetime
    cleared_at: dt.datetime | None
    statistic: str = Field(description="t2, spe, t2+spe or persistence")
    t2: Number
    spe: Number
    t2_limit: Number
    spe_limit: Number
    top: list[ContributionPublic]
    acked_at: dt.datetime | None
    acked_by: str | None
    ack_note: str
    shelved: bool = Field(description="raised while its point was shelved")
    batch_id: str | None
    step: str | None
    deviation_id: str | None


class AlarmEventPublic(BaseModel):
    """One line of an alarm's history: what, when, who (``monitor`` for the monitor)."""

    model_config = _READ

    id: int
    alarm_id: int | None
    monitor: str
    at: dt.datetime
    kind: str = Field(description="raised, cleared, acknowledged, shelved, unshelved, deviation")
    actor: str
    note: str


class AlarmDetailPublic(BaseModel):
    """An alarm with every variable's contribution on its raising row and its history."""

    model_config = _READ

    alarm: AlarmPublic
    contributions: list[ContributionPublic] = Field(description="largest first")
    history: list[AlarmEventPublic] = Field(description="newest first")


class AcknowledgeCreate(BaseModel):
    """An acknowledgement."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field("", max_length=MAX_NOTE)


class ShelveCreate(BaseModel):
    """A shelving of an alarm's point: a reason and how long (``minutes`` or ``until``)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=MAX_NOTE)
    minutes: float | None = Field(None, gt=0, le=24 * 60, allow_inf_nan=False)
    until: dt.datetime | None = Field(None, description="aware time (at most 24 h from now)")


class UnshelveCreate(BaseModel):
    """The end of a shelving."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field("", max_length=MAX_NOTE)


class ResultCreate(BaseModel):
    """Which soft-sensor response to record as a result of the running batch step."""

    model_config = ConfigDict(extra="forbid")

    response: str = Field(min_length=1, max_length=200)


class ResultPublic(BaseModel):
    """A soft-sensor value recorded in the batch record."""

    model_config = _READ

    batch_id: str
    step: str
    name: str
    value: float
    at: dt.datetime = Field(description="when it was predicted")


class ScoresPublic(BaseModel):
    """A monitor's T2 and SPE with their limits and alarm flag over a window."""

    name: str
    start: dt.datetime
    end: dt.datetime
    every_s: float | None = Field(description="step of the maxima; null: every scored row")
    t: list[dt.datetime]
    t2: list[float | None]
    spe: list[float | None]
    t2_limit: list[float | None]
    spe_limit: list[float | None]
    alarm: list[float | None]

    @classmethod
    def of(cls, s: ScoreSeries) -> ScoresPublic:
        return cls(
            name=s.name, start=s.start, end=s.end, every_s=s.every_s, t=s.time, t2=s.t2,
            spe=s.spe, t2_limit=s.t2_limit, spe_limit=s.spe_limit, alarm=s.alarm,
        )  # fmt: skip
