"""Compile problems: located at FILE:LINE:COL and reported all at once."""

from __future__ import annotations

import pytest

from phactory.control.st import STCompileError, compile_files, compile_source
from phactory.errors import InvalidError, NotFoundError

from .helpers import errors, program

BROKEN = """\
FUNCTION_BLOCK Fb
VAR_INPUT a : INT; END_VAR
VAR_OUTPUT q : BOOL; END_VAR
q := a > 0;
END_FUNCTION_BLOCK

PROGRAM Main
VAR
  x : INT;
  r : REAL;
  f : Fb;
  t : TON;
  b : BOOL;
END_VAR
VAR CONSTANT K : INT := 5; END_VAR
y := 3;
K := 4;
x := r;
f.a := 3;
f(a := 1, zz := 2);
b := Foo(1);
x := 70000;
t(IN := TRUE, PT := 5);
IF x THEN x := 1; END_IF
f.q := TRUE;
EXIT;
x := f(a := 2);
b := Sqrt(1.0, 2.0);
END_PROGRAM
"""


def test_every_problem_is_reported_at_once_with_line_and_column() -> None:
    assert errors(BROKEN) == [
        "test.st:16:1: Main: undeclared variable 'y'",
        "test.st:17:1: Main: cannot assign to K: it is a CONSTANT",
        "test.st:18:6: Main: type mismatch: cannot assign REAL to INT (assignment to x); "
        "convert with REAL_TO_INT (rounds) or TRUNC",
        "test.st:19:1: Main: cannot assign f.a from outside: pass it in the call, f(a := ...)",
        "test.st:20:11: Main: Fb has no input or output 'zz' (inputs: a)",
        "test.st:21:6: Main: unknown function or function block 'Foo'",
        "test.st:22:6: Main: 70000 does not fit INT (assignment to x)",
        "test.st:23:15: Main: type mismatch: cannot assign ANY_INT to TIME (input PT); "
        "write a duration such as T#1s500ms",
        "test.st:24:4: Main: an IF condition must be BOOL, not INT",
        "test.st:25:1: Main: cannot assign f.q: Fb writes it",
        "test.st:26:1: Main: EXIT outside a FOR, WHILE or REPEAT loop",
        "test.st:27:6: Main: a function block call is a statement: write f(...); then read its "
        "outputs (f.Q)",
        "test.st:28:6: Main: SQRT takes 1 argument(s), not 2",
    ]


def test_the_error_is_an_invalid_error_with_problems_as_dicts() -> None:
    with pytest.raises(STCompileError) as err:
        compile_source(BROKEN, "test.st")
    assert isinstance(err.value, InvalidError)
    assert len(err.value.problems) == 13
    first = err.value.problems[0].as_dict()
    assert (first["file"], first["line"], first["col"]) == ("test.st", 16, 1)
    assert str(err.value).startswith("13 error(s) in test.st:\n  test.st:16:1:")


def test_several_syntax_errors_are_all_found() -> None:
    src = (
        "PROGRAM P\nVAR x : INT; END_VAR\nx := 1 +;\nx := 2;\n"
        "IF x THEN x := 3 END_IF\nx := ;\nEND_PROGRAM\n"
    )
    found = errors(src)
    assert [e.split(": ")[0] for e in found] == ["test.st:3:9", "test.st:5:17", "test.st:6:5"]
    assert all("syntax error" in e for e in found)


def test_a_syntax_error_does_not_hide_the_checks_of_the_other_statements() -> None:
    src = program("x := 1 +;\ny := 2;", "x : INT;")
    assert errors(src) == [
        "test.st:6:9: syntax error: missing identifier",
        "test.st:7:1: Main: undeclared variable 'y'",
    ]


@pytest.mark.parametrize(
    ("body", "decls", "before", "expected"),
    [
        ("x := 1;", "x : Nope;", "", "4:5: Main: unknown type 'Nope'"),
        ("x := 1;", "x : INT; x : INT;", "", "4:10: Main: x is declared twice"),
        (
            "FOR i := 1 TO 3 DO i := 2; END_FOR;",
            "i : INT;",
            "",
            "6:20: Main: cannot assign to i inside the FOR loop it controls",
        ),
        (
            "FOR r := 1 TO 3 DO END_FOR;",
            "r : REAL;",
            "",
            "6:5: Main: the FOR control variable must be an integer, not REAL",
        ),
        (
            "FOR i := 1 TO 3 BY 0 DO END_FOR;",
            "i : INT;",
            "",
            "6:20: Main: the FOR step cannot be 0",
        ),
        (
            "CASE r OF 1: ; END_CASE;",
            "r : REAL;",
            "",
            "6:6: Main: CASE needs an integer or an enumeration, not REAL",
        ),
        (
            "CASE i OF 1..5: ; 4: ; END_CASE;",
            "i : INT;",
            "",
            "6:19: Main: CASE label overlaps the one at line 6",
        ),
        (
            "CASE i OF j: ; END_CASE;",
            "i, j : INT;",
            "",
            "6:11: Main: a CASE label must be a constant integer or enumeration value",
        ),
        (
            "x := a[4];",
            "a : ARRAY[1..3] OF INT; x : INT;",
            "",
            "6:8: Main: index 4 is outside a[1..3]",
        ),
        (
            "x := a[1, 2];",
            "a : ARRAY[1..3] OF INT; x : INT;",
            "",
            "6:6: Main: a has 1 dimension(s), not 2",
        ),
        ("x := a.b;", "a, x : INT;", "", "6:6: Main: 'a' has no members (it is INT)"),
        (
            "x := t.RUNNING;",
            "t : TON; x : BOOL;",
            "",
            "6:6: Main: TON.RUNNING is internal; only inputs and outputs can be read",
        ),
        (
            "t(IN := TRUE, Q := x);",
            "t : TON; x : BOOL;",
            "",
            "6:15: Main: TON.Q is an output: read it with Q => variable",
        ),
        (
            "t(IN => x);",
            "t : TON; x : BOOL;",
            "",
            "6:3: Main: TON.IN is not an output: pass it with :=",
        ),
        (
            "x := TON(IN := TRUE);",
            "x : BOOL;",
            "",
            "6:6: Main: TON is a function block type: declare an instance (f1 : TON;) "
            "and call it (f1(...);)",
        ),
        (
            "s := 'a' + 'b';",
            "s : STRING;",
            "",
            "6:6: Main: '+' needs numbers, not STRING(1) and STRING(1) (join strings with CONCAT)",
        ),
        ("x := 1 MOD 2.0;", "x : REAL;", "", "6:6: Main: MOD needs integers (ANY_INT)"),
        (
            "b := 1 AND TRUE;",
            "b : BOOL;",
            "",
            "6:6: Main: AND needs two BOOL or two integers, not ANY_INT and BOOL",
        ),
        ("b := TRUE < FALSE;", "b : BOOL;", "", "6:6: Main: '<' is not defined for BOOL"),
        (
            "c := 1;",
            "c : Color;",
            "TYPE Color : (Red, Green); END_TYPE",
            "6:6: Main: type mismatch: cannot assign ANY_INT to Color (assignment to c)",
        ),
        (
            "x := 1.5;",
            "x : DINT;",
            "",
            "6:6: Main: type mismatch: cannot assign ANY_REAL to DINT (assignment to x); "
            "convert with REAL_TO_DINT (rounds) or TRUNC",
        ),
        (
            "c(total := 1);",
            "c : Cnt;",
            "FUNCTION_BLOCK Cnt\nVAR_IN_OUT total : INT; END_VAR\nEND_FUNCTION_BLOCK",
            "8:12: Main: VAR_IN_OUT total needs a variable here, not an expression",
        ),
        (
            "c();",
            "c : Cnt;",
            "FUNCTION_BLOCK Cnt\nVAR_IN_OUT total : INT; END_VAR\nEND_FUNCTION_BLOCK",
            "8:1: Main: c: VAR_IN_OUT total must be given in every call",
        ),
        (
            "x := Twice(1, 2);",
            "x : INT;",
            "FUNCTION Twice : INT\nVAR_INPUT a : INT; END_VAR\nTwice := 2 * a;\nEND_FUNCTION",
            "9:6: Main: Twice takes 1 argument(s), not 2",
        ),
        (
            "x := Twice(b := 1);",
            "x : INT;",
            "FUNCTION Twice : INT\nVAR_INPUT a : INT; END_VAR\nTwice := 2 * a;\nEND_FUNCTION",
            "9:12: Main: Twice has no input 'b'",
        ),
        (
            "x := Twice;",
            "x : INT;",
            "FUNCTION Twice : INT\nVAR_INPUT a : INT; END_VAR\nTwice := 2 * a;\nEND_FUNCTION",
            "9:6: Main: function Twice needs its arguments: Twice(...)",
        ),
        (
            "x := 1;",
            "x : INT; get : INT;",
            "",
            "4:10: Main: 'get' is reserved by Phactory; choose another name",
        ),
        ("x := 1;", "x : ARRAY[3..1] OF INT;", "", "4:11: Main: empty array bounds 3..1"),
        ("x := 1;", "x : INT := y;", "", "4:12: Main: undeclared variable 'y'"),
        ("x := 1 / 0;", "x : INT;", "", "6:6: Main: division by zero in a constant expression"),
    ],
)
def test_located_problems(body: str, decls: str, before: str, expected: str) -> None:
    src = program(body, decls, before)
    found = errors(src)
    assert found, "no problem found"
    assert found[0] == f"test.st:{expected}", found


def test_functions_cannot_hold_instances_and_programs_are_not_types() -> None:
    src = (
        "FUNCTION F : INT\nVAR t : TON; END_VAR\nF := 1;\nEND_FUNCTION\n"
        + program("x := 1;", "x : INT; p : Other;")
        + "PROGRAM Other\nEND_PROGRAM\n"
    )
    found = errors(src)
    assert found[0].startswith("test.st:2:5: F: a FUNCTION has no memory")
    assert "test.st:8:14: Main: Other is a PROGRAM; only function blocks have instances" in found


def test_duplicate_pous_across_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    a, b = tmp_path / "a.st", tmp_path / "b.st"
    a.write_text("PROGRAM P\nEND_PROGRAM\n")
    b.write_text("\n\nFUNCTION_BLOCK P\nEND_FUNCTION_BLOCK\n")
    with pytest.raises(STCompileError) as err:
        compile_files([a, b])
    assert [str(p) for p in err.value.problems] == [f"{b}:3:1: function block P is declared twice"]


def test_missing_file_is_not_found() -> None:
    with pytest.raises(NotFoundError, match="no such file"):
        compile_files(["/nonexistent/x.st"])


def test_unsupported_sections_are_reported() -> None:
    src = "PROGRAM P\nVAR_GLOBAL g : INT; END_VAR\nEND_PROGRAM\n"
    assert errors(src) == ["test.st:2:12: P: VAR_GLOBAL is not supported; pass values as inputs"]
