"""Phase drivers: the interface between the batch engine and whatever runs a phase.

The engine runs every *automatic* phase through a :class:`PhaseDriver`: it starts the
phase on its unit, polls it for progress and process values, and passes on Hold,
Restart, Stop and Abort (ISA-88.00.01 §6.3, phase logic in the equipment). The first
driver, :class:`SimulatedUnit`, simulates a unit; OPC UA controllers and process twins
come behind the same interface.

Time base: a driver reports progress in **recipe hours** since the phase started
(``elapsed_h``). The simulated unit maps wall-clock time to recipe time with
``time_scale`` = recipe time / wall-clock time (:mod:`phactory.batch.time_scale`: 1.0 is
real time; 600 runs a 1 h phase in 6 s; ``math.inf`` finishes every phase at the first
poll). A batch may have a time scale of its own (chosen when it was created); a driver
factory that runs at a time scale (:class:`TimeScaled`, e.g. :class:`SimulatedUnit`)
makes the drivers of such a batch at the batch's scale. Other drivers (real equipment)
run in real time whatever the batch's scale.
"""

from __future__ import annotations

import math
import time
import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from phactory.batch.control_recipe import BoundParameter, ControlPhase
from phactory.batch.time_scale import check_time_scale, recipe_hours

__all__ = [
    "DriverFactory",
    "PhaseDriver",
    "PhaseProgress",
    "Sample",
    "SimulatedUnit",
    "TimeScaled",
]


@dataclass(frozen=True, slots=True)
class Sample:
    """A process value measured during a phase.

    Attributes
    ----------
    parameter
        The parameter's name.
    value
        The value, in ``unit``.
    t_h
        Recipe time since the phase started [h].
    index
        Sample number within the phase, from 1.
    """

    parameter: str
    value: float
    unit: str
    t_h: float
    index: int


@dataclass
class PhaseProgress:
    """What a poll of a driver returns.

    Attributes
    ----------
    elapsed_h
        Recipe time the phase has run [h].
    samples
        Process values measured since the last poll, in time order.
    done
        The phase has completed.
    failed
        Why the phase failed, if it did (the engine holds the batch and raises a
        deviation).
    """

    elapsed_h: float
    samples: list[Sample] = field(default_factory=list)
    done: bool = False
    failed: str | None = None


class PhaseDriver(ABC):
    """Runs one automatic phase on a unit.

    The engine calls :meth:`start` once (again after a restart of the engine, with the
    progress recorded so far), then :meth:`poll` repeatedly, and :meth:`hold`,
    :meth:`restart`, :meth:`stop`, :meth:`abort` on ISA-88 commands.
    """

    @abstractmethod
    def start(self, phase: ControlPhase, *, elapsed_h: float = 0.0, seed: int = 0) -> None:
        """Start ``phase`` (or continue it from ``elapsed_h`` recipe hours)."""

    @abstractmethod
    def poll(self) -> PhaseProgress:
        """Progress and process values since the last poll."""

    @abstractmethod
    def hold(self) -> None:
        """Bring the phase to a safe held state; progress stops."""

    @abstractmethod
    def restart(self) -> None:
        """Continue a held phase."""

    @abstractmethod
    def stop(self) -> None:
        """End the phase in an orderly way before it completes."""

    @abstractmethod
    def abort(self) -> None:
        """End the phase at once."""


#: Makes the driver for an automatic phase.
DriverFactory = Callable[[ControlPhase], PhaseDriver]


@runtime_checkable
class TimeScaled(Protocol):
    """A driver factory whose phases run at a time scale (simulated equipment): the
    engine asks it for the same drivers at a batch's own time scale."""

    def at_time_scale(self, time_scale: float) -> DriverFactory:
        """The same drivers, running at ``time_scale`` (recipe / wall-clock time)."""
        ...


def _stable(text: str) -> int:
    return zlib.crc32(text.encode())


class SimulatedUnit(PhaseDriver):
    """A simulated unit: phases take their recipe duration; values are noisy setpoints.

    Each parameter is measured ``samples_per_phase`` times, evenly over the phase. A
    value is the parameter's target (:attr:`BoundParameter.target`) plus any disturbance
    plus Gaussian noise with a standard deviation of 1/12 of the acceptable range
    (so a value leaves its limits with probability ~2e-9), or 1 % of the target when
    only one limit is given. Noise is seeded per batch seed, phase, parameter and sample
    number, so the values are reproducible and do not change when the engine restarts.

    Parameters
    ----------
    time_scale
        Recipe time / wall-clock time, >= 1 (see :mod:`phactory.batch.time_scale`).
    samples_per_phase
        Measurements of each parameter per phase.
    disturbances
        Offsets added to values: ``{phase id or path: {parameter: offset}}`` (to test
        out-of-limit handling).
    clock
        Monotonic wall clock [s].
    """

    def __init__(
        self,
        *,
        time_scale: float = 1.0,
        samples_per_phase: int = 4,
        disturbances: Mapping[str, Mapping[str, float]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        check_time_scale(time_scale, "SimulatedUnit time_scale")
        if samples_per_phase < 1:
            raise ValueError("samples_per_phase must be >= 1")
        self.time_scale = time_scale
        self.samples_per_phase = samples_per_phase
        self.disturbances = {k: dict(v) for k, v in (disturbances or {}).items()}
        self._clock = clock
        self._phase: ControlPhase | None = None
        self._seed = 0
        self._base_h = 0.0
        self._since: float | None = None
        self._emitted = 0

    def __call__(self, phase: ControlPhase) -> SimulatedUnit:
        """A fresh driver with the same settings, for one phase (a :data:`DriverFactory`)."""
        return self.at_time_scale(self.time_scale)

    def at_time_scale(self, time_scale: float) -> SimulatedUnit:
        """A fresh simulated unit with the same settings at another time scale
        (:class:`TimeScaled`)."""
        return SimulatedUnit(
            time_scale=time_scale,
            samples_per_phase=self.samples_per_phase,
            disturbances=self.disturbances,
            clock=self._clock,
        )

    def _sample_time(self, k: int) -> float:
        assert self._phase is not None
        return self._phase.duration_h * k / self.samples_per_phase

    def start(self, phase: ControlPhase, *, elapsed_h: float = 0.0, seed: int = 0) -> None:
        """Start the phase, or continue it from ``elapsed_h``."""
        self._phase = phase
        self._seed = seed
        self._base_h = min(max(elapsed_h, 0.0), phase.duration_h)
        if phase.duration_h > 0:
            done = self._base_h / phase.duration_h * self.samples_per_phase
            self._emitted = math.floor(done + 1e-9)
        else:
            self._emitted = 0
        self._since = self._clock()

    def _elapsed(self) -> float:
        assert self._phase is not None
        if self._since is None:
            return self._base_h
        if math.isinf(self.time_scale):
            return self._phase.duration_h
        wall = self._clock() - self._since
        return min(self._phase.duration_h, self._base_h + recipe_hours(wall, self.time_scale))

    def _value(self, p: BoundParameter, k: int) -> float:
        assert self._phase is not None
        if p.low is not None and p.high is not None:
            sigma = (p.high - p.low) / 12.0
        else:
            sigma = abs(p.target) * 0.01 or 0.01
        rng = np.random.default_rng([self._seed, _stable(self._phase.path), _stable(p.name), k])
        offset = self.disturbances.get(
            self._phase.path, self.disturbances.get(self._phase.phase, {})
        ).get(p.name, 0.0)
        return float(p.target + offset + sigma * rng.standard_normal())

    def poll(self) -> PhaseProgress:
        """Progress, and the samples whose time has come."""
        if self._phase is None:
            raise RuntimeError("poll() before start()")
        elapsed = self._elapsed()
        samples: list[Sample] = []
        total = self.samples_per_phase
        while self._emitted < total and self._sample_time(self._emitted + 1) <= elapsed + 1e-12:
            self._emitted += 1
            t = self._sample_time(self._emitted)
            for p in self._phase.parameters:
                samples.append(
                    Sample(p.name, self._value(p, self._emitted), p.unit, t, self._emitted)
                )
        done = elapsed >= self._phase.duration_h - 1e-12 and self._emitted >= total
        return PhaseProgress(elapsed_h=elapsed, samples=samples, done=done)

    def hold(self) -> None:
        """Freeze progress."""
        if self._since is not None:
            self._base_h = self._elapsed()
            self._since = None

    def restart(self) -> None:
        """Continue from where the phase was held."""
        if self._since is None:
            self._since = self._clock()

    def stop(self) -> None:
        """End the phase (progress freezes)."""
        self.hold()

    def abort(self) -> None:
        """End the phase at once (progress freezes)."""
        self.hold()
