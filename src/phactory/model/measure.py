"""A quantity in any unit, kept with its unit: material amounts, process parameters."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from pydantic import model_serializer, model_validator

from phactory.model.base import ModelBase
from phactory.model.quantity import QuantityError, unit_registry

__all__ = ["Measure"]

_NUMBER_UNIT = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")


@lru_cache(maxsize=1024)
def _known_unit_text(text: str) -> bool:
    try:
        unit_registry().Unit(text)
    except Exception:
        return False
    return True


class Measure(ModelBase):
    """A magnitude with a unit, e.g. ``"2000 L"``, ``"6.5 g/L"``, ``"7.0"`` (pH).

    Written in YAML as one string (or a bare number for dimensionless values); kept as
    ``value`` and ``unit`` because the right unit depends on the material or parameter it
    belongs to, which is checked against that object.
    """

    value: float
    unit: str = ""

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, data: Any) -> Any:
        if isinstance(data, bool):
            raise ValueError(f"expected a quantity like '2000 L', got {data!r}")
        if isinstance(data, int | float):
            return {"value": float(data), "unit": ""}
        if isinstance(data, str):
            m = _NUMBER_UNIT.match(data)
            if m and _known_unit_text(m.group(2)):
                # Keep the unit as the author wrote it ("2000 L", not pint's "l").
                return {"value": float(m.group(1)), "unit": m.group(2).strip()}
            try:
                q = unit_registry().Quantity(data.strip())
            except Exception as exc:
                raise ValueError(f"cannot read {data!r} as a quantity ({exc})") from None
            return {
                "value": float(q.magnitude),
                "unit": f"{q.units:~}" if not q.dimensionless else "",
            }
        return data

    @model_validator(mode="after")
    def _known_unit(self) -> Measure:
        if not _known_unit_text(self.unit):
            raise ValueError(f"unknown unit {self.unit!r}")
        return self

    @model_serializer(mode="plain")
    def _as_text(self) -> str:
        return f"{self.value!r} {self.unit}".strip()

    def to(self, unit: str) -> float:
        """Magnitude in ``unit``; raises :class:`QuantityError` if incompatible."""
        return _convert(self.value, self.unit, unit)

    def compatible(self, unit: str) -> bool:
        """Whether this measure has the same dimension as ``unit``."""
        return _compatible(self.unit, unit)

    def __str__(self) -> str:
        return f"{self.value:g} {self.unit}".strip()


@lru_cache(maxsize=1024)
def _compatible(a: str, b: str) -> bool:
    ureg = unit_registry()
    try:
        return bool(ureg.Quantity(1, a).is_compatible_with(ureg.Unit(b)))
    except Exception:
        return False


def _convert(value: float, a: str, b: str) -> float:
    if a == b:
        return value
    ureg = unit_registry()
    try:
        return float(ureg.Quantity(value, a).to(b).magnitude)
    except Exception:
        raise QuantityError(f"'{value:g} {a}' cannot be expressed in {b!r}") from None
