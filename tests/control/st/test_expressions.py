"""Operators, literals, conversions and standard functions: worked examples by hand.

IEC 61131-3:2013 §7.3.2 (operators), §6.3 (literals), §6.6.2.5 (standard functions).
Each case is one expression assigned to ``r`` of the given type, and its value worked out
by hand (two's complement wrap-around, division truncating toward zero).
"""

from __future__ import annotations

import math

import pytest

from phactory.control.st import STRuntimeError

from .helpers import MS, S, program, run, value

INTS = "i : INT; d : DINT; u : UDINT; w : WORD; b : BYTE; s : SINT;"


@pytest.mark.parametrize(
    ("setup", "expr", "type_name", "expected"),
    [
        # INT is 16 bit: 32767 + 1 wraps to -32768, -32768 - 1 to 32767
        ("i := 32767;", "i + 1", "INT", -32768),
        ("i := -32768;", "i - 1", "INT", 32767),
        ("i := 300;", "i * 200", "INT", 60000 - 65536),  # 60000 -> -5536
        ("i := -32768;", "-i", "INT", -32768),
        ("i := -32768;", "ABS(i)", "INT", -32768),
        ("i := -32768;", "i / -1", "INT", -32768),
        # DINT is 32 bit
        ("d := 2147483647;", "d + 1", "DINT", -2147483648),
        ("d := 65536;", "d * 65536", "DINT", 0),
        # UDINT is unsigned 32 bit: 0 - 1 is 4294967295
        ("u := 0;", "u - 1", "UDINT", 4294967295),
        ("u := 4294967295;", "u + 2", "UDINT", 1),
        ("s := 127;", "s + 1", "SINT", -128),
        ("b := 255;", "b + 1", "BYTE", 0),
        # intermediate results wrap in the operand type before a division
        ("i := 200;", "(i * 200) / 10", "INT", (40000 - 65536) // 10 + 1),  # -25536/10 = -2553
        # an INT result widened to DINT keeps its INT value
        ("i := 32767;", "INT_TO_DINT(i + 1)", "DINT", -32768),
        ("i := 32767;", "i + 1 + d", "DINT", -32768),
    ],
)
def test_integer_wrap_around(setup: str, expr: str, type_name: str, expected: int) -> None:
    src = program(f"{setup}\nr := {expr};", f"r : {type_name}; {INTS}")
    assert run(src).get("r") == expected


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("7 / 2", 3),
        ("-7 / 2", -3),  # toward zero, not floor (-4)
        ("7 / -2", -3),
        ("-7 / -2", 3),
        ("-8 / 2", -4),
        ("7 MOD 2", 1),
        ("-7 MOD 2", -1),  # the sign of the dividend
        ("7 MOD -2", 1),
        ("7 MOD 0", 0),  # IEC Table 29: x MOD 0 = 0
        ("2 + 3 * 4", 14),
        ("(2 + 3) * 4", 20),
        ("10 - 4 - 3", 3),
        ("-2 ** 2", 4),
    ],
)
def test_integer_division_and_precedence(expr: str, expected: int) -> None:
    assert value(expr, type_name="LREAL" if "**" in expr else "DINT") == expected


def test_division_with_variables_truncates() -> None:
    src = program("a := -7; b := 2; q := a / b; m := a MOD b;", "a, b, q, m : DINT;")
    inst = run(src)
    assert (inst.get("q"), inst.get("m")) == (-3, -1)


def test_integer_division_by_zero_is_a_located_fault() -> None:
    src = program("a := 1;\nb := 0;\nq := a / b;", "a, b, q : INT;")
    with pytest.raises(STRuntimeError) as err:
        run(src)
    assert err.value.line == 8 and err.value.pou == "Main"
    assert "division by zero" in str(err.value) and "test.st:8" in str(err.value)


@pytest.mark.parametrize(
    ("expr", "type_name", "expected"),
    [
        ("NOT WORD#16#00FF", "WORD", 0xFF00),
        ("NOT INT#0", "INT", -1),
        ("16#F0 AND 16#3C", "WORD", 0x30),
        ("16#F0 OR 16#0F", "WORD", 0xFF),
        ("16#FF XOR 16#0F", "WORD", 0xF0),
        ("16#F0 & 16#3C", "WORD", 0x30),
        ("SHL(BYTE#16#81, 1)", "BYTE", 0x02),
        ("SHR(BYTE#16#81, 1)", "BYTE", 0x40),
        ("ROL(BYTE#16#81, 1)", "BYTE", 0x03),
        ("ROR(BYTE#16#81, 1)", "BYTE", 0xC0),
        ("SHR(INT#-2, 1)", "INT", 0x7FFF),  # logical shift of the bit pattern
        ("2#1010_1010", "BYTE", 170),
        ("8#777", "INT", 511),
        ("1_000_000", "DINT", 1000000),
    ],
)
def test_bit_operations_and_integer_literals(expr: str, type_name: str, expected: int) -> None:
    assert value(expr, type_name=type_name) == expected


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("TRUE AND NOT FALSE", True),
        ("TRUE XOR TRUE", False),
        ("FALSE OR TRUE AND FALSE", False),  # AND binds tighter than OR
        ("3 < 4 AND 4 <= 4 AND 5 > 4 AND 4 >= 5", False),
        ("3 = 3 AND 3 <> 4", True),
        ("2.5 > 2", True),
        ("T#1s > T#999ms", True),
        ("'abc' < 'abd'", True),
    ],
)
def test_boolean_and_comparison(expr: str, expected: bool) -> None:
    assert value(expr, type_name="BOOL") is expected


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("1.5 * 2", 3.0),
        ("7 / 2.0", 3.5),
        ("2.0 ** 10", 1024.0),
        ("2 ** 3", 8.0),
        ("EXPT(9.0, 0.5)", 3.0),
        ("SQRT(16.0)", 4.0),
        ("ABS(-2.5)", 2.5),
        ("LN(EXP(2.0))", 2.0),
        ("LOG(1000.0)", 3.0),
        ("SIN(0.0) + COS(0.0)", 1.0),
        ("ATAN(1.0) * 4.0", math.pi),
        ("ASIN(1.0) + ACOS(1.0) + TAN(0.0)", math.pi / 2),
        ("INT_TO_REAL(3) / 2.0", 1.5),
        ("1.0E3 + 1.5e-1", 1000.15),
    ],
)
def test_real_arithmetic_and_math_functions(expr: str, expected: float) -> None:
    got = value(expr, type_name="LREAL")
    assert isinstance(got, float) and math.isclose(got, expected, rel_tol=1e-12)


def test_real_assigned_an_integer_is_a_float() -> None:
    assert value("3", type_name="REAL") == 3.0
    assert isinstance(value("3", type_name="REAL"), float)


@pytest.mark.parametrize(
    ("expr", "type_name", "expected"),
    [
        ("REAL_TO_INT(2.5)", "INT", 3),  # halves away from zero
        ("REAL_TO_INT(-2.5)", "INT", -3),
        ("REAL_TO_INT(2.4)", "INT", 2),
        ("LREAL_TO_DINT(-2.6)", "DINT", -3),
        ("TRUNC(-2.7)", "DINT", -2),
        ("REAL_TRUNC_INT(2.7)", "INT", 2),
        ("DINT_TO_INT(70000)", "INT", 70000 - 65536),
        ("INT_TO_UDINT(INT#-1)", "UDINT", 4294967295),
        ("BOOL_TO_INT(TRUE)", "INT", 1),
        ("INT_TO_BOOL(5)", "BOOL", True),
        ("TIME_TO_DINT(T#1s500ms)", "DINT", 1500),  # TIME in ms
        ("DINT_TO_TIME(250)", "TIME", 250 * MS),
        ("REAL_TO_TIME(1.5)", "TIME", 1500 * 1000),  # 1.5 ms
        ("TIME_TO_REAL(T#2s)", "REAL", 2000.0),
        ("TO_REAL(7)", "REAL", 7.0),
        ("TO_INT(7.6)", "INT", 8),
        ("INT_TO_STRING(-42)", "STRING", "-42"),
        ("BOOL_TO_STRING(TRUE)", "STRING", "TRUE"),
        ("STRING_TO_INT('123')", "INT", 123),
        ("STRING_TO_REAL('2.5')", "REAL", 2.5),
        ("TIME_TO_STRING(T#1m30s)", "STRING", "T#1m30s"),
        ("REAL_TO_STRING(1.5)", "STRING", "1.5"),
    ],
)
def test_type_conversions(expr: str, type_name: str, expected: object) -> None:
    assert value(expr, type_name=type_name) == expected


@pytest.mark.parametrize(
    ("expr", "type_name", "expected"),
    [
        ("MIN(3, 1, 2)", "INT", 1),
        ("MAX(3, 7, 2)", "INT", 7),
        ("MAX(1, 2.5)", "REAL", 2.5),
        ("LIMIT(0, 15, 10)", "INT", 10),
        ("LIMIT(0, -5, 10)", "INT", 0),
        ("LIMIT(MN := 0, IN := 5, MX := 10)", "INT", 5),
        ("SEL(FALSE, 10, 20)", "INT", 10),
        ("SEL(TRUE, 10, 20)", "INT", 20),
        ("MUX(2, 10, 20, 30)", "INT", 30),
        ("MOVE(4)", "INT", 4),
        ("ABS(-4)", "INT", 4),
        ("MAX(T#1s, T#2s)", "TIME", 2 * S),
    ],
)
def test_selection_functions(expr: str, type_name: str, expected: object) -> None:
    assert value(expr, type_name=type_name) == expected


def test_mux_out_of_range_is_a_located_fault() -> None:
    src = program("k := 5;\nr := MUX(k, 1, 2);", "k, r : INT;")
    with pytest.raises(STRuntimeError, match=r"test\.st:7: in Main: MUX selector K = 5"):
        run(src)


def test_sqrt_of_a_negative_number_is_a_located_fault() -> None:
    src = program("x := -1.0;\ny := SQRT(x);", "x, y : REAL;")
    with pytest.raises(STRuntimeError, match=r"test\.st:7: in Main: math domain error"):
        run(src)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("T#1s500ms", 1_500_000_000),
        ("TIME#1h2m3s4ms", (3600 + 120 + 3) * S + 4 * MS),
        ("T#1.5s", 1_500_000_000),
        ("T#-250ms", -250 * MS),
        ("t#2d", 2 * 86400 * S),
        ("T#1s + T#250ms", 1250 * MS),
        ("T#1s - T#250ms", 750 * MS),
        ("T#1s * 3", 3 * S),
        ("T#1s * 1.5", 1500 * MS),
        ("T#1s / 4", 250 * MS),
        ("2 * T#1s", 2 * S),
    ],
)
def test_time_literals_and_arithmetic_in_nanoseconds(expr: str, expected: int) -> None:
    assert value(expr, type_name="TIME") == expected


def test_ltime_literals_resolve_nanoseconds() -> None:
    assert value("LTIME#1us5ns", type_name="LTIME") == 1005


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("CONCAT('ab', 'cd', 'e')", "abcde"),
        ("LEFT('abcdef', 2)", "ab"),
        ("RIGHT('abcdef', 2)", "ef"),
        ("MID('abcdef', 3, 2)", "bcd"),  # 3 characters from position 2
        ("INSERT('abef', 'cd', 2)", "abcdef"),
        ("DELETE('abcdef', 2, 3)", "abef"),
        ("REPLACE('abcdef', 'XY', 2, 3)", "abXYef"),
        ("'it$'s$N'", "it's\n"),
    ],
)
def test_string_functions(expr: str, expected: str) -> None:
    assert value(expr, type_name="STRING") == expected


def test_string_length_and_find() -> None:
    assert value("LEN('hello')", type_name="INT") == 5
    assert value("FIND('hello', 'll')", type_name="INT") == 3
    assert value("FIND('hello', 'z')", type_name="INT") == 0


def test_a_string_is_cut_to_its_declared_length() -> None:
    src = program("s := CONCAT('abc', 'defgh');", "s : STRING(5);")
    assert run(src).get("s") == "abcde"


def test_constant_expressions_fold_at_compile_time() -> None:
    from phactory.control.st import compile_source

    lib = compile_source(
        program("r := 2 * 3 + K;", "r : INT;\nEND_VAR\nVAR CONSTANT K : INT := 4;")
    )
    assert "r = 10" in lib.source("Main").replace("v_r", "r")
