"""Engineering units: Phactory's unit text as OPC UA ``EUInformation`` (UNECE Rec 20).

OPC UA describes the unit of an analog item with an ``EUInformation`` structure (OPC 10000-8
§5.6.3, "EngineeringUnits"): a namespace URI naming the unit system, a ``UnitId`` and a
display name. For the UN/CEFACT system the namespace is
``http://www.opcfoundation.org/UA/units/un/cefact`` and the ``UnitId`` is the UNECE
Recommendation 20 *common code* packed into an Int32, one byte per character, most
significant first [1]_ [2]_::

    unit_id = 0
    for c in common_code: unit_id = unit_id << 8 | ord(c)

so ``"CEL"`` (degree Celsius) is ``4408652``. Phactory writes units as it parses them with
pint (``degC``, ``bar``, ``L``, ``rpm``, ``%``, ``g/L``; :mod:`phactory.model.quantity`);
:data:`UNECE_CODES` maps the ones a plant uses to their common codes. A unit not in the
table keeps its text as display name with ``UnitId = -1`` ("no UNECE code", the value
OPC 10000-8 gives for an unknown unit), so a client still shows what the plant says.

This module imports nothing of asyncua: :func:`eu_information` returns plain values that
:mod:`phactory.connect.opcua.isa95` turns into the OPC UA structure.

References
----------
.. [1] OPC Foundation, *OPC 10000-8: Data Access*, v1.05, §5.6.3 EUInformation.
.. [2] UN/CEFACT, *Recommendation No. 20: Codes for Units of Measure Used in International
   Trade*, rev. 17 (2021), Annexes II and III.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["UNECE_CODES", "UNECE_NAMESPACE", "EngineeringUnit", "eu_information", "unit_id"]

#: Namespace URI of the UN/CEFACT unit system in ``EUInformation.NamespaceUri``.
UNECE_NAMESPACE: Final = "http://www.opcfoundation.org/UA/units/un/cefact"

#: Phactory unit text -> (UNECE Rec 20 common code, display name, description).
UNECE_CODES: Final[dict[str, tuple[str, str, str]]] = {
    # temperature
    "degC": ("CEL", "°C", "degree Celsius"),
    "K": ("KEL", "K", "kelvin"),
    "degF": ("FAH", "°F", "degree Fahrenheit"),
    "K/min": ("F11", "K/min", "kelvin per minute"),
    "degC/min": ("H13", "°C/min", "degree Celsius per minute"),
    "degC/h": ("H12", "°C/h", "degree Celsius per hour"),
    # pressure
    "bar": ("BAR", "bar", "bar"),
    "mbar": ("MBR", "mbar", "millibar"),
    "Pa": ("PAL", "Pa", "pascal"),
    "kPa": ("KPA", "kPa", "kilopascal"),
    "MPa": ("MPA", "MPa", "megapascal"),
    # volume and volume flow
    "L": ("LTR", "L", "litre"),
    "mL": ("MLT", "mL", "millilitre"),
    "uL": ("4G", "µL", "microlitre"),
    "m**3": ("MTQ", "m³", "cubic metre"),
    "m3": ("MTQ", "m³", "cubic metre"),
    "L/min": ("L2", "L/min", "litre per minute"),
    "L/h": ("E32", "L/h", "litre per hour"),
    "mL/min": ("41", "mL/min", "millilitre per minute"),
    "m**3/h": ("MQH", "m³/h", "cubic metre per hour"),
    "m3/h": ("MQH", "m³/h", "cubic metre per hour"),
    # mass, mass flow and concentration
    "kg": ("KGM", "kg", "kilogram"),
    "g": ("GRM", "g", "gram"),
    "mg": ("MGM", "mg", "milligram"),
    "kg/h": ("E93", "kg/h", "kilogram per hour"),
    "g/L": ("GL", "g/L", "gram per litre"),
    "mg/L": ("M1", "mg/L", "milligram per litre"),
    "ug/L": ("H29", "µg/L", "microgram per litre"),
    "g/mL": ("GJ", "g/mL", "gram per millilitre"),
    "kg/m**3": ("KMQ", "kg/m³", "kilogram per cubic metre"),
    "mol/L": ("C38", "mol/L", "mole per litre"),
    "mmol/L": ("M33", "mmol/L", "millimole per litre"),
    "mM": ("M33", "mmol/L", "millimole per litre"),
    # time
    "s": ("SEC", "s", "second"),
    "ms": ("C26", "ms", "millisecond"),
    "min": ("MIN", "min", "minute"),
    "h": ("HUR", "h", "hour"),
    "d": ("DAY", "d", "day"),
    # rotation, frequency, ratio
    "rpm": ("RPM", "r/min", "revolutions per minute"),
    "Hz": ("HTZ", "Hz", "hertz"),
    "%": ("P1", "%", "percent"),
    "deg": ("DD", "°", "degree (angle)"),
    # power, energy, electricity
    "W": ("WTT", "W", "watt"),
    "kW": ("KWT", "kW", "kilowatt"),
    "MW": ("MAW", "MW", "megawatt"),
    "kWh": ("KWH", "kW·h", "kilowatt hour"),
    "V": ("VLT", "V", "volt"),
    "A": ("AMP", "A", "ampere"),
    "mS/cm": ("H61", "mS/cm", "millisiemens per centimetre"),
    # length
    "m": ("MTR", "m", "metre"),
    "cm": ("CMT", "cm", "centimetre"),
    "mm": ("MMT", "mm", "millimetre"),
    "nm": ("C45", "nm", "nanometre"),
}


@dataclass(frozen=True, slots=True)
class EngineeringUnit:
    """The fields of an OPC UA ``EUInformation`` (OPC 10000-8 §5.6.3)."""

    namespace_uri: str
    unit_id: int
    display_name: str
    description: str


def unit_id(common_code: str) -> int:
    """The OPC UA ``UnitId`` of a UNECE common code (two or three ASCII characters).

    Examples
    --------
    >>> unit_id("CEL")
    4408652
    >>> unit_id("P1")
    20529
    """
    if not 1 <= len(common_code) <= 3 or not common_code.isascii():
        raise ValueError(f"not a UNECE common code: {common_code!r}")
    value = 0
    for c in common_code:
        value = value << 8 | ord(c)
    return value


def eu_information(unit: str) -> EngineeringUnit:
    """The engineering unit for Phactory's unit text (``degC``, ``g/L``, ``rpm``...).

    Units without a UNECE code keep their text as display name and get ``UnitId = -1``.
    """
    text = unit.strip()
    known = UNECE_CODES.get(text)
    if known is None:
        return EngineeringUnit(UNECE_NAMESPACE, -1, text, text)
    code, display, description = known
    return EngineeringUnit(UNECE_NAMESPACE, unit_id(code), display, description)
