"""Values of ST literals (IEC 61131-3:2013 §6.3): integers, reals, durations, strings.

Durations become ``int`` nanoseconds (Phactory's ``TIME``, :mod:`phactory.control.pou`),
computed exactly from the decimal digits (``T#1.5s`` is 1 500 000 000 ns, no float
rounding).
"""

from __future__ import annotations

import re
from fractions import Fraction

__all__ = ["parse_integer", "parse_real", "parse_string", "parse_time"]

_UNIT_NS = {
    "D": 86_400 * 10**9,
    "H": 3_600 * 10**9,
    "M": 60 * 10**9,
    "S": 10**9,
    "MS": 10**6,
    "US": 10**3,
    "NS": 1,
}
# "ms" before "m" and "s": alternatives are tried in order at each position.
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|us|ns|d|h|m|s)", re.IGNORECASE)
_BASES = {"2": 2, "8": 8, "16": 16, "10": 10}


def parse_integer(text: str) -> int:
    """``-16#FF`` -> -255, ``2#1010_1010`` -> 170, ``1_000`` -> 1000."""
    t = text.replace("_", "")
    sign = -1 if t.startswith("-") else 1
    t = t.lstrip("+-")
    if "#" in t:
        base, digits = t.split("#", 1)
        return sign * int(digits, _BASES[base])
    return sign * int(t)


def parse_real(text: str) -> float:
    """``1.5E3`` -> 1500.0 (underscores allowed between digits)."""
    return float(text.replace("_", ""))


def parse_time(text: str) -> int:
    """``T#1h2m3s4ms``, ``TIME#-1.5s``, ``LT#5ns`` -> nanoseconds.

    Raises
    ------
    ValueError
        When the text after ``#`` is not a sequence of ``<number><unit>`` parts.
    """
    body = text.split("#", 1)[1].replace("_", "")
    sign = 1
    if body.startswith(("-", "+")):
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    pos, total = 0, Fraction(0)
    for m in _PART.finditer(body):
        if m.start() != pos:
            raise ValueError(f"bad duration {text!r}")
        total += Fraction(m.group(1)) * _UNIT_NS[m.group(2).upper()]
        pos = m.end()
    if pos != len(body) or pos == 0:
        raise ValueError(f"bad duration {text!r}")
    return sign * round(total)


_ESCAPES = {"$": "$", "'": "'", '"': '"', "L": "\n", "N": "\n", "P": "\f", "R": "\r", "T": "\t"}


def parse_string(text: str) -> str:
    """A quoted ST string with its ``$`` escapes (``'it$'s$N'`` -> ``"it's\\n"``).

    ``$hh`` (single-byte) and ``$hhhh`` (double-byte ``"..."`` strings) give a character
    by its code.
    """
    wide = text.startswith('"')
    body = text[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "$" or i + 1 >= len(body):
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt.upper() in _ESCAPES:
            out.append(_ESCAPES[nxt.upper()])
            i += 2
            continue
        width = 4 if wide else 2
        code = body[i + 1 : i + 1 + width]
        try:
            out.append(chr(int(code, 16)))
        except ValueError:
            out.append(nxt)
            i += 2
            continue
        i += 1 + width
    return "".join(out)
