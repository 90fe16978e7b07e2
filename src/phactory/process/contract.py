"""The contract every unit-operation model follows.

A model is a small class in the style of a scikit-learn estimator:

* ``__init__`` only stores configuration (e.g. which solvent pair, which strategy); it does no
  work and no validation, so models are cheap to create, to copy and to send to workers.
* The class declares its :class:`~phactory.process.parameters.Parameter` s (with units and
  bounds), its states and outputs (:class:`Variable`) and its critical quality attributes
  (:class:`QualityAttribute`); critical process parameters are the parameters flagged ``cpp``.
* :meth:`UnitOperationModel.simulate` validates the configuration and the parameter values,
  runs the model and returns a :class:`SimulationResult`: a time series and the scalar CQAs.
  Nothing is cached between calls and there is no module-level mutable state, so the same
  parameters always give the same result, in any process.

Subclasses implement :meth:`UnitOperationModel._run`, which computes with NumPy and returns
the reported times, one array per time-series column and the CQAs. Anything that goes wrong
inside it (a solver that does not converge, a non-finite number) surfaces as a
:class:`SimulationError`, never as a silently wrong number.

pandas is imported only when a caller reads :attr:`SimulationResult.timeseries` (a
DataFrame built from those arrays on first access): a single simulation and its JSON
summary (``phactory process simulate MODEL --json``) do not pay for importing it.

Physical sanity is part of the contract: a state or output declared ``nonnegative`` (a
concentration, an amount, a volume) must stay at or above ``-tolerance`` at **every**
reported time, not only at the end of the run; :meth:`UnitOperationModel.simulate` checks
the whole time series and raises :class:`SimulationError` naming the variable and the time
otherwise. The tolerance is :attr:`UnitOperationModel.nonnegative_rtol` times the largest
magnitude the variable reaches in the run, and at least
:attr:`UnitOperationModel.nonnegative_atol` (an integrator's round-off near zero is not a
negative concentration; a sign error in the kinetics is). The absolute floor matters when
a variable stays at zero all run: a glutamine of -3.7e-110 mmol/L, the round-off of a
feed of 4.5e-117 L/h that Hypothesis drew, was then its own largest magnitude.

The declared bounds of every parameter are the model's valid domain: any combination of
values within them must simulate (``tests/process/test_contract.py`` samples each bound and
random interior points of every registered model). Where physics rules out part of a box
(an inner area larger than the outer one), the model is parametrised so that the box is
valid (a ratio in [0, 1]) and its docstring says why.
"""

from __future__ import annotations

import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt

from phactory.errors import InvalidError, PhactoryError
from phactory.process.parameters import Parameter, ParameterError, resolve_parameters

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ModelConfigError",
    "QualityAttribute",
    "RunOutput",
    "SimulationError",
    "SimulationResult",
    "UnitOperationModel",
    "Variable",
]

FloatArray = npt.NDArray[np.float64]

#: What :meth:`UnitOperationModel._run` returns: the reported times [h], one array per
#: time-series column (the same length as the times) and the CQAs by name.
RunOutput = tuple[FloatArray, dict[str, FloatArray], dict[str, float]]


class SimulationError(PhactoryError, RuntimeError):
    """The model could not produce a trustworthy result (solver failure, non-finite value,
    a negative concentration)."""


class ModelConfigError(InvalidError):
    """A model was constructed with configuration it cannot use (checked at simulate)."""


@dataclass(frozen=True, slots=True)
class Variable:
    """A state or output reported in the time series.

    Parameters
    ----------
    name
        Column name in :attr:`SimulationResult.timeseries`.
    unit
        pint unit string [unit] of the column.
    description
        What the variable is.
    nonnegative
        True for quantities that cannot be negative (concentrations, amounts, volumes);
        :meth:`UnitOperationModel.simulate` checks them at every reported time.
    """

    name: str
    unit: str
    description: str
    nonnegative: bool = False


@dataclass(frozen=True, slots=True)
class QualityAttribute:
    """A critical quality attribute: a scalar result with an acceptance range.

    Parameters
    ----------
    name
        Key in :attr:`SimulationResult.cqas`.
    unit
        pint unit string [unit].
    description
        What the attribute is and why it matters.
    lower, upper
        Acceptance limits [unit]; ``None`` means unbounded on that side.
    """

    name: str
    unit: str
    description: str
    lower: float | None = None
    upper: float | None = None

    def accepts(self, value: float) -> bool:
        """True if ``value`` lies within the acceptance limits."""
        if not math.isfinite(value):
            return False
        if self.lower is not None and value < self.lower:
            return False
        return not (self.upper is not None and value > self.upper)

    def limits_text(self) -> str:
        """The acceptance range as text, e.g. ``">= 1.5 g/L"``."""
        unit = f" {self.unit}" if self.unit else ""
        if self.lower is not None and self.upper is not None:
            return f"[{self.lower:g}, {self.upper:g}]{unit}"
        if self.lower is not None:
            return f">= {self.lower:g}{unit}"
        if self.upper is not None:
            return f"<= {self.upper:g}{unit}"
        return "(report only)"


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """What :meth:`UnitOperationModel.simulate` returns.

    Results compare equal when every field is equal, arrays element by element (NaN equal
    to NaN: the same run gives the same result). They pickle without the DataFrame, which
    the receiving process builds again if it reads it.

    Attributes
    ----------
    model
        Registered name of the model.
    params
        Every parameter value used, in its declared unit.
    time
        Reported times [h] (read-only array).
    columns
        One read-only array per declared state and output, in declaration order, aligned
        with ``time``.
    cqas
        Scalar critical quality attributes by name.
    units
        Unit of every time-series column and CQA.
    in_spec
        Per CQA, whether it meets its acceptance limits.
    timeseries
        ``time`` and ``columns`` as a pandas DataFrame: one row per reported time, the
        index is time [h] named ``"time"``, one column per declared state and output.
        Built on first access (the only use of pandas here) and kept.
    """

    model: str
    params: dict[str, float]
    time: FloatArray
    columns: dict[str, FloatArray]
    cqas: dict[str, float]
    units: dict[str, str] = field(default_factory=dict)
    in_spec: dict[str, bool] = field(default_factory=dict)

    @cached_property
    def timeseries(self) -> pd.DataFrame:
        """The time series as a DataFrame (see the class docstring)."""
        import pandas as pd

        return pd.DataFrame(dict(self.columns), index=pd.Index(self.time, name="time"))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SimulationResult):
            return NotImplemented
        return (
            (self.model, self.params, self.cqas, self.units, self.in_spec)
            == (other.model, other.params, other.cqas, other.units, other.in_spec)
            and list(self.columns) == list(other.columns)
            and np.array_equal(self.time, other.time, equal_nan=True)
            and all(
                np.array_equal(v, other.columns[k], equal_nan=True) for k, v in self.columns.items()
            )
        )

    def __getstate__(self) -> dict[str, Any]:
        # The DataFrame is derived from the arrays: workers need not ship it.
        return {k: v for k, v in vars(self).items() if k != "timeseries"}

    @property
    def success(self) -> bool:
        """True if every CQA meets its acceptance limits."""
        return all(self.in_spec.values())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (parameters, CQAs, specification check; no time series)."""
        return {
            "model": self.model,
            "params": dict(self.params),
            "cqas": dict(self.cqas),
            "units": dict(self.units),
            "in_spec": dict(self.in_spec),
            "success": self.success,
        }


class UnitOperationModel(ABC):
    """Base class of every unit-operation model (see the module docstring for the contract).

    Class attributes to declare
    ---------------------------
    name : str
        Registry name, e.g. ``"ivt"``.
    title : str
        Human-readable title.
    parameters : tuple of Parameter
        Inputs with units and bounds; those with ``cpp=True`` are the CPPs.
    states, outputs : tuple of Variable
        Time-series columns (integrated states and derived outputs).
    cqas : tuple of QualityAttribute
        Scalar results with acceptance limits.
    nonnegative_rtol : float
        Tolerance of the non-negativity check, relative to the largest magnitude a
        variable reaches in the run [-].
    nonnegative_atol : float
        Smallest tolerance of the non-negativity check [the variable's unit]: values
        this close to zero are zero.
    """

    nonnegative_rtol: ClassVar[float] = 1e-6
    nonnegative_atol: ClassVar[float] = 1e-12
    name: ClassVar[str]
    title: ClassVar[str]
    parameters: ClassVar[tuple[Parameter, ...]]
    states: ClassVar[tuple[Variable, ...]]
    outputs: ClassVar[tuple[Variable, ...]] = ()
    cqas: ClassVar[tuple[QualityAttribute, ...]]

    def __init__(self) -> None:  # noqa: B027 - concrete: models without configuration
        """Models without configuration take no arguments."""

    # ------------------------------------------------------------------ introspection
    @classmethod
    def parameter(cls, name: str) -> Parameter:
        """The declaration of parameter ``name``."""
        for p in cls.parameters:
            if p.name == name:
                return p
        raise ParameterError(
            name, None, f"unknown parameter {name!r}; known: {', '.join(cls.parameter_names())}"
        )

    @classmethod
    def parameter_names(cls) -> list[str]:
        """Names of all declared parameters, in declaration order."""
        return [p.name for p in cls.parameters]

    @classmethod
    def cpp_names(cls) -> list[str]:
        """Names of the critical process parameters."""
        return [p.name for p in cls.parameters if p.cpp]

    @classmethod
    def cqa_names(cls) -> list[str]:
        """Names of the critical quality attributes."""
        return [q.name for q in cls.cqas]

    @classmethod
    def quality_attribute(cls, name: str) -> QualityAttribute:
        """The declaration of CQA ``name``."""
        for q in cls.cqas:
            if q.name == name:
                return q
        raise KeyError(f"unknown CQA {name!r} of model {cls.name!r}; known: {cls.cqa_names()}")

    @classmethod
    def default_params(cls) -> dict[str, float]:
        """Every parameter at its default value."""
        return {p.name: p.default for p in cls.parameters}

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments this model was created with (like ``get_params``)."""
        sig = inspect.signature(type(self).__init__)
        return {
            k: getattr(self, k)
            for k in sig.parameters
            if k != "self" and sig.parameters[k].kind is not inspect.Parameter.VAR_KEYWORD
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    # ------------------------------------------------------------------ the contract
    def simulate(
        self,
        params: Mapping[str, object] | None = None,
        *,
        times: Sequence[float] | npt.NDArray[np.float64] | None = None,
    ) -> SimulationResult:
        """Run the model.

        Parameters
        ----------
        params
            Parameter values by name: floats in the declared unit or text with a unit.
            Missing parameters take their defaults.
        times
            Optional times [h] at which to report the time series (those beyond the end of
            the run are dropped); by default the model's own reporting grid.

        Returns
        -------
        SimulationResult

        Raises
        ------
        ParameterError
            For unknown, out-of-range or wrongly dimensioned parameters.
        ModelConfigError
            For unusable constructor configuration.
        SimulationError
            If the numerical solution fails, produces non-finite CQAs, or a variable
            declared non-negative goes below zero at any reported time.
        """
        self._check_config()
        values = resolve_parameters(self.parameters, params)
        t_eval = None if times is None else np.asarray(times, dtype=float)
        if t_eval is not None and (t_eval.ndim != 1 or np.any(np.diff(t_eval) < 0)):
            raise ValueError("times must be a one-dimensional, non-decreasing sequence [h]")
        try:
            time, columns, cqas = self._run(values, t_eval)
        except (SimulationError, ParameterError, ModelConfigError):
            raise
        except (ArithmeticError, ValueError, np.linalg.LinAlgError) as exc:
            raise SimulationError(
                f"{self.name}: numerical failure at {values}: {type(exc).__name__}: {exc}"
            ) from exc
        bad = [k for k, v in cqas.items() if not math.isfinite(v)]
        if bad:
            raise SimulationError(f"{self.name}: non-finite CQA(s) {bad} at {values}")
        time, columns = self._frozen_series(time, columns)
        self._check_nonnegative(time, columns)
        units = {v.name: v.unit for v in (*self.states, *self.outputs)}
        units.update({q.name: q.unit for q in self.cqas})
        units["time"] = "h"
        in_spec = {q.name: q.accepts(cqas[q.name]) for q in self.cqas}
        return SimulationResult(self.name, values, time, columns, cqas, units, in_spec)

    def evaluate(
        self,
        samples: npt.ArrayLike,
        names: Sequence[str],
        outputs: Sequence[str] | None = None,
        fixed: Mapping[str, object] | None = None,
    ) -> FloatArray:
        """Evaluate CQAs for many parameter sets (rows of ``samples``).

        Models whose evaluation vectorises (closed-form functions) override this; the default
        loops over :meth:`simulate`.

        Parameters
        ----------
        samples
            Array of shape (n, len(names)), values in the declared units.
        names
            Parameter name of each column.
        outputs
            CQA names to return (default: all CQAs).
        fixed
            Values of other parameters, held constant.

        Returns
        -------
        ndarray of shape (n, len(outputs))
        """
        x = np.atleast_2d(np.asarray(samples, dtype=float))
        outs = list(outputs) if outputs is not None else self.cqa_names()
        base = dict(fixed or {})
        result = np.empty((x.shape[0], len(outs)))
        for i, row in enumerate(x):
            p = dict(base)
            p.update(zip(names, row.tolist(), strict=True))
            cqas = self.simulate(p).cqas
            result[i] = [cqas[o] for o in outs]
        return result

    def _frozen_series(
        self, time: npt.ArrayLike, columns: Mapping[str, npt.ArrayLike]
    ) -> tuple[FloatArray, dict[str, FloatArray]]:
        """Read-only float copies of what ``_run`` returned, checked to line up."""
        t = np.array(time, dtype=float)
        if t.ndim != 1:
            raise SimulationError(f"{self.name}: the times must be one-dimensional, got {t.shape}")
        t.flags.writeable = False
        frozen: dict[str, FloatArray] = {}
        for name, values in columns.items():
            col = np.array(values, dtype=float)
            if col.shape != t.shape:
                raise SimulationError(
                    f"{self.name}: column {name!r} has shape {col.shape}, the times {t.shape}"
                )
            col.flags.writeable = False
            frozen[name] = col
        return t, frozen

    def _check_nonnegative(self, time: FloatArray, columns: Mapping[str, FloatArray]) -> None:
        for v in (*self.states, *self.outputs):
            col = columns.get(v.name)
            if not v.nonnegative or col is None or col.size == 0:
                continue
            finite = col[np.isfinite(col)]
            if finite.size == 0:
                continue
            tol = max(self.nonnegative_rtol * float(np.max(np.abs(finite))), self.nonnegative_atol)
            worst = int(np.nanargmin(col))
            if col[worst] < -tol:
                raise SimulationError(
                    f"{self.name}: {v.description} ({v.name!r}) is negative, "
                    f"{col[worst]:.4g} {v.unit} at t = {float(time[worst]):.6g} h"
                )

    # ------------------------------------------------------------------ for subclasses
    def _check_config(self) -> None:  # noqa: B027 - optional hook, deliberately empty
        """Validate constructor configuration; raise :class:`ModelConfigError` if unusable."""

    @abstractmethod
    def _run(self, p: dict[str, float], times: FloatArray | None) -> RunOutput:
        """Simulate with validated parameters ``p``.

        Parameters
        ----------
        p
            Every parameter value, validated, in its declared unit.
        times
            Times [h] at which to report the time series, or ``None`` for the model's own
            grid.

        Returns
        -------
        RunOutput
            ``(time, columns, cqas)``: the reported times [h]; one array per declared state
            and output, in declaration order, each as long as ``time``; the CQAs by name.
        """
