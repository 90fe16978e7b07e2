"""Durations as people type them and as IEC 61131-3 writes them, in integer nanoseconds.

Accepted: ``10ms``, ``2s``, ``1.5 s``, ``250us``, ``1h30m``, ``T#10ms``, ``TIME#1m_30s``,
``LTIME#5ns``, with an optional sign (IEC 61131-3:2013 §6.3.3 duration literals, Table 8:
units ``d``, ``h``, ``m``, ``s``, ``ms``, ``us``, ``ns``; underscores between digits). A bare
number without a unit is refused: ``10`` could mean seconds or milliseconds.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from phactory.errors import InvalidError

__all__ = ["format_duration", "parse_duration"]

_UNIT_NS = {
    "d": 86_400 * 10**9,
    "h": 3_600 * 10**9,
    "m": 60 * 10**9,
    "min": 60 * 10**9,
    "s": 10**9,
    "ms": 10**6,
    "us": 10**3,
    "µs": 10**3,
    "ns": 1,
}
# Longest units first so that "ms" is not read as "m" followed by "s".
_PART = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(min|ms|us|µs|ns|d|h|m|s)", re.IGNORECASE)
_PREFIX = re.compile(r"^(?:L?TIME|L?T)#", re.IGNORECASE)


def parse_duration(text: str) -> int:
    """The duration ``text`` [ns] (see the module documentation for the forms accepted).

    Raises
    ------
    InvalidError
        ``text`` is not a duration; the message quotes it.
    """
    raw = text
    s = _PREFIX.sub("", text.strip()).replace("_", "")
    sign = 1
    if s and s[0] in "+-":
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    total = Decimal(0)
    pos = 0
    s = s.strip()
    while pos < len(s):
        m = _PART.match(s, pos)
        if m is None:
            break
        try:
            total += Decimal(m.group(1)) * _UNIT_NS[m.group(2).lower()]
        except InvalidOperation:  # pragma: no cover - the pattern admits numbers only
            break
        pos = m.end()
    if pos == 0 or pos != len(s):
        raise InvalidError(
            f"{raw!r} is not a duration: write a number with a unit (d, h, m, s, ms, us, ns), "
            "e.g. '10ms', '1.5 s' or 'T#2s'"
        )
    return sign * int(total.to_integral_value())


def format_duration(ns: int) -> str:
    """``ns`` as an IEC 61131-3 duration literal: ``T#1s500ms``, ``T#0s``, ``T#-20ms``."""
    if ns == 0:
        return "T#0s"
    sign = "-" if ns < 0 else ""
    rest = abs(ns)
    parts = []
    for unit in ("d", "h", "m", "s", "ms", "us", "ns"):
        size = _UNIT_NS[unit]
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return f"T#{sign}{''.join(parts)}"
