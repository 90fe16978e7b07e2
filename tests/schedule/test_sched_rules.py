"""Each checker rule alone, on tiny hand-built schedules, and one contract over every rule.

A two-product site (times in hours from Monday 2027-01-04 00:00 UTC): a vessel class
(2 h cleaning, 3 h changeover from ``pa`` to ``pb``, V-1 maintained from h 68 to 74), QC
slots, one operator on shift 04:00-20:00 every day. Each order has one batch: ``make``
on a vessel (``fill`` 2 h with the operator, then the continuous ``react`` 4 h with the
operator for its first hour) and, at least 1 h and at most 10 h later, ``test`` on a QC
slot (``assay`` 2 h).

:data:`CASES` gives every rule a schedule that breaks exactly that rule (the checker's
other rules find nothing) and one, close to the limit, that keeps it.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import itertools
import re
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_sched_sites import heuristic_schedule, phase, rich_site, site_from

from phactory.model import Site
from phactory.schedule import Schedule
from phactory.schedule.checker import RULES, CheckContext, CheckRule, check_schedule, run_rule
from phactory.schedule.rules.labour import coverable
from phactory.schedule.schedule import OPERATION_COLUMNS, SEGMENT_COLUMNS, Downtime
from phactory.schedule.violations import VIOLATION_KINDS, Violation

SITE = site_from(
    {
        "id": "rules",
        "timezone": "UTC",
        "skills": ["op"],
        "equipment_classes": {
            "vessel": {"cleaning": {"method": "cip", "cip": "2 h"}},
            "qc-slot": {},
        },
        "areas": {
            "a": {
                "process_cells": {
                    "c": {
                        "units": {
                            "V-1": {"class": "vessel"},
                            "V-2": {"class": "vessel"},
                            "Q-1": {"class": "qc-slot"},
                            "Q-2": {"class": "qc-slot"},
                        }
                    }
                }
            }
        },
        "products": {"pa": {"recipe": "ra"}, "pb": {"recipe": "rb"}},
        "recipes": {
            r: {
                "product": prod,
                "status": "approved",
                "unit_procedures": {
                    "make": {
                        "equipment_class": "vessel",
                        "operations": {
                            "main": {
                                "phases": {
                                    "fill": phase(2, labour=[{"skill": "op"}]),
                                    "react": phase(
                                        4,
                                        continuous=True,
                                        labour=[{"skill": "op", "scope": "setup", "setup": "1 h"}],
                                    ),
                                }
                            }
                        },
                    },
                    "test": {
                        "equipment_class": "qc-slot",
                        "after": [{"procedure": "make", "min_lag": "1 h", "max_lag": "10 h"}],
                        "operations": {"t": {"phases": {"assay": phase(2)}}},
                    },
                },
            }
            for r, prod in (("ra", "pa"), ("rb", "pb"))
        },
        "changeovers": [{"equipment_class": "vessel", "from": "pa", "to": "pb", "duration": "3 h"}],
        "shift_patterns": {
            "day": {"shifts": [{"name": "d", "start": "04:00", "duration": "16 h"}]}
        },
        "teams": {"crew": {"skills": ["op"], "headcount": 1, "shift_pattern": "day"}},
        "calendar": {
            "maintenance": [{"units": ["V-1"], "start": "2027-01-06T20:00", "duration": "6 h"}]
        },
        "plan": {
            "start": "2027-01-04T00:00",
            "horizon": "7 d",
            "orders": [
                {
                    "id": "O1",
                    "product": "pa",
                    "batches": 1,
                    "release": "2027-01-04T06:00",
                    "due": "2027-01-04T15:00",
                },
                {"id": "O2", "product": "pb", "batches": 1, "release": "2027-01-04T06:00"},
            ],
        },
    }
)

#: ``(batch, procedure) -> (unit, [(phase, start_h, end_h, crew)])``
Spec = dict[tuple[str, str], tuple[str, list[tuple[str, float, float, str]]]]


def make(unit: str, start: float, react: tuple[tuple[float, float], ...] | None = None) -> Any:
    """``make`` from ``start``: fill 2 h, react 4 h (the operator its first hour)."""
    s = start
    parts = react or ((s + 3, s + 6),)
    return (
        unit,
        [("fill", s, s + 2, "op x1"), ("react", s + 2, s + 3, "op x1")]
        + [("react", a, b, "") for a, b in parts],
    )


def assay_at(unit: str, start: float) -> Any:
    """``test`` from ``start``: the 2 h assay."""
    return (unit, [("assay", start, start + 2, "")])


BASE: Spec = {
    ("O1-B01", "make"): make("V-1", 6),
    ("O1-B01", "test"): assay_at("Q-1", 13),
    ("O2-B01", "make"): make("V-1", 30),
    ("O2-B01", "test"): assay_at("Q-1", 37),
}
ORDER = {"O1-B01": ("O1", "pa"), "O2-B01": ("O2", "pb")}


def schedule_of(spec: Spec) -> Schedule:
    """A schedule of the site from ``spec``; each operation spans its segments."""
    ops, segs = [], []
    for (batch, proc), (unit, parts) in spec.items():
        order, product = ORDER[batch]
        start, end = min(a for _, a, _, _ in parts), max(b for _, _, b, _ in parts)
        clean = 2.0 if unit.startswith("V") else 0.0
        ops.append(
            dict(
                zip(
                    OPERATION_COLUMNS,
                    [
                        order,
                        batch,
                        product,
                        proc,
                        "",
                        unit,
                        start,
                        end,
                        0.0,
                        end + clean,
                        "",
                        False,
                    ],
                    strict=True,
                )
            )
        )
        for ph, a, b, crew in parts:
            segs.append(
                dict(zip(SEGMENT_COLUMNS, [batch, proc, ph, unit, a, b, crew], strict=True))
            )
    return Schedule(
        site=SITE.id,
        epoch=SITE.epoch,
        grain_h=0.25,
        operations=pd.DataFrame(ops, columns=OPERATION_COLUMNS),
        segments=pd.DataFrame(segs, columns=SEGMENT_COLUMNS),
        status="feasible",
        orders=["O1", "O2"],
    )


def with_spec(**changes: Any) -> Callable[[], Schedule]:
    """The base schedule with some operations replaced (``O2_make=make(...)``) or dropped
    (``None``)."""

    def build() -> Schedule:
        spec = dict(BASE)
        for name, value in changes.items():
            batch, proc = name.rsplit("_", 1)
            key = (batch.replace("_", "-"), proc)
            if value is None:
                del spec[key]
            else:
                spec[key] = value
        return schedule_of(spec)

    return build


def with_attrs(build: Callable[[], Schedule], **attrs: Any) -> Callable[[], Schedule]:
    """A schedule from ``build`` with attributes replaced."""

    def go() -> Schedule:
        s = build()
        for k, v in attrs.items():
            setattr(s, k, v)
        return s

    return go


def reversed_rows() -> Schedule:
    s = schedule_of(BASE)
    s.operations = s.operations.iloc[::-1].reset_index(drop=True)
    s.segments = s.segments.iloc[::-1].reset_index(drop=True)
    return s


base = with_spec()
O1 = "O1-B01"

#: rule name -> (breaks exactly this rule, keeps it near its limit)
CASES: dict[str, tuple[Callable[[], Schedule], Callable[[], Schedule]]] = {
    "solve-status": (with_attrs(base, status="infeasible"), with_attrs(base, status="optimal")),
    "site-identity": (
        with_attrs(base, site="elsewhere"),
        with_attrs(base, epoch=SITE.epoch + dt.timedelta(seconds=0.5)),
    ),
    "completeness": (with_spec(O2_B01_test=None), reversed_rows),
    "equipment": (
        with_spec(O1_B01_test=assay_at("V-2", 13)),
        with_spec(O1_B01_test=assay_at("Q-2", 13)),
    ),
    "phase-sequence": (
        with_spec(
            O1_B01_make=(
                "V-1",
                [
                    ("react", 6, 7, "op x1"),
                    ("react", 7, 10, ""),
                    ("fill", 10, 12, "op x1"),
                ],
            )
        ),
        reversed_rows,
    ),
    "phase-durations": (
        with_spec(O1_B01_make=make("V-1", 6, react=((9, 11),))),
        with_spec(
            O1_B01_make=make("V-1", 6, react=((9, 12.25),)), O1_B01_test=assay_at("Q-1", 13.25)
        ),
    ),
    "continuous-phases": (
        with_spec(
            O1_B01_make=make("V-1", 6, react=((9, 10), (11, 13))), O1_B01_test=assay_at("Q-1", 14)
        ),
        with_attrs(
            with_spec(
                O1_B01_make=make("V-1", 6, react=((9, 10), (11, 13))),
                O1_B01_test=assay_at("Q-1", 14),
            ),
            downtime=[Downtime("V-1", 10.0, 11.0, "pump")],
        ),
    ),
    "phase-crews": (
        with_spec(
            O1_B01_make=(
                "V-1",
                [("fill", 6, 8, ""), ("react", 8, 9, "op x1"), ("react", 9, 12, "")],
            )
        ),
        with_spec(O1_B01_make=("V-1", [("fill", 6, 8, "op x1"), ("react", 8, 12, "op x1")])),
    ),
    "unit-double-booking": (
        with_spec(O2_B01_make=make("V-1", 10), O2_B01_test=assay_at("Q-1", 17)),
        with_spec(O2_B01_make=make("V-2", 10), O2_B01_test=assay_at("Q-1", 17)),
    ),
    "cleaning": (
        with_spec(O2_B01_make=make("V-1", 13), O2_B01_test=assay_at("Q-1", 20)),
        with_spec(O2_B01_make=make("V-1", 17), O2_B01_test=assay_at("Q-1", 24)),
    ),
    "changeovers": (
        with_spec(O2_B01_make=make("V-1", 15), O2_B01_test=assay_at("Q-1", 22)),
        with_spec(O2_B01_make=make("V-1", 17), O2_B01_test=assay_at("Q-1", 24)),
    ),
    "maintenance": (
        with_spec(O2_B01_make=make("V-1", 61), O2_B01_test=assay_at("Q-1", 68)),
        with_spec(O2_B01_make=make("V-1", 60), O2_B01_test=assay_at("Q-1", 67)),
    ),
    "breakdowns": (
        with_attrs(base, downtime=[Downtime("V-1", 29.0, 31.0, "leak")]),
        with_attrs(base, downtime=[Downtime("V-1", 28.0, 30.0, "leak")]),
    ),
    "precedence": (with_spec(O1_B01_test=assay_at("Q-1", 12.5)), base),
    "hold-times": (
        with_spec(O1_B01_test=assay_at("Q-1", 23)),
        with_spec(O1_B01_test=assay_at("Q-1", 22)),
    ),
    "release-dates": (
        with_spec(O1_B01_make=make("V-1", 5), O1_B01_test=assay_at("Q-1", 12)),
        base,
    ),
    "deadlines": (
        with_attrs(with_spec(O1_B01_test=assay_at("Q-1", 13.5)), deadlines=True),
        with_attrs(base, deadlines=True),
    ),
    "crew-capacity": (
        with_spec(O2_B01_make=make("V-1", 42), O2_B01_test=assay_at("Q-1", 49)),
        with_spec(O2_B01_make=make("V-1", 41), O2_B01_test=assay_at("Q-1", 48)),
    ),
}


def _rule(name: str) -> CheckRule:
    return next(r for r in RULES if r.name == name)


def test_the_base_schedule_is_valid() -> None:
    assert check_schedule(SITE, schedule_of(BASE)) == []


def test_every_rule_has_its_cases() -> None:
    assert set(CASES) == {r.name for r in RULES}


@pytest.mark.parametrize("name", sorted(CASES))
def test_rule_alone_finds_its_violation(name: str) -> None:
    bad = CASES[name][0]()
    found = check_schedule(SITE, bad)
    assert found, f"{name}: nothing found"
    assert {v.rule for v in found} == {name}, [f"{v.rule}: {v}" for v in found]
    ctx = CheckContext(SITE, bad)
    assert _rule(name).check(ctx), f"{name}: the rule alone finds nothing"


@pytest.mark.parametrize("name", sorted(CASES))
def test_rule_keeps_a_schedule_at_its_limit(name: str) -> None:
    ok = CASES[name][1]()
    assert check_schedule(SITE, ok) == []


def test_a_frozen_operation_defers_maintenance() -> None:
    s = CASES["maintenance"][0]()
    s.operations.loc[s.operations["procedure"] == "make", "frozen"] = True
    assert check_schedule(SITE, s) == []


def test_overlap_is_found_against_a_long_earlier_operation() -> None:
    # On V-1: O1 make 6-12, then O1 test 7-9 inside it, then O2 make from 10. O2 make
    # overlaps O1 make although the operation just before it (O1 test) ended at 9.
    s = with_spec(O1_B01_test=assay_at("V-1", 7), O2_B01_make=make("V-1", 10))()
    found = _rule("unit-double-booking").check(CheckContext(SITE, s))
    assert {(v.batch, v.procedure) for v in found} == {(O1, "test"), ("O2-B01", "make")}


# -- the contract every rule keeps ------------------------------------------------------


def _valid_schedules() -> list[tuple[Site, Schedule]]:
    out = [(SITE, schedule_of(BASE))]
    rich = rich_site()
    out.append((rich, heuristic_schedule(rich)))
    return out


VALID = _valid_schedules()


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_rule_contract(rule: CheckRule) -> None:
    # A name (a stable keyword), a docstring stating the constraint, declared kinds.
    assert isinstance(rule, CheckRule)
    assert re.fullmatch(r"[a-z]+(-[a-z]+)*", rule.name)
    assert (type(rule).__doc__ or "").strip()
    assert rule.kinds and set(rule.kinds) <= set(VIOLATION_KINDS)
    assert (type(rule).check.__doc__ or "").strip()
    # Accepts valid schedules.
    for site, sched in VALID:
        found = rule.check(CheckContext(site, sched))
        assert found == [], [str(v) for v in found]
    # Returns typed violations of its declared kinds, with messages, tagged by run_rule.
    bad = CASES[rule.name][0]()
    found = run_rule(rule, CheckContext(SITE, bad))
    assert isinstance(found, list) and found
    for v in found:
        assert isinstance(v, Violation)
        assert v.kind in rule.kinds and v.message and v.rule == rule.name
    # Does not change the schedule it reads.
    before = copy.deepcopy(bad)
    rule.check(CheckContext(SITE, bad))
    assert bad.operations.equals(before.operations) and bad.segments.equals(before.segments)


def test_rule_names_are_unique() -> None:
    names = [r.name for r in RULES]
    assert len(names) == len(set(names))


def test_violations_are_frozen_records() -> None:
    v = Violation("overlap", "x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.kind = "cleaning"  # type: ignore[misc]


# -- crew coverage: maximum flow against Hall's condition --------------------------------

SKILLS = ("a", "b", "c", "d")


@st.composite
def crews(draw: Any) -> tuple[dict[str, int], list[tuple[int, frozenset[str]]]]:
    need = {s: draw(st.integers(0, 4)) for s in SKILLS}
    teams = draw(
        st.lists(
            st.tuples(st.integers(0, 4), st.frozensets(st.sampled_from(SKILLS), max_size=3)),
            max_size=5,
        )
    )
    return need, teams


@given(crews())
@settings(max_examples=300, deadline=None)
def test_coverable_is_halls_condition(case: Any) -> None:
    # Teams cover the needs iff every set of skills needs no more people than the
    # teams holding any of them have (Hall's condition for transportation).
    need, teams = case
    hall = all(
        sum(need[s] for s in subset) <= sum(head for head, held in teams if held & set(subset))
        for r in range(1, len(SKILLS) + 1)
        for subset in itertools.combinations(SKILLS, r)
    )
    assert coverable(need, teams) == hall
