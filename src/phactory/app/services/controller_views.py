"""What the Controllers page and ``/api/v1/controllers`` show of a plant of controllers:
the typed results of :class:`phactory.app.services.controllers.ControllerService`, and
how they are read from any :class:`phactory.control.view.ControlledPlant`.

A plant that offers more than the protocol is asked for it where it has it: its units
(``units()``, a unit without phases included), the ISO 22400 state of a unit
(``equipment_state``) and a controller's fault (``controller(unit).fault``) of a local
:class:`~phactory.control.site.plant.SitePlant`, and the states of every phase and unit
in one request each (``phase_states``, ``unit_states``) of a
:class:`~phactory.connect.opcua.RemotePlant`.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from phactory.batch.states import State
    from phactory.control.view import ControlledPlant, PackMLState, PhaseRef, ScanStats, TagInfo

__all__ = [
    "ControllerStatus",
    "PhaseStatus",
    "TagValue",
    "TaskStatus",
    "UnitStatus",
    "Value",
    "close_quietly",
    "phase_of",
    "phase_states",
    "phase_status",
    "tag_value",
    "task_status",
    "unit_phases",
    "unit_states",
    "unit_status",
]

log = logging.getLogger("phactory.app.controllers")

#: A tag value as shown: a number, a truth value, text, or ``None`` for a number not set.
Value = bool | int | float | str | None


@dataclass(frozen=True, slots=True)
class PhaseStatus:
    """An equipment phase: its ISA-88 state, the commands that state accepts and its
    reports (values at its last end; ``None`` for a value that is not a number)."""

    name: str
    state: str
    commands: tuple[str, ...]
    reports: dict[str, float | None]


@dataclass(frozen=True, slots=True)
class TaskStatus:
    """Scan statistics of a controller task [ms]: scan times in real time, jitter (p99 of
    |actual - nominal start|) on the plant clock."""

    task: str
    unit: str
    period_ms: float
    scans: int
    overruns: int
    min_ms: float
    mean_ms: float
    max_ms: float
    jitter_p99_ms: float


@dataclass(frozen=True, slots=True)
class UnitStatus:
    """A unit's controller: ISA-95 path, PackML state, ISO 22400 state (where known),
    its fault (where known), phases and tasks."""

    path: str
    id: str
    packml_state: int
    packml_name: str
    equipment_state: str | None
    fault: str | None
    phases: tuple[PhaseStatus, ...]
    tasks: tuple[TaskStatus, ...]


@dataclass(frozen=True, slots=True)
class ControllerStatus:
    """What runs: the site, whether it scans, at what speed, plant time [s], the units.

    ``site`` is ``None`` when no controllers were started (nor connected). ``location``
    is ``local`` for controllers run in this server, ``remote`` for controllers reached
    at ``endpoint`` (as ``user``); ``connected`` says whether that connection holds
    (``None`` for local ones), ``error`` why it does not (the units are then as last
    read). ``running`` is whether phases can be commanded now."""

    site: str | None
    site_version: int | None
    running: bool
    speed: float | None
    plant_time_s: float | None
    started_by: str | None
    started_at: datetime | None
    units: tuple[UnitStatus, ...]
    location: Literal["local", "remote"] | None = None
    endpoint: str | None = None
    user: str | None = None
    connected: bool | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class TagValue:
    """A tag's current value with what it is: ``name`` is its path below the unit."""

    path: str
    name: str
    value: Value
    data_type: str
    unit: str
    low: float | None
    high: float | None
    access: str
    description: str


def _plain(value: Any) -> Value:
    """A tag value for JSON: a float that is not finite (a set point not set) is None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def tag_value(info: TagInfo, name: str, value: Any) -> TagValue:
    """A tag and its value as shown (``name``: its path below the unit)."""
    return TagValue(
        path=info.path,
        name=name,
        value=_plain(value),
        data_type=info.data_type,
        unit=info.unit,
        low=_finite(info.low),
        high=_finite(info.high),
        access=info.access,
        description=info.description,
    )


def task_status(s: ScanStats) -> TaskStatus:
    """Scan statistics in ms."""
    return TaskStatus(
        task=s.task,
        unit=s.unit,
        period_ms=s.period_s * 1e3,
        scans=s.scans,
        overruns=s.overruns,
        min_ms=s.min_s * 1e3,
        mean_ms=s.mean_s * 1e3,
        max_ms=s.max_s * 1e3,
        jitter_p99_ms=s.jitter_p99_s * 1e3,
    )


def unit_phases(plant: ControlledPlant, stats: Mapping[str, object]) -> dict[str, list[PhaseRef]]:
    """Units (ISA-95 paths) in the plant's order, each with its phases."""
    units: dict[str, list[PhaseRef]] = {}
    listed = getattr(plant, "units", None)
    if callable(listed):  # a SitePlant or RemotePlant knows its units, phases or not
        for path in listed():
            units[str(path)] = []
    for ref in plant.phases():
        units.setdefault(ref.unit, []).append(ref)
    for path in stats:
        units.setdefault(path, [])
    return units


def phase_states(plant: ControlledPlant, refs: Sequence[PhaseRef]) -> dict[PhaseRef, State]:
    """The ISA-88 states of ``refs`` (in one request where the plant can)."""
    bulk = getattr(plant, "phase_states", None)
    if callable(bulk):
        return dict(bulk(list(refs)))
    return {r: plant.phase_state(r) for r in refs}


def unit_states(plant: ControlledPlant, units: Sequence[str]) -> dict[str, PackMLState]:
    """The PackML states of ``units`` (ISA-95 paths; in one request where the plant can)."""
    bulk = getattr(plant, "unit_states", None)
    if callable(bulk) and units:
        return dict(bulk(list(units)))
    return {u: plant.unit_state(u) for u in units}


def phase_of(ref: PhaseRef, state: State, reports: Mapping[str, float]) -> PhaseStatus:
    """A phase as shown: its state, the commands that state accepts, its reports."""
    from phactory.batch.states import TRANSITIONS

    commands = tuple(c.value for (s, c) in TRANSITIONS if s == state)
    values = {str(k): _finite(float(v)) for k, v in reports.items()}
    return PhaseStatus(ref.phase, state.value, commands, values)


def phase_status(plant: ControlledPlant, ref: PhaseRef) -> PhaseStatus:
    """A phase as shown, read now."""
    return phase_of(ref, plant.phase_state(ref), plant.reports(ref))


def unit_status(
    plant: ControlledPlant,
    path: str,
    phases: tuple[PhaseStatus, ...],
    packml: PackMLState,
    tasks: tuple[TaskStatus, ...],
) -> UnitStatus:
    """A unit as shown (its ISO 22400 state and fault where the plant knows them)."""
    equipment = getattr(plant, "equipment_state", None)
    fault: str | None = None
    controller = getattr(plant, "controller", None)
    if callable(controller):  # a SitePlant: the controller's fault, if any
        found = getattr(controller(path), "fault", None)
        fault = str(found.reason) if found is not None else None
    return UnitStatus(
        path=path,
        id=path.rsplit("/", 1)[-1],
        packml_state=int(packml),
        packml_name=packml.name.title(),
        equipment_state=str(equipment(path)) if callable(equipment) else None,
        fault=fault,
        phases=phases,
        tasks=tasks,
    )


def close_quietly(plant: ControlledPlant) -> None:
    """Close a connection to a remote plant; a failure to close is logged, not raised."""
    close = getattr(plant, "close", None)
    if callable(close):
        with contextlib.suppress(Exception):
            close()
            return
        log.warning("closing the connection to %s failed", getattr(plant, "endpoint", plant))
