"""``/api/v1/live``: the running plant over REST, on the application's own historian
(``PHACTORY_HISTORIAN_URL`` pointing at an SQLite file in tmp_path) and the tiny site."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from phactory.events import PlantEvent
from phactory.historian import Historian, Sample, to_us

from .conftest import TINY, Api, make_settings, open_api

HOSTILE = '<script>alert("x")</script>{{7*7}}'


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    monkeypatch.setenv("PHACTORY_HISTORIAN_URL", str(tmp_path / "historian.sqlite"))
    for api in open_api(make_settings(f"sqlite:///{tmp_path / 'app.db'}")):
        up = api.upload("tiny.yaml", TINY.read_bytes())
        assert up.status_code == 201, up.text
        yield api


def historian(api: Api) -> Historian:
    return api.ctx.historian.historian


def test_a_viewer_reads_units_batches_alarms_and_trends(api: Api) -> None:
    now = dt.datetime.now(dt.UTC)
    h = historian(api)
    h.ingest_events(
        [
            PlantEvent(now - dt.timedelta(minutes=3), "state", "T1", "producing", batch="B7",
                       procedure="mix", phase="stir", source="edge", seq=1),
            PlantEvent(now - dt.timedelta(minutes=1), "state", "T2", "down", detail=HOSTILE,
                       source="edge", seq=2),
        ],
        site="tiny",
    )  # fmt: skip
    tag = "tiny/main/cell/T1/TT"
    h.ingest(
        [
            Sample(tag, to_us(now - dt.timedelta(seconds=s)), 37.0 + s / 100, seq=s, unit="degC")
            for s in range(0, 600, 5)
        ]
    )

    units = api.get("/api/v1/live/units?site=tiny")
    assert units.status_code == 200, units.text
    body = units.json()
    assert body["site_id"] == "tiny" and body["sources"] == ["batch record", "historian"]
    [area] = body["areas"]
    [cell] = area["cells"]
    t1, t2 = cell["units"]
    assert (t1["id"], t1["state"], t1["batch"], t1["procedure"], t1["phase"]) == (
        "T1", "producing", "B7", "mix", "stir",
    )  # fmt: skip
    assert dt.datetime.fromisoformat(t1["since"]) == now - dt.timedelta(minutes=3)
    assert t2["state"] == "down"

    assert api.get("/api/v1/live/batches?site=tiny").json() == []
    [alarm] = api.get("/api/v1/live/alarms?site=tiny").json()
    assert (alarm["kind"], alarm["source"], alarm["severity"]) == ("equipment_down", "T2", "major")

    tags = api.get("/api/v1/live/tags?site=tiny").json()
    assert tags == [{"name": tag, "unit": "degC", "description": ""}]

    raw = api.get("/api/v1/live/trend", params={"tag": tag, "minutes": 5}).json()
    assert raw["every_s"] is None
    [series] = raw["series"]
    assert series["tag"] == tag and series["unit"] == "degC"
    assert len(series["t"]) == len(series["v"]) == 60
    assert series["v"][-1] == 37.0
    grid = api.get("/api/v1/live/trend", params={"tag": tag, "minutes": 60}).json()
    # Means on a 6 s grid aligned to the Unix epoch: one point per step holding a sample
    # (100 or 101 steps for these 10 minutes, as the samples fall on the grid).
    steps = {to_us(now - dt.timedelta(seconds=s)) // 6_000_000 for s in range(0, 600, 5)}
    assert grid["every_s"] == 6.0 and len(grid["series"][0]["v"]) == len(steps)

    kpis = api.get("/api/v1/live/kpis?site=tiny&hours=1")
    assert kpis.status_code == 200, kpis.text
    k = kpis.json()
    assert k["events"] == 2 and set(k["kpis"]) >= {"oee", "availability", "utilisation"}
    # T1 produces from 3 min ago and T2 is down from 1 min ago, within 3 min of the window.
    assert 0 < k["kpis"]["availability"] < 1
    assert k["kpis"]["cycle_time_h"] is None  # no batch completed: undefined, not 0


def test_hostile_strings_come_back_as_data(api: Api) -> None:
    now = dt.datetime.now(dt.UTC)
    historian(api).ingest_events(
        [PlantEvent(now, "state", "T1", "setup", batch=HOSTILE, phase=HOSTILE, source="e", seq=1)],
        site="tiny",
    )
    tag = f"tiny/main/cell/T1/{HOSTILE}"
    historian(api).ingest([Sample(tag, to_us(now), 1.0, seq=1)])
    t1 = api.get("/api/v1/live/units?site=tiny").json()["areas"][0]["cells"][0]["units"][0]
    assert t1["batch"] == HOSTILE and t1["phase"] == HOSTILE
    trend = api.get("/api/v1/live/trend", params={"tag": tag, "minutes": 1}).json()
    assert trend["series"][0]["tag"] == tag and trend["series"][0]["v"] == [1.0]


def test_refusals_name_what_and_where(api: Api) -> None:
    assert api.client.get("/api/v1/live/units?site=tiny").status_code == 401
    missing = api.get("/api/v1/live/units?site=nope")
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]
    assert api.get("/api/v1/live/alarms").status_code == 422  # which site?
    assert api.get("/api/v1/live/units?site=a%20b").status_code == 422
    unknown = api.get("/api/v1/live/trend", params={"tag": "tiny/x/y", "minutes": 5})
    assert unknown.status_code == 404 and "tiny/x/y" in unknown.json()["detail"]
    for minutes in ("0", "-1", "1441", "nan"):
        bad = api.get("/api/v1/live/trend", params={"tag": "t", "minutes": minutes})
        assert bad.status_code == 422, minutes
    many = api.get("/api/v1/live/trend", params={"tag": [f"t{i}" for i in range(13)]})
    assert many.status_code == 422
    assert api.get("/api/v1/live/trend").status_code == 422  # no tag


def test_states_are_fresh_within_a_second(api: Api) -> None:
    """A state stored in the historian is answered by the next read (well within 1 s)."""
    assert api.get("/api/v1/live/units?site=tiny").status_code == 200  # watched from now
    stored = time.monotonic()
    historian(api).ingest_events(
        [PlantEvent(dt.datetime.now(dt.UTC), "state", "T2", "cleaning", source="e", seq=9)],
        site="tiny",
    )
    while True:
        body = api.get("/api/v1/live/units?site=tiny").json()
        if body["areas"][0]["cells"][0]["units"][1]["state"] == "cleaning":
            break
        assert time.monotonic() - stored < 1.0, "not seen within a second"
        time.sleep(0.02)
