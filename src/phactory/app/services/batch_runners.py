"""The server's batch runners (one thread per batch that has something to do) and the
time scale of the simulated units.

A batch runs in the server while people follow it in the browser or an API client drives
it: automatic phases on simulated units, manual phases as work instructions done by
people (or by a :class:`~phactory.batch.SimulatedOperator` for demonstrations and virtual
commissioning). The runner of a batch returns as soon as the batch waits for people; a
command, an entry or a signature "kicks" it again. Whatever the engine raises ends the
thread cleanly and is kept as the batch's error, shown on the page and in the API.

Time scale: the simulated units run at recipe time per wall-clock time: 1 is real time
(the default), 600 ten recipe minutes per wall-clock second, ``inf`` instant phases. A
server takes its default from :data:`TIME_SCALE_ENV`; the command line's ``--time-scale``
and the start form of the web page and the API give it per batch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from phactory.app.errors import Invalid
from phactory.errors import PhactoryError

if TYPE_CHECKING:
    from phactory.batch import SimulatedOperator

__all__ = [
    "TIME_SCALE_ENV",
    "BatchRunners",
    "default_time_scale",
    "describe_time_scale",
    "parse_time_scale",
]

log = logging.getLogger("phactory.app.batch")

#: Environment variable of the server's default time scale (recipe / wall-clock time).
TIME_SCALE_ENV: Final = "PHACTORY_BATCH_TIME_SCALE"

#: Runs one batch until it waits for people or ends: ``run_once(batch_id, operator)``.
RunOnce = Callable[[str, "SimulatedOperator | None"], None]


def parse_time_scale(value: str | float) -> float:
    """A time scale from text or a number: ``1`` (real time) or more, or ``inf``/``instant``.

    Raises
    ------
    Invalid
        If it is not a number of at least 1, nor ``inf`` (the message says what to give).
    """
    from phactory.batch import parse_time_scale as parse

    try:
        return float(parse(str(value).strip()))
    except ValueError as exc:
        raise Invalid(str(exc)) from None


def describe_time_scale(scale: float) -> str:
    """``real time``, ``600× real time`` or ``instant``."""
    from phactory.batch import describe_time_scale as describe

    return str(describe(scale))


def default_time_scale() -> float:
    """The server's default time scale: :data:`TIME_SCALE_ENV`, else 1 (real time)."""
    from phactory.batch import time_scale_from_env

    return float(time_scale_from_env(default=1.0))


class BatchRunners:
    """Threads that run batches; at most one per batch.

    Parameters
    ----------
    run_once
        Runs a batch until it waits for people or ends (the engine's ``run``).
    """

    def __init__(self, run_once: RunOnce) -> None:
        self._run_once = run_once
        self._threads: dict[str, threading.Thread] = {}
        self._again: set[str] = set()
        self._operators: dict[str, SimulatedOperator] = {}
        self._errors: dict[str, str] = {}
        self._lock = threading.Lock()
        self._closed = False

    def running(self, batch_id: str) -> bool:
        """Whether a runner of this server is working on the batch."""
        with self._lock:
            return batch_id in self._threads

    def error(self, batch_id: str) -> str | None:
        """Why the last run of the batch failed, if it did."""
        with self._lock:
            return self._errors.get(batch_id)

    def simulate(self, batch_id: str, operator: SimulatedOperator | None) -> None:
        """Let ``operator`` do the batch's manual phases from now on (``None``: people)."""
        with self._lock:
            if operator is None:
                self._operators.pop(batch_id, None)
            else:
                self._operators[batch_id] = operator

    def kick(self, batch_id: str) -> None:
        """Let the runner act on the batch (after a command, an entry or a signature)."""
        with self._lock:
            if self._closed:
                return
            if batch_id in self._threads:
                self._again.add(batch_id)
                return
            thread = threading.Thread(
                target=self._run, args=(batch_id,), name=f"batch-{batch_id}", daemon=True
            )
            self._threads[batch_id] = thread
        thread.start()

    def _run(self, batch_id: str) -> None:
        while True:
            with self._lock:
                operator = self._operators.get(batch_id)
            try:
                self._run_once(batch_id, operator)
                with self._lock:
                    self._errors.pop(batch_id, None)
            except PhactoryError as exc:
                with self._lock:
                    self._errors[batch_id] = str(exc)
            except Exception as exc:  # the thread must end cleanly, whatever happened
                log.exception("runner of batch %s failed", batch_id)
                with self._lock:
                    self._errors[batch_id] = f"runner failed: {exc}"
            with self._lock:
                if batch_id in self._again and not self._closed:
                    self._again.discard(batch_id)
                    continue
                self._again.discard(batch_id)
                del self._threads[batch_id]
                return

    def wait(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` [s] in all for the runners to return."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self._lock:
                threads = list(self._threads.values())
            if not threads:
                return
            left = deadline - time.monotonic()
            if left <= 0:
                return
            threads[0].join(left)

    def close(self, timeout_s: float = 5.0) -> None:
        """Start no more runs; wait up to ``timeout_s`` [s] for those under way."""
        with self._lock:
            self._closed = True
            self._operators.clear()
        self.wait(timeout_s)
