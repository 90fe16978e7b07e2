"""People and time: skills, teams, shift patterns and the site calendar."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from phactory.model.base import Id, Keyed, ModelBase, Moment
from phactory.model.quantity import Duration

__all__ = [
    "WEEKDAYS",
    "Break",
    "Calendar",
    "Holiday",
    "MaintenanceWindow",
    "Shift",
    "ShiftPattern",
    "Skill",
    "Team",
]

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_SETS = {"all": WEEKDAYS, "weekdays": WEEKDAYS[:5], "weekend": WEEKDAYS[5:]}


def _days(value: Any) -> Any:
    if isinstance(value, str):
        return _DAY_SETS.get(value, (value,))
    return value


class Skill(ModelBase):
    """A qualification a phase may require (e.g. aseptic gowning, chromatography)."""

    id: Id
    name: str = ""


class Break(ModelBase):
    """A break ``start_after`` hours into a shift, during which the crew is away."""

    start_after: Duration = Field(ge=0)
    duration: Duration = Field(gt=0)


class Shift(ModelBase):
    """A shift starting at ``start`` (local time, ``HH:MM``) on the given weekdays."""

    name: str
    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    duration: Duration = Field(gt=0, le=24)
    days: Annotated[tuple[Weekday, ...], BeforeValidator(_days)] = WEEKDAYS
    breaks: tuple[Break, ...] = ()

    @property
    def start_hour(self) -> float:
        """Start time as hours after midnight."""
        hh, mm = self.start.split(":")
        return int(hh) + int(mm) / 60.0

    @model_validator(mode="after")
    def _breaks_inside(self) -> Shift:
        for b in self.breaks:
            if b.start_after + b.duration > self.duration:
                raise ValueError("a break extends beyond the end of its shift")
        return self


class ShiftPattern(ModelBase):
    """A weekly pattern of shifts, e.g. 3 x 8 h 24/7 or 2 x 12 h on weekdays."""

    id: Id
    name: str = ""
    shifts: tuple[Shift, ...] = Field(min_length=1)

    def weekly_windows(self) -> list[tuple[float, float, str]]:
        """Staffed windows ``(start_h, end_h, shift)`` in hours from Monday 00:00.

        Breaks split a shift into several windows. Windows may end after hour 168
        (a Sunday night shift), which callers wrap to the next week.
        """
        out: list[tuple[float, float, str]] = []
        for sh in self.shifts:
            for day in sh.days:
                t0 = WEEKDAYS.index(day) * 24.0 + sh.start_hour
                cuts = sorted((b.start_after, b.start_after + b.duration) for b in sh.breaks)
                cur = t0
                for b0, b1 in cuts:
                    if t0 + b0 > cur:
                        out.append((cur, t0 + b0, sh.name))
                    cur = max(cur, t0 + b1)
                if t0 + sh.duration > cur:
                    out.append((cur, t0 + sh.duration, sh.name))
        return sorted(out)

    def longest_window(self) -> float:
        """Longest continuously staffed time [h]; ``inf`` if staffed around the clock."""
        wins = self.weekly_windows()
        if not wins:
            return 0.0
        # Unroll two weeks so a window that wraps Sunday -> Monday joins up.
        spans = sorted([(a, b) for a, b, _ in wins] + [(a + 168.0, b + 168.0) for a, b, _ in wins])
        merged: list[list[float]] = []
        for a, b in spans:
            if merged and a <= merged[-1][1] + 1e-9:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        longest = max(b - a for a, b in merged)
        return float("inf") if longest >= 2 * 168.0 - 1e-9 else longest

    def weekly_hours(self) -> float:
        """Staffed hours per week."""
        return sum(b - a for a, b, _ in self.weekly_windows())


class Team(ModelBase):
    """A crew of ``headcount`` people on duty per shift, each holding all ``skills``."""

    id: Id
    name: str = ""
    skills: tuple[Id, ...] = Field(min_length=1)
    headcount: int = Field(ge=0)
    shift_pattern: Id
    works_holidays: bool = False


class Holiday(ModelBase):
    """A day on which teams that do not work holidays are off."""

    date: dt.date
    name: str = ""


class MaintenanceWindow(ModelBase):
    """Planned maintenance of units: once, or every ``every`` from ``start``."""

    units: tuple[Id, ...] = Field(min_length=1)
    start: Moment
    duration: Duration = Field(gt=0)
    every: Duration | None = Field(default=None, gt=0)
    reason: str = ""

    @field_validator("units", mode="before")
    @classmethod
    def _one_unit(cls, v: Any) -> Any:
        return (v,) if isinstance(v, str) else v

    @model_validator(mode="before")
    @classmethod
    def _unit_alias(cls, data: Any) -> Any:
        if isinstance(data, dict) and "unit" in data and "units" not in data:
            data = {**data, "units": data["unit"]}
            del data["unit"]
        return data

    @model_validator(mode="after")
    def _shorter_than_period(self) -> MaintenanceWindow:
        if self.every is not None and self.every <= self.duration:
            raise ValueError("a recurring window must be shorter than its period 'every'")
        return self


class Calendar(ModelBase):
    """Site calendar: holidays and planned maintenance windows."""

    holidays: tuple[Holiday, ...] = ()
    maintenance: tuple[MaintenanceWindow, ...] = ()


SkillMap = Keyed[Skill]
