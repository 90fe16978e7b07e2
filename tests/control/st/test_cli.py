"""``phactory control check FILE.st...``: exit 0 with a summary, exit 2 with every problem."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from phactory.cli.main import _register, app

GOOD = """\
FUNCTION Twice : INT
VAR_INPUT x : INT; END_VAR
Twice := 2 * x;
END_FUNCTION

FUNCTION_BLOCK Pump
VAR_INPUT run : BOOL; END_VAR
VAR_OUTPUT on : BOOL; END_VAR
on := run;
END_FUNCTION_BLOCK
"""
MAIN = """\
PROGRAM Main
VAR p : Pump; n : INT; END_VAR
p(run := TRUE);
n := Twice(n);
END_PROGRAM
"""
BAD = """\
PROGRAM Bad
VAR n : INT; END_VAR
n := m;
n := 1.5;
n := 1 +;
END_PROGRAM
"""


def _check(*args: str) -> tuple[int, str, str]:
    _register()
    result = CliRunner().invoke(app, ["control", "check", *args])
    return result.exit_code, result.stdout, result.stderr


def test_check_ok_summarises_the_pous_of_all_files(tmp_path: Path) -> None:
    (tmp_path / "lib.st").write_text(GOOD)
    (tmp_path / "main.st").write_text(MAIN)
    code, out, err = _check(str(tmp_path / "lib.st"), str(tmp_path / "main.st"))
    assert code == 0, err
    assert "OK 2 files: 3 POU(s)" in out
    assert "FUNCTION_BLOCK  Pump  (1 VAR_INPUT, 1 VAR_OUTPUT)" in out
    assert "PROGRAM         Main  (2 VAR)" in out
    assert "FUNCTION        Twice" in out


def test_check_reports_every_problem_as_file_line_col_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.st"
    bad.write_text(BAD)
    code, out, err = _check(str(bad))
    assert code == 2
    lines = err.strip().splitlines()
    assert lines == [
        f"{bad}:3:6: Bad: undeclared variable 'm'",
        f"{bad}:4:6: Bad: type mismatch: cannot assign ANY_REAL to INT (assignment to n); "
        "convert with REAL_TO_INT (rounds) or TRUNC",
        f"{bad}:5:9: syntax error: missing identifier",
        f"error: 3 error(s) in {bad}",
    ]
    assert out == ""


def test_check_json_and_generated_python(tmp_path: Path) -> None:
    import json

    (tmp_path / "lib.st").write_text(GOOD)
    code, out, _ = _check(str(tmp_path / "lib.st"), "--json")
    assert code == 0
    pous = {p["name"]: p for p in json.loads(out)["pous"]}
    assert pous["Pump"]["variables"] == {"VAR_INPUT": 1, "VAR_OUTPUT": 1}
    code, out, _ = _check(str(tmp_path / "lib.st"), "--show-python", "pump")
    assert code == 0 and "class B__PUMP(h_POU):" in out


def test_check_of_a_missing_file_exits_2(tmp_path: Path) -> None:
    code, _, err = _check(str(tmp_path / "none.st"))
    assert code == 2 and "no such file" in err
