"""Independent replications of a run, on local processes or a Dask cluster.

Replication ``i`` of ``replicate(site, n, seed)`` runs with the integer seed
``replication_seeds(seed, n)[i]``, derived with :meth:`numpy.random.SeedSequence.spawn`
so that replications are statistically independent and each one can be reproduced on
its own with ``simulate(site, seed=log.seed)`` [1]_. Results do not depend on where a
replication ran: sequentially, on a process pool, or on Dask workers.

A study that only needs a summary of each replication (its KPIs, its adherence to a
plan) passes ``then``: the summary is computed where the replication ran, so that the
parallel part covers it too and only the summary travels back. Computing the KPIs of
twenty logs in the parent after a parallel run made the parent the bottleneck (a third
of the work, run on one core), and shipping every log back cost a pickling round trip
per replication.

References
----------
.. [1] A. M. Law, *Simulation Modeling and Analysis*, 5th ed., McGraw-Hill, 2015, §9.4
   (independent replications).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from typing import Any, TypeVar, overload

import numpy as np

from phactory.events import EventLog
from phactory.model import Site
from phactory.twin.engine import Twin
from phactory.twin.errors import TwinError

__all__ = ["Progress", "Then", "replicate", "replication_seeds"]

T = TypeVar("T")

#: ``then(index, log, site)``: the summary of replication ``index`` that ``replicate``
#: returns instead of its log. It runs where the replication ran, so it must be picklable
#: by reference (a module-level function or a ``functools.partial`` of one).
Then = Callable[[int, EventLog, Site], T]

#: ``progress(done, total)``, called in this process as replications finish.
Progress = Callable[[int, int], None]


def replication_seeds(seed: int, n: int) -> list[int]:
    """The integer seed of each of ``n`` replications of base seed ``seed``."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or int(seed) < 0:
        raise TwinError(f"seed must be a non-negative integer, got {seed!r}")
    children = np.random.SeedSequence(int(seed)).spawn(n)
    return [int(c.generate_state(1, np.uint64)[0]) for c in children]


def _one(site: Site, index: int, seed: int, options: dict[str, Any], then: Then[Any] | None) -> Any:
    # Module level so that process pools and Dask can pickle it by reference.
    log = Twin(site, seed=seed, **options).run()
    return log if then is None else then(index, log, site)


#: The site of a pool worker process, set once by :func:`_init_worker` so that it is not
#: pickled again for every replication (a large plan takes a tenth of a second).
_worker_site: list[Site] = []


def _init_worker(site: Site) -> None:
    _worker_site[:] = [site]


def _one_in_worker(index: int, seed: int, options: dict[str, Any], then: Then[Any] | None) -> Any:
    return _one(_worker_site[0], index, seed, options, then)


@overload
def replicate(
    site: Site,
    n: int,
    seed: int = ...,
    processes: int | None = ...,
    cluster: Any = ...,
    *,
    then: None = ...,
    progress: Progress | None = ...,
    **options: Any,
) -> list[EventLog]: ...


@overload
def replicate(
    site: Site,
    n: int,
    seed: int = ...,
    processes: int | None = ...,
    cluster: Any = ...,
    *,
    then: Then[T],
    progress: Progress | None = ...,
    **options: Any,
) -> list[T]: ...


def replicate(
    site: Site,
    n: int,
    seed: int = 0,
    processes: int | None = None,
    cluster: Any = None,
    *,
    then: Then[Any] | None = None,
    progress: Progress | None = None,
    **options: Any,
) -> list[Any]:
    """Run ``n`` independent replications and return their event logs, in order.

    Parameters
    ----------
    site
        The site to simulate.
    n
        Number of replications.
    seed
        Base seed; replication seeds are spawned from it (see :func:`replication_seeds`).
    processes
        Local worker processes; default the number of CPUs, ``1`` runs in this process.
    cluster
        A Dask distributed scheduler address (``"tcp://host:8786"``), a
        ``distributed.Client`` or a cluster object (e.g. ``LocalCluster``); replications
        then run on its workers and ``processes`` is ignored.
    then
        If given, ``then(index, log, site)`` is computed where each replication ran and
        returned in place of its log (see :data:`Then`).
    progress
        Called as ``progress(done, n)`` each time a replication finishes.
    **options
        Passed to :func:`phactory.twin.simulate` (``days``, ``dispatch``,
        ``deterministic``...).

    Raises
    ------
    TwinError
        If the plan cannot be simulated (checked once, before any replication runs).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise TwinError(f"n must be a positive number of replications, got {n!r}")
    if "seed" in options:
        raise TwinError("give the base seed as replicate(..., seed=...)")
    seeds = replication_seeds(seed, n)
    # Fail fast, in this process, on a plan that cannot run at all.
    from phactory.twin.validate import check_runnable, horizon_hours

    horizon_hours(site, options.get("days"))
    check_runnable(site)
    if cluster is not None:
        return _on_dask(site, seeds, options, cluster, then, progress)
    workers = processes if processes is not None else (os.cpu_count() or 1)
    if workers < 1:
        raise TwinError(f"processes must be at least 1, got {processes!r}")
    workers = min(workers, n)
    if workers == 1:
        out = []
        for i, s in enumerate(seeds):
            out.append(_one(site, i, s, options, then))
            if progress is not None:
                progress(i + 1, n)
        return out
    with ProcessPoolExecutor(
        max_workers=workers, initializer=_init_worker, initargs=(site,)
    ) as pool:
        futures = [pool.submit(_one_in_worker, i, s, options, then) for i, s in enumerate(seeds)]
        _report(futures, progress, n)
        return [f.result() for f in futures]


def _report(futures: list[Future[Any]], progress: Progress | None, n: int) -> None:
    """Call ``progress`` as futures finish; a failure is raised by ``result()`` after."""
    if progress is None:
        return
    for done, _ in enumerate(as_completed(futures), start=1):
        progress(done, n)


def _on_dask(
    site: Site,
    seeds: list[int],
    options: dict[str, Any],
    cluster: Any,
    then: Then[Any] | None,
    progress: Progress | None,
) -> list[Any]:
    from distributed import Client
    from distributed import as_completed as dask_completed

    own = not isinstance(cluster, Client)
    client = Client(cluster) if own else cluster  # type: ignore[no-untyped-call]
    n = len(seeds)
    try:
        # Ship the site once to every worker rather than once per replication.
        [shared] = client.scatter([site], broadcast=True)
        futures = client.map(
            _one,
            [shared] * n,
            list(range(n)),
            seeds,
            [options] * n,
            [then] * n,
            pure=False,
        )
        if progress is not None:
            for done, _ in enumerate(dask_completed(futures), start=1):  # type: ignore[no-untyped-call]
                progress(done, n)
        results: list[Any] = client.gather(futures)
        return results
    finally:
        if own:
            client.close()
