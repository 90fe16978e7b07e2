"""A generated continuous process with injected faults and their ground truth.

The process is a latent-variable model with autocorrelated dynamics, the structure that
multivariate statistical process monitoring assumes and real continuous units show [1]_:
a few latent drivers (feed composition, ambient temperature, throughput...) move slowly
and drive many correlated measurements, each with its own sensor noise.

Model
-----
Latent state ``l_k`` (``n_latent`` components, unit stationary variance) follows a
first-order vector autoregression with diagonal dynamics and correlated innovations::

    l_k = diag(phi) l_{k-1} + e_k,       e_k ~ N(0, S R S),   S = diag(sqrt(1 - phi^2))

with ``phi`` in [0.85, 0.97] (time constants of 7 to 30 samples) and an innovation
correlation ``rho = 0.8`` between latents 0 and 1 (two parts of the process that move
together, as a cascade loop makes them). Measurements (``n_variables``)::

    x_k = mean + scale * (W^T l_k + noise * v_k),     v_k ~ N(0, I)

where each variable loads on two latents (``W`` sparse, Gaussian weights) and has its
own noise standard deviation ``noise`` (0.2 to 0.5 of its latent part's). ``mean`` and
``scale`` put the variables in engineering units of different sizes (temperatures near
37, pressures near 1.2, flows near 100...), so that a method must scale its data.
Quality variables (``QA1``, ``QA2``... , ``n_quality`` of them, for PLS) depend on latents
0 and 2 only, with 10 % noise: part of the process variation does not affect quality.

Faults
------
Each fault starts at a known row and acts on named variables (:class:`GroundTruth`):

=============  ==========================================================================
kind           what happens from the start row (``magnitude``)
=============  ==========================================================================
bias           a sensor step: one variable offset by ``magnitude`` times its standard
               deviation (default 1.5)
drift          a sensor drift: one variable offset growing by ``magnitude`` standard
               deviations per 500 samples (default 2.0)
variance       two sensors get noisier: their noise standard deviation times
               ``magnitude`` (default 3.0)
correlation    a correlation break inside the latent (PCA) subspace: latents 0 and 1
               decouple (innovation correlation ``0.8 -> magnitude``, default 0.0); every
               variable stays within its normal range and on the normal subspace
dynamics       a dynamics change: latent 2 loses its inertia (``phi -> magnitude``,
               default 0.3) with its stationary variance kept, so every variable keeps
               its normal distribution and only its autocorrelation changes
=============  ==========================================================================

Static PCA cannot see the dynamics fault at all (the distribution of each sample is
unchanged) and sees the correlation break only through its T2 on one minor direction;
the sensor faults leave the subspace and show in the SPE. The named ``variables`` of a
latent fault are those whose variance that latent explains most (at least 30 %).

Every draw comes from ``numpy.random.default_rng`` seeded by ``(process seed, run
seed)``: the same seeds give the same data on every machine.

References
----------
.. [1] J. F. MacGregor, T. Kourti, "Statistical process control of multivariate
   processes", Control Eng. Practice 3 (1995) 403-414.
.. [2] W. Ku, R. H. Storer, C. Georgakis, "Disturbance detection and isolation by dynamic
   principal component analysis", Chemom. Intell. Lab. Syst. 30 (1995) 179-196 (an
   autocorrelated latent process for monitoring benchmarks).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from phactory.errors import InvalidError

__all__ = [
    "DEFAULT_MAGNITUDE",
    "FAULT_KINDS",
    "ContinuousProcess",
    "ExampleSet",
    "Fault",
    "GroundTruth",
    "example_set",
]

#: The fault kinds, in the order of the table above.
FAULT_KINDS: Final = ("bias", "drift", "variance", "correlation", "dynamics")
#: Default magnitude of each fault kind (see the module docstring for the units).
DEFAULT_MAGNITUDE: Final = {
    "bias": 1.5,
    "drift": 2.0,
    "variance": 3.0,
    "correlation": 0.0,
    "dynamics": 0.3,
}
#: Samples over which a drift grows by ``magnitude`` standard deviations.
DRIFT_SAMPLES: Final = 500
#: Innovation correlation of latents 0 and 1 in normal operation.
COUPLING: Final = 0.8
#: Sampling period of the generated data [s].
PERIOD_S: Final = 10
#: Time of the first sample (the ``time`` column is ISO 8601, UTC).
EPOCH: Final = "2025-01-06T00:00:00Z"
_PREFIXES: Final = ("TI", "PI", "FI", "LI", "AI", "SI")
_UNIT_MEAN: Final = {"TI": 37.0, "PI": 1.2, "FI": 100.0, "LI": 55.0, "AI": 7.0, "SI": 300.0}
_UNIT_SCALE: Final = {"TI": 0.5, "PI": 0.05, "FI": 5.0, "LI": 4.0, "AI": 0.1, "SI": 10.0}
_BURN_IN: Final = 300


@dataclass(frozen=True)
class Fault:
    """A fault to inject: its kind, start row and (optionally) size and variables.

    ``magnitude`` and ``variables`` default to :data:`DEFAULT_MAGNITUDE` and to the
    process's own choice (:meth:`ContinuousProcess.fault_variables`).
    """

    kind: str
    start: int
    magnitude: float | None = None
    variables: tuple[str, ...] | None = None


@dataclass(frozen=True)
class GroundTruth:
    """What was injected, where and from when: what a detector is scored against."""

    kind: str
    variables: tuple[str, ...]
    start_row: int
    magnitude: float
    description: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "variables": list(self.variables),
            "start_row": self.start_row,
            "magnitude": self.magnitude,
            "description": self.description,
        }


@dataclass(frozen=True)
class ContinuousProcess:
    """A latent-variable process with AR(1) latents (see the module docstring).

    Build one with :meth:`make`; :meth:`simulate` draws data from it, normal or with a
    fault. All arrays are in standardised latent units except ``mean`` and ``scale``.
    """

    names: tuple[str, ...]
    weights: np.ndarray  # (n_latent, n_variables)
    phi: np.ndarray  # (n_latent,)
    noise: np.ndarray  # (n_variables,)
    mean: np.ndarray  # (n_variables,)
    scale: np.ndarray  # (n_variables,)
    seed: int
    quality_names: tuple[str, ...] = ()
    quality: np.ndarray | None = None  # (n_latent, n_quality)

    @classmethod
    def make(
        cls, *, n_variables: int = 30, n_latent: int = 5, n_quality: int = 2, seed: int = 0
    ) -> ContinuousProcess:
        """A process of ``n_variables`` measurements driven by ``n_latent`` latents, and
        ``n_quality`` quality variables."""
        if n_latent < 3:
            raise InvalidError("the process needs at least 3 latents (faults act on 0, 1, 2)")
        if n_variables < 2 * n_latent:
            raise InvalidError(f"n_variables must be at least {2 * n_latent} (2 per latent)")
        rng = np.random.default_rng([seed, 0])
        weights = np.zeros((n_latent, n_variables))
        for j in range(n_variables):
            # Each variable on its own latent (round robin, so every latent has variables)
            # and one other: a sparse, interpretable structure.
            first = j % n_latent
            other = int(rng.choice([k for k in range(n_latent) if k != first]))
            weights[first, j] = rng.normal(1.0, 0.2) * rng.choice([-1.0, 1.0])
            weights[other, j] = rng.normal(0.0, 0.5)
        phi = rng.uniform(0.85, 0.97, n_latent)
        phi[1] = phi[0]  # the coupled pair shares its dynamics: a clean correlation
        phi[2] = 0.95  # the latent whose dynamics change
        noise = rng.uniform(0.2, 0.5, n_variables) * np.sqrt((weights**2).sum(axis=0))
        prefixes = [_PREFIXES[j % len(_PREFIXES)] for j in range(n_variables)]
        names = tuple(f"{p}{101 + j}" for j, p in enumerate(prefixes))
        mean = np.array([_UNIT_MEAN[p] for p in prefixes]) * rng.uniform(0.9, 1.1, n_variables)
        scale = np.array([_UNIT_SCALE[p] for p in prefixes]) * rng.uniform(0.5, 2.0, n_variables)
        quality = np.zeros((n_latent, n_quality))
        quality[[0, 2]] = rng.normal(0.0, 1.0, (2, n_quality))
        quality_names = tuple(f"QA{i + 1}" for i in range(n_quality))
        return cls(names, weights, phi, noise, mean, scale, seed, quality_names, quality)

    @property
    def n_variables(self) -> int:
        return len(self.names)

    def _latent_cov(self) -> np.ndarray:
        # Stationary covariance of the latents: diag(phi) C diag(phi) + Q = C with
        # Q = S R S, solved element-wise for the diagonal dynamics.
        q = self._innovation_cov(COUPLING)
        return q / (1.0 - np.outer(self.phi, self.phi))

    def _innovation_cov(self, coupling: float, phi: np.ndarray | None = None) -> np.ndarray:
        # Innovations scaled so that every latent has unit stationary variance.
        s = np.sqrt(1.0 - (self.phi if phi is None else phi) ** 2)
        r = np.eye(len(self.phi))
        r[0, 1] = r[1, 0] = coupling
        return np.outer(s, s) * r

    def sd(self) -> np.ndarray:
        """Stationary standard deviation of each variable in normal operation [its unit]."""
        latent_var = np.einsum("kj,kl,lj->j", self.weights, self._latent_cov(), self.weights)
        return np.asarray(self.scale * np.sqrt(latent_var + self.noise**2))

    def fault_variables(self, kind: str) -> tuple[str, ...]:
        """The variables a fault of ``kind`` acts on by default (fixed by the seed)."""
        _check_kind(kind)
        rng = np.random.default_rng([self.seed, 1 + FAULT_KINDS.index(kind)])
        if kind in ("bias", "drift"):
            return (self.names[int(rng.integers(self.n_variables))],)
        if kind == "variance":
            picks = rng.choice(self.n_variables, 2, replace=False)
            return tuple(self.names[int(j)] for j in sorted(picks))
        latents = (0, 1) if kind == "correlation" else (2,)
        share = (self.weights[list(latents)] ** 2).sum(axis=0) / (
            (self.weights**2).sum(axis=0) + self.noise**2
        )
        order = np.argsort(-share, kind="stable")
        return tuple(self.names[int(j)] for j in order if share[j] >= 0.3)

    def simulate(
        self, n_rows: int, *, seed: int, fault: Fault | None = None
    ) -> tuple[pd.DataFrame, GroundTruth | None]:
        """``n_rows`` samples: a ``time`` column (ISO 8601) and one column per variable.

        Returns the data and the ground truth of ``fault`` (``None`` without one).
        """
        if n_rows < 1:
            raise InvalidError("n_rows must be at least 1")
        truth = None if fault is None else self._truth(fault, n_rows)
        rng = np.random.default_rng([self.seed, 1000 + seed])
        n_latent = len(self.phi)
        total = _BURN_IN + n_rows
        start = total if truth is None else _BURN_IN + truth.start_row
        coupling = COUPLING
        phi_after = self.phi.copy()
        if truth is not None and truth.kind == "correlation":
            coupling = truth.magnitude
        if truth is not None and truth.kind == "dynamics":
            phi_after[2] = truth.magnitude
        z = rng.standard_normal((total, n_latent))
        shocks = np.empty_like(z)
        shocks[:start] = z[:start] @ _root(self._innovation_cov(COUPLING)).T
        shocks[start:] = z[start:] @ _root(self._innovation_cov(coupling, phi_after)).T
        latent = _ar1(shocks, self.phi, phi_after, start)[_BURN_IN:]
        x = latent @ self.weights + self.noise * rng.standard_normal((n_rows, self.n_variables))
        values = self.mean + self.scale * x
        if truth is not None:
            values = self._sensor_fault(values, truth, rng)
        columns = list(self.names)
        if self.quality is not None and self.quality_names:
            q = latent @ self.quality
            sd = np.sqrt(np.einsum("kj,kl,lj->j", self.quality, self._latent_cov(), self.quality))
            q = 10.0 + q + 0.1 * sd * rng.standard_normal(q.shape)
            values = np.column_stack([values, q])
            columns += list(self.quality_names)
        time = pd.date_range(EPOCH, periods=n_rows, freq=f"{PERIOD_S}s")
        frame = pd.DataFrame(values, columns=columns)
        frame.insert(0, "time", time.strftime("%Y-%m-%dT%H:%M:%SZ"))
        return frame, truth

    def _truth(self, fault: Fault, n_rows: int) -> GroundTruth:
        _check_kind(fault.kind)
        if not 0 <= fault.start < n_rows:
            raise InvalidError(f"fault start {fault.start} is not a row of {n_rows}")
        magnitude = DEFAULT_MAGNITUDE[fault.kind] if fault.magnitude is None else fault.magnitude
        if fault.kind in ("correlation", "dynamics") and not -1.0 < magnitude < 1.0:
            raise InvalidError(f"a {fault.kind} fault's magnitude must lie in (-1, 1)")
        variables = fault.variables or self.fault_variables(fault.kind)
        unknown = [v for v in variables if v not in self.names]
        if unknown:
            raise InvalidError(f"no variable {', '.join(unknown)} in this process")
        text = {
            "bias": f"sensor step bias of {magnitude:g} standard deviations",
            "drift": f"sensor drift of {magnitude:g} standard deviations per {DRIFT_SAMPLES} "
            "samples",
            "variance": f"sensor noise standard deviation times {magnitude:g}",
            "correlation": f"latents 0 and 1 decouple (innovation correlation {COUPLING:g} -> "
            f"{magnitude:g}); variables stay in range",
            "dynamics": f"latent 2 loses its inertia (AR coefficient 0.95 -> {magnitude:g}, "
            "stationary variance kept)",
        }[fault.kind]
        return GroundTruth(fault.kind, tuple(variables), fault.start, float(magnitude), text)

    def _sensor_fault(
        self, values: np.ndarray, truth: GroundTruth, rng: np.random.Generator
    ) -> np.ndarray:
        cols = [self.names.index(n) for n in truth.variables]
        sd = self.sd()
        out = values.copy()
        rows = np.arange(truth.start_row, len(values))
        for j in cols:
            if truth.kind == "bias":
                out[rows, j] += truth.magnitude * sd[j]
            elif truth.kind == "drift":
                steps = (rows - truth.start_row + 1) / DRIFT_SAMPLES
                out[rows, j] += truth.magnitude * sd[j] * steps
            elif truth.kind == "variance":
                extra = np.sqrt(max(truth.magnitude**2 - 1.0, 0.0))
                more = rng.standard_normal(len(rows))
                out[rows, j] += self.scale[j] * self.noise[j] * extra * more
        return out


def _root(cov: np.ndarray) -> np.ndarray:
    # A square root that tolerates a singular covariance (a coupling of +-1).
    w, u = np.linalg.eigh(cov)
    return np.asarray(u * np.sqrt(np.clip(w, 0.0, None)))


def _ar1(shocks: np.ndarray, phi: np.ndarray, phi_after: np.ndarray, start: int) -> np.ndarray:
    """``l_k = phi * l_{k-1} + shock_k``, with ``phi_after`` from row ``start`` on."""
    from scipy.signal import lfilter

    out = np.empty_like(shocks)
    for k in range(shocks.shape[1]):
        head, zi = lfilter([1.0], [1.0, -phi[k]], shocks[:start, k], zi=[0.0])
        out[:start, k] = head
        if start < len(shocks):
            tail, _ = lfilter([1.0], [1.0, -phi_after[k]], shocks[start:, k], zi=phi_after[k] * zi)
            out[start:, k] = tail
    return out


def _check_kind(kind: str) -> None:
    if kind not in FAULT_KINDS:
        raise InvalidError(f"unknown fault kind {kind!r} (known: {', '.join(FAULT_KINDS)})")


@dataclass(frozen=True)
class ExampleSet:
    """Training, validation and one faulty run per fault kind, from one process."""

    process: ContinuousProcess
    train: pd.DataFrame
    validation: pd.DataFrame
    faults: dict[str, tuple[pd.DataFrame, GroundTruth]]


def example_set(
    seed: int = 0,
    *,
    n_variables: int = 30,
    n_train: int = 2000,
    n_validation: int = 2000,
    n_fault: int = 1000,
    fault_start: int = 200,
    kinds: Sequence[str] = FAULT_KINDS,
    magnitudes: dict[str, float] | None = None,
) -> ExampleSet:
    """Data to try monitoring on: normal training and validation runs, faulty runs.

    Every run uses its own noise seed (training 1, validation 2, faults 10, 11, ...) of
    the one process of seed ``seed``.
    """
    process = ContinuousProcess.make(n_variables=n_variables, seed=seed)
    train, _ = process.simulate(n_train, seed=1)
    validation, _ = process.simulate(n_validation, seed=2)
    faults: dict[str, tuple[pd.DataFrame, GroundTruth]] = {}
    for i, kind in enumerate(kinds):
        magnitude = (magnitudes or {}).get(kind)
        frame, truth = process.simulate(
            n_fault, seed=10 + i, fault=Fault(kind, fault_start, magnitude)
        )
        assert truth is not None
        faults[kind] = (frame, truth)
    return ExampleSet(process, train, validation, faults)
