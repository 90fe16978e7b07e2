"""The runner: drives the controllers of one plant on one clock.

A plant has one controller per unit; all of them, and the plant they control, share one
time line. The runner repeatedly finds the earliest instant a task of any controller is
due, lets the clock get there (sleeping on the :class:`WallClock`, jumping on the
:class:`SimClock` once every participant is quiescent), advances the plant to that
instant (:class:`PlantLink`), and runs every task now due: all controllers' tasks ordered
by priority (0 first), then by controller, then by task order. Scans of one runner run
one at a time on the runner's thread, watched by one :class:`Watchdog`.

Garbage collection: before a run on a wall clock, call :func:`freeze_heap` (collect once
and freeze the heap, :func:`gc.freeze`), before the clock starts. A full collection
otherwise walks every object of the process (some 200,000 for a site: the plant, the
compiled programs, NumPy, SciPy) and stopped the scans for 60-200 ms at random instants,
measured as the dominant share of scan jitter; the scans make no cyclic garbage, so after
the freeze a full collection takes well under a millisecond. Objects frozen are never
collected, which is what a long-running controller process wants.
"""

from __future__ import annotations

import gc
import heapq
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

from phactory.control.runtime.clocks import Clock
from phactory.control.runtime.controller import Controller, RestartReport, Task
from phactory.control.runtime.durations import parse_duration
from phactory.control.runtime.watchdog import Watchdog
from phactory.errors import ConflictError

if TYPE_CHECKING:
    from phactory.control.view import ScanStats

__all__ = ["PlantLink", "Runner", "freeze_heap"]


def freeze_heap() -> None:
    """Collect garbage once and move every object to the permanent generation, so that
    later collections walk only what is made from now on (see the module docstring).
    Takes 0.1-0.2 s for a site: call it before the clock of a real-time run starts."""
    gc.collect()
    gc.freeze()


class PlantLink(Protocol):
    """A plant the runner keeps in step with the controllers."""

    def advance(self, t_ns: int) -> None:
        """Bring the plant to clock time ``t_ns`` [ns] (integrate its physics), before the
        scans due at ``t_ns`` read their inputs."""
        ...


class Runner:
    """Runs controllers on a clock (see the module documentation).

    Parameters
    ----------
    clock
        The clock shared by the controllers.
    controllers
        Controllers to run (more with :meth:`add`, which is safe while running; the
        queue of due tasks is rebuilt when the list or a schedule changes).
    plant
        Stepped to every instant before the scans due then.
    watchdog
        Interrupt hung scans (a monitor thread); the scan time is checked after every
        scan in any case.
    """

    def __init__(
        self,
        clock: Clock,
        controllers: Iterable[Controller] = (),
        *,
        plant: PlantLink | None = None,
        watchdog: bool = True,
    ) -> None:
        self.clock = clock
        self.plant = plant
        self.controllers: list[Controller] = list(controllers)
        self._watchdog = Watchdog() if watchdog else None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._heap: list[tuple[int, int, int, int, Task]] = []
        self._queued: list[Controller] | None = None
        self._version = -1
        #: Where the last span ended (or the controllers started): the next
        #: :meth:`run_for` continues from here, so spans on a wall clock tile exactly.
        self.t_ns: int | None = None

    def add(self, controller: Controller, *, start: bool = True, warm: bool = True) -> None:
        """Run ``controller`` too; started now (warm by default) unless ``start`` is False."""
        with self._lock:
            self.controllers = [*self.controllers, controller]
        if start:
            now = self.clock.now_ns()
            controller.start(now, warm=warm)
            self.t_ns = now if self.t_ns is None else self.t_ns

    def start_all(self, *, warm: bool = True, stagger: bool = False) -> list[RestartReport]:
        """(Re)start every controller at the clock's current time.

        With ``stagger``, controller ``i`` of ``n`` starts ``i / n`` of the shortest task
        period later, spreading their scans over the period as independent PLCs would be:
        on a wall clock no scan then waits for the scans of all the other controllers due
        at the same instant (jitter). Each controller's time still starts at 0
        (:attr:`ScanContext.now_ns`), so traces are unchanged.
        """
        reports = [c.start(self.clock.now_ns(), warm=warm) for c in self.controllers]
        # Align after all the starts, which take time: no first scan starts late.
        now = self.clock.now_ns()
        self.t_ns = now
        n = len(self.controllers)
        periods = [t.period_ns for c in self.controllers for t in c.tasks.values()]
        step = min(periods) // n if stagger and periods and n else 0
        for i, c in enumerate(self.controllers):
            c.align(now + i * step)
        return reports

    def run_for(self, duration: int | str) -> None:
        """Run every scan due in the next ``duration`` (ns or e.g. ``"2s"``) from where the
        last span ended (or the controllers started), blocking; the clock is at the end of
        that span afterwards."""
        span = parse_duration(duration) if isinstance(duration, str) else int(duration)
        start = self.clock.now_ns() if self.t_ns is None else self.t_ns
        self.run_until(start + span)

    def run_until(self, end_ns: int | None) -> None:
        """Run every scan nominally due before ``end_ns`` (forever if None, until
        :meth:`stop`)."""
        stop = self._stop
        if threading.current_thread() is not self._thread:
            stop.clear()  # a foreground run; a background one was cleared by start()
        clock = self.clock
        wd = self._watchdog
        if wd is not None:
            wd.start()
        try:
            while not stop.is_set():
                heap = self._queue()
                due = heap[0][0] if heap else None
                if end_ns is not None and (due is None or due >= end_ns):
                    if clock.sleep_until(end_ns, stop):
                        self.t_ns = end_ns
                    break
                if due is None:
                    stop.wait(0.01)  # nothing to run yet: wait for a controller
                    continue
                if not clock.sleep_until(due, stop):
                    break
                now = clock.now_ns() if clock.realtime else due
                if self.plant is not None:
                    self.plant.advance(now)
                batch = []
                while heap and heap[0][0] <= now:
                    batch.append(heapq.heappop(heap))
                batch.sort(key=_priority_order)
                version = Controller.schedule_version
                controllers = self._queued
                assert controllers is not None  # set by _queue()
                for _, priority, ci, order, task in batch:
                    controllers[ci].scan(task, clock, wd)
                    if Controller.schedule_version == version:
                        heapq.heappush(heap, (task.next_ns, priority, ci, order, task))
                    # else the queue is rebuilt before the next instant
        finally:
            if wd is not None:
                wd.stop()

    def _queue(self) -> list[tuple[int, int, int, int, Task]]:
        """The heap of started tasks by next nominal start, rebuilt after any change of a
        schedule (:attr:`Controller.schedule_version`) or of the controllers."""
        if self._queued is not self.controllers or self._version != Controller.schedule_version:
            self._version = Controller.schedule_version
            self._queued = self.controllers
            self._heap = [
                (t.next_ns, t.priority, ci, t.order, t)
                for ci, c in enumerate(self.controllers)
                if c.started and c.fault is None
                for t in c.tasks.values()
            ]
            heapq.heapify(self._heap)
        return self._heap

    def start(self) -> None:
        """Run in a background thread until :meth:`stop`."""
        if self._thread is not None:
            raise ConflictError("the runner is already running")
        self._stop.clear()
        self._thread = threading.Thread(
            target=self.run_until, args=(None,), name="controller-runner", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop running (after the scan in progress) and wait for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def scan_stats(self) -> list[ScanStats]:
        """Scan statistics of every task of every controller."""
        return [s for c in self.controllers for s in c.scan_stats()]


def _priority_order(entry: tuple[int, int, int, int, Task]) -> tuple[int, int, int]:
    """Tasks due together: priority (0 first), then controller, then task order."""
    return entry[1], entry[2], entry[3]
