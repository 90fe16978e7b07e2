"""Independent replications of a run, on local processes or a Dask cluster.

Replication ``i`` of ``replicate(site, n, seed)`` runs with the integer seed
``replication_seeds(seed, n)[i]``, derived with :meth:`numpy.random.SeedSequence.spawn`
so that replications are statistically independent and each one can be reproduced on
its own with ``simulate(site, seed=log.seed)`` [1]_. Results do not depend on where a
replication ran: sequentially, on a process pool, or on Dask workers (all three through
:func:`phactory.parallel.parallel_map`, the site sent once to each worker).

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

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar, overload

import numpy as np

from phactory.events import EventLog
from phactory.model import Site
from phactory.parallel import parallel_map
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
    log = Twin(site, seed=seed, **options).run()
    return log if then is None else then(index, log, site)


def _replication(
    options: dict[str, Any], then: Then[Any] | None, site: Site, task: tuple[int, int]
) -> Any:
    # The task of phactory.parallel.parallel_map: module level, so that process pools and
    # Dask pickle it by reference; the site is the map's shared value, sent once per worker.
    index, seed = task
    return _one(site, index, seed, options, then)


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
    phactory.parallel.ClusterUnavailableError
        If ``cluster`` is an address whose scheduler cannot be reached within the connect
        timeout (10 s, or ``PHACTORY_CLUSTER_TIMEOUT``).
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
    if cluster is None and processes is not None and processes < 1:
        raise TwinError(f"processes must be at least 1, got {processes!r}")
    return parallel_map(
        partial(_replication, options, then),
        list(enumerate(seeds)),
        shared=site,
        workers=processes,
        cluster=cluster,
        progress=progress,
    )
