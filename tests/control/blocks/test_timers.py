"""TON, TOF and TP against the timing diagrams of IEC 61131-3:2013 §6.6.3.5.5 (Figure 15).

Worked examples by hand: a 10 ms scan, ``PT = T#25ms``; a timer started in the scan at
``t0`` sees ``t0 + PT`` reached in the first scan at or after it (``t0 + 30 ms``).
Rows are ``(t [ms], Q, ET [ms])``.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from phactory.control.blocks import TOF, TON, TP

from .helpers import MS, run_scans

T, F = True, False


def _ins(*levels: bool) -> list[dict[str, bool]]:
    return [{"IN": v} for v in levels]


def test_ton_worked_example() -> None:
    rows = run_scans(TON, _ins(T, T, T, T, T, T, F, T, T, F), ("Q", "ET"), fixed={"PT": 25 * MS})
    assert rows == [
        (0, F, 0),  # IN rises: measuring from 0
        (10, F, 10),
        (20, F, 20),
        (30, T, 25),  # 30 >= 25: Q, ET stops at PT
        (40, T, 25),
        (50, T, 25),
        (60, F, 0),  # IN falls: Q and ET reset at once
        (70, F, 0),  # a new measurement
        (80, F, 10),
        (90, F, 0),  # IN fell before PT: Q never rose
    ]


def test_tof_worked_example() -> None:
    levels = (F, T, T, F, F, F, F, T, F, T, F, F, F, F, F)
    rows = run_scans(TOF, _ins(*levels), ("Q", "ET"), fixed={"PT": 25 * MS})
    assert rows == [
        (0, F, 0),  # initially off
        (10, T, 0),  # IN rises: Q at once
        (20, T, 0),
        (30, T, 0),  # IN falls: off-delay starts
        (40, T, 10),
        (50, T, 20),
        (60, F, 25),  # 30 >= 25: Q falls, ET stays at PT
        (70, T, 0),  # IN rises: ET reset
        (80, T, 0),  # falls again...
        (90, T, 0),  # ...and rises before PT: Q never fell
        (100, T, 0),
        (110, T, 10),
        (120, T, 20),
        (130, F, 25),
        (140, F, 25),
    ]


def test_tp_worked_example() -> None:
    levels = (T, F, T, T, T, F, F, T, T, T, T, T, F)
    rows = run_scans(TP, _ins(*levels), ("Q", "ET"), fixed={"PT": 25 * MS})
    assert rows == [
        (0, T, 0),  # rising edge: pulse starts
        (10, T, 10),  # IN falls during the pulse: the pulse goes on
        (20, T, 20),  # a new edge during the pulse is ignored
        (30, F, 25),  # pulse over; IN still TRUE: ET stays at PT
        (40, F, 25),
        (50, F, 0),  # IN FALSE after the pulse: ET back to 0
        (60, F, 0),
        (70, T, 0),  # next edge, next pulse
        (80, T, 10),
        (90, T, 20),
        (100, F, 25),
        (110, F, 25),  # IN held TRUE: no second pulse
        (120, F, 0),
    ]


def test_zero_preset_times() -> None:
    # PT = 0: TON follows IN, TOF follows IN, TP never shows a pulse.
    levels = _ins(F, T, T, F, T)
    assert [r[1] for r in run_scans(TON, levels, ("Q",))] == [F, T, T, F, T]
    assert [r[1] for r in run_scans(TOF, levels, ("Q",))] == [F, T, T, F, T]
    assert [r[1] for r in run_scans(TP, levels, ("Q",))] == [F, F, F, F, F]


def _last_rise(levels: list[bool], k: int) -> int:
    """Index of the scan where the run of TRUE ending at ``k`` started."""
    j = k
    while j > 0 and levels[j - 1]:
        j -= 1
    return j


@settings(max_examples=150, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=60), st.integers(0, 12))
def test_ton_follows_its_definition(levels: list[bool], pt_scans: int) -> None:
    # Q(t) iff IN has been TRUE continuously for at least PT; ET = min(time held, PT).
    pt = pt_scans * 10 * MS
    rows = run_scans(TON, _ins(*levels), ("Q", "ET"), fixed={"PT": pt})
    for k, (_, q, et) in enumerate(rows):
        if not levels[k]:
            assert (q, et) == (False, 0)
            continue
        held = (k - _last_rise(levels, k)) * 10
        assert q == (held * MS >= pt)
        assert et == min(held, pt // MS)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=60), st.integers(1, 12))
def test_tp_pulses_have_exactly_the_preset_width(levels: list[bool], pt_scans: int) -> None:
    rows = run_scans(TP, _ins(*levels), ("Q",), fixed={"PT": pt_scans * 10 * MS})
    q = [r[1] for r in rows]
    k = 0
    while k < len(q):
        if q[k]:
            # A pulse starts on a rising edge and lasts PT (truncated at the end).
            assert levels[k] and (k == 0 or not levels[k - 1])
            assert q[k : k + pt_scans] == [True] * len(q[k : k + pt_scans])
            if k + pt_scans < len(q):
                assert not q[k + pt_scans]
            k += pt_scans
        else:
            k += 1
