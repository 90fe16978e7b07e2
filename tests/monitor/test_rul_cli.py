"""``phactory rul fit | predict | example`` through Typer's runner: the CSV contract,
both truth-file layouts, and refusals naming file, line and column (exit code 2)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
from typer.testing import CliRunner

from phactory.cli.rul_commands import app

FIT = ["--unit-col", "unit", "--time-col", "cycle", "--trees", "60", "--threads", "1"]
PRED = ["--unit-col", "unit", "--time-col", "cycle"]


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    import sklearn.ensemble  # noqa: F401  (limits apply to loaded libraries)

    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory, runner: CliRunner) -> Path:
    out = tmp_path_factory.mktemp("rul") / "data"
    r = runner.invoke(
        app,
        ["example", "--out", str(out), "--seed", "2", "--train-units", "40", "--test-units", "30"],
    )
    assert r.exit_code == 0, r.output
    assert {p.name for p in out.iterdir()} == {
        "train.csv",
        "test.csv",
        "test_rul.csv",
        "maintenance.csv",
    }
    return out


@pytest.fixture(scope="module")
def model(example: Path, runner: CliRunner) -> Path:
    path = example / "rul.json"
    r = runner.invoke(app, ["fit", str(example / "train.csv"), *FIT, "--out", str(path)])
    assert r.exit_code == 0, r.output
    assert "dropped as constant: setting_3, c_1, c_2" in r.output
    return path


def test_predict_with_truth_by_unit_and_in_order(
    example: Path, model: Path, runner: CliRunner, tmp_path: Path
) -> None:
    by_unit = runner.invoke(
        app,
        [
            "predict",
            str(model),
            str(example / "test.csv"),
            *PRED,
            "--truth",
            str(example / "test_rul.csv"),
            "--json",
        ],
    )
    assert by_unit.exit_code == 0, by_unit.output
    doc = json.loads(by_unit.output)
    assert len(doc["units"]) == 30
    assert all(u["lower"] <= u["rul"] <= u["upper"] for u in doc["units"])
    scores = doc["scores"]
    assert scores["n"] == 30 and 0.0 <= scores["coverage"] <= 1.0 and scores["rmse"] > 0
    # NASA's layout: one column of RULs in unit order, no header (RUL_FD001.txt as CSV),
    # here also listed in reverse with unit ids to check matching by unit.
    rows = list(csv.DictReader((example / "test_rul.csv").open()))
    (tmp_path / "plain.csv").write_text("".join(f"{r['rul']}\n" for r in rows))
    (tmp_path / "reversed.csv").write_text(
        "rul,unit\n" + "".join(f"{r['rul']},{r['unit']}.0\n" for r in reversed(rows))
    )
    for truth in ("plain.csv", "reversed.csv"):
        again = runner.invoke(
            app,
            [
                "predict",
                str(model),
                str(example / "test.csv"),
                *PRED,
                "--truth",
                str(tmp_path / truth),
                "--json",
            ],
        )
        assert again.exit_code == 0, again.output
        assert json.loads(again.output)["scores"] == scores


def test_predict_csv_and_table(
    example: Path, model: Path, runner: CliRunner, tmp_path: Path
) -> None:
    r = runner.invoke(app, ["predict", str(model), str(example / "test.csv"), *PRED, "--csv"])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(r.output)))
    assert [row["unit"] for row in rows] == [str(i) for i in range(1, 31)]
    assert set(rows[0]) == {"unit", "time", "rul", "lower", "upper"}
    # A unit id a spreadsheet would run as a formula is neutralised; the numbers are not.
    lines = (example / "test.csv").read_text().splitlines()
    renamed = [lines[0], *(("@SUM(1)" + ln[1:]) if ln.startswith("1,") else ln for ln in lines[1:])]
    formula = _write(tmp_path / "formula.csv", renamed)
    r = runner.invoke(app, ["predict", str(model), str(formula), *PRED, "--csv"])
    assert r.exit_code == 0, r.output
    again = list(csv.DictReader(io.StringIO(r.output)))
    assert "'@SUM(1)" in [row["unit"] for row in again]
    assert sorted(row["rul"] for row in again) == sorted(row["rul"] for row in rows)
    table = runner.invoke(
        app,
        [
            "predict",
            str(model),
            str(example / "test.csv"),
            *PRED,
            "--truth",
            str(example / "test_rul.csv"),
        ],
    )
    assert table.exit_code == 0 and "NASA score" in table.output and "coverage" in table.output


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_malformed_training_files_are_refused_naming_file_and_line(
    runner: CliRunner, tmp_path: Path
) -> None:
    out = str(tmp_path / "m.json")
    good = [f"{u},{t},{t * 0.1 + u}" for u in range(1, 6) for t in range(1, 4)]
    one_row = _write(tmp_path / "one.csv", ["unit,cycle,s1", *good, "9,1,3.0"])
    r = runner.invoke(app, ["fit", str(one_row), *FIT, "--out", out])
    assert r.exit_code == 2
    assert "one.csv:17 column 'unit': unit '9' has 1 row(s)" in r.output
    back = _write(tmp_path / "back.csv", ["unit,cycle,s1", *good[:4], "2,1,0.5", *good[4:]])
    r = runner.invoke(app, ["fit", str(back), *FIT, "--out", out])
    assert r.exit_code == 2
    assert "back.csv:6 column 'cycle'" in r.output and "line 5" in r.output
    r = runner.invoke(app, ["fit", str(back), "--time-col", "cycle", "--out", out])
    assert r.exit_code == 2 and "--unit-col" in r.output
    r = runner.invoke(
        app, ["fit", str(back), "--unit-col", "engine", "--time-col", "cycle", "--out", out]
    )
    assert r.exit_code == 2 and "back.csv:1: no column 'engine'" in r.output
    assert not Path(out).exists()


def test_bad_truth_and_missing_model_are_refused(
    example: Path, model: Path, runner: CliRunner, tmp_path: Path
) -> None:
    short = _write(tmp_path / "short.csv", ["12", "40"])
    r = runner.invoke(
        app, ["predict", str(model), str(example / "test.csv"), *PRED, "--truth", str(short)]
    )
    assert r.exit_code == 2 and "2 true RUL value(s) for 30 test unit(s)" in r.output
    missing = _write(tmp_path / "m.csv", ["unit,rul", "1,12"])
    r = runner.invoke(
        app, ["predict", str(model), str(example / "test.csv"), *PRED, "--truth", str(missing)]
    )
    assert r.exit_code == 2 and "no true RUL for unit(s) 2, 3" in r.output
    r = runner.invoke(app, ["predict", str(tmp_path / "no.json"), str(example / "test.csv"), *PRED])
    assert r.exit_code == 2 and "no such model file" in r.output
