"""Running independent tasks in parallel: in this process, a local process pool, or Dask.

One helper, :func:`parallel_map`, used by the plant twin's replications
(:func:`phactory.twin.replicate`) and by the process studies (sensitivity, design space,
surrogates, through :func:`phactory.process.parallel.evaluate_many`). It applies a function
to every item and returns the results **in the order of the items**, wherever they ran:

* ``cluster`` given: on a Dask distributed cluster, named by its scheduler address
  (``"tcp://host:8786"``), by a ``distributed.Client`` or by a cluster object
  (``LocalCluster``); for work bigger than one machine [1]_.
* otherwise, with more than one worker: on a local ``concurrent.futures``
  ``ProcessPoolExecutor`` (one worker per CPU by default);
* ``workers=1`` (or a single chunk): in the calling process, without start-up cost.

Two things keep the parallel part worth its cost:

* ``shared``: a value every task needs (a site, a model) is sent **once per worker**
  (the pool's initializer; a broadcast ``scatter`` on Dask) instead of once per task, and
  the function is called as ``fn(shared, item)``;
* ``chunk_size``: items travel to workers in chunks, so that many small tasks (model
  evaluations of milliseconds) do not each pay a round trip.

``progress(done, total)`` is called in this process, counted in items, as chunks finish.
The first task that raises stops the map: the remaining tasks are cancelled and the
exception is raised here as it was raised in the worker (callers that want to carry on past
failures catch them inside ``fn``).

A cluster that cannot be reached is reported within ``connect_timeout`` seconds (default
10 s, or ``PHACTORY_CLUSTER_TIMEOUT``) as :class:`ClusterUnavailableError`, naming the
address, rather than after Dask's own 30 s as an unexplained ``OSError``.

This module imports nothing of Phactory but :mod:`phactory.errors`, so every layer may use
it; ``distributed`` is imported only when a cluster is named.

References
----------
.. [1] M. Rocklin, "Dask: parallel computation with blocked algorithms and task
   scheduling", Proc. 14th Python in Science Conf. (SciPy 2015), 126-132.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from typing import Any, Final, TypeVar, overload

from phactory.errors import InvalidError, UnavailableError

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "ClusterUnavailableError",
    "Progress",
    "chunked",
    "parallel_map",
    "resolve_workers",
]

T = TypeVar("T")
S = TypeVar("S")
R = TypeVar("R")

#: ``progress(done, total)``: called in the calling process as items finish.
Progress = Callable[[int, int], None]

#: Seconds to wait for a Dask scheduler before giving up (``PHACTORY_CLUSTER_TIMEOUT``).
DEFAULT_CONNECT_TIMEOUT: Final = 10.0
_TIMEOUT_ENV: Final = "PHACTORY_CLUSTER_TIMEOUT"


class ClusterUnavailableError(UnavailableError):
    """The Dask cluster named by an address could not be reached.

    Attributes
    ----------
    address
        The scheduler address as given.
    """

    def __init__(self, address: str, message: str) -> None:
        super().__init__(message)
        self.address = address


class _NoShared:
    """Marker: no shared value (``None`` is a value a caller may share)."""


_NO_SHARED: Final = _NoShared()


def resolve_workers(workers: int | None) -> int:
    """The number of local worker processes: ``workers``, or the CPU count if ``None``.

    Raises
    ------
    InvalidError
        If ``workers`` is not a positive integer.
    """
    if workers is None:
        return os.cpu_count() or 1
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidError(f"the number of worker processes must be at least 1, got {workers!r}")
    return workers


def _connect_timeout(value: float | None) -> float:
    if value is None:
        text = os.environ.get(_TIMEOUT_ENV, "").strip()
        if not text:
            return DEFAULT_CONNECT_TIMEOUT
        try:
            value = float(text)
        except ValueError:
            raise InvalidError(f"{_TIMEOUT_ENV}={text!r} is not a number of seconds") from None
    if not (math.isfinite(value) and value > 0):
        raise InvalidError(
            f"the cluster connect timeout must be a positive number of seconds, got {value!r}"
        )
    return float(value)


# ---------------------------------------------------------------------- worker side
#: The shared value of a pool worker process, set once by :func:`_init_worker`.
_worker_shared: list[Any] = []


def _init_worker(shared: Any) -> None:
    _worker_shared[:] = [shared]


def _run_chunk(fn: Callable[..., Any], chunk: list[Any], with_shared: bool) -> list[Any]:
    # Module level so that process pools pickle it by reference.
    if with_shared:
        shared = _worker_shared[0]
        return [fn(shared, item) for item in chunk]
    return [fn(item) for item in chunk]


def _run_chunk_dask(fn: Callable[..., Any], chunk: list[Any], shared: Any) -> list[Any]:
    # On Dask the shared value arrives as an argument (a scattered future, resolved by
    # the scheduler to the worker's local copy).
    if isinstance(shared, _NoShared):
        return [fn(item) for item in chunk]
    return [fn(shared, item) for item in chunk]


# ---------------------------------------------------------------------- the map
@overload
def parallel_map(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    workers: int | None = ...,
    cluster: Any = ...,
    progress: Progress | None = ...,
    chunk_size: int = ...,
    connect_timeout: float | None = ...,
) -> list[R]: ...


@overload
def parallel_map(
    fn: Callable[[S, T], R],
    items: Iterable[T],
    *,
    shared: S,
    workers: int | None = ...,
    cluster: Any = ...,
    progress: Progress | None = ...,
    chunk_size: int = ...,
    connect_timeout: float | None = ...,
) -> list[R]: ...


def parallel_map(
    fn: Callable[..., Any],
    items: Iterable[Any],
    *,
    shared: Any = _NO_SHARED,
    workers: int | None = None,
    cluster: Any = None,
    progress: Progress | None = None,
    chunk_size: int = 1,
    connect_timeout: float | None = None,
) -> list[Any]:
    """Apply ``fn`` to every item, in parallel; return the results in input order.

    Parameters
    ----------
    fn
        The task: ``fn(item)``, or ``fn(shared, item)`` when ``shared`` is given. It runs
        in other processes, so it must be picklable by reference (a module-level function
        or a ``functools.partial`` of one).
    items
        The inputs, one task each.
    shared
        A value every task needs, sent once to each worker and passed as ``fn``'s first
        argument.
    workers
        Local worker processes (default: the CPU count); ``1`` runs in this process.
        Ignored when ``cluster`` is given.
    cluster
        A Dask scheduler address, a ``distributed.Client`` (left open) or a cluster
        object; the tasks then run on its workers.
    progress
        ``progress(done, total)`` in items, called here as chunks finish.
    chunk_size
        Items per task sent to a worker (``1``: each item on its own, the best load
        balance and the finest progress; larger for many short tasks).
    connect_timeout
        Seconds to wait for the cluster's scheduler (default 10, or the environment
        variable ``PHACTORY_CLUSTER_TIMEOUT``).

    Returns
    -------
    list
        ``fn``'s result for each item, in the order of ``items``.

    Raises
    ------
    ClusterUnavailableError
        If the cluster cannot be reached within ``connect_timeout``.
    InvalidError
        For a non-positive ``workers`` or ``chunk_size``, or a malformed address.
    Exception
        Whatever the first failing task raised.
    """
    data = list(items)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise InvalidError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    n = len(data)
    with_shared = not isinstance(shared, _NoShared)
    if cluster is not None:
        return _on_dask(fn, data, shared, cluster, progress, chunk_size, connect_timeout)
    n_workers = resolve_workers(workers)
    chunks = [data[i : i + chunk_size] for i in range(0, n, chunk_size)]
    if n_workers == 1 or len(chunks) <= 1:
        out: list[Any] = []
        for item in data:
            out.append(fn(shared, item) if with_shared else fn(item))
            if progress is not None:
                progress(len(out), n)
        return out
    n_workers = min(n_workers, len(chunks))
    pool = (
        ProcessPoolExecutor(n_workers, initializer=_init_worker, initargs=(shared,))
        if with_shared
        else ProcessPoolExecutor(n_workers)
    )
    results: list[list[Any] | None] = [None] * len(chunks)
    try:
        index: dict[Future[list[Any]], int] = {
            pool.submit(_run_chunk, fn, chunk, with_shared): i for i, chunk in enumerate(chunks)
        }
        done_items = 0
        for fut in as_completed(index):
            i = index[fut]
            results[i] = fut.result()  # raises the task's exception, if any
            done_items += len(chunks[i])
            if progress is not None:
                progress(done_items, n)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return [r for chunk_results in results if chunk_results is not None for r in chunk_results]


def _on_dask(
    fn: Callable[..., Any],
    data: list[Any],
    shared: Any,
    cluster: Any,
    progress: Progress | None,
    chunk_size: int,
    connect_timeout: float | None,
) -> list[Any]:
    # Imported here: distributed is heavy and only needed when a cluster is named.
    from distributed import Client
    from distributed import as_completed as dask_completed

    own = not isinstance(cluster, Client)
    client = _connect(cluster, connect_timeout) if own else cluster
    n = len(data)
    chunks = [data[i : i + chunk_size] for i in range(0, n, chunk_size)]
    try:
        if not chunks:
            return []
        arg: Any = shared
        if not isinstance(shared, _NoShared):
            # Ship the shared value once to every worker rather than once per task.
            [arg] = client.scatter([shared], broadcast=True)
        futures = client.map(
            _run_chunk_dask,
            [fn] * len(chunks),
            chunks,
            [arg] * len(chunks),
            pure=False,
        )
        position = {f.key: i for i, f in enumerate(futures)}
        results: list[list[Any] | None] = [None] * len(chunks)
        done_items = 0
        try:
            for fut in dask_completed(futures, loop=client.loop):  # type: ignore[no-untyped-call]
                i = position[fut.key]
                results[i] = fut.result()
                done_items += len(chunks[i])
                if progress is not None:
                    progress(done_items, n)
        except BaseException:
            client.cancel(futures)
            raise
        return [r for chunk_results in results if chunk_results is not None for r in chunk_results]
    finally:
        if own:
            client.close()


def _connect(cluster: Any, connect_timeout: float | None) -> Any:
    from distributed import Client

    timeout = _connect_timeout(connect_timeout)
    if not isinstance(cluster, str):
        return Client(cluster, set_as_default=False)  # type: ignore[no-untyped-call]
    address = cluster.strip()
    try:
        return Client(address, timeout=timeout, set_as_default=False)  # type: ignore[no-untyped-call]
    except ValueError as exc:
        raise InvalidError(
            f"{address!r} is not a Dask scheduler address (e.g. tcp://host:8786): {exc}"
        ) from None
    except (OSError, TimeoutError) as exc:
        raise ClusterUnavailableError(
            address,
            f"cannot reach the Dask cluster at {address!r} within {timeout:g} s ({exc}); "
            f"check that its scheduler is running and reachable, or set "
            f"{_TIMEOUT_ENV} to wait longer",
        ) from None


def chunked(n: int, workers: int, per_worker: int = 4) -> int:
    """A chunk size giving about ``per_worker`` chunks per worker for ``n`` items."""
    return max(1, math.ceil(n / max(1, workers * per_worker)))
