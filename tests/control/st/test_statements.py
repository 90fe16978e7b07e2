"""Control statements (IEC 61131-3:2013 §7.3.3), each on a worked example."""

from __future__ import annotations

import pytest

from .helpers import program, run


def test_if_elsif_else_takes_the_first_true_branch() -> None:
    src = program(
        """
        FOR i := 1 TO 4 DO
            IF i = 1 THEN r[i] := 10;
            ELSIF i = 2 OR i = 3 THEN r[i] := 20;
            ELSIF i = 3 THEN r[i] := 99;
            ELSE r[i] := 30;
            END_IF;
        END_FOR;
        """,
        "i : INT; r : ARRAY[1..4] OF INT;",
    )
    assert run(src).get("r") == [10, 20, 20, 30]


def test_case_with_lists_ranges_and_else() -> None:
    src = program(
        """
        FOR i := 0 TO 9 DO
            CASE i OF
                1, 3: r[i] := 1;
                4..6: r[i] := 2;
                7, 8..8: r[i] := 3;
            ELSE
                r[i] := -1;
            END_CASE;
        END_FOR;
        """,
        "i : INT; r : ARRAY[0..9] OF INT;",
    )
    assert run(src).get("r") == [-1, 1, -1, 1, 2, 2, 2, 3, 3, -1]


def test_case_over_an_enumeration() -> None:
    src = program(
        """
        st := Running;
        CASE st OF
            Idle: r := 1;
            Running: r := 2;
            Done: r := 3;
        END_CASE;
        """,
        "st : State; r : INT;",
        before="TYPE State : (Idle, Running := 5, Done); END_TYPE",
    )
    inst = run(src)
    assert inst.get("r") == 2
    assert inst.get("st") == 5  # enumeration values are numbered, Running given 5


def test_for_with_negative_step_and_control_variable_after() -> None:
    # 10, 7, 4, 1 are visited; after the loop i is the first value past the end (-2)
    src = program(
        "FOR i := 10 TO 1 BY -3 DO n := n + 1; s := s + i; END_FOR;",
        "i, n, s : INT;",
    )
    inst = run(src)
    assert (inst.get("n"), inst.get("s"), inst.get("i")) == (4, 22, -2)


def test_for_that_does_not_run_leaves_the_start_value() -> None:
    src = program("FOR i := 5 TO 1 DO n := n + 1; END_FOR;", "i, n : INT;")
    inst = run(src)
    assert (inst.get("n"), inst.get("i")) == (0, 5)


def test_for_with_step_from_a_variable() -> None:
    src = program(
        "st := -2; FOR i := 6 TO 0 BY st DO s := s + i; END_FOR;",
        "i, s, st : INT;",
    )
    inst = run(src)
    assert (inst.get("s"), inst.get("i")) == (12, -2)


def test_for_step_zero_at_run_time_is_a_fault() -> None:
    from phactory.control.st import STRuntimeError

    src = program("FOR i := 1 TO 3 BY st DO s := s + 1; END_FOR;", "i, s, st : INT;")
    with pytest.raises(STRuntimeError, match="FOR step is 0"):
        run(src)


def test_exit_leaves_the_innermost_loop_only() -> None:
    src = program(
        """
        FOR i := 1 TO 3 DO
            FOR j := 1 TO 10 DO
                IF j > i THEN EXIT; END_IF;
                n := n + 1;
            END_FOR;
        END_FOR;
        """,
        "i, j, n : INT;",
    )
    inst = run(src)
    assert inst.get("n") == 1 + 2 + 3
    assert inst.get("j") == 4  # the value at EXIT in the last outer round


def test_linear_search_idiom_with_exit() -> None:
    src = program(
        """
        FOR i := 1 TO 5 DO
            IF a[i] = 7 THEN EXIT; END_IF;
        END_FOR;
        found := i <= 5;
        """,
        "a : ARRAY[1..5] OF INT := [3, 9, 7, 1, 0]; i : INT; found : BOOL;",
    )
    inst = run(src)
    assert (inst.get("i"), inst.get("found")) == (3, True)


def test_while_and_repeat() -> None:
    src = program(
        """
        WHILE w < 5 DO w := w + 2; END_WHILE;
        REPEAT rep := rep + 1; UNTIL TRUE END_REPEAT;
        REPEAT x := x + 3; UNTIL x > 10 END_REPEAT;
        """,
        "w, rep, x : INT;",
    )
    inst = run(src)
    assert (inst.get("w"), inst.get("rep"), inst.get("x")) == (6, 1, 12)


def test_continue_in_for_and_repeat() -> None:
    src = program(
        """
        FOR i := 1 TO 6 DO
            IF i MOD 2 = 0 THEN CONTINUE; END_IF;
            odd := odd + i;
        END_FOR;
        REPEAT
            k := k + 1;
            IF k < 4 THEN CONTINUE; END_IF;
            late := late + 1;
        UNTIL k >= 5 END_REPEAT;
        """,
        "i, odd, k, late : INT;",
    )
    inst = run(src)
    assert inst.get("odd") == 1 + 3 + 5
    assert (inst.get("k"), inst.get("late")) == (5, 2)  # CONTINUE went to UNTIL


def test_return_ends_the_scan_and_keeps_what_ran() -> None:
    src = program(
        "a := a + 1;\nIF a > 1 THEN RETURN; END_IF;\nb := b + 1;",
        "a, b : INT;",
    )
    inst = run(src, scans=3)
    assert (inst.get("a"), inst.get("b")) == (3, 1)


def test_variables_keep_their_values_between_scans() -> None:
    src = program("n := n + 1; t := t + T#10ms;", "n : DINT := 100; t : TIME;")
    inst = run(src, scans=5)
    assert (inst.get("n"), inst.get("t")) == (105, 50_000_000)


def test_nested_loops_with_while_condition_calling_a_function_with_output() -> None:
    src = program(
        """
        WHILE Next(n, over => o) < 5 DO
            steps := steps + 1;
        END_WHILE;
        """,
        "n, steps : INT; o : BOOL;",
        before="""
        FUNCTION Next : INT
        VAR_IN_OUT k : INT; END_VAR
        VAR_OUTPUT over : BOOL; END_VAR
        k := k + 1;
        over := k > 3;
        Next := k;
        END_FUNCTION
        """,
    )
    inst = run(src)
    # Next returns 1, 2, 3, 4, 5: the condition is re-evaluated (with its write-back) each time
    assert (inst.get("n"), inst.get("steps"), inst.get("o")) == (5, 4, True)
