"""The product's scheduler on job shops expressed as sites, and the job-shop checker.

A job-shop instance becomes a site (one unit per machine, one recipe per job) that the
scheduler users run solves; its proven optimum equals exhaustive enumeration on tiny
random instances, and the schedule mapped back passes the independent job-shop checker.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phactory.model.checks import check_site
from phactory.schedule.benchmarks import (
    Alternative,
    Assignment,
    NotExpressibleError,
    Operation,
    Schedule,
    ShopInstance,
    check_schedule,
    load_benchmark,
    shop_site,
    solve_instance,
)


def test_ft06_is_solved_to_its_proven_optimum_55() -> None:
    instance = load_benchmark("ft06")
    result = solve_instance(instance, time_limit=30, workers=2)
    assert result.status == "optimal"
    assert result.makespan == result.bound == 55
    assert result.schedule is not None
    assert check_schedule(instance, result.schedule) == []
    assert result.schedule.makespan == 55


@pytest.mark.parametrize(("name", "optimum"), [("la01", 666), ("la05", 593), ("la06", 926)])
def test_lawrence_instances_reach_their_optimum(name: str, optimum: int) -> None:
    instance = load_benchmark(name)
    result = solve_instance(instance, time_limit=20, workers=2)
    assert result.schedule is not None
    assert check_schedule(instance, result.schedule) == []
    assert result.status == "optimal" and result.makespan == result.bound == optimum


@pytest.mark.parametrize("name", ["ft10", "la16", "ta01"])
def test_the_site_is_the_instance(name: str) -> None:
    instance = load_benchmark(name)
    site = shop_site(instance)
    assert [p for p in check_site(site) if p.severity == "error"] == []
    assert len(site.units) == instance.n_machines and len(site.orders) == instance.n_jobs
    for j, job in enumerate(instance.jobs):
        recipe = site.recipe_for(site.orders[j])
        ups = list(recipe.unit_procedures.values())
        assert len(ups) == len(job)
        for o, (up, op) in enumerate(zip(ups, job, strict=True)):
            (alt,) = op.alternatives
            assert site.units_of_class(up.equipment_class)[0].id == f"M{alt.machine + 1:02d}"
            assert up.mean_duration == alt.duration
            assert [link.procedure for link in up.after] == ([] if o == 0 else [ups[o - 1].id])


def test_a_flexible_shop_is_refused_with_the_reason() -> None:
    with pytest.raises(NotExpressibleError, match="flexible job shop"):
        shop_site(load_benchmark("mk01"))


def test_progress_reports_improvements_in_order() -> None:
    seen: list[tuple[int | None, int, float]] = []
    instance = load_benchmark("la02")
    result = solve_instance(
        instance, time_limit=10, progress=lambda i, b, s: seen.append((i, b, s))
    )
    assert seen, "the callback must be called at least once"
    assert seen == list(result.trace)
    incumbents = [i for i, _, _ in seen if i is not None]
    bounds = [b for _, b, _ in seen]
    assert incumbents == sorted(incumbents, reverse=True)
    assert bounds == sorted(bounds)
    assert all(b <= i for i, b, _ in seen if i is not None)
    assert seen[-1][0] == result.makespan


# --- tiny random instances: the proven optimum equals exhaustive enumeration ---------------


@st.composite
def tiny_instances(draw: st.DrawFn, flexible: bool) -> ShopInstance:
    n_machines = draw(st.integers(1, 3))
    n_jobs = draw(st.integers(1, 3))
    jobs = []
    for _ in range(n_jobs):
        ops = []
        for _ in range(draw(st.integers(1, 3))):
            k = draw(st.integers(1, min(2, n_machines))) if flexible else 1
            machines = draw(
                st.lists(st.integers(0, n_machines - 1), min_size=k, max_size=k, unique=True)
            )
            ops.append(Operation(tuple(Alternative(m, draw(st.integers(1, 9))) for m in machines)))
        jobs.append(tuple(ops))
    flex = any(len(op.alternatives) > 1 for job in jobs for op in job)
    kind: Literal["jsp", "fjsp"] = "fjsp" if flex else "jsp"
    return ShopInstance("tiny", kind, n_machines, tuple(jobs))


def brute_force_makespan(instance: ShopInstance) -> int:
    """Optimum over every machine assignment and every operation order.

    An optimal schedule can be taken semi-active: each operation starts as soon as its job
    predecessor and the previous operation on its machine are done. Appending operations one
    at a time in every order that respects the job sequences, on every eligible machine,
    therefore enumerates all candidates; partial schedules are pruned by a simple bound.
    """
    jobs = instance.jobs
    best = math.inf
    tails = [[sum(op.min_duration for op in job[o:]) for o in range(len(job) + 1)] for job in jobs]

    def dfs(nxt: list[int], job_ready: list[int], machine_ready: list[int], cmax: int) -> None:
        nonlocal best
        bound = max([cmax] + [job_ready[j] + tails[j][nxt[j]] for j in range(len(jobs))])
        if bound >= best:
            return
        if all(nxt[j] == len(job) for j, job in enumerate(jobs)):
            best = cmax
            return
        for j, job in enumerate(jobs):
            if nxt[j] == len(job):
                continue
            for alt in job[nxt[j]].alternatives:
                start = max(job_ready[j], machine_ready[alt.machine])
                end = start + alt.duration
                saved = (job_ready[j], machine_ready[alt.machine])
                nxt[j] += 1
                job_ready[j] = end
                machine_ready[alt.machine] = end
                dfs(nxt, job_ready, machine_ready, max(cmax, end))
                nxt[j] -= 1
                job_ready[j], machine_ready[alt.machine] = saved

    dfs([0] * len(jobs), [0] * len(jobs), [0] * instance.n_machines, 0)
    return int(best)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_instances(flexible=False))
def test_product_optimum_equals_brute_force(instance: ShopInstance) -> None:
    result = solve_instance(instance, time_limit=10, workers=1)
    assert result.status == "optimal"
    assert result.schedule is not None
    assert check_schedule(instance, result.schedule) == []
    assert result.makespan == brute_force_makespan(instance)


# --- the job-shop checker catches injected violations ----------------------------------------


@pytest.fixture(scope="module")
def ft06_schedule() -> tuple[ShopInstance, Schedule]:
    instance = load_benchmark("ft06")
    result = solve_instance(instance, time_limit=30)
    assert result.schedule is not None
    return instance, result.schedule


def _rules(instance: ShopInstance, assignments: list[Assignment]) -> set[str]:
    return {v.rule for v in check_schedule(instance, Schedule(tuple(assignments)))}


def test_checker_accepts_the_optimal_schedule(ft06_schedule: tuple[ShopInstance, Schedule]) -> None:
    instance, schedule = ft06_schedule
    assert check_schedule(instance, schedule) == []


def test_checker_catches_each_kind_of_violation(
    ft06_schedule: tuple[ShopInstance, Schedule],
) -> None:
    instance, schedule = ft06_schedule
    base = sorted(schedule.assignments, key=lambda a: (a.job, a.op))
    first, second = base[0], base[1]  # job 0, ops 0 and 1
    assert (first.job, first.op, second.op) == (0, 0, 1)

    assert "missing" in _rules(instance, base[1:])
    assert "duplicate" in _rules(instance, [*base, base[3]])
    assert "unknown-operation" in _rules(instance, [*base, replace(base[0], job=99)])
    wrong = (first.machine + 1) % instance.n_machines
    assert "eligibility" in _rules(instance, [replace(first, machine=wrong), *base[1:]])
    assert "duration" in _rules(instance, [replace(first, end=first.end + 1), *base[1:]])
    early = replace(second, start=first.start, end=first.start + second.end - second.start)
    assert "precedence" in _rules(instance, [first, early, *base[2:]])
    shifted = replace(first, start=-first.end, end=0)
    assert "negative-start" in _rules(instance, [shifted, *base[1:]])
    # Put another operation of the same machine on top of job 0's first operation.
    other = next(a for a in base if a.machine == first.machine and a.job != first.job)
    moved = replace(other, start=first.start, end=first.start + other.end - other.start)
    assert "overlap" in _rules(instance, [moved if a == other else a for a in base])


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    instance=tiny_instances(flexible=False),
    pick=st.integers(0, 10_000),
    mutation=st.sampled_from(["drop", "stretch", "ineligible", "before-predecessor"]),
)
def test_checker_flags_random_mutations_of_feasible_schedules(
    instance: ShopInstance, pick: int, mutation: str
) -> None:
    result = solve_instance(instance, time_limit=10, workers=1)
    assert result.schedule is not None
    schedule = result.schedule
    items = list(schedule.assignments)
    a = items[pick % len(items)]
    op = instance.jobs[a.job][a.op]
    if mutation == "drop":
        items.remove(a)
        expected = "missing"
    elif mutation == "stretch":
        items[items.index(a)] = replace(a, end=a.end + 1)
        expected = "duration"
    elif mutation == "ineligible":
        spare = [m for m in range(instance.n_machines) if op.duration_on(m) is None]
        if not spare:
            return
        items[items.index(a)] = replace(a, machine=spare[0])
        expected = "eligibility"
    else:
        if a.op == 0:
            return
        prev = next(b for b in items if (b.job, b.op) == (a.job, a.op - 1))
        items[items.index(a)] = replace(a, start=prev.end - 1, end=prev.end - 1 + a.end - a.start)
        expected = "precedence"
    assert expected in {v.rule for v in check_schedule(instance, Schedule(tuple(items)))}
