"""``phactory monitor``: example -> fit -> score, and refusals naming the file."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from phactory.cli.monitor_commands import app


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


def _run(runner: CliRunner, *args: object) -> Result:
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def example(runner: CliRunner, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("example")
    done = _run(runner, "example", "--out", out, "--seed", "1")
    assert done.exit_code == 0, done.output
    return out


@pytest.fixture(scope="module")
def model(runner: CliRunner, example: Path) -> Path:
    path = example / "model.json"
    done = _run(
        runner, "fit", example / "train.csv", "--validation", example / "validation.csv",
        "--time-col", "time", "--method", "innovation", "--out", path,
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "method innovation: 3000 rows, 32 variables" in done.output
    assert "false-alarm rate: target 1 %" in done.output and "validation.csv" in done.output
    return path


def test_example_writes_data_and_ground_truth(example: Path) -> None:
    names = sorted(p.name for p in example.iterdir())
    kinds = ("bias", "drift", "variance", "correlation", "dynamics")
    assert {"train.csv", "validation.csv", "faults.json"} <= set(names)
    assert {f"fault_{k}.csv" for k in kinds} <= set(names)
    truth = json.loads((example / "faults.json").read_text())
    bias = truth["faults"]["fault_bias.csv"]
    assert bias["kind"] == "bias" and bias["start_row"] == 300 and len(bias["variables"]) == 1
    assert truth["seed"] == 1


def test_score_table_summarises_the_alarms(runner: CliRunner, model: Path, example: Path) -> None:
    done = _run(runner, "score", model, example / "fault_bias.csv", "--time-col", "time")
    assert done.exit_code == 0, done.output
    assert "alarmed rows" in done.output
    assert "1500 rows, 1498 with statistics" in done.output  # 2 lags
    assert "first alarm: row" in done.output and "fault_bias.csv:" in done.output


def test_score_csv_blames_the_biased_sensor(runner: CliRunner, model: Path, example: Path) -> None:
    truth = json.loads((example / "faults.json").read_text())["faults"]["fault_bias.csv"]
    done = _run(runner, "score", model, example / "fault_bias.csv", "--time-col", "time", "--csv")
    assert done.exit_code == 0, done.output
    rows = list(csv.DictReader(io.StringIO(done.output)))
    assert len(rows) == 1500
    assert list(rows[0])[:8] == [
        "row",
        "time",
        "t2",
        "spe",
        "t2_limit",
        "spe_limit",
        "alarm",
        "top1",
    ]
    assert rows[0]["t2"] == "nan" and rows[0]["top1"] == ""  # no past for the first rows
    after = [r for r in rows[truth["start_row"] :] if r["alarm"] == "true"]
    before = [r for r in rows[2 : truth["start_row"]] if r["alarm"] == "true"]
    assert len(after) > 0.9 * (1500 - truth["start_row"])
    assert len(before) < 0.05 * truth["start_row"]
    blamed = sum(r["top1"] == truth["variables"][0] for r in after)
    assert blamed > 0.9 * len(after)


def test_score_json_gives_every_row(runner: CliRunner, model: Path, example: Path) -> None:
    done = _run(runner, "score", model, example / "validation.csv", "--json", "--top", "2")
    assert done.exit_code == 0, done.output
    doc = json.loads(done.output)
    assert doc["summary"]["rows"] == 5000 and doc["summary"]["method"] == "innovation"
    rows = doc["rows"]
    assert rows[0]["t2"] is None and rows[0]["top"] == []
    assert set(rows[10]) == {"row", "t2", "spe", "t2_limit", "spe_limit", "alarm", "top"}
    assert len(rows[10]["top"]) == 2
    # The validation rows are the ones the limits were set on: the target rate, at most.
    assert doc["summary"]["alarms"] <= 0.01 * 4998


def test_fit_mentions_text_columns_and_dropped_constants(
    runner: CliRunner, tmp_path: Path, example: Path
) -> None:
    lines = (example / "train.csv").read_text().splitlines()[:400]
    text = [lines[0] + ",note,stuck"] + [f"{line},ok,7" for line in lines[1:]]
    path = tmp_path / "t.csv"
    path.write_text("\n".join(text) + "\n")
    out = tmp_path / "m.json"
    done = _run(runner, "fit", path, "--out", out, "--exclude", "QA1", "--exclude", "QA2")
    assert done.exit_code == 0, done.output
    assert "ignored text column(s): time, note" in done.output
    assert "dropped 1 column(s) constant" in done.output and "stuck" in done.output
    assert "no --validation" in done.output
    state = json.loads(out.read_text())["state"]
    assert state["dropped"] == ["stuck"] and "QA1" not in state["variables"]


def test_pls_takes_quality_columns(runner: CliRunner, tmp_path: Path, example: Path) -> None:
    out = tmp_path / "pls.json"
    done = _run(
        runner, "fit", example / "train.csv", "--time-col", "time", "--method", "pls",
        "--y", "QA1", "--y", "QA2", "--persistence", "2/3", "--out", out,
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    state = json.loads(out.read_text())["state"]
    assert state["params"]["y_variables"] == ["QA1", "QA2"]
    assert state["params"]["persistence"] == [2, 3] and "QA1" not in state["variables"]
    scored = _run(runner, "score", out, example / "fault_drift.csv", "--csv")
    assert scored.exit_code == 0, scored.output


def _holed(example: Path, tmp_path: Path) -> Path:
    lines = (example / "train.csv").read_text().splitlines()[:200]
    cells = lines[41].split(",")
    cells[3] = ""
    lines[41] = ",".join(cells)
    path = tmp_path / "holed.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_refusals_exit_2_naming_the_file(runner: CliRunner, example: Path, tmp_path: Path) -> None:
    train, out = example / "train.csv", tmp_path / "m.json"
    header = (example / "train.csv").read_text().splitlines()[0].split(",")
    cases = [
        (["fit", _holed(example, tmp_path), "--out", out], f"holed.csv:42 column '{header[3]}'"),
        (["fit", train, "--exclude", "nope", "--out", out], "train.csv:1: no column 'nope'"),
        (["fit", train, "--time-col", "when", "--out", out], "train.csv:1: no column 'when'"),
        (["fit", train, "--persistence", "3of4", "--out", out], "--persistence must be K/N"),
        (["fit", train, "--target-far", "0.7", "--out", out], r"--target-far must lie in (0, 0.5)"),
        (["fit", train, "--method", "kpca", "--out", out], "--method must be one of"),
        (["fit", train, "--method", "pls", "--out", out], "needs the quality columns"),
        (["fit", train, "--y", "QA1", "--out", out], "--y is used by --method pls only"),
        (["fit", train, "--components", "99", "--out", out], "train.csv: n_components must lie"),
        (["fit", example / "absent.csv", "--out", out], "absent.csv: no such file"),
        (
            ["fit", train, "--validation", _few(example, tmp_path), "--out", out],
            "few.csv: 30 rows are too few",
        ),
        (["fit", _few(example, tmp_path), "--out", out], "few.csv: the training data have 30 rows"),
        (["score", train, train], "not a JSON model file"),
        (["score", _model_missing(tmp_path), train], "no such model file"),
    ]
    for args, message in cases:
        done = _run(runner, *args)
        assert done.exit_code == 2, (args, done.output)
        assert message in done.output, (args, done.output)
        assert "Traceback" not in done.output
    assert not out.exists()


def _few(example: Path, tmp_path: Path) -> Path:
    path = tmp_path / "few.csv"
    path.write_text("\n".join((example / "train.csv").read_text().splitlines()[:31]) + "\n")
    return path


def _model_missing(tmp_path: Path) -> Path:
    return tmp_path / "nothing.json"


def test_score_refuses_a_file_without_the_model_variables(
    runner: CliRunner, model: Path, tmp_path: Path
) -> None:
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n3,4\n")
    done = _run(runner, "score", model, path)
    assert done.exit_code == 2
    assert "other.csv: the variable column(s)" in done.output
    both = _run(runner, "score", model, path, "--csv", "--json")
    assert both.exit_code == 2 and "choose one of --csv and --json" in both.output
