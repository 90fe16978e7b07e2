"""Invariants on random valid event logs (Hypothesis)."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phactory.events import STATES, EventLog
from phactory.kpi import LOSS_NODES, compute, state_hours

from .helpers import EPOCH, tiny_site

SITE = tiny_site()
BATCHES = [f"B{i}" for i in range(4)]
STATUSES = ["completed", "scrapped", "in_progress", "not_started"]


@st.composite
def event_logs(draw: st.DrawFn) -> EventLog:
    horizon = draw(st.floats(1.0, 500.0))
    units = draw(
        st.lists(st.sampled_from(["U1", "U2", "U3", "U4"]), min_size=1, max_size=4, unique=True)
    )
    rows: list[dict[str, Any]] = []
    for u in units:
        cuts = sorted(draw(st.lists(st.floats(0.0, 1.0), max_size=12)))
        bounds = [0.0, *(c * horizon for c in cuts), horizon]
        for a, b in itertools.pairwise(bounds):
            state = draw(st.sampled_from(STATES))
            bat = draw(st.sampled_from([None, *BATCHES]))
            rows.append(
                {
                    "unit": u,
                    "state": state,
                    "start_h": a,
                    "end_h": b,
                    "batch": bat,
                    "order": "O1" if bat else None,
                    "product": "p1",
                    "procedure": draw(st.sampled_from(["P", "Q"])),
                    "phase": draw(st.sampled_from(["ph1", "ph2", "hold", "x"])),
                }
            )
    batches = []
    for name in BATCHES:
        t = sorted(draw(st.lists(st.floats(0.0, horizon), min_size=3, max_size=3)))
        status = draw(st.sampled_from(STATUSES))
        batches.append(
            {
                "batch": name,
                "order": draw(st.sampled_from(["O1", "O2"])),
                "product": "p1",
                "recipe": "r1",
                "patient": None,
                "release_h": t[0],
                "start_h": t[1] if status != "not_started" else None,
                "end_h": t[2] if status in ("completed", "scrapped") else None,
                "due_h": draw(st.floats(0.0, 2 * horizon)),
                "status": status,
                "quantity": 1.0 if status == "completed" else 0.0,
            }
        )
    labour = [
        {
            "team": "ops",
            "skill": "op",
            "count": draw(st.integers(1, 3)),
            "start_h": a,
            "end_h": a + d,
            "batch": None,
            "unit": units[0],
            "phase": None,
        }
        for a, d in draw(st.lists(st.tuples(st.floats(0, horizon), st.floats(0, 50)), max_size=5))
    ]
    return EventLog(
        horizon_h=horizon, units=units, timeline=rows, batches=batches, labour=labour, epoch=EPOCH
    )


def _unit_interval(values: Any) -> bool:
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    return bool(np.all((v >= -1e-12) & (v <= 1 + 1e-9)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event_logs())
def test_state_hours_sum_to_the_horizon(log: EventLog) -> None:
    log.check()
    hours = state_hours(log)
    assert list(hours.columns) == list(STATES)
    np.testing.assert_allclose(hours.sum(axis=1), log.horizon_h, rtol=1e-9, atol=1e-9)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event_logs())
def test_oee_components_lie_in_the_unit_interval(log: EventLog) -> None:
    r = compute(log, SITE)
    ratios = [
        "availability",
        "effectiveness",
        "quality_ratio",
        "oee",
        "technical_efficiency",
        "setup_ratio",
        "utilisation",
        "busy_utilisation",
    ]
    for k in ratios:
        assert _unit_interval(r.units[k]), k
        assert _unit_interval([r.site[k]]), k
    for k in ("batch_success_rate", "on_time_delivery", "bottleneck_share"):
        assert _unit_interval([r.site[k]]), k
    u = r.units
    defined = u["oee"].notna() & u["effectiveness"].notna() & u["quality_ratio"].notna()
    np.testing.assert_allclose(
        u.loc[defined, "oee"],
        (u["availability"] * u["effectiveness"] * u["quality_ratio"])[defined],
        atol=1e-9,
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event_logs())
def test_loss_tree_adds_up(log: EventLog) -> None:
    r = compute(log, SITE)
    tree = r.loss_tree
    assert (tree["hours"] >= -1e-9).all()
    leaves = {n for n, *_ in LOSS_NODES} - {p for _, p, *_ in LOSS_NODES}
    per_unit = tree[tree["id"].isin(leaves)].groupby("unit")["hours"].sum()
    np.testing.assert_allclose(per_unit.drop("site"), log.horizon_h, rtol=1e-9)
    np.testing.assert_allclose(per_unit["site"], log.horizon_h * len(log.units), rtol=1e-9)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event_logs())
def test_bottleneck_shares_are_consistent(log: EventLog) -> None:
    b = compute(log, SITE).bottleneck
    for k in ("sole_share", "shifting_share", "momentary_share", "active_share"):
        assert _unit_interval(b[k]), k
    assert b["sole_share"].sum() <= 1 + 1e-9
    assert b["momentary_share"].sum() <= 1 + 1e-9
    assert (b["sole_share"] <= b["momentary_share"] + 1e-9).all()
    assert (b["shifting_h"] <= b["active_share"] * log.horizon_h + 1e-6).all()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event_logs())
def test_energy_and_labour_are_non_negative(log: EventLog) -> None:
    r = compute(log, SITE)
    assert (r.energy["energy_kwh"] >= 0).all()
    assert r.site["co2e_kg"] == r.site["energy_kwh"] * SITE.emission_factor
    assert (r.labour["assigned_person_h"] >= -1e-9).all()
    all_rows = r.labour[r.labour["shift"] == "all"]
    assert (all_rows["off_shift_person_h"] >= -1e-9).all()
