"""Run-to-failure sensor histories and maintenance records with known ground truth.

Shaped like NASA's C-MAPSS turbofan data [1]_ (``unit, cycle, setting_1..3, s_1..s_p``;
training units run to failure, test units cut off before it, the true RUL of each test
unit in a separate file), generated from a seed so that methods can be scored against
the truth.

Degradation model, per unit: an initial wear ``w0 ~ U(0, 0.15)``, a random onset
``t_on ~ U(10, 150)`` cycles, then exponential growth [1]_::

    w(t) = w0 + exp(a (t - t_on)+) - 1,     a ~ LogNormal(ln 0.005, 0.3) [1/cycle]

and failure at the first cycle where the health index ``1 - w`` reaches 0. Each sensor
reads ``level_r + gain_r * w^p + noise``: its level and gain depend on the operating
regime ``r`` of the cycle (1 to 6 regimes, drawn at random per cycle, C-MAPSS's six
flight conditions; the level differences dwarf the degradation signal, as in FD002), about
a third of the sensors do not respond to wear at all, and two columns are constant. Test
units are cut so that their true RUL is uniform on 1 to min(150, 90% of life) cycles.

Maintenance records: machines that fail after Weibull(shape, scale) operating hours,
are maintained preventively every ``pm_interval_h`` operating hours (+-20%), and are
observed up to a horizon; a failure is an observed lifetime, a preventive maintenance or
the end of observation censors it (right censoring, independent of the failure time) [2]_.
Repairs after failures take lognormal times with a known mean and standard deviation.

References
----------
.. [1] A. Saxena, K. Goebel, D. Simon, N. Eklund, "Damage propagation modeling for
   aircraft engine run-to-failure simulation", Proc. Int. Conf. Prognostics and Health
   Management (PHM), 2008.
.. [2] W. Q. Meeker, L. A. Escobar, *Statistical Methods for Reliability Data*, Wiley,
   1998, ch. 2-3 (censoring).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DegradationData", "MaintenanceTruth", "degradation_data", "maintenance_records"]

#: Flight conditions of C-MAPSS (altitude [kft], Mach number, throttle resolver angle).
CONDITIONS = (
    (0.0, 0.0, 100.0),
    (10.0, 0.25, 100.0),
    (20.0, 0.7, 100.0),
    (25.0, 0.62, 60.0),
    (35.0, 0.84, 100.0),
    (42.0, 0.84, 100.0),
)


@dataclass(frozen=True)
class MaintenanceTruth:
    """The failure and repair behaviour the maintenance records are drawn from."""

    shape: float
    scale_h: float
    mttr_h: float
    mttr_sd_h: float
    pm_interval_h: float

    @property
    def mtbf_h(self) -> float:
        """Mean time to failure of the Weibull [h]: scale * Gamma(1 + 1/shape)."""
        return self.scale_h * math.gamma(1.0 + 1.0 / self.shape)


@dataclass(frozen=True)
class DegradationData:
    """Generated data sets (pandas DataFrames) and their ground truth.

    Attributes
    ----------
    train
        Run-to-failure units: ``unit, cycle, setting_1..3, s_1..s_p`` (last row = failure).
    test
        Units cut before failure, same columns.
    test_rul
        ``unit, rul``: true remaining cycles after each test unit's last row.
    maintenance
        ``unit, hours, event, repair_h``: operating hours to each event
        (``failure``, ``preventive``, ``running``) and its duration [h].
    truth
        The Weibull and repair parameters behind ``maintenance``.
    """

    train: pd.DataFrame
    test: pd.DataFrame
    test_rul: pd.DataFrame
    maintenance: pd.DataFrame
    truth: MaintenanceTruth

    def write(self, folder: str | Path) -> list[Path]:
        """Write ``train.csv``, ``test.csv``, ``test_rul.csv``, ``maintenance.csv``."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, frame in (
            ("train", self.train),
            ("test", self.test),
            ("test_rul", self.test_rul),
            ("maintenance", self.maintenance),
        ):
            p = out / f"{name}.csv"
            frame.to_csv(p, index=False)
            paths.append(p)
        return paths


def _units(
    rng: np.random.Generator,
    first: int,
    n: int,
    levels: np.ndarray,
    gains: np.ndarray,
    powers: np.ndarray,
    noise: np.ndarray,
    n_regimes: int,
) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """Full run-to-failure histories: (unit, cycles, settings, sensors) each."""
    out = []
    for u in range(first, first + n):
        w0 = rng.uniform(0.0, 0.15)
        onset = rng.uniform(10.0, 150.0)
        rate = math.exp(rng.normal(math.log(0.005), 0.3))
        life = math.ceil(onset + math.log(2.0 - w0) / rate)
        cycles = np.arange(1, life + 1, dtype=float)
        wear = np.minimum(w0 + np.expm1(rate * np.maximum(cycles - onset, 0.0)), 1.0)
        regime = rng.integers(0, n_regimes, size=life)
        cond = np.asarray(CONDITIONS, dtype=float)[regime]
        jitter = rng.normal(0.0, 1.0, size=(life, 2)) * np.array([0.002, 0.0003])
        settings = np.column_stack(
            [cond[:, 0] + jitter[:, 0], cond[:, 1] + jitter[:, 1], cond[:, 2]]
        )
        signal = levels[regime] + gains[regime] * wear[:, None] ** powers[None, :]
        sensors = signal + rng.normal(0.0, 1.0, size=signal.shape) * noise
        out.append((u, cycles, settings, sensors))
    return out


def _frame(
    units: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]],
    constants: np.ndarray,
    n_sensors: int,
) -> pd.DataFrame:
    import pandas as pd

    empty = np.zeros((0, max(3, n_sensors)))
    cycles = [c for _, c, _, _ in units] or [np.zeros(0)]
    settings = np.concatenate([s for _, _, s, _ in units] or [empty[:, :3]])
    sensors = np.concatenate([x for _, _, _, x in units] or [empty[:, :n_sensors]])
    n = settings.shape[0]
    cols: dict[str, np.ndarray] = {
        "unit": np.concatenate([np.full(len(c), u) for u, c, _, _ in units] or [np.zeros(0, int)]),
        "cycle": np.concatenate(cycles).astype(int),
    }
    for i, digits in enumerate((4, 4, 1)):
        cols[f"setting_{i + 1}"] = np.round(settings[:, i], digits)
    for j in range(n_sensors):
        cols[f"s_{j + 1}"] = np.round(sensors[:, j], 4)
    for k, value in enumerate(constants):
        cols[f"c_{k + 1}"] = np.full(n, value)
    return pd.DataFrame(cols)


def maintenance_records(
    truth: MaintenanceTruth, *, n_machines: int = 30, horizon_h: float = 20_000.0, seed: int = 0
) -> pd.DataFrame:
    """Maintenance and failure records drawn from ``truth`` (see the module docstring).

    Returns
    -------
    DataFrame
        ``unit, hours, event, repair_h``: one row per interval of operation, ``hours`` the
        operating hours since the previous renewal, ``event`` ``failure`` (observed),
        ``preventive`` or ``running`` (censored), ``repair_h`` the time to restore [h]
        (empty for ``running``).
    """
    import pandas as pd

    rng = np.random.default_rng([seed, 7])
    s2 = math.log1p((truth.mttr_sd_h / truth.mttr_h) ** 2)
    mu = math.log(truth.mttr_h) - s2 / 2.0
    rows: list[tuple[str, float, str, float]] = []
    for m in range(1, n_machines + 1):
        elapsed = 0.0
        while True:
            fail = truth.scale_h * rng.weibull(truth.shape)
            pm = truth.pm_interval_h * rng.uniform(0.8, 1.2)
            left = horizon_h - elapsed
            if min(fail, pm) >= left:
                rows.append((f"M{m:02d}", round(left, 3), "running", math.nan))
                break
            if fail < pm:
                repair = float(rng.lognormal(mu, math.sqrt(s2)))
                rows.append((f"M{m:02d}", round(fail, 3), "failure", round(repair, 3)))
                elapsed += fail
            else:
                rows.append((f"M{m:02d}", round(pm, 3), "preventive", round(rng.uniform(2, 4), 3)))
                elapsed += pm
    return pd.DataFrame(rows, columns=["unit", "hours", "event", "repair_h"])


def degradation_data(
    *,
    n_train: int = 100,
    n_test: int = 100,
    n_sensors: int = 14,
    n_regimes: int = 1,
    seed: int = 0,
    truth: MaintenanceTruth | None = None,
    n_machines: int = 30,
) -> DegradationData:
    """Generate run-to-failure data with known RUL and maintenance records.

    Parameters
    ----------
    n_train, n_test
        Units that run to failure; units cut before it.
    n_sensors
        Sensor columns (plus two constant columns).
    n_regimes
        Operating regimes, 1 to 6.
    seed
        Seed of everything drawn.
    truth
        Failure and repair behaviour of the maintenance records (default: Weibull shape
        1.8, scale 1,000 h, preventive maintenance every 800 h, repairs of 5 +- 3 h).
    n_machines
        Machines in the maintenance records.
    """
    import pandas as pd

    if not 1 <= n_regimes <= len(CONDITIONS):
        raise ValueError(f"n_regimes must be 1 to {len(CONDITIONS)}, got {n_regimes}")
    if n_train < 1 or n_test < 0 or n_sensors < 1:
        raise ValueError("n_train >= 1, n_test >= 0 and n_sensors >= 1 are needed")
    rng = np.random.default_rng([seed, 1])
    base = rng.uniform(10.0, 1000.0, size=n_sensors)
    # Levels by regime: +-30% of the base, far above the degradation signal.
    levels = base[None, :] * (1.0 + 0.3 * rng.normal(size=(len(CONDITIONS), n_sensors)))
    responds = rng.random(n_sensors) < 0.65
    gain = base * rng.uniform(0.01, 0.03, n_sensors) * rng.choice([-1.0, 1.0], n_sensors)
    gain = np.where(responds, gain, 0.0)
    gains = gain[None, :] * (1.0 + 0.2 * rng.normal(size=(len(CONDITIONS), n_sensors)))
    powers = rng.choice([1.0, 1.5, 2.0], n_sensors)
    noise = base * rng.uniform(0.002, 0.006, n_sensors)
    constants = np.round(rng.uniform(1.0, 100.0, 2), 2)
    train = _units(rng, 1, n_train, levels, gains, powers, noise, n_regimes)
    full_test = _units(rng, 1, n_test, levels, gains, powers, noise, n_regimes)
    cut_units = []
    rul = []
    for u, c, s, x in full_test:
        life = len(c)
        # The true RUL is uniform on 1..min(150, 90% of life), as C-MAPSS's test sets are
        # cut mostly within the last 150 cycles.
        keep = life - int(rng.integers(1, max(2, min(150, int(0.9 * life))) + 1))
        cut_units.append((u, c[:keep], s[:keep], x[:keep]))
        rul.append((u, life - keep))
    truth = truth or MaintenanceTruth(
        shape=1.8, scale_h=1000.0, mttr_h=5.0, mttr_sd_h=3.0, pm_interval_h=800.0
    )
    return DegradationData(
        train=_frame(train, constants, n_sensors),
        test=_frame(cut_units, constants, n_sensors),
        test_rul=pd.DataFrame(rul, columns=["unit", "rul"]),
        maintenance=maintenance_records(truth, n_machines=n_machines, seed=seed),
        truth=truth,
    )
