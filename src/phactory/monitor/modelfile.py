"""Fitted monitoring models saved as versioned JSON, never pickle.

A model file is one JSON object::

    {"format": "phactory.monitor", "format_version": 1,
     "family": "mspc", "phactory": "0.9.0", "created": "2026-12-07T22:30:00Z",
     "state": {...}}

``family`` names the class that reads ``state`` (:data:`FAMILIES`); each family's
``state`` carries its own ``method`` and fitted arrays. Arrays are stored as
``{"dtype": "float64", "shape": [...], "data": [...]}`` with Python's shortest
round-trip float text, so a reloaded model scores bit-for-bit as the saved one; NaN and
infinities are stored as the strings ``"nan"``, ``"inf"``, ``"-inf"`` (JSON has none).

Why not pickle: a pickle runs code when it is loaded, so a model file from a colleague
or a download could run anything; JSON is data, readable, diffable and stable across
library versions (scikit-learn's pickles are not).

A file of a newer ``format_version`` than this Phactory reads, of an unknown family, or
with a missing or ill-typed field is refused, naming the file and the field.
"""

from __future__ import annotations

import importlib
import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self, TypeVar

from phactory.errors import InvalidError, NotFoundError
from phactory.files import write_atomic

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "FAMILIES",
    "FORMAT",
    "FORMAT_VERSION",
    "MAX_MODEL_BYTES",
    "Persistable",
    "StateReader",
    "array_from_json",
    "array_to_json",
    "load_model",
    "save_model",
]

FORMAT = "phactory.monitor"
#: Version of the file layout (not of a family's state: each family versions its own).
FORMAT_VERSION = 1
#: Largest model file read [bytes] (a 5,000-variable PCA is ~400 MB of text; refuse more).
MAX_MODEL_BYTES = 512 * 1024 * 1024

#: Family -> ``module:Class`` that reads its state.
FAMILIES: dict[str, str] = {
    "mspc": "phactory.monitor.mspc:MspcModel",
    "batch": "phactory.monitor.batch:BatchModel",
    "softsensor": "phactory.monitor.softsensor:SoftSensor",
    "rul": "phactory.monitor.rul:RulModel",
}


class Persistable(Protocol):
    """A fitted model that can be written to and read from a model file."""

    family: ClassVar[str]

    def to_state(self) -> dict[str, Any]:
        """The fitted model as JSON-ready values (arrays via :func:`array_to_json`)."""
        ...

    @classmethod
    def from_state(cls, state: Mapping[str, Any], where: str) -> Self:
        """Rebuild the model; ``where`` names the file for error messages."""
        ...


_T = TypeVar("_T")


def array_to_json(a: np.ndarray) -> dict[str, Any]:
    """An array as a JSON object that reloads to an identical array."""
    import numpy as np

    arr = np.asarray(a)
    if arr.dtype.kind == "f":
        values = arr.astype(np.float64, copy=False).ravel()
        # tolist() gives Python floats in one call (a 5,000-variable model holds millions);
        # only the few non-finite values are replaced one by one.
        flat: list[Any] = values.tolist()
        for i in np.flatnonzero(~np.isfinite(values)):
            v = flat[i]
            flat[i] = "nan" if v != v else ("inf" if v > 0 else "-inf")
        dtype = "float64"
    elif arr.dtype.kind in "iub":
        flat = [int(v) for v in arr.ravel()]
        dtype = "int64" if arr.dtype.kind != "b" else "bool"
    else:
        raise TypeError(f"arrays of {arr.dtype} are not stored in model files")
    return {"dtype": dtype, "shape": list(arr.shape), "data": flat}


def array_from_json(obj: Any, where: str) -> np.ndarray:
    """The array stored by :func:`array_to_json`; ``where`` names the field for errors."""
    import numpy as np

    if not isinstance(obj, Mapping) or not {"dtype", "shape", "data"} <= obj.keys():
        raise InvalidError(f"{where}: expected an array (dtype, shape, data)")
    dtype, shape, data = obj["dtype"], obj["shape"], obj["data"]
    if dtype not in ("float64", "int64", "bool"):
        raise InvalidError(f"{where}: unknown dtype {dtype!r}")
    if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
        raise InvalidError(f"{where}: shape must be a list of non-negative integers")
    if not isinstance(data, list):
        raise InvalidError(f"{where}: data must be a list")
    if len(data) != math.prod(shape):
        raise InvalidError(f"{where}: {len(data)} values for shape {shape}")
    try:
        if dtype == "float64":
            out = np.array([float(v) for v in data], dtype=float)
        else:
            if not all(isinstance(v, int | bool) for v in data):
                raise ValueError("not an integer")
            out = np.array(data, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise InvalidError(f"{where}: a value is not a number ({exc})") from None
    return out.reshape(shape)


def save_model(model: Persistable, path: str | Path) -> Path:
    """Write ``model`` to ``path`` (written to a temporary file, then renamed)."""
    import phactory

    p = Path(path)
    doc = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "family": model.family,
        "phactory": phactory.__version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "state": model.to_state(),
    }
    text = json.dumps(doc, allow_nan=False, separators=(",", ":"))
    return write_atomic(p, text, what="the model")


def load_model(path: str | Path, expect: type[_T] | None = None) -> _T | Any:
    """Read a model file; with ``expect``, refuse a model of another family.

    Raises
    ------
    NotFoundError
        If the file does not exist.
    InvalidError
        If it is not a Phactory monitoring model, is of a newer format version, of an
        unknown family, of the wrong family, or its state is malformed (naming the field).
    """
    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"{p}: no such model file")
    if p.stat().st_size > MAX_MODEL_BYTES:
        raise InvalidError(f"{p}: larger than {MAX_MODEL_BYTES // 2**20} MiB; not a model file")
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidError(f"{p}: not a JSON model file ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InvalidError(f"{p}: not a Phactory monitoring model (no format {FORMAT!r})")
    version = doc.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise InvalidError(f"{p}: format_version must be a positive integer")
    if version > FORMAT_VERSION:
        raise InvalidError(
            f"{p}: written in model format {version}; this Phactory reads up to "
            f"{FORMAT_VERSION} (upgrade Phactory)"
        )
    family = doc.get("family")
    home = FAMILIES.get(family) if isinstance(family, str) else None
    if home is None:
        raise InvalidError(
            f"{p}: unknown model family {family!r} (known: {', '.join(sorted(FAMILIES))})"
        )
    module, _, name = home.partition(":")
    cls = getattr(importlib.import_module(module), name)
    if expect is not None and cls is not expect:
        raise InvalidError(
            f"{p}: a {family!r} model, not a {getattr(expect, 'family', expect.__name__)!r} model"
        )
    state = doc.get("state")
    if not isinstance(state, dict):
        raise InvalidError(f"{p}: field 'state' must be an object")
    return cls.from_state(state, str(p))


class StateReader:
    """Typed reads of a model's ``state`` with errors naming the file and the field.

    >>> r = StateReader({"method": "pca", "k": 3}, "m.json")
    >>> r.text("method"), r.integer("k")
    ('pca', 3)
    """

    def __init__(self, state: Mapping[str, Any], where: str, prefix: str = "state") -> None:
        self._state = state
        self._where = where
        self._prefix = prefix

    def at(self, name: str) -> str:
        """``FILE: field 'state.name'``: where a field is, for a family's own checks."""
        return f"{self._where}: field '{self._prefix}.{name}'"

    def _get(self, name: str) -> Any:
        if name not in self._state:
            raise InvalidError(f"{self.at(name)} is missing")
        return self._state[name]

    def has(self, name: str) -> bool:
        return name in self._state

    def text(self, name: str) -> str:
        v = self._get(name)
        if not isinstance(v, str):
            raise InvalidError(f"{self.at(name)} must be a string")
        return v

    def integer(self, name: str) -> int:
        v = self._get(name)
        if isinstance(v, bool) or not isinstance(v, int):
            raise InvalidError(f"{self.at(name)} must be an integer")
        return int(v)

    def number(self, name: str) -> float:
        v = self._get(name)
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise InvalidError(f"{self.at(name)} must be a number")
        return float(v)

    def version(self, latest: int, family: str) -> int:
        """The state's ``version``; refuse one this Phactory cannot read (``1..latest``)."""
        v = self.integer("version")
        if not 1 <= v <= latest:
            raise InvalidError(
                f"{self.at('version')} is {v}; this Phactory reads {family} models up to "
                f"version {latest} (upgrade Phactory)"
            )
        return v

    def pair(self, name: str) -> tuple[int, int]:
        """Two integers stored as ``[a, b]`` (a persistence rule ``[k, n]``)."""
        v = self._get(name)
        if not (isinstance(v, list) and len(v) == 2 and all(type(i) is int for i in v)):
            raise InvalidError(f"{self.at(name)} must be a list of two integers")
        return int(v[0]), int(v[1])

    def optional_number(self, name: str) -> float | None:
        return None if self._state.get(name) is None else self.number(name)

    def flag(self, name: str) -> bool:
        v = self._get(name)
        if not isinstance(v, bool):
            raise InvalidError(f"{self.at(name)} must be true or false")
        return v

    def texts(self, name: str) -> tuple[str, ...]:
        v = self._get(name)
        if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
            raise InvalidError(f"{self.at(name)} must be a list of strings")
        return tuple(v)

    def array(self, name: str) -> np.ndarray:
        return array_from_json(self._get(name), self.at(name))

    def child(self, name: str) -> StateReader:
        v = self._get(name)
        if not isinstance(v, Mapping):
            raise InvalidError(f"{self.at(name)} must be an object")
        return StateReader(v, self._where, f"{self._prefix}.{name}")

    def mapping(self) -> Mapping[str, Any]:
        return self._state
