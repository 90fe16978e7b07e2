"""``phactory softsensor``: example -> fit -> predict on CSV files, and refusals naming the
file, line and column."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from phactory.cli.main import PhactoryGroup
from phactory.cli.softsensor_commands import app


@pytest.fixture(scope="module")
def cli() -> typer.Typer:
    # As registered by the lead: refusals reported by the group, exit 2.
    outer = typer.Typer(cls=PhactoryGroup, pretty_exceptions_enable=False)
    outer.add_typer(app, name="softsensor")
    return outer


def _run(cli: typer.Typer, *args: str | Path) -> Result:
    return CliRunner().invoke(cli, ["softsensor", *map(str, args)])


@pytest.fixture(scope="module")
def example(cli: typer.Typer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("spectra")
    result = _run(cli, "example", "--out", folder, "--seed", "3")
    assert result.exit_code == 0, result.output
    return folder


@pytest.fixture(scope="module")
def model(cli: typer.Typer, example: Path) -> Path:
    out = example / "model.json"
    result = _run(
        cli,
        "fit",
        example / "x_train.csv",
        example / "y_train.csv",
        "--id-col",
        "sample",
        "--preprocess",
        "snv,sg1",
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    assert "RMSECV" in result.output and "glucose" in result.output
    assert "applicability domain" in result.output
    return out


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as f:
        return list(csv.reader(f))


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def test_example_writes_the_five_files(example: Path) -> None:
    for name in ("x_train", "y_train", "x_test", "y_test", "x_outside"):
        rows = _rows(example / f"{name}.csv")
        assert rows[0][0] == "sample"
    header = _rows(example / "x_train.csv")[0]
    assert header[1] == "400.0" and len(header) == 352  # wavelengths as numbers
    assert _rows(example / "y_train.csv")[0] == ["sample", "glucose", "lactate", "titre"]


def test_fit_json_summary(cli: typer.Typer, example: Path, tmp_path: Path) -> None:
    result = _run(
        cli,
        "fit",
        example / "x_train.csv",
        example / "y_train.csv",
        "--id-col",
        "sample",
        "--components",
        "3",
        "--cv",
        "venetian",
        "--json",
        "--out",
        tmp_path / "m.json",
    )
    assert result.exit_code == 0, result.output
    s = json.loads(result.output)
    assert s["samples"] == 60 and s["variables"] == 351 and s["preprocess"] == "none"
    assert {r["components"] for r in s["responses"].values()} == {3}
    assert len(s["responses"]["titre"]["rmsecv_curve"]) == 4  # 0..3 components


def test_predict_with_reference_gives_rmsep(cli: typer.Typer, example: Path, model: Path) -> None:
    result = _run(
        cli,
        "predict",
        model,
        example / "x_test.csv",
        "--id-col",
        "sample",
        "--y",
        example / "y_test.csv",
        "--json",
    )
    assert result.exit_code == 0, result.output
    s = json.loads(result.output)
    assert len(s["rows"]) == 200 and s["rows"][0]["id"] == "T0001"
    assert s["rows_in_domain"] >= 190
    for name, r in s["rmsep"].items():
        assert r["n"] == 200 and r["rmsep_in_domain"] <= r["rmsep"] * 1.1
        assert r["rmsep"] < {"glucose": 0.4, "lactate": 0.12, "titre": 0.2}[name]
        assert abs(r["bias"]) < r["rmsep"]


def test_predict_outside_flags_every_row_as_csv(
    cli: typer.Typer, example: Path, model: Path
) -> None:
    result = _run(cli, "predict", model, example / "x_outside.csv", "--csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(result.output.splitlines()))
    assert rows[0] == ["line", "glucose", "lactate", "titre", "in_domain", "t2", "spe"]
    assert len(rows) == 41 and rows[1][0] == "2"
    assert {r[4] for r in rows[1:]} == {"0"}


def test_predict_reads_columns_by_name_in_any_order(
    cli: typer.Typer, example: Path, model: Path, tmp_path: Path
) -> None:
    rows = _rows(example / "x_test.csv")[:6]
    shuffled = _write(tmp_path / "x.csv", [list(reversed(r)) for r in rows])
    a = json.loads(_run(cli, "predict", model, example / "x_test.csv", "--json").output)
    b = json.loads(_run(cli, "predict", model, shuffled, "--json").output)
    assert [r["prediction"] for r in b["rows"]] == [r["prediction"] for r in a["rows"][:5]]
    human = _run(cli, "predict", model, shuffled)
    assert human.exit_code == 0 and "in domain:" in human.output


def test_missing_model_column_is_refused(
    cli: typer.Typer, example: Path, model: Path, tmp_path: Path
) -> None:
    rows = [r[:-1] for r in _rows(example / "x_test.csv")[:4]]
    result = _run(cli, "predict", model, _write(tmp_path / "x.csv", rows))
    assert result.exit_code == 2
    assert "x.csv: the model variable column(s) '1800.0' are not numeric columns" in result.output


def test_row_count_mismatch_is_refused_naming_both_files(
    cli: typer.Typer, example: Path, tmp_path: Path
) -> None:
    y = _write(tmp_path / "y.csv", _rows(example / "y_train.csv")[:-1])
    result = _run(
        cli, "fit", example / "x_train.csv", y, "--exclude", "sample", "--out", tmp_path / "m.json"
    )
    assert result.exit_code == 2
    assert "x_train.csv has 60 data rows but" in result.output and "y.csv has 59" in result.output
    assert not (tmp_path / "m.json").exists()


def test_id_mismatch_is_refused_naming_the_ids(
    cli: typer.Typer, example: Path, tmp_path: Path
) -> None:
    rows = _rows(example / "y_train.csv")
    rows[4][0] = "C9999"
    y = _write(tmp_path / "y.csv", rows)
    result = _run(
        cli, "fit", example / "x_train.csv", y, "--id-col", "sample", "--out", tmp_path / "m.json"
    )
    assert result.exit_code == 2
    assert "'C0004'" in result.output and "'C9999' (" in result.output
    assert "y.csv:5)" in result.output  # data row 4 is on line 5 (header = line 1)


def test_non_numeric_response_is_refused_naming_file_line_column(
    cli: typer.Typer, example: Path, tmp_path: Path
) -> None:
    rows = _rows(example / "y_train.csv")
    bad = [list(r) for r in rows]
    bad[7][2] = "n.d.x"
    y = _write(tmp_path / "y.csv", bad)
    result = _run(
        cli, "fit", example / "x_train.csv", y, "--id-col", "sample", "--out", tmp_path / "m.json"
    )
    assert result.exit_code == 2
    assert "y.csv: column 'lactate' is numeric but has line 8: 'n.d.x'" in result.output
    # A whole text column is not a response either.
    text = _write(tmp_path / "t.csv", [[*r, "lab" if i else "analyst"] for i, r in enumerate(rows)])
    result = _run(
        cli,
        "fit",
        example / "x_train.csv",
        text,
        "--id-col",
        "sample",
        "--out",
        tmp_path / "m.json",
    )
    assert result.exit_code == 2
    assert "t.csv:2 column 'analyst': 'lab' is not a number" in result.output


def test_unknown_preprocess_step_is_refused(
    cli: typer.Typer, example: Path, tmp_path: Path
) -> None:
    result = _run(
        cli,
        "fit",
        example / "x_train.csv",
        example / "y_train.csv",
        "--id-col",
        "sample",
        "--preprocess",
        "snv,detrend",
        "--out",
        tmp_path / "m.json",
    )
    assert result.exit_code == 2
    assert "preprocess step 'detrend' is unknown" in result.output
    bad = _run(
        cli,
        "fit",
        example / "x_train.csv",
        example / "y_train.csv",
        "--id-col",
        "nope",
        "--out",
        tmp_path / "m.json",
    )
    assert bad.exit_code == 2 and "--id-col 'nope': no such column" in bad.output


def test_positional_matching_without_ids(cli: typer.Typer, example: Path, tmp_path: Path) -> None:
    # Without --id-col the id column of X is text (ignored); Y must then leave it out.
    result = _run(
        cli,
        "fit",
        example / "x_train.csv",
        example / "y_train.csv",
        "--exclude",
        "sample",
        "--max-components",
        "6",
        "--folds",
        "5",
        "--out",
        tmp_path / "m.json",
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "m.json").exists()


def test_names_and_ids_from_the_files_are_shown_verbatim(
    cli: typer.Typer, example: Path, tmp_path: Path
) -> None:
    # A response named like Rich markup and sample ids a spreadsheet would run as
    # formulas: the terminal shows the name as it is, the CSV neutralises the ids.
    x, y = _rows(example / "x_train.csv"), _rows(example / "y_train.csv")
    y[0][3] = "[/titre]"
    for rows in (x, y):
        for r in rows[1:]:
            r[0] = "=" + r[0]
    x_path, y_path = _write(tmp_path / "x.csv", x), _write(tmp_path / "y.csv", y)
    fit = _run(cli, "fit", x_path, y_path, "--id-col", "sample", "--max-components", "3",
               "--folds", "3", "--out", tmp_path / "m.json")  # fmt: skip
    assert fit.exit_code == 0, fit.output
    assert "[/titre]" in fit.output
    table = _run(cli, "predict", tmp_path / "m.json", x_path, "--id-col", "sample")
    assert table.exit_code == 0, table.output
    assert "[/titre]" in table.output and "=C0001" in table.output
    as_csv = _run(cli, "predict", tmp_path / "m.json", x_path, "--id-col", "sample", "--csv")
    assert as_csv.exit_code == 0, as_csv.output
    lines = list(csv.reader(as_csv.output.splitlines()))
    assert lines[0] == ["id", "glucose", "lactate", "[/titre]", "in_domain", "t2", "spe"]
    assert lines[1][0] == "'=C0001"
    assert all(float(v) > -1e3 for v in lines[1][1:4])  # numbers stay numbers, unquoted
