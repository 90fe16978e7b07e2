"""Tasks on the two clocks: due instants, priorities, nominal time, statistics, overruns,
the watchdog and the safe state (IEC 61131-3:2013 §6.8.2)."""

from __future__ import annotations

import threading
import time

import pytest

from phactory.control.pou import NS_PER_MS, POU
from phactory.control.runtime import Controller, Runner, SimClock, WallClock
from phactory.control.runtime.durations import parse_duration
from phactory.errors import ConflictError, InvalidError, NotFoundError

from .programs import Blinker, Divider, Sleeper, Spinner, recorder

MS = NS_PER_MS


def test_sim_clock_visits_exactly_the_due_instants_in_priority_order() -> None:
    log: list[tuple[str, int, int]] = []
    ctl = Controller("c")
    ctl.add_task("slow", "25ms", priority=5)
    ctl.add_task("fast", "10ms", priority=1)
    ctl.add_program("s", recorder("slow", log), task="slow")
    ctl.add_program("f", recorder("fast", log), task="fast")
    clock = SimClock()
    runner = Runner(clock, [ctl])
    runner.start_all()
    runner.run_for("60ms")
    assert log == [
        ("fast", 0, 0),  # both due at 0: priority 1 before 5
        ("slow", 0, 0),
        ("fast", 10 * MS, 1),
        ("fast", 20 * MS, 2),
        ("slow", 25 * MS, 1),
        ("fast", 30 * MS, 3),
        ("fast", 40 * MS, 4),
        ("fast", 50 * MS, 5),
        ("slow", 50 * MS, 2),
    ]
    assert clock.now_ns() == 60 * MS  # the clock ends at the end of the span
    runner.run_for("10ms")  # continues where it stopped
    assert log[-1] == ("fast", 60 * MS, 6)


def test_equal_priorities_run_in_the_order_the_tasks_were_added() -> None:
    log: list[tuple[str, int, int]] = []
    ctl = Controller("c")
    for name in ("b", "a", "c"):
        ctl.add_task(name, "10ms", priority=3)
        ctl.add_program(name, recorder(name, log), task=name)
    runner = Runner(SimClock(), [ctl])
    runner.start_all()
    runner.run_for("10ms")
    assert [entry[0] for entry in log] == ["b", "a", "c"]


def test_controllers_sharing_a_clock_advance_together_with_their_plant() -> None:
    log: list[tuple[str, int, int]] = []
    plant_times: list[int] = []

    class Plant:
        def advance(self, t_ns: int) -> None:
            # the plant is brought to each instant before any scan at that instant
            plant_times.append(t_ns)
            log.append(("plant", t_ns, -1))

    units = []
    for i, period in enumerate(("20ms", "30ms")):
        ctl = Controller(f"unit{i}")
        ctl.add_task("main", period)
        ctl.add_program("p", recorder(f"u{i}", log), task="main")
        units.append(ctl)
    runner = Runner(SimClock(), units, plant=Plant())
    runner.start_all()
    runner.run_for("61ms")
    assert plant_times == [0, 20 * MS, 30 * MS, 40 * MS, 60 * MS]
    assert [(who, t) for who, t, _ in log] == [
        ("plant", 0),
        ("u0", 0),
        ("u1", 0),
        ("plant", 20 * MS),
        ("u0", 20 * MS),
        ("plant", 30 * MS),
        ("u1", 30 * MS),
        ("plant", 40 * MS),
        ("u0", 40 * MS),
        ("plant", 60 * MS),
        ("u0", 60 * MS),
        ("u1", 60 * MS),
    ]


def test_sim_time_waits_while_a_participant_holds_it() -> None:
    log: list[tuple[str, int, int]] = []
    ctl = Controller("c")
    ctl.add_task("main", "10ms")
    ctl.add_program("p", recorder("p", log), task="main")
    clock = SimClock()
    runner = Runner(clock, [ctl])
    runner.start_all()
    busy = threading.Event()
    busy.set()
    remove = clock.add_quiescence(lambda: not busy.is_set())
    done = threading.Event()

    def run() -> None:
        runner.run_for("50ms")
        done.set()

    thread = threading.Thread(target=run)
    with clock.hold():
        thread.start()
        time.sleep(0.05)
        assert clock.now_ns() == 0 and log == []  # held at the first instant
    time.sleep(0.02)
    assert clock.now_ns() == 0 and log == []  # still held by the predicate
    busy.clear()
    assert done.wait(5)
    thread.join()
    remove()
    assert [t for _, t, _ in log] == [0, 10 * MS, 20 * MS, 30 * MS, 40 * MS]


def _trace(clock: SimClock | WallClock, period: str, scans: int) -> list[tuple[object, ...]]:
    ctl = Controller("c")
    ctl.add_task("main", period)
    ctl.add_program("p", Blinker, task="main")
    rows: list[tuple[object, ...]] = []

    def observe(c: Controller, task: object) -> None:
        p = c.program("p")
        assert isinstance(p, Blinker)
        rows.append((c.ctx.now_ns, c.ctx.scan, p.on, p.t1.ET, p.c1.CV, p.loop.OUT, p.y))

    ctl.add_observer(observe)
    runner = Runner(clock, [ctl])
    runner.start_all()
    runner.run_for(parse_duration(period) * scans)
    assert ctl.fault is None
    return rows


def test_the_same_program_gives_identical_traces_in_wall_clock_and_simulated_time() -> None:
    simulated = _trace(SimClock(), "20ms", 30)
    assert len(simulated) == 30
    assert [r[0] for r in simulated] == [k * 20 * MS for k in range(30)]
    # A process stalled for a whole period on a loaded machine skips a cycle (an
    # overrun, counted), and then the traces rightly differ: try up to three times.
    for _ in range(3):
        real = _trace(WallClock(), "20ms", 30)
        if len(real) == 30:
            break
    assert real == simulated
    assert {r[2] for r in simulated} == {True, False}  # the trace does something


def test_wall_clock_measures_jitter_and_counts_overruns() -> None:
    # Real time on a shared machine: the bounds below leave room for a stall of the
    # process, and still fail if overruns were not counted or the grid were not kept.
    ctl = Controller("c", watchdog_factor=10)
    ctl.add_task("main", "50ms")
    ctl.add_program("p", Sleeper, task="main")
    clock = WallClock()
    runner = Runner(clock, [ctl])
    runner.start_all()
    runner.run_for("250ms")
    quiet = ctl.scan_stats()[0]
    assert 1 <= quiet.scans <= 5 and quiet.overruns <= 5 - quiet.scans
    assert quiet.overruns > 0 or 0 <= quiet.jitter_p99_s < 0.05  # late by a period: overrun
    assert 0 < quiet.min_s <= quiet.mean_s <= quiet.max_s
    # Scans of 45 ms in a 20 ms period: each one overruns, the missed starts are skipped
    # and the grid is kept (starts stay multiples of 20 ms after the task's start).
    slow = Controller("s", watchdog_factor=10)
    slow.add_task("main", "20ms")
    slow.add_program("p", Sleeper, task="main")
    starts: list[int] = []
    slow.add_observer(lambda c, t: starts.append(c.ctx.now_ns))
    runner = Runner(clock, [slow])
    runner.start_all()
    slow.program("p").ms = 45.0  # type: ignore[attr-defined]
    runner.run_for("200ms")
    stats = slow.scan_stats()[0]
    assert slow.fault is None
    assert 1 <= stats.scans <= 4
    assert stats.overruns == stats.scans
    assert starts[0] == 0 and all(s % (20 * MS) == 0 for s in starts)
    assert len(set(starts)) == len(starts) and starts == sorted(starts)
    assert stats.max_s >= 0.045


def test_watchdog_interrupts_a_hung_scan_and_goes_to_the_safe_state() -> None:
    ctl = Controller("c")
    ctl.add_task("main", "10ms")
    ctl.add_task("other", "10ms", priority=2)
    ctl.add_program("spin", Spinner, task="main")
    ctl.add_program("div", Divider, task="other")
    written: list[tuple[str, object]] = []
    ctl.io.output("spin.out", lambda v: written.append(("spin", v)))
    ctl.io.output("div.q", lambda v: written.append(("div", v)), safe=-1.0)
    faults = []
    ctl.on_fault(faults.append)
    runner = Runner(SimClock(hung_scan_ns=50 * MS), [ctl])
    runner.start_all()
    runner.run_for("20ms")
    assert ctl.fault is None and written[-2:] == [("spin", 42.0), ("div", 1.0)]
    ctl.program("spin").hang = True  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    runner.run_for("50ms")
    assert time.perf_counter() - t0 < 2.0  # interrupted, not hung
    assert ctl.fault is not None and ctl.fault.task == "main"
    assert ctl.fault.reason.startswith("watchdog")
    assert faults == [ctl.fault]
    # Safe state: the initial value where none was given, the given one otherwise.
    assert written[-2:] == [("spin", 5.0), ("div", -1.0)]
    # Every task stopped: no scan of the other task ran since.
    assert ctl.scan_stats()[1].scans == 2
    assert ctl.next_due_ns() is None


def test_wall_clock_watchdog_is_a_multiple_of_the_period() -> None:
    ctl = Controller("c", watchdog_factor=2)
    ctl.add_task("main", "10ms")
    ctl.add_program("p", Sleeper, task="main")
    runner = Runner(WallClock(), [ctl])
    runner.start_all()
    ctl.program("p").ms = 35.0  # type: ignore[attr-defined]
    runner.run_for("50ms")
    assert ctl.fault is not None and "watchdog" in ctl.fault.reason
    assert ctl.scan_stats()[0].scans == 0


def test_an_error_in_a_program_faults_the_controller_and_restart_clears_it() -> None:
    ctl = Controller("c")
    ctl.add_task("main", "10ms")
    ctl.add_program("div", Divider, task="main")
    runner = Runner(SimClock(), [ctl])
    runner.start_all()
    ctl.program("div").d = 0.0  # type: ignore[attr-defined]
    runner.run_for("30ms")
    assert ctl.fault is not None
    assert ctl.fault.reason == "ZeroDivisionError: float division by zero"
    assert ctl.fault.now_ns == 0
    runner.start_all()  # a restart: fresh instances (d = 1.0), fault cleared
    runner.run_for("30ms")
    assert ctl.fault is None and ctl.scan_stats()[0].scans == 3


def test_simulated_statistics_have_no_jitter_or_overrun() -> None:
    ctl = Controller("c", unit="area/cell/R-101")
    ctl.add_task("main", "100ms")
    ctl.add_program("p", Blinker, task="main")
    runner = Runner(SimClock(), [ctl])
    runner.start_all()
    runner.run_for("10s")
    (stats,) = runner.scan_stats()
    assert (stats.task, stats.unit, stats.period_s) == ("main", "area/cell/R-101", 0.1)
    assert stats.scans == 100 and stats.overruns == 0 and stats.jitter_p99_s == 0.0


def test_configuration_errors_name_what_is_wrong() -> None:
    ctl = Controller("c")
    ctl.add_task("main", "10ms")
    with pytest.raises(ConflictError, match="already has a task 'main'"):
        ctl.add_task("main", "20ms")
    with pytest.raises(InvalidError, match="period must be positive"):
        ctl.add_task("zero", 0)
    with pytest.raises(NotFoundError, match="no task 'nope'"):
        ctl.add_program("p", Blinker, task="nope")
    with pytest.raises(InvalidError, match="not a PROGRAM"):
        from phactory.control.blocks import TON

        ctl.add_program("t", TON, task="main")
    ctl.add_program("p", Blinker, task="main")
    with pytest.raises(NotFoundError, match="no program 'q'"):
        ctl.program("q")
    _: POU = ctl.program("p")


def test_staggered_controllers_spread_over_the_period_on_their_own_time() -> None:
    log: list[tuple[str, int, int]] = []
    clock_times: list[int] = []
    units = []
    for i in range(4):
        ctl = Controller(f"u{i}")
        ctl.add_task("main", "100ms")
        ctl.add_program("p", recorder(f"u{i}", log), task="main")
        units.append(ctl)
    clock = SimClock()
    units[0].add_observer(lambda c, t: clock_times.append(clock.now_ns()))
    runner = Runner(clock, units)
    runner.start_all(stagger=True)
    runner.run_for("200ms")
    # Clock: u0 at 0, u1 at 25 ms, u2 at 50 ms, u3 at 75 ms, then again 100 ms later...
    assert [who for who, _, _ in log] == ["u0", "u1", "u2", "u3"] * 2
    # ...but each controller's own time starts at 0 (identical traces).
    assert [t for _, t, _ in log] == [0] * 4 + [100 * MS] * 4
    assert clock_times == [0, 100 * MS]


def test_a_failing_observer_does_not_stop_the_controller(caplog: pytest.LogCaptureFixture) -> None:
    ctl = Controller("c")
    ctl.add_task("main", "10ms")
    ctl.add_program("p", Blinker, task="main")

    def broken(c: Controller, t: object) -> None:
        raise RuntimeError("observer bug")

    ctl.add_observer(broken)
    runner = Runner(SimClock(), [ctl])
    runner.start_all()
    runner.run_for("30ms")
    assert ctl.fault is None and ctl.scan_stats()[0].scans == 3
    assert "observer" in caplog.text and "observer bug" in caplog.text
