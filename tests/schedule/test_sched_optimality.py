"""Property: on tiny random plants, CP-SAT's proven optimal makespan equals brute force.

Hypothesis builds plants of 1-3 equipment classes with 1-2 units each (cleaning times, a
maintenance window, product changeovers on single units), one recipe of two unit
procedures linked with a minimum and maybe a maximum lag, and 2-3 batches with release
dates. The brute force enumerates every unit assignment and every order of the
operations on each unit; for each, the earliest start times follow from the difference
constraints (precedences, lags, releases, sequence with cleaning and changeovers, the
fixed maintenance window) by longest paths (Bellman-Ford; a positive cycle means
infeasible). The best makespan over all of them is the optimum.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_sched_sites import site_from

from phactory.schedule import assert_valid, solve


@dataclass(frozen=True)
class Case:
    units: tuple[int, ...]  # units per class
    cleaning: tuple[int, ...]  # cleaning per class [h]
    classes: tuple[int, int]  # class of each unit procedure
    durations: tuple[int, int]  # [h]
    min_lag: int
    max_lag: int | None
    releases: tuple[int, ...]  # one batch (order) each [h]
    products: tuple[int, ...]  # product of each batch
    changeover: tuple[int, ...]  # per class, only used on single-unit classes [h]
    maintenance: tuple[int, int, int] | None  # (class, start, length) on the first unit


@st.composite
def cases(draw: Any) -> Case:
    n = draw(st.integers(1, 3))
    units = tuple(draw(st.lists(st.integers(1, 2), min_size=n, max_size=n)))
    cleaning = tuple(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    classes = (draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1)))
    durations = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    min_lag = draw(st.integers(0, 2))
    max_lag = draw(st.one_of(st.none(), st.integers(min_lag, min_lag + 3)))
    nb = draw(st.integers(2, 3))
    releases = tuple(draw(st.lists(st.integers(0, 3), min_size=nb, max_size=nb)))
    products = tuple(draw(st.lists(st.integers(0, 1), min_size=nb, max_size=nb)))
    changeover = tuple(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)))
    maintenance = draw(
        st.one_of(
            st.none(),
            st.tuples(st.integers(0, n - 1), st.integers(1, 6), st.integers(1, 3)),
        )
    )
    return Case(
        units,
        cleaning,
        classes,
        durations,
        min_lag,
        max_lag,
        releases,
        products,
        changeover,
        maintenance,
    )


def _site(c: Case) -> Any:
    n = len(c.units)
    units = {f"U{k}-{j}": {"class": f"C{k}"} for k in range(n) for j in range(c.units[k])}
    classes = {
        f"C{k}": {"cleaning": {"method": "manual", "changeout": f"{c.cleaning[k]} h"}}
        if c.cleaning[k]
        else {}
        for k in range(n)
    }
    link: dict[str, Any] = {"procedure": "a", "min_lag": f"{c.min_lag} h"}
    if c.max_lag is not None:
        link["max_lag"] = f"{c.max_lag} h"

    def recipe(prod: str) -> dict[str, Any]:
        return {
            "product": prod,
            "status": "approved",
            "unit_procedures": {
                "a": {
                    "equipment_class": f"C{c.classes[0]}",
                    "operations": {"o": {"phases": {"p": {"duration": f"{c.durations[0]} h"}}}},
                },
                "b": {
                    "equipment_class": f"C{c.classes[1]}",
                    "after": [link],
                    "operations": {"o": {"phases": {"p": {"duration": f"{c.durations[1]} h"}}}},
                },
            },
        }

    changeovers = [
        {"equipment_class": f"C{k}", "from": "*", "to": "*", "duration": f"{c.changeover[k]} h"}
        for k in range(n)
        if c.units[k] == 1 and c.changeover[k] > 0
    ]
    calendar: dict[str, Any] = {}
    if c.maintenance is not None:
        k, start, length = c.maintenance
        calendar["maintenance"] = [
            {"units": [f"U{k}-0"], "start": f"2027-01-04T{start:02d}:00", "duration": f"{length} h"}
        ]
    return site_from(
        {
            "id": "hyp",
            "equipment_classes": classes,
            "areas": {"a": {"process_cells": {"c": {"units": units}}}},
            "products": {"P0": {"recipe": "R0"}, "P1": {"recipe": "R1"}},
            "recipes": {"R0": recipe("P0"), "R1": recipe("P1")},
            "changeovers": changeovers,
            "calendar": calendar,
            "plan": {
                "start": "2027-01-04T00:00",
                "horizon": "10 d",
                "orders": [
                    {
                        "id": f"O{i}",
                        "product": f"P{c.products[i]}",
                        "batches": 1,
                        "release": f"2027-01-04T{r:02d}:00",
                    }
                    for i, r in enumerate(c.releases)
                ],
            },
        }
    )


def _longest_paths(n: int, edges: list[tuple[int, int, int]]) -> list[int] | None:
    dist = [-(10**9)] * n
    dist[0] = 0
    for _ in range(n):
        changed = False
        for u, v, w in edges:
            if dist[u] > -(10**9) and dist[u] + w > dist[v]:
                dist[v] = dist[u] + w
                changed = True
        if not changed:
            return dist
    return None  # a positive cycle: infeasible


def brute_force(c: Case) -> int | None:
    """Optimal makespan [h] by enumeration, or ``None`` if infeasible."""
    nb = len(c.releases)
    ops = [(b, k) for b in range(nb) for k in range(2)]  # node = 1 + index
    node = {op: i + 1 for i, op in enumerate(ops)}
    maint_node = len(ops) + 1
    n_nodes = len(ops) + 2
    base: list[tuple[int, int, int]] = []
    for b in range(nb):
        base.append((0, node[(b, 0)], c.releases[b]))
        base.append((0, node[(b, 1)], c.releases[b]))
        base.append((node[(b, 0)], node[(b, 1)], c.durations[0] + c.min_lag))
        if c.max_lag is not None:
            base.append((node[(b, 1)], node[(b, 0)], -(c.durations[0] + c.max_lag)))
    if c.maintenance is not None:
        _k, m0, _ml = c.maintenance
        base.append((0, maint_node, m0))
        base.append((maint_node, 0, -m0))
    choices = [range(c.units[c.classes[k]]) for (_b, k) in ops]
    best: int | None = None
    for assign in itertools.product(*choices):
        per_unit: dict[tuple[int, int], list[Any]] = {}
        for op, u in zip(ops, assign, strict=True):
            per_unit.setdefault((c.classes[op[1]], u), []).append(op)
        if c.maintenance is not None:
            per_unit.setdefault((c.maintenance[0], 0), []).append("M")
        units = list(per_unit)
        for orders in itertools.product(*(itertools.permutations(per_unit[u]) for u in units)):
            edges = list(base)
            ok = True
            for (cls, _u), seq in zip(units, orders, strict=True):
                pos = {x: i for i, x in enumerate(seq)}
                if any(
                    (b, 0) in pos and (b, 1) in pos and pos[(b, 0)] > pos[(b, 1)] for b in range(nb)
                ):
                    ok = False
                    break
                prev_op: tuple[int, int] | None = None
                prev: Any = None
                for x in seq:
                    if x == "M":
                        if prev is not None:
                            edges.append(
                                (node[prev], maint_node, c.durations[prev[1]] + c.cleaning[cls])
                            )
                        prev = "M"
                        continue
                    co = 0
                    if (
                        prev_op is not None
                        and c.units[cls] == 1
                        and c.products[prev_op[0]] != c.products[x[0]]
                    ):
                        co = c.changeover[cls]
                    if prev == "M":
                        edges.append((maint_node, node[x], c.maintenance[2] + co))  # type: ignore[index]
                    if prev_op is not None:
                        edges.append(
                            (node[prev_op], node[x], c.durations[prev_op[1]] + c.cleaning[cls] + co)
                        )
                    prev_op = prev = x
            if not ok:
                continue
            dist = _longest_paths(n_nodes, edges)
            if dist is None:
                continue
            span = max(dist[node[op]] + c.durations[op[1]] for op in ops)
            if best is None or span < best:
                best = span
    return best


def _work(c: Case) -> int:
    """Number of sequences the brute force walks through (to keep examples small)."""
    total = 0
    for assign in itertools.product(
        *(range(c.units[c.classes[k]]) for _b in c.releases for k in range(2))
    ):
        counts: dict[tuple[int, int], int] = {}
        for k, u in zip(itertools.cycle((0, 1)), assign, strict=False):
            key = (c.classes[k], u)
            counts[key] = counts.get(key, 0) + 1
        prod = 1
        for v in counts.values():
            prod *= len(list(itertools.permutations(range(v)))) if v < 7 else 10**6
        total += prod
    return total


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    derandomize=True,
)
@given(cases())
def test_cp_sat_optimum_equals_brute_force(c: Case) -> None:
    assume(_work(c) <= 1500)
    site = _site(c)
    expected = brute_force(c)
    schedule = solve(site, objective="makespan", grain_h=1.0, time_limit_s=10, workers=2)
    if expected is None:
        assert schedule.status == "infeasible"
        return
    assert schedule.status == "optimal", (schedule.status, schedule.notes)
    assert schedule.objective_value == expected, (schedule.objective_value, expected, c)
    assert_valid(site, schedule)
