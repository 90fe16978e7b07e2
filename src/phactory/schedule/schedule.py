"""The :class:`Schedule`: what runs where and when, with how good it is.

A schedule has two tables (pandas DataFrames, times in hours from ``epoch``, the plan
start):

operations
    One row per unit procedure of a batch: ``order, batch, product, procedure,
    equipment_class, unit, start_h, end_h, setup_h, clean_end_h, crew, frozen``.
    ``start_h`` is the start of the first phase (the planned start the twin follows),
    ``end_h`` the end of the last phase; the unit is changed over for ``setup_h`` before
    ``start_h`` and cleaned until ``clean_end_h``. ``crew`` lists the most people of each
    skill the procedure holds at once.
segments
    The phases on the time line: ``batch, procedure, phase, unit, start_h, end_h, crew``.
    A phase that pauses (its crew off shift, a breakdown) has several segments; ``crew``
    is who is held during the segment (``skill x count; ...``).

It carries the solve outcome too: ``status`` (``optimal``, ``feasible``, ``heuristic``
when the dispatch schedule was not improved, ``infeasible``, ``unknown``), the objective,
its value, the best bound and the relative gap, the solve time, and for an infeasible
plan an explanation in words.

Its *scope* (``orders``) names the orders of the plan it was made for (all of them, or
those a ``--days`` or ``orders`` restriction kept): the checker requires every batch and
unit procedure of those orders, so a schedule that drops work is never valid. A file
without a scope (format version 1) is held to the whole plan.

JSON is the exchange format (``Schedule.from_json`` reads back ``to_json``); CSV exports
the operations table.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from phactory.errors import InvalidError
from phactory.jsonio import dumps
from phactory.model.base import BatchId, Id, OrderId

__all__ = [
    "OPERATION_COLUMNS",
    "SEGMENT_COLUMNS",
    "Downtime",
    "PlannedOperation",
    "Schedule",
    "ScheduleFormatError",
    "ScheduleStatus",
    "StageResult",
    "format_crew",
    "parse_crew",
]

ScheduleStatus = Literal["optimal", "feasible", "heuristic", "infeasible", "unknown"]

FORMAT = "phactory-schedule"
#: Version 2 added the scope (``orders``); version 1 files are still read.
FORMAT_VERSION = 2

OPERATION_COLUMNS = [
    "order",
    "batch",
    "product",
    "procedure",
    "equipment_class",
    "unit",
    "start_h",
    "end_h",
    "setup_h",
    "clean_end_h",
    "crew",
    "frozen",
]
SEGMENT_COLUMNS = ["batch", "procedure", "phase", "unit", "start_h", "end_h", "crew"]


class ScheduleFormatError(InvalidError):
    """A schedule file that cannot be read: names the file and what is wrong."""


def format_crew(needs: list[tuple[str, int]]) -> str:
    """``[("qc-analyst", 2)]`` -> ``"qc-analyst x2"``; several are joined by ``"; "``."""
    return "; ".join(f"{s} x{c}" for s, c in needs)


def parse_crew(text: str) -> list[tuple[str, int]]:
    """Inverse of :func:`format_crew`; raises ``ValueError`` on malformed text."""
    out: list[tuple[str, int]] = []
    if not isinstance(text, str):
        raise ValueError(f"crew must be text like 'skill x2', got {text!r}")
    for item in text.split(";"):
        item = item.strip()
        if not item:
            continue
        skill, sep, count = item.rpartition(" x")
        if not sep or not skill.strip() or not count.isdigit() or int(count) < 1:
            raise ValueError(f"crew item {item!r} is not like 'skill x2'")
        out.append((skill.strip(), int(count)))
    return out


@dataclass(frozen=True, slots=True)
class PlannedOperation:
    """One line for the twin's plan of record: run ``procedure`` of ``batch`` on ``unit``."""

    batch: str
    procedure: str
    unit: str
    planned_start: float


@dataclass(frozen=True, slots=True)
class Downtime:
    """A unit out of service ``[start_h, end_h)`` beyond the calendar (a breakdown)."""

    unit: str
    start_h: float
    end_h: float
    reason: str = ""


@dataclass(frozen=True, slots=True)
class StageResult:
    """One stage of a (lexicographic) solve, in report units (hours or a count)."""

    objective: str
    status: str
    value: float | None
    bound: float | None
    seconds: float


# -- the file format --------------------------------------------------------------------


#: A phase within its unit procedure: ``phase`` or ``operation/phase``, each part an id.
PhasePath = Annotated[
    str,
    StringConstraints(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*(/[A-Za-z0-9][A-Za-z0-9_.\-]*)*$", max_length=300
    ),
]


class _Op(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order: OrderId
    batch: BatchId
    product: Id
    procedure: Id
    equipment_class: Id
    unit: Id
    start_h: float = Field(allow_inf_nan=False)
    end_h: float = Field(allow_inf_nan=False)
    setup_h: float = Field(default=0.0, allow_inf_nan=False)
    clean_end_h: float = Field(allow_inf_nan=False)
    crew: str = ""
    frozen: bool = False


class _Seg(BaseModel):
    model_config = ConfigDict(extra="forbid")
    batch: BatchId
    procedure: Id
    phase: PhasePath
    unit: Id
    start_h: float = Field(allow_inf_nan=False)
    end_h: float = Field(allow_inf_nan=False)
    crew: str = ""


class _Down(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unit: Id
    start_h: float = Field(allow_inf_nan=False)
    end_h: float = Field(allow_inf_nan=False)
    reason: str = Field(default="", max_length=2000)


class _Stage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    objective: str
    status: str
    value: float | None = None
    bound: float | None = None
    seconds: float = 0.0


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal["phactory-schedule"]
    version: int = Field(ge=1, le=FORMAT_VERSION)
    site: Id
    epoch: dt.datetime
    grain_h: float = Field(gt=0)
    objective: str = "makespan"
    status: Literal["optimal", "feasible", "heuristic", "infeasible", "unknown"]
    objective_value: float | None = None
    best_bound: float | None = None
    gap: float | None = None
    solve_time_s: float = 0.0
    deadlines: bool = False
    duration_quantile: float | None = Field(default=None, gt=0, lt=1)
    kpis: dict[str, float | None] = Field(default_factory=dict)
    stages: list[_Stage] = Field(default_factory=list)
    downtime: list[_Down] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    explanation: str | None = None
    orders: list[OrderId] | None = None
    operations: list[_Op]
    segments: list[_Seg] = Field(default_factory=list)


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=columns)
    for c in ("start_h", "end_h", "setup_h", "clean_end_h"):
        if c in df.columns:
            df[c] = df[c].astype(float)
    if "frozen" in df.columns:
        df["frozen"] = df["frozen"].astype(bool)
    return df


def _clean(x: float | None) -> float | None:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return None
    return float(x)


@dataclass
class Schedule:
    """A production schedule of a site (see the module docstring for the tables)."""

    site: str
    epoch: dt.datetime
    grain_h: float
    operations: pd.DataFrame
    segments: pd.DataFrame
    objective: str = "makespan"
    status: ScheduleStatus = "unknown"
    objective_value: float | None = None
    best_bound: float | None = None
    gap: float | None = None
    solve_time_s: float = 0.0
    deadlines: bool = False
    #: Phases planned at this quantile of their duration (None: at their mean).
    duration_quantile: float | None = None
    kpis: dict[str, float | None] = field(default_factory=dict)
    stages: list[StageResult] = field(default_factory=list)
    downtime: list[Downtime] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    explanation: str | None = None
    #: The orders of the plan this schedule is for (None: the whole plan).
    orders: list[str] | None = None

    # -- views ----------------------------------------------------------------------

    @property
    def feasible(self) -> bool:
        """Whether the schedule places every operation (any status but infeasible/unknown)."""
        return self.status in ("optimal", "feasible", "heuristic")

    def to_frame(self) -> pd.DataFrame:
        """The operations table, sorted by start (a copy)."""
        return self.operations.sort_values(["start_h", "unit"]).reset_index(drop=True)

    def assignments(self) -> list[PlannedOperation]:
        """``(batch, procedure, unit, planned_start)`` rows for the twin's plan of record."""
        return [
            PlannedOperation(
                str(r["batch"]), str(r["procedure"]), str(r["unit"]), float(r["start_h"])
            )
            for r in self.to_frame().to_dict(orient="records")
        ]

    def datetime(self, hours: float) -> dt.datetime:
        """The aware datetime ``hours`` after the epoch."""
        local = self.epoch.tzinfo
        return (self.epoch.astimezone(dt.UTC) + dt.timedelta(hours=hours)).astimezone(local)

    def summary(self) -> dict[str, Any]:
        """Status, objective, bound, gap, counts and KPIs as plain data."""
        return {
            "site": self.site,
            "status": self.status,
            "objective": self.objective,
            "objective_value": self.objective_value,
            "best_bound": self.best_bound,
            "gap": self.gap,
            "solve_time_s": round(self.solve_time_s, 3),
            "duration_quantile": self.duration_quantile,
            "batches": int(self.operations["batch"].nunique()) if len(self.operations) else 0,
            "operations": len(self.operations),
            **{k: v for k, v in self.kpis.items()},
        }

    # -- files ----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain data that :meth:`from_dict` reads back."""
        ops = self.operations.to_dict(orient="records")
        segs = self.segments.to_dict(orient="records")
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "site": self.site,
            "epoch": self.epoch.isoformat(),
            "grain_h": self.grain_h,
            "objective": self.objective,
            "status": self.status,
            "objective_value": _clean(self.objective_value),
            "best_bound": _clean(self.best_bound),
            "gap": _clean(self.gap),
            "solve_time_s": round(self.solve_time_s, 3),
            "deadlines": self.deadlines,
            "duration_quantile": self.duration_quantile,
            "kpis": {k: _clean(v) for k, v in self.kpis.items()},
            "stages": [
                {
                    "objective": s.objective,
                    "status": s.status,
                    "value": _clean(s.value),
                    "bound": _clean(s.bound),
                    "seconds": round(s.seconds, 3),
                }
                for s in self.stages
            ],
            "downtime": [
                {"unit": d.unit, "start_h": d.start_h, "end_h": d.end_h, "reason": d.reason}
                for d in self.downtime
            ],
            "notes": list(self.notes),
            "explanation": self.explanation,
            "orders": None if self.orders is None else list(self.orders),
            "operations": [
                {k: (bool(v) if k == "frozen" else v) for k, v in r.items()} for r in ops
            ],
            "segments": segs,
        }

    def to_json(self, path: str | Path | None = None, *, indent: int | None = 1) -> str:
        """The schedule as JSON text; also written to ``path`` if given."""
        text = dumps(self.to_dict(), indent=indent)
        if path is not None:
            Path(path).write_text(text + "\n", encoding="utf-8")
        return text

    def to_csv(self, path: str | Path, segments_path: str | Path | None = None) -> None:
        """Write the operations table (and optionally the segments) as CSV."""
        self.to_frame().to_csv(path, index=False)
        if segments_path is not None:
            self.segments.to_csv(segments_path, index=False)

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "schedule") -> Schedule:
        """Read :meth:`to_dict` data; raises :class:`ScheduleFormatError` naming the field."""
        try:
            f = _File.model_validate(data)
        except ValidationError as exc:
            lines = []
            for err in exc.errors(include_url=False)[:10]:
                loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
                lines.append(f"  {loc}: {err['msg']}")
            more = exc.error_count() - len(lines)
            tail = f"\n  ... and {more} more" if more > 0 else ""
            raise ScheduleFormatError(
                f"{source}: not a valid Phactory schedule:\n" + "\n".join(lines) + tail
            ) from None
        for i, seg in enumerate(f.segments):
            try:
                parse_crew(seg.crew)
            except ValueError as exc:
                raise ScheduleFormatError(f"{source}: segments.{i}.crew: {exc}") from None
        epoch = f.epoch if f.epoch.tzinfo else f.epoch.replace(tzinfo=dt.UTC)
        return cls(
            site=f.site,
            epoch=epoch,
            grain_h=f.grain_h,
            operations=_frame([o.model_dump() for o in f.operations], OPERATION_COLUMNS),
            segments=_frame([s.model_dump() for s in f.segments], SEGMENT_COLUMNS),
            objective=f.objective,
            status=f.status,
            objective_value=f.objective_value,
            best_bound=f.best_bound,
            gap=f.gap,
            solve_time_s=f.solve_time_s,
            deadlines=f.deadlines,
            duration_quantile=f.duration_quantile,
            kpis=dict(f.kpis),
            stages=[
                StageResult(s.objective, s.status, s.value, s.bound, s.seconds) for s in f.stages
            ],
            downtime=[Downtime(d.unit, d.start_h, d.end_h, d.reason) for d in f.downtime],
            notes=list(f.notes),
            explanation=f.explanation,
            orders=None if f.orders is None else list(f.orders),
        )

    @classmethod
    def from_json(cls, source: str | Path) -> Schedule:
        """Read a schedule from a JSON file path (or JSON text).

        Raises
        ------
        ScheduleFormatError
            If the file is missing, is not JSON, or is not a schedule; the message names
            the file and the offending field.
        """
        text: str
        name: str
        if isinstance(source, Path) or not str(source).lstrip().startswith("{"):
            path = Path(source)
            name = str(path)
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise ScheduleFormatError(f"{name}: no such file") from None
            except (OSError, UnicodeDecodeError) as exc:
                raise ScheduleFormatError(f"{name}: cannot be read ({exc})") from None
        else:
            text, name = str(source), "schedule"
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ScheduleFormatError(
                f"{name}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg})"
            ) from None
        return cls.from_dict(data, source=name)

    @classmethod
    def empty(
        cls,
        site: str,
        epoch: dt.datetime,
        grain_h: float,
        *,
        status: ScheduleStatus,
        objective: str,
        explanation: str | None = None,
        solve_time_s: float = 0.0,
        orders: list[str] | None = None,
    ) -> Schedule:
        """A schedule without operations (an infeasible or unsolved plan).

        It is never valid: the checker reports its status and every order of its scope
        (``orders``, by default the whole plan) as missing.
        """
        return cls(
            site=site,
            epoch=epoch,
            grain_h=grain_h,
            operations=_frame([], OPERATION_COLUMNS),
            segments=_frame([], SEGMENT_COLUMNS),
            objective=objective,
            status=status,
            explanation=explanation,
            solve_time_s=solve_time_s,
            orders=orders,
        )
