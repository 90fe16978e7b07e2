"""Ingest: storing a batch of samples once each, and merging them into the aggregates.

Set-based, in one transaction per call, a few statements per chunk of
:data:`CHUNK` samples whatever their number:

1. every sample is checked first (a bad one refuses the whole call, naming it; nothing
   is stored), tags are created or looked up, and samples older than the retention
   horizon are counted as ``expired`` and dropped (their raw duplicates may have been
   deleted, so they could not be told from new ones and would count twice);
2. the chunk is loaded into a staging table (SQLite: ``executemany`` into a temporary
   table keyed like the samples, which drops duplicates within the chunk; PostgreSQL:
   binary ``COPY`` into a temporary table);
3. the staged samples that are not stored yet are inserted (SQLite: the staged rows whose
   key is stored are deleted from the stage first; PostgreSQL: ``INSERT ... ON CONFLICT
   DO NOTHING RETURNING`` in a data-modifying ``WITH``);
4. exactly those new samples are merged into the 1-minute and 1-hour aggregates by one
   ``INSERT ... ON CONFLICT DO UPDATE`` each (:mod:`phactory.historian.aggregates`).

Why set-based: a row-at-a-time upsert costs a round trip and an index probe per sample
and per aggregate; here the database does the dedupe and the grouping in bulk, the
aggregates are updated once per touched bucket, and the cost per sample is the driver
moving it. Why merge only new rows: replays after an outage send samples again
(``historical``); the key ``(tag, t_us, seq)`` makes the second copy a duplicate, which
is stored nowhere and counted nowhere (the first copy stored wins, whatever the second
holds). Late and out-of-order samples need nothing special: each is merged into its
bucket, whenever it arrives.
"""

from __future__ import annotations

import math
from collections.abc import Container, Iterable
from dataclasses import dataclass
from typing import Any, Final, cast

from phactory.errors import InvalidError
from phactory.historian.aggregates import LEVELS, upsert_sql
from phactory.historian.database import Cursor, Database, PgCursor
from phactory.historian.samples import Sample
from phactory.historian.tags import TagCatalog, check_tag, storable_text
from phactory.historian.times import T_MAX_US, T_MIN_US

__all__ = ["CHUNK", "TEXT_VALUE_MAX", "IngestResult", "SampleWriter", "read_horizon"]

#: Samples staged and inserted per statement group.
CHUNK: Final = 10_000
#: Longest text value [characters].
TEXT_VALUE_MAX: Final = 10_000
#: Longest publisher id [characters].
SOURCE_MAX: Final = 200
#: Longest unit of a sample [characters].
UNIT_MAX: Final = 200
_QUALITIES: Final = frozenset(("good", "uncertain", "bad"))
_COLUMNS: Final = "tag_id, t_us, seq, value, text, quality, source, historical"
#: An int64 bound of ``t_us`` and ``seq``.
_INT64: Final = 2**63 - 1

_SQLITE_STAGE: Final = """CREATE TEMP TABLE IF NOT EXISTS hist_stage (
    tag_id INTEGER NOT NULL, t_us INTEGER NOT NULL, seq INTEGER NOT NULL, value REAL,
    text TEXT, quality TEXT NOT NULL, source TEXT NOT NULL, historical INTEGER NOT NULL,
    PRIMARY KEY (tag_id, t_us, seq)) WITHOUT ROWID"""
_PG_STAGE: Final = """CREATE TEMP TABLE IF NOT EXISTS hist_stage (
    ord INTEGER NOT NULL, tag_id INTEGER NOT NULL, t_us BIGINT NOT NULL, seq BIGINT NOT NULL,
    value DOUBLE PRECISION, text TEXT, quality TEXT NOT NULL, source TEXT NOT NULL,
    historical BOOLEAN NOT NULL)"""
_PG_TYPES: Final = ["int4", "int4", "int8", "int8", "float8", "text", "text", "text", "bool"]


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What one ingest call did.

    Attributes
    ----------
    stored
        New samples (events) stored.
    duplicates
        Ones already stored (or given twice), kept once.
    expired
        Samples older than the retention horizon, dropped (see
        :meth:`phactory.historian.Historian.apply_retention`).
    """

    stored: int
    duplicates: int
    expired: int = 0


Row = tuple[str, int, int, float | None, str | None, str, str, bool]


def _bad(i: int, s: Any, message: str) -> InvalidError:
    tag = getattr(s, "tag", "?")
    return InvalidError(f"sample {i} (tag {tag!r:.120}): {message}; nothing was stored")


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def to_row(i: int, s: Sample, known: Container[str]) -> Row:
    """The stored row of sample number ``i`` (tag name not yet an id), checked; the tag's
    name and unit only if it is not in ``known`` (its first sample of the call, whose
    unit is a new tag's).

    Raises
    ------
    InvalidError
        Naming the sample, if a field is malformed.
    """
    if not isinstance(s, Sample):
        raise _bad(i, s, f"expected a Sample, not {type(s).__name__}")
    tag, t_us, seq, value, source, quality = s.tag, s.t_us, s.seq, s.value, s.source, s.quality
    if tag not in known:
        try:
            check_tag(tag, "tag")
        except InvalidError as exc:
            raise _bad(i, s, str(exc)) from None
        if not storable_text(s.unit, UNIT_MAX):
            raise _bad(i, s, f"unit must be text of at most {UNIT_MAX} characters")
    if not _is_int(t_us) or not T_MIN_US <= t_us <= T_MAX_US:
        raise _bad(i, s, f"t_us must be an integer [µs since 1970] in years 1-9999, not {t_us!r}")
    if not _is_int(seq) or not 0 <= seq <= _INT64:
        raise _bad(i, s, f"seq must be an integer >= 0, not {seq!r}")
    if quality not in _QUALITIES:
        raise _bad(i, s, f"quality must be good, uncertain or bad, not {quality!r}")
    if not storable_text(source, SOURCE_MAX):
        raise _bad(i, s, f"source must be text of at most {SOURCE_MAX} characters")
    number: float | None = None
    text: str | None = None
    if isinstance(value, float):
        number = value if math.isfinite(value) else None
    elif isinstance(value, bool | int):
        number = float(value)
    elif isinstance(value, str):
        if not storable_text(value, TEXT_VALUE_MAX):
            raise _bad(i, s, f"a text value holds at most {TEXT_VALUE_MAX} characters, no NUL")
        text = value
    else:
        raise _bad(i, s, f"value must be a number, a bool or text, not {type(value).__name__}")
    return (tag, t_us, seq, number, text, quality, source, bool(s.historical))


def read_horizon(cur: Cursor) -> int | None:
    """The retention horizon [µs]: samples before it are refused as expired."""
    row = cur.execute("SELECT value FROM hist_state WHERE key = 'raw_horizon_us'").fetchone()
    return None if row is None else int(row[0])


class SampleWriter:
    """Stores samples (see the module docstring)."""

    def __init__(self, db: Database, catalog: TagCatalog) -> None:
        self.db = db
        self.catalog = catalog
        # SQLite merges the stage's new rows; PostgreSQL those its insert returns (fresh)
        source = "hist_stage" if db.dialect == "sqlite" else "fresh"
        self._upserts = [upsert_sql(db.dialect, t, n, source) for n, t in LEVELS.items()]
        self._pg_insert = (
            "WITH fresh AS (INSERT INTO hist_samples (" + _COLUMNS + ") "
            "SELECT DISTINCT ON (tag_id, t_us, seq) " + _COLUMNS + " FROM hist_stage "
            "ORDER BY tag_id, t_us, seq, ord ON CONFLICT DO NOTHING "
            "RETURNING tag_id, t_us, seq, value, quality), "
            + ", ".join(f"a{i} AS ({sql} RETURNING 1)" for i, sql in enumerate(self._upserts))
            + " SELECT count(*) FROM fresh"
        )

    def ingest(self, samples: Iterable[Sample]) -> IngestResult:
        """Store ``samples`` once each and merge the new ones into the aggregates.

        Raises
        ------
        InvalidError
            If a sample is malformed (naming it); nothing is stored.
        """
        rows: list[Row] = []
        units: dict[str, str] = {}  # tag -> the unit of its first sample (a new tag's)
        for i, s in enumerate(samples):
            rows.append(to_row(i, s, units))
            if s.tag not in units:
                units[s.tag] = s.unit
        if not rows:
            return IngestResult(0, 0)
        with self.db.transaction(write=True) as cur:
            ids = self.catalog.ids_in(cur, units)
            horizon = read_horizon(cur)
            if horizon is not None:
                kept = [r for r in rows if r[1] >= horizon]
                expired = len(rows) - len(kept)
                rows = kept
            else:
                expired = 0
            stored = 0
            for start in range(0, len(rows), CHUNK):
                chunk = rows[start : start + CHUNK]
                if self.db.dialect == "sqlite":
                    stored += self._chunk_sqlite(cur, chunk, ids)
                else:
                    stored += self._chunk_postgres(cur, chunk, ids)
        self.catalog.remember(ids)
        return IngestResult(stored, len(rows) - stored, expired)

    def _chunk_sqlite(self, cur: Cursor, rows: list[Row], ids: dict[str, int]) -> int:
        cur.execute(_SQLITE_STAGE)
        cur.executemany(
            "INSERT OR IGNORE INTO hist_stage VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(ids[r[0]], *r[1:]) for r in rows],
        )
        cur.execute(
            "DELETE FROM hist_stage WHERE EXISTS (SELECT 1 FROM hist_samples AS r "
            "WHERE r.tag_id = hist_stage.tag_id AND r.t_us = hist_stage.t_us "
            "AND r.seq = hist_stage.seq)"
        )
        cur.execute(f"INSERT INTO hist_samples ({_COLUMNS}) SELECT {_COLUMNS} FROM hist_stage")
        stored = cur.rowcount
        if stored:
            for sql in self._upserts:
                cur.execute(sql)
        cur.execute("DELETE FROM hist_stage")
        return stored

    def _chunk_postgres(self, cur: Cursor, rows: list[Row], ids: dict[str, int]) -> int:
        pg = cast(PgCursor, cur).cur
        pg.execute(_PG_STAGE)
        with pg.copy(
            cast(Any, f"COPY hist_stage (ord, {_COLUMNS}) FROM STDIN (FORMAT BINARY)")
        ) as copy:
            copy.set_types(_PG_TYPES)
            for i, r in enumerate(rows):
                copy.write_row((i, ids[r[0]], *r[1:]))
        row = pg.execute(cast(Any, self._pg_insert)).fetchone()
        pg.execute("DELETE FROM hist_stage")
        return int(row[0]) if row is not None else 0
