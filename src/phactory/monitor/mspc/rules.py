"""Persistence rules: an alarm when at least ``k`` of the last ``n`` samples exceed.

A single sample over a 1 % limit is expected once in a hundred samples of normal
operation; requiring the exceedance to persist trades detection delay for fewer false
alarms (the run rules of Western Electric [1]_ in their simplest multivariate form).
``k = n = 1`` is the plain limit. Rows must be in time order and evenly sampled; the
first ``n - 1`` rows look back only as far as the data go.

References
----------
.. [1] Western Electric Co., Statistical Quality Control Handbook (1956), the "2 of 3"
   and "4 of 5" zone rules; D. C. Montgomery, Introduction to Statistical Quality
   Control, 7th ed., Wiley (2013), sec. 5.3.6.
"""

from __future__ import annotations

import re

import numpy as np

from phactory.errors import InvalidError

__all__ = ["MAX_WINDOW", "check_persistence", "k_of_n", "parse_persistence"]

#: Longest window of a persistence rule [samples].
MAX_WINDOW = 10_000

_RULE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def k_of_n(exceeds: np.ndarray, k: int, n: int) -> np.ndarray:
    """``alarm[t]`` = at least ``k`` of ``exceeds[t-n+1 .. t]`` are true.

    One cumulative sum over the rows (no loop per row): the count in a window is the
    difference of two running totals.

    >>> k_of_n(np.array([1, 0, 1, 1, 0, 0], dtype=bool), 2, 3).tolist()
    [False, False, True, True, True, False]
    """
    check_persistence(k, n)
    e = np.asarray(exceeds, dtype=bool)
    if k == 1 and n == 1:
        return e.copy()
    total = np.cumsum(e, dtype=np.int64)
    window = total.copy()
    window[n:] -= total[:-n]
    return window >= k


def check_persistence(k: int, n: int) -> None:
    """Refuse a rule that cannot fire or is too long."""
    if not 1 <= k <= n:
        raise InvalidError(f"a persistence rule needs 1 <= k <= n, not {k}/{n}")
    if n > MAX_WINDOW:
        raise InvalidError(f"a persistence window of {n} samples is over {MAX_WINDOW}")


def parse_persistence(text: str) -> tuple[int, int]:
    """``"2/3"`` -> ``(2, 3)``; refuse anything else with the reason."""
    m = _RULE.match(text)
    if m is None:
        raise InvalidError(
            f"--persistence must be K/N (an alarm when K of the last N samples exceed), "
            f"e.g. 2/3; not {text!r}"
        )
    k, n = int(m.group(1)), int(m.group(2))
    check_persistence(k, n)
    return k, n
