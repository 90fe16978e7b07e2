"""ST data types as the compiler sees them, and how their values live in Python.

Representation (IEC 61131-3:2013 §6.4):

=====================  ==================================================================
ST type                Python value
=====================  ==================================================================
BOOL                   ``bool``
SINT ... ULINT,        ``int``, kept in the type's range: signed types wrap in two's
BYTE ... LWORD         complement (``INT`` 16 bit, ``DINT`` 32 bit, ``LINT`` 64 bit),
                       unsigned ones modulo 2**n (``UDINT`` 0 .. 4 294 967 295)
REAL, LREAL            ``float`` (both double precision: REAL is not rounded to 32 bit)
TIME, LTIME            ``int`` nanoseconds (:mod:`phactory.control.pou`)
STRING, WSTRING        ``str``, cut to the declared length (default 80 characters)
enumeration            ``int`` (its values numbered from 0 unless given)
ARRAY                  ``list`` (nested lists for several dimensions), element ``i`` of
                       ``ARRAY[lo..hi]`` at list position ``i - lo``
STRUCT                 an instance of a generated class with ``__slots__``
function block         an instance of its :class:`~phactory.control.pou.POU` class
=====================  ==================================================================

Untyped literals have the pseudo types ``ANY_INT`` and ``ANY_REAL`` and take the type of
the other operand or of the assignment target (§6.3.2, typed by context).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from phactory.control.pou import POU, Section

__all__ = [
    "ANY_INT",
    "ANY_REAL",
    "BOOL",
    "ELEMENTARY",
    "ERROR",
    "LREAL",
    "TIME",
    "ArrayType",
    "Elem",
    "EnumType",
    "FbType",
    "Member",
    "StructType",
    "Type",
    "common_numeric",
    "wrap_code",
]


@dataclass(frozen=True, slots=True)
class Elem:
    """An elementary type; ``kind`` is ``bool``, ``int``, ``real``, ``time`` or ``string``."""

    name: str
    kind: str
    bits: int = 0
    signed: bool = True
    length: int = 80

    @property
    def lo(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def hi(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    def default(self) -> Any:
        return {"bool": False, "int": 0, "real": 0.0, "time": 0, "string": ""}.get(self.kind, 0)

    @property
    def spelling(self) -> str:
        if self.kind == "string" and self.length != 80:
            return f"{self.name}({self.length})"
        return self.name

    def fits(self, value: int) -> bool:
        return self.lo <= value <= self.hi


def _ints() -> dict[str, Elem]:
    out = {}
    for name, bits in (("SINT", 8), ("INT", 16), ("DINT", 32), ("LINT", 64)):
        out[name] = Elem(name, "int", bits, True)
        out["U" + name] = Elem("U" + name, "int", bits, False)
    for name, bits in (("BYTE", 8), ("WORD", 16), ("DWORD", 32), ("LWORD", 64)):
        out[name] = Elem(name, "int", bits, False)
    return out


ELEMENTARY: dict[str, Elem] = {
    "BOOL": Elem("BOOL", "bool"),
    **_ints(),
    "REAL": Elem("REAL", "real"),
    "LREAL": Elem("LREAL", "real"),
    "TIME": Elem("TIME", "time"),
    "LTIME": Elem("LTIME", "time"),
    "STRING": Elem("STRING", "string"),
    "WSTRING": Elem("WSTRING", "string"),
}
BOOL = ELEMENTARY["BOOL"]
DINT = ELEMENTARY["DINT"]
LREAL = ELEMENTARY["LREAL"]
TIME = ELEMENTARY["TIME"]
STRING = ELEMENTARY["STRING"]
#: Untyped integer literal: any integer value, typed by context.
ANY_INT = Elem("ANY_INT", "int", 0)
#: Untyped real literal.
ANY_REAL = Elem("ANY_REAL", "real")


@dataclass(frozen=True, slots=True)
class ErrorType:
    """The type of an expression that already has a problem; accepted everywhere."""

    spelling: str = "?"


ERROR = ErrorType()


@dataclass(frozen=True, slots=True)
class ArrayType:
    """``ARRAY[lo..hi, ...] OF elem``; ``dims`` are inclusive bounds per dimension."""

    dims: tuple[tuple[int, int], ...]
    elem: Type

    @property
    def spelling(self) -> str:
        bounds = ", ".join(f"{lo}..{hi}" for lo, hi in self.dims)
        return f"ARRAY[{bounds}] OF {self.elem.spelling}"


@dataclass(slots=True)
class Member:
    """A field of a structure or a variable of a function block, seen from outside."""

    name: str
    type: Type
    section: Section = Section.VAR
    init: Any = None


@dataclass(eq=False, slots=True)
class StructType:
    """A ``STRUCT`` type; ``pyname`` is its generated class."""

    name: str
    pyname: str
    fields: dict[str, Member] = field(default_factory=dict)

    @property
    def spelling(self) -> str:
        return self.name


@dataclass(eq=False, slots=True)
class EnumType:
    """An enumeration; ``values`` maps upper-case names to (name as written, number)."""

    name: str
    values: dict[str, tuple[str, int]] = field(default_factory=dict)
    default: int = 0

    @property
    def spelling(self) -> str:
        return self.name


@dataclass(eq=False, slots=True)
class FbType:
    """A function block type: compiled from ST in this library, or a Python class.

    ``members`` maps upper-case names to inputs, outputs, in-outs and internals;
    ``order`` lists the inputs and in-outs in declaration order (non-formal calls).
    """

    name: str
    pyname: str
    members: dict[str, Member] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    cls: type[POU] | None = None

    @property
    def spelling(self) -> str:
        return self.name


Type = Elem | ErrorType | ArrayType | StructType | EnumType | FbType


def common_numeric(a: Elem, b: Elem) -> Elem:
    """The type of ``a op b`` for numbers (§6.4.2 implicit widening).

    An untyped literal takes the other side's type; integers widen to the wider one (a
    signed and an unsigned of the same width give the signed); any real makes the result
    real (``LREAL`` if either is ``LREAL`` or an untyped real literal meets an integer).
    """
    if a.kind == "real" or b.kind == "real":
        reals = [t for t in (a, b) if t.kind == "real" and t is not ANY_REAL]
        if any(t.name == "LREAL" for t in reals):
            return LREAL
        if reals:
            return reals[0]
        return ANY_REAL if a is ANY_REAL and b is ANY_REAL else LREAL
    if a is ANY_INT:
        return b
    if b is ANY_INT or a == b:
        return a
    if a.bits != b.bits:
        return a if a.bits > b.bits else b
    return a if a.signed else b


def wrap_code(code: str, t: Elem) -> str:
    """Python expression that brings the integer ``code`` into the range of ``t``."""
    if t is ANY_INT or t.kind != "int":
        return code
    mask = (1 << t.bits) - 1
    if t.signed:
        half = 1 << (t.bits - 1)
        return f"((({code}) + {half}) & {mask}) - {half}"
    return f"({code}) & {mask}"


def wrap_value(value: int, t: Elem) -> int:
    """``value`` brought into the range of the integer type ``t`` (two's complement)."""
    if t is ANY_INT or t.kind != "int":
        return value
    mask = (1 << t.bits) - 1
    if t.signed:
        half = 1 << (t.bits - 1)
        return ((value + half) & mask) - half
    return value & mask


def type_from_name(name: str) -> Type:
    """The type of a Python block's declaration (``VarDecl.type_name``), elementary only.

    Other spellings (another block, an array) are accepted unchecked.
    """
    base = name.strip().upper()
    if base in ELEMENTARY:
        return ELEMENTARY[base]
    return ERROR
