"""The one parallel-map helper: order, shared values, progress, failures, unreachable clusters."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from phactory.errors import InvalidError, UnavailableError
from phactory.parallel import ClusterUnavailableError, parallel_map


def square(x: int) -> int:
    return x * x


def scaled(factor: int, x: int) -> tuple[int, int]:
    return factor * x, x


def wait_for_flag(flag: str, x: int) -> int:
    # Task 0 returns at once; task 1 waits until the parent's progress callback has seen
    # task 0 finish (a deadlock guard raises if it never does).
    import os
    import time

    if x == 0:
        return x
    for _ in range(3000):
        if os.path.exists(flag):
            return x
        time.sleep(0.01)
    raise TimeoutError("progress was not reported while tasks were still running")


def fail_on_three(x: int) -> int:
    if x == 3:
        raise ArithmeticError(f"no {x}")
    return x


@pytest.mark.parametrize(("workers", "chunk_size"), [(1, 1), (2, 1), (2, 3)])
def test_results_come_back_in_input_order(workers: int, chunk_size: int) -> None:
    seen: list[tuple[int, int]] = []
    items = list(range(10))
    out = parallel_map(
        square,
        items,
        workers=workers,
        chunk_size=chunk_size,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert out == [x * x for x in items]
    done = [d for d, _ in seen]
    assert done == sorted(done) and done[-1] == 10
    assert {t for _, t in seen} == {10}


def test_progress_is_reported_as_tasks_finish(tmp_path: Path) -> None:
    flag = tmp_path / "first-done"
    seen: list[int] = []

    def progress(done: int, _total: int) -> None:
        seen.append(done)
        flag.touch()

    assert parallel_map(wait_for_flag, [0, 1], shared=str(flag), workers=2, progress=progress) == [
        0,
        1,
    ]
    assert seen == [1, 2]


@pytest.mark.parametrize("workers", [1, 2])
def test_shared_value_is_the_first_argument(workers: int) -> None:
    assert parallel_map(scaled, [1, 2, 3], shared=10, workers=workers) == [
        (10, 1),
        (20, 2),
        (30, 3),
    ]


@pytest.mark.parametrize("workers", [1, 2])
def test_the_first_failure_is_raised_as_it_was(workers: int) -> None:
    with pytest.raises(ArithmeticError, match="no 3"):
        parallel_map(fail_on_three, range(6), workers=workers)


def test_empty_input_gives_empty_output() -> None:
    assert parallel_map(square, [], workers=2) == []


@pytest.mark.parametrize("bad", [0, -1, True])
def test_bad_worker_counts_are_refused(bad: int) -> None:
    with pytest.raises(InvalidError, match="worker processes"):
        parallel_map(square, [1, 2], workers=bad)
    with pytest.raises(InvalidError, match="chunk_size"):
        parallel_map(square, [1, 2], chunk_size=bad)


def test_dask_cluster_gives_the_same_results() -> None:
    distributed = pytest.importorskip("distributed")
    seen: list[int] = []
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        by_object = parallel_map(scaled, range(7), shared=3, cluster=cluster, chunk_size=2)
        by_address = parallel_map(
            square,
            range(5),
            cluster=cluster.scheduler_address,
            progress=lambda done, _total: seen.append(done),
        )
        with distributed.Client(cluster) as client:
            with pytest.raises(ArithmeticError, match="no 3"):
                parallel_map(fail_on_three, range(5), cluster=client)
            # The caller's client is left open.
            assert client.status == "running"
    assert by_object == [(3 * x, x) for x in range(7)]
    assert by_address == [x * x for x in range(5)]
    assert sorted(seen) == seen and seen[-1] == 5


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A local TCP port bound but not listening: connections to it are refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


def test_unreachable_cluster_is_a_clear_unavailable_error(closed_port: int) -> None:
    pytest.importorskip("distributed")
    address = f"tcp://127.0.0.1:{closed_port}"
    with pytest.raises(ClusterUnavailableError) as err:
        parallel_map(square, [1, 2], cluster=address, connect_timeout=0.5)
    assert isinstance(err.value, UnavailableError)
    assert err.value.error_kind == "unavailable"
    assert err.value.address == address
    assert address in str(err.value) and "0.5 s" in str(err.value)


def test_connect_timeout_comes_from_the_environment(
    closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("distributed")
    monkeypatch.setenv("PHACTORY_CLUSTER_TIMEOUT", "0.25")
    with pytest.raises(ClusterUnavailableError, match=r"within 0\.25 s"):
        parallel_map(square, [1], cluster=f"127.0.0.1:{closed_port}")
    monkeypatch.setenv("PHACTORY_CLUSTER_TIMEOUT", "soon")
    with pytest.raises(InvalidError, match="PHACTORY_CLUSTER_TIMEOUT"):
        parallel_map(square, [1], cluster=f"127.0.0.1:{closed_port}")


def test_malformed_address_is_invalid() -> None:
    pytest.importorskip("distributed")
    with pytest.raises(InvalidError, match="not a Dask scheduler address"):
        parallel_map(square, [1], cluster="no-port-here", connect_timeout=0.5)
