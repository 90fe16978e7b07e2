"""``phactory monitor watch``: the last minutes of a unit in a historian file, a sensor
fault among them, scored once; the alarm is printed with its top tag and opens a
deviation on the batch running on the unit; a second run with the same ``--state`` goes
on where the first stopped."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import typer
from ebr_world import FILL, World, started_batch
from typer.testing import CliRunner

from phactory.cli.monitor_live_commands import register
from phactory.historian import Sample, open_historian, to_us
from phactory.monitor.datasets.continuous import ContinuousProcess
from phactory.monitor.modelfile import save_model
from phactory.monitor.mspc import MspcModel

PREFIX = "tiny/main/cell/T1/"


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def monitor() -> None:
        """The ``phactory monitor`` group."""

    register(app)
    return app


def test_watch_prints_the_alarm_and_opens_its_deviation(
    tmp_path: Path, sqlite_world: World
) -> None:
    process = ContinuousProcess.make(n_variables=12, seed=3)
    names = list(process.names)
    train, _ = process.simulate(2000, seed=1)
    validation, _ = process.simulate(2000, seed=2)
    model = MspcModel("pca", persistence=(2, 3)).fit(
        train[names].to_numpy(), names, X_val=validation[names].to_numpy()
    )
    save_model(model, tmp_path / "t1.json")
    frame, _ = process.simulate(500, seed=5)  # no alarm without the bias
    values = frame[names].to_numpy(copy=True)[:300]
    values[100:200, 4] += 4 * process.sd()[4]
    first = to_us(dt.datetime.now(dt.UTC)) - 300_000_000
    with open_historian(path=tmp_path / "h.sqlite") as h:
        h.ingest(
            Sample(PREFIX + n, first + i * 1_000_000, float(v), seq=i, source="edge")
            for i, row in enumerate(values) for n, v in zip(names, row, strict=True)
        )  # fmt: skip
    _, batch_id = started_batch(sqlite_world)
    args = ["watch", str(tmp_path / "t1.json"), "--db", str(tmp_path / "h.sqlite"),
            "--tag-prefix", PREFIX, "--unit", "T1", "--site", "tiny", "--once", "--json",
            "--state", str(tmp_path / "state.json"), "--record-db", sqlite_world.url]  # fmt: skip
    called = to_us(dt.datetime.now(dt.UTC))
    result = CliRunner().invoke(_app(), [*args, "--backfill", "10min"])
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.output.splitlines()]
    assert [e["event"] for e in events] == ["raised", "cleared"]
    raised = events[0]
    assert raised["monitor"] == "t1" and raised["top"][0]["tag"] == PREFIX + names[4]
    assert raised["batch"] == batch_id and raised["step"] == FILL
    with sqlite_world.records.access.reading() as view:
        [deviation] = view.deviations(batch_id)
    assert deviation.deviation_id == raised["deviation"]
    assert PREFIX + names[4] in deviation.description
    state = json.loads((tmp_path / "state.json").read_text())
    # every step closed (after the 250 ms settle) when it was called was scored
    assert state["active"] is False
    assert state["cursor_us"] >= (called - 250_000) // 1_000_000 * 1_000_000

    again = CliRunner().invoke(_app(), args)  # goes on from the state: nothing twice
    assert again.exit_code == 0, again.output
    assert again.output == ""
    missing = CliRunner().invoke(_app(), [*args[:4], "--tag-prefix", "tiny/x/", "--once"])
    assert missing.exit_code != 0 and "tiny/x/" + names[0] in str(missing.exception)
