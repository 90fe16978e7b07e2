"""Run event logs: checking entries, writing them in bulk, reading them as a DataFrame.

An event is a mapping (or a DataFrame row) with ``t_h`` (time since the run's start [h],
finite), ``kind`` (e.g. ``"state"``, ``"batch_start"``), and optionally ``unit``,
``batch`` and ``payload`` (a JSON mapping). The store numbers events of a run with
``seq`` from 0, in append order.
"""

from __future__ import annotations

import math
import numbers
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, cast

import pandas as pd
from sqlalchemy import Connection, Row, Table, insert

from phactory.store.documents import to_raw_json_object
from phactory.store.errors import InvalidInput
from phactory.store.schema import ID_LENGTH, EventRow

__all__ = ["COPY_THRESHOLD", "EVENT_COLUMNS", "event_rows", "events_frame", "write_events"]

#: Columns of the frame returned by :meth:`phactory.store.Store.read_events`, in order.
EVENT_COLUMNS: Final = ("seq", "t_h", "kind", "unit", "batch", "payload")

#: From this many events on, PostgreSQL appends use ``COPY`` (about twice as fast).
COPY_THRESHOLD: Final = 500

_FIELDS: Final = frozenset({"t_h", "kind", "unit", "batch", "payload"})
_TABLE: Final = cast(Table, EventRow.__table__)
_TABLE_COLUMNS: Final = ("run_id", "seq", "t_h", "kind", "unit", "batch", "payload")
_MAX_KIND: Final = 64


def _missing(value: Any) -> bool:
    # A missing cell of a DataFrame row is NaN.
    return value is None or (isinstance(value, float) and math.isnan(value))


def _name(value: Any, field: str, index: int) -> str | None:
    if _missing(value):
        return None
    if not isinstance(value, str) or len(value) > ID_LENGTH or "\x00" in value:
        raise InvalidInput(
            f"event {index}: {field} must be a string of at most {ID_LENGTH} characters "
            f"(no NUL), got {value!r}"
        )
    return value


def _row(run_id: uuid.UUID, seq: int, index: int, event: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(event) - _FIELDS
    if unknown:
        raise InvalidInput(
            f"event {index}: unknown field(s) {', '.join(sorted(map(str, unknown)))}; "
            f"expected {', '.join(sorted(_FIELDS))}"
        )
    t_h = event.get("t_h")
    if isinstance(t_h, bool) or not isinstance(t_h, numbers.Real) or not math.isfinite(t_h):
        raise InvalidInput(f"event {index}: t_h must be a finite number of hours, got {t_h!r}")
    kind = event.get("kind")
    if not isinstance(kind, str) or not kind or len(kind) > _MAX_KIND or "\x00" in kind:
        raise InvalidInput(
            f"event {index}: kind must be a non-empty string of at most {_MAX_KIND} "
            f"characters (no NUL), got {kind!r}"
        )
    payload = event.get("payload")
    return {
        "run_id": run_id,
        "seq": seq,
        "t_h": float(t_h),
        "kind": kind,
        "unit": _name(event.get("unit"), "unit", index),
        "batch": _name(event.get("batch"), "batch", index),
        "payload": (
            None if _missing(payload) else to_raw_json_object(payload, f"event {index} payload")
        ),
    }


def event_rows(
    run_id: uuid.UUID, start: int, events: Iterable[Mapping[str, Any]] | pd.DataFrame
) -> list[dict[str, Any]]:
    """Check events and turn them into table rows numbered from ``start``.

    Raises
    ------
    InvalidInput
        For the first malformed event, naming its index in ``events``.
    """
    records: Iterable[Mapping[str, Any]]
    if isinstance(events, pd.DataFrame):
        records = cast(list[dict[str, Any]], events.to_dict(orient="records"))
    else:
        records = events
    return [_row(run_id, start + i, i, event) for i, event in enumerate(records)]


def write_events(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows from :func:`event_rows` in the connection's transaction."""
    if len(rows) >= COPY_THRESHOLD and conn.dialect.name == "postgresql":
        driver = conn.connection.driver_connection
        assert driver is not None
        columns = ", ".join(_TABLE_COLUMNS)
        with (
            driver.cursor() as cursor,
            cursor.copy(f"COPY events ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row([row[c] for c in _TABLE_COLUMNS])
    elif rows:
        # Core executemany: the ORM bulk path costs more than the database here.
        conn.execute(insert(_TABLE), list(rows))


def events_frame(rows: Sequence[Row[Any]] | Sequence[tuple[Any, ...]]) -> pd.DataFrame:
    """Build the event DataFrame from rows of :data:`EVENT_COLUMNS`.

    ``seq`` is int64, ``t_h`` float64 [h], ``kind``/``unit``/``batch`` pandas' string
    dtype (missing as NA), ``payload`` objects (dicts or ``None``); also when empty.
    """
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(EVENT_COLUMNS)
    text = pd.Series(["x"]).dtype  # pandas' string dtype: `str` in pandas 3, else object
    dtypes: tuple[Any, ...] = ("int64", "float64", text, text, text, "object")
    return pd.DataFrame(
        {
            name: pd.Series(list(values), dtype=dtype)
            for name, values, dtype in zip(EVENT_COLUMNS, columns, dtypes, strict=True)
        }
    )
