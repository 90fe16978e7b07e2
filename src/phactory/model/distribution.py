"""Durations that are fixed or drawn from a distribution.

A phase duration, a repair time or an inter-arrival time is written either as a fixed
quantity (``"4 h"``) or as a mapping naming a distribution::

    duration: {distribution: triangular, low: "3 h", mode: "4 h", high: "6 h"}

All parameters are times, stored in hours. Sampling takes an explicit
``numpy.random.Generator`` so that every stochastic run is reproducible from its seed.
``mean`` is what a plan assumes by default; ``quantile(q)`` gives a planned duration
with a stated chance of not being overrun (a P90 plan), for schedules that must hold
under variability.

References
----------
.. [1] A. M. Law, *Simulation Modeling and Analysis*, 5th ed., McGraw-Hill, 2015, ch. 6
   (the parameterisations used here).
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol

from pydantic import BeforeValidator, Field, model_validator

from phactory.model.base import ModelBase
from phactory.model.quantity import Duration

if TYPE_CHECKING:  # only in annotations: loading a site must not load NumPy (CLI start-up)
    import numpy as np

__all__ = [
    "DurationSpec",
    "Exponential",
    "Fixed",
    "Lognormal",
    "Normal",
    "Triangular",
    "Uniform",
    "planned_hours",
]


class _Sampler(Protocol):
    def sample(self, rng: np.random.Generator) -> float: ...

    def quantile(self, q: float) -> float: ...


class Fixed(ModelBase):
    """A deterministic duration [h]."""

    distribution: Literal["fixed"] = "fixed"
    value: Duration

    @property
    def mean(self) -> float:
        """Expected value [h]."""
        return self.value

    @property
    def minimum(self) -> float:
        """Smallest possible value [h]."""
        return self.value

    def quantile(self, q: float) -> float:
        """The value, whatever ``q`` [h]."""
        _check_q(q)
        return self.value

    def sample(self, rng: np.random.Generator) -> float:
        """Return the value; ``rng`` is untouched so fixed phases do not shift streams."""
        return self.value


class Triangular(ModelBase):
    """Triangular distribution on [low, high] with the given mode [h]."""

    distribution: Literal["triangular"]
    low: Duration = Field(ge=0)
    mode: Duration
    high: Duration

    @model_validator(mode="after")
    def _ordered(self) -> Triangular:
        if not self.low <= self.mode <= self.high or self.low == self.high:
            raise ValueError("triangular needs low <= mode <= high and low < high")
        return self

    @property
    def mean(self) -> float:
        """Expected value (low + mode + high) / 3 [h]."""
        return (self.low + self.mode + self.high) / 3.0

    @property
    def minimum(self) -> float:
        """Smallest possible value [h]."""
        return self.low

    def quantile(self, q: float) -> float:
        """The ``q``-quantile [h] (inverse CDF, Law 2015 §6.2)."""
        _check_q(q)
        a, c, b = self.low, self.mode, self.high
        split = (c - a) / (b - a)
        if q <= split:
            return a + math.sqrt(q * (b - a) * (c - a))
        return b - math.sqrt((1.0 - q) * (b - a) * (b - c))

    def sample(self, rng: np.random.Generator) -> float:
        """Draw one duration [h]."""
        return float(rng.triangular(self.low, self.mode, self.high))


class Uniform(ModelBase):
    """Uniform distribution on [low, high] [h]."""

    distribution: Literal["uniform"]
    low: Duration = Field(ge=0)
    high: Duration

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if not self.low < self.high:
            raise ValueError("uniform needs low < high")
        return self

    @property
    def mean(self) -> float:
        """Expected value [h]."""
        return (self.low + self.high) / 2.0

    @property
    def minimum(self) -> float:
        """Smallest possible value [h]."""
        return self.low

    def quantile(self, q: float) -> float:
        """The ``q``-quantile [h]."""
        _check_q(q)
        return self.low + q * (self.high - self.low)

    def sample(self, rng: np.random.Generator) -> float:
        """Draw one duration [h]."""
        return float(rng.uniform(self.low, self.high))


class Normal(ModelBase):
    """Normal distribution truncated at zero (a duration cannot be negative) [h]."""

    distribution: Literal["normal"]
    mean_: Duration = Field(alias="mean", gt=0)
    sd: Duration = Field(ge=0)

    @property
    def mean(self) -> float:
        """Mean of the untruncated distribution [h] (truncation matters only if sd ~ mean)."""
        return self.mean_

    @property
    def minimum(self) -> float:
        """Smallest possible value [h]."""
        return 0.0

    def quantile(self, q: float) -> float:
        """The ``q``-quantile [h] of the normal truncated at zero (as :meth:`sample` draws)."""
        _check_q(q)
        if self.sd == 0.0:
            return self.mean_
        std = NormalDist(self.mean_, self.sd)
        below = std.cdf(0.0)
        return max(std.inv_cdf(below + q * (1.0 - below)), 0.0)

    def sample(self, rng: np.random.Generator) -> float:
        """Draw one duration [h], resampling the rare negative draw."""
        for _ in range(100):
            x = float(rng.normal(self.mean_, self.sd))
            if x >= 0.0:
                return x
        return self.mean_


class Lognormal(ModelBase):
    """Lognormal distribution given by the mean and standard deviation of the duration [h].

    The underlying normal has sigma^2 = ln(1 + sd^2/mean^2), mu = ln(mean) - sigma^2/2 [1]_.
    """

    distribution: Literal["lognormal"]
    mean_: Duration = Field(alias="mean", gt=0)
    sd: Duration = Field(gt=0)

    @property
    def mean(self) -> float:
        """Expected value [h]."""
        return self.mean_

    @property
    def minimum(self) -> float:
        """Smallest possible value [h]."""
        return 0.0

    def quantile(self, q: float) -> float:
        """The ``q``-quantile [h]: exp(mu + sigma z_q)."""
        _check_q(q)
        s2 = math.log1p((self.sd / self.mean_) ** 2)
        z = NormalDist().inv_cdf(q)
        return math.exp(math.log(self.mean_) - s2 / 2.0 + math.sqrt(s2) * z)

    def sample(self, rng: np.random.Generator) -> float:
        """Draw one duration [h]."""
        s2 = math.log1p((self.sd / self.mean_) ** 2)
        return float(rng.lognormal(math.log(self.mean_) - s2 / 2.0, math.sqrt(s2)))


class Exponential(ModelBase):
    """Exponential distribution with the given mean [h] (memoryless: failures, arrivals)."""

    distribution: Literal["exponential"]
    mean_: Duration = Field(alias="mean", gt=0)

    @property
    def mean(self) -> float:
        """Expected value [h]."""
        return self.mean_

    @property
    def minimum(self) -> float:
        """Smallest possible value [h]."""
        return 0.0

    def quantile(self, q: float) -> float:
        """The ``q``-quantile [h]: -mean ln(1 - q)."""
        _check_q(q)
        return -self.mean_ * math.log1p(-q)

    def sample(self, rng: np.random.Generator) -> float:
        """Draw one duration [h]."""
        return float(rng.exponential(self.mean_))


def planned_hours(spec: DurationSpec, quantile: float | None = None) -> float:
    """The duration a plan assumes [h]: the mean, or the ``quantile`` if one is given."""
    return spec.mean if quantile is None else spec.quantile(quantile)


def _check_q(q: float) -> None:
    if not 0.0 < q < 1.0:
        raise ValueError(f"a quantile needs 0 < q < 1, got {q!r}")


def _fixed_shorthand(value: Any) -> Any:
    # "4 h" is the common case; it stands for {distribution: fixed, value: "4 h"}.
    if isinstance(value, str | int | float):  # bools too, so they get the unit message
        return {"distribution": "fixed", "value": value}
    if isinstance(value, dict) and "distribution" not in value and "value" in value:
        return {"distribution": "fixed", **value}
    return value


#: A duration that is fixed (``"4 h"``) or a distribution mapping; all values in hours.
DurationSpec = Annotated[
    Fixed | Triangular | Uniform | Normal | Lognormal | Exponential,
    Field(discriminator="distribution"),
    BeforeValidator(_fixed_shorthand),
]
