"""The soft sensor: preprocessing + one PLS1 model per response + applicability domain.

A soft sensor predicts quality attributes (concentrations, titre, moisture...) from a
spectrum measured in line (PAT, ICH Q8/Q2(R2)). :class:`SoftSensor` is an estimator in
the scikit-learn manner: ``__init__`` stores parameters, :meth:`SoftSensor.fit` validates
and fits, fitted attributes end in ``_``. It chains

1. the preprocessing pipeline (:mod:`.preprocess`), fitted on the calibration spectra;
2. one PLS1 regression per response with its number of components by cross-validation
   (:mod:`.calibration`);
3. the applicability domain, Hotelling T2 and SPE of each spectrum with limits
   (:mod:`.domain`): a prediction outside it is flagged, not withheld.

Saved as versioned JSON (family ``"softsensor"``, :mod:`phactory.monitor.modelfile`); a
reloaded model predicts bit for bit as the one saved, because prediction only reads the
stored arrays (``y = (x_pre - x_mean) B + y_mean``), never refits.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np

from phactory.errors import InvalidError
from phactory.monitor.modelfile import StateReader, array_to_json
from phactory.monitor.softsensor.calibration import (
    CV_SCHEMES,
    choose_components,
    cross_validate,
    fit_pls1,
    folds,
)
from phactory.monitor.softsensor.domain import DomainModel, fit_domain, systematic_components
from phactory.monitor.softsensor.preprocess import Pipeline, parse_pipeline
from phactory.monitor.table import refuse_nonfinite

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SoftSensor", "SoftSensorPrediction"]

#: Version of the ``state`` this module writes (and the newest it reads).
STATE_VERSION = 1
#: Fewest calibration samples accepted.
MIN_SAMPLES = 5


@dataclass(frozen=True)
class SoftSensorPrediction:
    """Predictions of a soft sensor for ``n`` spectra.

    Attributes
    ----------
    y
        (n, r) predicted responses, in the units of the calibration responses.
    y_names
        The responses, in column order.
    in_domain
        (n,) bool: T2 and SPE both within their limits (the prediction can be trusted as
        far as the calibration set can tell).
    t2, spe
        (n,) Hotelling T2 [-] and SPE [squared preprocessed spectrum units].
    t2_limit, spe_limit
        The limits.
    """

    y: np.ndarray
    y_names: tuple[str, ...]
    in_domain: np.ndarray
    t2: np.ndarray
    spe: np.ndarray
    t2_limit: float
    spe_limit: float

    def to_frame(self) -> pd.DataFrame:
        """A DataFrame: one column per response, then ``in_domain``, ``t2``, ``spe``."""
        import pandas as pd

        frame = pd.DataFrame(self.y, columns=list(self.y_names))
        frame["in_domain"] = self.in_domain
        frame["t2"] = self.t2
        frame["spe"] = self.spe
        return frame


class SoftSensor:
    """A PAT soft sensor: spectra in, responses with an applicability domain out.

    Parameters
    ----------
    preprocess
        Pipeline text (``"snv,sg1"``) or sequence of steps (:mod:`.preprocess`); empty: none.
    components
        ``"auto"`` (one-standard-error rule on RMSECV, per response) or a fixed number of
        PLS components for every response.
    max_components
        Largest number tried (also capped by the samples of a fold and the variables).
    cv_folds
        Folds K of the cross-validation (capped at the number of samples).
    target_far
        Share of spectra like the calibration ones that may be flagged out of domain
        (T2 and SPE get half each).
    cv
        Fold scheme: ``"random"`` (repeated, seeded), ``"venetian"`` or ``"contiguous"``
        (for time series); see :mod:`.calibration`.
    cv_repeats
        Repeats of the random folds.
    seed
        Seed of the random folds.

    Attributes
    ----------
    x_names_, y_names_
        Variables (wavelengths) and responses.
    components_
        Components of each response's PLS1 model.
    n_components_
        The largest of them: the size of the domain model.
    rmsecv_, rmsec_, q2_
        (r,) per response at the chosen components.
    cv_rmsecv_, cv_se_
        (r, A + 1) RMSECV curves and their standard errors for 0..A components.
    pipeline_
        The fitted preprocessing.
    coef_, x_mean_, y_mean_
        Regression vectors (p, r), preprocessed-spectrum mean (p,), response means (r,).
    domain_
        The applicability domain (:class:`~.domain.DomainModel`).
    t2_limit_, spe_limit_
        Its limits.
    n_train_, fit_seconds_
        Calibration samples; wall time of the fit [s] (not saved).
    """

    family: ClassVar[str] = "softsensor"

    def __init__(
        self,
        *,
        preprocess: str | Sequence[str] = (),
        components: int | str = "auto",
        max_components: int = 20,
        cv_folds: int = 10,
        target_far: float = 0.01,
        cv: str = "random",
        cv_repeats: int = 3,
        seed: int = 0,
    ) -> None:
        self.preprocess = preprocess
        self.components = components
        self.max_components = max_components
        self.cv_folds = cv_folds
        self.target_far = target_far
        self.cv = cv
        self.cv_repeats = cv_repeats
        self.seed = seed

    # -- fitting -------------------------------------------------------------------------

    def _check_params(self) -> None:
        c = self.components
        if not (c == "auto" or (isinstance(c, int) and not isinstance(c, bool) and c >= 1)):
            raise InvalidError(f"components must be 'auto' or a whole number >= 1, not {c!r}")
        if self.max_components < 1:
            raise InvalidError(f"max_components must be >= 1, not {self.max_components}")
        if not 0 < self.target_far < 0.5:
            raise InvalidError(f"target_far must be in (0, 0.5), not {self.target_far}")
        if self.cv not in CV_SCHEMES:
            raise InvalidError(f"cv {self.cv!r} is unknown (choose {', '.join(CV_SCHEMES)})")
        if self.cv_repeats < 1:
            raise InvalidError(f"cv_repeats must be >= 1, not {self.cv_repeats}")

    def fit(
        self, X: np.ndarray, Y: np.ndarray, *, x_names: Sequence[str], y_names: Sequence[str]
    ) -> SoftSensor:
        """Calibrate on spectra ``X`` (n, p) and responses ``Y`` (n, r) (or (n,)).

        Raises
        ------
        InvalidError
            Bad parameters or pipeline (naming the step), shapes that disagree, non-finite
            values (naming row and column), fewer than 5 samples, a constant response.
        """
        start = time.perf_counter()
        self._check_params()
        pipeline = parse_pipeline(self.preprocess)
        X = np.asarray(X, dtype=float)
        Y = np.asarray(Y, dtype=float)
        if Y.ndim == 1:
            Y = Y[:, None]
        if X.ndim != 2 or Y.ndim != 2:
            raise InvalidError("X must be (samples, variables) and Y (samples, responses)")
        n, p = X.shape
        x_names, y_names = tuple(map(str, x_names)), tuple(map(str, y_names))
        if len(x_names) != p or len(set(x_names)) != p:
            raise InvalidError(f"x_names: expected {p} distinct names, got {len(set(x_names))}")
        if len(y_names) != Y.shape[1] or len(set(y_names)) != Y.shape[1]:
            raise InvalidError(f"y_names: expected {Y.shape[1]} distinct names")
        if Y.shape[0] != n:
            raise InvalidError(f"X has {n} rows (samples) but Y has {Y.shape[0]}")
        if n < MIN_SAMPLES:
            raise InvalidError(f"a soft sensor needs at least {MIN_SAMPLES} samples, got {n}")
        refuse_nonfinite(X, x_names, "X")
        refuse_nonfinite(Y, y_names, "Y")
        flat = [name for k, name in enumerate(y_names) if np.ptp(Y[:, k]) == 0]
        if flat:
            raise InvalidError(f"response(s) {', '.join(map(repr, flat))} are constant")
        fold_sets = folds(n, self.cv_folds, self.cv, repeats=self.cv_repeats, seed=self.seed)
        smallest_train = n - max(len(f) for fs in fold_sets for f in fs)
        cap = min(self.max_components, smallest_train - 1, p)
        if isinstance(self.components, int):
            if self.components > cap:
                raise InvalidError(
                    f"components {self.components}: at most {cap} with {n} samples, "
                    f"{len(fold_sets[0])} folds and {p} variables"
                )
            cap = self.components
        cv = cross_validate(X, Y, pipeline, fold_sets, cap)
        if isinstance(self.components, int):
            chosen = tuple(self.components for _ in y_names)
        else:
            chosen = tuple(choose_components(cv.rmsecv[k], cv.se[k]) for k in range(len(y_names)))
        xp = pipeline.fit_transform(X)
        self.pipeline_ = pipeline
        self.x_mean_ = np.ascontiguousarray(xp.mean(axis=0))
        self.y_mean_ = np.ascontiguousarray(Y.mean(axis=0))
        self.coef_ = np.ascontiguousarray(
            np.column_stack([fit_pls1(xp, Y[:, k], a) for k, a in enumerate(chosen)])
        )
        self.x_names_, self.y_names_ = x_names, y_names
        self.components_ = chosen
        self.n_components_ = max(chosen)
        idx = np.arange(len(y_names))
        picked = np.array(chosen)
        self.cv_rmsecv_, self.cv_se_ = cv.rmsecv, cv.se
        self.rmsecv_ = cv.rmsecv[idx, picked]
        self.q2_ = 1 - cv.press[idx, picked] / cv.ss
        self.rmsec_ = np.sqrt(np.mean((self._regress(xp) - Y) ** 2, axis=0))
        # The domain spans the regressions' components and every systematic direction of
        # the calibration spectra (see domain.py), leaving a residual space for the SPE.
        a_domain = min(max(self.n_components_, systematic_components(cv.t2)), n - 2, p - 1)
        spe_cv = cv.spe[:, :, a_domain].ravel()
        self.domain_ = fit_domain(xp, a_domain, spe_cv, self.target_far)
        self.t2_limit_, self.spe_limit_ = self.domain_.t2_limit, self.domain_.spe_limit
        self.n_train_ = n
        self.fit_seconds_ = time.perf_counter() - start
        return self

    # -- prediction ----------------------------------------------------------------------

    def _regress(self, xp: np.ndarray) -> np.ndarray:
        out: np.ndarray = (xp - self.x_mean_) @ self.coef_ + self.y_mean_
        return out

    def _fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise InvalidError("this soft sensor is not fitted; call fit() first")

    def predict(self, X: np.ndarray) -> SoftSensorPrediction:
        """Predict the responses of spectra ``X`` (n, p) (columns in ``x_names_`` order).

        Raises
        ------
        InvalidError
            Wrong number of columns, or a value that is not finite (naming row and column).
        """
        self._fitted()
        X = np.asarray(X, dtype=float)
        if X.ndim == 1:
            X = X[None, :]
        if X.ndim != 2 or X.shape[1] != len(self.x_names_):
            raise InvalidError(
                f"expected spectra of {len(self.x_names_)} variables, got shape {X.shape}"
            )
        refuse_nonfinite(X, self.x_names_, "X")
        xp = self.pipeline_.transform(X)
        t2, spe = self.domain_.statistics(xp)
        return SoftSensorPrediction(
            y=self._regress(xp),
            y_names=self.y_names_,
            in_domain=(t2 <= self.t2_limit_) & (spe <= self.spe_limit_),
            t2=t2,
            spe=spe,
            t2_limit=self.t2_limit_,
            spe_limit=self.spe_limit_,
        )

    # -- model file ----------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """The fitted model as JSON-ready values (see :mod:`phactory.monitor.modelfile`)."""
        self._fitted()
        return {
            "method": "pls1",
            "version": STATE_VERSION,
            "params": {
                "preprocess": self.pipeline_.spec,
                "components": self.components,
                "max_components": self.max_components,
                "cv_folds": self.cv_folds,
                "target_far": self.target_far,
                "cv": self.cv,
                "cv_repeats": self.cv_repeats,
                "seed": self.seed,
            },
            "x_names": list(self.x_names_),
            "y_names": list(self.y_names_),
            "preprocess": self.pipeline_.to_state(),
            "components": list(self.components_),
            "x_mean": array_to_json(self.x_mean_),
            "y_mean": array_to_json(self.y_mean_),
            "coef": array_to_json(self.coef_),
            "rmsecv": array_to_json(self.rmsecv_),
            "rmsec": array_to_json(self.rmsec_),
            "q2": array_to_json(self.q2_),
            "cv_rmsecv": array_to_json(self.cv_rmsecv_),
            "cv_se": array_to_json(self.cv_se_),
            "n_train": self.n_train_,
            "domain": self.domain_.to_state(),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any], where: str) -> Self:
        """Rebuild a saved soft sensor; refuses other methods and newer state versions."""
        r = StateReader(state, where)
        # The version first: a newer file may hold a method this Phactory does not know.
        r.version(STATE_VERSION, "soft-sensor")
        method = r.text("method")
        if method != "pls1":
            raise InvalidError(f"{r.at('method')}: unknown method {method!r}")
        pr = r.child("params")
        components: int | str = (
            pr.text("components")
            if isinstance(pr.mapping().get("components"), str)
            else pr.integer("components")
        )
        model = cls(
            preprocess=pr.text("preprocess"),
            components=components,
            max_components=pr.integer("max_components"),
            cv_folds=pr.integer("cv_folds"),
            target_far=pr.number("target_far"),
            cv=pr.text("cv"),
            cv_repeats=pr.integer("cv_repeats"),
            seed=pr.integer("seed"),
        )
        model.x_names_, model.y_names_ = r.texts("x_names"), r.texts("y_names")
        p, nr = len(model.x_names_), len(model.y_names_)
        model.pipeline_ = Pipeline.from_state(
            r.mapping().get("preprocess"), where, "state.preprocess"
        )
        comps = r.mapping().get("components")
        if not (
            isinstance(comps, list)
            and len(comps) == nr
            and all(isinstance(c, int) and not isinstance(c, bool) and c >= 1 for c in comps)
        ):
            raise InvalidError(f"{r.at('components')} must list {nr} counts >= 1")
        model.components_ = tuple(comps)
        model.n_components_ = max(comps)
        expected = {
            "x_mean": (p,),
            "y_mean": (nr,),
            "coef": (p, nr),
            "rmsecv": (nr,),
            "rmsec": (nr,),
            "q2": (nr,),
        }
        arrays = {}
        for name, shape in expected.items():
            arrays[name] = r.array(name)
            if arrays[name].shape != shape:
                raise InvalidError(f"{r.at(name)} must have shape {shape}")
        model.x_mean_, model.y_mean_, model.coef_ = (
            arrays["x_mean"],
            arrays["y_mean"],
            arrays["coef"],
        )
        model.rmsecv_, model.rmsec_, model.q2_ = arrays["rmsecv"], arrays["rmsec"], arrays["q2"]
        model.cv_rmsecv_, model.cv_se_ = r.array("cv_rmsecv"), r.array("cv_se")
        for step in model.pipeline_.steps:
            for arr in (step.reference, step.mean, step.scale):
                if arr is not None and arr.shape != (p,):
                    raise InvalidError(
                        f"{r.at('preprocess')}: step {step.spec!r} does not match the {p} variables"
                    )
        model.n_train_ = r.integer("n_train")
        model.domain_ = DomainModel.from_state(r.child("domain"), p, r.at("domain"))
        model.t2_limit_, model.spe_limit_ = model.domain_.t2_limit, model.domain_.spe_limit
        model.fit_seconds_ = float("nan")
        return model
