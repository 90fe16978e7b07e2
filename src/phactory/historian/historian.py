"""The historian: one facade over its parts, opened by :func:`open_historian`.

:class:`Historian` composes small parts sharing one database
(:mod:`~phactory.historian.database`): ``catalog`` (tags and their metadata,
:mod:`~phactory.historian.tags`), ``writer`` (ingest, :mod:`~phactory.historian.ingest`),
``reader`` (queries, :mod:`~phactory.historian.query`), ``plant_events``
(:mod:`~phactory.historian.plant_events`) and ``retention``
(:mod:`~phactory.historian.retention`). Its methods are the public API; each hands its
work to one part.

Embedded by default: a SQLite file, no server; PostgreSQL by URL. The historian package
does not choose the file: the command line and the web application do
(``PHACTORY_HISTORIAN_URL``, else ``historian.sqlite`` in the data folder,
:mod:`phactory.app.services.historian`).

>>> from phactory.historian import Sample, open_historian
>>> h = open_historian(path=Path("historian.sqlite"))      # doctest: +SKIP
>>> h.ingest([Sample("mab/usp/c1/BR1/temp", 1_700_000_000_000_000, 37.0, 1)])  # doctest: +SKIP
IngestResult(stored=1, duplicates=0, expired=0)
>>> h.query("mab/usp/c1/BR1/temp", start, end, every=timedelta(minutes=1))  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Final

from phactory.errors import InvalidError
from phactory.events.plant_event import PlantEvent
from phactory.historian.aggregates import Agg
from phactory.historian.database import Database, connect
from phactory.historian.ingest import IngestResult, SampleWriter
from phactory.historian.plant_events import EventStore
from phactory.historian.query import SampleReader
from phactory.historian.retention import (
    HOUR_DAYS,
    MINUTE_DAYS,
    RAW_DAYS,
    Retention,
    RetentionResult,
)
from phactory.historian.samples import Sample
from phactory.historian.schema import ensure_schema
from phactory.historian.tags import TagCatalog, TagMeta
from phactory.historian.times import parse_every, parse_time

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["HISTORIAN_URL_ENV", "Historian", "open_historian", "read_historian"]

#: Environment variable naming the historian's database (read by the CLI, the web app and
#: :func:`read_historian`).
HISTORIAN_URL_ENV: Final = "PHACTORY_HISTORIAN_URL"


class Historian:
    """Samples of tags, their aggregates, tag metadata and plant events (see the module
    docstring). Open one with :func:`open_historian`; close it (or use ``with``).

    Parameters
    ----------
    db
        Its database; the schema is created or upgraded here.
    """

    def __init__(self, db: Database) -> None:
        self.database = db
        with db.transaction(write=True) as cur:
            self.schema_version = ensure_schema(cur, db.dialect, db.url)
        self.catalog = TagCatalog(db)
        self.writer = SampleWriter(db, self.catalog)
        self.reader = SampleReader(db, self.catalog)
        self.plant_events = EventStore(db)
        self.retention = Retention(db)

    @property
    def url(self) -> str:
        """The database (file, or URL with its password masked)."""
        return self.database.url

    def __repr__(self) -> str:
        return f"Historian({self.url!r})"

    # -- samples ------------------------------------------------------------------------

    def ingest(self, samples: Iterable[Sample]) -> IngestResult:
        """Store samples once each (by ``(tag, t_us, seq)``) and update the aggregates.

        One transaction: a malformed sample refuses the whole call (:class:`InvalidError`
        naming it). See :mod:`phactory.historian.ingest`.
        """
        return self.writer.ingest(samples)

    def query(
        self,
        tags: str | Sequence[str],
        start: dt.datetime,
        end: dt.datetime,
        *,
        every: dt.timedelta | None = None,
        agg: Agg = "mean",
        max_rows: int | None = None,
        max_cells: int | None = None,
    ) -> pd.DataFrame:
        """Samples of ``tags`` in ``[start, end)``, raw or aggregated every ``every``.

        Parameters
        ----------
        tags
            One tag or several.
        start, end
            Timezone-aware; the range is ``[start, end)``.
        every
            Step of the aggregate grid (aligned to the Unix epoch); ``None`` for raw samples.
        agg
            ``mean``, ``min``, ``max``, ``first``, ``last`` or ``count`` (with ``every``).
        max_rows
            Refuse a raw answer of more samples than this (``None``: no limit).
        max_cells
            Refuse an aggregated answer of more steps × tags than this (``None``:
            :data:`~phactory.historian.query.MAX_STEPS`).

        Returns
        -------
        pandas.DataFrame
            Raw: long format ``time, tag, value, quality, seq, source, historical``.
            Aggregated: index ``time`` (step starts, UTC), one column per tag.
            See :mod:`phactory.historian.query`.

        Raises
        ------
        NotFoundError
            Naming every unknown tag.
        InvalidError
            A naive time, ``start >= end``, a bad ``every`` or ``agg``, too large an answer.
        """
        if every is None:
            return self.reader.raw(tags, start, end, max_rows=max_rows)
        return self.reader.aggregate(tags, start, end, every, agg, max_cells=max_cells)

    # -- tags ---------------------------------------------------------------------------

    def set_meta(self, meta: TagMeta | Iterable[TagMeta]) -> int:
        """Create or update tag metadata (data type, unit, range, description); return
        how many tags were given."""
        return self.catalog.set([meta] if isinstance(meta, TagMeta) else meta)

    def tags(self, prefix: str = "") -> list[TagMeta]:
        """Tags whose name starts with ``prefix`` (plain text), by name."""
        return self.catalog.list(prefix)

    def describe(self, tags: Sequence[str]) -> dict[str, TagMeta]:
        """The metadata of the tags named that the historian knows, by name."""
        return self.catalog.describe(tags)

    # -- plant events -------------------------------------------------------------------

    def ingest_events(self, events: Iterable[PlantEvent], *, site: str = "") -> IngestResult:
        """Store plant events once each (by ``(source, seq)``), filed under ``site``
        (the site of the namespace they were published under; see
        :mod:`phactory.historian.plant_events`)."""
        return self.plant_events.ingest(events, site=site)

    def events(
        self,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        *,
        site_prefix: str | None = None,
    ) -> list[PlantEvent]:
        """Plant events in ``[start, end)`` (``None``: unbounded) in time order, of the
        sites starting with ``site_prefix`` (``None``: all)."""
        return self.plant_events.read(start, end, site_prefix=site_prefix)

    # -- retention ----------------------------------------------------------------------

    def apply_retention(
        self,
        now: dt.datetime,
        raw_days: float = RAW_DAYS,
        minute_days: float = MINUTE_DAYS,
        hour_days: float = HOUR_DAYS,
    ) -> RetentionResult:
        """Delete raw samples older than ``raw_days`` before ``now`` (default 90), 1-minute
        aggregates older than ``minute_days`` (730), 1-hour ones older than ``hour_days``
        (3650). See :mod:`phactory.historian.retention`."""
        return self.retention.apply(now, raw_days, minute_days, hour_days)

    # -- life cycle ---------------------------------------------------------------------

    def close(self) -> None:
        """Close its connections."""
        self.database.close()

    def __enter__(self) -> Historian:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_historian(url: str | None = None, *, path: Path | None = None) -> Historian:
    """Open (creating or upgrading its tables) the historian in a database.

    Parameters
    ----------
    url
        ``postgresql://user@host:port/db`` (psycopg 3), ``sqlite:///FILE``, or a file path.
    path
        A SQLite file (created 0600 if missing; its folder must exist). Give ``url`` or
        ``path``, not both.

    Raises
    ------
    InvalidError
        If neither or both are given, or the URL is not one the historian uses.
    UnavailableError
        If the database cannot be reached, or was written by a newer Phactory.
    """
    db = connect(url, path=path)
    try:
        return Historian(db)
    except BaseException:
        db.close()
        raise


def _when(value: dt.datetime | str, what: str) -> dt.datetime:
    return parse_time(value, what) if isinstance(value, str) else value


def read_historian(
    tags: str | Sequence[str],
    start: dt.datetime | str,
    end: dt.datetime | str,
    every: dt.timedelta | str | None = None,
    agg: Agg = "mean",
    url: str | None = None,
    path: Path | None = None,
) -> pd.DataFrame:
    """Query a historian in one call: open, :meth:`Historian.query`, close.

    Parameters
    ----------
    tags, agg
        As :meth:`Historian.query`.
    start, end
        Aware datetimes, or ISO 8601 text (without an offset: UTC).
    every
        A timedelta, text such as ``"1min"`` (:func:`~phactory.historian.times.parse_every`),
        or ``None`` for raw samples.
    url, path
        The historian (as :func:`open_historian`); with neither, ``$PHACTORY_HISTORIAN_URL``.

    Raises
    ------
    InvalidError
        If no historian is named, or as :meth:`Historian.query`.
    """
    if url is None and path is None:
        url = os.environ.get(HISTORIAN_URL_ENV, "").strip() or None
        if url is None:
            raise InvalidError(f"name the historian: url=..., path=..., or set {HISTORIAN_URL_ENV}")
    step = parse_every(every) if isinstance(every, str) else every
    with open_historian(url, path=path) as historian:
        return historian.query(tags, _when(start, "start"), _when(end, "end"), every=step, agg=agg)
