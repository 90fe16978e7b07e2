"""Fed-batch CHO trajectories with known faults, for batch evolution monitoring.

Each batch is a run of the kinetics of :class:`~phactory.process.models.cho_fed_batch.
CHOFedBatch` (Xing et al. 2010 [1]_, calibrated to a modern platform process; its
:meth:`~phactory.process.models.cho_fed_batch.CHOFedBatch.rates` are used as they are),
integrated here with two things the model's own ``simulate`` cannot express: inputs that
change at any time (a fault from a time on) and a harvest decided by the batch itself.

Batch-to-batch variation (the "good" population) comes from the parameters a real
platform process varies in: maximum growth rate (6 % CV), specific productivity (6 %),
seeding density (20 %), basal glucose (3 %) and glutamine (5 %), feed rate (3 %), cell
yield on glucose (3 %), plus per-batch offsets of the temperature and pH probes
(0.03 degC, 0.01) and of the dissolved-oxygen level (1 %). Batches are **harvested when
the integral of viable cell density reaches** :data:`IVCD_HARVEST` (a maturity criterion:
titer is ``q_p`` times it), so their durations differ (226 to 279 h, 9.4 to 11.6 days,
over the 30 training batches of ``benchmarks/monitoring_batch.py``, 2026-12-07) and time
alignment alone is not enough.

Measured every ``interval_h`` (0.5 h by default), with noise: ``vcd`` [1e6 cells/mL]
(4 %), ``glucose``, ``glutamine``, ``lactate``, ``ammonia`` [mM] (3-4 % plus a floor),
``titer`` [g/L] (3 % + 0.03), ``temperature`` [degC] (0.05), ``ph`` (0.01), ``do`` [% air
saturation] (1.0), ``feed_total`` (cumulative feed [L], 0.3) and ``ivcd`` [1e6 cells d/mL]
(computed from the measured VCD, so it never decreases: the maturity variable).
The process values that are not states of the kinetic model are simple, stated
surrogates: pH is held at its set point with a small lactate-dependent offset of an
imperfect base-addition loop (-0.002 per mM lactate above 20 mM); DO is held at 40 % until
the oxygen demand of more than 20e6 cells/mL exceeds the sparger, then falls by 1.5 % per
1e6 cells/mL.

Final quality (one value per batch): ``final_titer`` [g/L] (the model's titer at harvest,
with a 2 % assay error) and ``aggregates`` [%], an illustrative high-molecular-weight
species proxy rising with peak ammonia and harvest lactate (``0.8 + 0.25 A_peak +
0.02 L_harvest``, 0.02 assay error) — a made-up relation, stated as such.

Faults (ground truth: batch, kind, variable, start time [h]); each starts at a random time
between 72 h and 60 % of the batch's expected duration:

* ``temperature``: the culture runs at 36.0 degC instead of 37 from the start time (a
  chiller or set point fault): the process and the temperature reading change;
* ``feed``: the feed pump delivers 65 % of its rate from the start time: ``feed_total``,
  glucose and the rest follow;
* ``drift``: the pH probe drifts by +0.004 per hour from the start time (the process is
  unaffected; the probe is not the one in the control loop);
* ``bias``: the DO probe reads 6 % low from the start time (likewise a reading only).

Everything is seeded; the same call gives the same batches.

References
----------
.. [1] Z. Xing, B. M. Bishop, K. Leister, Z. J. Li, "Modeling kinetics of a large-scale
   fed-batch CHO cell culture by Markov chain Monte Carlo method", Biotechnol. Prog. 26
   (2010) 208-219.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from phactory.monitor.batch.trajectory import Batch

__all__ = [
    "FAULT_KINDS",
    "FAULT_VARIABLE",
    "IVCD_HARVEST",
    "QUALITY",
    "VARIABLES",
    "BatchFault",
    "BatchSet",
    "fed_batch_runs",
]

VARIABLES = (
    "vcd",
    "glucose",
    "glutamine",
    "lactate",
    "ammonia",
    "titer",
    "temperature",
    "ph",
    "do",
    "feed_total",
    "ivcd",
)
QUALITY = ("final_titer", "aggregates")
FAULT_KINDS = ("temperature", "feed", "drift", "bias")
#: The variable a fault acts on first (what contributions should point at).
FAULT_VARIABLE = {"temperature": "temperature", "feed": "feed_total", "drift": "ph", "bias": "do"}
#: Harvest when the integral of viable cell density reaches this [1e6 cells d/mL].
IVCD_HARVEST = 110.0
#: Longest a batch runs if it never reaches the harvest criterion [h].
MAX_DURATION_H = 16 * 24.0
#: The typical duration of a batch [h]; faults start before 60 % of it.
_EXPECTED_DURATION_H = 260.0
_FEED_START_H = 72.0
_FAULT_TEMPERATURE = 36.0
_FAULT_FEED_SHARE = 0.65
_DRIFT_PER_H = 0.004
_BIAS_DO = -6.0

# Relative batch-to-batch variation of model parameters (coefficient of variation).
_VARIATION = {
    "mu_max": 0.06,
    "q_p": 0.06,
    "seed_density": 0.20,
    "glucose_0": 0.03,
    "glutamine_0": 0.05,
    "feed_rate": 0.03,
    "y_x_glc": 0.03,
}


@dataclass(frozen=True)
class BatchFault:
    """Ground truth of one faulty batch.

    Attributes
    ----------
    batch
        Batch id.
    kind
        One of :data:`FAULT_KINDS`.
    variable
        The measured variable the fault acts on first.
    start_h
        Hours since the batch start when the fault begins [h].
    """

    batch: str
    kind: str
    variable: str
    start_h: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "fault": self.kind,
            "variable": self.variable,
            "start_h": self.start_h,
        }


@dataclass(frozen=True, eq=False)
class BatchSet:
    """Generated batches with their final quality and the faults injected.

    Attributes
    ----------
    batches
        The trajectories (variables :data:`VARIABLES`, time in hours since the start).
    quality
        ``(n_batches, 2)`` final quality (:data:`QUALITY`), NaN for a running batch.
    faults
        Ground truth of the faulty batches.
    running
        Ids of batches cut off before their harvest.
    """

    batches: tuple[Batch, ...]
    quality: np.ndarray
    faults: tuple[BatchFault, ...]
    running: tuple[str, ...] = ()

    def write_csv(self, path: str | Path, *, with_quality: bool = True) -> Path:
        """One row per sample: ``batch, time_h, <variables>[, <quality>]``.

        Quality columns repeat the batch's final values on each row (empty for a running
        batch), the form ``phactory batchmon fit --quality`` reads.
        """
        p = Path(path)
        with p.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["batch", "time_h", *VARIABLES, *(QUALITY if with_quality else ())])
            for b, q in zip(self.batches, self.quality, strict=True):
                tail = [_cell(v) for v in q] if with_quality else []
                for t, row in zip(b.time, b.values, strict=True):
                    w.writerow([b.id, f"{t:.10g}", *(f"{v:.6g}" for v in row), *tail])
        return p

    def write_quality_csv(self, path: str | Path) -> Path:
        """``batch, final_titer, aggregates``: one row per complete batch."""
        p = Path(path)
        with p.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["batch", *QUALITY])
            for b, q in zip(self.batches, self.quality, strict=True):
                if b.id not in self.running:
                    w.writerow([b.id, *(_cell(v) for v in q)])
        return p


def _cell(v: float) -> str:
    return "" if not np.isfinite(v) else f"{v:.6g}"


def _simulate(
    p: dict[str, float],
    *,
    fault: str | None,
    fault_h: float,
    interval_h: float,
    rng: np.random.Generator,
    offsets: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """One batch: sampled times [h], measured values and (final titer, aggregates)."""
    from scipy.integrate import solve_ivp

    from phactory.process.models.cho_fed_batch import CHOFedBatch

    feed_lph = p["feed_rate"] * p["initial_volume"] / 24.0  # [L/h]

    def inputs(t: float) -> tuple[float, float]:
        after = fault is not None and t >= fault_h
        temp = _FAULT_TEMPERATURE if after and fault == "temperature" else 37.0
        feed = 0.0 if t < _FEED_START_H else feed_lph
        if after and fault == "feed":
            feed *= _FAULT_FEED_SHARE
        return temp, feed

    def rhs(temp: float, f: float) -> Any:
        def fun(t: float, y: np.ndarray) -> list[float]:
            # the model's seven balances, then the integral of VCD [1e6 cells d/mL] and
            # the feed added [L]
            return [*CHOFedBatch.balances(p, temp, f, y), max(float(y[1]), 0.0) / 24.0, f]

        return fun

    def harvest(t: float, y: np.ndarray) -> float:
        return float(y[7] - IVCD_HARVEST)

    harvest.terminal = True  # type: ignore[attr-defined]
    y0 = [p["initial_volume"], p["seed_density"], p["glucose_0"], p["glutamine_0"]]
    y = np.array([*y0, 0.0, 0.5, 0.0, 0.0, 0.0])
    breaks = sorted({0.0, _FEED_START_H, *([fault_h] if fault else []), MAX_DURATION_H})
    ts, ys = [], []
    peak_amm = float(y[5])
    for a, b in itertools.pairwise(breaks):
        temp, f = inputs(a)
        sol = solve_ivp(
            rhs(temp, f),
            (a, b),
            y,
            method="LSODA",
            rtol=1e-5,
            atol=1e-8,
            dense_output=True,
            events=harvest,
        )
        if sol.status == -1:
            raise RuntimeError(f"fed-batch simulation failed: {sol.message}")
        stop, done = float(sol.t[-1]), sol.status == 1
        k = np.arange(np.ceil(a / interval_h - 1e-9), np.floor(stop / interval_h + 1e-9) + 1)
        grid = k * interval_h + 0.0  # no -0.0
        grid = grid[grid <= stop] if done else grid[grid < b]
        if grid.size:
            ts.append(grid)
            ys.append(sol.sol(grid).T)
        peak_amm = max(peak_amm, float(np.max(sol.y[5])))
        y = sol.y[:, -1]
        if done:
            break
    t = np.concatenate(ts)
    states = np.vstack(ys)
    hot = fault == "temperature"
    temps = np.where(hot & (t >= fault_h), _FAULT_TEMPERATURE, 37.0)
    meas = _measure(t, states, temps, fault, fault_h, rng, offsets)
    final_titer = float(y[6]) * (1.0 + 0.02 * rng.standard_normal())
    aggregates = 0.8 + 0.25 * peak_amm + 0.02 * float(y[4]) + 0.02 * rng.standard_normal()
    return t, meas, (final_titer, aggregates)


def _measure(
    t: np.ndarray,
    s: np.ndarray,
    temps: np.ndarray,
    fault: str | None,
    fault_h: float,
    rng: np.random.Generator,
    offsets: np.ndarray,
) -> np.ndarray:
    """Measured variables (:data:`VARIABLES`) from the states, with noise and faults."""
    n = t.size
    e = rng.standard_normal((n, 10))
    vcd = np.maximum(s[:, 1] * (1 + 0.04 * e[:, 0]), 0.0)
    glucose = np.maximum(s[:, 2] * (1 + 0.03 * e[:, 1]) + 0.1 * e[:, 2], 0.0)
    glutamine = np.maximum(s[:, 3] * (1 + 0.03 * e[:, 3]) + 0.02 * e[:, 3], 0.0)
    lactate = np.maximum(s[:, 4] * (1 + 0.03 * e[:, 4]), 0.0)
    ammonia = np.maximum(s[:, 5] * (1 + 0.04 * e[:, 5]) + 0.02 * e[:, 5], 0.0)
    titer = np.maximum(s[:, 6] * (1 + 0.03 * e[:, 6]) + 0.03 * e[:, 6], 0.0)
    temperature = temps + offsets[0] + 0.05 * e[:, 7]
    ph = 7.0 + offsets[1] - 0.002 * np.maximum(s[:, 4] - 20.0, 0.0) + 0.01 * e[:, 8]
    do = 40.0 + offsets[2] - 1.5 * np.maximum(s[:, 1] - 20.0, 0.0) + 1.0 * e[:, 9]
    feed_total = np.maximum(s[:, 8] + 0.3 * rng.standard_normal(n), 0.0)
    after = t >= fault_h
    if fault == "drift":
        ph = ph + _DRIFT_PER_H * np.where(after, t - fault_h, 0.0)
    elif fault == "bias":
        do = do + np.where(after, _BIAS_DO, 0.0)
    ivcd = np.zeros(n)
    ivcd[1:] = np.cumsum(0.5 * (vcd[1:] + vcd[:-1]) * np.diff(t) / 24.0)
    cols = (vcd, glucose, glutamine, lactate, ammonia, titer, temperature, ph, do, feed_total)
    return np.column_stack([*cols, ivcd])


def fed_batch_runs(
    n_good: int,
    *,
    faults: Sequence[str] = (),
    n_running: int = 0,
    seed: int = 0,
    interval_h: float = 0.5,
    prefix: str = "B",
) -> BatchSet:
    """Generate good, faulty and running fed-batch CHO batches (see the module docstring).

    Parameters
    ----------
    n_good
        Good complete batches.
    faults
        One faulty complete batch per entry, of that kind (:data:`FAULT_KINDS`).
    n_running
        Good batches cut off at 40-80 % of their duration (still running).
    seed
        Seed of every random draw.
    interval_h
        Sampling interval [h].
    prefix
        Batch ids are ``prefix`` plus a running number (``B001``...).

    Returns
    -------
    BatchSet
        Good batches first, then the faulty ones, then the running ones.
    """
    from phactory.process.models.cho_fed_batch import CHOFedBatch

    unknown = [f for f in faults if f not in FAULT_KINDS]
    if unknown:
        raise ValueError(f"unknown fault kind(s) {unknown}; known: {', '.join(FAULT_KINDS)}")
    if interval_h <= 0:
        raise ValueError("interval_h must be positive")
    rng = np.random.default_rng(seed)
    base = CHOFedBatch.default_params()
    plan: list[str | None] = [None] * n_good + list(faults) + [None] * n_running
    batches: list[Batch] = []
    quality: list[tuple[float, float]] = []
    truth: list[BatchFault] = []
    running: list[str] = []
    for i, fault in enumerate(plan):
        bid = f"{prefix}{i + 1:03d}"
        p = dict(base)
        for name, cv in _VARIATION.items():
            p[name] = base[name] * float(np.exp(cv * rng.standard_normal()))
        offsets = np.array([0.03, 0.01, 1.0]) * rng.standard_normal(3)
        fault_h = float(rng.uniform(_FEED_START_H, 0.6 * _EXPECTED_DURATION_H))
        t, values, q = _simulate(
            p, fault=fault, fault_h=fault_h, interval_h=interval_h, rng=rng, offsets=offsets
        )
        keep = t.size
        if i >= n_good + len(faults):
            keep = max(4, int(t.size * rng.uniform(0.4, 0.8)))
            running.append(bid)
            q = (float("nan"), float("nan"))
        batches.append(Batch(bid, t[:keep], values[:keep], VARIABLES))
        quality.append(q)
        if fault is not None:
            truth.append(BatchFault(bid, fault, FAULT_VARIABLE[fault], round(fault_h, 3)))
    return BatchSet(tuple(batches), np.array(quality, dtype=float), tuple(truth), tuple(running))
