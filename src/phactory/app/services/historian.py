"""The historian of this installation, for ``/api/v1/historian`` and ``phactory historian``.

Which historian: ``--db URL`` (command line) or else ``PHACTORY_HISTORIAN_URL`` (a
PostgreSQL URL, ``sqlite:///FILE`` or a file path), or else the embedded default, the
SQLite file ``historian.sqlite`` in the data folder (``$PHACTORY_HOME``, see
:func:`phactory.store.settings.data_dir`), whose folder is created if missing
(:func:`historian_location`). The historian package itself never chooses: it is handed a
URL or a path.

:class:`HistorianService` holds the opened historian of the web application and owns the
rules of reading it: any account may read (viewer and up); a query names at most
:data:`MAX_TAGS` tags, a raw answer holds at most :data:`MAX_RAW_ROWS` samples and an
aggregated one at most :data:`MAX_CELLS` values (beyond, the refusal says to ask for a
coarser step or a shorter range). Times given as text are ISO 8601; without an offset
they are UTC. Answers are typed (:class:`HistorianAnswer`), with ``None`` where a value
is missing.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from phactory.app.principal import Principal, require
from phactory.errors import InvalidError

if TYPE_CHECKING:
    from phactory.historian import Agg, Historian, TagMeta

__all__ = [
    "HISTORIAN_FILENAME",
    "MAX_CELLS",
    "MAX_RAW_ROWS",
    "MAX_TAGS",
    "HistorianAnswer",
    "HistorianLocation",
    "HistorianService",
    "RawSample",
    "Series",
    "answer",
    "historian_location",
    "open_configured_historian",
]

#: The embedded historian's file in the data folder.
HISTORIAN_FILENAME: Final = "historian.sqlite"
#: Most tags of one query.
MAX_TAGS: Final = 50
#: Most samples of one raw answer.
MAX_RAW_ROWS: Final = 100_000
#: Most values (steps × tags) of one aggregated answer.
MAX_CELLS: Final = 500_000


@dataclass(frozen=True, slots=True)
class HistorianLocation:
    """Where the historian is: a URL, or the embedded default file."""

    url: str | None = None
    path: Path | None = None

    def open(self) -> Historian:
        """Open it (:func:`phactory.historian.open_historian`)."""
        from phactory.historian import open_historian

        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        return open_historian(self.url, path=self.path)


def historian_location(
    url: str | None = None, environ: Mapping[str, str] | None = None
) -> HistorianLocation:
    """The historian to open: ``url``, else ``$PHACTORY_HISTORIAN_URL``, else
    ``historian.sqlite`` in the data folder (see the module docstring)."""
    from phactory.historian import HISTORIAN_URL_ENV
    from phactory.store.settings import data_dir

    env = os.environ if environ is None else environ
    chosen = (url or "").strip() or env.get(HISTORIAN_URL_ENV, "").strip()
    if chosen:
        return HistorianLocation(url=chosen)
    return HistorianLocation(path=data_dir(env) / HISTORIAN_FILENAME)


def open_configured_historian(
    url: str | None = None, environ: Mapping[str, str] | None = None
) -> Historian:
    """Open the historian of :func:`historian_location`."""
    return historian_location(url, environ).open()


@dataclass(frozen=True, slots=True)
class RawSample:
    """One stored sample."""

    time: dt.datetime
    tag: str
    value: float | str | None
    quality: str
    seq: int
    source: str
    historical: bool


@dataclass(frozen=True, slots=True)
class Series:
    """One tag's aggregates on the grid of its answer."""

    tag: str
    unit: str
    values: list[float | None]


@dataclass(frozen=True, slots=True)
class HistorianAnswer:
    """A query's answer: raw ``samples`` (no ``every``), or the ``time`` grid and one
    ``series`` per tag."""

    tags: list[str]
    start: dt.datetime
    end: dt.datetime
    every: str | None
    agg: str | None
    samples: list[RawSample] = field(default_factory=list)
    time: list[dt.datetime] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)


def answer(
    historian: Historian,
    tags: Sequence[str],
    start: dt.datetime,
    end: dt.datetime,
    every: dt.timedelta | None = None,
    agg: Agg = "mean",
    *,
    max_rows: int | None = None,
    max_cells: int | None = None,
) -> HistorianAnswer:
    """The typed answer of :meth:`phactory.historian.Historian.query` (raw samples
    without ``every``, else the grid with each tag's unit), for the API and the command
    line alike; values that are not finite numbers are ``None``.

    Raises
    ------
    InvalidError, NotFoundError
        As :meth:`~phactory.historian.Historian.query`.
    """
    from phactory.historian import format_every
    from phactory.jsonio import json_safe

    names = list(dict.fromkeys(tags))
    if every is None:
        frame = historian.query(names, start, end, max_rows=max_rows)
        samples = [
            RawSample(t.to_pydatetime(), tag, json_safe(v), q, int(s), src, bool(h))
            for t, tag, v, q, s, src, h in zip(
                frame["time"], frame["tag"], frame["value"], frame["quality"],
                frame["seq"], frame["source"], frame["historical"], strict=True,
            )
        ]  # fmt: skip
        return HistorianAnswer(names, start, end, None, None, samples=samples)
    grid = historian.query(names, start, end, every=every, agg=agg, max_cells=max_cells)
    metas = historian.describe(names)
    series = [
        Series(tag, metas[tag].unit if tag in metas else "", json_safe(grid[tag].tolist()))
        for tag in names
    ]
    times = [t.to_pydatetime() for t in grid.index]
    return HistorianAnswer(names, start, end, format_every(every), agg, time=times, series=series)


class HistorianService:
    """Reads the historian for the API (see the module docstring).

    Parameters
    ----------
    historian
        The opened historian; closed by :meth:`close`.
    """

    def __init__(self, historian: Historian) -> None:
        self.historian = historian

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> HistorianService:
        """The service over the historian of :func:`historian_location`."""
        return cls(open_configured_historian(None, environ))

    def tags(self, user: Principal, prefix: str = "") -> list[TagMeta]:
        """Tags whose name starts with ``prefix``, by name (viewer and up)."""
        require(user, "viewer", "reading the historian")
        return self.historian.tags(prefix)

    def query(
        self,
        user: Principal,
        tags: Sequence[str],
        start: str | dt.datetime,
        end: str | dt.datetime,
        every: str | None = None,
        agg: Agg = "mean",
    ) -> HistorianAnswer:
        """Raw samples or aggregates of ``tags`` in ``[start, end)`` (viewer and up).

        Raises
        ------
        InvalidError
            Bad times, step or aggregate, too many tags, or too large an answer.
        NotFoundError
            Naming every unknown tag.
        """
        from phactory.historian import parse_every, parse_time

        require(user, "viewer", "reading the historian")
        names = list(dict.fromkeys(tags))
        if len(names) > MAX_TAGS:
            raise InvalidError(f"{len(names)} tags: a query names at most {MAX_TAGS}")
        t0 = parse_time(start, "from") if isinstance(start, str) else start
        t1 = parse_time(end, "to") if isinstance(end, str) else end
        step = None if every is None else parse_every(every, "every")
        return answer(self.historian, names, t0, t1, step, agg,
                      max_rows=MAX_RAW_ROWS, max_cells=MAX_CELLS)  # fmt: skip

    def close(self) -> None:
        """Close the historian."""
        self.historian.close()
