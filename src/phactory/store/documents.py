"""JSON documents: content hashes, and checking values before storing them.

The hashed text is :func:`phactory.jsonio.canonical_json`. :func:`dumps` is the store's
own serialiser (the database's JSON columns) because its contract differs from
:func:`phactory.jsonio.dumps`: a value that is not JSON (``NaN``, an infinity) is refused
here, so that nothing is stored other than what was given, where output JSON writes
``null`` for it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from phactory.jsonio import canonical_hash
from phactory.store.errors import InvalidInput

if TYPE_CHECKING:
    from phactory.model import Site

__all__ = [
    "RawJSON",
    "dumps",
    "site_content_hash",
    "site_document",
    "to_json",
    "to_json_object",
    "to_raw_json_object",
]


def _default(value: Any) -> Any:
    # NumPy scalars and arrays (results computed with pandas/NumPy), pydantic models.
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    tolist = getattr(value, "tolist", None)
    if callable(tolist) and hasattr(value, "dtype"):
        return tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


class RawJSON(str):
    """JSON text already checked and serialised; :func:`dumps` passes it through as is."""

    __slots__ = ()


def dumps(value: Any) -> str:
    """Serialise a value as strict JSON (no ``NaN``/``Infinity``), as the database stores it.

    NumPy values and pydantic models are converted; anything else that is not JSON raises
    :class:`TypeError` or :class:`ValueError`. A :class:`RawJSON` is returned unchanged,
    which lets bulk writes serialise each document once.
    """
    if type(value) is RawJSON:
        return value
    return json.dumps(
        value, allow_nan=False, default=_default, separators=(",", ":"), ensure_ascii=False
    )


def to_json(value: Any, what: str) -> Any:
    """Check that ``value`` is JSON and return it as plain JSON types.

    Returns exactly what reading it back from the store will give (tuples become lists,
    NumPy numbers Python numbers, pydantic models dicts), so callers see no difference
    between a value they just stored and one they load later.

    Parameters
    ----------
    value
        The value to store.
    what
        What it is, for the error message (e.g. ``"run results"``).

    Raises
    ------
    InvalidInput
        If the value is not JSON (a ``NaN``, a set, an arbitrary object ...).
    """
    try:
        text = dumps(value)
        text.encode("utf-8")  # an unpaired surrogate is not Unicode: PostgreSQL refuses it
        return json.loads(text)
    except (TypeError, ValueError, RecursionError) as exc:
        found = _first_bad(value, "")
        where = f" (at {found[0] or 'the top'}: {found[1]!r:.80})" if found else ""
        raise InvalidInput(f"{what} is not valid JSON: {exc}{where}") from exc


def _first_bad(value: Any, path: str, depth: int = 0) -> tuple[str, Any] | None:
    """Where in ``value`` the first part that is not JSON is, and what it is."""
    if depth > 100:
        return (path, "(nested too deeply)")
    if value is None or isinstance(value, bool | int):
        return None
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return (path, value)
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, value)
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str | int | float | bool) and key is not None:
                return (f"{path}[{key!r}]", key)
            found = _first_bad(item, f"{path}[{key!r}]", depth + 1)
            if found:
                return found
        return None
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = _first_bad(item, f"{path}[{i}]", depth + 1)
            if found:
                return found
        return None
    try:
        converted = _default(value)
    except TypeError:
        return (path, value)
    return _first_bad(converted, path, depth + 1)


def to_raw_json_object(value: Any, what: str) -> RawJSON:
    """Check that ``value`` is a JSON object and serialise it, for bulk writes.

    Raises
    ------
    InvalidInput
        If the value is not JSON or not a mapping.
    """
    if not isinstance(value, Mapping | BaseModel):
        raise InvalidInput(f"{what} must be a mapping, got {type(value).__name__}")
    try:
        text = dumps(value)
        text.encode("utf-8")
    except (TypeError, ValueError, RecursionError):
        to_json(value, what)  # raises with the location of the bad part
        raise  # pragma: no cover
    return RawJSON(text)


def to_json_object(value: Any, what: str) -> dict[str, Any]:
    """Like :func:`to_json`, for a value that must be a JSON object (a mapping).

    Documents are stored as objects only: SQLite would turn a bare number stored in a
    JSON column into a different number (``-0.0`` into ``0``, ``10**30`` into ``1e30``).

    Raises
    ------
    InvalidInput
        If the value is not JSON or not a mapping.
    """
    document = to_json(value, what)
    if not isinstance(document, dict):
        raise InvalidInput(f"{what} must be a mapping, got {type(value).__name__}")
    return document


#: Optional sections added to the site model after sites were stored: left out of the
#: document while unset, so that a stored site's content hash stays what it was.
_ADDED_SECTIONS = ("control",)


def site_document(site: Site) -> dict[str, Any]:
    """The JSON document stored for a site: ``site.model_dump(mode="json", by_alias=True)``
    without the later sections it does not set (:data:`_ADDED_SECTIONS`)."""
    document = site.model_dump(mode="json", by_alias=True)
    for name in _ADDED_SECTIONS:
        if document.get(name) is None:
            document.pop(name, None)
    return document


def site_content_hash(site: Site) -> str:
    """SHA-256 (hex) of the canonical JSON of a site: equal for sites with equal content.

    The text hashed is :func:`phactory.jsonio.canonical_json` (the one hashing
    serialisation of Phactory); changing it would change every stored hash.

    Raises
    ------
    InvalidInput
        If the site holds a value JSON cannot carry (``NaN``, infinity).
    """
    try:
        return canonical_hash(site_document(site))
    except ValueError as exc:
        raise InvalidInput(f"site {site.id} cannot be stored as JSON: {exc}") from exc
