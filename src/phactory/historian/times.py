"""The historian's time base: integer microseconds since the Unix epoch, UTC.

Inside the historian every time is ``t_us``, an integer number of microseconds since
1970-01-01T00:00:00Z: exact (no float rounding of a timestamp ever merges or splits two
samples), totally ordered, and the key of the store. At the edges (the Python API, the
command line, the REST API) times are timezone-aware datetimes; a naive datetime is
refused, because its meaning (plant local time? UTC?) is a guess.

Text given by people (``--from``, ``?from=``) is ISO 8601 (``2025-03-01T08:00:00+01:00``,
``...Z``); there a time without an offset is read as UTC, which the command line and the
API say in their help. Durations (``--every``) are a number and a unit: ``500ms``, ``10s``,
``1min``, ``1h``, ``1d``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any, Final

from phactory.errors import InvalidError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "EPOCH",
    "HOUR_US",
    "MINUTE_US",
    "SECOND_US",
    "T_MAX_US",
    "T_MIN_US",
    "format_every",
    "from_us",
    "parse_every",
    "parse_time",
    "to_us",
    "us_of",
]

EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
SECOND_US: Final = 1_000_000
MINUTE_US: Final = 60 * SECOND_US
HOUR_US: Final = 60 * MINUTE_US
_ONE_US: Final = dt.timedelta(microseconds=1)
#: The first and last microsecond a datetime can hold (years 1 to 9999, UTC) [µs].
T_MIN_US: Final = -62_135_596_800_000_000
T_MAX_US: Final = 253_402_300_799_999_999
#: Longest duration :func:`parse_every` accepts (10,000 years) [µs].
_EVERY_MAX_US: Final = 10_000 * 366 * 24 * HOUR_US

#: Units of :func:`parse_every` [µs].
_UNITS: Final[dict[str, int]] = {
    "us": 1,
    "ms": 1_000,
    "s": SECOND_US,
    "sec": SECOND_US,
    "min": MINUTE_US,
    "h": HOUR_US,
    "d": 24 * HOUR_US,
}
_EVERY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$")


def to_us(t: dt.datetime, what: str = "time") -> int:
    """``t`` as microseconds since the Unix epoch (exact).

    Parameters
    ----------
    t
        A timezone-aware datetime (a pandas ``Timestamp`` is one).
    what
        What ``t`` is, for the error message (``"start"``, ``"event 3"``).

    Raises
    ------
    InvalidError
        If ``t`` is not a datetime or is naive.
    """
    if not isinstance(t, dt.datetime):
        raise InvalidError(f"{what} must be a timezone-aware datetime, not {type(t).__name__}")
    if t.tzinfo is None or t.utcoffset() is None:
        raise InvalidError(
            f"{what} {t.isoformat()} has no timezone: the historian keeps UTC and does not "
            "guess; give an aware datetime, e.g. datetime(..., tzinfo=UTC)"
        )
    return (t - EPOCH) // _ONE_US


def time_index(t_us: Any) -> pd.DatetimeIndex:
    """Times [µs since the epoch] (an integer array) as an aware UTC ``DatetimeIndex``
    of microsecond resolution (years 1 to 9999, where nanoseconds would overflow)."""
    import numpy as np
    import pandas as pd

    return pd.DatetimeIndex(np.asarray(t_us, dtype="int64").astype("datetime64[us]")).tz_localize(
        "UTC"
    )


def from_us(t_us: int) -> dt.datetime:
    """The aware UTC datetime of ``t_us`` [µs since the Unix epoch]."""
    return EPOCH + dt.timedelta(microseconds=int(t_us))


def us_of(every: dt.timedelta, what: str = "every") -> int:
    """A positive duration in whole microseconds.

    Raises
    ------
    InvalidError
        If ``every`` is not a timedelta or not positive.
    """
    if not isinstance(every, dt.timedelta):
        raise InvalidError(f"{what} must be a timedelta, not {type(every).__name__}")
    n = every // _ONE_US
    if n <= 0:
        raise InvalidError(f"{what} must be a positive duration, not {every}")
    return n


def parse_time(text: str, what: str = "time") -> dt.datetime:
    """An ISO 8601 time given as text; without an offset it is read as UTC.

    Parameters
    ----------
    text
        ``2025-03-01T08:00:00+01:00``, ``2025-03-01T07:00:00Z``, ``2025-03-01`` (midnight
        UTC), ...
    what
        What the text is, for the error message (``"--from"``).

    Raises
    ------
    InvalidError
        If the text is not an ISO 8601 date or time.
    """
    try:
        t = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidError(
            f"{what} {text!r} is not an ISO 8601 time such as 2025-03-01T08:00:00Z"
        ) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t


def parse_every(text: str, what: str = "every") -> dt.timedelta:
    """A duration written as a number and a unit: ``500ms``, ``10s``, ``1min``, ``1h``, ``1d``.

    Units: ``us``, ``ms``, ``s`` (``sec``), ``min``, ``h``, ``d``. ``m`` is refused as
    ambiguous (minutes or months?).

    Raises
    ------
    InvalidError
        If the text is not such a duration, or is not a positive whole number of µs.
    """
    match = _EVERY.match(text.lower())
    units = ", ".join(_UNITS)
    if match is None or match.group(2) not in _UNITS:
        raise InvalidError(
            f"{what} {text!r} is not a duration such as 10s, 1min or 1h (units: {units})"
        )
    number, unit = match.groups()
    whole, _, frac = number.partition(".")
    scale = _UNITS[unit]
    n = int(whole) * scale + (int(frac) * scale) // 10 ** len(frac) if frac else int(whole) * scale
    if n <= 0:
        raise InvalidError(f"{what} {text!r} must be a positive duration")
    if n > _EVERY_MAX_US:
        raise InvalidError(f"{what} {text!r} is longer than 10,000 years")
    return dt.timedelta(microseconds=n)


def format_every(every: dt.timedelta) -> str:
    """``every`` in the notation of :func:`parse_every`, in the largest whole unit."""
    n = every // _ONE_US
    for unit in ("d", "h", "min", "s", "ms"):
        if n % _UNITS[unit] == 0:
            return f"{n // _UNITS[unit]}{unit}"
    return f"{n}us"
