"""Response bodies of ``/api/v1/historian``, in the style of :mod:`phactory.app.schemas`.

The historian is read-only over the API: there is nothing to create or update, so only
``...Public`` schemas, read from the typed results of
:class:`phactory.app.services.historian.HistorianService` (``from_attributes``). Values a
historian cannot give as a number (a missing aggregate, a value that was not finite) are
``null``.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from phactory.historian.aggregates import Agg
from phactory.historian.samples import Quality

__all__ = [
    "HistorianQueryPublic",
    "HistorianSamplePublic",
    "HistorianSeriesPublic",
    "HistorianTagPublic",
]

_READ = ConfigDict(from_attributes=True)


class HistorianTagPublic(BaseModel):
    """A tag of the historian and its metadata."""

    model_config = _READ

    name: str = Field(description="path in the unified namespace, site/area/cell/unit/tag")
    data_type: str = Field(description="the publisher's data type (e.g. REAL, BOOL); '' unknown")
    unit: str = Field(description="engineering unit; '' if none")
    low: float | None = Field(description="low end of the engineering range")
    high: float | None = Field(description="high end of the engineering range")
    description: str


class HistorianSamplePublic(BaseModel):
    """One raw sample."""

    model_config = _READ

    time: datetime = Field(description="UTC")
    tag: str
    value: float | str | None = Field(
        description="a number (booleans 0/1), text, or null for a number that was not finite"
    )
    quality: Quality = Field(description="OPC UA status class")
    seq: int = Field(description="the publisher's sequence number")
    source: str = Field(description="the publisher")
    historical: bool = Field(description="replayed from the publisher's queue after an outage")


class HistorianSeriesPublic(BaseModel):
    """One tag's aggregates, one value per step of ``time``."""

    model_config = _READ

    tag: str
    unit: str
    values: list[int | float | None] = Field(
        description="null: no aggregated value in the step; counts are integers"
    )


class HistorianQueryPublic(BaseModel):
    """The answer to a query: raw ``samples`` when no ``every`` was asked, otherwise the
    step starts ``time`` (aligned to the Unix epoch, UTC) and a ``series`` per tag."""

    model_config = _READ

    tags: list[str]
    start: datetime = Field(description="from (included)")
    end: datetime = Field(description="to (excluded)")
    every: str | None = Field(description="step of the grid, e.g. 1min; null: raw samples")
    agg: Agg | None
    samples: list[HistorianSamplePublic]
    time: list[datetime]
    series: list[HistorianSeriesPublic]
