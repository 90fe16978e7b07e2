"""Random number streams of a run: one independent stream per purpose.

Every stochastic input of the twin draws from its own stream, derived from the run's
seed with :class:`numpy.random.SeedSequence` and a fixed ``spawn_key`` per purpose
(and per unit for failures), so that

- the same seed reproduces the same run exactly;
- changing one input (say a unit's MTBF) does not shift the numbers another input sees
  (phase durations, another unit's failures): the streams are synchronised per purpose,
  which is what common random numbers need when scenarios are compared [1]_.

Phase durations are drawn for the whole plan up front: one uniform (and one standard
normal) per phase of every batch, in plan order, transformed by the inverse CDF of each
phase's distribution with vectorised NumPy. A batch's durations therefore depend only on
the seed and its place in the plan, not on what happened before it in the run, and the
simulation loop never calls NumPy for a scalar (a scalar draw costs about a microsecond,
as much as a SimPy event).

References
----------
.. [1] A. M. Law, *Simulation Modeling and Analysis*, 5th ed., McGraw-Hill, 2015,
   §11.2 (common random numbers) and §8.3 (inverse-transform generation).
"""

from __future__ import annotations

import math
import zlib
from typing import Final

import numpy as np
from numpy.typing import NDArray

from phactory.model import DurationSpec, Reliability
from phactory.model.distribution import (
    Exponential,
    Fixed,
    Lognormal,
    Normal,
    Triangular,
    Uniform,
)

__all__ = ["PURPOSES", "FailureClock", "generator", "sample_durations"]

#: The purposes that get their own stream, with their spawn-key index (never reorder).
PURPOSES: Final[dict[str, int]] = {
    "durations": 0,
    "scrap": 1,
    "failures": 2,
    "repairs": 3,
    "fallback": 4,
    "process": 5,
}

Floats = NDArray[np.float64]


def generator(seed: int, purpose: str, key: str | None = None) -> np.random.Generator:
    """The generator for ``purpose`` (and an optional object ``key``, e.g. a unit id).

    The key is hashed with CRC-32 so that a unit's stream does not depend on which other
    units exist or in which order they are defined.
    """
    spawn: tuple[int, ...] = (PURPOSES[purpose],)
    if key is not None:
        spawn = (*spawn, zlib.crc32(key.encode("utf-8")))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=spawn)))


def sample_durations(
    spec: DurationSpec, u: Floats, z: Floats, fallback: np.random.Generator
) -> Floats:
    """Durations [h] of ``spec`` from uniforms ``u`` and standard normals ``z``.

    Inverse transforms (Law 2015, §8.3): triangular by its piecewise inverse CDF,
    exponential as ``-mean ln(1 - u)``, lognormal as ``exp(mu + sigma z)`` with mu and
    sigma from the mean and standard deviation (as :class:`phactory.model.Lognormal`),
    normal truncated at zero by redrawing the rare negative values from ``fallback``.
    Distributions unknown here are sampled one by one with their own ``sample``.
    """
    if isinstance(spec, Fixed):
        return np.full(u.shape, spec.value)
    if isinstance(spec, Uniform):
        return spec.low + u * (spec.high - spec.low)
    if isinstance(spec, Triangular):
        lo, mo, hi = spec.low, spec.mode, spec.high
        c = (mo - lo) / (hi - lo)
        left = lo + np.sqrt(u * (hi - lo) * (mo - lo))
        right = hi - np.sqrt((1.0 - u) * (hi - lo) * (hi - mo))
        return np.where(u < c, left, right)
    if isinstance(spec, Exponential):
        return -spec.mean * np.log1p(-u)
    if isinstance(spec, Lognormal):
        s2 = math.log1p((spec.sd / spec.mean) ** 2)
        return np.exp(math.log(spec.mean) - s2 / 2.0 + math.sqrt(s2) * z)
    if isinstance(spec, Normal):
        x = spec.mean + spec.sd * z
        neg = x < 0.0
        for _ in range(100):
            if not neg.any():
                break
            x[neg] = fallback.normal(spec.mean, spec.sd, int(neg.sum()))
            neg = x < 0.0
        return np.where(neg, spec.mean, x)
    sampler = spec
    return np.array([sampler.sample(fallback) for _ in range(u.size)], dtype=float).reshape(u.shape)


class FailureClock:
    """Times to failure and repair times of one unit, from the unit's own streams.

    Time to failure counts operating (producing) hours. Exponential with mean ``mtbf``,
    or Weibull with shape beta and scale eta = mtbf / Gamma(1 + 1/beta) so that its mean
    is ``mtbf`` (O'Connor & Kleyner 2012, §2.6); repair restores the unit as good as new.
    Draws are made sixteen at a time to keep NumPy calls out of the event loop.
    """

    BLOCK: Final[int] = 16

    def __init__(self, reliability: Reliability, seed: int, unit_id: str) -> None:
        self._rel = reliability
        self._ttf_rng = generator(seed, "failures", unit_id)
        self._rep_rng = generator(seed, "repairs", unit_id)
        self._fallback = generator(seed, "fallback", unit_id)
        if reliability.model == "weibull":
            self._scale = reliability.mtbf / math.gamma(1.0 + 1.0 / reliability.shape)
            self._inv_shape = 1.0 / reliability.shape
        else:
            self._scale = reliability.mtbf
            self._inv_shape = 1.0
        self._ttf: list[float] = []
        self._rep: list[float] = []

    def next_ttf(self) -> float:
        """Operating hours until the next failure [h]."""
        if not self._ttf:
            e = -np.log1p(-self._ttf_rng.random(self.BLOCK))
            draws = self._scale * e**self._inv_shape
            self._ttf = draws[::-1].tolist()
        return self._ttf.pop()

    def next_repair(self) -> float:
        """Hours to repair the failure that just happened [h]."""
        if not self._rep:
            u = self._rep_rng.random(self.BLOCK)
            z = self._rep_rng.standard_normal(self.BLOCK)
            draws = sample_durations(self._rel.mttr, u, z, self._fallback)
            self._rep = draws[::-1].tolist()
        return self._rep.pop()
