"""RETAIN variables in one process: what is durable, warm and cold restart, the commit
policy (IEC 61131-3:2013 §6.5.6). Durability against kill -9 is tested in
``test_retain_kill.py``."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from phactory.control.pou import NS_PER_MS, ScanContext, VarDecl
from phactory.control.runtime import Controller, RetainStore, Runner, SimClock
from phactory.control.runtime.state import retained_leaves

from .programs import Counter

MS = NS_PER_MS


@pytest.fixture
def store(tmp_path: Path) -> RetainStore:
    s = RetainStore(tmp_path / "plant.retain.sqlite")
    yield s
    s.close()


def _controller(store: RetainStore, cls: type[Counter] = Counter) -> tuple[Controller, Runner]:
    ctl = Controller("R-101", retain=store)
    ctl.add_task("main", "10ms")
    ctl.add_program("cnt", cls, task="main")
    return ctl, Runner(SimClock(), [ctl])


def test_what_is_durable_follows_the_standard() -> None:
    # count: declared RETAIN; edges: an FB instance declared RETAIN, so all its members;
    # trig: an R_TRIG declared without RETAIN, whose M the standard declares RETAIN.
    paths = [leaf.path for leaf in retained_leaves(Counter(ScanContext()))]
    assert paths == [
        "count",
        "edges.CU",
        "edges.R",
        "edges.PV",
        "edges.Q",
        "edges.CV",
        "edges.CU_M",
        "trig.M",
    ]


def test_warm_restart_restores_retained_values_and_resets_the_others(
    store: RetainStore,
) -> None:
    ctl, runner = _controller(store)
    runner.start_all(warm=True)
    prog = ctl.program("cnt")
    assert isinstance(prog, Counter)
    pulses = iter([True, False] * 10)
    ctl.io.before_scan(lambda task: setattr(ctl.program("cnt"), "pulse", next(pulses)))
    ctl.start(0)  # bind the hook
    runner.run_for("70ms")
    prog = ctl.program("cnt")
    assert isinstance(prog, Counter)
    assert (prog.count, prog.edges.CV, prog.scratch, prog.trig.M) == (7, 4, 7, True)

    # A new controller process would do exactly this: new objects, same file.
    ctl2, runner2 = _controller(RetainStore(store.path))
    report = runner2.start_all(warm=True)[0]
    assert report.mode == "warm"
    assert "cnt.count" in report.restored and "cnt.edges.CV" in report.restored
    restored = ctl2.program("cnt")
    assert isinstance(restored, Counter)
    assert (restored.count, restored.edges.CV, restored.trig.M) == (7, 4, True)
    assert restored.scratch == 0  # not retained: initial value
    # Time goes on from the last commit (60 ms) plus the period, not from 0.
    runner2.run_for("10ms")
    assert ctl2.ctx.now_ns == 70 * MS
    assert restored.count == 8


def test_cold_restart_resets_everything_and_clears_the_store(store: RetainStore) -> None:
    ctl, runner = _controller(store)
    runner.start_all()
    runner.run_for("50ms")
    assert store.load("R-101").values[("cnt", "count")] == ("DINT", 5)
    report = runner.start_all(warm=False)[0]
    assert report.mode == "cold" and report.restored == []
    assert store.load("R-101").values == {}
    prog = ctl.program("cnt")
    assert isinstance(prog, Counter)
    assert prog.count == 0 and ctl.ctx.now_ns == 0
    runner.run_for("10ms")
    assert prog.count == 1


def test_one_commit_per_scan_that_changed_a_retained_value(store: RetainStore) -> None:
    ctl, runner = _controller(store)
    runner.start_all()
    runner.run_for("30ms")
    assert store.commits == 3  # count changes every scan
    prog = ctl.program("cnt")
    assert isinstance(prog, Counter)
    prog.inc = 0
    runner.run_for("50ms")  # nothing durable changes: nothing written
    assert store.commits == 3
    assert ctl.last_commit_seq == 3
    prog.inc = 2
    runner.run_for("10ms")
    assert store.commits == 4
    image = store.load("R-101")
    assert image.seq == 4 and image.now_ns == 80 * MS
    assert image.values[("cnt", "count")] == ("DINT", 5)
    # Each commit is one transaction holding the whole scan: the file agrees.
    with sqlite3.connect(store.path) as db:
        (mode,) = db.execute("PRAGMA journal_mode").fetchone()
    assert mode == "wal"


def test_a_value_whose_type_changed_is_not_restored(store: RetainStore) -> None:
    _, runner = _controller(store)
    runner.start_all()
    runner.run_for("30ms")

    class CounterV2(Counter):
        DECLS = tuple(
            VarDecl("count", "LREAL", retain=True) if d.name == "count" else d
            for d in Counter.DECLS
        )

        def __init__(self, ctx: ScanContext) -> None:
            super().__init__(ctx)
            self.count = 0.5  # type: ignore[assignment]

    ctl2, runner2 = _controller(RetainStore(store.path), CounterV2)
    report = runner2.start_all(warm=True)[0]
    assert report.skipped == ["cnt.count: stored DINT, now LREAL"]
    prog = ctl2.program("cnt")
    assert isinstance(prog, CounterV2)
    assert prog.count == 0.5 and prog.edges.CU_M is False
    runner2.run_for("10ms")  # the next commit replaces the stale row
    assert store.load("R-101").values[("cnt", "count")] == ("LREAL", 1.5)


def test_controllers_share_one_file_without_mixing(tmp_path: Path) -> None:
    store = RetainStore(tmp_path / "plant.sqlite")
    units = []
    for name in ("A", "B"):
        ctl = Controller(name, retain=store)
        ctl.add_task("main", "10ms")
        ctl.add_program("cnt", Counter, task="main")
        units.append(ctl)
    runner = Runner(SimClock(), units)
    runner.start_all()
    for ctl, (_, inc) in zip(units, (("A", 1), ("B", 10)), strict=True):
        prog = ctl.program("cnt")
        assert isinstance(prog, Counter)
        prog.inc = inc
    runner.run_for("30ms")
    assert store.load("A").values[("cnt", "count")][1] == 3
    assert store.load("B").values[("cnt", "count")][1] == 30
    store.clear("A")
    assert store.load("A").values == {}
    assert store.load("B").values[("cnt", "count")][1] == 30
