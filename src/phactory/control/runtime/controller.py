"""A controller: program instances, the cyclic tasks that scan them, I/O, RETAIN, faults.

IEC 61131-3:2013 §6.8.2 (configurations, resources, tasks): a resource runs program
instances under the control of tasks; a cyclic task has an ``INTERVAL`` and a
``PRIORITY`` (0 is the highest). A :class:`Controller` is one resource (one per unit of a
plant). Each scan of a task:

1. writes the input image into its programs (:class:`IOMap` inputs, ``before`` hooks);
2. sets :attr:`ScanContext.now_ns` to the task's *nominal* start and runs each of its
   programs once, in the order they were added;
3. commits the RETAIN values the scan changed (one durable transaction,
   :mod:`~phactory.control.runtime.retain`);
4. writes the output image (:class:`IOMap` outputs, ``after`` hooks) and tells observers.

Scheduling is non-preemptive (which §6.8.2 allows): tasks due at the same instant run in
priority order (ties: the order the tasks were added), each scan running to its end. Task
``k``'s ``n``-th scan is nominally due at ``start + n * period``. A scan that ends after its
task's next nominal start is an *overrun*: the missed nominal starts are skipped (the
grid is kept) and counted. A scan longer than the task's watchdog time (default
``watchdog_factor`` x period), or a program raising an error, *faults* the controller:
every task stops, the outputs take their safe values, observers of faults are told and
:attr:`Controller.fault` says what happened, until the next restart.

Time base: ``ScanContext.now_ns`` counts from the controller's cold start. A warm restart
continues from the time of the last RETAIN commit (plus the shortest task period), so a
retained timer does not count the time the controller was down. Cold restart: every
variable takes its initial value and the durable store of this controller is cleared.
Warm restart: non-retained variables take their initial values, retained ones the last
committed values (a stored value whose declared type changed is not restored, and is
reported).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from phactory.control.pou import POU, ScanContext
from phactory.control.runtime.clocks import Clock
from phactory.control.runtime.durations import format_duration, parse_duration
from phactory.control.runtime.io import IOMap
from phactory.control.runtime.online import ChangeReport, plan_change
from phactory.control.runtime.retain import RetainStore
from phactory.control.runtime.state import Leaf, accessor, decode_into, encode, retained_leaves
from phactory.control.runtime.stats import ScanStatistics
from phactory.control.runtime.watchdog import Watchdog, WatchdogExpired
from phactory.errors import ConflictError, InvalidError, NotFoundError

if TYPE_CHECKING:
    from phactory.control.view import ScanStats

__all__ = ["Controller", "Fault", "RestartReport", "Task"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Fault:
    """Why a controller went to its safe state."""

    controller: str
    task: str
    reason: str
    now_ns: int


@dataclass
class RestartReport:
    """What a (re)start did with the durable values."""

    mode: Literal["cold", "warm"]
    restored: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


@dataclass(eq=False)
class Task:
    """A cyclic task (IEC 61131-3 ``TASK name (INTERVAL := ..., PRIORITY := ...)``).

    Attributes
    ----------
    name
        Task name.
    period_ns
        Scan period [ns].
    priority
        0 is the highest.
    watchdog_ns
        Longest scan [ns] (clock time) before the controller faults.
    programs
        Program instance names, in execution order.
    """

    name: str
    period_ns: int
    priority: int
    watchdog_ns: int
    programs: list[str] = field(default_factory=list)
    order: int = 0
    next_ns: int = 0  # nominal start of the next scan, on the clock's time line
    scans: int = 0
    stats: ScanStatistics = field(default_factory=ScanStatistics)
    # Resolved I/O: (setter, read) and (getter, write) pairs; hooks.
    _inputs: list[tuple[Callable[[Any], None], Callable[[], Any]]] = field(default_factory=list)
    _outputs: list[tuple[Callable[[], Any], Callable[[Any], None]]] = field(default_factory=list)
    _before: list[Callable[[str], None]] = field(default_factory=list)
    _after: list[Callable[[str], None]] = field(default_factory=list)
    _calls: list[POU] = field(default_factory=list)
    _leaves: list[tuple[str, Leaf]] = field(default_factory=list)


#: Observer of scans: called with the controller and the task after every scan.
ScanObserver = Callable[["Controller", Task], None]


def _ns(value: int | str) -> int:
    return parse_duration(value) if isinstance(value, str) else int(value)


class Controller:
    """One soft controller (an IEC 61131-3 resource); see the module documentation.

    Parameters
    ----------
    name
        Controller name, unique in a plant (keys its durable values).
    unit
        The ISA-95 path of the unit it controls (shown in :class:`ScanStats`); defaults
        to ``name``.
    retain
        Durable store of RETAIN variables; None keeps them in memory only.
    watchdog_factor
        Default watchdog time as a multiple of the task period.
    """

    #: Bumped whenever any controller's schedule changes (a start, an alignment, a new
    #: task, a fault): runners rebuild their queue of due tasks when it moves.
    schedule_version: ClassVar[int] = 0

    def __init__(
        self,
        name: str,
        *,
        unit: str = "",
        retain: RetainStore | None = None,
        watchdog_factor: float = 3.0,
    ) -> None:
        self.name = name
        self.unit = unit or name
        self.retain = retain
        self.watchdog_factor = watchdog_factor
        self.ctx = ScanContext()
        self.io = IOMap()
        #: Held during each scan and by :meth:`online_change`: take it to read or write
        #: program variables consistently from another thread.
        self.lock = threading.RLock()
        self.tasks: dict[str, Task] = {}
        self.fault: Fault | None = None
        self.started = False
        self._classes: dict[str, type[POU]] = {}
        self._programs: dict[str, POU] = {}
        self._task_of: dict[str, str] = {}
        self._observers: list[ScanObserver] = []
        self._fault_observers: list[Callable[[Fault], None]] = []
        self._committed: dict[tuple[str, str], Any] = {}
        self._removed: set[tuple[str, str]] = set()
        self._safe: list[tuple[Callable[[Any], None], Any]] = []
        self._epoch = 0
        self._base = 0
        self.last_commit_seq = 0

    # --- configuration ----------------------------------------------------------------

    def add_task(
        self,
        name: str,
        period: int | str,
        priority: int = 0,
        *,
        watchdog: int | str | None = None,
    ) -> Task:
        """A cyclic task of ``period`` (ns, or a duration such as ``"100ms"``)."""
        if name in self.tasks:
            raise ConflictError(f"controller {self.name} already has a task {name!r}")
        period_ns = _ns(period)
        if period_ns <= 0:
            raise InvalidError(f"task {name!r}: the period must be positive, not {period!r}")
        wd = _ns(watchdog) if watchdog is not None else int(period_ns * self.watchdog_factor)
        task = Task(name, period_ns, priority, wd, order=len(self.tasks))
        self.tasks[name] = task
        Controller.schedule_version += 1
        return task

    def add_program(self, name: str, cls: type[POU], task: str) -> POU:
        """An instance ``name`` of the program class ``cls`` run by ``task``."""
        if getattr(cls, "KIND", "") != "PROGRAM":
            raise InvalidError(f"{getattr(cls, 'NAME', cls.__name__)} is not a PROGRAM")
        if name in self._classes:
            raise ConflictError(f"controller {self.name} already has a program {name!r}")
        if task not in self.tasks:
            raise NotFoundError(f"controller {self.name} has no task {task!r}")
        self._classes[name] = cls
        self._task_of[name] = task
        self.tasks[task].programs.append(name)
        self._programs[name] = cls(self.ctx)
        return self._programs[name]

    def program(self, name: str) -> POU:
        """The running instance of program ``name``."""
        try:
            return self._programs[name]
        except KeyError:
            raise NotFoundError(
                f"controller {self.name} has no program {name!r} "
                f"(it has: {', '.join(self._programs) or 'none'})"
            ) from None

    @property
    def programs(self) -> dict[str, POU]:
        """Program instances by name (a copy)."""
        return dict(self._programs)

    def add_observer(self, observer: ScanObserver) -> Callable[[], None]:
        """Call ``observer(controller, task)`` after every scan; returns a remover."""
        self._observers.append(observer)
        return lambda: self._observers.remove(observer) if observer in self._observers else None

    def on_fault(self, callback: Callable[[Fault], None]) -> None:
        """Call ``callback(fault)`` when the controller goes to its safe state."""
        self._fault_observers.append(callback)

    # --- start --------------------------------------------------------------------------

    def start(self, at_ns: int = 0, *, warm: bool = True) -> RestartReport:
        """(Re)start at clock time ``at_ns``: fresh instances, RETAIN restored (warm) or
        reset (cold), fault cleared, statistics reset, every task due at ``at_ns``."""
        with self.lock:
            report = RestartReport("warm" if warm else "cold")
            self._programs = {name: cls(self.ctx) for name, cls in self._classes.items()}
            self._committed = {}
            self._removed = set()
            self._base = 0
            self._bind_all(initial=True)  # before restoring: safe outputs are initial values
            if self.retain is not None and not warm:
                self.retain.clear(self.name)
            elif self.retain is not None:
                image = self.retain.load(self.name)
                self.last_commit_seq = image.seq
                if image.seq:
                    self._base = image.now_ns + min(
                        (t.period_ns for t in self.tasks.values()), default=0
                    )
                self._restore(image.values, report)
            self.ctx.now_ns = self._base
            for task in self.tasks.values():
                task.scans = 0
                task.stats = ScanStatistics()
            self.align(at_ns)
            self.fault = None
            self.started = True
            return report

    def align(self, at_ns: int) -> None:
        """Make every task due at clock time ``at_ns``, the controller's time 0 (a start
        already done, e.g. of many controllers, whose scans should begin together)."""
        with self.lock:
            self._epoch = at_ns
            for task in self.tasks.values():
                task.next_ns = at_ns
            Controller.schedule_version += 1

    def _restore(
        self, values: dict[tuple[str, str], tuple[str, Any]], report: RestartReport
    ) -> None:
        current: set[tuple[str, str]] = set()
        for name, pou in self._programs.items():
            for leaf in retained_leaves(pou):
                key = (name, leaf.path)
                current.add(key)
                if key not in values:
                    continue
                type_name, stored = values[key]
                where = f"{name}.{leaf.path}"
                if type_name.replace(" ", "").upper() != leaf.type_name.replace(" ", "").upper():
                    report.skipped.append(f"{where}: stored {type_name}, now {leaf.type_name}")
                    continue
                try:
                    leaf.write(decode_into(leaf.read(), stored))
                except ValueError as exc:
                    report.skipped.append(f"{where}: {exc}")
                    continue
                self._committed[key] = stored
                report.restored.append(where)
        self._removed = {k for k in values if k not in current}  # deleted at the next commit

    def _bind_all(self, *, initial: bool = False) -> None:
        """Resolve I/O, calls and RETAIN leaves of every task against the instances."""
        safe: list[tuple[Callable[[Any], None], Any]] = []
        for task in self.tasks.values():
            task._calls = [self._programs[p] for p in task.programs]
            task._leaves = [
                (p, leaf) for p in task.programs for leaf in retained_leaves(self._programs[p])
            ]
            task._inputs = []
            task._outputs = []
            for b in self.io.inputs:
                if b.program in task.programs:
                    task._inputs.append((accessor(self.program(b.program), b.path)[1], b.read))
            for ob in self.io.outputs:
                if ob.program in task.programs:
                    get = accessor(self.program(ob.program), ob.path)[0]
                    task._outputs.append((get, ob.write))
                    if ob.has_safe:
                        safe.append((ob.write, ob.safe))
                    elif initial:
                        safe.append((ob.write, encode(get())))
            task._before = [h for t, h in self.io.before if t is None or t == task.name]
            task._after = [h for t, h in self.io.after if t is None or t == task.name]
        for b in self.io.inputs:
            if b.program not in self._programs:
                self.program(b.program)  # raises NotFoundError naming the program
        if initial:
            self._safe = safe

    # --- scanning -------------------------------------------------------------------------

    def next_due_ns(self) -> int | None:
        """Clock time of the next nominal scan start (None when faulted or not started)."""
        if self.fault is not None or not self.started or not self.tasks:
            return None
        return min(t.next_ns for t in self.tasks.values())

    def scan(self, task: Task, clock: Clock, watchdog: Watchdog | None = None) -> None:
        """Run one scan of ``task`` now (the runner calls this when it is due)."""
        nominal = task.next_ns
        actual = clock.now_ns()
        with self.lock:
            if self.fault is not None:
                return
            ctx = self.ctx
            ctx.now_ns = self._base + (nominal - self._epoch)
            ctx.cycle_ns = task.period_ns
            ctx.scan = task.scans
            limit = clock.watchdog_real_ns(task.watchdog_ns)
            t0 = time.perf_counter_ns()
            if watchdog is not None:
                watchdog.arm(limit)
            try:
                for hook in task._before:
                    hook(task.name)
                for set_, read in task._inputs:
                    set_(read())
                for program in task._calls:
                    program()
                if self.retain is not None and (task._leaves or self._removed):
                    self._commit(task, ctx.now_ns)
                for get, write in task._outputs:
                    write(get())
                for hook in task._after:
                    hook(task.name)
                fired = watchdog.disarm() if watchdog is not None else False
            except WatchdogExpired:
                if watchdog is not None:
                    watchdog.disarm()
                fired = True
            except Exception as exc:
                if watchdog is not None:
                    watchdog.disarm()
                self._go_safe(task, f"{type(exc).__name__}: {exc}")
                return
            duration = time.perf_counter_ns() - t0
            if fired or duration > limit:
                self._go_safe(
                    task,
                    f"watchdog: scan ran {duration / 1e6:.1f} ms of real time, more than "
                    f"{limit / 1e6:.1f} ms ({format_duration(task.watchdog_ns)} watchdog)",
                )
                return
            task.scans += 1
            task.stats.record(duration, actual - nominal)
            task.next_ns = nominal + task.period_ns
            if clock.realtime:
                end = clock.now_ns()
                if end > task.next_ns:
                    task.stats.overruns += 1
                    missed = -(-(end - task.next_ns) // task.period_ns)
                    task.next_ns += missed * task.period_ns
            for observer in self._observers:
                try:
                    observer(self, task)
                except Exception:  # an observer's bug must not stop the controller
                    _log.exception("observer %r of controller %s failed", observer, self.name)

    def _commit(self, task: Task, now_ns: int) -> None:
        """One durable transaction with the retained values this scan changed."""
        assert self.retain is not None
        changed: dict[tuple[str, str], tuple[str, Any]] = {}
        committed = self._committed
        for program, leaf in task._leaves:
            value = leaf.read()
            if type(value) not in (bool, int, float, str):
                value = encode(value)
            key = (program, leaf.path)
            old = committed.get(key, _MISSING)
            if (
                old is _MISSING
                or type(old) is not type(value)
                or (old != value and value == value)  # NaN == NaN here: no rewrite each scan
            ):
                changed[key] = (leaf.type_name, value)
        removed = [k for k in self._removed if k[0] in task.programs and k not in changed]
        if not changed and not removed:
            return
        self.last_commit_seq = self.retain.commit(self.name, changed, now_ns, removed)
        for key, (_, value) in changed.items():
            committed[key] = value
        self._removed.difference_update(removed)

    def _go_safe(self, task: Task, reason: str) -> None:
        """Fault: stop every task, write the safe outputs, tell the observers."""
        self.fault = Fault(self.name, task.name, reason, self.ctx.now_ns)
        Controller.schedule_version += 1
        _log.error("controller %s faulted in task %s: %s", self.name, task.name, reason)
        for write, value in self._safe:
            with contextlib.suppress(Exception):  # the safe state must reach every output
                write(value)
        for callback in self._fault_observers:
            callback(self.fault)

    # --- online change ----------------------------------------------------------------

    def online_change(self, name: str, new_cls: type[POU]) -> ChangeReport:
        """Replace program ``name`` by a new version between two scans, carrying its state
        over (rules in :mod:`phactory.control.runtime.online`).

        Raises
        ------
        OnlineChangeRefused
            With the reasons; the running program is unchanged.
        """
        with self.lock:
            old = self.program(name)
            new, report = plan_change(name, old, new_cls, self.ctx)
            self._classes[name] = new_cls
            self._programs[name] = new
            if self.started:
                before = {k for k in self._committed if k[0] == name}
                self._bind_all()
                now = {(name, leaf.path) for leaf in retained_leaves(new)}
                for key in before - now:
                    self._committed.pop(key, None)
                    self._removed.add(key)
            return report

    # --- statistics -----------------------------------------------------------------------

    def scan_stats(self) -> list[ScanStats]:
        """Statistics of every task, in the order the tasks were added."""
        return [t.stats.summary(t.name, self.unit, t.period_ns) for t in self.tasks.values()]


_MISSING: Any = object()
