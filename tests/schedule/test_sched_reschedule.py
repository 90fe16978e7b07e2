"""Reactive rescheduling after a breakdown: frozen started work, a checked new plan, a diff."""

from __future__ import annotations

import pytest
from test_sched_sites import heuristic_schedule, rich_site

from phactory.model import Site
from phactory.schedule import (
    Breakdown,
    Schedule,
    assert_valid,
    reschedule,
)


@pytest.fixture(scope="module")
def site() -> Site:
    return rich_site()


@pytest.fixture(scope="module")
def plan(site: Site) -> Schedule:
    # The dispatch schedule: deterministic, so the breakdowns below hit known batches.
    s = heuristic_schedule(site)
    assert_valid(site, s)
    return s


def _op(s: Schedule, batch: str, proc: str) -> dict[str, object]:
    ops = s.operations
    row = ops[(ops["batch"] == batch) & (ops["procedure"] == proc)]
    return dict(row.iloc[0])


def test_breakdown_pauses_the_running_batch_and_reschedules_the_rest(
    site: Site, plan: Schedule
) -> None:
    running = plan.operations[plan.operations["unit"] == "R-1"].sort_values("start_h").iloc[1]
    at = float(running["start_h"]) + 2.0
    res = reschedule(site, plan, Breakdown("R-1", at, 10.0), time_limit_s=2)
    new = res.schedule
    assert new.feasible, new.explanation
    assert_valid(site, new)
    assert res.frozen == int((plan.operations["start_h"] < at).sum())
    # Started work keeps its unit and start; the running batch resumes after the repair.
    for r in plan.operations.itertuples(index=False):
        if r.start_h < at:
            again = _op(new, str(r.batch), str(r.procedure))
            assert again["unit"] == r.unit and again["start_h"] == r.start_h
            assert bool(again["frozen"])
    paused = _op(new, str(running["batch"]), str(running["procedure"]))
    assert paused["end_h"] == float(running["end_h"]) + 10.0
    # Nothing new starts before the breakdown or on R-1 while it is down.
    fresh = new.operations[~new.operations["frozen"]]
    assert (fresh["start_h"] >= at - 1e-9).all()
    down = next(d for d in new.downtime if d.reason == "breakdown")
    assert (down.unit, down.start_h, down.end_h) == ("R-1", at, at + 10.0)
    # If the paused batch now runs into R-1's maintenance (h 28-34), the maintenance is
    # deferred until the reactor is clean again: the excess is downtime after the window.
    deferred = [(d.unit, d.start_h, d.end_h) for d in new.downtime if "deferred" in d.reason]
    clean_end = float(paused["end_h"]) + 2.0
    if float(running["start_h"]) < 34.0 and clean_end > 28.0:
        assert deferred == [("R-1", 34.0, clean_end + 6.0)]
    else:
        assert deferred == []
    on_r1 = fresh[fresh["unit"] == "R-1"]
    assert ((on_r1["start_h"] >= down.end_h) | (on_r1["end_h"] <= down.start_h)).all()
    # The diff lists every unit procedure once, with what changed.
    assert len(res.diff) == len(plan.operations)
    assert set(res.diff["change"]) <= {"unchanged", "moved", "reassigned", "moved+reassigned"}
    assert res.moved >= 1
    assert "rescheduled after R-1" in new.notes[-1]


def test_breakdown_of_a_pooled_unit(site: Site, plan: Schedule) -> None:
    mix = plan.operations[plan.operations["procedure"] == "mix"].sort_values("start_h")
    first = mix.iloc[0]
    at = float(first["start_h"]) + 0.5
    res = reschedule(site, plan, Breakdown(str(first["unit"]), at, 2.0), time_limit_s=2)
    assert res.schedule.feasible, res.schedule.explanation
    assert_valid(site, res.schedule)
    fresh = res.schedule.operations[~res.schedule.operations["frozen"]]
    used = fresh[(fresh["unit"] == first["unit"]) & (fresh["start_h"] < at + 2.0)]
    assert used.empty


def test_a_long_pause_that_spoils_the_hold_time_is_explained(site: Site, plan: Schedule) -> None:
    # The first mixed batch is paused for two days: its 8 h hold before the reaction
    # then ends on a holiday, when nobody can fill the reactor.
    mix = plan.operations[plan.operations["procedure"] == "mix"].sort_values("start_h")
    first = mix.iloc[0]
    at = float(first["start_h"]) + 0.5
    res = reschedule(site, plan, Breakdown(str(first["unit"]), at, 48.0), time_limit_s=2)
    assert res.schedule.status == "infeasible"
    assert "shifts of lead / op" in (res.schedule.explanation or "")


def test_hold_time_broken_by_a_breakdown_is_explained(site: Site, plan: Schedule) -> None:
    # A mixed batch whose reaction has not started: the reactor fails for longer than
    # the 8 h the mixed material may be held.
    ops = plan.operations
    mix = ops[ops["procedure"] == "mix"].sort_values("end_h").iloc[-1]
    at = float(mix["end_h"]) + 0.25
    res = reschedule(site, plan, Breakdown("R-1", at, 30.0), time_limit_s=4)
    assert res.schedule.status == "infeasible"
    text = res.schedule.explanation or ""
    assert "'react' within 8 h after 'mix'" in text
    assert res.diff.empty


def test_bad_breakdowns_are_rejected(site: Site, plan: Schedule) -> None:
    with pytest.raises(ValueError, match="unknown unit"):
        reschedule(site, plan, Breakdown("NOPE", 1.0, 1.0))
    with pytest.raises(ValueError, match="positive"):
        reschedule(site, plan, Breakdown("R-1", 1.0, 0.0))
