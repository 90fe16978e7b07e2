"""Independent replications of a run, on local processes or a Dask cluster.

Replication ``i`` of ``replicate(site, n, seed)`` runs with the integer seed
``replication_seeds(seed, n)[i]``, derived with :meth:`numpy.random.SeedSequence.spawn`
so that replications are statistically independent and each one can be reproduced on
its own with ``simulate(site, seed=log.seed)`` [1]_. Results do not depend on where a
replication ran: sequentially, on a process pool, or on Dask workers.

References
----------
.. [1] A. M. Law, *Simulation Modeling and Analysis*, 5th ed., McGraw-Hill, 2015, §9.4
   (independent replications).
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from phactory.events import EventLog
from phactory.model import Site
from phactory.twin.engine import Twin
from phactory.twin.errors import TwinError

__all__ = ["replicate", "replication_seeds"]


def replication_seeds(seed: int, n: int) -> list[int]:
    """The integer seed of each of ``n`` replications of base seed ``seed``."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or int(seed) < 0:
        raise TwinError(f"seed must be a non-negative integer, got {seed!r}")
    children = np.random.SeedSequence(int(seed)).spawn(n)
    return [int(c.generate_state(1, np.uint64)[0]) for c in children]


def _one(site: Site, seed: int, options: dict[str, Any]) -> EventLog:
    # Module level so that process pools and Dask can pickle it by reference.
    return Twin(site, seed=seed, **options).run()


#: The site of a pool worker process, set once by :func:`_init_worker` so that it is not
#: pickled again for every replication (a large plan takes a tenth of a second).
_worker_site: list[Site] = []


def _init_worker(site: Site) -> None:
    _worker_site[:] = [site]


def _one_in_worker(seed: int, options: dict[str, Any]) -> EventLog:
    return _one(_worker_site[0], seed, options)


def replicate(
    site: Site,
    n: int,
    seed: int = 0,
    processes: int | None = None,
    cluster: Any = None,
    **options: Any,
) -> list[EventLog]:
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
        return _on_dask(site, seeds, options, cluster)
    workers = processes if processes is not None else (os.cpu_count() or 1)
    if workers < 1:
        raise TwinError(f"processes must be at least 1, got {processes!r}")
    workers = min(workers, n)
    if workers == 1:
        return [_one(site, s, options) for s in seeds]
    with ProcessPoolExecutor(
        max_workers=workers, initializer=_init_worker, initargs=(site,)
    ) as pool:
        return list(pool.map(_one_in_worker, seeds, [options] * n))


def _on_dask(site: Site, seeds: list[int], options: dict[str, Any], cluster: Any) -> list[EventLog]:
    from distributed import Client

    own = not isinstance(cluster, Client)
    client = Client(cluster) if own else cluster  # type: ignore[no-untyped-call]
    try:
        # Ship the site once to every worker rather than once per replication.
        [shared] = client.scatter([site], broadcast=True)
        futures = client.map(_one, [shared] * len(seeds), seeds, [options] * len(seeds), pure=False)
        results: list[EventLog] = client.gather(futures)
        return results
    finally:
        if own:
            client.close()
