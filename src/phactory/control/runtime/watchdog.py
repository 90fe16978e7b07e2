"""A watchdog that interrupts a scan running past its time limit.

A PLC's watchdog stops a task whose scan does not end in time (an endless ``WHILE`` loop,
a runaway ``FOR``) and puts the controller in its safe state. Here programs are Python
code (compiled ST or Python blocks) run by the runner's thread, so a monitor thread
watches the scan in progress and, past its limit, raises :class:`WatchdogExpired` *in the
scanning thread* with ``PyThreadState_SetAsyncExc`` - the exception surfaces at the next
bytecode boundary, i.e. inside the loop that hangs. (Code blocked inside one C call is
interrupted when that call returns.) The runtime also checks the measured scan time
after every scan, so a scan that ends late faults even between two polls of the monitor.

:class:`WatchdogExpired` derives from :class:`BaseException` so that a block's own
``except Exception`` cannot swallow it.
"""

from __future__ import annotations

import ctypes
import threading
import time

__all__ = ["Watchdog", "WatchdogExpired"]


class WatchdogExpired(BaseException):
    """Raised in a scan that ran past its watchdog time."""


def _set_async_exc(thread_id: int, exc: type[BaseException] | None) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc is not None else None
    )


class Watchdog:
    """Watches one scanning thread: :meth:`arm` at scan start, :meth:`disarm` at scan end.

    One monitor thread per process (a daemon, started with the first watchdog: starting a
    thread costs milliseconds, which would show as jitter) looks at every started
    watchdog every :data:`POLL_S` seconds.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed = False
        self._fired = False
        self._deadline = 0
        self._tid = 0

    def start(self) -> None:
        """Be watched by the monitor thread."""
        _MONITOR.add(self)

    def stop(self) -> None:
        """No longer be watched."""
        _MONITOR.discard(self)

    def arm(self, limit_ns: int) -> None:
        """The calling thread starts a scan that may take ``limit_ns`` [ns] of real time."""
        self._tid = threading.get_ident()
        self._deadline = time.perf_counter_ns() + limit_ns
        self._armed = True

    def disarm(self) -> bool:
        """The scan ended; True if the watchdog fired during it. Idempotent: call it again
        from the handler of :class:`WatchdogExpired`."""
        with self._lock:
            self._armed = False
            fired, self._fired = self._fired, False
            if fired:
                _set_async_exc(self._tid, None)  # not yet delivered: never deliver it
        return fired

    def check(self, now_ns: int) -> None:
        """Interrupt the scan if it is past its deadline (the monitor calls this)."""
        if not self._armed or now_ns < self._deadline:
            return
        with self._lock:
            # Only while the scan is still running (checked under the lock that disarm
            # takes), so the exception never reaches code after the scan.
            if self._armed and not self._fired:
                self._fired = True
                _set_async_exc(self._tid, WatchdogExpired)


#: How often the monitor thread looks at the running scans [s]; a hung scan is
#: interrupted at most this late.
POLL_S = 0.01


class _Monitor:
    """The process's one monitor thread over the started watchdogs."""

    def __init__(self) -> None:
        self._watched: set[Watchdog] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, dog: Watchdog) -> None:
        with self._lock:
            self._watched.add(dog)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="scan-watchdog", daemon=True)
                self._thread.start()

    def discard(self, dog: Watchdog) -> None:
        with self._lock:
            self._watched.discard(dog)

    def _run(self) -> None:
        while True:
            time.sleep(POLL_S)
            with self._lock:
                watched = list(self._watched)
            if watched:
                now = time.perf_counter_ns()
                for dog in watched:
                    dog.check(now)


_MONITOR = _Monitor()
