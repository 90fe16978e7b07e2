"""``/api/v1/historian``: tags, raw samples and aggregates, read by any account.

The application's own database is a SQLite file; its historian is chosen by
``PHACTORY_HISTORIAN_URL``, on SQLite and on PostgreSQL (skipped with the reason where
no server runs).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from phactory.historian import Sample, TagMeta

from .conftest import BACKENDS, Api, make_settings, open_api

BASE = "/api/v1/historian"
T0 = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
T0_US = 1_740_787_200_000_000
TEMP, PHASE = "mab/usp/c1/BR1/temp", "mab/usp/c1/BR1/phase"


@pytest.fixture(params=BACKENDS)
def historian_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "historian.sqlite")
    url: str = request.getfixturevalue("postgres_database").new_schema()
    return url


@pytest.fixture
def api(tmp_path: Path, historian_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    """The API with a historian holding 3 minutes of a temperature (1 sample / 10 s,
    value = seconds) and two phase texts."""
    monkeypatch.setenv("PHACTORY_HISTORIAN_URL", historian_url)
    for a in open_api(make_settings(f"sqlite:///{tmp_path / 'app.db'}")):
        h = a.ctx.historian.historian
        h.set_meta(TagMeta(TEMP, "REAL", "degC", 20.0, 45.0, "culture temperature"))
        h.ingest([Sample(TEMP, T0_US + t * 1_000_000, float(t), t) for t in range(0, 180, 10)])
        h.ingest([Sample(TEMP, T0_US + 185_000_000, math.nan, 1000, quality="bad")])
        h.ingest([Sample(PHASE, T0_US, "Running", 1), Sample(PHASE, T0_US + 5, "Held", 2)])
        yield a


def _get(api: Api, path: str, role: str = "viewer", **params: Any) -> Any:
    return api.client.get(f"{BASE}{path}", params=params, headers=api.headers(role))


def test_viewers_list_tags_with_their_metadata(api: Api) -> None:
    r = _get(api, "/tags")
    assert r.status_code == 200, r.text
    assert r.json() == [
        {"name": PHASE, "data_type": "", "unit": "", "low": None, "high": None, "description": ""},
        {"name": TEMP, "data_type": "REAL", "unit": "degC", "low": 20.0, "high": 45.0,
         "description": "culture temperature"},
    ]  # fmt: skip
    assert [t["name"] for t in _get(api, "/tags", prefix="mab/usp/c1/BR1/t").json()] == [TEMP]


def test_raw_samples(api: Api) -> None:
    r = _get(
        api,
        "/query",
        tag=[TEMP, PHASE],
        **{"from": "2025-03-01T00:00:00Z", "to": "2025-03-01T00:00:15Z"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["every"], body["agg"], body["series"], body["time"]) == (None, None, [], [])
    got = [(s["time"], s["tag"], s["value"]) for s in body["samples"]]
    assert got == [
        ("2025-03-01T00:00:00Z", TEMP, 0.0),
        ("2025-03-01T00:00:00Z", PHASE, "Running"),
        ("2025-03-01T00:00:00.000005Z", PHASE, "Held"),
        ("2025-03-01T00:00:10Z", TEMP, 10.0),
    ]
    first = body["samples"][0]
    assert (first["quality"], first["seq"], first["source"], first["historical"]) == (
        "good",
        0,
        "",
        False,
    )


def test_a_value_that_was_not_finite_is_null(api: Api) -> None:
    body = _get(
        api, "/query", tag=TEMP, **{"from": "2025-03-01T00:03:00", "to": "2025-03-01T00:04:00"}
    ).json()
    assert [(s["value"], s["quality"]) for s in body["samples"]] == [(None, "bad")]


def test_aggregates_on_a_grid(api: Api) -> None:
    params = {"from": "2025-03-01T01:00:00+01:00", "to": "2025-03-01T00:04:00Z", "every": "1min"}
    body = _get(api, "/query", tag=[TEMP, PHASE], **params).json()
    assert body["every"] == "1min" and body["agg"] == "mean"
    assert body["time"] == [f"2025-03-01T00:0{m}:00Z" for m in range(4)]
    assert body["series"] == [
        {"tag": TEMP, "unit": "degC", "values": [25.0, 85.0, 145.0, None]},
        {"tag": PHASE, "unit": "", "values": [None, None, None, None]},
    ]
    counts = _get(api, "/query", tag=TEMP, agg="count", **params).json()["series"][0]["values"]
    assert counts == [6, 6, 6, 0] and all(type(n) is int for n in counts)


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"tag": "nope/x"}, 404, "no tag 'nope/x'"),
        ({"tag": TEMP, "every": "1m"}, 422, "is not a duration"),
        ({"tag": TEMP, "every": "0s"}, 422, "positive duration"),
        ({"tag": TEMP, "from": "yesterday"}, 422, "is not an ISO 8601 time"),
        ({"tag": TEMP, "to": "2025-03-01T00:00:00Z"}, 422, "must be before end"),
        ({"tag": TEMP, "every": "1us"}, 422, "ask for a longer every"),
    ],
)
def test_refusals_say_what_is_wrong(
    api: Api, params: dict[str, str], status: int, message: str
) -> None:
    query = {"from": "2025-03-01T00:00:00Z", "to": "2025-03-01T01:00:00Z", **params}
    r = _get(api, "/query", **query)
    assert r.status_code == status, r.text
    assert message in r.text


def test_request_validation(api: Api) -> None:
    times = {"from": "2025-03-01T00:00:00Z", "to": "2025-03-01T01:00:00Z"}
    assert _get(api, "/query", tag=TEMP, agg="median", **times).status_code == 422
    assert _get(api, "/query", **times).status_code == 422  # no tag
    assert _get(api, "/query", tag=[f"t{i}" for i in range(51)], **times).status_code == 422


def test_a_raw_answer_over_the_limit_is_refused(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from phactory.app.services import historian

    monkeypatch.setattr(historian, "MAX_RAW_ROWS", 5)
    r = _get(
        api, "/query", tag=TEMP, **{"from": "2025-03-01T00:00:00Z", "to": "2025-03-01T01:00:00Z"}
    )
    assert r.status_code == 422 and "ask for aggregates" in r.text


def test_reading_needs_an_account(api: Api) -> None:
    assert api.client.get(f"{BASE}/tags").status_code == 401
