"""Failed points of a study: recorded, reported, and refused when there are too many.

Sensitivity analyses, design spaces and surrogates sample a model over a box of
parameters; the model may fail at some points (:class:`~phactory.process.SimulationError`).
A study carries on past them (:func:`phactory.process.parallel.evaluate_many`) and exposes
them as ``failures``: a DataFrame with one row per failed evaluation, the sample's row
(``sample``), the value of every varied parameter and the error message (``error``).

What each study does with the failed points (stated in its docstring too):

* Sobol' (Saltelli's design) and Morris: both estimators are averages over independent
  groups of rows, a base sample with its ``D + 1`` re-mixed rows (Sobol', ``D + 2`` rows
  with first-order indices only) or a trajectory (Morris, ``D + 1`` rows). A group with a
  failed row is dropped whole and the indices are computed from the complete groups
  (complete-case analysis). This keeps every remaining estimate exactly the estimator's,
  on fewer samples (wider bootstrap intervals); imputing the missing outputs would invent
  model behaviour where the model has none. The indices then describe the model where it
  runs: if failures cluster in a region, that region is under-represented, which is why
  the loss is capped.
* Design space: the point's CQAs are ``NaN`` and its probability of success is computed
  over the draws that ran (``n_failed`` per grid point is reported); a grid point whose
  nominal run failed is not in the design space.
* Surrogates: failed training or test points are left out of the fit and of the R^2.

A study fails with :class:`TooManyFailuresError` (naming the count, the cap and the first
failure) when the fraction lost, of evaluations or, for Sobol' and Morris, of groups,
exceeds ``max_failed_fraction`` (default :data:`DEFAULT_MAX_FAILED_FRACTION`, 10 %), and
always when nothing usable is left.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import pandas as pd

from phactory.errors import InvalidError
from phactory.process.contract import FloatArray
from phactory.process.parallel import Evaluations

__all__ = [
    "DEFAULT_MAX_FAILED_FRACTION",
    "TooManyFailuresError",
    "check_fraction",
    "complete_groups",
    "describe",
    "failure_table",
    "no_failures",
]

#: Largest fraction of a study's evaluations (or groups) that may fail.
DEFAULT_MAX_FAILED_FRACTION: Final = 0.1


class TooManyFailuresError(InvalidError):
    """The model failed at too much of the sampled box for the study to mean anything.

    Attributes
    ----------
    failures
        The failed points (see the module docstring).
    """

    def __init__(self, message: str, failures: pd.DataFrame) -> None:
        super().__init__(message)
        self.failures = failures


def no_failures(names: Sequence[str]) -> pd.DataFrame:
    """An empty failure table with the columns of a study varying ``names``."""
    return pd.DataFrame(
        {"sample": pd.Series(dtype=int), **{n: pd.Series(dtype=float) for n in names}}
    ).assign(error=pd.Series(dtype=str))


def failure_table(names: Sequence[str], x: FloatArray, evaluations: Evaluations) -> pd.DataFrame:
    """One row per failed evaluation: its sample row, parameter values and error."""
    if not evaluations.errors:
        return no_failures(names)
    rows = sorted(evaluations.errors)
    table = pd.DataFrame(x[rows], columns=list(names))
    table.insert(0, "sample", rows)
    table["error"] = [evaluations.errors[r] for r in rows]
    return table


def describe(failures: pd.DataFrame, total: int, limit: int = 3) -> str:
    """One line: how many evaluations failed, and where the first ``limit`` did."""
    n = len(failures)
    if n == 0:
        return f"all {total} evaluations ran"
    names = [
        c for c in failures.columns if c != "sample" and pd.api.types.is_numeric_dtype(failures[c])
    ]
    where = []
    for _, row in failures.head(limit).iterrows():
        point = ", ".join(f"{k}={float(row[k]):.6g}" for k in names)
        where.append(f"at {point}: {row['error']}")
    more = f"; and {n - limit} more" if n > limit else ""
    return (
        f"{n} of {total} evaluations failed ({100.0 * n / total:.3g} %): " + "; ".join(where) + more
    )


def check_fraction(
    what: str,
    lost: int,
    total: int,
    max_failed_fraction: float,
    failures: pd.DataFrame,
    evaluations_total: int,
    unit: str = "evaluations",
) -> None:
    """Raise :class:`TooManyFailuresError` if ``lost / total`` exceeds the cap.

    Parameters
    ----------
    what
        The study, e.g. ``"Sobol' analysis of cho_fed_batch"``.
    lost, total
        Units lost and in the study (evaluations, or groups for Sobol' and Morris).
    max_failed_fraction
        The cap, in [0, 1].
    failures
        The failure table (for the message and the exception).
    evaluations_total
        All evaluations of the study (for the message).
    unit
        What ``lost`` and ``total`` count.
    """
    if not 0.0 <= max_failed_fraction <= 1.0:
        raise InvalidError(f"max_failed_fraction must be in [0, 1], got {max_failed_fraction!r}")
    if lost == 0:
        return
    if lost >= total or lost > max_failed_fraction * total:
        raise TooManyFailuresError(
            f"{what}: the model failed at too many points: {lost} of {total} {unit} lost "
            f"({100.0 * lost / total:.3g} %, more than the {100.0 * max_failed_fraction:g} % "
            f"allowed by max_failed_fraction); "
            f"{describe(failures, evaluations_total)}",
            failures,
        )


def complete_groups(failed: np.ndarray, group: int) -> np.ndarray:
    """Boolean mask over groups of ``group`` consecutive rows: True where none failed."""
    return np.asarray(~failed.reshape(-1, group).any(axis=1), dtype=bool)
