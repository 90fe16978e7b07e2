"""The historian: samples of tags over time, their 1-minute and 1-hour aggregates, tag
metadata and plant events, in a SQLite file (embedded, the default) or PostgreSQL.

>>> from datetime import UTC, datetime, timedelta
>>> from phactory.historian import Sample, open_historian
>>> h = open_historian(path=Path("historian.sqlite"))                  # doctest: +SKIP
>>> h.ingest(samples)                                                   # doctest: +SKIP
>>> h.query(["mab/usp/c1/BR1/temp"], start, end, every=timedelta(minutes=1))  # doctest: +SKIP

See :mod:`phactory.historian.historian` for the facade, :mod:`~phactory.historian.schema`
for the storage layout, :mod:`~phactory.historian.ingest` and
:mod:`~phactory.historian.aggregates` for how samples and late samples are merged, and
:mod:`~phactory.historian.query` for where answers come from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from phactory.lazy import exports

if TYPE_CHECKING:
    from phactory.historian.aggregates import AGGS, LEVELS, Agg
    from phactory.historian.historian import (
        HISTORIAN_URL_ENV,
        Historian,
        open_historian,
        read_historian,
    )
    from phactory.historian.ingest import IngestResult
    from phactory.historian.query import RAW_COLUMNS
    from phactory.historian.retention import (
        HOUR_DAYS,
        MINUTE_DAYS,
        RAW_DAYS,
        RetentionResult,
    )
    from phactory.historian.samples import Quality, Sample, Value
    from phactory.historian.tags import TagMeta
    from phactory.historian.times import (
        format_every,
        from_us,
        parse_every,
        parse_time,
        to_us,
    )

#: Where each public name lives (PEP 562): importing the package imports no pandas and no
#: database driver; ``phactory.historian.samples`` stays light for publishers.
_HOME: dict[str, str] = {
    "AGGS": "aggregates",
    "LEVELS": "aggregates",
    "Agg": "aggregates",
    "HISTORIAN_URL_ENV": "historian",
    "Historian": "historian",
    "open_historian": "historian",
    "read_historian": "historian",
    "IngestResult": "ingest",
    "RAW_COLUMNS": "query",
    "HOUR_DAYS": "retention",
    "MINUTE_DAYS": "retention",
    "RAW_DAYS": "retention",
    "RetentionResult": "retention",
    "Quality": "samples",
    "Sample": "samples",
    "Value": "samples",
    "TagMeta": "tags",
    "format_every": "times",
    "from_us": "times",
    "parse_every": "times",
    "parse_time": "times",
    "to_us": "times",
}

__getattr__, __dir__ = exports(__name__, _HOME)

__all__ = [
    "AGGS",
    "HISTORIAN_URL_ENV",
    "HOUR_DAYS",
    "LEVELS",
    "MINUTE_DAYS",
    "RAW_COLUMNS",
    "RAW_DAYS",
    "Agg",
    "Historian",
    "IngestResult",
    "Quality",
    "RetentionResult",
    "Sample",
    "TagMeta",
    "Value",
    "format_every",
    "from_us",
    "open_historian",
    "parse_every",
    "parse_time",
    "read_historian",
    "to_us",
]
