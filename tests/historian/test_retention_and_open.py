"""Retention, and opening historians: files, URLs, schema versions, failures named."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from phactory.errors import InvalidError, UnavailableError
from phactory.historian import Historian, IngestResult, Sample, open_historian
from phactory.historian.schema import SCHEMA_VERSION

from .conftest import T0, at, dump, us

TAG = "a/b/c/u/x"
DAY = 86_400


def _days(historian: Historian, days: int) -> None:
    """One sample an hour for ``days`` days before T0 (value = hours before T0)."""
    historian.ingest([Sample(TAG, us(-h * 3600), float(h), h) for h in range(1, days * 24 + 1)])


def test_retention_deletes_each_level_after_its_keeping_time(historian: Historian) -> None:
    _days(historian, 10)
    result = historian.apply_retention(T0, raw_days=2, minute_days=5, hour_days=8)
    # Samples before the cut go (hours 49..240 before T0); buckets go when all of them is
    # before the cut: the minute (hour) starting at 120 h (192 h) before T0 stays.
    assert (result.raw, result.minute, result.hour) == (192, 120, 48)
    assert result.horizon == at(-2 * DAY)
    assert len(dump(historian, "hist_samples")) == 48
    assert len(dump(historian, "hist_agg_1m")) == 120
    assert len(dump(historian, "hist_agg_1h")) == 192
    daily = historian.query(TAG, at(-9 * DAY), T0, every=dt.timedelta(hours=24), agg="count")
    assert daily[TAG].tolist() == [0] + [24] * 8


def test_samples_before_the_horizon_are_refused_as_expired(historian: Historian) -> None:
    _days(historian, 3)
    historian.apply_retention(T0, raw_days=1, minute_days=1, hour_days=1)
    old = [Sample(TAG, us(-2 * DAY), 1.0, 10_000), Sample(TAG, us(-2 * DAY), 99.0, 48)]
    assert historian.ingest([*old, Sample(TAG, us(1), 1.0, 1)]) == IngestResult(1, 0, 2)
    # A later, shorter keeping time never moves the horizon back.
    result = historian.apply_retention(T0 - dt.timedelta(days=5), 1, 1, 1)
    assert result.horizon == at(-DAY)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"raw_days": 0}, "raw_days must be positive"),
        ({"raw_days": float("nan")}, "raw_days must be a number of days"),
        ({"raw_days": 10, "minute_days": 5}, "keep raw samples"),
        ({"minute_days": 4000}, "keep raw samples"),
    ],
)
def test_retention_refuses_bad_keeping_times(
    historian: Historian, kwargs: dict[str, float], message: str
) -> None:
    with pytest.raises(InvalidError, match=message):
        historian.apply_retention(T0, **kwargs)


def test_retention_refuses_a_naive_now(historian: Historian) -> None:
    with pytest.raises(InvalidError, match="now 2025-03-01T00:00:00 has no timezone"):
        historian.apply_retention(dt.datetime(2025, 3, 1))


def test_a_reopened_historian_keeps_everything(make_historian: Callable[[], Historian]) -> None:
    first = make_historian()
    first.ingest([Sample(TAG, us(1), 1.0, 1)])
    first.close()
    again = make_historian()
    assert again.schema_version == SCHEMA_VERSION
    assert again.ingest([Sample(TAG, us(1), 1.0, 1)]) == IngestResult(0, 1, 0)
    assert again.query(TAG, at(0), at(10))["value"].tolist() == [1.0]


def test_a_closed_historian_says_so(historian: Historian) -> None:
    historian.close()
    with pytest.raises(UnavailableError, match="closed"):
        historian.tags()


def test_a_newer_schema_is_refused(make_historian: Callable[[], Historian]) -> None:
    h = make_historian()
    with h.database.transaction(write=True) as cur:
        cur.execute("UPDATE hist_schema SET version = 99")
    with pytest.raises(UnavailableError, match=r"schema version 99.*newer Phactory"):
        make_historian()


# -- SQLite ----------------------------------------------------------------------------


def test_the_file_is_private_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    with open_historian(path=path) as h:
        h.ingest([Sample(TAG, us(1), 1.0, 1)])
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


@pytest.mark.parametrize("form", ["sqlite:///{}", "{}"])
def test_url_forms_of_a_file(tmp_path: Path, form: str) -> None:
    path = tmp_path / "h.sqlite"
    with open_historian(form.format(path)) as h:
        assert h.url == str(path)
    assert path.exists()


def test_relative_sqlite_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with open_historian("sqlite:///rel.sqlite"):
        pass
    assert (tmp_path / "rel.sqlite").exists()


@pytest.mark.parametrize(
    ("url", "path", "message"),
    [
        (None, None, "with a database URL or a file path"),
        ("sqlite:///x", Path("y"), "with a database URL or a file path"),
        ("mysql://u@h/db", None, "use sqlite:///FILE or postgresql"),
        ("sqlite:///:memory:", None, "needs a file"),
    ],
)
def test_bad_ways_to_open_are_refused(url: str | None, path: Path | None, message: str) -> None:
    with pytest.raises(InvalidError, match=message):
        open_historian(url, path=path)


def test_a_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidError, match=r"folder .*nope does not exist"):
        open_historian(path=tmp_path / "nope" / "h.sqlite")


def test_an_unreachable_server_is_unavailable_with_the_password_masked() -> None:
    with pytest.raises(UnavailableError) as caught:
        open_historian("postgresql://me:s3cret@127.0.0.1:1/db?connect_timeout=2")
    assert "s3cret" not in str(caught.value) and "me:***@127.0.0.1" in str(caught.value)


def test_connections_of_ended_threads_are_closed(historian: Historian) -> None:
    import threading

    def read() -> None:
        historian.tags()

    for _ in range(5):
        thread = threading.Thread(target=read)
        thread.start()
        thread.join()
    connections = historian.database._connections  # type: ignore[attr-defined]
    # This thread's and the last ended thread's (closed when the next one opens).
    assert len(connections) == 2
