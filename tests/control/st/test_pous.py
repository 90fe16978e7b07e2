"""Functions, function blocks, arrays, structures, declarations (IEC 61131-3 §6.4-§6.6)."""

from __future__ import annotations

from typing import ClassVar

import pytest

from phactory.control.pou import POU, ScanContext, Section, VarDecl
from phactory.control.st import STRuntimeError, compile_source

from .helpers import MS, program, run, scan

COUNTER = """
FUNCTION_BLOCK Counter
VAR_INPUT inc : BOOL; step : INT := 1; END_VAR
VAR_OUTPUT n : DINT; big : BOOL; END_VAR
VAR_IN_OUT total : DINT; END_VAR
VAR last : BOOL; END_VAR
IF inc AND NOT last THEN      (* count rising edges *)
    n := n + step;
    total := total + step;
END_IF;
last := inc;
big := n >= 3;
END_FUNCTION_BLOCK
"""


def test_function_with_return_value_formal_and_non_formal_calls() -> None:
    src = program(
        "a := Hyp(3.0, 4.0); b := Hyp(y := 12.0, x := 5.0); c := Hyp(x := 8.0);",
        "a, b, c : REAL;",
        before="""
        FUNCTION Hyp : REAL
        VAR_INPUT x : REAL; y : REAL := 6.0; END_VAR
        VAR sq : REAL; END_VAR
        sq := x * x + y * y;
        Hyp := SQRT(sq);
        END_FUNCTION
        """,
    )
    inst = run(src)
    assert (inst.get("a"), inst.get("b"), inst.get("c")) == (5.0, 13.0, 10.0)  # y defaults to 6


def test_function_return_leaves_early_and_locals_start_fresh() -> None:
    src = program(
        "a := Sign(-5); b := Sign(0); c := Sign(9); d := Sign(9);",
        "a, b, c, d : INT;",
        before="""
        FUNCTION Sign : INT
        VAR_INPUT v : INT; END_VAR
        VAR calls : INT; END_VAR
        calls := calls + 1;           (* a function has no memory: always 1 here *)
        IF v < 0 THEN Sign := -calls; RETURN; END_IF;
        IF v = 0 THEN RETURN; END_IF;
        Sign := calls;
        END_FUNCTION
        """,
    )
    inst = run(src)
    assert [inst.get(x) for x in "abcd"] == [-1, 0, 1, 1]


def test_function_outputs_and_in_outs() -> None:
    src = program(
        "ok := DivMod(17, 5, q => q, acc := acc);",
        "q : INT; acc : INT := 100; ok : BOOL;",
        before="""
        FUNCTION DivMod : BOOL
        VAR_INPUT a, b : INT; END_VAR
        VAR_OUTPUT q : INT; END_VAR
        VAR_IN_OUT acc : INT; END_VAR
        q := a / b;
        acc := acc + a MOD b;
        DivMod := TRUE;
        END_FUNCTION
        """,
    )
    inst = run(src)
    assert (inst.get("q"), inst.get("acc"), inst.get("ok")) == (3, 102, True)


def test_library_functions_are_callable_from_python() -> None:
    lib = compile_source(
        "FUNCTION Twice : INT\nVAR_INPUT x : INT; END_VAR\nTwice := 2 * x;\nEND_FUNCTION"
    )
    assert lib.functions["TWICE"](21) == 42
    assert lib.functions["TWICE"](20000) == 40000 - 65536  # the INT result wraps


def test_function_block_written_in_st_keeps_its_state_and_writes_in_out() -> None:
    src = program(
        """
        c1(inc := pulse, total := sum);
        pulse := NOT pulse;
        n := c1.n;
        c2(inc := TRUE, step := 5, total := sum, big => big2);
        """,
        "c1, c2 : Counter; pulse, big2 : BOOL; sum : DINT; n : DINT;",
        before=COUNTER,
    )
    inst = run(src, scans=6)
    # c1 sees inc FALSE, TRUE, FALSE, TRUE, FALSE, TRUE: 3 rising edges; c2 one edge of 5
    assert inst.get("n") == 3 and inst.get("c1.n") == 3 and inst.get("c1.big") is True
    assert inst.get("c2.n") == 5 and inst.get("big2") is True
    assert inst.get("sum") == 3 + 5  # both wrote through VAR_IN_OUT
    assert inst.get("c2.step") == 5  # an input keeps its last value


def test_inputs_not_given_keep_their_previous_value() -> None:
    src = program(
        "IF first THEN c(inc := TRUE, step := 2, total := t); first := FALSE; "
        "ELSE c(total := t); END_IF;",
        "c : Counter; first : BOOL := TRUE; t : DINT;",
        before=COUNTER,
    )
    inst = run(src, scans=3)
    assert inst.get("c.inc") is True and inst.get("c.step") == 2 and inst.get("t") == 2


def test_standard_ton_in_st_follows_the_scan_clock() -> None:
    src = program(
        "t1(IN := start, PT := T#25ms); q := t1.Q; et := t1.ET;",
        "t1 : TON; start : BOOL := TRUE; q : BOOL; et : TIME;",
    )
    lib = compile_source(src)
    qs = []
    ctx = ScanContext(10 * MS)
    inst = lib.create("Main", ctx)
    for k in range(5):
        ctx.now_ns = k * 10 * MS
        inst()
        qs.append((inst.get("q"), inst.get("et") // MS))
    assert qs == [(False, 0), (False, 10), (False, 20), (True, 25), (True, 25)]


def test_arrays_of_function_blocks_and_non_formal_fb_calls() -> None:
    src = program(
        "FOR i := 1 TO 3 DO timers[i](i > 1, T#10ms); END_FOR;\nq := timers[3].Q;",
        "timers : ARRAY[1..3] OF TON; i : INT; q : BOOL;",
    )
    inst = run(src, scans=2)
    assert inst.get("q") is True and inst.get("timers[1].Q") is False


def test_python_block_given_to_the_compiler() -> None:
    class DOUBLER(POU):
        NAME = "DOUBLER"
        DECLS: ClassVar[tuple[VarDecl, ...]] = (
            VarDecl("X", "REAL", Section.INPUT),
            VarDecl("Y", "REAL", Section.OUTPUT),
        )

        def __init__(self, ctx: ScanContext) -> None:
            super().__init__(ctx)
            self.X, self.Y = 0.0, 0.0

        def __call__(self) -> None:
            self.Y = 2 * self.X

    src = program("d(x := 1.5); y := d.y;", "d : Doubler; y : REAL;")
    lib = compile_source(src, blocks={"DOUBLER": DOUBLER})
    assert scan(lib, "Main", 1).get("y") == 3.0


def test_arrays_with_lower_bounds_multi_dimensions_and_initial_values() -> None:
    src = program(
        """
        FOR i := -2 TO 2 DO v[i] := i * i; END_FOR;
        FOR i := 1 TO 2 DO FOR j := 0 TO 2 DO m[i, j] := 10 * i + j; END_FOR; END_FOR;
        last := init[5];
        """,
        "v : ARRAY[-2..2] OF INT; m : ARRAY[1..2, 0..2] OF INT; "
        "init : ARRAY[1..5] OF INT := [7, 2(8), 9]; i, j, last : INT;",
    )
    inst = run(src)
    assert inst.get("v") == [4, 1, 0, 1, 4]
    assert inst.get("v[-2]") == 4 and inst.get("m[2, 1]") == 21 and inst.get("m[2][2]") == 22
    assert inst.get("init") == [7, 8, 8, 9, 0]
    assert inst.get("last") == 0


def test_an_index_out_of_bounds_faults_with_pou_and_line_and_writes_nothing() -> None:
    src = program("a[1] := 5;\ni := 4;\na[i] := 9;\na[2] := 7;", "a : ARRAY[1..3] OF INT; i : INT;")
    lib = compile_source(src, "test.st")
    inst = lib.create("Main", ScanContext())
    with pytest.raises(STRuntimeError) as err:
        inst()
    assert str(err.value) == "test.st:8: in Main: array index 4 is outside the bounds of a[1..3]"
    assert (err.value.pou, err.value.line) == ("Main", 8)
    assert inst.get("a") == [5, 0, 0]  # nothing past the fault; no other element touched
    assert inst.get("i") == 4  # what ran before the fault is kept


def test_a_negative_index_never_wraps_around_to_the_end() -> None:
    src = program("i := -1;\nx := a[i];", "a : ARRAY[0..2] OF INT := [1, 2, 3]; i, x : INT;")
    with pytest.raises(STRuntimeError, match=r"test\.st:7: in Main: array index -1 is outside"):
        run(src)


def test_fault_in_a_function_block_names_it_and_its_line() -> None:
    src = program(
        "f(i := 10);",
        "f : Picker;",
        before="FUNCTION_BLOCK Picker\nVAR_INPUT i : INT; END_VAR\nVAR a : ARRAY[0..3] OF REAL; "
        "x : REAL; END_VAR\nx := a[i];\nEND_FUNCTION_BLOCK",
    )
    with pytest.raises(STRuntimeError) as err:
        run(src)
    assert (err.value.pou, err.value.line) == ("Picker", 4)


def test_structures_fields_nesting_copy_semantics_and_initialisers() -> None:
    src = program(
        """
        a.pos.x := 1.0;
        a.tags[2] := 7;
        b := a;             (* a copy: changing a later leaves b *)
        a.pos.x := 5.0;
        a.tags[2] := 8;
        pts[2].y := 3.5;
        """,
        "a, b : Item; c : Item := (name := 'c1'); p2 : Point := (y := 2.0);\n"
        "pts : ARRAY[1..2] OF Point;",
        before="""
        TYPE Point : STRUCT x : REAL; y : REAL := 1.0; END_STRUCT; END_TYPE
        TYPE Item :
        STRUCT
            name : STRING(8) := 'item';
            pos : Point;
            tags : ARRAY[1..3] OF INT;
        END_STRUCT;
        END_TYPE
        """,
    )
    inst = run(src)
    assert inst.get("b.pos.x") == 1.0 and inst.get("b.tags[2]") == 7
    assert inst.get("a.pos.x") == 5.0 and inst.get("a.tags[2]") == 8
    assert inst.get("a.pos.y") == 1.0 and inst.get("a.name") == "item"
    assert inst.get("c.name") == "c1" and inst.get("p2.y") == 2.0 and inst.get("p2.x") == 0.0
    assert inst.get("pts[2].y") == 3.5 and inst.get("pts[1].y") == 1.0


def test_array_assignment_copies() -> None:
    src = program("b := a; a[1] := 9;", "a, b : ARRAY[1..2] OF INT := [1, 2];")
    inst = run(src)
    assert (inst.get("a"), inst.get("b")) == ([9, 2], [1, 2])


def test_constants_size_arrays_and_fold() -> None:
    src = program(
        "FOR i := 1 TO N DO a[i] := i; END_FOR;",
        "a : ARRAY[1..N * 2] OF INT; i : INT;",
    ).replace("VAR\n", "VAR CONSTANT\nN : INT := 3;\nEND_VAR\nVAR\n", 1)
    inst = run(src)
    assert inst.get("a") == [1, 2, 3, 0, 0, 0]
    assert inst.get("N") == 3


def test_declarations_carry_sections_flags_types_and_metadata() -> None:
    src = """
    PROGRAM Unit
    VAR_INPUT sp : REAL := 37.0; (* @unit degC @range 0..150 @desc Jacket set point *) END_VAR
    VAR_OUTPUT
        {attribute 'unit' := 'bar'}
        {attribute 'range' := '0..10'}
        pt : REAL;
    END_VAR
    VAR RETAIN total : LREAL; END_VAR
    VAR CONSTANT limit : INT := 5; END_VAR
    VAR
        arr : ARRAY[1..4] OF INT; // @desc four values
        t : TON; s : STRING(12);
    END_VAR
    VAR_TEMP tmp : INT; END_VAR
    tmp := limit; pt := sp / 10.0 + tmp;
    END_PROGRAM
    """
    lib = compile_source(src)
    decls = {d.name: d for d in lib.decls("Unit")}
    assert "tmp" not in decls  # temporaries live for one call only
    sp = decls["sp"]
    assert (sp.section, sp.type_name, sp.unit, sp.low, sp.high) == (
        Section.INPUT,
        "REAL",
        "degC",
        0.0,
        150.0,
    )
    assert sp.description == "Jacket set point"
    assert (decls["pt"].unit, decls["pt"].low, decls["pt"].high) == ("bar", 0.0, 10.0)
    assert decls["total"].retain and not decls["total"].constant
    assert decls["limit"].constant
    assert (
        decls["arr"].type_name == "ARRAY[1..4] OF INT" and decls["arr"].description == "four values"
    )
    assert decls["t"].type_name == "TON" and decls["s"].type_name == "STRING(12)"
    cls = lib.programs()["UNIT"]
    assert cls.KIND == "PROGRAM" and cls.NAME == "Unit" and set(cls.__slots__) == set(decls)


def test_generated_source_is_inspectable_and_compiled_once() -> None:
    lib = compile_source(program("n := n + 1;", "n : INT;"))
    text = lib.source("main")
    assert "class B__MAIN(h_POU):" in text and "__slots__ = ('n',)" in text
    assert "def __call__(self):" in text
    inst = lib.create("Main")
    code_before = type(inst).__call__.__code__
    for _ in range(3):
        inst()
    assert type(inst).__call__.__code__ is code_before and inst.get("n") == 3


def test_in_out_bound_to_an_array_element_and_struct_field() -> None:
    src = program(
        "FOR i := 1 TO 3 DO c(inc := TRUE, total := a[i]); c(inc := FALSE, total := p.v); END_FOR;",
        "c : Counter; a : ARRAY[1..3] OF DINT := [10, 20, 30]; p : Box; i : INT;",
        before=COUNTER + "\nTYPE Box : STRUCT v : DINT; END_STRUCT; END_TYPE",
    )
    inst = run(src)
    assert inst.get("a") == [11, 21, 31] and inst.get("p.v") == 0


def test_loop_index_checks_stay_when_the_range_exceeds_the_bounds() -> None:
    src = program("FOR i := 1 TO 4 DO\na[i] := i;\nEND_FOR;", "a : ARRAY[1..3] OF INT; i : INT;")
    with pytest.raises(STRuntimeError, match=r"test\.st:7: in Main: array index 4 is outside"):
        run(src)


def test_count_statements_counts_every_executed_statement() -> None:
    from phactory.control.st import count_statements

    src = program(
        "n := 0;\nFOR i := 1 TO 3 DO\n  n := n + i;\n  IF i = 2 THEN m := m + 1; END_IF;\nEND_FOR;",
        "n, i, m : INT;",
    )
    lib = compile_source(src)
    # per scan: n := 0, FOR, then 3 x (assignment, IF) and once m := m + 1 -> 1 + 1 + 6 + 1
    assert count_statements(lib, "Main", scans=1) == 9
    assert count_statements(lib, "Main", scans=4) == 36
    # the library itself is not instrumented
    assert "h_count" not in lib.source("Main")
