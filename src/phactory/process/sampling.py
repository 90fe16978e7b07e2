"""Sampling parameter sets: uncertain parameters for Monte Carlo, and space-filling designs.

Every function takes its randomness from a ``numpy.random.Generator`` or an integer seed, so a
run is reproducible from its seed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from phactory.process.contract import FloatArray, UnitOperationModel
from phactory.process.parameters import Parameter

__all__ = ["bounds_of", "sample_uncertain", "space_filling", "uncertain_parameters"]


def uncertain_parameters(
    model: UnitOperationModel | type[UnitOperationModel], exclude: Sequence[str] = ()
) -> list[Parameter]:
    """Parameters with a declared (non-zero) uncertainty, minus ``exclude``."""
    return [p for p in model.parameters if p.uncertainty > 0 and p.name not in set(exclude)]


def sample_uncertain(
    model: UnitOperationModel | type[UnitOperationModel],
    n: int,
    rng: np.random.Generator | int | None,
    nominal: Mapping[str, float] | None = None,
    exclude: Sequence[str] = (),
) -> tuple[list[str], FloatArray]:
    """Draw ``n`` values of every uncertain parameter.

    Each parameter is normal around its nominal value with standard deviation
    ``uncertainty * |nominal|``, truncated to the declared bounds (so every draw is a valid
    input).

    Parameters
    ----------
    model
        The model (or its class) whose declarations to use.
    n
        Number of draws.
    rng
        Generator or seed.
    nominal
        Centre values (default: the declared defaults).
    exclude
        Names not to sample (e.g. the CPPs being mapped, or values the caller fixed).

    Returns
    -------
    names, samples
        Parameter names and an array of shape (n, len(names)) in declared units.
    """
    # SciPy's stats take a second to import: only when drawing (the CLI must start fast).
    from scipy.stats import truncnorm

    gen = np.random.default_rng(rng)
    params = uncertain_parameters(model, exclude)
    centre = dict(nominal or {})
    cols = []
    for p in params:
        mu = float(centre.get(p.name, p.default))
        sd = p.uncertainty * abs(mu)
        if sd == 0:
            cols.append(np.full(n, mu))
            continue
        a, b = (p.lower - mu) / sd, (p.upper - mu) / sd
        cols.append(truncnorm.rvs(a, b, loc=mu, scale=sd, size=n, random_state=gen))
    samples = np.column_stack(cols) if cols else np.zeros((n, 0))
    return [p.name for p in params], samples


def bounds_of(
    model: UnitOperationModel | type[UnitOperationModel],
    names: Sequence[str],
    bounds: Mapping[str, tuple[float, float]] | None = None,
) -> FloatArray:
    """Array of shape (len(names), 2) of (lower, upper) [declared units] per parameter."""
    declared = {p.name: p for p in model.parameters}
    out = []
    for n in names:
        if n not in declared:
            raise KeyError(f"unknown parameter {n!r} of model {model.name!r}")
        lo, hi = (bounds or {}).get(n, (declared[n].lower, declared[n].upper))
        declared[n].resolve(lo)
        declared[n].resolve(hi)
        if not lo < hi:
            raise ValueError(f"range of {n!r} is empty: [{lo}, {hi}]")
        out.append((lo, hi))
    return np.asarray(out, dtype=float)


def space_filling(bounds: FloatArray, n: int, seed: int | None) -> FloatArray:
    """``n`` Latin-hypercube points (optimised for spread) inside ``bounds`` (d x 2)."""
    from scipy.stats import qmc

    sampler = qmc.LatinHypercube(d=len(bounds), seed=seed)
    unit = sampler.random(n)
    return np.asarray(qmc.scale(unit, bounds[:, 0], bounds[:, 1]), dtype=float)
