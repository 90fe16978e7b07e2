"""Online change: a new version replaces a running program between scans, keeping what the
rules of :mod:`phactory.control.runtime.online` say it keeps, or is refused with reasons."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from phactory.control.blocks import F_TRIG, TON
from phactory.control.pou import POU, ScanContext, Section, VarDecl
from phactory.control.runtime import (
    Controller,
    OnlineChangeRefused,
    RetainStore,
    Runner,
    SimClock,
    WallClock,
)

from .programs import Counter


def _running(store: RetainStore | None = None) -> tuple[Controller, Runner]:
    ctl = Controller("c", retain=store)
    ctl.add_task("main", "10ms")
    ctl.add_program("cnt", Counter, task="main")
    runner = Runner(SimClock(), [ctl])
    runner.start_all()
    runner.run_for("50ms")
    return ctl, runner


def _version(
    base: type[POU] = Counter,
    *,
    replace: dict[str, VarDecl] | None = None,
    drop: tuple[str, ...] = (),
    add: tuple[tuple[VarDecl, object], ...] = (),
    name: str | None = None,
    init: dict[str, object] | None = None,
) -> type[POU]:
    """A new version of ``base``: declarations replaced, dropped or added."""
    replace = replace or {}
    decls = tuple(replace.get(d.name, d) for d in base.DECLS if d.name not in drop)
    decls += tuple(d for d, _ in add)

    def __init__(self: POU, ctx: ScanContext) -> None:
        base.__init__(self, ctx)
        for d in drop:
            delattr(self, d)
        for d, value in add:
            setattr(self, d.name, value(ctx) if isinstance(value, type) else value)
        for k, v in (init or {}).items():
            setattr(self, k, v(ctx) if isinstance(v, type) else v)

    return type(
        "NewVersion",
        (base,),
        {"DECLS": decls, "NAME": name or base.NAME, "__init__": __init__},
    )


def test_same_name_and_type_keep_their_values_new_ones_start_initial() -> None:
    ctl, runner = _running()
    old = ctl.program("cnt")
    assert isinstance(old, Counter)
    old_edges = old.edges
    v2 = _version(
        drop=("scratch",),
        add=((VarDecl("extra", "INT"), 7), (VarDecl("t9", "TON"), TON)),
        replace={"level": VarDecl("level", "STRING", Section.OUTPUT)},
        init={"level": "x"},
    )
    report = ctl.online_change("cnt", v2)
    assert set(report.kept) == {"inc", "pulse", "count", "edges", "trig"}
    assert set(report.initialised) == {"extra", "t9", "level"}  # level changed type
    assert report.dropped == ["scratch"]
    new = ctl.program("cnt")
    assert isinstance(new, v2)
    assert new.count == 5 and new.edges is old_edges  # same block class: moved whole
    assert new.extra == 7 and new.level == "x"  # type: ignore[attr-defined]
    runner.run_for("10ms")
    assert new.count == 6


def test_a_new_version_of_a_block_type_carries_its_members_over() -> None:
    class Lag(POU):
        NAME = "LAG"
        DECLS = (VarDecl("X", "REAL", Section.INPUT), VarDecl("Y", "REAL", Section.OUTPUT))

        def __init__(self, ctx: ScanContext) -> None:
            super().__init__(ctx)
            self.X, self.Y = 0.0, 0.0

        def __call__(self) -> None:
            self.Y += 0.5 * (self.X - self.Y)

    class Lag2(Lag):  # recompiled: another class, one more member
        DECLS = (*Lag.DECLS, VarDecl("K", "REAL", Section.INPUT))

        def __init__(self, ctx: ScanContext) -> None:
            super().__init__(ctx)
            self.K = 0.5

    class Prog(POU):
        NAME = "P"
        KIND = "PROGRAM"
        DECLS = (VarDecl("f", "LAG"),)

        def __init__(self, ctx: ScanContext) -> None:
            super().__init__(ctx)
            self.f: Lag = Lag(ctx)

        def __call__(self) -> None:
            self.f.X = 8.0
            self.f()

    class Prog2(Prog):
        def __init__(self, ctx: ScanContext) -> None:
            super().__init__(ctx)
            self.f = Lag2(ctx)

    ctl = Controller("c")
    ctl.add_task("main", "10ms")
    ctl.add_program("p", Prog, task="main")
    runner = Runner(SimClock(), [ctl])
    runner.start_all()
    runner.run_for("20ms")
    report = ctl.online_change("p", Prog2)
    assert report.kept == ["f.X", "f.Y"] and report.initialised == ["f.K"]
    new = ctl.program("p")
    assert isinstance(new, Prog2) and isinstance(new.f, Lag2)
    assert new.f.Y == 6.0 and new.f.K == 0.5


def test_incompatible_changes_are_refused_with_every_reason(tmp_path: Path) -> None:
    ctl, runner = _running(RetainStore(tmp_path / "r.sqlite"))
    before = ctl.program("cnt")
    v2 = _version(
        replace={
            "count": VarDecl("count", "LREAL", retain=True),  # RETAIN, other type
            "trig": VarDecl("trig", "F_TRIG"),  # FB instance, other type
        },
        init={"count": 0.0, "trig": F_TRIG},
    )
    with pytest.raises(OnlineChangeRefused) as info:
        ctl.online_change("cnt", v2)
    assert info.value.reasons == [
        "count changed type from DINT to LREAL while declared RETAIN",
        "trig changed type from R_TRIG to F_TRIG: a function-block instance cannot change type",
    ]
    assert str(info.value).startswith("online change of cnt refused: count changed type")
    assert ctl.program("cnt") is before  # untouched, still running
    runner.run_for("10ms")
    assert isinstance(before, Counter) and before.count == 6

    # A member of a RETAIN instance is retained too.
    v3 = _version(replace={"edges": VarDecl("edges", "CTU", retain=False)})
    ctl.online_change("cnt", v3)  # losing RETAIN on a kept type is fine

    with pytest.raises(OnlineChangeRefused, match="program name changed from COUNTER to OTHER"):
        ctl.online_change("cnt", _version(v3, name="OTHER"))
    with pytest.raises(OnlineChangeRefused, match="TON is not a PROGRAM"):
        ctl.online_change("cnt", TON)


def test_a_dropped_retain_variable_leaves_the_store(tmp_path: Path) -> None:
    store = RetainStore(tmp_path / "r.sqlite")
    ctl, runner = _running(store)
    assert ("cnt", "count") in store.load("c").values
    v2 = _version(drop=("count",), replace={"level": VarDecl("level", "REAL", Section.OUTPUT)})

    def call(self: POU) -> None:
        self.scratch += 1  # type: ignore[attr-defined]

    v2.__call__ = call  # type: ignore[method-assign]
    report = ctl.online_change("cnt", v2)
    assert "count" in report.dropped
    runner.run_for("10ms")
    values = store.load("c").values
    assert ("cnt", "count") not in values and ("cnt", "edges.CV") in values


def test_online_change_while_running_in_real_time() -> None:
    ctl = Controller("c")
    ctl.add_task("main", "5ms")
    ctl.add_program("cnt", Counter, task="main")
    seen: list[int] = []
    ctl.io.input("cnt.inc", lambda: 1)
    ctl.io.output("cnt.level", lambda v: seen.append(int(v)))
    runner = Runner(WallClock(), [ctl])
    runner.start_all()
    runner.start()
    try:
        while len(seen) < 5:
            threading.Event().wait(0.005)
        report = ctl.online_change("cnt", _version(add=((VarDecl("extra", "INT"), 0),)))
        assert "count" in report.kept
        at_change = len(seen)
        while len(seen) < at_change + 5:
            threading.Event().wait(0.005)
    finally:
        runner.stop()
    assert ctl.fault is None
    # The count went on without a reset: I/O was rebound to the new instance.
    assert seen == list(range(1, len(seen) + 1))
