"""Edges, bistables and counters against IEC 61131-3:2013 Tables 43-45, worked by hand."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from phactory.control.blocks import CTD, CTD_UDINT, CTU, CTU_UDINT, CTUD, F_TRIG, R_TRIG, RS, SR
from phactory.control.pou import ScanContext

from .helpers import run_scans

T, F = True, False


def _col(rows: list[tuple[int, ...]], i: int = 1) -> list[object]:
    return [r[i] for r in rows]


def test_r_trig_and_f_trig() -> None:
    clk = [{"CLK": v} for v in (T, T, F, F, T, F, T, T)]
    assert _col(run_scans(R_TRIG, clk, ("Q",))) == [T, F, F, F, T, F, T, F]
    # F_TRIG starts with M = TRUE: a signal FALSE at start-up is no falling edge.
    low = [{"CLK": v} for v in (F, T, F, F, T, F)]
    assert _col(run_scans(F_TRIG, low, ("Q",))) == [F, F, T, F, F, T]
    assert _col(run_scans(F_TRIG, clk, ("Q",))) == [F, F, T, F, F, T, F, F]


def test_sr_is_set_dominant_and_rs_reset_dominant() -> None:
    # S/R pairs: set, hold, reset, hold, both
    sr = [{"S1": s, "R": r} for s, r in ((T, F), (F, F), (F, T), (F, F), (T, T), (F, F))]
    assert _col(run_scans(SR, sr, ("Q1",))) == [T, T, F, F, T, T]
    rs = [{"S": s, "R1": r} for s, r in ((T, F), (F, F), (F, T), (F, F), (T, T), (T, F))]
    assert _col(run_scans(RS, rs, ("Q1",))) == [T, T, F, F, F, T]


def test_ctu_counts_rising_edges_up_to_the_preset() -> None:
    steps = [
        {"CU": T},  # edge: 1
        {"CU": T},  # held: no count
        {"CU": F},
        {"CU": T},  # 2
        {"CU": F},
        {"CU": T},  # 3 = PV: Q
        {"CU": F, "R": T},  # reset wins
        {"CU": T, "R": T},  # an edge during reset does not count
        {"CU": T, "R": F},  # still TRUE: no new edge
    ]
    rows = run_scans(CTU, steps, ("CV", "Q"), fixed={"PV": 3})
    assert [(r[1], r[2]) for r in rows] == [
        (1, F),
        (1, F),
        (1, F),
        (2, F),
        (2, F),
        (3, T),
        (0, F),
        (0, F),
        (0, F),
    ]


def test_ctd_loads_and_counts_down_to_zero_and_below() -> None:
    steps = [{"LD": T}, {"LD": F, "CD": T}, {"CD": F}, {"CD": T}, {"CD": F}, {"CD": T}]
    rows = run_scans(CTD, steps, ("CV", "Q"), fixed={"PV": 2})
    # INT counts on below zero (PVmin is -32768); Q is CV <= 0.
    assert [(r[1], r[2]) for r in rows] == [(2, F), (1, F), (1, F), (0, T), (0, T), (-1, T)]


def test_ctud_edges_cancel_and_reset_beats_load() -> None:
    steps = [
        {"CU": T},  # 1
        {"CU": F},
        {"CU": T, "CD": T},  # both edges: no change
        {"CU": F, "CD": F},
        {"CD": T},  # 0
        {"CD": F, "LD": T},  # load PV = 2
        {"LD": T, "R": T},  # reset wins over load
        {"LD": T, "R": F},  # load
    ]
    rows = run_scans(CTUD, steps, ("CV", "QU", "QD"), fixed={"PV": 2})
    assert [r[1:] for r in rows] == [
        (1, F, F),
        (1, F, F),
        (1, F, F),
        (1, F, F),
        (0, F, T),
        (2, T, F),
        (0, F, T),
        (2, T, F),
    ]


def test_counters_stop_at_the_range_of_their_type() -> None:
    ctx = ScanContext()
    up = CTU(ctx)
    up.CV = 32766
    for _ in range(3):
        up.CU = True
        up()
        up.CU = False
        up()
    assert up.CV == 32767  # PVmax of INT
    down = CTD_UDINT(ctx)
    for _ in range(3):
        down.CD = True
        down()
        down.CD = False
        down()
    assert down.CV == 0  # PVmin of UDINT
    wide = CTU_UDINT(ctx)
    wide.CV = 2**32 - 2
    wide.CU = True
    wide()
    assert wide.CV == 2**32 - 1


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.booleans(), st.booleans(), st.booleans()), max_size=50))
def test_ctud_matches_a_count_of_edges(steps: list[tuple[bool, bool, bool, bool]]) -> None:
    # Reference: the standard's body written from the edge history.
    inputs = [{"CU": cu, "CD": cd, "R": r, "LD": ld} for cu, cd, r, ld in steps]
    rows = run_scans(CTUD, inputs, ("CV",), fixed={"PV": 5})
    cv, prev_cu, prev_cd = 0, False, False
    for (cu, cd, r, ld), row in zip(steps, rows, strict=True):
        up, down = cu and not prev_cu, cd and not prev_cd
        prev_cu, prev_cd = cu, cd
        if r:
            cv = 0
        elif ld:
            cv = 5
        elif up != down:
            cv += 1 if up else -1
        assert row[1] == cv
