"""The two clocks a controller runs on: real time and simulated time.

Programs never read a clock (:mod:`phactory.control.pou`): the runtime sets
:attr:`ScanContext.now_ns` to the *nominal* scan start, so a program behaves identically
on either clock. The clock only decides *when* the next scan runs:

* :class:`WallClock` - real (or uniformly sped-up) time. The runner sleeps until the next
  nominal start; the difference between the actual and the nominal start is the jitter.
* :class:`SimClock` - simulated time for virtual commissioning: deterministic and as fast
  as the machine allows. Nothing can change between two scans (inputs are read at the
  start of a scan), so the runner jumps straight to the next instant a task is due.
  Others that take part in the simulation (a plant stepped by the runner, an OPC UA
  server executing a command, a batch driver) may hold time still with :meth:`hold` or a
  quiescence predicate (:meth:`add_quiescence`); simulated time advances only when every
  participant is quiescent, so several controllers and their plant advance together.

One runner (:class:`phactory.control.runtime.Runner`) drives a clock; the controllers of
one plant share that runner and therefore the clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

from phactory.control.pou import NS_PER_S

__all__ = ["Clock", "SimClock", "WallClock"]

#: In simulated time a scan takes no simulated time, so the watchdog guards against hung
#: scans only, with at least this real time [ns]: a load spike on the machine must not
#: make a deterministic simulation fault.
SIM_WATCHDOG_FLOOR_NS = NS_PER_S

#: A sped-up wall clock shrinks the watchdog in real time, but not below this [ns] (nor
#: below the watchdog itself when that is shorter): at 100x a 300 ms watchdog would be 3 ms
#: of real time, which one interpreter pause of a busy process (a web server running the
#: plant) exceeds without any scan hanging.
FAST_WATCHDOG_FLOOR_NS = 100_000_000


class Clock(Protocol):
    """What a runner needs from a clock."""

    #: True when the clock follows real time (overruns and jitter are real).
    realtime: bool

    def now_ns(self) -> int:
        """Current time [ns] on this clock's own time line."""
        ...

    def sleep_until(self, t_ns: int, stop: threading.Event) -> bool:
        """Wait until ``t_ns`` [ns]; returns False when ``stop`` was set while waiting."""
        ...

    def watchdog_real_ns(self, watchdog_ns: int) -> int:
        """The real time [ns] a scan may take for a watchdog time ``watchdog_ns`` [ns]."""
        ...


class WallClock:
    """Real time from :func:`time.perf_counter_ns`, optionally sped up.

    Parameters
    ----------
    speed
        Clock time per real time: 1 is real time, 10 runs ten times faster (scan periods
        and the watchdog shrink accordingly in real time).
    """

    realtime = True

    def __init__(self, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError(f"clock speed must be positive, not {speed}")
        self.speed = float(speed)
        self._t0 = time.perf_counter_ns()

    def now_ns(self) -> int:
        """Clock time since the clock was made [ns]."""
        elapsed = time.perf_counter_ns() - self._t0
        return elapsed if self.speed == 1.0 else int(elapsed * self.speed)

    def sleep_until(self, t_ns: int, stop: threading.Event) -> bool:
        """Sleep until clock time ``t_ns``; wake early and return False on ``stop``."""
        while True:
            remaining = t_ns - self.now_ns()
            if remaining <= 0:
                return not stop.is_set()
            if stop.wait(remaining / self.speed / NS_PER_S):
                return False

    def watchdog_real_ns(self, watchdog_ns: int) -> int:
        """``watchdog_ns`` in real time (sped up, with a floor: :data:`FAST_WATCHDOG_FLOOR_NS`)."""
        scaled = int(watchdog_ns / self.speed)
        return max(scaled, min(watchdog_ns, FAST_WATCHDOG_FLOOR_NS))


class SimClock:
    """Simulated time: deterministic, advanced by the runner from one due instant to the
    next, held still while any participant is not quiescent.

    Parameters
    ----------
    start_ns
        Initial time [ns].
    hung_scan_ns
        Least real time [ns] a scan may take before the watchdog stops it (see
        :data:`SIM_WATCHDOG_FLOOR_NS`).
    """

    realtime = False

    def __init__(self, start_ns: int = 0, *, hung_scan_ns: int = SIM_WATCHDOG_FLOOR_NS) -> None:
        self._now = start_ns
        self.hung_scan_ns = hung_scan_ns
        self._holds = 0
        self._quiescence: list[Callable[[], bool]] = []
        self._cond = threading.Condition()

    def now_ns(self) -> int:
        """Current simulated time [ns]."""
        return self._now

    def sleep_until(self, t_ns: int, stop: threading.Event) -> bool:
        """Wait (in real time) until every participant is quiescent, then jump to ``t_ns``.

        Time never goes backwards: an instant in the past leaves the clock where it is.
        """
        if not self.wait_quiescent(stop):
            return False
        self._now = max(self._now, t_ns)
        return True

    def watchdog_real_ns(self, watchdog_ns: int) -> int:
        """A hung-scan guard only: ``watchdog_ns`` but at least ``hung_scan_ns``."""
        return max(watchdog_ns, self.hung_scan_ns)

    # --- quiescence ---------------------------------------------------------------------

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Keep simulated time still while the ``with`` block runs (e.g. while an OPC UA
        method call is being carried out), from any thread."""
        with self._cond:
            self._holds += 1
        try:
            yield
        finally:
            with self._cond:
                self._holds -= 1
                self._cond.notify_all()

    def add_quiescence(self, predicate: Callable[[], bool]) -> Callable[[], None]:
        """Hold time still whenever ``predicate()`` is False; returns a remover.

        Predicates are polled (every millisecond of real time while one is False), so they
        must be cheap and thread-safe.
        """
        with self._cond:
            self._quiescence.append(predicate)

        def remove() -> None:
            with self._cond:
                if predicate in self._quiescence:
                    self._quiescence.remove(predicate)
                self._cond.notify_all()

        return remove

    def quiescent(self) -> bool:
        """No hold is active and every quiescence predicate is True."""
        with self._cond:
            return self._holds == 0 and all(p() for p in self._quiescence)

    def wait_quiescent(self, stop: threading.Event, poll_s: float = 0.001) -> bool:
        """Block until :meth:`quiescent` (True) or ``stop`` is set (False)."""
        if self._holds == 0 and not self._quiescence:
            return not stop.is_set()  # the usual case, without taking the lock
        with self._cond:
            while not (self._holds == 0 and all(p() for p in self._quiescence)):
                if stop.is_set():
                    return False
                self._cond.wait(poll_s)
            return not stop.is_set()
