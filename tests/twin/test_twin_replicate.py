"""Replications: sequential, on a process pool and on Dask give the same logs."""

from __future__ import annotations

import pandas as pd
import pytest
from twinsites import START, build, recipe

from phactory.events import EventLog
from phactory.model import Site
from phactory.twin import replicate, replication_seeds, simulate


def random_site() -> Site:
    classes = {"A": {"reliability": {"mtbf": "30 h", "mttr": "2 h"}}}
    ph = {
        "duration": {"distribution": "triangular", "low": "2 h", "mode": "3 h", "high": "5 h"},
        "failure_probability": 0.05,
    }
    recipes = {
        "r": recipe(
            "p", {"run": {"equipment_class": "A", "operations": {"op": {"phases": {"x": ph}}}}}
        )
    }
    orders = [{"id": "O1", "product": "p", "batches": 20, "release": START}]
    return build(classes, {"A1": "A", "A2": "A"}, recipes, orders, horizon="5 d")


def same(a: list, b: list) -> None:  # type: ignore[type-arg]
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.seed == y.seed
        pd.testing.assert_frame_equal(x.events, y.events)
        pd.testing.assert_frame_equal(x.timeline, y.timeline)


def test_seeds_are_spawned_and_replications_reproducible() -> None:
    seeds = replication_seeds(11, 3)
    assert len(set(seeds)) == 3 and seeds == replication_seeds(11, 3)
    site = random_site()
    logs = replicate(site, 3, seed=11, processes=1)
    assert [log.seed for log in logs] == seeds
    pd.testing.assert_frame_equal(logs[1].events, simulate(site, seed=seeds[1]).events)
    assert not logs[0].events.equals(logs[1].events)


def test_process_pool_equals_sequential() -> None:
    site = random_site()
    same(replicate(site, 4, seed=5, processes=2), replicate(site, 4, seed=5, processes=1))


def test_dask_cluster_equals_sequential() -> None:
    distributed = pytest.importorskip("distributed")
    site = random_site()
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        on_dask = replicate(site, 4, seed=5, cluster=cluster)
        by_address = replicate(site, 2, seed=5, cluster=cluster.scheduler_address)
        with distributed.Client(cluster) as client:
            via_client = replicate(site, 2, seed=5, cluster=client, days=2)
    same(on_dask, replicate(site, 4, seed=5, processes=1))
    same(by_address, replicate(site, 2, seed=5, processes=1))
    same(via_client, replicate(site, 2, seed=5, processes=1, days=2))


def scrapped_and_seed(index: int, log: EventLog, site: Site) -> tuple[int, int | None, str]:
    """A summary computed where the replication ran (module level: pools pickle it)."""
    return index, log.seed, f"{site.id}:{int((log.batches['status'] == 'scrapped').sum())}"


@pytest.mark.parametrize("processes", [1, 2])
def test_then_summarises_each_replication_where_it_ran(processes: int) -> None:
    site = random_site()
    logs = replicate(site, 4, seed=5, processes=1)
    seen: list[tuple[int, int]] = []
    out = replicate(
        site,
        4,
        seed=5,
        processes=processes,
        then=scrapped_and_seed,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert out == [scrapped_and_seed(i, log, site) for i, log in enumerate(logs)]
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_then_and_progress_on_dask() -> None:
    distributed = pytest.importorskip("distributed")
    site = random_site()
    seen: list[int] = []
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        out = replicate(
            site,
            3,
            seed=5,
            cluster=cluster,
            then=scrapped_and_seed,
            progress=lambda done, _total: seen.append(done),
        )
    assert out == replicate(site, 3, seed=5, processes=1, then=scrapped_and_seed)
    assert seen == [1, 2, 3]


def test_unreachable_cluster_names_its_address(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("distributed")
    import socket

    from phactory.errors import UnavailableError

    monkeypatch.setenv("PHACTORY_CLUSTER_TIMEOUT", "0.5")
    with socket.socket() as sock:
        # Bound but not listening: the connection is refused, as by a stopped scheduler.
        sock.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{sock.getsockname()[1]}"
        with pytest.raises(UnavailableError, match=address):
            replicate(random_site(), 2, seed=5, cluster=address)
