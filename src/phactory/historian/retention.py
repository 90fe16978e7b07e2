"""Retention: deleting raw samples and aggregates older than their keeping time.

Each level keeps its own time (defaults :data:`RAW_DAYS` = 90 days of raw samples,
:data:`MINUTE_DAYS` = 2 years of 1-minute and :data:`HOUR_DAYS` = 10 years of 1-hour
aggregates), finer levels never longer than coarser ones: old trends stay readable at a
coarser grain while the bulk of the data (raw samples) goes. Nothing is deleted until
:meth:`Retention.apply` is called (``phactory historian retention``); plant events are the
plant's record and are never deleted here.

A bucket is deleted only when all of it is older than its cut-off. The raw cut-off is
remembered as the *horizon* (``hist_state.raw_horizon_us``, never moving back): a sample
older than it is refused at ingest as expired, because its stored copy may be gone and a
replay of it would count twice in the aggregates.

Raw samples and aggregates are deleted tag by tag through their primary key
(``tag_id, t_us``), so that retention reads only what it deletes.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Final

from phactory.errors import InvalidError
from phactory.historian.aggregates import LEVELS
from phactory.historian.database import Database
from phactory.historian.ingest import read_horizon
from phactory.historian.times import HOUR_US, MINUTE_US, from_us, to_us

__all__ = ["HOUR_DAYS", "MINUTE_DAYS", "RAW_DAYS", "Retention", "RetentionResult"]

#: Default keeping times [d].
RAW_DAYS: Final = 90.0
MINUTE_DAYS: Final = 730.0
HOUR_DAYS: Final = 3650.0
_DAY_US: Final = 24 * HOUR_US


@dataclass(frozen=True, slots=True)
class RetentionResult:
    """Rows deleted per level, and the new horizon (refused below it at ingest)."""

    raw: int
    minute: int
    hour: int
    horizon: dt.datetime


def _days(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidError(f"{name} must be a number of days, not {value!r}")
    if value <= 0:
        raise InvalidError(f"{name} must be positive, not {value:g}")
    return float(value)


class Retention:
    """Deletes old rows (see the module docstring)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def apply(
        self,
        now: dt.datetime,
        raw_days: float = RAW_DAYS,
        minute_days: float = MINUTE_DAYS,
        hour_days: float = HOUR_DAYS,
    ) -> RetentionResult:
        """Delete what is older than its keeping time before ``now``.

        Raises
        ------
        InvalidError
            If ``now`` is naive, a time is not positive, or a finer level would be kept
            longer than a coarser one.
        """
        now_us = to_us(now, "now")
        raw, minute, hour = (_days(raw_days, "raw_days"), _days(minute_days, "minute_days"),
                             _days(hour_days, "hour_days"))  # fmt: skip
        if not raw <= minute <= hour:
            raise InvalidError(
                f"keep raw samples ({raw:g} d) no longer than 1-minute aggregates "
                f"({minute:g} d), and those no longer than 1-hour aggregates ({hour:g} d)"
            )
        cut = {None: now_us - round(raw * _DAY_US), MINUTE_US: now_us - round(minute * _DAY_US),
               HOUR_US: now_us - round(hour * _DAY_US)}  # fmt: skip
        deleted = {None: 0, MINUTE_US: 0, HOUR_US: 0}
        with self.db.transaction(write=True) as cur:
            ids = [int(r[0]) for r in cur.execute("SELECT id FROM hist_tags").fetchall()]
            old = read_horizon(cur)
            horizon = cut[None] if old is None else max(old, cut[None])
            for tag_id in ids:
                cur.execute(
                    "DELETE FROM hist_samples WHERE tag_id = ? AND t_us < ?", (tag_id, cut[None])
                )
                deleted[None] += max(cur.rowcount, 0)
                for length, table in LEVELS.items():
                    # The whole bucket is older than the cut: bucket_us + length <= cut.
                    cur.execute(
                        f"DELETE FROM {table} WHERE tag_id = ? AND bucket_us <= ?",
                        (tag_id, cut[length] - length),
                    )
                    deleted[length] += max(cur.rowcount, 0)
            cur.execute(
                "INSERT INTO hist_state (key, value) VALUES ('raw_horizon_us', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (horizon,),
            )
        return RetentionResult(
            deleted[None], deleted[MINUTE_US], deleted[HOUR_US], from_us(horizon)
        )
