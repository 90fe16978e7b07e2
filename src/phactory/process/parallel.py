"""Running many model evaluations, carrying on past the points where the model fails.

The unit of work is a chunk of parameter sets evaluated in one worker by
:meth:`~phactory.process.contract.UnitOperationModel.evaluate` (vectorised where the model
allows). Chunks run through :func:`phactory.parallel.parallel_map`, the one parallel-map
helper of Phactory: in this process (``workers=1``), on a local process pool (the default,
one worker per CPU) or on the Dask cluster at ``address``. Models are plain objects that
only store configuration, so they pickle cheaply to any worker.

A study samples a model over a box of parameters, and a model may fail at some points of
it (an integrator that gives up, a non-finite result). Such a point does not abort the
study: a chunk that fails is evaluated again point by point where it ran, each
:class:`~phactory.process.contract.SimulationError` is recorded with its row and message,
and the point's outputs are ``NaN``. What a study does with them, and when there are too
many, is :mod:`phactory.process.failures`. Any other exception is a bug or a refused input,
and still stops the study.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import numpy.typing as npt

from phactory.parallel import chunked, parallel_map, resolve_workers
from phactory.process.contract import FloatArray, SimulationError, UnitOperationModel

__all__ = ["Evaluations", "Progress", "evaluate_many"]

#: Called as ``progress(done, total)``, counted in rows, as chunks finish.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Evaluations:
    """Model outputs for every row of a sample, with the rows where the model failed.

    Attributes
    ----------
    values
        Array (n, len(outputs)); rows of failed points are ``NaN``.
    errors
        Message of the :class:`~phactory.process.contract.SimulationError` of each failed
        row, by row index.
    """

    values: FloatArray
    errors: dict[int, str] = field(default_factory=dict)

    @property
    def failed(self) -> npt.NDArray[np.bool_]:
        """Boolean mask of the failed rows."""
        mask = np.zeros(self.values.shape[0], dtype=bool)
        mask[list(self.errors)] = True
        return mask

    @property
    def n_failed(self) -> int:
        """Number of failed rows."""
        return len(self.errors)


def _evaluate_chunk(
    model: UnitOperationModel,
    names: list[str],
    outputs: list[str],
    fixed: dict[str, object],
    chunk: tuple[int, FloatArray],
) -> tuple[FloatArray, dict[int, str]]:
    # Runs in a worker: the whole chunk at once (vectorised models), and point by point only
    # if something in it failed, so that one failure costs its chunk a second pass, not the
    # study.
    start, x = chunk
    try:
        return model.evaluate(x, names, outputs, fixed), {}
    except SimulationError:
        pass
    out = np.full((x.shape[0], len(outputs)), np.nan)
    errors: dict[int, str] = {}
    for i, row in enumerate(x):
        try:
            out[i] = model.evaluate(row[None, :], names, outputs, fixed)[0]
        except SimulationError as exc:
            errors[start + i] = str(exc)
    return out, errors


def evaluate_many(
    model: UnitOperationModel,
    samples: FloatArray,
    names: Sequence[str],
    outputs: Sequence[str] | None = None,
    fixed: Mapping[str, object] | None = None,
    *,
    workers: int | None = None,
    address: str | None = None,
    chunks_per_worker: int = 4,
    progress: Progress | None = None,
) -> Evaluations:
    """Evaluate CQAs for every row of ``samples``, in parallel, recording failed points.

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
    chunks_per_worker
        Chunks per worker, for load balancing.
    progress
        Callback ``progress(done, total)`` counted in rows.

    Returns
    -------
    Evaluations
        Values (``NaN`` rows where the model failed) and the failures' messages.

    Raises
    ------
    phactory.parallel.ClusterUnavailableError
        If ``address`` names a cluster that cannot be reached.
    """
    x = np.atleast_2d(np.asarray(samples, dtype=float))
    outs = list(outputs) if outputs is not None else model.cqa_names()
    n = x.shape[0]
    if n == 0:
        return Evaluations(np.zeros((0, len(outs))))
    n_workers = resolve_workers(workers)
    # In this process, about 50 chunks for a smooth progress bar; otherwise a few per
    # worker for load balance without a round trip per point.
    size = (
        max(1, n // 50)
        if address is None and n_workers == 1
        else chunked(n, n_workers, chunks_per_worker)
    )
    starts = list(range(0, n, size))
    chunks = [(s, x[s : s + size]) for s in starts]

    def rows_done(done: int, total: int) -> None:
        if progress is not None:
            progress(n if done == total else min(n, done * size), n)

    results = parallel_map(
        partial(_evaluate_chunk, model, list(map(str, names)), outs, dict(fixed or {})),
        chunks,
        workers=n_workers,
        cluster=address,
        progress=rows_done,
    )
    values = np.vstack([v for v, _ in results])
    errors = {row: msg for _, errs in results for row, msg in errs.items()}
    return Evaluations(values, errors)
