"""The variables of a running instance: paths to them, their values as JSON, RETAIN leaves.

Every instance declares its variables in ``DECLS`` and holds them as attributes
(:mod:`phactory.control.pou`); function-block members are instances themselves. This
module walks that structure for the runtime:

* :func:`accessor` turns a path (``"x"``, ``"t1.Q"``; indexed paths such as ``"a[2]"``
  through :meth:`POU.get` / :meth:`POU.set`) into a fast getter and setter;
* :func:`encode` / :func:`decode_into` turn a value (scalar, array, struct or FB instance)
  into JSON-able data and back *into* a live value of the same shape;
* :func:`retained_leaves` lists what is durable (IEC 61131-3:2013 §6.5.6): a variable
  declared ``RETAIN``, every member of an FB instance declared ``RETAIN``, and the
  ``RETAIN`` members of FB instances declared without it, recursively.

Variables in ``VAR_TEMP`` (re-initialised every call), ``VAR_IN_OUT`` and ``VAR_EXTERNAL``
(references to variables owned elsewhere) and constants hold no state of their own and
are never retained nor carried over.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from phactory.control.pou import POU, Section, VarDecl
from phactory.errors import NotFoundError

__all__ = [
    "Leaf",
    "accessor",
    "decode_into",
    "encode",
    "find_decl",
    "has_state",
    "retained_leaves",
    "same_type",
]

_SCALARS = (bool, int, float, str)
_STATELESS = (Section.TEMP, Section.IN_OUT, Section.EXTERNAL)
_SPACE = re.compile(r"\s+")


def same_type(a: VarDecl, b: VarDecl) -> bool:
    """Declared with the same type (names compared upper case, blanks ignored)."""
    return _SPACE.sub("", a.type_name).upper() == _SPACE.sub("", b.type_name).upper()


def has_state(decl: VarDecl) -> bool:
    """The variable holds state of its own (not TEMP, IN_OUT, EXTERNAL or CONSTANT)."""
    return decl.section not in _STATELESS and not decl.constant


# --- paths ------------------------------------------------------------------------------


def find_decl(pou: POU, path: str) -> VarDecl:
    """The declaration of the variable at ``path``.

    Inside an array element or a struct (values that carry no ``DECLS``) the type is not
    known here: the declaration returned then has the path as its name and an empty
    ``type_name``.

    Raises
    ------
    NotFoundError
        A component of the path is not declared; the message names it and what is.
    """
    holder: Any = pou
    decl: VarDecl | None = None
    parts = path.split(".")
    for i, part in enumerate(parts):
        name = part.split("[", 1)[0]
        decls = getattr(type(holder), "DECLS", None)
        if decls is None:
            if hasattr(holder, name) or (decl is not None and "[" in parts[i - 1]):
                return VarDecl(path, "")
            raise NotFoundError(f"{'.'.join(parts[:i])!r} has no member {name!r} ({path!r})")
        found = next((d for d in decls if d.name.upper() == name.upper()), None)
        if found is None:
            where = ".".join(parts[:i]) or getattr(type(pou), "NAME", type(pou).__name__)
            known = ", ".join(d.name for d in decls)
            raise NotFoundError(f"{where} declares no variable {name!r} (it has: {known})")
        decl = found
        if "[" in part:
            return VarDecl(path, "")  # an element: its type is the array's business
        holder = getattr(holder, found.name)
    assert decl is not None  # a path has at least one part
    return decl


def _canonical(pou: POU, path: str) -> str:
    """``path`` with each component spelled as declared (ST names are case-insensitive)."""
    holder: Any = pou
    out = []
    for part in path.split("."):
        decls = getattr(type(holder), "DECLS", ())
        found = next((d.name for d in decls if d.name.upper() == part.upper()), part)
        out.append(found)
        holder = getattr(holder, found, None)
    return ".".join(out)


def accessor(pou: POU, path: str) -> tuple[Callable[[], Any], Callable[[Any], None]]:
    """A getter and a setter of the variable at ``path`` of ``pou``.

    Plain dotted paths resolve to the attribute once (fast, but bound to the member
    instances that exist now: make new accessors after an online change) and the setter
    converts a value to the Python type of an elementary declared type (an ``int`` from
    a plant into a ``REAL`` becomes a ``float``, so that programs always compute on their
    declared types); paths with an index go through :meth:`POU.get` / :meth:`POU.set`,
    which check the value, on every call.

    Raises
    ------
    NotFoundError
        The path names no declared variable.
    """
    decl = find_decl(pou, path)
    if "[" in path:
        return (lambda: pou.get(path)), (lambda v: pou.set(path, v))
    *owners, attr = _canonical(pou, path).split(".")
    holder: Any = pou
    for name in owners:
        holder = getattr(holder, name)
    getter = operator.attrgetter(attr)
    convert = _CONVERT.get(decl.type_name.split("(")[0].strip().upper())

    def get() -> Any:
        return getter(holder)

    def set_(value: Any) -> None:
        setattr(holder, attr, value)

    if convert is None:
        return get, set_
    to_type = convert

    def set_converted(value: Any) -> None:
        setattr(holder, attr, to_type(value))

    return get, set_converted


#: Python type of the elementary IEC types (``TIME`` is an ``int`` of ns).
_CONVERT: dict[str, Callable[[Any], Any]] = {
    **dict.fromkeys(("REAL", "LREAL"), float),
    "BOOL": bool,
    **dict.fromkeys(
        ("SINT", "INT", "DINT", "LINT", "USINT", "UINT", "UDINT", "ULINT", "TIME", "LTIME"),
        int,
    ),
    **dict.fromkeys(("STRING", "WSTRING"), str),
}


# --- values as JSON ---------------------------------------------------------------------


def _fields(value: Any) -> list[str] | None:
    """Fields of a struct-like value: its stateful ``DECLS`` (structures compiled from ST
    declare their members like POUs), else public ``__slots__`` or ``__dict__`` entries."""
    decls = getattr(type(value), "DECLS", None)
    if decls is not None:
        return [d.name for d in decls if has_state(d)]
    slots = getattr(type(value), "__slots__", None)
    if slots is not None and not hasattr(value, "__dict__"):
        names = [slots] if isinstance(slots, str) else list(slots)
        return [n for n in names if not n.startswith("_")]
    if hasattr(value, "__dict__"):
        return [n for n in vars(value) if not n.startswith("_")]
    return None


def encode(value: Any) -> Any:
    """``value`` as JSON-able data: scalars as they are, arrays as lists, structs and FB
    instances as objects of their (stateful) members."""
    if type(value) in _SCALARS:
        return value
    if isinstance(value, POU):
        return {d.name: encode(getattr(value, d.name)) for d in type(value).DECLS if has_state(d)}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, bool | int | float | str):  # subclasses (e.g. IntEnum)
        return value
    fields = _fields(value)
    if fields is None:
        raise TypeError(f"cannot store a value of type {type(value).__name__}")
    return {name: encode(getattr(value, name)) for name in fields}


def _scalar(current: Any, stored: Any) -> Any:
    kind = type(current)
    if kind is bool:
        if type(stored) is not bool:
            raise ValueError(f"expected a BOOL, found {stored!r}")
        return stored
    if kind is int:
        if type(stored) is not int:
            raise ValueError(f"expected an integer, found {stored!r}")
        return stored
    if kind is float:
        if type(stored) not in (int, float):
            raise ValueError(f"expected a number, found {stored!r}")
        return float(stored)
    if type(stored) is not str:
        raise ValueError(f"expected a STRING, found {stored!r}")
    return stored


def decode_into(current: Any, stored: Any) -> Any:
    """Put ``stored`` (from :func:`encode`) into ``current``'s shape; return the value to
    assign (containers are filled in place and returned).

    Raises
    ------
    ValueError
        ``stored`` does not fit ``current`` (another type, another array length); nothing
        of ``current``'s scalars is changed up to the component that did not fit.
    """
    if type(current) in _SCALARS:
        return _scalar(current, stored)
    if isinstance(current, POU):
        if not isinstance(stored, dict):
            raise ValueError(f"expected the members of a {type(current).NAME}")
        for d in type(current).DECLS:
            if has_state(d) and d.name in stored:
                setattr(current, d.name, decode_into(getattr(current, d.name), stored[d.name]))
        return current
    if isinstance(current, list):
        if not isinstance(stored, list) or len(stored) != len(current):
            raise ValueError(f"expected an array of {len(current)} elements")
        for i, item in enumerate(stored):
            current[i] = decode_into(current[i], item)
        return current
    if isinstance(current, dict):
        if not isinstance(stored, dict):
            raise ValueError("expected a mapping")
        for k in current:
            if str(k) in stored:
                current[k] = decode_into(current[k], stored[str(k)])
        return current
    fields = _fields(current)
    if fields is None or not isinstance(stored, dict):
        raise ValueError(f"cannot restore a {type(current).__name__}")
    for name in fields:
        if name in stored:
            setattr(current, name, decode_into(getattr(current, name), stored[name]))
    return current


# --- RETAIN -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Leaf:
    """One durable variable: ``path`` within its program, read as ``holder.attr``."""

    path: str
    holder: Any
    attr: str
    type_name: str

    def read(self) -> Any:
        """The current value."""
        return getattr(self.holder, self.attr)

    def write(self, value: Any) -> None:
        """Replace the value."""
        setattr(self.holder, self.attr, value)


def retained_leaves(pou: POU) -> list[Leaf]:
    """Every durable variable of ``pou`` (see the module documentation), FB instances
    declared ``RETAIN`` expanded to their members so that one changed member is one row."""
    out: list[Leaf] = []
    _collect(pou, "", whole=False, out=out)
    return out


def _collect(pou: POU, prefix: str, *, whole: bool, out: list[Leaf]) -> None:
    for d in type(pou).DECLS:
        if not has_state(d):
            continue
        value = getattr(pou, d.name)
        retained = whole or d.retain
        if isinstance(value, POU):
            _collect(value, f"{prefix}{d.name}.", whole=retained, out=out)
        elif retained:
            out.append(Leaf(f"{prefix}{d.name}", pou, d.name, d.type_name))
