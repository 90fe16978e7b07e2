"""The dedicated reference model of ``benchmarks/jobshop_reference.py`` (flexible shops).

Not the product's scheduler: it solves the flexible ``mk`` suite, which sites cannot
express, and serves as a comparison on the classical suites. Its results are checked by
the same independent job-shop checker.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_benchmarks_product import brute_force_makespan, tiny_instances

from phactory.schedule.benchmarks import (
    Assignment,
    Schedule,
    ShopInstance,
    check_schedule,
    load_benchmark,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from jobshop_reference import best_dispatch, dispatch, solve


def test_flexible_mk01_reaches_40_and_is_checked() -> None:
    instance = load_benchmark("mk01")
    result = solve(instance, time_limit=20, num_workers=2)
    assert result.schedule is not None
    assert check_schedule(instance, result.schedule) == []
    assert result.makespan == 40 and result.status == "optimal"


def test_ft06_is_solved_to_its_proven_optimum_55() -> None:
    instance = load_benchmark("ft06")
    result = solve(instance, time_limit=30, num_workers=2)
    assert result.status == "optimal" and result.makespan == result.bound == 55
    assert result.schedule is not None and check_schedule(instance, result.schedule) == []


def test_solver_works_without_hint_and_with_a_given_hint() -> None:
    instance = load_benchmark("la03")
    plain = solve(instance, time_limit=10, hint=None)
    assert plain.schedule is not None and not check_schedule(instance, plain.schedule)
    given_hint = dispatch(instance, "spt")
    hinted = solve(instance, time_limit=10, hint=given_hint)
    assert hinted.schedule is not None and not check_schedule(instance, hinted.schedule)
    assert hinted.makespan is not None and hinted.makespan <= given_hint.makespan


def test_an_infeasible_user_hint_is_ignored_rather_than_trusted() -> None:
    instance = load_benchmark("ft06")
    bogus = Schedule(tuple(Assignment(j, o, 0, 0, 1) for j, o, _ in instance.operations()))
    result = solve(instance, time_limit=10, hint=bogus)
    assert result.makespan == 55


@pytest.mark.parametrize("rule", ["mwkr", "mopnr", "spt", "lpt", "random"])
@pytest.mark.parametrize("name", ["ft10", "ta01", "mk06", "mk10"])
def test_dispatch_schedules_are_feasible(rule: str, name: str) -> None:
    instance = load_benchmark(name)
    assert check_schedule(instance, dispatch(instance, rule)) == []  # type: ignore[arg-type]


def test_best_dispatch_is_reproducible_for_a_seed() -> None:
    instance = load_benchmark("mk03")
    a = best_dispatch(instance, time_budget=10, seed=3, max_restarts=20)
    b = best_dispatch(instance, time_budget=10, seed=3, max_restarts=20)
    assert a == b


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(tiny_instances(flexible=False), tiny_instances(flexible=True)))
def test_reference_optimum_equals_brute_force(instance: ShopInstance) -> None:
    result = solve(instance, time_limit=10, num_workers=1)
    assert result.status == "optimal"
    assert result.schedule is not None
    assert check_schedule(instance, result.schedule) == []
    assert result.makespan == brute_force_makespan(instance)
