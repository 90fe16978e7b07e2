"""Programs compiled from Structured Text in the runtime: RETAIN of every kind of value
across a warm restart, and online change between two compilations of a source."""

from __future__ import annotations

from pathlib import Path

import pytest

from phactory.control.runtime import Controller, OnlineChangeRefused, RetainStore, Runner, SimClock

st = pytest.importorskip("phactory.control.st")

SOURCE = """
TYPE Pt : STRUCT x : REAL; y : REAL; END_STRUCT; END_TYPE
FUNCTION_BLOCK Acc
VAR_INPUT d : INT; END_VAR
VAR_OUTPUT total : DINT; END_VAR
VAR RETAIN hits : DINT; END_VAR
total := total + d;
hits := hits + 1;
END_FUNCTION_BLOCK
PROGRAM Main
VAR RETAIN
    n : DINT;
    a : Acc;
    arr : ARRAY[1..3] OF INT;
    p : Pt;
END_VAR
VAR
    b : Acc;
    t1 : TON;
    scratch : INT;
END_VAR
n := n + 1;
a(d := 2);
b(d := 3);
arr[2] := arr[2] + 1;
p.x := p.x + 0.5;
t1(IN := TRUE, PT := T#25ms);
scratch := scratch + 1;
END_PROGRAM
"""


def _controller(store: RetainStore, source: str = SOURCE) -> tuple[Controller, Runner]:
    lib = st.compile_source(source, "main.st")
    ctl = Controller("st-unit", retain=store)
    ctl.add_task("main", "10ms")
    ctl.add_program("main", lib.programs()["MAIN"], task="main")
    return ctl, Runner(SimClock(), [ctl])


def test_retained_st_values_survive_a_warm_restart(tmp_path: Path) -> None:
    store = RetainStore(tmp_path / "r.sqlite")
    _, runner = _controller(store)
    runner.start_all()
    runner.run_for("40ms")
    values = store.load("st-unit").values
    assert values[("main", "arr")] == ("ARRAY[1..3] OF INT", [0, 4, 0])
    assert values[("main", "p")] == ("Pt", {"x": 2.0, "y": 0.0})
    assert values[("main", "b.hits")] == ("DINT", 4)  # RETAIN in the FB type

    ctl2, runner2 = _controller(RetainStore(store.path))  # a new process would recompile
    report = runner2.start_all(warm=True)[0]
    assert not report.skipped
    main = ctl2.program("main")
    assert main.get("n") == 4 and main.get("a.total") == 8 and main.get("a.hits") == 4
    assert main.get("arr[2]") == 4 and main.get("p.x") == 2.0
    assert main.get("b.hits") == 4 and main.get("b.total") == 0  # only the RETAIN member
    assert main.get("scratch") == 0 and main.get("t1.ET") == 0
    runner2.run_for("10ms")
    assert main.get("n") == 5 and main.get("arr[2]") == 5


def test_online_change_between_compilations(tmp_path: Path) -> None:
    ctl, runner = _controller(RetainStore(tmp_path / "r.sqlite"))
    runner.start_all()
    runner.run_for("30ms")  # t1 (PT 25 ms) is running, ET = 20 ms
    assert ctl.program("main").get("t1.ET") == 20_000_000

    v2 = SOURCE.replace("scratch : INT;", "scratch : INT;\n    extra : REAL := 1.5;").replace(
        "n := n + 1;", "n := n + 10;"
    )
    report = ctl.online_change("main", st.compile_source(v2, "main.st").programs()["MAIN"])
    assert report.initialised == ["extra"]
    # Acc was recompiled (another class): carried over member by member.
    assert {"a.d", "a.total", "a.hits", "t1"} <= set(report.kept)
    main = ctl.program("main")
    assert (main.get("n"), main.get("a.total"), main.get("extra")) == (3, 6, 1.5)
    runner.run_for("10ms")
    assert main.get("n") == 13 and main.get("t1.Q") is True  # the timer kept running

    v3 = v2.replace("n : DINT;", "n : LREAL;")
    with pytest.raises(OnlineChangeRefused, match="n changed type from DINT to LREAL"):
        ctl.online_change("main", st.compile_source(v3, "main.st").programs()["MAIN"])
    v4 = v2.replace("b : Acc;", "b : TON;").replace("b(d := 3);", "b(IN := TRUE);")
    with pytest.raises(OnlineChangeRefused, match="b changed type from Acc to TON"):
        ctl.online_change("main", st.compile_source(v4, "main.st").programs()["MAIN"])
    assert ctl.program("main") is main
