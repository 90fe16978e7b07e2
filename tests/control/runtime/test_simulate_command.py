"""``phactory control simulate``: an ST program in simulated time, one row per scan."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from phactory.cli.main import _register, app

BLINK = """
PROGRAM Blink
VAR
    t1 : TON;
    c1 : CTU;
    on : BOOL;
    level : REAL;
END_VAR
VAR_OUTPUT
    lamp : BOOL;
END_VAR
t1(IN := NOT t1.Q, PT := T#30ms);
IF t1.Q THEN on := NOT on; END_IF
c1(CU := on, PV := 2);
lamp := c1.Q;
level := level + 0.25;
END_PROGRAM
"""


@pytest.fixture(scope="module")
def cli() -> CliRunner:
    _register()
    return CliRunner()


@pytest.fixture
def blink(tmp_path: Path) -> Path:
    path = tmp_path / "blink.st"
    path.write_text(BLINK, encoding="utf-8")
    return path


def _run(cli: CliRunner, *args: str) -> Result:
    return cli.invoke(app, ["control", "simulate", *args])


def test_csv_rows_follow_the_scan_timing(cli: CliRunner, blink: Path) -> None:
    result = _run(
        cli,
        str(blink),
        *("--cycle", "10ms", "--for", "T#100ms", "--csv"),
        *("--trace", "t1.Q", "--trace", "T1.ET", "--trace", "c1.CV", "--trace", "level"),
    )
    assert result.exit_code == 0, result.output
    # By hand: the TON restarts the scan after its Q (IN := NOT Q), so Q pulses every
    # 40 ms from 30 ms; `on` toggles on each pulse, and CTU counts its rising edges.
    assert result.stdout.splitlines() == [
        "t_s,t1.Q,t1.ET,c1.CV,level",
        "0.000,FALSE,T#0s,0,0.25",
        "0.010,FALSE,T#10ms,0,0.5",
        "0.020,FALSE,T#20ms,0,0.75",
        "0.030,TRUE,T#30ms,1,1.0",
        "0.040,FALSE,T#0s,1,1.25",
        "0.050,FALSE,T#0s,1,1.5",
        "0.060,FALSE,T#10ms,1,1.75",
        "0.070,FALSE,T#20ms,1,2.0",
        "0.080,TRUE,T#30ms,1,2.25",
        "0.090,FALSE,T#0s,1,2.5",
    ]


def test_the_table_defaults_to_the_outputs(cli: CliRunner, blink: Path) -> None:
    result = _run(cli, str(blink), "--cycle", "0.1 s", "--for", "1.5s")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["t_s", "lamp"]
    assert len(lines) == 1 + 15
    # At 100 ms a scan, the TON (PT 30 ms) pulses at 0.1, 0.4, 0.7 s...: `on` rises at
    # 0.1 and 0.7 s, the second count reaches PV = 2.
    lamp = {line.split()[0]: line.split()[1] for line in lines[1:]}
    assert next(t for t, v in lamp.items() if v == "TRUE") == "0.700"
    assert lamp["0.600"] == "FALSE" and lamp["1.400"] == "TRUE"
    assert len({len(line) for line in lines}) == 1  # aligned


def test_unknown_variable_program_and_duration_are_refused(cli: CliRunner, blink: Path) -> None:
    result = _run(cli, str(blink), "--trace", "t1.QQ")
    assert result.exit_code == 2
    assert "unknown variable 't1.QQ' in program Blink" in result.stderr
    assert result.stdout == ""
    result = _run(cli, str(blink), "--program", "Other")
    assert result.exit_code == 2 and "no PROGRAM 'Other'" in result.stderr
    result = _run(cli, str(blink), "--cycle", "10")
    assert result.exit_code == 2 and "'10' is not a duration" in result.stderr


def test_compile_errors_are_located(cli: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.st"
    bad.write_text("PROGRAM Bad\nVAR x : INT; END_VAR\nx := y + 1;\nEND_PROGRAM\n")
    result = _run(cli, str(bad))
    assert result.exit_code == 2
    assert f"{bad}:3:6:" in result.stderr


def test_a_fault_stops_the_run_with_the_reason(cli: CliRunner, tmp_path: Path) -> None:
    div = tmp_path / "div.st"
    div.write_text(
        "PROGRAM Div\nVAR x : INT; d : INT; END_VAR\n"
        "x := x + 1;\nIF x > 2 THEN x := 10 / d; END_IF\nEND_PROGRAM\n"
    )
    result = _run(cli, str(div), "--for", "1s", "--csv", "--trace", "x")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == ["t_s,x", "0.000,1", "0.010,2"]
    assert "faulted at t = 0.020 s" in result.stderr and "division by zero" in result.stderr
