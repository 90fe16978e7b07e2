"""Physical quantities: the one place where text like ``"2000 L"`` becomes a number.

Every quantity in a plant definition carries its unit. The model stores each kind of
quantity as a plain ``float`` in one canonical unit, so that downstream engines (the
twin, the scheduler, the KPIs) do arithmetic on floats without unit bookkeeping:

=============  ==============  ===========================
kind           canonical unit  examples accepted
=============  ==============  ===========================
time           h               ``"14 d"``, ``"90 min"``
volume         L               ``"2000 L"``, ``"2 m**3"``
mass           kg              ``"50 kg"``, ``"250 g"``
power          kW              ``"25 kW"``, ``"0.5 MW"``
energy         kWh             ``"12 kWh"``, ``"3 MJ"``
temperature    degC            ``"37 degC"``, ``"310 K"``
volume flow    L/h             ``"500 L/h"``
=============  ==============  ===========================

The time base of the whole model is therefore hours. Parsing is done with pint [1]_;
the registry is built once, on first use, because building it costs ~0.3 s.

References
----------
.. [1] H. E. Grecco et al., "Pint: makes units easy", https://pint.readthedocs.io
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Final

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic_core import core_schema

__all__ = [
    "CANONICAL_UNITS",
    "Duration",
    "Energy",
    "Mass",
    "Power",
    "QuantityError",
    "QuantityKind",
    "Temperature",
    "Volume",
    "VolumeFlow",
    "check_unit",
    "convert",
    "format_quantity",
    "parse_quantity",
    "unit_registry",
]

#: Canonical unit per kind of quantity; values in the model are floats in these units.
CANONICAL_UNITS: Final[dict[str, str]] = {
    "time": "h",
    "volume": "L",
    "mass": "kg",
    "power": "kW",
    "energy": "kWh",
    "temperature": "degC",
    "volume_flow": "L/h",
    "mass_flow": "kg/h",
    "pressure": "bar",
    "dimensionless": "",
}

_EXAMPLES: Final[dict[str, str]] = {
    "time": "'14 d' or '90 min'",
    "volume": "'2000 L'",
    "mass": "'50 kg'",
    "power": "'25 kW'",
    "energy": "'12 kWh'",
    "temperature": "'37 degC'",
    "volume_flow": "'500 L/h'",
    "mass_flow": "'20 kg/h'",
    "pressure": "'1.5 bar'",
    "dimensionless": "'0.5'",
}


class QuantityError(ValueError):
    """A text could not be read as a quantity of the expected kind."""


@lru_cache(maxsize=1)
def unit_registry() -> Any:
    """The shared, lazily built pint registry (offset units such as degC allowed)."""
    import pint

    try:  # pint caches its parsed definition files on disk: ~3x faster start-up
        ureg: Any = pint.UnitRegistry(autoconvert_offset_to_baseunit=True, cache_folder=":auto:")
    except Exception:  # an unwritable cache folder must not stop anything
        ureg = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
    # Discrete items counted in batch records: vials, bags, kits, doses.
    ureg.define("item = [count] = ea = each")
    for name in ("vial", "bag", "kit", "dose", "cassette"):
        ureg.define(f"{name} = item")
    return ureg


@lru_cache(maxsize=4096)
def _parse(text: str) -> Any:
    ureg = unit_registry()
    try:
        return ureg.Quantity(text)
    except Exception as exc:  # pint raises several unrelated types for bad text
        raise QuantityError(f"cannot read {text!r} as a quantity ({exc})") from None


def parse_quantity(value: object, kind: str) -> float:
    """Read ``value`` as a quantity of ``kind`` and return it in the canonical unit.

    Parameters
    ----------
    value
        Text with a unit such as ``"14 d"``. Bare numbers are accepted only for the
        ``dimensionless`` kind and for zero (zero is zero in every unit except for
        temperatures, where a bare number is ambiguous and refused).
    kind
        One of :data:`CANONICAL_UNITS`.

    Returns
    -------
    float
        The magnitude in ``CANONICAL_UNITS[kind]``.

    Raises
    ------
    QuantityError
        With a message naming the value and what was expected.
    """
    if kind not in CANONICAL_UNITS:
        raise QuantityError(f"unknown kind of quantity {kind!r}")
    target = CANONICAL_UNITS[kind]
    if isinstance(value, bool):
        raise QuantityError(
            f"expected a {kind.replace('_', ' ')} like {_EXAMPLES[kind]}, got {value!r}"
        )
    if isinstance(value, int | float):
        if kind == "dimensionless" or (value == 0 and kind != "temperature"):
            return _finite(float(value), value, kind)
        raise QuantityError(
            f"expected a {kind.replace('_', ' ')} with a unit, like {_EXAMPLES[kind]}; "
            f"got the bare number {value!r}"
        )
    if not isinstance(value, str):
        what = kind.replace("_", " ")
        raise QuantityError(f"expected a {what} like {_EXAMPLES[kind]}, got {type(value).__name__}")
    q = _parse(value.strip())
    if kind == "dimensionless":
        if not q.dimensionless:
            raise QuantityError(f"expected a plain number, got {value!r} (unit {q.units})")
        return _finite(float(q.to("").magnitude), value, kind)
    if q.dimensionality != _dimensionality(target):
        raise QuantityError(
            f"expected a {kind.replace('_', ' ')} like {_EXAMPLES[kind]}, got {value!r} "
            f"({_what_it_is(q)})"
        )
    return _finite(float(q.to(target).magnitude), value, kind)


def _what_it_is(q: Any) -> str:
    """Name the kind of quantity a user wrote, so a wrong unit is easy to spot."""
    if q.dimensionless:
        return "a plain number"
    for kind, unit in CANONICAL_UNITS.items():
        if unit and q.dimensionality == _dimensionality(unit):
            return f"a {kind.replace('_', ' ')}"
    return f"a quantity in {q.units:~}"


@lru_cache(maxsize=32)
def _dimensionality(unit: str) -> Any:
    return unit_registry().Unit(unit).dimensionality


def _finite(x: float, value: object, kind: str) -> float:
    if not math.isfinite(x):
        raise QuantityError(f"expected a finite {kind.replace('_', ' ')}, got {value!r}")
    return x


def convert(value: float, from_unit: str, to_unit: str) -> float:
    """Convert a magnitude between two compatible units (e.g. ``"degC"`` to ``"K"``)."""
    ureg = unit_registry()
    try:
        return float(ureg.Quantity(value, from_unit).to(to_unit).magnitude)
    except Exception as exc:
        raise QuantityError(f"cannot convert {from_unit!r} to {to_unit!r} ({exc})") from None


def check_unit(unit: str) -> str:
    """Return ``unit`` if pint knows it, else raise :class:`QuantityError`."""
    ureg = unit_registry()
    try:
        ureg.Unit(unit)
    except Exception:
        raise QuantityError(f"unknown unit {unit!r}") from None
    return unit


def format_quantity(value: float, kind: str) -> str:
    """Inverse of :func:`parse_quantity`: ``format_quantity(2.0, "time") == "2.0 h"``."""
    unit = CANONICAL_UNITS[kind]
    return f"{value!r} {unit}".strip()


@dataclass(frozen=True)
class QuantityKind:
    """Pydantic metadata: read text with a unit into a float of this kind's canonical unit.

    Used as ``Annotated[float, QuantityKind("time")]``; serialises back to text with the
    canonical unit in JSON mode, so dumped data loads again.
    """

    kind: str

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> Any:
        kind = self.kind
        return core_schema.no_info_before_validator_function(
            lambda v: parse_quantity(v, kind),
            handler(float),
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda v: format_quantity(v, kind), when_used="json"
            ),
        )

    def __get_pydantic_json_schema__(self, schema: Any, handler: GetJsonSchemaHandler) -> Any:
        example = _EXAMPLES[self.kind]
        return {
            "type": "string",
            "description": f"{self.kind.replace('_', ' ')} with a unit, e.g. {example}; "
            f"stored in {CANONICAL_UNITS[self.kind] or 'plain numbers'}",
            "examples": [example.split(" or ")[0].strip("'")],
        }


#: A time span; stored in hours.
Duration = Annotated[float, QuantityKind("time")]
#: A volume; stored in litres.
Volume = Annotated[float, QuantityKind("volume")]
#: A mass; stored in kilograms.
Mass = Annotated[float, QuantityKind("mass")]
#: A power; stored in kilowatts.
Power = Annotated[float, QuantityKind("power")]
#: An energy; stored in kilowatt-hours.
Energy = Annotated[float, QuantityKind("energy")]
#: A temperature; stored in degrees Celsius.
Temperature = Annotated[float, QuantityKind("temperature")]
#: A volumetric flow; stored in litres per hour.
VolumeFlow = Annotated[float, QuantityKind("volume_flow")]
