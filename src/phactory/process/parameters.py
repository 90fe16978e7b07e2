"""Declared model parameters: a name, a unit, bounds, and the one place values are checked.

A process model declares each of its inputs as a :class:`Parameter`. Callers may give a
value either as a plain number in the declared unit (``0.15`` for a pressure declared in
``torr``) or as text with a unit (``"150 mTorr"``), which is converted with the shared pint
registry of :mod:`phactory.model.quantity`. Values outside the declared bounds, with a unit of
the wrong kind, or not finite are refused with a :class:`ParameterError` that names the
parameter, the value and the allowed range, so a bad input never reaches a solver.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from phactory.errors import InvalidError

__all__ = ["Parameter", "ParameterError", "resolve_parameters"]

# A Celsius or Fahrenheit temperature inside a compound unit ("1 degC/min") is converted by
# pint as an absolute temperature (274.15 K/min); such text is refused, differences must be
# written in K or delta_degC.
_OFFSET_TEXT = re.compile(r"(?<!delta_)(degC|degree_Celsius|celsius|°C|degF|fahrenheit)", re.I)


class ParameterError(InvalidError):
    """A parameter value was refused (unknown name, wrong unit, out of bounds, not finite).

    An :class:`~phactory.errors.InvalidError` (and so a ``ValueError``).

    Attributes
    ----------
    name
        The parameter's name.
    value
        The value as given by the caller.
    """

    def __init__(self, name: str, value: object, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.value = value


def _registry() -> Any:
    # Imported lazily: building the pint registry costs ~0.3 s and most callers of the process
    # package pass plain floats.
    from phactory.model.quantity import unit_registry

    return unit_registry()


def _parse(text: str) -> Any:
    # pint spells the torr in lower case while engineers write "Torr" and "mTorr": try the
    # exact spelling first (so "mM" stays millimolar), then case-insensitively.
    ureg = _registry()
    try:
        return ureg.Quantity(text)
    except Exception:
        pass
    try:
        return ureg.parse_expression(text, case_sensitive=False)
    except Exception as exc:  # pint raises several unrelated exception types for bad text
        raise ValueError(f"cannot read {text!r} as a quantity ({exc})") from None


@dataclass(frozen=True, slots=True)
class Parameter:
    """One declared input of a process model.

    Parameters
    ----------
    name
        Identifier used in parameter mappings, e.g. ``"mg_total"``.
    unit
        pint unit string of the stored value (``""`` for dimensionless), e.g. ``"mol/L"``.
    default
        Nominal value [unit].
    lower, upper
        Inclusive bounds [unit]; also the ranges used for sensitivity analysis, design
        spaces and surrogate training.
    description
        What the parameter is, for tables and the command line.
    cpp
        True if the parameter is a critical process parameter (a set point the process
        owner controls), False for a material property or a kinetic constant.
    uncertainty
        Relative standard deviation [-] of the parameter's value between batches or from its
        estimation; used by Monte Carlo (probability of success) and by
        :func:`phactory.process.registry.run_for_batch`. Zero means known exactly.
    """

    name: str
    unit: str
    default: float
    lower: float
    upper: float
    description: str
    cpp: bool = False
    uncertainty: float = 0.0

    def __post_init__(self) -> None:
        if not (self.lower <= self.default <= self.upper):
            raise ValueError(
                f"parameter {self.name!r}: default {self.default} outside "
                f"[{self.lower}, {self.upper}]"
            )
        if self.uncertainty < 0:
            raise ValueError(f"parameter {self.name!r}: negative uncertainty")

    def range_text(self) -> str:
        """The allowed range with its unit, e.g. ``"[0.01, 0.15] mol/L"``."""
        unit = f" {self.unit}" if self.unit else ""
        return f"[{self.lower:g}, {self.upper:g}]{unit}"

    def resolve(self, value: object) -> float:
        """Return ``value`` as a float in :attr:`unit`, checked against the bounds.

        Parameters
        ----------
        value
            A real number in the declared unit, or text such as ``"40 mM"``; text without a
            unit is read in the declared unit.

        Raises
        ------
        ParameterError
            Naming the parameter, the value and the allowed range.
        """
        x = self._to_float(value)
        if not math.isfinite(x):
            raise ParameterError(
                self.name, value, f"parameter {self.name!r}: {value!r} is not finite"
            )
        if not (self.lower <= x <= self.upper):
            shown = f"{x:g} {self.unit}".strip()
            raise ParameterError(
                self.name,
                value,
                f"parameter {self.name!r} = {shown} (given {value!r}) is out of range "
                f"{self.range_text()}",
            )
        return x

    def _to_float(self, value: object) -> float:
        if isinstance(value, bool):
            raise ParameterError(
                self.name, value, f"parameter {self.name!r}: expected a number, got {value!r}"
            )
        if isinstance(value, int | float):
            return float(value)
        if hasattr(value, "__float__") and not isinstance(value, str):
            # numpy scalars and 0-d arrays
            try:
                return float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                pass
        if not isinstance(value, str):
            raise ParameterError(
                self.name,
                value,
                f"parameter {self.name!r}: expected a number in {self.unit or 'plain numbers'} "
                f"or text with a unit, got {type(value).__name__}",
            )
        text = value.strip()
        try:
            return float(text)  # bare number: in the declared unit
        except ValueError:
            pass
        try:
            q = _parse(text)
        except ValueError as exc:
            raise ParameterError(self.name, value, f"parameter {self.name!r}: {exc}") from None
        dims = str(getattr(q, "dimensionality", ""))
        if _OFFSET_TEXT.search(text) and dims != "[temperature]":
            raise ParameterError(
                self.name,
                value,
                f"parameter {self.name!r}: {value!r} mixes a Celsius temperature into a compound "
                f"unit; write the difference in K or delta_degC (expected {self.unit})",
            )
        try:
            return float(q.to(self.unit or "").magnitude)
        except Exception:
            expected = self.unit or "a plain number"
            raise ParameterError(
                self.name,
                value,
                f"parameter {self.name!r}: {value!r} has unit '{q.units}', which cannot be "
                f"converted to {expected}; allowed range {self.range_text()}",
            ) from None


def resolve_parameters(
    declared: Sequence[Parameter], given: Mapping[str, object] | None
) -> dict[str, float]:
    """Fill defaults, convert units and check bounds for every declared parameter.

    Parameters
    ----------
    declared
        The model's parameter declarations.
    given
        Values supplied by the caller, by parameter name.

    Returns
    -------
    dict of str to float
        Every declared parameter, in its declared unit.

    Raises
    ------
    ParameterError
        For an unknown name (listing the known ones) or a refused value.
    """
    given = dict(given or {})
    by_name = {p.name: p for p in declared}
    unknown = sorted(set(given) - set(by_name))
    if unknown:
        raise ParameterError(
            unknown[0],
            given[unknown[0]],
            f"unknown parameter(s) {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(sorted(by_name))}",
        )
    return {p.name: (p.resolve(given[p.name]) if p.name in given else p.default) for p in declared}
