"""The time base: exact microseconds inside, aware datetimes and readable text outside."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phactory.errors import InvalidError
from phactory.historian import format_every, from_us, parse_every, parse_time, to_us


@given(st.datetimes(timezones=st.timezones()))
def test_microseconds_round_trip_exactly(t: dt.datetime) -> None:
    back = from_us(to_us(t))
    # (an ambiguous local time never equals another zone's: PEP 495; compare in UTC)
    assert back == t.astimezone(dt.UTC) and back.tzinfo == dt.UTC


def test_naive_datetimes_are_refused_by_name() -> None:
    with pytest.raises(InvalidError, match="start 2025-03-01T00:00:00 has no timezone"):
        to_us(dt.datetime(2025, 3, 1), "start")
    with pytest.raises(InvalidError, match="must be a timezone-aware datetime, not str"):
        to_us("2025-03-01", "end")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-03-01T08:00:00+01:00", dt.datetime(2025, 3, 1, 7, tzinfo=dt.UTC)),
        ("2025-03-01T07:00:00Z", dt.datetime(2025, 3, 1, 7, tzinfo=dt.UTC)),
        ("2025-03-01T07:00", dt.datetime(2025, 3, 1, 7, tzinfo=dt.UTC)),  # naive: UTC
        ("2025-03-01", dt.datetime(2025, 3, 1, tzinfo=dt.UTC)),
    ],
)
def test_parse_time(text: str, expected: dt.datetime) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize(
    ("text", "micros", "short"),
    [("250us", 250, "250us"), ("500ms", 500_000, "500ms"), ("10s", 10**7, "10s"),
     ("90 s", 9 * 10**7, "90s"), ("1.5min", 9 * 10**7, "90s"), ("1min", 6 * 10**7, "1min"),
     ("2h", 7.2e9, "2h"), ("1d", 8.64e10, "1d"), ("24H", 8.64e10, "1d")],
)  # fmt: skip
def test_parse_and_format_every(text: str, micros: float, short: str) -> None:
    every = parse_every(text)
    assert every == dt.timedelta(microseconds=micros)
    assert format_every(every) == short


@pytest.mark.parametrize("text", ["5m", "1 month", "min", "-1s", "0s", "1e3s", "99999999999d"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(InvalidError, match=repr(text)[1:-1] if text != "min" else "min"):
        parse_every(text, "--every")
