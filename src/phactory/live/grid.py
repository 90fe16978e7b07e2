"""Live tags on a regular grid: what a live monitor reads of the historian.

A model's variables are historian tags (:class:`TagMap`: a variable name below the unit's
tag prefix, or the prefix and the name joined by ``/``). They are read as step means on a
grid of ``every`` (:func:`read_grid`, from the historian's aggregate query); a silent tag
keeps its last value for at most ``hold`` steps, after which its rows are stale and not
scored. A step is read once it is closed: ``settle`` after its end, so that samples
arriving a little late are in it (:class:`Grid`). The MSPC, batch, soft-sensor and RUL
monitors (:mod:`phactory.live.monitoring`, :mod:`~phactory.live.batchmon`,
:mod:`~phactory.live.softsensor`, :mod:`~phactory.live.rul`) all read this way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import numpy as np

from phactory.errors import InvalidError, NotFoundError
from phactory.historian.times import from_us, to_us

if TYPE_CHECKING:
    from phactory.historian import Historian

__all__ = ["Grid", "TagMap", "read_grid", "score_prefix_of", "unit_prefix"]

_US: Final = dt.timedelta(microseconds=1)


def unit_prefix(tag_prefix: str) -> str:
    """``tag_prefix`` ending in ``/`` (``""`` stays ``""``): what names are put after."""
    return tag_prefix + "/" if tag_prefix and not tag_prefix.endswith("/") else tag_prefix


@dataclass(frozen=True, slots=True)
class TagMap:
    """The historian tag of each model variable, in the model's order."""

    variables: tuple[str, ...]
    tags: tuple[str, ...]
    prefix: str = ""

    @classmethod
    def of(
        cls,
        variables: Sequence[str],
        prefix: str = "",
        mapping: Mapping[str, str] | None = None,
    ) -> TagMap:
        """Tags of ``variables``: ``mapping[v]`` where given, else ``prefix`` + ``v``.

        A non-empty ``prefix`` not ending in ``/`` gets one (``site/area/cell/unit`` and
        ``TI101`` give ``site/area/cell/unit/TI101``).
        """
        prefix = unit_prefix(prefix)
        given = dict(mapping or {})
        unknown = sorted(set(given) - set(variables))
        if unknown:
            raise InvalidError(f"tag mapping names variables the model has not: {unknown}")
        tags = tuple(given.get(v, prefix + v) for v in variables)
        if len(set(tags)) != len(tags):
            raise InvalidError("two variables are mapped to the same tag")
        return cls(tuple(variables), tags, prefix)

    def check(self, historian: Historian) -> None:
        """Refuse tags the historian does not know.

        Raises
        ------
        NotFoundError
            Naming every unknown tag (and its variable).
        """
        known = historian.describe(list(self.tags))
        missing = [(v, t) for v, t in zip(self.variables, self.tags, strict=True) if t not in known]
        if missing:
            listed = ", ".join(f"{t!r} (variable {v})" for v, t in missing[:10])
            more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            raise NotFoundError(
                f"the historian has no tag {listed}{more}: check the tag prefix "
                f"{self.prefix!r}, or feed the historian first"
            )

    def tag_of(self, variable: str) -> str:
        """The tag of ``variable``."""
        return self.tags[self.variables.index(variable)]


def score_prefix_of(tag_prefix: str, name: str) -> str:
    """Where a monitor named ``name`` publishes its statistics: ``<tag prefix>monitor/<name>``
    (:func:`unit_prefix`)."""
    return f"{unit_prefix(tag_prefix)}monitor/{name}"


def read_grid(
    historian: Historian,
    tags: Sequence[str],
    start_us: int,
    end_us: int,
    every_us: int,
    hold_rows: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``tags`` on the grid of ``every_us`` for the steps starting in
    ``[start_us, end_us)`` (both on the grid): step means, a missing value held from the
    previous step for at most ``hold_rows`` steps (reading that far back), else NaN.

    Returns
    -------
    times, values
        Step starts [µs] ``(m,)`` and values ``(m, len(tags))``.
    """
    if end_us <= start_us:
        return np.empty(0, dtype="int64"), np.empty((0, len(tags)))
    first = start_us - hold_rows * every_us
    frame = historian.query(
        list(tags),
        from_us(first),
        from_us(end_us),
        every=dt.timedelta(microseconds=every_us),
        agg="mean",
        max_cells=None,
    )
    values = frame.to_numpy(dtype=float, copy=True)
    if hold_rows > 0:
        values = _hold(values, hold_rows)
    times = first + every_us * np.arange(len(values), dtype="int64")
    keep = times >= start_us
    return times[keep], values[keep]


def _hold(values: np.ndarray, limit: int) -> np.ndarray:
    """Forward-fill NaN down each column for at most ``limit`` rows."""
    out = values.copy()
    n = len(out)
    idx = np.where(~np.isnan(out), np.arange(n)[:, None], -1)
    last = np.maximum.accumulate(idx, axis=0)
    rows = np.arange(n)[:, None]
    fill = np.isnan(out) & (last >= 0) & (rows - last <= limit)
    src = np.where(fill, last, 0)
    cols = np.broadcast_to(np.arange(out.shape[1]), out.shape)
    out[fill] = values[src[fill], cols[fill]]
    return out


@dataclass(frozen=True, slots=True)
class Grid:
    """The grid a live model reads the historian on (see the module docstring): steps of
    ``every_us`` [µs] aligned to the Unix epoch, each read once ``settle_us`` [µs] after
    it closed, a tag's last value held for at most ``hold_rows`` steps."""

    every_us: int
    settle_us: int
    hold_rows: int

    @classmethod
    def of(
        cls, every: dt.timedelta, settle: dt.timedelta, hold: dt.timedelta | None, what: str
    ) -> Grid:
        """The grid of ``every``, ``settle`` and ``hold`` (default ``10 * every``).

        Raises
        ------
        InvalidError
            ``every`` not positive or ``settle`` negative (``what`` names the model).
        """
        every_us = every // _US
        if every_us <= 0:
            raise InvalidError(f"{what}: every must be a positive duration")
        settle_us = settle // _US
        if settle_us < 0:
            raise InvalidError(f"{what}: settle must not be negative")
        hold_us = 10 * every_us if hold is None else hold // _US
        return cls(every_us, settle_us, max(0, hold_us // every_us))

    def floor(self, t_us: int) -> int:
        """Start of the step holding ``t_us``."""
        return (t_us // self.every_us) * self.every_us

    def closed_end(self, now: dt.datetime) -> int:
        """End of the last step closed (and settled) at ``now`` [µs]."""
        return self.floor(to_us(now, "now") - self.settle_us)

    def read(
        self, historian: Historian, tags: Sequence[str], start_us: int, end_us: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """:func:`read_grid` of ``tags`` on this grid."""
        return read_grid(historian, tags, start_us, end_us, self.every_us, self.hold_rows)
