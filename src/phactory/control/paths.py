"""Reading and writing a POU instance's variables by path: ``x``, ``t1.Q``, ``arr[3]``, ``s.f``.

A path is what an engineer writes in ST to name a variable from outside: member names
separated by dots, array indices in brackets with the array's declared bounds
(``arr[1]`` is the first element of ``ARRAY[1..10]``; ``m[2, 3]`` and ``m[2][3]`` are the
same element of a two-dimensional array). Names are case-insensitive (IEC 61131-3:2013
§6.1.2) and resolved through each object's ``DECLS``, so compiled ST, Python blocks and
structures all work alike.

Writes check the declared type: an integer must fit its type's range, a ``BOOL`` is a
bool, a ``REAL`` takes any number, ``TIME`` is ``int`` nanoseconds; ``CONSTANT`` variables,
function-block instances, arrays and structures as a whole cannot be written.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from phactory.control.pou import VarDecl
from phactory.errors import InvalidError, NotFoundError

__all__ = ["get_path", "set_path"]

_STEP = re.compile(r"\s*(?:\.?\s*([A-Za-z_][A-Za-z0-9_]*)|\[([^\]]*)\])")
_ARRAY = re.compile(r"^\s*ARRAY\s*\[(.*?)\]\s*OF\s+(.+)$", re.IGNORECASE | re.DOTALL)
_INT_BITS = {
    "SINT": (8, True), "INT": (16, True), "DINT": (32, True), "LINT": (64, True),
    "USINT": (8, False), "UINT": (16, False), "UDINT": (32, False), "ULINT": (64, False),
    "BYTE": (8, False), "WORD": (16, False), "DWORD": (32, False), "LWORD": (64, False),
}  # fmt: skip


@lru_cache(maxsize=4096)
def _parse(path: str) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """``"a.b[1, 2][3].c"`` -> ``(("a", ()), ("b", (1, 2, 3)), ("c", ()))``."""
    steps: list[tuple[str, list[int]]] = []
    pos = 0
    text = path.strip()
    while pos < len(text):
        m = _STEP.match(text, pos)
        if m is None or m.end() == pos:
            raise InvalidError(f"bad variable path {path!r} at character {pos + 1}")
        if m.group(1) is not None:
            if m.group(0).strip().startswith(".") == (not steps):
                raise InvalidError(f"bad variable path {path!r}")
            steps.append((m.group(1), []))
        else:
            if not steps:
                raise InvalidError(f"bad variable path {path!r}: an index needs a name before it")
            try:
                steps[-1][1].extend(int(i) for i in m.group(2).split(","))
            except ValueError:
                raise InvalidError(f"bad index in {path!r}: indices are integers") from None
        pos = m.end()
    if not steps:
        raise InvalidError("empty variable path")
    return tuple((name, tuple(idx)) for name, idx in steps)


@lru_cache(maxsize=1024)
def _decls(cls: Any) -> dict[str, VarDecl]:
    return {d.name.upper(): d for d in getattr(cls, "DECLS", ())}


@lru_cache(maxsize=1024)
def _dims(type_name: str) -> tuple[tuple[tuple[int, int], ...], str] | None:
    """Bounds and element type of an ``ARRAY[...] OF ...`` spelling, else ``None``."""
    m = _ARRAY.match(type_name)
    if m is None:
        return None
    dims = []
    for part in m.group(1).split(","):
        lo, hi = part.split("..")
        dims.append((int(lo), int(hi)))
    return tuple(dims), m.group(2).strip()


def _resolve(root: Any, path: str) -> tuple[Any, Any, VarDecl, str]:
    """(container, key, declaration, element type) of the variable ``path`` names.

    ``key`` is an attribute name when the container is an object, a list index when it is
    a list (array element).
    """
    steps = _parse(path)
    obj = root
    container: Any = None
    key: Any = None
    decl: VarDecl | None = None
    type_name = ""
    for i, (name, indices) in enumerate(steps):
        if i:
            obj = getattr(container, key) if isinstance(key, str) else container[key]
        cls: Any = type(obj)
        decl = _decls(cls).get(name.upper())
        if decl is None:
            where = getattr(type(obj), "NAME", type(obj).__name__)
            raise NotFoundError(f"{where} has no variable {name!r} (path {path!r})")
        container, key, type_name = obj, decl.name, decl.type_name
        pending = list(indices)
        while pending:
            dims = _dims(type_name)
            if dims is None:
                raise InvalidError(f"{name} is not an array (path {path!r})")
            bounds, elem = dims
            container = getattr(container, key) if isinstance(key, str) else container[key]
            for lo, hi in bounds[:-1]:
                if not pending:
                    break
                ix = pending.pop(0)
                if not lo <= ix <= hi:
                    raise InvalidError(f"index {ix} is outside {name}[{lo}..{hi}] (path {path!r})")
                container = container[ix - lo]
            if not pending:
                raise InvalidError(f"{path!r} names a part of an array, not an element")
            lo, hi = bounds[-1] if len(bounds) else (0, -1)
            ix = pending.pop(0)
            if not lo <= ix <= hi:
                raise InvalidError(f"index {ix} is outside {name}[{lo}..{hi}] (path {path!r})")
            key, type_name = ix - lo, elem
    assert decl is not None
    return container, key, decl, type_name


def get_path(root: Any, path: str) -> Any:
    """The value at ``path`` in a POU instance (or a structure).

    Raises
    ------
    NotFoundError
        A name along the path is not declared.
    InvalidError
        A malformed path, or an index outside the declared bounds.
    """
    container, key, _, _ = _resolve(root, path)
    return getattr(container, key) if isinstance(key, str) else container[key]


def _coerce(value: Any, type_name: str, path: str) -> Any:
    t = type_name.strip().upper()
    base = t.split("(")[0].strip()
    if base == "BOOL":
        if isinstance(value, bool) or value in (0, 1):
            return bool(value)
        raise InvalidError(f"{path} is BOOL; {value!r} is not a boolean")
    if base in _INT_BITS:
        bits, signed = _INT_BITS[base]
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidError(f"{path} is {base}; {value!r} is not an integer")
        lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        if not lo <= value <= hi:
            raise InvalidError(f"{path} is {base}: {value} is outside {lo}..{hi}")
        return value
    if base in ("REAL", "LREAL"):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise InvalidError(f"{path} is {base}; {value!r} is not a number")
    if base in ("TIME", "LTIME"):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise InvalidError(f"{path} is {base}: give an int number of nanoseconds")
    if base in ("STRING", "WSTRING"):
        if not isinstance(value, str):
            raise InvalidError(f"{path} is {base}; {value!r} is not a string")
        m = re.search(r"\((\d+)\)", t)
        return value[: int(m.group(1))] if m else value[:80]
    if t.startswith("ARRAY"):
        raise InvalidError(f"{path} is an array: write its elements ({path}[i])")
    # A structure, a function-block instance or an enumeration: only enumerations (ints).
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise InvalidError(f"{path} is {type_name}: write its members, not the whole value")


def set_path(root: Any, path: str, value: Any) -> None:
    """Write ``value`` at ``path`` after checking it against the declared type.

    Raises
    ------
    NotFoundError
        A name along the path is not declared.
    InvalidError
        A malformed path, an index outside the bounds, a value of the wrong type or out
        of range, or a ``CONSTANT``.
    """
    container, key, decl, type_name = _resolve(root, path)
    if decl.constant:
        raise InvalidError(f"{path} is a CONSTANT and cannot be written")
    current = getattr(container, key) if isinstance(key, str) else container[key]
    if hasattr(type(current), "DECLS") or isinstance(current, list):
        raise InvalidError(f"{path} is {type_name}: write its members, not the whole value")
    v = _coerce(value, type_name, path)
    if isinstance(key, str):
        setattr(container, key, v)
    else:
        container[key] = v
