"""``BatchModel``: batch evolution monitoring as SIMCA-online does it, in one estimator.

``fit`` takes good, complete batches (and optionally their final quality):

1. each batch's missing values are filled forward (a value holds until the next one is
   measured; values before the first measurement take it);
2. the batches are aligned (:mod:`~phactory.monitor.batch.align`): every row gets a
   progress in [0, 1] and every batch a trajectory on ``n_points`` grid points;
3. the evolution model (:mod:`~phactory.monitor.batch.evolution`) is fitted on the
   trajectories; its per-point covariances and chart limits come from the batches'
   own rows;
4. its T2 and SPE limits at each grid point (:mod:`~phactory.monitor.batch.limits`) come
   from the rows of training batches scored by models fitted without them
   (cross-validation by batch: :data:`~phactory.monitor.batch.limits.CV_FOLDS` folds,
   leave-one-batch-out when there are no more batches than that), calibrated so that a
   share ``target_far`` of those rows is over a limit; :attr:`BatchModel.far_` is the
   share over the limits calibrated without each fold in turn: an honest estimate of
   the false-alarm rate on new good batches. Rows are scored and limited twice: at the
   batch's own clock (complete batches) and at the reference's (running batches, whose
   pace adds to the spread: :mod:`~phactory.monitor.batch.limits`);
5. the batch-level model (:mod:`~phactory.monitor.batch.level`) is fitted on the
   unfolded trajectories, with the PLS to quality if quality is given.

``score`` takes one batch, complete or running, and scores **every row** at its own
progress against the limits there: a running batch is scored up to where it is, as each
of its rows arrives. Whether a batch is complete is decided by its alignment (it has gone
about as far as the shortest training batch; :mod:`~phactory.monitor.batch.align`) unless
the caller says so. Complete batches are
also judged as a whole by the batch-level model; the final quality is predicted for
both (for a running batch, with its future at the mean trajectory).

A row raises an alarm when T2 or SPE is over its limit (and, with ``persistence=(k, n)``,
when that held for ``k`` of the last ``n`` rows). The false-alarm rate ``target_far`` is
per row, before the persistence rule.

Models are saved as JSON (:func:`phactory.monitor.modelfile.save_model`, family
``"batch"``, state version :data:`STATE_VERSION`) and reload to bit-identical scores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from statistics import NormalDist
from typing import Any, ClassVar, Self

import numpy as np

from phactory.errors import InvalidError
from phactory.monitor.batch.align import (
    Alignment,
    MaturityAlignment,
    alignment_from_state,
    fill_forward,
    make_alignment,
)
from phactory.monitor.batch.evolution import EVOLUTION_METHODS, Evolution, fit_evolution
from phactory.monitor.batch.level import BatchLevel, fit_level
from phactory.monitor.batch.limits import (
    Limits,
    calibrated_limits,
    cross_validated_stats,
    interpolate,
)
from phactory.monitor.batch.scores import BatchScores
from phactory.monitor.batch.trajectory import MIN_ROWS, Batch
from phactory.monitor.modelfile import StateReader

__all__ = ["MIN_BATCHES", "STATE_VERSION", "BatchModel", "BatchScores"]

#: Version of the state this class writes (and the newest it reads).
STATE_VERSION = 1
#: Fewest training batches.
MIN_BATCHES = 5


class BatchModel:
    """Batch evolution and batch-level monitoring (see the module docstring).

    Parameters
    ----------
    align
        ``"time"``, ``"maturity:COLUMN"`` or ``"dtw"`` (:mod:`~phactory.monitor.batch.align`).
    n_points
        Grid points of the aligned trajectories (10 to 2,000).
    n_components
        Components of the evolution model; None chooses them.
    target_far
        False-alarm rate per row the limits are calibrated to (and of the batch-level
        limits, per batch), in (0, 0.5).
    quality
        Names of the final quality columns, when ``fit`` is given quality.
    method
        Evolution model: ``"pls"`` (SIMCA, y = progress) or ``"pca"`` (deviations from
        the mean trajectory); :mod:`~phactory.monitor.batch.evolution`.
    persistence
        ``(k, n)``: an alarm needs ``k`` of the last ``n`` rows over a limit.
    """

    family: ClassVar[str] = "batch"

    def __init__(
        self,
        *,
        align: str = "time",
        n_points: int = 100,
        n_components: int | None = None,
        target_far: float = 0.01,
        quality: Sequence[str] = (),
        method: str = "pls",
        persistence: tuple[int, int] = (1, 1),
    ) -> None:
        self.align = align
        self.n_points = n_points
        self.n_components = n_components
        self.target_far = target_far
        self.quality = quality
        self.method = method
        self.persistence = persistence

    # ------------------------------------------------------------------ fitting
    def _check(self) -> None:
        if not isinstance(self.n_points, int) or not 10 <= self.n_points <= 2000:
            raise InvalidError(
                f"n_points must be an integer from 10 to 2000, not {self.n_points!r}"
            )
        if not 0.0 < float(self.target_far) < 0.5:
            raise InvalidError(f"target_far must be in (0, 0.5), not {self.target_far!r}")
        if self.n_components is not None and (
            not isinstance(self.n_components, int) or self.n_components < 1
        ):
            raise InvalidError(
                f"n_components must be a positive integer, not {self.n_components!r}"
            )
        if self.method not in EVOLUTION_METHODS:
            raise InvalidError(
                f"unknown method {self.method!r} (known: {', '.join(EVOLUTION_METHODS)})"
            )
        k, n = self.persistence
        if not (isinstance(k, int) and isinstance(n, int) and 1 <= k <= n <= 1000):
            raise InvalidError(f"persistence must be k of n with 1 <= k <= n, not {k}/{n}")

    def _prepare(
        self, batch: Batch, *, training: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Times, model variables (filled forward) and maturity of one batch."""
        if batch.n_rows < (MIN_ROWS if training else 1) or np.any(np.diff(batch.time) <= 0):
            need = f"at least {MIN_ROWS} rows" if training else "a row"
            raise InvalidError(f"{batch.where()}: times must increase, with {need}")
        index = {n: i for i, n in enumerate(batch.variables)}
        missing = [n for n in self.variables_ if n not in index]
        if missing:
            raise InvalidError(
                f"{batch.source or 'batch'}: the model's variable(s) "
                f"{', '.join(map(repr, missing[:10]))} are not numeric columns of batch "
                f"{batch.id!r}"
            )
        x = fill_forward(batch.values[:, [index[n] for n in self.variables_]], backfill=training)
        if training:
            empty = np.flatnonzero(np.isnan(x).all(axis=0))
            if empty.size:
                raise InvalidError(
                    f"{batch.where(None, self.variables_[int(empty[0])])}: no value in the "
                    f"whole batch"
                )
        maturity = None
        if self.maturity_ is not None:
            if self.maturity_ not in index:
                raise InvalidError(
                    f"{batch.source or 'batch'}: no maturity column {self.maturity_!r} in "
                    f"batch {batch.id!r}"
                )
            raw = batch.values[:, [index[self.maturity_]]]
            if np.isnan(raw).all():
                raise InvalidError(f"{batch.where(None, self.maturity_)}: no maturity value")
            maturity = fill_forward(raw, backfill=True)[:, 0]
            if training and not np.nanmax(maturity) > maturity[0]:
                raise InvalidError(
                    f"{batch.where(None, self.maturity_)}: the maturity variable does not "
                    f"increase in this batch, so it cannot measure its progress"
                )
        return batch.time, x, maturity

    def fit(self, batches: Sequence[Batch], quality: np.ndarray | None = None) -> BatchModel:
        """Fit on good, complete batches; ``quality`` (B, r) their final quality."""
        self._check()
        alignment = make_alignment(self.align)
        n_b = len(batches)
        where = batches[0].source if batches and batches[0].source else "batches"
        if n_b < MIN_BATCHES:
            raise InvalidError(
                f"{where}: {n_b} batch(es); a batch model needs at least {MIN_BATCHES} good, "
                f"complete batches"
            )
        ids = [b.id for b in batches]
        if len(set(ids)) != n_b:
            raise InvalidError(f"{where}: batch ids repeat ({sorted(ids)[:5]}...)")
        variables = batches[0].variables
        for b in batches[1:]:
            if b.variables != variables:
                raise InvalidError(f"{b.where()}: its variables differ from batch {ids[0]!r}'s")
        self.maturity_ = alignment.column if isinstance(alignment, MaturityAlignment) else None
        if self.maturity_ is not None and self.maturity_ not in variables:
            raise InvalidError(
                f"{where}: the maturity column {self.maturity_!r} is not a numeric column "
                f"(variables: {', '.join(variables[:12])})"
            )
        self.variables_ = tuple(v for v in variables if v != self.maturity_)
        if not self.variables_:
            raise InvalidError(f"{where}: no variable left besides the maturity column")
        names = tuple(self.quality)
        q = self._quality(batches, quality, names)
        prepared = [self._prepare(b, training=True) for b in batches]
        grid = np.linspace(0.0, 1.0, self.n_points)
        times, xs, ms = (list(col) for col in zip(*prepared, strict=True))
        alignment.fit(times, xs, ms, grid)
        aligned = [alignment.align(t, x, m, grid, complete=True) for t, x, m in prepared]
        traj = np.stack([a.trajectory for a in aligned])
        rows = (np.vstack(xs), np.concatenate([a.progress for a in aligned]))
        running = np.concatenate(
            [alignment.align(t, x, m, grid, complete=False).progress for t, x, m in prepared]
        )
        owner = np.repeat(np.arange(n_b), [x.shape[0] for x in xs])
        ev = fit_evolution(traj, grid, rows, method=self.method, n_components=self.n_components)

        def refit(train: np.ndarray, keep: np.ndarray) -> Evolution:
            kept = (rows[0][keep], rows[1][keep])
            return fit_evolution(
                traj[train], grid, kept, method=self.method, n_components=ev.n_components
            )

        fold, stats = cross_validated_stats(refit, rows[0], (rows[1], running), owner)
        alpha = float(self.target_far)
        self.limits_ = calibrated_limits(grid, rows[1], *stats[0], fold, owner, alpha)
        self.running_limits_ = calibrated_limits(grid, running, *stats[1], fold, owner, alpha)
        self.alignment_ = alignment
        self.evolution_ = ev
        self.level_ = fit_level(traj, target_far=self.target_far, quality=q, quality_names=names)
        self.batches_ = tuple(ids)
        return self

    def _quality(
        self, batches: Sequence[Batch], quality: np.ndarray | None, names: tuple[str, ...]
    ) -> np.ndarray | None:
        if not names:
            return None
        if quality is None:
            raise InvalidError(f"quality {', '.join(names)} named but no quality values given")
        q = np.asarray(quality, dtype=float).reshape(len(batches), -1)
        if q.shape[1] != len(names):
            raise InvalidError(f"{q.shape[1]} quality column(s) for {len(names)} name(s)")
        bad = np.argwhere(~np.isfinite(q))
        if bad.size:
            b, j = (int(v) for v in bad[0])
            raise InvalidError(
                f"{batches[b].where(None, names[j])}: final quality is missing or not finite"
            )
        return q

    # ------------------------------------------------------------------ scoring
    @property
    def n_components_(self) -> int:
        return self.evolution_.n_components

    @property
    def grid_(self) -> np.ndarray:
        """``(n_points,)`` progress of the grid points."""
        return self.evolution_.grid

    @property
    def far_(self) -> float:
        """Cross-validated false-alarm rate per row of complete batches (step 4)."""
        return self.limits_.far

    def score(self, batch: Batch, *, complete: bool | None = None) -> BatchScores:
        """Score every row of ``batch`` at its progress (module docstring).

        Parameters
        ----------
        batch
            A complete or running batch with the model's variables.
        complete
            Score it as complete (True) or running (False); None decides by its alignment.
        """
        t, x, m = self._prepare(batch, training=False)
        if complete is None:
            end = self.alignment_.running_end(t, x, m, self.grid_)
            complete = bool(end >= self.alignment_.complete_at - 1e-9)
        if complete and batch.n_rows < 2:
            raise InvalidError(f"{batch.where()}: a complete batch needs at least 2 rows")
        al = self.alignment_.align(t, x, m, self.grid_, complete=complete)
        p = al.progress
        ev = self.evolution_
        rs = ev.stats(x, p)
        lim = self.limits_ if complete else self.running_limits_
        t2_lim = interpolate(self.grid_, lim.t2, p)
        spe_lim = interpolate(self.grid_, lim.spe, p)
        t2_ex, spe_ex = rs.t2 > t2_lim, rs.spe > spe_lim
        c_t2, c_spe = ev.contributions(rs, t2_lim, spe_lim)
        t2_first = (t2_ex & ~spe_ex) | (~t2_ex & ~spe_ex & (rs.t2 / t2_lim > rs.spe / spe_lim))
        contrib = np.where(
            (t2_ex & spe_ex)[:, None], c_t2 + c_spe, np.where(t2_first[:, None], c_t2, c_spe)
        )
        z = NormalDist().inv_cdf(1.0 - float(self.target_far) / 2.0)
        s_mean = interpolate(self.grid_, ev.score_mean, p)
        s_sd = interpolate(self.grid_, ev.score_sd, p)
        level = self.level_
        stats = (
            level.stats(al.trajectory)
            if complete and al.trajectory.shape[0] == self.grid_.size
            else None
        )
        return BatchScores(
            batch=batch.id,
            progress=p,
            time=t - t[0],
            scores=rs.scores,
            score_mean=s_mean,
            score_lower=s_mean - z * s_sd,
            score_upper=s_mean + z * s_sd,
            t2=rs.t2,
            t2_limit=t2_lim,
            spe=rs.spe,
            spe_limit=spe_lim,
            alarm=self._persist(t2_ex | spe_ex),
            contributions=contrib,
            complete=complete,
            quality=level.predict(al.trajectory),
            variables=self.variables_,
            batch_t2=None if stats is None else stats.t2,
            batch_t2_limit=None if stats is None else level.t2_limit,
            batch_spe=None if stats is None else stats.spe,
            batch_spe_limit=None if stats is None else level.spe_limit,
            batch_contributions=None if stats is None else stats.contributions,
        )

    def _persist(self, exceed: np.ndarray) -> np.ndarray:
        k, n = self.persistence
        if k == 1:
            return exceed
        run = np.convolve(exceed.astype(int), np.ones(n, dtype=int))[: exceed.size]
        return np.asarray(run >= k)

    # ------------------------------------------------------------------ persistence
    def summary(self) -> dict[str, Any]:
        """What a user wants to know about a fitted model (JSON-ready)."""
        lv = self.level_
        out: dict[str, Any] = {
            "batches": len(self.batches_),
            "variables": list(self.variables_),
            "align": self.align,
            "method": self.method,
            "n_points": self.n_points,
            "components": self.n_components_,
            "target_far": float(self.target_far),
            "far_cv_rows": self.limits_.far,
            "far_cv_batches_any_alarm": self.limits_.far_batches,
            "far_cv_rows_running": self.running_limits_.far,
            "t2_limit_range": [float(self.limits_.t2.min()), float(self.limits_.t2.max())],
            "spe_limit_range": [float(self.limits_.spe.min()), float(self.limits_.spe.max())],
            "batch_level": {
                "components": int(lv.loadings.shape[1]),
                "t2_limit": lv.t2_limit,
                "spe_limit": lv.spe_limit,
            },
        }
        if lv.quality:
            assert lv.q_rmsecv is not None and lv.q_rmse_mean is not None
            out["quality"] = {
                name: {"rmsecv": float(a), "rmse_mean_predictor": float(b)}
                for name, a, b in zip(lv.quality, lv.q_rmsecv, lv.q_rmse_mean, strict=True)
            }
        return out

    def to_state(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "method": self.method,
            "align": self.align,
            "n_points": self.n_points,
            "n_components": self.n_components,
            "target_far": float(self.target_far),
            "quality": list(self.quality),
            "persistence": list(self.persistence),
            "variables": list(self.variables_),
            "maturity": self.maturity_,
            "batches": list(self.batches_),
            "alignment": self.alignment_.to_state(),
            "evolution": self.evolution_.to_state(),
            "limits": self.limits_.to_state(),
            "running_limits": self.running_limits_.to_state(),
            "level": self.level_.to_state(),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any], where: str) -> Self:
        r = StateReader(state, where)
        r.version(STATE_VERSION, "batch")
        model = cls(
            align=r.text("align"),
            n_points=r.integer("n_points"),
            n_components=None if state.get("n_components") is None else r.integer("n_components"),
            target_far=r.number("target_far"),
            quality=r.texts("quality"),
            method=r.text("method"),
            persistence=r.pair("persistence"),
        )
        model._check()
        maturity = state.get("maturity")
        if maturity is not None and not isinstance(maturity, str):
            raise InvalidError(f"{r.at('maturity')} must be a string or null")
        model.maturity_ = maturity
        model.variables_ = r.texts("variables")
        model.batches_ = r.texts("batches")
        model.alignment_ = alignment_from_state(r.child("alignment"))
        model.evolution_ = Evolution.from_state(r.child("evolution"))
        model.limits_ = Limits.from_state(r.child("limits"))
        model.running_limits_ = Limits.from_state(r.child("running_limits"))
        model.level_ = BatchLevel.from_state(r.child("level"))
        n_k, n_j = model.grid_.size, len(model.variables_)
        if n_k != model.n_points or model.evolution_.mean.size != n_j:
            raise InvalidError(f"{r.at('evolution')} does not match the variables")
        for name, lim in (("limits", model.limits_), ("running_limits", model.running_limits_)):
            if lim.t2.shape != (n_k,) or lim.spe.shape != (n_k,):
                raise InvalidError(f"{r.at(name)} needs {n_k} values per limit")
        return model

    # Fitted attributes (declared for type checkers).
    alignment_: Alignment
    evolution_: Evolution
    level_: BatchLevel
    limits_: Limits
    running_limits_: Limits
    variables_: tuple[str, ...]
    maturity_: str | None
    batches_: tuple[str, ...]
