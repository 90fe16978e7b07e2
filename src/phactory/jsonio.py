"""JSON in one place: the canonical text that is hashed, and plain JSON for output.

Two needs, two functions, used everywhere Phactory hashes or prints JSON:

* :func:`canonical_json` / :func:`canonical_hash`: the serialisation whose bytes are
  hashed (site content hashes in the store, the audit trail's values, signed content):
  ``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
  allow_nan=False)``. ``NaN`` and infinities are refused rather than written as the
  non-standard tokens ``NaN``/``Infinity``, so that the same value always gives the same
  bytes and any JSON parser can re-check a hash. Changing this text changes every stored
  hash; it is part of the record format.
* :func:`json_safe` / :func:`dumps`: plain JSON for people and programs (``--json``
  outputs, API bodies, run results): NumPy and pandas values become Python ones, ``NaN``
  and infinities become ``null``, datetimes ISO 8601 text.

This module imports nothing of Phactory, so every layer may use it.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

__all__ = ["canonical_hash", "canonical_json", "dumps", "json_safe"]


# One encoder for every call: ``json.dumps`` with options builds a new one each time,
# which costs a few microseconds per audit entry when a chain of millions is verified.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), allow_nan=False)


def canonical_json(value: Any) -> str:
    """Canonical JSON text: sorted keys, no spaces, ASCII only, no ``NaN``.

    The same text as ``json.dumps(value, sort_keys=True, separators=(",", ":"),
    allow_nan=False)``.

    Raises
    ------
    TypeError
        If the value holds something that is not JSON (a set, an object).
    ValueError
        If it holds ``NaN`` or an infinity.
    """
    return _CANONICAL.encode(value)


def canonical_hash(value: Any) -> str:
    """SHA-256 (hex) of :func:`canonical_json` of ``value`` encoded as UTF-8."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def json_safe(obj: Any) -> Any:
    """Plain JSON data from Python, NumPy and pandas values.

    Mappings and sequences are converted item by item (keys become text); ``NaN`` and
    infinities become ``None``; NumPy arrays and scalars become lists and numbers;
    datetimes and pandas timestamps ISO 8601 text; anything else its ``str``.
    """
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if obj is None or isinstance(obj, bool | str | int):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    model_dump = getattr(obj, "model_dump", None)
    if callable(model_dump):  # pydantic models
        return json_safe(model_dump(mode="json"))
    tolist = getattr(obj, "tolist", None)
    if callable(tolist):  # numpy arrays and scalars
        return json_safe(tolist())
    isoformat = getattr(obj, "isoformat", None)
    if callable(isoformat):  # datetimes, pandas Timestamps
        return str(isoformat())
    item = getattr(obj, "item", None)
    if callable(item):
        return json_safe(item())
    return str(obj)


def dumps(obj: Any, *, indent: int | None = None) -> str:
    """Strict JSON text of :func:`json_safe` of ``obj`` (``null`` for ``NaN``), as written."""
    return json.dumps(json_safe(obj), indent=indent, allow_nan=False, ensure_ascii=False)
