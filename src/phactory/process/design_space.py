"""Design space (ICH Q8): where in a plane of two CPPs do the CQAs meet their limits?

On a grid of two CPPs the model is run at the nominal values of all other parameters (the
deterministic design space) and, for the probability of success, at ``n_monte_carlo`` draws
of the parameters the model declares uncertain (kinetic constants, material properties;
truncated normal, see :func:`phactory.process.sampling.sample_uncertain`). The same draws are
used at every grid point (common random numbers), so differences between neighbouring points
come from the CPPs, not from sampling noise. Probability of success is the fraction of draws
in which every CQA with acceptance limits is met [1]_ [2]_.

Points where the model fails do not abort the map (:mod:`phactory.process.failures`): the
failed evaluations are in :attr:`DesignSpace.failures`; a grid point's probability of
success is computed over the draws that ran (``n_failed`` counts the others), and a grid
point whose nominal run failed has ``NaN`` CQAs and is not in the design space. The map is
refused when more than ``max_failed_fraction`` (10 %) of all evaluations fail.

References
----------
.. [1] ICH Q8(R2), Pharmaceutical Development, International Council for Harmonisation, 2009
   (design space, sec. 2.4).
.. [2] J. J. Peterson, "A Bayesian approach to the ICH Q8 definition of design space",
   J. Biopharm. Stat. 18 (2008) 959-975.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from phactory.process.contract import UnitOperationModel
from phactory.process.failures import (
    DEFAULT_MAX_FAILED_FRACTION,
    check_fraction,
    describe,
    failure_table,
    no_failures,
)
from phactory.process.parallel import Progress, evaluate_many
from phactory.process.parameters import resolve_parameters
from phactory.process.sampling import bounds_of, sample_uncertain

__all__ = ["DesignSpace", "design_space"]


@dataclass(frozen=True)
class DesignSpace:
    """A mapped design space.

    Attributes
    ----------
    model
        Model name.
    x, y
        The two CPPs on the axes.
    table
        One row per grid point: the two CPP values, each CQA at nominal parameters,
        ``in_spec`` (all limited CQAs met at nominal) and ``probability_of_success``.
    cqas
        The CQAs with acceptance limits that define success.
    target
        Probability of success required for a point to be inside the probabilistic design
        space.
    failures
        The evaluations where the model failed: sample row (``sample``), the values of
        the axes and of the drawn parameters, and the error (``error``); empty if none.
    """

    model: str
    x: str
    y: str
    table: pd.DataFrame
    cqas: list[str]
    units: dict[str, str]
    n_monte_carlo: int
    seed: int
    target: float = 0.9
    settings: dict[str, Any] = field(default_factory=dict)
    failures: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def n_evaluations(self) -> int:
        """Model evaluations run (failed ones included)."""
        return len(self.table) * (1 + self.n_monte_carlo)

    def failures_text(self) -> str:
        """One line on the failed evaluations (none, or how many and where)."""
        return describe(self.failures, self.n_evaluations)

    def inside(self) -> pd.DataFrame:
        """Grid points whose probability of success reaches :attr:`target` (and whose
        nominal run did not fail)."""
        t = self.table
        return t[(t["probability_of_success"] >= self.target) & t[self.cqas].notna().all(axis=1)]

    def figure(self) -> Any:
        """Plotly figure: nominal first CQA (left) and probability of success (right)."""
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        xs = np.sort(self.table[self.x].unique())
        ys = np.sort(self.table[self.y].unique())
        piv = self.table.pivot(index=self.y, columns=self.x)
        first = self.cqas[0]
        fig = make_subplots(
            rows=1,
            cols=2,
            subplot_titles=(
                f"{first} [{self.units.get(first, '')}] at nominal parameters",
                f"probability of success ({self.n_monte_carlo} draws)",
            ),
            horizontal_spacing=0.12,
        )
        fig.add_trace(
            go.Contour(
                x=xs,
                y=ys,
                z=piv[first].to_numpy(),
                colorscale="Viridis",
                colorbar={"x": 0.44, "title": first},
                contours={"showlabels": True},
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Contour(
                x=xs,
                y=ys,
                z=piv["in_spec"].astype(float).to_numpy(),
                showscale=False,
                contours={"start": 0.5, "end": 0.5, "coloring": "lines"},
                line={"color": "white", "width": 3},
                name="nominal acceptance boundary",
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Heatmap(
                x=xs,
                y=ys,
                z=piv["probability_of_success"].to_numpy(),
                zmin=0,
                zmax=1,
                colorscale="RdYlGn",
                colorbar={"title": "P(success)"},
            ),
            row=1,
            col=2,
        )
        fig.add_trace(
            go.Contour(
                x=xs,
                y=ys,
                z=piv["probability_of_success"].to_numpy(),
                showscale=False,
                contours={
                    "start": self.target,
                    "end": self.target,
                    "coloring": "lines",
                    "showlabels": True,
                },
                line={"color": "black", "width": 2},
                name=f"P = {self.target:g}",
            ),
            row=1,
            col=2,
        )
        for c in (1, 2):
            fig.update_xaxes(title_text=f"{self.x} [{self.units.get(self.x, '')}]", row=1, col=c)
            fig.update_yaxes(title_text=f"{self.y} [{self.units.get(self.y, '')}]", row=1, col=c)
        failed = f"; {len(self.failures)} evaluations failed" if len(self.failures) else ""
        fig.update_layout(
            title=f"Design space of {self.model}: {', '.join(self.cqas)} within limits{failed}",
            height=520,
            width=1150,
        )
        return fig

    def to_html(self, path: str | Path) -> Path:
        """Write a self-contained HTML report (plotly.js embedded, no CDN): the maps, the
        grid and the failed evaluations, every text escaped."""
        from phactory.process.html import Section, write_page

        sections = [Section("Grid", self.table)]
        if len(self.failures):
            sections.append(
                Section(
                    f"Failed evaluations ({len(self.failures)} of {self.n_evaluations})",
                    self.failures,
                    note="Probabilities of success are computed over the draws that ran.",
                )
            )
        return write_page(path, f"Design space: {self.model}", self.figure(), sections)


def design_space(
    model: UnitOperationModel,
    x: str,
    y: str,
    *,
    n: int | tuple[int, int] = 11,
    ranges: Mapping[str, tuple[float, float]] | None = None,
    cqas: Sequence[str] | None = None,
    fixed: Mapping[str, object] | None = None,
    n_monte_carlo: int = 50,
    seed: int = 0,
    target: float = 0.9,
    workers: int | None = None,
    address: str | None = None,
    progress: Progress | None = None,
    max_failed_fraction: float = DEFAULT_MAX_FAILED_FRACTION,
) -> DesignSpace:
    """Map CQAs and the probability of success over a grid of two CPPs.

    Parameters
    ----------
    model
        Any model of the contract.
    x, y
        Parameters on the axes (usually CPPs).
    n
        Grid points per axis (or a pair).
    ranges
        Axis ranges overriding the declared bounds.
    cqas
        CQAs that define success (default: those with acceptance limits).
    fixed
        Values of other parameters (also the centre of the uncertainty draws).
    n_monte_carlo
        Draws of the uncertain parameters per grid point (0: deterministic only).
    seed
        Seed of the draws.
    target
        Probability of success defining the probabilistic design space.
    workers, address, progress
        See :func:`phactory.process.parallel.evaluate_many`.
    max_failed_fraction
        Largest fraction of the evaluations that may fail.

    Returns
    -------
    DesignSpace

    Raises
    ------
    phactory.process.failures.TooManyFailuresError
        If more than ``max_failed_fraction`` of the evaluations, or all, fail.
    """
    nx, ny = (n, n) if isinstance(n, int) else n
    if nx < 2 or ny < 2:
        raise ValueError("a design space needs at least 2 grid points per axis")
    if x == y:
        raise ValueError("the two axes must be different parameters")
    b = bounds_of(model, [x, y], ranges)
    limited = [q.name for q in model.cqas if q.lower is not None or q.upper is not None]
    crit = list(cqas) if cqas is not None else limited
    if not crit:
        raise ValueError(f"model {model.name!r} has no CQA with acceptance limits")
    decl = {q.name: q for q in model.cqas}
    for c in crit:
        model.quality_attribute(c)
    gx = np.linspace(float(b[0, 0]), float(b[0, 1]), nx)
    gy = np.linspace(float(b[1, 0]), float(b[1, 1]), ny)
    grid = np.array([(a, c) for c in gy for a in gx])
    base = dict(fixed or {})
    nominal = resolve_parameters(model.parameters, base)
    mc_names, draws = sample_uncertain(model, n_monte_carlo, seed, nominal, exclude=[x, y, *base])
    # One block of rows: nominal point first, then each draw, for every grid point.
    blocks = []
    for gx_v, gy_v in grid:
        nominal_row = [gx_v, gy_v, *[nominal[k] for k in mc_names]]
        rows = [nominal_row] + [[gx_v, gy_v, *d] for d in draws.tolist()]
        blocks.append(rows)
    samples = np.asarray([r for blk in blocks for r in blk], dtype=float)
    names = [x, y, *mc_names]
    other = {k: v for k, v in base.items() if k not in names}
    ev = evaluate_many(
        model,
        samples,
        names,
        model.cqa_names(),
        other,
        workers=workers,
        address=address,
        progress=progress,
    )
    failures = failure_table(names, samples, ev) if ev.n_failed else no_failures(names)
    check_fraction(
        f"design space of {model.name}",
        ev.n_failed,
        samples.shape[0],
        max_failed_fraction,
        failures,
        samples.shape[0],
    )
    values, failed = ev.values, ev.failed
    per = 1 + n_monte_carlo
    idx = {c: i for i, c in enumerate(model.cqa_names())}
    ok = np.ones(values.shape[0], dtype=bool)
    for c in crit:
        q = decl[c]
        col = values[:, idx[c]]
        ok &= np.array([q.accepts(float(v)) for v in col])
    records = []
    for g, (gx_v, gy_v) in enumerate(grid):
        block = slice(g * per, (g + 1) * per)
        rec: dict[str, float | bool | int] = {x: float(gx_v), y: float(gy_v)}
        rec.update({c: float(values[g * per, idx[c]]) for c in model.cqa_names()})
        rec["in_spec"] = bool(ok[g * per])
        ran = ~failed[block]
        if n_monte_carlo:
            mc_ok, mc_ran = ok[block][1:], ran[1:]
            p_success = float(mc_ok[mc_ran].mean()) if mc_ran.any() else float("nan")
        else:
            p_success = float(ok[g * per]) if ran[0] else float("nan")
        rec["probability_of_success"] = p_success
        rec["n_failed"] = int((~ran).sum())
        records.append(rec)
    units = {p.name: p.unit for p in model.parameters}
    units.update({q.name: q.unit for q in model.cqas})
    return DesignSpace(
        model.name,
        x,
        y,
        pd.DataFrame.from_records(records),
        crit,
        units,
        n_monte_carlo,
        seed,
        target,
        {"n": (nx, ny), "fixed": base, "max_failed_fraction": max_failed_fraction},
        failures,
    )
