"""``phactory batchmon``: example -> fit -> score, and refusals naming the file and line."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from phactory.cli.batchmon_commands import app

COLS = ("--batch-col", "batch", "--time-col", "time_h")


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


def _run(runner: CliRunner, *args: object) -> Result:
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def example(runner: CliRunner, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("batchmon")
    done = _run(
        runner, "example", "--out", out, "--seed", "4", "--batches", "12", "--interval", "2"
    )
    assert done.exit_code == 0, done.output
    return out


@pytest.fixture(scope="module")
def model(runner: CliRunner, example: Path) -> Path:
    path = example / "model.json"
    done = _run(
        runner,
        "fit",
        example / "train.csv",
        *COLS,
        "--align",
        "maturity:ivcd",
        "--quality",
        "final_titer,aggregates",
        "--out",
        path,
        "--json",
    )
    assert done.exit_code == 0, done.output
    summary = json.loads(done.output)
    assert summary["batches"] == 12 and summary["align"] == "maturity:ivcd"
    assert "ivcd" not in summary["variables"] and "final_titer" not in summary["variables"]
    assert len(summary["variables"]) == 10
    assert set(summary["quality"]) == {"final_titer", "aggregates"}
    assert 0.0 <= summary["far_cv_rows"] <= 0.05
    return path


def test_example_writes_data_and_ground_truth(example: Path) -> None:
    assert {p.name for p in example.iterdir()} >= {
        "train.csv",
        "test.csv",
        "test_quality.csv",
        "faults.json",
    }
    truth = json.loads((example / "faults.json").read_text())
    assert [f["fault"] for f in truth["faults"]] == ["temperature", "feed", "drift", "bias"]
    assert truth["running"] == ["T009"]
    header = (example / "test.csv").read_text().splitlines()[0]
    assert header.startswith("batch,time_h,vcd,") and "final_titer" not in header


def test_fit_prints_a_summary_and_accepts_quality_in_a_file_of_its_own(
    runner: CliRunner, example: Path, tmp_path: Path
) -> None:
    rows = list(csv.DictReader((example / "train.csv").open()))
    qfile = tmp_path / "q.csv"
    with qfile.open("w") as f:
        f.write("batch,final_titer\n")
        for bid in dict.fromkeys(r["batch"] for r in rows):
            first = next(r for r in rows if r["batch"] == bid)
            f.write(f"{bid},{first['final_titer']}\n")
    out = tmp_path / "m.json"
    done = _run(
        runner,
        "fit",
        example / "train.csv",
        *COLS,
        "--quality-csv",
        qfile,
        "--exclude",
        "aggregates",
        "--align",
        "dtw",
        "--persistence",
        "2/3",
        "--validation",
        example / "test.csv",
        "--out",
        out,
    )
    assert done.exit_code == 0, done.output
    assert "quality final_titer" in done.output and "RMSECV" in done.output
    assert "validation" in done.output and "dtw / pls" in done.output
    saved = json.loads(out.read_text())
    assert saved["family"] == "batch" and saved["state"]["quality"] == ["final_titer"]
    assert "final_titer" not in saved["state"]["variables"]


def test_score_finds_the_faults_and_the_running_batch(
    runner: CliRunner, example: Path, model: Path
) -> None:
    done = _run(runner, "score", model, example / "test.csv", *COLS, "--json")
    assert done.exit_code == 0, done.output
    got = json.loads(done.output)
    batches = {b["batch"]: b for b in got["batches"]}
    truth = json.loads((example / "faults.json").read_text())
    assert batches["T009"]["status"] == "running" and batches["T009"]["batch_t2"] is None
    assert batches["T009"]["progress"] < 1.0
    assert all(batches[b]["status"] == "complete" for b in truth["good"])
    for fault in truth["faults"]:
        b = batches[fault["batch"]]
        if fault["fault"] in ("temperature", "drift"):
            assert b["first_alarm_h"] >= fault["start_h"] - 1e-9, fault
            assert b["first_alarm_top"][0]["variable"] == fault["variable"], fault
            assert b["batch_alarm"] is True
    assert all(set(b["quality"]) == {"final_titer", "aggregates"} for b in got["batches"])
    n_rows = sum(1 for _ in (example / "test.csv").open()) - 1
    assert len(got["rows"]) == n_rows
    row = got["rows"][0]
    assert set(row) == {
        "batch",
        "time_h",
        "progress",
        "t2",
        "t2_limit",
        "spe",
        "spe_limit",
        "alarm",
        "top",
    }
    assert row["top"][0]["variable"] in json.loads(model.read_text())["state"]["variables"]


def test_score_as_csv_and_as_a_table(runner: CliRunner, example: Path, model: Path) -> None:
    done = _run(runner, "score", model, example / "test.csv", *COLS, "--csv", "--top", "1")
    assert done.exit_code == 0, done.output
    rows = list(csv.DictReader(io.StringIO(done.output)))
    assert rows[0].keys() == {
        "batch",
        "time_h",
        "progress",
        "t2",
        "t2_limit",
        "spe",
        "spe_limit",
        "alarm",
        "top",
    }
    temp = [r for r in rows if r["batch"] == "T005" and r["alarm"] == "True"]
    assert temp and all(r["top"].startswith("temperature:") for r in temp[-5:])
    table = _run(runner, "score", model, example / "test.csv", *COLS, "--running", "T001")
    assert table.exit_code == 0, table.output
    t001 = next(line for line in table.output.splitlines() if "T001" in line)
    t009 = next(line for line in table.output.splitlines() if "T009" in line)
    assert "running" in t001 and "running" in t009


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_malformed_files_are_refused_naming_file_and_line(
    runner: CliRunner, example: Path, model: Path, tmp_path: Path
) -> None:
    train = example / "train.csv"
    lines = train.read_text().splitlines()
    dup = _write(tmp_path, "dup.csv", "\n".join([*lines[:4], lines[3]]) + "\n")
    few = _write(tmp_path, "few.csv", "\n".join(lines[: 1 + 3 * 120]) + "\n")
    out = tmp_path / "m.json"
    cases = [
        (
            ["fit", dup, *COLS, "--out", out],
            "dup.csv:5 column 'time_h': batch 'B001' has the time 4 twice",
        ),
        (
            ["fit", train, "--batch-col", "lot", "--time-col", "time_h", "--out", out],
            "train.csv:1: no column 'lot'",
        ),
        (["fit", few, *COLS, "--out", out], "batch model needs at least 5"),
        (["fit", train, *COLS, "--align", "maturity:nope", "--out", out], "maturity column 'nope'"),
        (["fit", train, *COLS, "--align", "warp", "--out", out], "unknown alignment 'warp'"),
        (["fit", train, *COLS, "--persistence", "two", "--out", out], "--persistence must be K/N"),
        (["fit", train, *COLS, "--quality", "titre", "--out", out], "no column 'titre'"),
        (["score", train, train, *COLS], "not a JSON model file"),
        (["score", model, dup, *COLS], "dup.csv:5 column 'time_h'"),
        (["score", model, example / "test.csv", *COLS, "--running", "Z9"], "no batch 'Z9'"),
        (["score", model, example / "test.csv", *COLS, "--csv", "--json"], "choose one of"),
    ]
    for args, message in cases:
        done = _run(runner, *args)
        assert done.exit_code == 2, (args, done.output)
        assert message in done.output, (args, done.output)
        assert "Traceback" not in done.output
    assert not out.exists()
    other = _write(tmp_path, "other.csv", "batch,time_h,vcd\nA,0,1\nA,1,2\nA,2,3\n")
    done = _run(runner, "score", model, other, *COLS)
    assert done.exit_code == 2 and "the model's variable(s) 'glucose'" in done.output
