"""The time scale of batch execution on simulated units: recipe time per wall-clock time.

Every record is stamped with wall-clock UTC time; phase progress, hold times and time
lags between unit procedures are in **recipe hours**. On real equipment the two run
together. On simulated units (:class:`phactory.batch.SimulatedUnit`) the engine runs
recipe time faster by the **time scale**:

``time_scale`` = recipe time / wall-clock time

* ``1.0``: real time (the default of :class:`phactory.batch.BatchEngine`): a 14-day
  culture takes 14 days;
* ``600``: ten recipe minutes per wall-clock second (a 14-day culture in ~34 min);
* ``math.inf``: instant: every phase completes at its first poll and the time between
  unit procedures counts as meeting every minimum and maximum lag (tests,
  demonstrations).

Values below 1 (slower than real time) are refused, so that the old meaning of the
parameter (the inverse: wall-clock / recipe time) cannot pass unnoticed.

Servers take their default from ``PHACTORY_BATCH_TIME_SCALE``
(:func:`time_scale_from_env`); the engine itself never reads the environment.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Final

from phactory.errors import InvalidError

__all__ = [
    "TIME_SCALE_ENV",
    "TimeScaleError",
    "check_time_scale",
    "describe_time_scale",
    "parse_time_scale",
    "recipe_hours",
    "time_scale_from_env",
]

#: Environment variable giving servers their default time scale.
TIME_SCALE_ENV: Final = "PHACTORY_BATCH_TIME_SCALE"

_HELP: Final = (
    "the time scale is recipe time per wall-clock time: 1 = real time, "
    "600 = ten recipe minutes per second, inf = instant"
)


class TimeScaleError(InvalidError):
    """A time scale that is not a number >= 1 (or ``inf``)."""


def check_time_scale(value: float, where: str = "time_scale") -> float:
    """``value`` as a float if it is a valid time scale.

    Raises
    ------
    TimeScaleError
        If it is not a number >= 1 (``inf`` allowed), naming ``where``.
    """
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise TimeScaleError(f"{where}: {value!r} is not a number ({_HELP})")
    if value < 1:
        raise TimeScaleError(f"{where}: {value:g} is below 1 ({_HELP})")
    return float(value)


def parse_time_scale(text: str, where: str = "time scale") -> float:
    """A time scale from text: a number >= 1, or ``inf`` / ``instant``.

    Raises
    ------
    TimeScaleError
        If the text is not one, naming ``where``.
    """
    raw = text.strip().lower()
    if raw in ("inf", "infinity", "instant"):
        return math.inf
    try:
        value = float(raw)
    except ValueError:
        raise TimeScaleError(f"{where}: {text!r} is not a number ({_HELP})") from None
    return check_time_scale(value, where)


def time_scale_from_env(default: float = 1.0, environ: Mapping[str, str] | None = None) -> float:
    """The servers' default time scale: ``PHACTORY_BATCH_TIME_SCALE``, else ``default``.

    Raises
    ------
    TimeScaleError
        If the variable is set to something that is not a time scale.
    """
    env = os.environ if environ is None else environ
    raw = env.get(TIME_SCALE_ENV, "").strip()
    if not raw:
        return check_time_scale(default)
    return parse_time_scale(raw, TIME_SCALE_ENV)


def describe_time_scale(scale: float) -> str:
    """For people: ``real time``, ``600× real time``, ``instant``."""
    if math.isinf(scale):
        return "instant"
    if scale == 1:
        return "real time"
    return f"{scale:,.0f}× real time" if scale >= 10 else f"{scale:.3g}× real time"


def recipe_hours(wall_s: float, scale: float) -> float:
    """Recipe hours elapsed in ``wall_s`` wall-clock seconds at ``scale`` (``inf`` for an
    infinite scale and any wall time > 0)."""
    if wall_s <= 0:
        return 0.0
    return math.inf if math.isinf(scale) else wall_s * scale / 3600.0
