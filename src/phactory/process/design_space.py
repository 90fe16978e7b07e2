"""Design space (ICH Q8): where in a plane of two CPPs do the CQAs meet their limits?

On a grid of two CPPs the model is run at the nominal values of all other parameters (the
deterministic design space) and, for the probability of success, at ``n_monte_carlo`` draws
of the parameters the model declares uncertain (kinetic constants, material properties;
truncated normal, see :func:`phactory.process.sampling.sample_uncertain`). The same draws are
used at every grid point (common random numbers), so differences between neighbouring points
come from the CPPs, not from sampling noise. Probability of success is the fraction of draws
in which every CQA with acceptance limits is met [1]_ [2]_.

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

    def inside(self) -> pd.DataFrame:
        """Grid points whose probability of success reaches :attr:`target`."""
        return self.table[self.table["probability_of_success"] >= self.target]

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
                z=piv["in_spec"].to_numpy().astype(float),
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
        fig.update_layout(
            title=f"Design space of {self.model}: {', '.join(self.cqas)} within limits",
            height=520,
            width=1150,
        )
        return fig

    def to_html(self, path: str | Path) -> Path:
        """Write a self-contained HTML report (plotly.js embedded, no CDN) with the table."""
        out = Path(path)
        fig_html = self.figure().to_html(include_plotlyjs=True, full_html=False)
        table_html = self.table.to_html(index=False, float_format=lambda v: f"{v:.4g}")
        out.write_text(
            "<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<title>Design space: {self.model}</title></head><body>"
            f"{fig_html}<h2>Grid</h2>{table_html}</body></html>",
            encoding="utf-8",
        )
        return out


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

    Returns
    -------
    DesignSpace
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
    values = evaluate_many(
        model,
        samples,
        names,
        model.cqa_names(),
        other,
        workers=workers,
        address=address,
        progress=progress,
    )
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
        rec: dict[str, float | bool] = {x: float(gx_v), y: float(gy_v)}
        rec.update({c: float(values[g * per, idx[c]]) for c in model.cqa_names()})
        rec["in_spec"] = bool(ok[g * per])
        mc_ok = ok[block][1:]
        rec["probability_of_success"] = float(mc_ok.mean()) if n_monte_carlo else float(ok[g * per])
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
        {"n": (nx, ny), "fixed": base},
    )
