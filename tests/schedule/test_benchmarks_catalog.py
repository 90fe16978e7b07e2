"""The shipped instance files agree with catalog.json, with their sources and with their BKS."""

from __future__ import annotations

from importlib import resources

import pytest

from phactory.schedule import build_problem, dispatch
from phactory.schedule.benchmarks import (
    SUITES,
    catalog,
    check_schedule,
    load_benchmark,
    shop_assignments,
    shop_site,
    suite,
)
from phactory.schedule.benchmarks.catalog import data_text
from phactory.schedule.benchmarks.readers import parse_taillard
from phactory.schedule.benchmarks.taillard import (
    TAILLARD_15x15_SEEDS,
    format_taillard,
    generate_taillard,
    taillard_instance,
)
from phactory.schedule.solution import to_schedule

DATA = resources.files("phactory.schedule.benchmarks").joinpath("data")

EXPECTED_SIZES = {
    "ft06": (6, 6),
    "ft10": (10, 10),
    "ft20": (20, 5),
    **{f"la{i:02d}": (10, 5) for i in range(1, 6)},
    **{f"la{i:02d}": (15, 5) for i in range(6, 11)},
    **{f"la{i:02d}": (20, 5) for i in range(11, 16)},
    **{f"la{i:02d}": (10, 10) for i in range(16, 21)},
    **{f"ta{i:02d}": (15, 15) for i in range(1, 11)},
    "mk01": (10, 6),
    "mk02": (10, 6),
    "mk03": (15, 8),
    "mk04": (15, 8),
    "mk05": (15, 4),
    "mk06": (10, 15),
    "mk07": (20, 5),
    "mk08": (20, 10),
    "mk09": (20, 10),
    "mk10": (20, 15),
}

# Brandimarte (1993) instance statistics: total operations and average eligible machines.
MK_STATS = {
    "mk01": (55, 2.09),
    "mk02": (58, 4.10),
    "mk03": (150, 3.01),
    "mk04": (90, 1.91),
    "mk05": (106, 1.71),
    "mk06": (150, 3.27),
    "mk07": (100, 2.83),
    "mk08": (225, 1.43),
    "mk09": (240, 2.53),
    "mk10": (240, 2.98),
}


def test_every_data_file_is_catalogued_and_every_entry_has_a_file() -> None:
    files = {p.name for p in DATA.iterdir() if p.name.endswith((".jsp", ".tai", ".fjs"))}
    assert files == {e.file for e in catalog().values()}
    assert set(catalog()) == set(EXPECTED_SIZES)


@pytest.mark.parametrize("name", sorted(EXPECTED_SIZES))
def test_entry_is_consistent_with_its_file(name: str) -> None:
    entry = catalog()[name]
    instance = load_benchmark(name)
    assert (instance.n_jobs, instance.n_machines) == EXPECTED_SIZES[name]
    assert (entry.n_jobs, entry.n_machines) == EXPECTED_SIZES[name]
    assert instance.kind == ("fjsp" if entry.family == "mk" else "jsp")
    assert entry.lower_bound <= entry.bks
    assert entry.optimal == (entry.lower_bound == entry.bks)
    assert entry.bks_source and entry.data_source
    # The BKS can be neither below a trivial bound nor above a schedule.
    assert instance.trivial_lower_bound() <= entry.bks <= instance.horizon()
    if instance.kind == "jsp":
        # The product's dispatch heuristic on the instance as a site.
        site = shop_site(instance)
        problem = build_problem(site, grain_h=1.0)
        plan = to_schedule(problem, dispatch(problem), objective="makespan", status="heuristic")
        shop = shop_assignments(instance, plan.operations)
        assert check_schedule(instance, shop) == []
        assert shop.makespan >= entry.bks
        # Classic instances visit every machine exactly once per job.
        for job in instance.jobs:
            assert sorted(op.alternatives[0].machine for op in job) == list(
                range(instance.n_machines)
            )


@pytest.mark.parametrize("name", sorted(MK_STATS))
def test_brandimarte_statistics_match_the_literature(name: str) -> None:
    instance = load_benchmark(name)
    n_ops, flexibility = MK_STATS[name]
    assert instance.n_operations == n_ops
    alternatives = sum(len(op.alternatives) for _, _, op in instance.operations())
    assert alternatives / n_ops == pytest.approx(flexibility, abs=0.01)


@pytest.mark.parametrize("name", sorted(TAILLARD_15x15_SEEDS))
def test_taillard_files_are_what_the_published_generator_produces(name: str) -> None:
    shipped = load_benchmark(name)
    assert shipped.jobs == taillard_instance(name).jobs
    time_seed, machine_seed = TAILLARD_15x15_SEEDS[name]
    assert shipped.meta["time_seed"] == time_seed
    assert shipped.meta["machine_seed"] == machine_seed
    times, machines = generate_taillard(time_seed, machine_seed, 15, 15)
    assert data_text(catalog()[name].file) == format_taillard(
        times, machines, *TAILLARD_15x15_SEEDS[name]
    )


def test_ta01_first_job_as_printed_by_taillard() -> None:
    # Taillard (1993) / OR-Library tai15_15.txt, instance 1, first rows of both matrices.
    text = data_text("ta01.tai")
    inst = parse_taillard(text)
    first = inst.jobs[0]
    times = "94 66 10 53 26 15 65 82 10 27 93 92 96 70 83"
    machines = "7 13 5 8 4 3 11 12 9 15 10 14 6 1 2"
    assert [op.min_duration for op in first] == [int(t) for t in times.split()]
    assert [op.alternatives[0].machine + 1 for op in first] == [int(m) for m in machines.split()]


def test_suites() -> None:
    sizes = {name: len(suite(name)) for name in SUITES}
    assert sizes == {"ft": 3, "la": 20, "ta": 10, "mk": 10, "all": 43}
    with pytest.raises(ValueError, match="unknown suite"):
        suite("xx")
    with pytest.raises(KeyError, match="unknown benchmark"):
        load_benchmark("nope")
