"""``phactory historian``: query (table, CSV, JSON), tags and retention, as a user runs them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from phactory.cli.main import app
from phactory.historian import Sample, TagMeta, open_historian

T0_US = 1_740_787_200_000_000  # 2025-03-01T00:00:00Z
TEMP, PHASE = "mab/usp/c1/BR1/temp", "mab/usp/c1/BR1/phase"
RANGE = ["--from", "2025-03-01T00:00:00Z", "--to", "2025-03-01T00:03"]


@pytest.fixture(scope="module", autouse=True)
def registered() -> None:
    """The group registered on the ``phactory`` command, as ``cli/main.py`` will do."""
    from phactory.cli.historian_commands import app as historian_app

    if not any(g.name == "historian" for g in app.registered_groups):
        app.add_typer(historian_app, name="historian")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[str]:
    """A historian file: 3 minutes of a temperature every 10 s (value = seconds) and a
    phase text whose value looks like a spreadsheet formula."""
    path = tmp_path / "h.sqlite"
    with open_historian(path=path) as h:
        h.set_meta(TagMeta(TEMP, "REAL", "degC", 20.0, 45.0, "culture temperature"))
        h.ingest([Sample(TEMP, T0_US + t * 1_000_000, float(t), t) for t in range(0, 180, 10)])
        h.ingest([Sample(PHASE, T0_US, "=HYPERLINK(1)", 1, source="edge-1", historical=True)])
    yield str(path)


def _run(runner: CliRunner, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["historian", *args])
    return result.exit_code, result.output


def test_query_means_as_csv(runner: CliRunner, db: str) -> None:
    code, out = _run(runner, "query", TEMP, *RANGE, "--every", "1min", "--csv", "--db", db)
    assert code == 0, out
    assert out.splitlines() == [
        f"time,{TEMP}",
        "2025-03-01T00:00:00Z,25.0",
        "2025-03-01T00:01:00Z,85.0",
        "2025-03-01T00:02:00Z,145.0",
    ]


def test_query_raw_as_csv_neutralises_formulas(runner: CliRunner, db: str) -> None:
    code, out = _run(runner, "query", PHASE, *RANGE, "--csv", "--db", db)
    assert code == 0, out
    assert out.splitlines() == [
        "time,tag,value,quality,seq,source,historical",
        f"2025-03-01T00:00:00Z,{PHASE},'=HYPERLINK(1),good,1,edge-1,True",
    ]


def test_query_as_json_has_the_api_shape(runner: CliRunner, db: str) -> None:
    code, out = _run(runner, "query", TEMP, PHASE, *RANGE, "--every", "2min", "--agg", "count",
                     "--json", "--db", db)  # fmt: skip
    assert code == 0, out
    body = json.loads(out)
    assert body["time"] == ["2025-03-01T00:00:00Z", "2025-03-01T00:02:00Z"]
    assert body["series"] == [
        {"tag": TEMP, "unit": "degC", "values": [12, 6]},
        {"tag": PHASE, "unit": "", "values": [0, 0]},
    ]
    assert (body["every"], body["agg"], body["start"]) == ("2min", "count", "2025-03-01T00:00:00Z")
    raw = json.loads(_run(runner, "query", TEMP, "--from", "2025-03-01T00:00:05Z", "--to",
                          "2025-03-01T00:00:15Z", "--json", "--db", db)[1])  # fmt: skip
    assert raw["samples"] == [
        {"time": "2025-03-01T00:00:10Z", "tag": TEMP, "value": 10.0, "quality": "good",
         "seq": 10, "source": "", "historical": False}
    ]  # fmt: skip


def test_query_table(runner: CliRunner, db: str) -> None:
    code, out = _run(runner, "query", TEMP, *RANGE, "--every", "1min", "--agg", "max", "--db", db)
    assert code == 0, out
    assert "max every 1min" in out and "170.0" in out and "2025-03-01T00:02:00Z" in out


def test_naive_times_are_utc(runner: CliRunner, db: str) -> None:
    args = ["query", TEMP, "--every", "1min", "--csv", "--db", db]
    naive = _run(runner, *args, "--from", "2025-03-01T00:00", "--to", "2025-03-01T00:01")[1]
    aware = _run(runner, *args, "--from", "2025-03-01T01:00+01:00", "--to", "2025-03-01T00:01Z")[1]
    assert naive == aware and "25.0" in naive


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["query", "nope/x", *RANGE], "the historian has no tag 'nope/x'"),
        (
            ["query", TEMP, "--from", "monday", "--to", "2025-03-01"],
            "--from 'monday' is not an ISO",
        ),
        (["query", TEMP, *RANGE, "--every", "5m"], "--every '5m' is not a duration"),
        (["query", TEMP, *RANGE, "--every", "1min", "--agg", "median"], "--agg must be one of"),
        (["query", TEMP, *RANGE, "--csv", "--json"], "choose one of --csv and --json"),
        (["query", TEMP, "--from", "2025-03-02", "--to", "2025-03-01"], "must be before end"),
        (["retention", "--raw-days", "800"], "keep raw samples"),
    ],
)
def test_refusals_exit_2_in_one_line(
    runner: CliRunner, db: str, args: list[str], message: str
) -> None:
    code, out = _run(runner, *args, "--db", db)
    assert code == 2, out
    assert message in " ".join(out.split()) and "Traceback" not in out


def test_tags_by_prefix(runner: CliRunner, db: str) -> None:
    code, out = _run(runner, "tags", "mab/usp/c1/BR1/t", "--json", "--db", db)
    assert code == 0, out
    assert json.loads(out) == [
        {"name": TEMP, "data_type": "REAL", "unit": "degC", "low": 20.0, "high": 45.0,
         "description": "culture temperature"}
    ]  # fmt: skip
    code, out = _run(runner, "tags", "--db", db)
    assert code == 0 and "2 tags" in out and "20..45" in out


def test_retention(runner: CliRunner, db: str) -> None:
    code, out = _run(runner, "retention", "--now", "2025-03-03T00:00:00Z", "--raw-days", "1",
                     "--json", "--db", db)  # fmt: skip
    assert code == 0, out
    assert json.loads(out) == {"raw": 19, "minute": 0, "hour": 0, "horizon": "2025-03-02T00:00:00Z"}
    # the aggregates are kept: minute means still answer, raw samples are gone
    means = _run(runner, "query", TEMP, *RANGE, "--every", "1min", "--csv", "--db", db)[1]
    assert means.splitlines()[1:] == ["2025-03-01T00:00:00Z,25.0", "2025-03-01T00:01:00Z,85.0",
                                      "2025-03-01T00:02:00Z,145.0"]  # fmt: skip
    assert _run(runner, "query", TEMP, *RANGE, "--csv", "--db", db)[1].count("\n") == 1


def test_the_environment_and_the_default_file(
    runner: CliRunner, db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHACTORY_HISTORIAN_URL", f"sqlite:///{db}")
    assert "culture temperature" in _run(runner, "tags", "--json")[1]
    monkeypatch.delenv("PHACTORY_HISTORIAN_URL")
    monkeypatch.setenv("PHACTORY_HOME", str(tmp_path / "home"))
    code, out = _run(runner, "tags", "--json")
    assert (code, json.loads(out)) == (0, [])
    assert (tmp_path / "home" / "historian.sqlite").is_file()


def test_help(runner: CliRunner) -> None:
    code, out = _run(runner, "query", "--help")
    assert code == 0 and "without offset: UTC" in " ".join(out.split())
