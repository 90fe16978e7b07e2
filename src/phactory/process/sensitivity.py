"""Global sensitivity analysis of any process model with SALib: Sobol' and Morris.

Sobol' indices [1]_ apportion the variance of a CQA to the inputs (first order ``S1``: alone;
total ``ST``: including interactions), estimated with Saltelli's sampling [2]_; Morris'
elementary effects [3]_ (``mu_star``, ``sigma``) screen many inputs cheaply. Inputs vary
uniformly over their declared bounds (or given ranges). Model evaluations run in parallel via
:func:`phactory.process.parallel.evaluate_many` (local process pool by default, Dask when a
scheduler address is given); the analysis itself is deterministic for a given seed.

Points where the model fails do not abort the analysis. Both estimators average over
independent groups of rows (a Saltelli base sample and its re-mixed rows; a Morris
trajectory): a group with a failed row is dropped whole and the indices are computed from
the complete groups, a complete-case analysis that keeps the estimator exact on fewer
samples rather than inventing outputs (:mod:`phactory.process.failures`). The failed points
are in :attr:`SensitivityResult.failures`; the analysis is refused when more than
``max_failed_fraction`` (10 %) of the groups are lost.

References
----------
.. [1] I. M. Sobol', "Global sensitivity indices for nonlinear mathematical models and their
   Monte Carlo estimates", Math. Comput. Simul. 55 (2001) 271-280.
.. [2] A. Saltelli et al., "Variance based sensitivity analysis of model output. Design and
   estimator for the total sensitivity index", Comput. Phys. Commun. 181 (2010) 259-270.
.. [3] M. D. Morris, "Factorial sampling plans for preliminary computational experiments",
   Technometrics 33 (1991) 161-174; F. Campolongo, J. Cariboni, A. Saltelli, "An effective
   screening design for sensitivity analysis of large models", Environ. Model. Softw. 22
   (2007) 1509-1518.
.. [4] J. Herman, W. Usher, "SALib: an open-source Python library for sensitivity analysis",
   J. Open Source Softw. 2 (2017) 97.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from phactory.process.contract import FloatArray, UnitOperationModel
from phactory.process.failures import (
    DEFAULT_MAX_FAILED_FRACTION,
    check_fraction,
    complete_groups,
    describe,
    failure_table,
    no_failures,
)
from phactory.process.parallel import Progress, evaluate_many
from phactory.process.sampling import bounds_of

__all__ = ["SensitivityResult", "morris", "sobol"]


@dataclass(frozen=True)
class SensitivityResult:
    """Indices per CQA.

    Attributes
    ----------
    method
        ``"sobol"`` or ``"morris"``.
    model
        Model name.
    inputs
        Parameters varied.
    indices
        One DataFrame per CQA, indexed by parameter; columns ``S1``, ``S1_conf``, ``ST``,
        ``ST_conf`` (Sobol') or ``mu``, ``mu_star``, ``sigma``, ``mu_star_conf`` (Morris).
    n_evaluations
        Model evaluations run (failed ones included).
    failures
        The evaluations where the model failed: sample row (``sample``), the inputs'
        values and the error (``error``); empty if none failed.
    n_groups, n_groups_used
        Base samples (Sobol') or trajectories (Morris) drawn, and those without a failed
        evaluation, from which the indices are computed.
    """

    method: str
    model: str
    inputs: list[str]
    indices: dict[str, pd.DataFrame]
    n_evaluations: int
    settings: dict[str, Any] = field(default_factory=dict)
    failures: pd.DataFrame = field(default_factory=pd.DataFrame)
    n_groups: int = 0
    n_groups_used: int = 0

    def failures_text(self) -> str:
        """One line on the failed evaluations (none, or how many and where)."""
        return describe(self.failures, self.n_evaluations)

    def table(self) -> pd.DataFrame:
        """All indices in one long table (columns ``output``, ``parameter`` and indices)."""
        frames = []
        for out, df in self.indices.items():
            frames.append(df.reset_index(names="parameter").assign(output=out))
        cols = ["output", "parameter"]
        tab = pd.concat(frames, ignore_index=True)
        return tab[cols + [c for c in tab.columns if c not in cols]]

    def figure(self) -> Any:
        """A plotly bar chart of the main indices per CQA."""
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        outs = list(self.indices)
        fig = make_subplots(rows=1, cols=len(outs), subplot_titles=[str(o) for o in outs])
        keys = ("S1", "ST") if self.method == "sobol" else ("mu_star", "sigma")
        for j, out in enumerate(outs, start=1):
            df = self.indices[out]
            for k, colour in zip(keys, ("#1f77b4", "#ff7f0e"), strict=True):
                err = df.get(f"{k}_conf")
                fig.add_trace(
                    go.Bar(
                        x=[str(i) for i in df.index],
                        y=df[k],
                        name=k,
                        marker_color=colour,
                        showlegend=j == 1,
                        error_y=None if err is None else {"type": "data", "array": err},
                    ),
                    row=1,
                    col=j,
                )
        failed = f", {len(self.failures)} failed" if len(self.failures) else ""
        fig.update_layout(
            title=(
                f"{self.method.capitalize()} sensitivity of {self.model} "
                f"({self.n_evaluations} evaluations{failed})"
            ),
            barmode="group",
        )
        return fig

    def to_html(self, path: str | Path) -> Path:
        """Write a self-contained HTML page (plotly.js embedded, no CDN): the chart, the
        indices and the failed evaluations, every text escaped."""
        from phactory.process.html import Section, write_page

        sections = [
            Section(f"Indices of {out}", df.reset_index()) for out, df in self.indices.items()
        ]
        if len(self.failures):
            sections.append(
                Section(
                    f"Failed evaluations ({len(self.failures)} of {self.n_evaluations})",
                    self.failures,
                    note=f"Indices computed from {self.n_groups_used} of {self.n_groups} "
                    f"{'base samples' if self.method == 'sobol' else 'trajectories'} "
                    "without a failed evaluation.",
                )
            )
        return write_page(
            path, f"{self.method.capitalize()} sensitivity of {self.model}", self.figure(), sections
        )


def _problem(
    model: UnitOperationModel,
    names: Sequence[str],
    bounds: Mapping[str, tuple[float, float]] | None,
) -> dict[str, Any]:
    b = bounds_of(model, names, bounds)
    return {"num_vars": len(names), "names": list(names), "bounds": b.tolist()}


def _outputs(model: UnitOperationModel, outputs: Sequence[str] | str | None) -> list[str]:
    if outputs is None:
        return model.cqa_names()
    outs = [outputs] if isinstance(outputs, str) else list(outputs)
    for o in outs:
        model.quality_attribute(o)  # raises KeyError naming the known CQAs
    return outs


def sobol(
    model: UnitOperationModel,
    outputs: Sequence[str] | str | None = None,
    *,
    inputs: Sequence[str] | None = None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    n: int = 1024,
    seed: int = 0,
    fixed: Mapping[str, object] | None = None,
    workers: int | None = None,
    address: str | None = None,
    progress: Progress | None = None,
    max_failed_fraction: float = DEFAULT_MAX_FAILED_FRACTION,
) -> SensitivityResult:
    """First-order and total Sobol' indices of CQAs.

    Parameters
    ----------
    model
        Any model of the contract.
    outputs
        CQA name(s) (default: all CQAs).
    inputs
        Parameters to vary (default: the model's CPPs).
    bounds
        Ranges overriding the declared bounds, by parameter.
    n
        Base sample size; ``n * (len(inputs) + 2)`` evaluations. A power of two keeps the
        Sobol' sequence balanced.
    seed
        Seed of the scrambled Sobol' sequence and of the bootstrap confidence intervals.
    fixed
        Values of the other parameters.
    workers, address, progress
        See :func:`phactory.process.parallel.evaluate_many`.
    max_failed_fraction
        Largest fraction of base samples that may be lost to failed evaluations (each
        failure drops its base sample: ``len(inputs) + 2`` rows).

    Returns
    -------
    SensitivityResult

    Raises
    ------
    phactory.process.failures.TooManyFailuresError
        If more than ``max_failed_fraction`` of the base samples, or all, have a failed
        evaluation.
    """
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol as sobol_sample

    names = list(inputs) if inputs is not None else model.cpp_names()
    outs = _outputs(model, outputs)
    problem = _problem(model, names, bounds)
    x = sobol_sample.sample(problem, n, calc_second_order=False, seed=seed)
    ev = evaluate_many(
        model, x, names, outs, fixed, workers=workers, address=address, progress=progress
    )
    failures = failure_table(names, x, ev) if ev.n_failed else no_failures(names)
    keep = complete_groups(ev.failed, len(names) + 2)
    check_fraction(
        f"Sobol' analysis of {model.name}",
        int((~keep).sum()),
        keep.size,
        max_failed_fraction,
        failures,
        x.shape[0],
        unit="base samples",
    )
    y = ev.values.reshape(keep.size, len(names) + 2, len(outs))[keep].reshape(-1, len(outs))
    indices = {}
    for j, out in enumerate(outs):
        res = sobol_analyze.analyze(
            problem, _finite(y[:, j], out), calc_second_order=False, seed=seed
        )
        indices[out] = pd.DataFrame(
            {k: np.asarray(res[k], dtype=float) for k in ("S1", "S1_conf", "ST", "ST_conf")},
            index=pd.Index(names, name="parameter"),
        )
    return SensitivityResult(
        "sobol",
        model.name,
        names,
        indices,
        int(x.shape[0]),
        {"n": n, "seed": seed, "max_failed_fraction": max_failed_fraction},
        failures,
        int(keep.size),
        int(keep.sum()),
    )


def morris(
    model: UnitOperationModel,
    outputs: Sequence[str] | str | None = None,
    *,
    inputs: Sequence[str] | None = None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    trajectories: int = 20,
    levels: int = 4,
    seed: int = 0,
    fixed: Mapping[str, object] | None = None,
    workers: int | None = None,
    address: str | None = None,
    progress: Progress | None = None,
    max_failed_fraction: float = DEFAULT_MAX_FAILED_FRACTION,
) -> SensitivityResult:
    """Morris elementary-effects screening of CQAs.

    Parameters
    ----------
    trajectories
        Number of one-at-a-time trajectories; ``trajectories * (len(inputs) + 1)``
        evaluations.
    levels
        Grid levels per input.
    max_failed_fraction
        Largest fraction of trajectories that may be lost to failed evaluations (each
        failure drops its trajectory).

    Other parameters are as for :func:`sobol`.
    """
    from SALib.analyze import morris as morris_analyze
    from SALib.sample import morris as morris_sample

    names = list(inputs) if inputs is not None else model.cpp_names()
    outs = _outputs(model, outputs)
    problem = _problem(model, names, bounds)
    x = morris_sample.sample(problem, trajectories, num_levels=levels, seed=seed)
    ev = evaluate_many(
        model, x, names, outs, fixed, workers=workers, address=address, progress=progress
    )
    failures = failure_table(names, x, ev) if ev.n_failed else no_failures(names)
    step = len(names) + 1
    keep = complete_groups(ev.failed, step)
    check_fraction(
        f"Morris screening of {model.name}",
        int((~keep).sum()),
        keep.size,
        max_failed_fraction,
        failures,
        x.shape[0],
        unit="trajectories",
    )
    rows = np.repeat(keep, step)
    x_kept, y = x[rows], ev.values[rows]
    indices = {}
    for j, out in enumerate(outs):
        res = morris_analyze.analyze(
            problem, x_kept, _finite(y[:, j], out), num_levels=levels, seed=seed
        )
        indices[out] = pd.DataFrame(
            {
                k: np.asarray(res[k], dtype=float)
                for k in ("mu", "mu_star", "sigma", "mu_star_conf")
            },
            index=pd.Index(names, name="parameter"),
        )
    return SensitivityResult(
        "morris",
        model.name,
        names,
        indices,
        int(x.shape[0]),
        {
            "trajectories": trajectories,
            "levels": levels,
            "seed": seed,
            "max_failed_fraction": max_failed_fraction,
        },
        failures,
        int(keep.size),
        int(keep.sum()),
    )


def _finite(y: FloatArray, name: str) -> FloatArray:
    if not np.all(np.isfinite(y)):
        raise ValueError(f"non-finite values of {name!r} in the sensitivity sample")
    return y
