"""Running many model evaluations: in-process, on a local process pool, or on Dask.

The unit of work is a chunk of parameter sets evaluated by
:meth:`~phactory.process.contract.UnitOperationModel.evaluate` in one worker. Models are plain
objects that only store configuration, so they pickle cheaply to any worker.

* ``address`` given: the chunks go to the Dask cluster at that address
  (``distributed.Client(address)``), for sweeps bigger than one machine.
* otherwise, with more than one worker: a local ``concurrent.futures.ProcessPoolExecutor``
  (the default; one worker per CPU).
* ``workers=1``: in the calling process (no start-up cost; what tests use for small jobs).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from typing import Any

import numpy as np

from phactory.process.contract import FloatArray, UnitOperationModel

__all__ = ["Progress", "evaluate_many"]

#: Called as ``progress(done, total)`` after each finished chunk.
Progress = Callable[[int, int], None]


def _evaluate_chunk(
    args: tuple[UnitOperationModel, FloatArray, list[str], list[str], dict[str, object]],
) -> FloatArray:
    model, x, names, outputs, fixed = args
    return model.evaluate(x, names, outputs, fixed)


def evaluate_many(
    model: UnitOperationModel,
    samples: FloatArray,
    names: Sequence[str],
    outputs: Sequence[str] | None = None,
    fixed: Mapping[str, object] | None = None,
    *,
    workers: int | None = None,
    address: str | None = None,
    executor: Executor | None = None,
    chunks_per_worker: int = 4,
    progress: Progress | None = None,
) -> FloatArray:
    """Evaluate CQAs for every row of ``samples``, in parallel.

    Parameters
    ----------
    model
        Any model of the contract.
    samples
        Array (n, len(names)) of parameter values in declared units.
    names
        Parameter name of each column.
    outputs
        CQA names (default: all).
    fixed
        Other parameter values held constant.
    workers
        Worker processes for the local pool (default: CPU count); 1 runs in-process.
    address
        Address of a Dask scheduler (``tcp://...`` or a ``LocalCluster``'s address).
    executor
        A ready ``concurrent.futures`` executor to use instead.
    chunks_per_worker
        Chunks per worker, for load balancing.
    progress
        Callback ``progress(done, total)`` counted in rows.

    Returns
    -------
    ndarray of shape (n, len(outputs))
    """
    x = np.atleast_2d(np.asarray(samples, dtype=float))
    outs = list(outputs) if outputs is not None else model.cqa_names()
    fix = dict(fixed or {})
    n = x.shape[0]
    if n == 0:
        return np.zeros((0, len(outs)))
    n_workers = workers if workers is not None else (os.cpu_count() or 1)
    if address is None and executor is None and n_workers <= 1:
        out = np.empty((n, len(outs)))
        step = max(1, n // 50)
        for start in range(0, n, step):
            stop = min(start + step, n)
            out[start:stop] = model.evaluate(x[start:stop], list(names), outs, fix)
            if progress is not None:
                progress(stop, n)
        return out
    n_chunks = max(1, min(n, n_workers * chunks_per_worker))
    pieces = np.array_split(np.arange(n), n_chunks)
    tasks = [(model, x[idx], list(names), outs, fix) for idx in pieces]
    results: list[FloatArray | None] = [None] * len(tasks)
    done = 0
    if address is not None:
        results = _run_dask(address, tasks, pieces, progress, n)
    else:
        own = executor is None
        pool: Executor = executor if executor is not None else ProcessPoolExecutor(n_workers)
        try:
            futures = {pool.submit(_evaluate_chunk, t): i for i, t in enumerate(tasks)}
            for fut in as_completed(futures):
                i = futures[fut]
                results[i] = fut.result()
                done += len(pieces[i])
                if progress is not None:
                    progress(done, n)
        finally:
            if own:
                pool.shutdown(cancel_futures=True)
    return np.vstack([r for r in results if r is not None])


def _run_dask(
    address: str,
    tasks: list[Any],
    pieces: list[Any],
    progress: Progress | None,
    n: int,
) -> list[FloatArray | None]:
    # Imported here: distributed is heavy and only needed when a cluster is named.
    from distributed import Client
    from distributed import as_completed as dask_completed

    results: list[FloatArray | None] = [None] * len(tasks)
    with Client(address, set_as_default=False) as client:  # type: ignore[no-untyped-call]
        futures = client.map(_evaluate_chunk, tasks, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        done = 0
        for fut in dask_completed(futures, loop=client.loop):  # type: ignore[no-untyped-call]
            i = index[fut.key]
            results[i] = fut.result()
            done += len(pieces[i])
            if progress is not None:
                progress(done, n)
    return results
