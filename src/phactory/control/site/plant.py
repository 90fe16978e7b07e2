"""The controllers of a site on its virtual plant, seen as a :class:`ControlledPlant`.

:class:`SitePlant` builds, for every unit of a site (:mod:`phactory.control.site.layout`),
a :class:`phactory.control.runtime.Controller` with one cyclic task scanning the unit's
program (its equipment phases, :mod:`phactory.control.phases.program`), wired to the
unit's :class:`~phactory.control.plant.UnitPlant`: before each scan the unit's physics is
integrated up to the scan's nominal start and its sensors sampled (the input image);
the program writes the output image the next step integrates with. Loops are tuned from
the plant (:mod:`phactory.control.phases.tuning`).

Two ways to run it, on one time line (plant time [s] since the plant was built):

* :meth:`SitePlant.advance` steps simulated time deterministically on the calling thread
  (a :class:`~phactory.control.runtime.SimClock`): the same seed and commands give the
  same trace. A unit with nothing but timers to run (every phase quiescent, or only
  open-loop logic running and no process model) is not scanned until its next timer
  expires or, when idle, for at most ``idle_skip_s``; its physics is integrated over the
  gap in one stable step. A command or a fault wakes it.
* :meth:`SitePlant.run` scans in real time (or ``speed`` times faster) on a background
  thread until :meth:`SitePlant.stop`. Controllers are started a fraction of a period
  apart (``k/N`` of the period for the ``k``-th of ``N``), so that their scans do not
  queue behind each other and each starts on time.

Thread safety: every method may be called from any thread. Commands and writes take the
unit's controller lock (held during each of its scans), so they act between two scans;
reads take no lock (each value is read atomically).
"""

from __future__ import annotations

import math
import threading
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from phactory.batch.states import Command, State
from phactory.control.phases.binding import PhaseBinding
from phactory.control.phases.program import UnitProgram, unit_program
from phactory.control.phases.tuning import tuning_for
from phactory.control.phases.unit_state import iso22400_state, unit_packml_state
from phactory.control.plant.faults import FaultRecord
from phactory.control.plant.unit import UnitPlant
from phactory.control.pou import NS_PER_S
from phactory.control.runtime import Controller, Runner, SimClock, WallClock
from phactory.control.runtime.runner import freeze_heap
from phactory.control.site.layout import TagSpec, UnitLayout, layout_site
from phactory.control.view import PackMLState, PhaseRef, ScanStats, TagChange, TagInfo
from phactory.errors import ConflictError, DeniedError, InvalidError, NotFoundError

if TYPE_CHECKING:
    from phactory.control.runtime import RetainStore, Task
    from phactory.events.states import State as EquipmentState
    from phactory.model import Site

__all__ = ["ParameterInfo", "PhaseInfo", "SitePlant"]

TagValue = bool | int | float | str
_PROGRAM = "unit"
_TASK = "main"


@dataclass(frozen=True, slots=True)
class ParameterInfo:
    """A parameter of an equipment phase: ``command(ref, Start, {name: value})`` takes
    values in ``unit``, within ``[low, high]``; ``default`` when not given."""

    name: str
    unit: str
    default: float | None
    low: float | None
    high: float | None
    used: bool
    description: str


@dataclass(frozen=True, slots=True)
class PhaseInfo:
    """What an equipment phase is and takes (for drivers, the CLI and the UI)."""

    ref: PhaseRef
    logic: str
    block: str
    source: str
    rule: str
    model: str | None
    parameters: tuple[ParameterInfo, ...]
    reports: tuple[tuple[str, str], ...]
    recipes: tuple[str, ...]


class _ContinuedWallClock(WallClock):
    """A wall clock whose time line continues from ``start_ns`` (after simulated time)."""

    def __init__(self, start_ns: int, speed: float = 1.0) -> None:
        super().__init__(speed)
        self._start = start_ns

    def now_ns(self) -> int:
        return self._start + super().now_ns()


class _Unit:
    """One unit's controller, program class, plant and tags (internal)."""

    __slots__ = (
        "controller",
        "last_nominal",
        "layout",
        "period_ns",
        "plant",
        "published",
        "readers",
        "tags",
    )

    def __init__(self, layout: UnitLayout, plant: UnitPlant, controller: Controller) -> None:
        self.layout = layout
        self.plant = plant
        self.controller = controller
        self.period_ns = round(layout.scan_period_s * NS_PER_S)
        self.tags: list[TagSpec] = []
        self.readers: list[tuple[str, Callable[[], TagValue]]] = []
        self.published: dict[str, TagValue] | None = None
        self.last_nominal = 0

    @property
    def program(self) -> UnitProgram:
        prog = self.controller.program(_PROGRAM)
        assert isinstance(prog, UnitProgram)
        return prog

    @property
    def task(self) -> Task:
        return self.controller.tasks[_TASK]


class SitePlant:
    """A site's controllers and virtual plant (see the module docstring).

    Parameters
    ----------
    site
        The site (:func:`phactory.load_site`).
    seed
        Seeds every sensor's noise (each unit from ``seed`` and its id).
    scan_period
        Scan period of every controller (seconds or text such as ``"100 ms"``),
        overriding the site's ``control:`` section; default that section, else 100 ms.
    base_dir
        Folder the ``control:`` section's ST file names are relative to (the site's).
    units
        Only these units (default: every unit).
    idle_skip_s
        Longest stretch of simulated time a quiescent unit is not scanned [s].
    retain
        Durable store of RETAIN variables of the controllers (none by default).

    Raises
    ------
    InvalidError, NotFoundError, STCompileError
        From :func:`phactory.control.site.layout.layout_site`.
    """

    def __init__(
        self,
        site: Site,
        *,
        seed: int = 0,
        scan_period: float | str | None = None,
        base_dir: str | Path | None = None,
        units: list[str] | None = None,
        idle_skip_s: float = 3600.0,
        retain: RetainStore | None = None,
    ) -> None:
        self.site = site.id
        self.seed = seed
        self.idle_skip_ns = round(idle_skip_s * NS_PER_S)
        period = _seconds(scan_period) if scan_period is not None else None
        layouts = layout_site(site, scan_period_s=period, base_dir=base_dir, units=units)
        self._units: dict[str, _Unit] = {}
        self._by_path: dict[str, _Unit] = {}
        self._tags: dict[str, TagSpec] = {}
        self._order: list[TagInfo] = []
        self._subscribers: list[Callable[[Sequence[TagChange]], None]] = []
        self._sub_lock = threading.Lock()
        self._clock: SimClock | WallClock = SimClock()
        self._thread: threading.Thread | None = None
        self._runner: Runner | None = None
        for layout in layouts:
            u = self._build(layout, retain)
            self._units[layout.unit] = u
            self._by_path[layout.path] = u
            for spec in layout.tag_specs(u.plant):
                u.tags.append(spec)
                self._tags[spec.info.path] = spec
                self._order.append(spec.info)
                u.readers.append((spec.info.path, self._reader(u, spec)))
        n = max(len(self._units), 1)
        for k, u in enumerate(self._units.values()):
            offset = (k * u.period_ns) // n
            u.controller.start(offset, warm=True)
            u.last_nominal = offset - u.period_ns

    @classmethod
    def from_path(cls, path: str | Path, **kwargs: Any) -> SitePlant:
        """Load the site at ``path`` and build its plant; a problem of the site's
        ``control:`` section is reported at its ``FILE:LINE:COL``.

        Raises
        ------
        SiteValidationError
            The site, or its ``control:`` section, has errors (every one, located).
        """
        from phactory.control.site.layout import ControlConfigError
        from phactory.model import SiteValidationError, load_site
        from phactory.model.errors import Problem
        from phactory.model.loader import load_site_data

        site = load_site(path)
        root = Path(path)
        base = root if root.is_dir() else root.parent
        kwargs.setdefault("base_dir", base)
        try:
            return cls(site, **kwargs)
        except ControlConfigError as exc:
            if not exc.path:
                raise
            _, smap, _ = load_site_data(path)
            problem = Problem(str(exc).split(": ", 1)[-1], exc.path, smap.locate(exc.path))
            raise SiteValidationError.of([problem], str(path)) from None

    # ------------------------------------------------------------------ building
    def _build(self, layout: UnitLayout, retain: RetainStore | None) -> _Unit:
        seed = zlib.crc32(f"{self.seed}:{layout.unit}".encode())
        plant = UnitPlant(layout.spec, seed=seed, paths={})
        plant.paths = {n: layout.channel_path(ch) for n, ch in plant.channels.items()}
        config: dict[str, Any] = dict(tuning_for(plant, layout.scan_period_s))
        spec = layout.spec
        config["C_RAMP"] = 0.4 * spec.heat_rate_k_h / 60.0  # [K/min], see temperature.st
        config["C_HEEL"] = 0.005 * spec.capacity_l
        prog = unit_program(layout.unit, plant, layout.bindings, layout.blocks, config)
        ctl = Controller(layout.unit, unit=layout.path, retain=retain)
        period_ns = round(layout.scan_period_s * NS_PER_S)
        ctl.add_task(_TASK, period_ns, priority=0)
        ctl.add_program(_PROGRAM, prog, _TASK)
        u = _Unit(layout, plant, ctl)

        def before(task_name: str, u: _Unit = u) -> None:
            t_s = u.task.next_ns / NS_PER_S
            dt = t_s - u.plant.t_s
            if dt > 0.0:
                u.plant.step(dt)

        def after(task_name: str, u: _Unit = u) -> None:
            if self._subscribers:
                self._publish(u)

        safe = {n: ch.default for n, ch in plant.channels.items() if ch.direction == "out"}
        ctl.io.before_scan(before, _TASK)
        ctl.io.after_scan(after, _TASK)

        def observe(c: Controller, task: Task, u: _Unit = u) -> None:
            self._after_scan(u, task)

        def go_safe(fault: object, p: UnitPlant = plant) -> None:
            p.outputs.update(safe)

        ctl.add_observer(observe)
        ctl.on_fault(go_safe)
        return u

    def _reader(self, u: _Unit, spec: TagSpec) -> Callable[[], TagValue]:
        plant, key, phase = u.plant, spec.key, spec.phase
        if spec.kind == "channel":
            src = plant.inputs if key in plant.inputs else plant.outputs
            return lambda: src[key]
        if spec.kind == "unit_state":
            return lambda: int(self._packml(u))
        if spec.kind == "equipment_state":
            return lambda: self._iso(u)
        if spec.kind == "phase_state":
            return lambda: u.program.machines[phase].state.value
        return lambda: float(u.program.machines[phase].parameters.get(key, math.nan))

    # ------------------------------------------------------------------ protocol
    def tags(self) -> Sequence[TagInfo]:
        """Every tag, units in site order, then in each unit: state, channels, phases."""
        return list(self._order)

    def read(self, paths: Sequence[str]) -> list[TagValue]:
        """Current values (see :meth:`ControlledPlant.read`)."""
        out: list[TagValue] = []
        for path in paths:
            spec = self._tag(path)
            u = self._units[spec.unit]
            out.append(self._reader(u, spec)())
        return out

    def write(self, path: str, value: TagValue) -> None:
        """Write a phase parameter's set point: it acts at once on a running phase, and
        is the value of the next Start of an idle one unless the Start gives another."""
        spec = self._tag(path)
        if spec.info.access != "setpoint":
            raise DeniedError(f"{path} is read-only (a measurement or a state)")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidError(f"{path} takes a number, not {value!r}")
        u = self._units[spec.unit]
        with u.controller.lock:
            u.program.machine(spec.phase).set_parameter(spec.key, float(value))
        self._wake(u)

    def phases(self) -> Sequence[PhaseRef]:
        """Every equipment phase, units in site order."""
        return [
            PhaseRef(u.layout.path, b.phase)
            for u in self._units.values()
            for b in u.layout.bindings
        ]

    def phase_state(self, ref: PhaseRef) -> State:
        """The phase's ISA-88 state."""
        u = self._unit(ref.unit)
        return u.program.machine(ref.phase).state

    def phase_run_s(self, ref: PhaseRef) -> float:
        """Plant time the phase has spent Running in its current (or last) run [s]."""
        u = self._unit(ref.unit)
        return u.program.machine(ref.phase).run_ns / NS_PER_S

    def command(
        self, ref: PhaseRef, command: Command, parameters: Mapping[str, float] | None = None
    ) -> None:
        """Command a phase (see :meth:`ControlledPlant.command`).

        Raises
        ------
        InvalidCommand
            The phase's state refuses the command.
        UnknownParameter
            A Start parameter the phase does not take, or out of its limits.
        EquipmentBusy
            Another active phase of the unit drives equipment this one needs.
        """
        u = self._unit(ref.unit)
        with u.controller.lock:
            # A unit that was not scanned for a while catches up first, so that what the
            # command starts (a process model) starts now.
            now = self._clock.now_ns()
            dt = now / NS_PER_S - u.plant.t_s
            if dt > 0.0:
                u.plant.step(dt)
            # The controller's time now: its last scan's, plus the time since (it may
            # have skipped scans, in simulated time).
            ctx_now = u.controller.ctx.now_ns + max(now - u.last_nominal, 0)
            u.program.command(ref.phase, Command(command), parameters, ctx_now)
        self._wake(u)

    def reports(self, ref: PhaseRef) -> dict[str, float]:
        """The phase's reports of its last end (Complete, Stopped or Aborted)."""
        u = self._unit(ref.unit)
        return dict(u.program.machine(ref.phase).reports)

    def unit_state(self, unit: str) -> PackMLState:
        """The unit's PackML state (``unit``: ISA-95 path or id)."""
        return self._packml(self._unit(unit))

    def scan_stats(self) -> Sequence[ScanStats]:
        """Scan statistics of every controller's task."""
        return [s for u in self._units.values() for s in u.controller.scan_stats()]

    def subscribe(self, callback: Callable[[Sequence[TagChange]], None]) -> Callable[[], None]:
        """Call ``callback`` with a unit's changed tags after each of its scans."""
        with self._sub_lock:
            if not self._subscribers:
                for u in self._units.values():
                    u.published = {p: r() for p, r in u.readers}
            self._subscribers = [*self._subscribers, callback]

        def unsubscribe() -> None:
            with self._sub_lock:
                self._subscribers = [s for s in self._subscribers if s is not callback]

        return unsubscribe

    # ------------------------------------------------------------------ more than the view
    @property
    def now_s(self) -> float:
        """Plant time [s]."""
        return self._clock.now_ns() / NS_PER_S

    @property
    def clock(self) -> SimClock | WallClock:
        """The clock the controllers run on now (hold a :class:`SimClock` still with
        ``clock.hold()`` while acting on the plant from another thread)."""
        return self._clock

    def units(self) -> list[str]:
        """ISA-95 paths of the units, in site order."""
        return list(self._by_path)

    def unit_path(self, unit_id: str) -> str:
        """The ISA-95 path of unit ``unit_id``."""
        return self._unit(unit_id).layout.path

    def phase_ref(self, unit: str, phase: str) -> PhaseRef:
        """The reference of ``phase`` on ``unit`` (id or path), checked."""
        u = self._unit(unit)
        u.program.machine(phase)
        return PhaseRef(u.layout.path, phase)

    def phase_info(self, ref: PhaseRef) -> PhaseInfo:
        """What a phase is, takes and reports."""
        u = self._unit(ref.unit)
        b: PhaseBinding = u.program.machine(ref.phase).binding
        params = tuple(
            ParameterInfo(n, p.unit, p.default, p.low, p.high, p.input is not None
                          or p.model_param is not None, p.description)
            for n, p in b.parameters.items()
        )  # fmt: skip
        reports = [(r.name, r.unit) for r in b.reports_for(u.plant.channels)]
        if b.model is not None:
            from phactory.control.plant.process import COUPLINGS

            names = {n for n, _ in reports}
            reports += [r for r in COUPLINGS[b.model].REPORTS if r[0] not in names]
        return PhaseInfo(
            PhaseRef(u.layout.path, ref.phase), b.logic.name, b.block, b.source, b.rule,
            b.model, params, tuple(reports), b.recipes,
        )  # fmt: skip

    def equipment_state(self, unit: str) -> EquipmentState:
        """The unit's ISO 22400 equipment state (event-log state)."""
        return self._iso(self._unit(unit))

    def plant_of(self, unit: str) -> UnitPlant:
        """The virtual plant of a unit (tests and monitoring ground truth)."""
        return self._unit(unit).plant

    def controller(self, unit: str) -> Controller:
        """The controller of a unit."""
        return self._unit(unit).controller

    # ------------------------------------------------------------------ faults
    def inject(self, tag: str, kind: str, at_s: float | None = None, **params: float) -> None:
        """Inject fault ``kind`` on ``tag`` (its ISA-95 path) from plant time ``at_s``
        [s] (now by default); see :mod:`phactory.control.plant.faults`.

        Raises
        ------
        NotFoundError
            No such tag; InvalidError: the fault cannot act on it.
        """
        spec = self._tag(tag)
        if spec.kind != "channel":
            raise InvalidError(f"a fault acts on an instrument or equipment tag, not on {tag}")
        u = self._units[spec.unit]
        start = self.now_s if at_s is None else float(at_s)
        with u.controller.lock:
            u.plant.schedule_fault(kind, spec.key, start, params)
        self._wake(u)

    def faults(self) -> list[FaultRecord]:
        """Every fault that has taken effect (the ground truth), by start time."""
        out = [f for u in self._units.values() for f in u.plant.faults]
        return sorted(out, key=lambda f: (f.start_s, f.unit, f.tag))

    # ------------------------------------------------------------------ running
    def advance(self, seconds: float, *, until: Callable[[], bool] | None = None) -> float:
        """Run ``seconds`` of simulated plant time on this thread; returns the plant time
        reached [s].

        With ``until``, stop early at the first instant after which ``until()`` is true
        (checked after at least every second of plant time).

        Raises
        ------
        ConflictError
            While :meth:`run` runs the plant in the background.
        """
        if self._thread is not None:
            raise ConflictError("the plant runs in the background: stop() it first")
        if not isinstance(self._clock, SimClock):
            self._clock = SimClock(self._clock.now_ns())
        runner = self._sim_runner()
        end = self._clock.now_ns() + round(seconds * NS_PER_S)
        if until is None:
            runner.run_until(end)
            return self.now_s
        while self._clock.now_ns() < end:
            due = min(
                (d for u in self._units.values() if (d := u.controller.next_due_ns()) is not None),
                default=end,
            )
            step_end = min(end, max(due + 1, self._clock.now_ns() + NS_PER_S))
            runner.run_until(step_end)
            if until():
                break
        return self.now_s

    def run(self, *, realtime: bool = True, speed: float = 1.0) -> None:
        """Scan on a background thread until :meth:`stop`: in real time (``speed`` times
        faster) or, with ``realtime=False``, in simulated time as fast as possible.

        Raises
        ------
        ConflictError
            If it already runs.
        """
        if self._thread is not None:
            raise ConflictError("the plant already runs")
        if realtime:
            freeze_heap()  # before the clock starts (see phactory.control.runtime.runner)
        now = self._clock.now_ns()
        clock: SimClock | WallClock = _ContinuedWallClock(now, speed) if realtime else SimClock(now)
        self._clock = clock
        runner = Runner(clock, self._controllers(), watchdog=realtime)
        self._runner = runner
        if realtime:
            # Time did not pass for the controllers while the plant was not running.
            for u in self._units.values():
                self._reschedule(u, now)
        self._thread = threading.Thread(
            target=runner.run_until, args=(None,), name=f"plant-{self.site}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the background run (after the scan in progress)."""
        if self._thread is None or self._runner is None:
            return
        self._runner._stop.set()
        self._thread.join()
        self._thread = None
        self._runner = None
        self._clock = SimClock(self._clock.now_ns())

    def close(self) -> None:
        """Stop running; the plant keeps its state."""
        self.stop()

    def __enter__(self) -> SitePlant:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ internals
    def _controllers(self) -> list[Controller]:
        return [u.controller for u in self._units.values()]

    def _sim_runner(self) -> Runner:
        runner = self._runner
        if runner is None or runner.clock is not self._clock:
            runner = Runner(self._clock, self._controllers(), watchdog=False)
            self._runner = runner
        return runner

    def _tag(self, path: str) -> TagSpec:
        spec = self._tags.get(path)
        if spec is None:
            raise NotFoundError(f"no tag {path!r} in site {self.site}")
        return spec

    def _unit(self, unit: str) -> _Unit:
        u = self._by_path.get(unit) or self._units.get(unit)
        if u is None:
            raise NotFoundError(f"no unit {unit!r} in site {self.site}")
        return u

    def _packml(self, u: _Unit) -> PackMLState:
        prog = u.program
        return unit_packml_state(
            (m.state for m in prog.machines.values()), faulted=u.controller.fault is not None
        )

    def _iso(self, u: _Unit) -> EquipmentState:
        cleaning = any(
            m.active and m.binding.logic.activity == "cleaning" for m in u.program.machines.values()
        )
        return iso22400_state(self._packml(u), cleaning=cleaning)

    def _publish(self, u: _Unit) -> None:
        last = u.published
        if last is None:
            u.published = last = {}
        t_s = u.task.next_ns / NS_PER_S
        changes = []
        for path, read in u.readers:
            value = read()
            old = last.get(path, _MISSING)
            if old != value and not (value != value and old != old):  # NaN stays NaN
                last[path] = value
                changes.append(TagChange(path, value, t_s))
        if changes:
            for callback in self._subscribers:
                callback(changes)

    def _after_scan(self, u: _Unit, task: Task) -> None:
        """Remember the scan's nominal time; in simulated time, skip quiescent stretches."""
        nominal = task.next_ns - task.period_ns
        u.last_nominal = nominal
        if not isinstance(self._clock, SimClock):
            return
        due = u.program.open_loop_until_ns()
        if due is None:
            return
        ctx_now = u.controller.ctx.now_ns
        offset = nominal - ctx_now  # clock time - controller time
        target = (ctx_now + self.idle_skip_ns) if due < 0 else due
        target += offset
        fault_s = u.plant.next_fault_s()
        if fault_s is not None:
            target = min(target, max(round(fault_s * NS_PER_S), task.next_ns))
        if target <= task.next_ns:
            return
        k = -(-(target - nominal) // task.period_ns)
        task.next_ns = nominal + k * task.period_ns

    def _wake(self, u: _Unit) -> None:
        """Scan a skipping unit at the next period boundary from now."""
        if u.task.next_ns > self._clock.now_ns() + u.task.period_ns:
            self._reschedule(u, self._clock.now_ns())

    @staticmethod
    def _reschedule(u: _Unit, now: int) -> None:
        """Make the unit's next scan the first instant of its grid at or after ``now``."""
        task = u.task
        k = max(1, -(-(now - u.last_nominal) // task.period_ns))
        with u.controller.lock:
            task.next_ns = u.last_nominal + k * task.period_ns
            # The runner queues tasks by their next start: tell it one moved.
            Controller.schedule_version += 1


_MISSING: Any = object()


def _seconds(value: float | str) -> float:
    if isinstance(value, int | float):
        if not value > 0:
            raise InvalidError(f"scan period must be positive, not {value!r}")
        return float(value)
    from phactory.model.quantity import QuantityError, parse_quantity

    try:
        hours = parse_quantity(value, "time")
    except QuantityError as exc:
        raise InvalidError(f"scan period: {exc}") from None
    if not hours > 0:
        raise InvalidError(f"scan period must be positive, not {value!r}")
    return hours * 3600.0
