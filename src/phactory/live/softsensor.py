"""A soft sensor live: its inputs read from the historian, its predictions written back
as tags.

The model's inputs (:attr:`phactory.monitor.softsensor.SoftSensor.x_names_`: process
variables, or the channels of an in-line spectrometer published one tag per channel) are
read on a grid exactly as a live MSPC monitor reads its variables
(:func:`phactory.live.monitoring.read_grid`: step means, last-value hold, each closed
step once, a cursor that survives restarts); ``every`` is the analyser's period. Each
complete row is predicted by :class:`phactory.monitor.softsensor.SoftSensorStream` and
each response is ingested into the historian as a sample of its output tag, at the row's
time, with source ``softsensor`` and the OPC UA status class as quality: ``good`` inside
the model's applicability domain, ``uncertain`` outside it (the value is kept, and
flagged, so that trends and the batch record can tell). A row without a complete input
is not predicted. Output tags default to ``<tag prefix>softsensor/<name>/<response>``.

A prediction stands as a CQA of the running batch only through
:func:`phactory.live.deviations.record_result`, which refuses an uncertain one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from phactory.errors import InvalidError
from phactory.historian.times import from_us, to_us
from phactory.live.grid import Grid, TagMap, unit_prefix
from phactory.live.monitoring import MAX_SCAN_ROWS, MonitorState

if TYPE_CHECKING:
    from phactory.historian import Historian

__all__ = ["SOURCE", "SoftSensorPublisher", "SoftSensorScan", "output_tags"]

#: The publisher of soft-sensor predictions in the historian.
SOURCE: Final = "softsensor"


def output_tags(tag_prefix: str, name: str, responses: tuple[str, ...]) -> dict[str, str]:
    """The default output tag of each response: ``<tag prefix>softsensor/<name>/<response>``."""
    return {r: f"{unit_prefix(tag_prefix)}softsensor/{name}/{r}" for r in responses}


@dataclass(frozen=True, slots=True)
class SoftSensorScan:
    """What one scan did: rows predicted, rows skipped for want of inputs, predictions
    outside the applicability domain, and the latest prediction per output tag
    (``(time, value, quality)``)."""

    predicted: int
    skipped: int
    uncertain: int
    latest: dict[str, tuple[dt.datetime, float, str]]
    #: A soft sensor raises no alarm (the scan protocol of the live monitors).
    transitions: tuple[()] = ()

    @property
    def rows(self) -> int:
        """Rows scanned (predicted or skipped)."""
        return self.predicted + self.skipped

    @property
    def stale(self) -> int:
        """Rows skipped for want of inputs."""
        return self.skipped


class SoftSensorPublisher:
    """A fitted soft sensor predicting from the historian into the historian (see the
    module docstring).

    Parameters
    ----------
    model
        A fitted :class:`phactory.monitor.softsensor.SoftSensor`.
    historian
        Where inputs are read and predictions written.
    name
        The soft sensor's name (in its output tags).
    tags
        The tag of each input (``model.x_names_``).
    outputs
        Response -> output tag (default :func:`output_tags`, every response).
    every, settle, hold, state, start
        As :class:`phactory.live.monitoring.LiveMonitor`.

    Raises
    ------
    NotFoundError
        An input tag the historian does not know.
    InvalidError
        An unfitted model, or outputs naming responses it does not have.
    """

    def __init__(
        self,
        model: Any,
        historian: Historian,
        *,
        name: str,
        tags: TagMap,
        outputs: Mapping[str, str] | None = None,
        every: dt.timedelta = dt.timedelta(minutes=1),
        settle: dt.timedelta = dt.timedelta(seconds=1),
        hold: dt.timedelta | None = None,
        state: MonitorState | None = None,
        start: dt.datetime | None = None,
    ) -> None:
        from phactory.monitor.softsensor import SoftSensorStream

        if tags.variables != tuple(getattr(model, "x_names_", ())):
            raise InvalidError(f"soft sensor {name!r}: the tag map is not of its inputs")
        responses = tuple(model.y_names_)
        self.outputs = dict(outputs or output_tags(tags.prefix, name, responses))
        self.stream = SoftSensorStream(model, self.outputs)
        self.historian = historian
        self.name = name
        self.tags = tags
        self.grid = Grid.of(every, settle, hold, f"soft sensor {name!r}")
        self.state = state or MonitorState()
        if self.state.cursor_us is None and start is not None:
            self.state = replace(self.state, cursor_us=self.grid.floor(to_us(start, "start")))
        tags.check(historian)

    def scan(self, now: dt.datetime) -> SoftSensorScan:
        """Predict the rows closed since the last scan and publish the predictions."""
        from phactory.historian import Sample

        end = self.grid.closed_end(now)
        cursor = self.state.cursor_us
        if cursor is None:
            cursor = end
        end = min(end, cursor + MAX_SCAN_ROWS * self.grid.every_us)
        predicted = skipped = uncertain = 0
        latest: dict[str, tuple[dt.datetime, float, str]] = {}
        samples: list[Sample] = []
        if end > cursor:
            times, values = self.grid.read(self.historian, self.tags.tags, cursor, end)
            complete = np.isfinite(values).all(axis=1)
            skipped = int((~complete).sum())
            for t_us, row in zip(times[complete].tolist(), values[complete], strict=True):
                when = from_us(t_us)
                predicted += 1
                values_now = self.stream.update(row, when)
                uncertain += any(v.quality == "uncertain" for v in values_now)
                for value in values_now:
                    samples.append(
                        Sample(value.tag, int(t_us), value.value, seq=max(0, int(t_us)),
                               source=SOURCE, quality=value.quality)
                    )  # fmt: skip
                    latest[value.tag] = (when, value.value, value.quality)
        if samples:
            self.historian.ingest(samples)
        self.state = replace(self.state, cursor_us=max(cursor, end))
        return SoftSensorScan(predicted, skipped, uncertain, latest)
