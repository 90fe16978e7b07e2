"""Binding an equipment phase to its recipe phases: parameters in, reports out.

An equipment phase of a unit serves the recipe phases of the same id run on its
equipment class (possibly in several recipes). Its **parameters** are those recipe
parameters, by name, in the recipe's unit: ``command(ref, Start, {"temperature": 37.0})``
gives the set point in degC when the recipe writes ``"37 degC"``. Each is converted once
(pint, :func:`phactory.model.quantity.convert`) to the unit the block's ``P_*`` input
expects; parameters the block has no input for are accepted, and passed on to the
process model when the model has a parameter of that name (``mg_total`` of IVT,
``shift_time`` of the CHO culture). Every phase also takes ``duration_h``, the phase's
duration in recipe hours (``ControlPhase.duration_h``), which sets ``P_DURATION`` where the
recipe gives no duration of its own (``hold-time``).

Its **reports** are the block's ``R_*`` outputs at the end of the phase, named after the
recipe parameter they measure (so a report compares with that parameter's limits) and in
its unit, plus the results of its process model (titre, RNA yield).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from phactory.control.phases.library import PhaseLogic, ReportSpec
from phactory.control.phases.mapping import normalise
from phactory.control.pou import NS_PER_S
from phactory.errors import InvalidError

if TYPE_CHECKING:
    from phactory.model import Phase

__all__ = [
    "DURATION",
    "ParameterBinding",
    "PhaseBinding",
    "RecipePhase",
    "ReportBinding",
    "bind_phase",
    "phase_attr",
]

#: The parameter every phase takes: its duration in recipe hours.
DURATION = "duration_h"


@dataclass(frozen=True, slots=True)
class RecipePhase:
    """A recipe phase an equipment phase serves: ``recipe/procedure/operation/phase``."""

    recipe: str
    path: str
    phase: Phase


@dataclass(frozen=True, slots=True)
class ParameterBinding:
    """One parameter of an equipment phase.

    Attributes
    ----------
    name
        Recipe parameter name (or ``duration_h``).
    unit
        Unit its values are given in.
    input
        The block input it sets (``None``: not used by the logic).
    scale, offset
        ``block value = value * scale + offset`` (then nanoseconds for a ``TIME`` input).
    time
        The input is a ``TIME``.
    default
        Value at Start when none is given [unit] (the recipe's set point).
    low, high
        Limits [unit] (the recipe's); values outside are refused.
    model_param
        Name of the process-model parameter it feeds, if any.
    description
        What it is.
    """

    name: str
    unit: str
    input: str | None
    scale: float = 1.0
    offset: float = 0.0
    time: bool = False
    default: float | None = None
    low: float | None = None
    high: float | None = None
    model_param: str | None = None
    description: str = ""

    def to_input(self, value: float) -> float | int:
        """``value`` [unit] as the block input expects it."""
        v = value * self.scale + self.offset
        return round(v * NS_PER_S) if self.time else v


@dataclass(frozen=True, slots=True)
class ReportBinding:
    """A report: block output ``output`` as ``name`` [unit] (``(v - offset) / scale``)."""

    name: str
    output: str
    unit: str
    scale: float = 1.0
    offset: float = 0.0
    when: str = ""

    def value(self, raw: float) -> float:
        """The report [unit] from the block's output value."""
        return (float(raw) - self.offset) / self.scale


@dataclass(frozen=True)
class PhaseBinding:
    """An equipment phase of a unit, bound to its logic and recipe phases.

    Attributes
    ----------
    phase
        The equipment phase's name (the recipe phase id).
    logic
        Its logic.
    block
        The ST function block it runs (name; the class is looked up in the library).
    source
        The ST file the block comes from.
    parameters
        By name, ``duration_h`` included.
    reports
        The block outputs reported.
    model
        Process model coupled while it runs.
    config
        ``C_*`` inputs set by the binding (loops switched on by bound parameters).
    fixed
        ``P_*`` inputs no parameter sets, at a value of the mapping rule (block units).
    needs
        Equipment features the unit needs for it.
    recipes
        Recipe phases it serves (``recipe/procedure/operation/phase``).
    rule
        Why it runs this logic (the mapping rule or the site's choice).
    """

    phase: str
    logic: PhaseLogic
    block: str
    source: str
    parameters: dict[str, ParameterBinding]
    reports: tuple[ReportBinding, ...]
    model: str | None = None
    config: dict[str, bool | float | int] = field(default_factory=dict)
    fixed: dict[str, float | int] = field(default_factory=dict)
    needs: frozenset[str] = frozenset()
    recipes: tuple[str, ...] = ()
    rule: str = ""

    def defaults(self) -> dict[str, float | int]:
        """Block inputs at Start before the given parameters: every default."""
        out: dict[str, float | int] = dict(self.fixed)
        for b in self.parameters.values():
            if b.input is not None and b.default is not None:
                out[b.input] = b.to_input(b.default)
        return out

    def reports_for(self, channels: Iterable[str]) -> tuple[ReportBinding, ...]:
        """The reports of a unit with these channels (a report ``when`` a channel the unit
        lacks is left out)."""
        have = set(channels)
        return tuple(
            r for r in self.reports if not r.when or r.when.startswith("P_") or r.when in have
        )

    def setpoint_temperatures(self) -> list[float]:
        """Temperature targets it may be given [degC] (sizes a cryogenic jacket)."""
        keys = ("P_SP", "P_TEMP", "P_FREEZE", "P_SHELF")
        out = [float(v) for k, v in self.fixed.items() if k in keys]
        for b in self.parameters.values():
            if b.input in keys and b.default is not None:
                out.append(b.default * b.scale + b.offset)
        return out


def phase_attr(phase: str) -> str:
    """The instance name of a phase's block in its unit's program (an ST identifier)."""
    cleaned = "".join(ch if ch.isalnum() else "_" for ch in phase)
    return f"PH_{cleaned}"


def _linear(value_unit: str, target_unit: str, where: str) -> tuple[float, float]:
    """``(scale, offset)`` with ``target = value * scale + offset``."""
    if normalise(value_unit) == normalise(target_unit):
        return 1.0, 0.0
    from phactory.model.quantity import QuantityError, convert

    try:
        zero = convert(0.0, value_unit or "dimensionless", target_unit or "dimensionless")
        one = convert(1.0, value_unit or "dimensionless", target_unit or "dimensionless")
    except QuantityError:
        raise InvalidError(
            f"{where}: unit {value_unit or '(none)'!r} cannot be converted to "
            f"{target_unit or '(none)'!r}"
        ) from None
    return one - zero, zero


def bind_phase(
    phase: str,
    logic: PhaseLogic,
    recipe_phases: Sequence[RecipePhase],
    *,
    model: str | None = None,
    model_params: frozenset[str] = frozenset(),
    defaults: Mapping[str, float] | None = None,
    block: str | None = None,
    block_inputs: frozenset[str] | None = None,
    block_outputs: frozenset[str] | None = None,
    source: str = "",
    rule: str = "",
) -> PhaseBinding:
    """Bind equipment phase ``phase`` (see the module docstring).

    Parameters
    ----------
    phase
        Its name.
    logic
        The logic it runs (its parameter and report specs).
    recipe_phases
        The recipe phases it serves.
    model
        Process model coupled while it runs; ``model_params`` its parameter names.
    defaults
        ``P_*`` values in the spec's unit used when the recipe gives no set point.
    block, block_inputs, block_outputs, source
        A site's own block replacing the shipped one: its name, its input names (a
        parameter is bound only to an input the block has), its output names (only the
        reports it has are read) and its file.
    rule
        Why this logic was chosen.

    Raises
    ------
    InvalidError
        A recipe parameter's unit cannot be converted to what the logic expects.
    """
    specs = {n: p for p in logic.params for n in p.names}
    duration_spec = next((p for p in logic.params if p.duration), None)
    params: dict[str, ParameterBinding] = {}
    bound_inputs: dict[str, str] = {}  # input -> recipe name
    needs = set(logic.needs)
    for rp in recipe_phases:
        for name, pp in rp.phase.parameters.items():
            if name in params:
                continue
            where = f"recipe {rp.recipe} phase {rp.path} parameter {name}"
            unit = pp.unit
            spec = specs.get(normalise(name))
            if spec is not None and (
                spec.input in bound_inputs
                or (block_inputs is not None and spec.input not in block_inputs)
            ):
                spec = None  # a second name for one input, or one the site's block lacks
            low = pp.low.to(unit) if pp.low is not None else None
            high = pp.high.to(unit) if pp.high is not None else None
            sp = pp.setpoint.to(unit) if pp.setpoint is not None else None
            target = sp if sp is not None else _middle(low, high)
            model_param = name if name in model_params else None
            if model_param is None and normalise(name) in model_params:
                model_param = normalise(name)
            if spec is None:
                params[name] = ParameterBinding(
                    name, unit, None, default=target, low=low, high=high,
                    model_param=model_param, description="not used by the phase logic"
                    if model_param is None else "passed to the process model",
                )  # fmt: skip
                continue
            scale, offset = _linear(unit, spec.unit, f"{where} ({logic.name} {spec.input})")
            params[name] = ParameterBinding(
                name, unit, spec.input, scale, offset, spec.is_time, target, low, high,
                model_param, spec.description,
            )  # fmt: skip
            bound_inputs[spec.input] = name
            needs |= spec.needs
    if DURATION not in params:
        mean_h = recipe_phases[0].phase.duration.mean if recipe_phases else 1.0
        use = (
            duration_spec is not None
            and duration_spec.input not in bound_inputs
            and (block_inputs is None or duration_spec.input in block_inputs)
        )
        params[DURATION] = ParameterBinding(
            DURATION, "h", duration_spec.input if (use and duration_spec) else None,
            3600.0 if use else 1.0, 0.0, use, mean_h, 0.0, None, None,
            "phase duration [recipe hours]",
        )  # fmt: skip
        if use and duration_spec is not None:
            bound_inputs[duration_spec.input] = DURATION
    fixed: dict[str, float | int] = {}
    for input_name, value in (defaults or {}).items():
        if input_name not in bound_inputs:
            spec = logic.param(input_name)
            fixed[input_name] = round(value * NS_PER_S) if spec.is_time else value
    reports = tuple(
        _report(r, params, bound_inputs, logic)
        for r in logic.reports
        if (not r.when.startswith("P_") or r.when in bound_inputs)
        and (block_outputs is None or r.output in block_outputs)
    )
    config = {c: p in bound_inputs for c, p in logic.loops.items()}
    return PhaseBinding(
        phase=phase,
        logic=logic,
        block=block or logic.block,
        source=source or logic.source,
        parameters=params,
        reports=reports,
        model=model,
        config=dict(config),
        fixed=fixed,
        needs=frozenset(needs),
        recipes=tuple(f"{rp.recipe}/{rp.path}" for rp in recipe_phases),
        rule=rule,
    )


def _middle(low: float | None, high: float | None) -> float | None:
    if low is not None and high is not None:
        return (low + high) / 2.0
    return None


def _report(
    r: ReportSpec,
    params: Mapping[str, ParameterBinding],
    bound: Mapping[str, str],
    logic: PhaseLogic,
) -> ReportBinding:
    recipe_name = bound.get(r.param) if r.param else None
    when = r.when if not r.when.startswith("P_") else ""
    if recipe_name is None or recipe_name == DURATION:
        return ReportBinding(r.name, r.output, r.unit, when=when)
    b = params[recipe_name]
    # The block works in the spec's unit; the report is wanted in the recipe's.
    if r.unit == logic.param(r.param).unit and not b.time:
        scale, offset = b.scale, b.offset
    else:
        scale, offset = _linear(b.unit, r.unit, f"report {r.name} of {logic.name}")
    if math.isclose(scale, 0.0):
        scale = 1.0
    return ReportBinding(recipe_name + r.suffix, r.output, b.unit, scale, offset, when)
