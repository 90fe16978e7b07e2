"""Response bodies of ``/api/v1/live``, in the style of :mod:`phactory.app.schemas`.

Each ``...Public`` is read from the typed results of
:class:`phactory.app.services.live.LiveService` (``from_attributes``); the trend is
built from the service's DataFrame by :meth:`TrendPublic.of`. Every text (unit, batch,
step names, deviation descriptions) is data: clients show it as text.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from phactory.app.services.live_views import AlarmKind, Severity
from phactory.events.states import State

if TYPE_CHECKING:
    from phactory.app.services.live_views import LiveKpiView, Trend

__all__ = [
    "AlarmPublic",
    "AreaPublic",
    "BatchLivePublic",
    "CellPublic",
    "LayoutPublic",
    "LiveKpisPublic",
    "SeriesPublic",
    "TagPublic",
    "TrendPublic",
    "UnitLivePublic",
]

_READ = ConfigDict(from_attributes=True)


class UnitLivePublic(BaseModel):
    """A unit now: its ISO 22400-2 equipment state, since when, and its work."""

    model_config = _READ

    id: str
    name: str
    area: str
    cell: str
    state: State = Field(description="ISO 22400-2 equipment state")
    since: dt.datetime | None = Field(description="in this state since (null: never reported)")
    batch: str = Field(description="the batch it works on ('' none)")
    procedure: str = Field(description="the ISA-88 unit procedure ('' none)")
    phase: str = Field(description="the ISA-88 phase ('' none)")


class CellPublic(BaseModel):
    """A process cell and its units."""

    model_config = _READ

    id: str
    name: str
    units: list[UnitLivePublic]


class AreaPublic(BaseModel):
    """An area and its process cells."""

    model_config = _READ

    id: str
    name: str
    cells: list[CellPublic]


class LayoutPublic(BaseModel):
    """Every unit of a site on its ISA-95 place (area > process cell > unit), with its
    state now."""

    model_config = _READ

    site_id: str
    site_name: str
    timezone: str = Field(description="the site's IANA time zone")
    areas: list[AreaPublic]
    events: int = Field(description="plant events in the live event log")
    last_event_at: dt.datetime | None
    sources: list[str] = Field(description="where events come from: historian, batch record")
    problems: list[str] = Field(description="sources that cannot be read now, and why")


class BatchLivePublic(BaseModel):
    """A running batch and its current step (ISA-88)."""

    model_config = _READ

    batch_id: str
    product: str
    recipe_id: str
    order_id: str | None
    state: str = Field(description="ISA-88 state of the batch")
    created_at: dt.datetime
    step: str | None = Field(description="step in flight or next (unit_procedure/operation/phase)")
    step_state: str | None
    step_unit: str = Field(description="the unit it runs on ('' not allocated yet)")
    step_elapsed_h: float | None = Field(description="how long it has run [h]")
    steps_done: int
    steps_total: int
    waiting_for: str | None = Field(description="what the batch waits for, for people")
    hold_reason: str | None


class AlarmPublic(BaseModel):
    """An active alarm."""

    model_config = _READ

    key: str = Field(description="stable identity, e.g. deviation:DEV-000001, down:BR-01")
    kind: AlarmKind
    severity: Severity
    source: str = Field(description="the batch or unit it is about")
    message: str
    since: dt.datetime | None


class TagPublic(BaseModel):
    """A historian tag that can be trended."""

    model_config = _READ

    name: str = Field(description="path below phactory/v1/: site/area/cell/unit[/module]/tag")
    unit: str = Field(description="engineering unit ('' none or unknown)")
    description: str


class SeriesPublic(BaseModel):
    """One tag's points: times (UTC) and values, paired by position."""

    tag: str
    unit: str = Field(description="engineering unit ('' none or unknown)")
    t: list[dt.datetime]
    v: list[float | None] = Field(description="null: not a finite number")


class TrendPublic(BaseModel):
    """The values of tags over the last minutes."""

    start: dt.datetime
    end: dt.datetime
    every_s: float | None = Field(description="grid step [s] of the means; null: raw samples")
    series: list[SeriesPublic]

    @classmethod
    def of(cls, trend: Trend) -> TrendPublic:
        """The trend read by :meth:`~phactory.app.services.live.LiveService.read_trend`."""
        frame = trend.frame
        series = []
        for meta in trend.tags:
            rows = frame[frame["tag"] == meta.name]
            series.append(
                SeriesPublic(
                    tag=meta.name,
                    unit=meta.unit,
                    t=[x.to_pydatetime() for x in rows["time"]],
                    v=[float(v) if math.isfinite(v) else None for v in rows["value"]],
                )
            )
        every_s = trend.every.total_seconds() if trend.every is not None else None
        return cls(start=trend.start, end=trend.end, every_s=every_s, series=series)


class LiveKpisPublic(BaseModel):
    """The live plant's site KPIs over a window, by the twin's KPI code (ISO 22400-2);
    ``null`` where a KPI is undefined (e.g. a cycle time with no completed batch)."""

    model_config = _READ

    start: dt.datetime
    end: dt.datetime
    events: int = Field(description="plant events in the live event log")
    kpis: dict[str, float | None]

    @classmethod
    def of(cls, view: LiveKpiView) -> LiveKpisPublic:
        """From the service's :class:`~phactory.app.services.live_views.LiveKpiView`."""
        return cls(
            start=view.start,
            end=view.end,
            events=view.events,
            kpis={k: (None if not math.isfinite(v) else v) for k, v in view.kpis.items()},
        )
