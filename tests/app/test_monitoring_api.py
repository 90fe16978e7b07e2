"""``/api/v1/monitor``: a PCA model deployed on unit T1 of the tiny site scores the
application's historian; a sensor fault raises an alarm naming its tag, opens one
deviation on the batch running on T1, and clears; operators acknowledge and shelve it
(who and when kept in its history); roles are checked; the tables live on SQLite and
PostgreSQL (the historian is the embedded SQLite file of the data folder).
"""

from __future__ import annotations

import datetime as dt
import io
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from phactory.app.services.accounts import SYSTEM
from phactory.historian import Sample, to_us
from phactory.monitor.datasets.continuous import ContinuousProcess
from phactory.monitor.modelfile import save_model
from phactory.monitor.mspc import MspcModel

from .batch_world import PEOPLE, batch_site_yaml, make_people
from .conftest import Api, make_settings, open_api

PREFIX = "tiny/main/cell/T1/"
HOSTILE = '<img src=x onerror="alert(1)">{{7*7}}'
FAULTY = 5  # the variable whose sensor is biased


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> tuple[ContinuousProcess, Path]:
    process = ContinuousProcess.make(n_variables=12, seed=3)
    names = list(process.names)
    train, _ = process.simulate(2000, seed=1)
    validation, _ = process.simulate(2000, seed=2)
    model = MspcModel("pca", persistence=(2, 3)).fit(
        train[names].to_numpy(), names, X_val=validation[names].to_numpy()
    )
    path = tmp_path_factory.mktemp("model") / "t1-pca.json"
    save_model(model, path)
    return process, path


@pytest.fixture
def api(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    monkeypatch.setenv("PHACTORY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PHACTORY_HISTORIAN_URL", str(tmp_path / "historian.sqlite"))
    for api in open_api(make_settings(db_url)):
        ctx = api.ctx
        ctx.accounts.create_user(SYSTEM, "operator1", "operator", "operator-password-1")
        _, api.tokens["operator"] = ctx.accounts.create_token(SYSTEM, "operator1", "tests")
        site = tmp_path / "tiny.yaml"
        site.write_bytes(batch_site_yaml())
        assert api.upload("tiny.yaml", site.read_bytes()).status_code == 201
        yield api


def feed(
    api: Api, process: ContinuousProcess, now: dt.datetime, faulty: slice = slice(100, 200)
) -> None:
    """The last 400 s of T1 at 1 Hz: normal, with the faulty sensor biased by 4 standard
    deviations from 300 s to 200 s ago (a run on which the model raises nothing else), or
    over the rows ``faulty``."""
    names = list(process.names)
    frame, _ = process.simulate(500, seed=5)
    values = frame[names].to_numpy(copy=True)[:400]
    values[faulty, FAULTY] += 4 * process.sd()[FAULTY]
    first = to_us(now) - 400_000_000
    api.ctx.historian.historian.ingest(
        Sample(PREFIX + n, first + i * 1_000_000, float(v), seq=i, source="edge")
        for i, row in enumerate(values) for n, v in zip(names, row, strict=True)
    )  # fmt: skip


def run_batch_on_t1(api: Api, tmp_path: Path) -> str:
    """A tiny batch run by the batch engine up to its manual fill step on unit T1."""
    from phactory.batch import BatchEngine
    from phactory.model import load_site

    service = api.ctx.batches
    make_people(service)
    sup = service.records.accounts.login("sup", PEOPLE["sup"][3])
    site = load_site(tmp_path / "tiny.yaml")
    engine = BatchEngine(service.records, time_scale=math.inf, tick_s=0.001)
    info = engine.lifecycle.create_batch(sup, site, "r1")
    engine.lifecycle.command(sup, info.batch_id, "Start")
    engine.runner.run(info.batch_id)
    return info.batch_id


def deviations(api: Api, batch_id: str) -> list[Any]:
    with api.ctx.batches.records.access.reading() as view:
        return view.deviations(batch_id)


def deploy(api: Api, path: Path, role: str = "engineer", **fields: Any) -> Any:
    form = {"name": "t1-pca", "site": "tiny", "unit": "T1", "tag_prefix": PREFIX,
            "backfill": "10min", **fields}  # fmt: skip
    files = {"file": ("t1-pca.json", io.BytesIO(path.read_bytes()), "application/json")}
    return api.post("/api/v1/monitor/models", role=role, data=form, files=files)


def test_a_fault_raises_an_alarm_that_people_acknowledge_and_shelve(
    api: Api, fitted: tuple[ContinuousProcess, Path], tmp_path: Path
) -> None:
    process, path = fitted
    names = list(process.names)
    now = dt.datetime.now(dt.UTC)
    feed(api, process, now)
    batch_id = run_batch_on_t1(api, tmp_path)

    assert deploy(api, path, role="viewer").status_code == 403
    assert deploy(api, path, role="operator").status_code == 403
    made = deploy(api, path)
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["family"] == "mspc" and body["variables"] == names
    assert body["tags"] == [PREFIX + n for n in names]
    assert deploy(api, path).status_code == 409  # the name is taken
    api.ctx.monitoring.scan_once()

    found = api.get("/api/v1/monitor/alarms?site=tiny").json()
    [alarm] = found
    assert alarm["state"] == "rtn_unack"  # raised and cleared before anyone looked
    assert alarm["top"][0]["tag"] == PREFIX + names[FAULTY]
    raised_at = dt.datetime.fromisoformat(alarm["raised_at"])
    assert now - dt.timedelta(seconds=301) <= raised_at <= now - dt.timedelta(seconds=298)
    assert alarm["batch_id"] == batch_id and alarm["step"] == "mix/main/fill"
    assert alarm["deviation_id"]
    detail = api.get(f"/api/v1/monitor/alarms/{alarm['id']}").json()
    assert detail["contributions"][0]["variable"] == names[FAULTY]
    assert len(detail["contributions"]) == len(names)
    assert [h["kind"] for h in detail["history"]] == ["cleared", "deviation", "raised"]
    assert {h["actor"] for h in detail["history"]} == {"monitor"}
    [deviation] = deviations(api, batch_id)
    assert deviation.deviation_id == alarm["deviation_id"]
    assert PREFIX + names[FAULTY] in deviation.description

    # Scanning again (or after a restart) neither raises nor opens anything twice.
    api.ctx.monitoring.scan_once()
    assert len(api.get("/api/v1/monitor/alarms/log").json()) == 1
    assert len(deviations(api, batch_id)) == 1

    url = f"/api/v1/monitor/alarms/{alarm['id']}"
    assert api.post(f"{url}/ack", role="viewer", json={}).status_code == 403
    acked = api.post(f"{url}/ack", role="operator", json={"note": HOSTILE})
    assert acked.status_code == 200, acked.text
    assert acked.json()["acked_by"] == "operator1" and acked.json()["state"] == "normal"
    assert acked.json()["ack_note"] == HOSTILE
    again = api.post(f"{url}/ack", role="operator", json={})
    assert again.status_code == 409 and "operator1" in again.json()["detail"]
    assert api.get("/api/v1/monitor/alarms").json() == []  # over, and seen

    no_reason = api.post(f"{url}/shelve", role="operator", json={"reason": " ", "minutes": 30})
    assert no_reason.status_code == 422
    too_long = api.post(f"{url}/shelve", role="operator", json={"reason": "x", "minutes": 2000})
    assert too_long.status_code == 422
    shelved = api.post(
        f"{url}/shelve", role="operator", json={"reason": "sensor recalibration", "minutes": 30}
    )
    assert shelved.status_code == 200, shelved.text
    assert shelved.json()["shelved_by"] == "operator1"
    until = dt.datetime.fromisoformat(shelved.json()["shelved_until"])
    assert dt.timedelta(minutes=29) < until - dt.datetime.now(dt.UTC) <= dt.timedelta(minutes=30)
    history = api.get(f"{url}").json()["history"]
    assert [(h["kind"], h["actor"]) for h in history[:2]] == [
        ("shelved", "operator1"), ("acknowledged", "operator1"),
    ]  # fmt: skip
    assert "sensor recalibration" in history[0]["note"] and history[1]["note"] == HOSTILE
    assert all(dt.datetime.fromisoformat(h["at"]) <= dt.datetime.now(dt.UTC) for h in history)
    unshelved = api.post("/api/v1/monitor/models/t1-pca/unshelve", role="operator", json={})
    assert unshelved.status_code == 200 and unshelved.json()["shelved_until"] is None
    again = api.post("/api/v1/monitor/models/t1-pca/unshelve", role="operator", json={})
    assert again.status_code == 409

    scores = api.get("/api/v1/monitor/models/t1-pca/scores?minutes=10").json()
    # every scored second: 400 samples off the grid fall in 400 or 401 steps, and the
    # scans since went on for a few seconds on the values held after the last sample
    assert scores["every_s"] is None and 400 <= len(scores["t"]) <= 412
    spe = np.array([np.nan if v is None else v for v in scores["spe"]])
    ago = np.array([(now - dt.datetime.fromisoformat(t)).total_seconds() for t in scores["t"]])
    limit = scores["spe_limit"][0]
    assert limit is not None and np.nanmax(spe[(ago > 200) & (ago < 300)]) > limit
    assert all(v == limit for v in scores["spe_limit"] if v is not None)

    assert api.delete("/api/v1/monitor/models/t1-pca", role="operator").status_code == 403
    assert api.delete("/api/v1/monitor/models/t1-pca").status_code == 204
    assert api.get("/api/v1/monitor/models").json() == []
    assert len(api.get("/api/v1/monitor/alarms/log").json()) == 1  # history kept
    changes = api.get("/api/v1/changes?entity_kind=monitor", role="admin").json()
    assert {c["action"] for c in changes} >= {"monitor.deploy", "monitor.remove"}


def test_an_active_alarm_is_on_the_live_page_until_its_monitor_is_shelved(
    api: Api, fitted: tuple[ContinuousProcess, Path]
) -> None:
    process, path = fitted
    feed(api, process, dt.datetime.now(dt.UTC), faulty=slice(300, 400))  # still biased
    assert deploy(api, path).status_code == 201
    api.ctx.monitoring.scan_once()
    [alarm] = api.get("/api/v1/monitor/alarms?site=tiny").json()
    assert alarm["cleared_at"] is None
    live = [a for a in api.get("/api/v1/live/alarms?site=tiny").json() if a["kind"] == "monitor"]
    assert [(a["key"], a["source"]) for a in live] == [(f"monitor:{alarm['id']}", "T1")]
    assert process.names[FAULTY] in live[0]["message"]
    shelve = {"reason": "sensor being recalibrated", "minutes": 30}
    url = f"/api/v1/monitor/alarms/{alarm['id']}/shelve"
    assert api.post(url, role="operator", json=shelve).status_code == 200
    # The Live service reads alarms again at least every batches_every_s (1 s).
    deadline = time.monotonic() + 10 * api.ctx.live.batches_every_s
    while [a for a in api.ctx.live.alarms("tiny") if a.kind == "monitor"]:
        assert time.monotonic() < deadline, "the shelved alarm stayed on the Live page"
        time.sleep(0.1)


def test_deployments_are_refused_with_reasons(
    api: Api, fitted: tuple[ContinuousProcess, Path], tmp_path: Path
) -> None:
    process, path = fitted
    names = list(process.names)
    unknown = deploy(api, path, tag_prefix="tiny/main/cell/T9/")
    assert unknown.status_code == 422
    text = str(unknown.json()["detail"])
    # every unknown tag named (the first ten, and how many more)
    assert all(f"tiny/main/cell/T9/{n}" in text for n in names[:10]) and "2 more" in text
    assert deploy(api, path, name=HOSTILE).status_code == 422
    assert deploy(api, path, every="soon").status_code == 422
    bad = tmp_path / "bad.json"
    bad.write_text(yaml.safe_dump({"format": "something else"}))
    assert deploy(api, bad).status_code == 422
    assert api.get("/api/v1/monitor/models").json() == []
    assert api.client.get("/api/v1/monitor/alarms").status_code == 401
    assert api.get("/api/v1/monitor/alarms/99").status_code == 404
    assert api.post("/api/v1/monitor/alarms/99/ack", role="operator", json={}).status_code == 404
    assert api.get("/api/v1/monitor/models/nope/scores").status_code == 404


def test_a_soft_sensor_streams_predictions_and_records_one_as_a_result(
    api: Api, tmp_path: Path
) -> None:
    from phactory.monitor.datasets.spectra import generate_spectra
    from phactory.monitor.softsensor import SoftSensor

    train = generate_spectra(120, seed=1, n_wavelengths=40)
    channels = [f"ch{i:02d}" for i in range(40)]
    sensor = SoftSensor(preprocess="snv", max_components=6, cv_folds=4).fit(
        train.x, train.y, x_names=channels, y_names=train.y_names
    )
    save_model(sensor, tmp_path / "raman.json")
    spectra = generate_spectra(10, seed=2, n_wavelengths=40)
    assert sensor.predict(spectra.x[-1:]).in_domain[0]  # the last one can stand as a result
    first = to_us(dt.datetime.now(dt.UTC)) - 10 * 60_000_000
    prefix = PREFIX + "raman/"
    api.ctx.historian.historian.ingest(
        Sample(prefix + c, first + i * 60_000_000, float(v), seq=i, source="raman")
        for i, row in enumerate(spectra.x) for c, v in zip(channels, row, strict=True)
    )  # fmt: skip
    batch_id = run_batch_on_t1(api, tmp_path)
    made = deploy(api, tmp_path / "raman.json", name="t1-raman", tag_prefix=prefix, every="1min")
    assert made.status_code == 201, made.text
    assert made.json()["family"] == "softsensor"
    url = "/api/v1/monitor/models/t1-raman/results"
    api.ctx.monitoring.scan_once()

    admin = api.ctx.accounts.resolve(api.tokens["admin"], kind="api")
    assert admin is not None
    [view] = api.ctx.monitoring.family_views(admin).soft
    series = view.series[f"{prefix}softsensor/t1-raman/titre"]
    assert len(series[0]) == 10 and set(series[2]) <= {"good", "uncertain"}
    assert api.post(url, role="viewer", json={"response": "titre"}).status_code == 403
    assert api.post(url, role="operator", json={"response": "nope"}).status_code == 422
    recorded = api.post(url, role="operator", json={"response": "titre"})
    assert series[2][-1] == "good" and recorded.status_code == 201, recorded.text
    body = recorded.json()
    assert body["batch_id"] == batch_id and body["step"] == "mix/main/fill"
    assert body["value"] == series[1][-1]
    with api.ctx.batches.records.access.reading() as view_:
        [entry] = [e for e in view_.entries(batch_id, kinds=["value"]) if e.field == "titre"]
    assert entry.acting_account == "operator1" and entry.new == body["value"]
