"""The soft controllers of one workspace site, run in the server, for the Controllers page
and ``/api/v1/controllers``.

:class:`ControllerService` owns the rules: which site's controllers run (one at a time
per server), who may start and stop them and command their phases (operators and up)
or write their set points (engineers and up), and what the page and the API show. It
works over any :class:`phactory.control.view.ControlledPlant`: :meth:`ControllerService.start`
builds a :class:`phactory.control.site.plant.SitePlant` from the stored site and scans it
in real time (``speed`` times faster) on a background thread, while
:meth:`ControllerService.attach` plugs in a plant that runs elsewhere (a remote OPC UA
plant, later). What only a ``SitePlant`` knows (plant time, the ISO 22400 equipment
state, a controller's fault) is shown where there is one, and left empty otherwise.

Stopping keeps the plant and its state (controllers in STOP, as a PLC): its last values
stay on the page, and starting the same site version again resumes it on the same time
line. Starting another site (or a newer version of the site) builds a new plant.
Commands and set-point writes need running controllers. Every start, stop, command and
write is logged in the change log (who, what, when).

Time: plant time [s] since the plant was built; scan times are real time, jitter is on
the plant clock (``speed`` times the real jitter), as in
:class:`phactory.control.view.ScanStats`.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Protocol

from phactory.app.errors import Conflict, Invalid, Missing
from phactory.app.principal import Principal, require
from phactory.errors import PhactoryError

if TYPE_CHECKING:
    from phactory.app.services.changes import ChangeLog
    from phactory.control.view import ControlledPlant, PhaseRef, ScanStats, TagInfo
    from phactory.model import Site

__all__ = [
    "MAX_SPEED",
    "ControllerService",
    "ControllerStatus",
    "PhaseStatus",
    "TagValue",
    "TaskStatus",
    "UnitStatus",
]

log = logging.getLogger("phactory.app.controllers")

#: Fastest real-time run (plant time per wall-clock time). A scan's watchdog shrinks by
#: the same factor in real time (a 100 ms task's 300 ms watchdog is 3 ms at 100×), so
#: faster runs in a busy server would fault controllers on a stall of the interpreter.
MAX_SPEED: Final = 100.0
#: Longest phase, unit or tag path accepted [characters].
PATH_MAX: Final = 300

Value = bool | int | float | str | None


class SiteSource(Protocol):
    """Where stored sites come from (the :class:`~phactory.app.services.workspace.Workspace`)."""

    def site_version(self, site_id: str, version: int | None = None) -> Any:
        """The stored version record (``.version``) of a site; raises ``Missing``."""
        ...

    def get_site(self, site_id: str, version: int | None = None) -> Site:
        """A stored site."""
        ...


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

    ``site`` is ``None`` when no controllers were started (nor attached)."""

    site: str | None
    site_version: int | None
    running: bool
    speed: float | None
    plant_time_s: float | None
    started_by: str | None
    started_at: datetime | None
    units: tuple[UnitStatus, ...]


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


class _Running:
    """The plant this service shows, and how it came to be."""

    __slots__ = ("by", "owned", "plant", "running", "since", "speed", "version")

    def __init__(
        self,
        plant: ControlledPlant,
        *,
        owned: bool,
        version: int | None,
        speed: float | None,
        by: str,
    ) -> None:
        self.plant = plant
        self.owned = owned
        self.version = version
        self.speed = speed
        self.by = by
        self.since = datetime.now(UTC)
        self.running = True


class ControllerService:
    """The controllers of one site in this server (see the module docstring).

    Parameters
    ----------
    sites
        Where stored sites come from (the workspace).
    changes
        The change log that records starts, stops, commands and writes (none: not logged).
    seed
        Seed of the virtual plant's sensor noise.
    scan_period
        Scan period of every controller (seconds or text such as ``"100 ms"``); default
        the site's ``control:`` section, else 100 ms.
    """

    def __init__(
        self,
        sites: SiteSource,
        changes: ChangeLog | None = None,
        *,
        seed: int = 0,
        scan_period: float | str | None = None,
    ) -> None:
        self._sites = sites
        self._changes = changes
        self._seed = seed
        self._scan_period = scan_period
        self._lock = threading.RLock()
        self._current: _Running | None = None

    # ------------------------------------------------------------------ running
    def start(self, actor: Principal, site_id: str, *, speed: float = 1.0) -> ControllerStatus:
        """Run the controllers of the latest version of ``site_id`` in real time, ``speed``
        times faster (resuming the stopped plant of the same site version, if any).

        Raises
        ------
        Forbidden
            Below the operator role.
        Missing
            No such site.
        Invalid
            ``speed`` not in (0, :data:`MAX_SPEED`]; or the site's controllers cannot be
            built (its ``control:`` section), with the reason.
        Conflict
            Controllers already run in this server (stop them first).
        """
        require(actor, "operator", "starting controllers")
        speed = _speed(speed)
        with self._lock:
            current = self._current
            if current is not None and current.running:
                raise Conflict(
                    f"the controllers of site {current.plant.site} already run in this "
                    f"server (started by {current.by}): stop them first"
                )
            version = int(self._sites.site_version(site_id).version)
            if (
                current is not None
                and current.owned
                and current.plant.site == site_id
                and current.version == version
            ):
                plant = current.plant
                resumed = True
            else:
                plant = self._build(site_id, version)
                resumed = False
            plant.run(realtime=True, speed=speed)  # type: ignore[attr-defined]
            self._current = _Running(plant, owned=True, version=version, speed=speed, by=actor.name)
        what = "resumed" if resumed else "started"
        self._log(
            actor,
            "controllers.start",
            site_id,
            f"{what} the controllers of {site_id} v{version} at {speed:g}× real time",
            {"version": version, "speed": speed, "resumed": resumed},
        )
        return self.status()

    def _build(self, site_id: str, version: int) -> ControlledPlant:
        from phactory.control.site.plant import SitePlant

        site = self._sites.get_site(site_id, version)
        named = _st_files(site)
        if named:
            # A stored site is one file: the server has no folder its ST file names are
            # relative to, and must never read files of its own disk that a site names.
            raise Invalid(
                f"site {site_id} names its own ST files in its control: section "
                f"({', '.join(named)}); the server runs the shipped phase logic only: run "
                "this site with `phactory control run SITE-FOLDER`"
            )
        try:
            return SitePlant(site, seed=self._seed, scan_period=self._scan_period)
        except PhactoryError as exc:  # the site's control: section
            raise Invalid(f"the controllers of site {site_id} cannot be built: {exc}") from None

    def attach(self, plant: ControlledPlant, *, actor: Principal | None = None) -> None:
        """Show (and command) ``plant``, a plant that runs elsewhere; :meth:`stop`
        detaches it without stopping it.

        Raises
        ------
        Conflict
            Controllers already run in this server.
        """
        with self._lock:
            if self._current is not None and self._current.running:
                raise Conflict(
                    f"the controllers of site {self._current.plant.site} already run in "
                    "this server: stop them first"
                )
            self._current = _Running(
                plant, owned=False, version=None, speed=None, by=actor.name if actor else "system"
            )

    def stop(self, actor: Principal) -> ControllerStatus:
        """Stop the controllers after their scans in progress (they keep their state);
        an attached plant is detached. Nothing running: nothing to do.

        Raises
        ------
        Forbidden
            Below the operator role.
        """
        require(actor, "operator", "stopping controllers")
        with self._lock:
            current = self._current
            if current is None or not current.running:
                return self.status()
            if current.owned:
                current.plant.stop()  # type: ignore[attr-defined]
                current.running = False
            else:
                self._current = None
            site = current.plant.site
        self._log(actor, "controllers.stop", site, f"stopped the controllers of {site}", {})
        return self.status()

    def close(self) -> None:
        """Stop the plant this service runs (at server shutdown)."""
        with self._lock:
            current = self._current
            if current is not None and current.owned and current.running:
                try:
                    current.plant.stop()  # type: ignore[attr-defined]
                except Exception:  # shutting down: log, and go on closing the rest
                    log.exception("stopping the controllers of %s failed", current.plant.site)
                current.running = False

    # ------------------------------------------------------------------ reading
    def status(self) -> ControllerStatus:
        """The site, whether it runs, plant time and every unit's states and statistics."""
        with self._lock:
            current = self._current
        if current is None:
            return ControllerStatus(None, None, False, None, None, None, None, ())
        plant = current.plant
        stats: dict[str, list[TaskStatus]] = {}
        for s in plant.scan_stats():
            stats.setdefault(s.unit, []).append(_task(s))
        units = []
        for path, refs in _unit_phases(plant, stats).items():
            units.append(_unit_status(plant, path, refs, tuple(stats.get(path, ()))))
        now = getattr(plant, "now_s", None)
        return ControllerStatus(
            site=plant.site,
            site_version=current.version,
            running=current.running,
            speed=current.speed,
            plant_time_s=float(now) if isinstance(now, int | float) else None,
            started_by=current.by,
            started_at=current.since,
            units=tuple(units),
        )

    def tag_values(self, unit: str) -> list[TagValue]:
        """Every tag of ``unit`` (ISA-95 path or unit id) with its current value.

        Raises
        ------
        Conflict
            No controllers were started.
        Missing
            No such unit (named).
        """
        plant = self._plant()
        path = self._unit_path(plant, unit)
        prefix = path + "/"
        tags = [t for t in plant.tags() if t.path.startswith(prefix)]
        values = plant.read([t.path for t in tags]) if tags else []
        return [_tag_value(t, t.path[len(prefix) :], v) for t, v in zip(tags, values, strict=True)]

    # ------------------------------------------------------------------ acting
    def command(
        self,
        actor: Principal,
        unit: str,
        phase: str,
        command: str,
        parameters: Mapping[str, float] | None = None,
    ) -> PhaseStatus:
        """Give an ISA-88 command to a phase of a unit (with Start parameters).

        Raises
        ------
        Forbidden
            Below the operator role.
        Conflict
            Controllers not running; or the phase's state refuses the command (the
            accepted ones named), or another phase of the unit holds its equipment.
        Missing
            No such unit or phase.
        Invalid
            Not an ISA-88 command; a parameter the phase does not take, not finite or out
            of its limits.
        """
        from phactory.batch.states import Command
        from phactory.control.view import PhaseRef

        require(actor, "operator", "commanding phases")
        try:
            cmd = Command(command)
        except ValueError:
            accepted = ", ".join(c.value for c in Command)
            raise Invalid(f"{command!r} is not an ISA-88 command (one of {accepted})") from None
        params = _parameters(parameters)
        plant = self._plant(running=True)
        path = self._unit_path(plant, unit)
        ref = PhaseRef(path, phase)
        if ref not in set(plant.phases()):
            raise Missing(f"no phase {phase!r} on unit {path} of site {plant.site}")
        plant.command(ref, cmd, params or None)
        self._log(
            actor,
            "controllers.command",
            f"{path}/{phase}",
            f"{cmd.value} phase {phase} of {path}",
            {"site": plant.site, "command": cmd.value, "parameters": params},
        )
        return _phase_status(plant, ref)

    def write(self, actor: Principal, path: str, value: bool | int | float | str) -> TagValue:
        """Write the set point ``path`` (a tag with ``access == "setpoint"``).

        Raises
        ------
        Forbidden
            Below the engineer role; or (403) a read-only tag.
        Conflict
            Controllers not running.
        Missing
            No such tag (named).
        Invalid
            Not a finite number, the wrong type, or out of the tag's range.
        """
        require(actor, "engineer", "writing set points")
        if isinstance(value, float) and not math.isfinite(value):
            raise Invalid(f"{path}: a set point must be a finite number, not {value!r}")
        plant = self._plant(running=True)
        info = next((t for t in plant.tags() if t.path == path), None)
        if info is None:
            raise Missing(f"no tag {path!r} in the controllers of site {plant.site}")
        plant.write(path, value)
        self._log(
            actor,
            "controllers.write",
            path,
            f"set {path} to {value!r}{' ' + info.unit if info.unit else ''}",
            {"site": plant.site, "value": value},
        )
        [now] = plant.read([path])
        units = [u for u in _unit_phases(plant, {}) if path.startswith(u + "/")]
        below = path[len(max(units, key=len)) + 1 :] if units else path
        return _tag_value(info, below, now)

    # ------------------------------------------------------------------ internals
    def _plant(self, *, running: bool = False) -> ControlledPlant:
        with self._lock:
            current = self._current
        if current is None:
            raise Conflict("no controllers run in this server: start a site's controllers first")
        if running and not current.running:
            raise Conflict(
                f"the controllers of site {current.plant.site} are stopped: start them first"
            )
        return current.plant

    @staticmethod
    def _unit_path(plant: ControlledPlant, unit: str) -> str:
        paths = list(_unit_phases(plant, {}))
        if unit in paths:
            return unit
        found = [p for p in paths if p.rsplit("/", 1)[-1] == unit]
        if len(found) == 1:
            return found[0]
        raise Missing(f"no unit {unit!r} in the controllers of site {plant.site}")

    def _log(
        self, actor: Principal, action: str, entity: str, summary: str, detail: dict[str, Any]
    ) -> None:
        if self._changes is not None:
            self._changes.record(actor.name, action, "controllers", entity, summary, detail)


# ---------------------------------------------------------------------- helpers
def _st_files(site: Site) -> list[str]:
    """The ST file names of a site's ``control:`` section (entries that name one)."""
    ctl = site.control
    if ctl is None:
        return []
    entries = [*ctl.equipment_classes.values(), *ctl.units.values()]
    return sorted({pc.program for uc in entries for pc in uc.phases.values() if pc.program})


def _speed(speed: float) -> float:
    try:
        value = float(speed)
    except (TypeError, ValueError):
        raise Invalid(f"speed must be a number, not {speed!r}") from None
    if not (0.0 < value <= MAX_SPEED):
        raise Invalid(f"speed must lie in (0, {MAX_SPEED:g}] × real time, not {speed!r}")
    return value


def _parameters(parameters: Mapping[str, float] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, value in (parameters or {}).items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Invalid(f"parameter {name!r} takes a number, not {value!r}")
        if not math.isfinite(value):
            raise Invalid(f"parameter {name!r} must be finite, not {value!r}")
        out[str(name)] = float(value)
    return out


def _plain(value: Any) -> Value:
    """A tag value for JSON: a float that is not finite (a set point not set) is None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _tag_value(info: TagInfo, name: str, value: Any) -> TagValue:
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


def _task(s: ScanStats) -> TaskStatus:
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


def _unit_phases(plant: ControlledPlant, stats: Mapping[str, object]) -> dict[str, list[PhaseRef]]:
    """Units (ISA-95 paths) in the plant's order, each with its phases."""
    units: dict[str, list[PhaseRef]] = {}
    listed = getattr(plant, "units", None)
    if callable(listed):  # a SitePlant knows its units, phases or not
        for path in listed():
            units[str(path)] = []
    for ref in plant.phases():
        units.setdefault(ref.unit, []).append(ref)
    for path in stats:
        units.setdefault(path, [])
    return units


def _phase_status(plant: ControlledPlant, ref: PhaseRef) -> PhaseStatus:
    from phactory.batch.states import TRANSITIONS

    state = plant.phase_state(ref)
    commands = tuple(c.value for (s, c) in TRANSITIONS if s == state)
    reports = {str(k): _finite(float(v)) for k, v in plant.reports(ref).items()}
    return PhaseStatus(ref.phase, state.value, commands, reports)


def _unit_status(
    plant: ControlledPlant, path: str, refs: list[PhaseRef], tasks: tuple[TaskStatus, ...]
) -> UnitStatus:
    packml = plant.unit_state(path)
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
        phases=tuple(_phase_status(plant, r) for r in refs),
        tasks=tasks,
    )
