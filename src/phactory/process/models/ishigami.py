"""The Ishigami function: the standard test case for global sensitivity analysis.

``y = sin(x1) + a sin(x2)^2 + b x3^4 sin(x1)`` with ``x_i`` uniform on ``[-pi, pi]``. Its
Sobol' indices are known in closed form [1]_ [2]_; for ``a = 7``, ``b = 0.1``: first order
0.3139, 0.4424, 0 and total 0.5576, 0.4424, 0.2437. It is registered as a (static) process
model so that sensitivity analysis is tested through the same contract as the real models.

References
----------
.. [1] T. Ishigami, T. Homma, "An importance quantification technique in uncertainty analysis
   for computer models", Proc. ISUMA '90 (1990) 398-403.
.. [2] A. Saltelli et al., Global Sensitivity Analysis: The Primer, Wiley, 2008, sec. 4.6.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from phactory.process.contract import (
    FloatArray,
    QualityAttribute,
    RunOutput,
    UnitOperationModel,
    Variable,
)
from phactory.process.parameters import Parameter, resolve_parameters

__all__ = ["Ishigami", "ishigami_indices"]


def ishigami_indices(a: float = 7.0, b: float = 0.1) -> dict[str, tuple[float, ...]]:
    """Closed-form first-order (``S1``) and total (``ST``) Sobol' indices [-]."""
    pi = math.pi
    v1 = 0.5 * (1 + b * pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * pi**8 * (1 / 18 - 1 / 50)
    var = v1 + v2 + v13
    return {"S1": (v1 / var, v2 / var, 0.0), "ST": ((v1 + v13) / var, v2 / var, v13 / var)}


class Ishigami(UnitOperationModel):
    """Ishigami function as a model with CPPs ``x1``, ``x2``, ``x3`` and CQA ``y``.

    References
    ----------
    Ishigami and Homma 1990 [1]_; Saltelli et al. 2008 [2]_.
    """

    name = "ishigami"
    title = "Ishigami test function (sensitivity-analysis benchmark)"
    parameters = (
        Parameter("x1", "", 0.0, -math.pi, math.pi, "input 1", cpp=True),
        Parameter("x2", "", 0.0, -math.pi, math.pi, "input 2", cpp=True),
        Parameter("x3", "", 0.0, -math.pi, math.pi, "input 3", cpp=True),
        Parameter("a", "", 7.0, 0.0, 20.0, "coefficient a"),
        Parameter("b", "", 0.1, 0.0, 1.0, "coefficient b"),
    )
    states = ()
    outputs = (Variable("y", "", "function value"),)
    # The acceptance limit is arbitrary; it lets the design-space code run on this function.
    cqas = (QualityAttribute("y", "", "function value", upper=10.0),)

    def _run(self, p: dict[str, float], times: FloatArray | None) -> RunOutput:
        y = float(self._f(np.array([[p["x1"], p["x2"], p["x3"]]]), p["a"], p["b"])[0])
        return np.zeros(1), {"y": np.array([y])}, {"y": y}

    @staticmethod
    def _f(x: FloatArray, a: float | FloatArray, b: float | FloatArray) -> FloatArray:
        return np.asarray(
            np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0]),
            dtype=float,
        )

    def evaluate(
        self,
        samples: npt.ArrayLike,
        names: Sequence[str],
        outputs: Sequence[str] | None = None,
        fixed: Mapping[str, object] | None = None,
    ) -> FloatArray:
        """Vectorised evaluation (see :meth:`UnitOperationModel.evaluate`)."""
        x = np.atleast_2d(np.asarray(samples, dtype=float))
        base = resolve_parameters(self.parameters, fixed)
        cols = {n: x[:, i] for i, n in enumerate(names)}
        for p in self.parameters:
            col = cols.get(p.name)
            if col is not None and (np.any(col < p.lower) or np.any(col > p.upper)):
                bad = float(col[(col < p.lower) | (col > p.upper)][0])
                p.resolve(bad)  # raises ParameterError with the standard message
        full = np.column_stack([cols.get(k, np.full(len(x), base[k])) for k in ("x1", "x2", "x3")])
        a = cols.get("a", np.full(len(x), base["a"]))
        b = cols.get("b", np.full(len(x), base["b"]))
        y = self._f(full, a, b)
        outs = list(outputs) if outputs is not None else ["y"]
        if outs != ["y"]:
            raise KeyError(f"ishigami has one CQA 'y', asked for {outs}")
        return np.asarray(y, dtype=float).reshape(-1, 1)
