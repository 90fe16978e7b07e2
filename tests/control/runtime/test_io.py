"""The I/O image: inputs before the scan, outputs after, hooks, and a small plant in the
loop; durations as people and IEC 61131-3 write them."""

from __future__ import annotations

import pytest

from phactory.control.pou import NS_PER_MS, NS_PER_S
from phactory.control.runtime import Controller, Runner, SimClock, format_duration, parse_duration
from phactory.errors import InvalidError, NotFoundError

from .programs import Counter


class TankPlant:
    """A first-order plant integrated by the runner between scans: level follows the
    controller output with a 1 s time constant (explicit Euler on 10 ms steps)."""

    def __init__(self) -> None:
        self.t_ns = 0
        self.level = 0.0
        self.valve = 0.0
        self.log: list[tuple[int, float]] = []

    def advance(self, t_ns: int) -> None:
        while self.t_ns < t_ns:
            self.level += (self.valve - self.level) * 0.01
            self.t_ns += 10 * NS_PER_MS
        self.log.append((t_ns, self.level))


def test_inputs_are_read_before_and_outputs_written_after_each_scan() -> None:
    events: list[str] = []
    ctl = Controller("c")
    ctl.add_task("main", "10ms")
    prog = ctl.add_program("cnt", Counter, task="main")
    increments = iter([1, 2, 3])
    ctl.io.before_scan(lambda task: events.append(f"before {task}"))
    ctl.io.input("cnt.inc", lambda: events.append("read") or next(increments))
    ctl.io.output("cnt.level", lambda v: events.append(f"write {v}"))
    ctl.io.output("cnt.edges.CV", lambda v: events.append(f"cv {v}"))
    ctl.io.after_scan(lambda task: events.append("after"), task="main")
    ctl.io.after_scan(lambda task: events.append("never"), task="other")
    runner = Runner(SimClock(), [ctl])
    runner.start_all()
    assert prog is not ctl.program("cnt")  # start made fresh instances
    runner.run_for("30ms")
    assert events == [
        *("before main", "read", "write 1.0", "cv 0", "after"),
        *("before main", "read", "write 3.0", "cv 0", "after"),
        *("before main", "read", "write 6.0", "cv 0", "after"),
    ]


def test_a_plant_in_the_loop_is_stepped_to_each_scan() -> None:
    plant = TankPlant()
    ctl = Controller("c")
    ctl.add_task("main", "100ms")
    ctl.add_program("cnt", Counter, task="main")
    # The "controller" here just holds the valve at 1 once its count reaches 3.
    ctl.io.input("cnt.inc", lambda: 1)
    ctl.io.output("cnt.level", lambda v: setattr(plant, "valve", 1.0 if v >= 3 else 0.0))
    runner = Runner(SimClock(), [ctl], plant=plant)
    runner.start_all()
    runner.run_for("1s")
    assert [t for t, _ in plant.log] == [k * 100 * NS_PER_MS for k in range(10)]
    # The valve opened after the scan at 200 ms (count 3); the plant was last brought to
    # the scan at 900 ms: open for 700 ms, 70 Euler steps of 1 %.
    assert plant.level == pytest.approx(1 - 0.99**70)


def test_inputs_take_the_python_type_of_the_declared_type() -> None:
    ctl = Controller("c")
    ctl.add_task("main", "10ms")
    ctl.add_program("cnt", Counter, task="main")
    ctl.io.input("cnt.inc", lambda: 2.0)  # DINT
    ctl.io.input("cnt.pulse", lambda: 1)  # BOOL
    ctl.io.input("cnt.edges.R", lambda: 0)  # BOOL member of a block
    runner = Runner(SimClock(), [ctl])
    runner.start_all()
    runner.run_for("10ms")
    prog = ctl.program("cnt")
    assert isinstance(prog, Counter)
    assert (prog.count, prog.pulse, prog.edges.R) == (2, True, False)
    assert prog.edges.R is False
    assert type(prog.count) is int and type(prog.pulse) is bool


def test_wiring_errors_name_the_target() -> None:
    ctl = Controller("c")
    ctl.add_task("main", "10ms")
    ctl.add_program("cnt", Counter, task="main")
    with pytest.raises(InvalidError, match=r"must be written PROGRAM\.variable"):
        ctl.io.input("level", lambda: 0)
    ctl.io.input("cnt.nope", lambda: 0)
    with pytest.raises(NotFoundError, match="declares no variable 'nope'"):
        ctl.start()
    ctl.io.inputs.clear()
    ctl.io.input("pump.speed", lambda: 0)
    with pytest.raises(NotFoundError, match="no program 'pump'"):
        ctl.start()


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("10ms", 10 * NS_PER_MS),
        ("2s", 2 * NS_PER_S),
        ("1.5 s", 1_500 * NS_PER_MS),
        ("T#10ms", 10 * NS_PER_MS),
        ("t#1m_30s", 90 * NS_PER_S),
        ("TIME#1h2m", 3_720 * NS_PER_S),
        ("LTIME#5ns", 5),
        ("250us", 250_000),
        ("1d", 86_400 * NS_PER_S),
        ("T#-20ms", -20 * NS_PER_MS),
        ("1s500ms", 1_500 * NS_PER_MS),
        ("0.1ms", 100_000),
    ],
)
def test_durations_parse(text: str, ns: int) -> None:
    assert parse_duration(text) == ns


@pytest.mark.parametrize("text", ["10", "", "ms", "5 parsecs", "T#", "1s 2", "1.2.3s"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(InvalidError, match="is not a duration"):
        parse_duration(text)


def test_durations_format_as_iec_literals() -> None:
    assert format_duration(0) == "T#0s"
    assert format_duration(1_500 * NS_PER_MS) == "T#1s500ms"
    assert format_duration(-20 * NS_PER_MS) == "T#-20ms"
    assert format_duration(90 * NS_PER_S + 5) == "T#1m30s5ns"
    for ns in (1, 999, 10**9 + 1, 86_400 * NS_PER_S * 3 + 7):
        assert parse_duration(format_duration(ns)) == ns
