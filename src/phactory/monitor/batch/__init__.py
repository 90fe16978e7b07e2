"""Batch evolution monitoring in the SIMCA-online manner.

Trajectories of complete batches (:mod:`~phactory.monitor.batch.trajectory`) are aligned
to a common maturity axis by time, by a maturity variable or by dynamic time warping
(:mod:`~phactory.monitor.batch.align`, :mod:`~phactory.monitor.batch.warping`); an
observation-level evolution model with time-varying limits on scores, T2 and SPE scores
each observation of a batch, running or complete
(:mod:`~phactory.monitor.batch.evolution`); a batch-level model of the unfolded
trajectories (multiway PCA, and PLS predicting final quality) judges complete batches
(:mod:`~phactory.monitor.batch.level`). :class:`BatchModel` joins them and is saved as a
versioned JSON model file (family ``"batch"``).
"""

from phactory.lazy import exports

__getattr__, __dir__ = exports(
    __name__,
    {
        "Batch": "trajectory",
        "batches_from_table": "trajectory",
        "BatchModel": "model",
        "BatchScores": "scores",
    },
)
