"""Global sensitivity analysis of any process model with SALib: Sobol' and Morris.

Sobol' indices [1]_ apportion the variance of a CQA to the inputs (first order ``S1``: alone;
total ``ST``: including interactions), estimated with Saltelli's sampling [2]_; Morris'
elementary effects [3]_ (``mu_star``, ``sigma``) screen many inputs cheaply. Inputs vary
uniformly over their declared bounds (or given ranges). Model evaluations run in parallel via
:func:`phactory.process.parallel.evaluate_many` (local process pool by default, Dask when a
scheduler address is given); the analysis itself is deterministic for a given seed.

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
        Model evaluations used.
    """

    method: str
    model: str
    inputs: list[str]
    indices: dict[str, pd.DataFrame]
    n_evaluations: int
    settings: dict[str, Any] = field(default_factory=dict)

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
        fig = make_subplots(rows=1, cols=len(outs), subplot_titles=outs)
        keys = ("S1", "ST") if self.method == "sobol" else ("mu_star", "sigma")
        for j, out in enumerate(outs, start=1):
            df = self.indices[out]
            for k, colour in zip(keys, ("#1f77b4", "#ff7f0e"), strict=True):
                err = df.get(f"{k}_conf")
                fig.add_trace(
                    go.Bar(
                        x=list(df.index),
                        y=df[k],
                        name=k,
                        marker_color=colour,
                        showlegend=j == 1,
                        error_y=None if err is None else {"type": "data", "array": err},
                    ),
                    row=1,
                    col=j,
                )
        fig.update_layout(
            title=f"{self.method.capitalize()} sensitivity of {self.model} "
            f"({self.n_evaluations} evaluations)",
            barmode="group",
        )
        return fig

    def to_html(self, path: str | Path) -> Path:
        """Write the figure as a self-contained HTML file (plotly.js embedded, no CDN)."""
        out = Path(path)
        self.figure().write_html(out, include_plotlyjs=True, full_html=True)
        return out


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

    Returns
    -------
    SensitivityResult
    """
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol as sobol_sample

    names = list(inputs) if inputs is not None else model.cpp_names()
    outs = _outputs(model, outputs)
    problem = _problem(model, names, bounds)
    x = sobol_sample.sample(problem, n, calc_second_order=False, seed=seed)
    y = evaluate_many(
        model, x, names, outs, fixed, workers=workers, address=address, progress=progress
    )
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
        "sobol", model.name, names, indices, int(x.shape[0]), {"n": n, "seed": seed}
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
) -> SensitivityResult:
    """Morris elementary-effects screening of CQAs.

    Parameters
    ----------
    trajectories
        Number of one-at-a-time trajectories; ``trajectories * (len(inputs) + 1)``
        evaluations.
    levels
        Grid levels per input.

    Other parameters are as for :func:`sobol`.
    """
    from SALib.analyze import morris as morris_analyze
    from SALib.sample import morris as morris_sample

    names = list(inputs) if inputs is not None else model.cpp_names()
    outs = _outputs(model, outputs)
    problem = _problem(model, names, bounds)
    x = morris_sample.sample(problem, trajectories, num_levels=levels, seed=seed)
    y = evaluate_many(
        model, x, names, outs, fixed, workers=workers, address=address, progress=progress
    )
    indices = {}
    for j, out in enumerate(outs):
        res = morris_analyze.analyze(
            problem, x, _finite(y[:, j], out), num_levels=levels, seed=seed
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
        {"trajectories": trajectories, "levels": levels, "seed": seed},
    )


def _finite(y: FloatArray, name: str) -> FloatArray:
    if not np.all(np.isfinite(y)):
        raise ValueError(f"non-finite values of {name!r} in the sensitivity sample")
    return y
