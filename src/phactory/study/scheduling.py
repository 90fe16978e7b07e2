"""The plant twin's dispatching as the scheduler's warm start.

The twin dispatches batches with simple rules (FIFO, EDD, priority) and its own
look-ahead; the order in which its deterministic run starts the batches is a good
sequence to hand CP-SAT. :func:`twin_dispatch_order` extracts it;
``Scheduler(dispatch_orders=(order,))`` builds the warm start from it with the serial
schedule-generation scheme, so the hint is feasible on the scheduler's time grain and
the schedule returned is never worse than it.
"""

from __future__ import annotations

from phactory.model import Site

__all__ = ["twin_dispatch_order"]


def twin_dispatch_order(
    site: Site, days: float | None = None, dispatch: str = "fifo"
) -> tuple[str, ...]:
    """Batch ids in the order the deterministic twin started them (unstarted last).

    Raises
    ------
    phactory.twin.TwinError
        If the plan cannot be simulated.
    """
    from phactory.twin import simulate

    log = simulate(site, days=days, seed=0, dispatch=dispatch, deterministic=True)
    b = log.batches.sort_values(["start_h", "release_h"], na_position="last", kind="stable")
    return tuple(str(x) for x in b["batch"])
