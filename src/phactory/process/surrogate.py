"""Surrogates of process models for real-time use: fitted, cross-validated, saved, timed.

A surrogate maps a model's CPPs (other parameters held at fixed values) to its CQAs. It is
fitted on model evaluations at a Latin-hypercube sample of the CPP ranges, judged by k-fold
cross-validated R^2 on that sample and by R^2 on a separate held-out sample, and timed
against the model it replaces. Three kinds:

* ``"polynomial"`` -- a total-degree Legendre polynomial in the inputs scaled to [-1, 1]
  (a regression polynomial-chaos expansion for uniform inputs [1]_), least-squares fitted,
  with the degree chosen by cross-validation; saved as JSON coefficients.
* ``"gp"`` -- a Gaussian process per CQA with an anisotropic RBF kernel plus noise
  (scikit-learn [2]_); saved with joblib.
* ``"mlp"`` -- a small multilayer perceptron (scikit-learn); saved with joblib.
* ``"auto"`` -- the polynomial if its worst cross-validated R^2 reaches 0.995, otherwise the
  better of polynomial and MLP (the MLP captures the sharp ridges of e.g. the IVT yield,
  where Mg and NTP titrate each other, that a global polynomial cannot).

CQAs that are positive and span more than a factor of 50 are fitted as log10 (a residual
solvent spanning 1e-9 to 0.2 is smooth in log, not in linear scale); R^2 is always reported
on the original scale. Every file starts with a format name and version; loading a file of
another format or version is refused. Joblib files are pickles: load only files you trust.

Points where the model fails do not abort the fit (:mod:`phactory.process.failures`): they
are left out of the training and held-out samples, listed in :attr:`Surrogate.failures`
and counted in the report (``extra["failed_training"]``, ``extra["failed_held_out"]``);
the fit is refused when more than ``max_failed_fraction`` (10 %) of the evaluations fail.

References
----------
.. [1] B. Sudret, "Global sensitivity analysis using polynomial chaos expansions", Reliab.
   Eng. Syst. Saf. 93 (2008) 964-979.
.. [2] C. E. Rasmussen, C. K. I. Williams, Gaussian Processes for Machine Learning, MIT Press,
   2006.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from itertools import combinations_with_replacement
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from phactory.process.contract import FloatArray, UnitOperationModel
from phactory.process.failures import (
    DEFAULT_MAX_FAILED_FRACTION,
    check_fraction,
    describe,
    failure_table,
)
from phactory.process.parallel import Progress, evaluate_many
from phactory.process.parameters import resolve_parameters
from phactory.process.sampling import bounds_of, space_filling

__all__ = ["FORMAT", "FORMAT_VERSION", "Surrogate", "SurrogateReport", "fit_surrogate"]

FORMAT = "phactory-process-surrogate"
FORMAT_VERSION = 1
KINDS = ("polynomial", "gp", "mlp", "auto")


class _Predictor(Protocol):
    def predict(self, z: FloatArray) -> FloatArray: ...


# ---------------------------------------------------------------------- polynomial basis
def _exponents(d: int, degree: int) -> np.ndarray:
    """All multi-indices of total degree <= ``degree`` in ``d`` variables."""
    rows = [np.zeros(d, dtype=int)]
    for k in range(1, degree + 1):
        for combo in combinations_with_replacement(range(d), k):
            e = np.zeros(d, dtype=int)
            for i in combo:
                e[i] += 1
            rows.append(e)
    return np.asarray(rows, dtype=int)


def _legendre_basis_t(z: FloatArray, exps: np.ndarray) -> FloatArray:
    """Transposed basis, shape (n_terms, n): products of Legendre polynomials P_k(z_i).

    Laid out term-major so that selecting the polynomial of each term is a copy of whole
    contiguous rows, which keeps batch prediction well under a microsecond per point.
    """
    n, d = z.shape
    deg = int(exps.max()) if exps.size else 0
    phi = np.ones((len(exps), n))
    for i in range(d):
        zi = np.ascontiguousarray(z[:, i])
        p = np.empty((deg + 1, n))
        p[0] = 1.0
        if deg >= 1:
            p[1] = zi
        for k in range(1, deg):
            p[k + 1] = ((2 * k + 1) * zi * p[k] - k * p[k - 1]) / (k + 1)
        phi *= p[exps[:, i]]
    return phi


def _legendre_basis(z: FloatArray, exps: np.ndarray) -> FloatArray:
    """Basis matrix, shape (n, n_terms), for least-squares fitting."""
    return np.ascontiguousarray(_legendre_basis_t(z, exps).T)


@dataclass
class _Polynomial:
    exponents: np.ndarray
    coefficients: FloatArray  # (n_terms, n_outputs)

    @classmethod
    def fit(cls, z: FloatArray, y: FloatArray, degree: int) -> _Polynomial:
        exps = _exponents(z.shape[1], degree)
        phi = _legendre_basis(z, exps)
        coef, *_ = np.linalg.lstsq(phi, y, rcond=None)
        return cls(exps, np.asarray(coef, dtype=float))

    def predict(self, z: FloatArray) -> FloatArray:
        out = np.empty((len(z), self.coefficients.shape[1]))
        # Blocks of rows small enough for the basis to stay in cache.
        block = max(64, 65536 // max(1, len(self.exponents)))
        for start in range(0, len(z), block):
            zb = z[start : start + block]
            out[start : start + len(zb)] = (
                self.coefficients.T @ _legendre_basis_t(zb, self.exponents)
            ).T
        return out


@dataclass
class _PerOutput:
    """One scikit-learn regressor per output (GP)."""

    estimators: list[Any]

    def predict(self, z: FloatArray) -> FloatArray:
        return np.column_stack([e.predict(z) for e in self.estimators])


@dataclass
class _Scaled:
    """A multi-output scikit-learn regressor fitted on standardised targets (MLP)."""

    estimator: Any
    mean: FloatArray
    scale: FloatArray

    def predict(self, z: FloatArray) -> FloatArray:
        out = np.asarray(self.estimator.predict(z), dtype=float).reshape(len(z), -1)
        return out * self.scale + self.mean


def _fit_predictor(kind: str, z: FloatArray, y: FloatArray, degree: int, seed: int) -> _Predictor:
    if kind == "polynomial":
        return _Polynomial.fit(z, y, degree)
    if kind == "gp":
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import RBF, WhiteKernel
        from sklearn.gaussian_process.kernels import ConstantKernel as C

        ests = []
        for j in range(y.shape[1]):
            kernel = C(1.0, (1e-3, 1e3)) * RBF(np.ones(z.shape[1]), (1e-2, 1e2)) + WhiteKernel(
                1e-6, (1e-12, 1e-1)
            )
            gp = GaussianProcessRegressor(
                kernel, normalize_y=True, n_restarts_optimizer=2, random_state=seed
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # convergence chatter at the kernel bounds
                gp.fit(z, y[:, j])
            ests.append(gp)
        return _PerOutput(ests)
    if kind == "mlp":
        from sklearn.neural_network import MLPRegressor

        mean, scale = y.mean(axis=0), y.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        # L-BFGS: on a few hundred smooth samples it converges far more precisely than Adam.
        mlp = MLPRegressor(
            hidden_layer_sizes=(24, 24),
            activation="tanh",
            solver="lbfgs",
            max_iter=2000,
            tol=1e-9,
            alpha=1e-6,
            random_state=seed,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mlp.fit(z, (y - mean) / scale)
        return _Scaled(mlp, mean, scale)
    raise ValueError(f"unknown surrogate kind {kind!r}; choose from {KINDS}")


# ---------------------------------------------------------------------- report and object
@dataclass(frozen=True)
class SurrogateReport:
    """How good and how fast a surrogate is.

    Attributes
    ----------
    cv_r2, test_r2
        Per CQA: k-fold cross-validated R^2 on the training sample, and R^2 on the held-out
        sample (original scale).
    simulation_time
        Mean wall time of one model simulation [s].
    prediction_time
        Wall time per prediction in a batch of 10,000 [s].
    single_prediction_time
        Wall time of one single-row prediction call [s] (latency).
    speedup, single_speedup
        ``simulation_time`` divided by the two prediction times.
    """

    model: str
    kind: str
    degree: int | None
    inputs: list[str]
    outputs: list[str]
    n_train: int
    n_test: int
    folds: int
    cv_r2: dict[str, float]
    test_r2: dict[str, float]
    simulation_time: float
    prediction_time: float
    single_prediction_time: float
    speedup: float
    single_speedup: float
    fit_time: float
    seed: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def min_test_r2(self) -> float:
        """Worst held-out R^2 over the CQAs."""
        return min(self.test_r2.values())


class Surrogate:
    """A fitted surrogate: CPP values in, CQA values out.

    Use :func:`fit_surrogate` to build one and :meth:`load` to read one from a file.
    """

    def __init__(
        self,
        model: str,
        kind: str,
        inputs: Sequence[str],
        lower: Sequence[float] | FloatArray,
        upper: Sequence[float] | FloatArray,
        outputs: Sequence[str],
        transforms: Sequence[str],
        predictor: _Predictor,
        fixed: Mapping[str, float] | None = None,
        report: SurrogateReport | None = None,
        failures: pd.DataFrame | None = None,
    ) -> None:
        self.model = model
        self.kind = kind
        self.inputs = list(inputs)
        self.lower = np.asarray(lower, dtype=float)
        self.upper = np.asarray(upper, dtype=float)
        self.outputs = list(outputs)
        self.transforms = list(transforms)
        self.predictor = predictor
        self.fixed = dict(fixed or {})
        self.report = report
        #: Failed evaluations of the fit (``set``: training or held-out); empty when
        #: loaded from a file (the report keeps their counts).
        self.failures = failures if failures is not None else pd.DataFrame()

    def _scale(self, x: FloatArray) -> FloatArray:
        return np.asarray(2.0 * (x - self.lower) / (self.upper - self.lower) - 1.0, dtype=float)

    def predict(self, x: FloatArray | pd.DataFrame | Sequence[Sequence[float]]) -> FloatArray:
        """CQAs for rows of CPP values (columns in :attr:`inputs` order, declared units).

        Points outside the training ranges are refused: a surrogate does not extrapolate.
        """
        if isinstance(x, pd.DataFrame):
            arr = x[self.inputs].to_numpy(dtype=float)
        else:
            arr = np.atleast_2d(np.asarray(x, dtype=float))
        if arr.shape[1] != len(self.inputs):
            raise ValueError(f"expected {len(self.inputs)} columns {self.inputs}, got {arr.shape}")
        tol = 1e-9 * (self.upper - self.lower)
        if np.any(arr < self.lower - tol) or np.any(arr > self.upper + tol):
            raise ValueError(
                f"inputs outside the surrogate's training ranges "
                f"{dict(zip(self.inputs, zip(self.lower, self.upper, strict=True), strict=True))}"
            )
        y = self.predictor.predict(self._scale(arr))
        for j, tr in enumerate(self.transforms):
            if tr == "log10":
                y[:, j] = 10.0 ** y[:, j]
        return y

    def predict_dict(self, values: Mapping[str, float]) -> dict[str, float]:
        """CQAs for one point given as a mapping of CPP name to value."""
        row = [[float(values[n]) for n in self.inputs]]
        return dict(zip(self.outputs, self.predict(row)[0].tolist(), strict=True))

    # ------------------------------------------------------------------ files
    def _header(self) -> dict[str, Any]:
        import sklearn

        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "kind": self.kind,
            "model": self.model,
            "inputs": self.inputs,
            "lower": self.lower.tolist(),
            "upper": self.upper.tolist(),
            "outputs": self.outputs,
            "transforms": self.transforms,
            "fixed": self.fixed,
            "sklearn_version": sklearn.__version__,
            "report": None if self.report is None else _jsonable(asdict(self.report)),
        }

    def save(self, path: str | Path) -> Path:
        """Write the surrogate: JSON for polynomials, joblib (with the same header) otherwise."""
        out = Path(path)
        head = self._header()
        if isinstance(self.predictor, _Polynomial):
            head["exponents"] = self.predictor.exponents.tolist()
            head["coefficients"] = self.predictor.coefficients.tolist()
            out.write_text(json.dumps(head, indent=1), encoding="utf-8")
        else:
            import joblib  # type: ignore[import-untyped]

            joblib.dump({"header": head, "predictor": self.predictor}, out)
        return out

    @classmethod
    def load(cls, path: str | Path) -> Surrogate:
        """Read a surrogate written by :meth:`save` (refusing other formats/versions)."""
        src = Path(path)
        raw = src.read_bytes()
        if raw.lstrip()[:1] == b"{":
            head = json.loads(raw.decode("utf-8"))
            _check_header(head, src)
            predictor: _Predictor = _Polynomial(
                np.asarray(head["exponents"], dtype=int),
                np.asarray(head["coefficients"], dtype=float),
            )
        else:
            import joblib  # type: ignore[import-untyped]

            blob = joblib.load(src)
            if not isinstance(blob, dict) or "header" not in blob:
                raise ValueError(f"{src}: not a phactory surrogate file")
            head = blob["header"]
            _check_header(head, src)
            import sklearn

            if head.get("sklearn_version") != sklearn.__version__:
                warnings.warn(
                    f"{src}: saved with scikit-learn {head.get('sklearn_version')}, "
                    f"loading with {sklearn.__version__}",
                    stacklevel=2,
                )
            predictor = blob["predictor"]
        report = None
        if head.get("report"):
            report = SurrogateReport(**head["report"])
        return cls(
            head["model"],
            head["kind"],
            head["inputs"],
            head["lower"],
            head["upper"],
            head["outputs"],
            head["transforms"],
            predictor,
            head.get("fixed"),
            report,
        )


def _check_header(head: Mapping[str, Any], src: Path) -> None:
    if head.get("format") != FORMAT:
        raise ValueError(f"{src}: not a phactory surrogate file (format {head.get('format')!r})")
    if head.get("version") != FORMAT_VERSION:
        raise ValueError(
            f"{src}: surrogate file version {head.get('version')!r}, this phactory reads "
            f"version {FORMAT_VERSION}"
        )


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


# ---------------------------------------------------------------------- fitting
def _r2(y: FloatArray, yhat: FloatArray) -> float:
    ss_res = float(np.sum((y - yhat) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    if ss_tot == 0.0:
        # A constant CQA: R^2 is undefined; report 1 if reproduced to rounding, else 0.
        return 1.0 if ss_res <= 1e-20 * max(1.0, float(np.sum(y**2))) else 0.0
    return 1.0 - ss_res / ss_tot


def _transforms(y: FloatArray) -> list[str]:
    out = []
    for j in range(y.shape[1]):
        col = y[:, j]
        if np.ptp(col) <= 1e-12 * max(1.0, float(np.abs(col).max())):
            out.append("constant")
        elif np.all(col > 0) and col.max() / col.min() > 50:
            out.append("log10")
        else:
            out.append("identity")
    return out


def _forward(y: FloatArray, transforms: Sequence[str]) -> FloatArray:
    t = y.copy()
    for j, tr in enumerate(transforms):
        if tr == "log10":
            t[:, j] = np.log10(t[:, j])
    return t


class _Fitted:
    """Predictor in transformed space plus constants for constant outputs."""

    def __init__(self, inner: _Predictor, transforms: Sequence[str], constants: FloatArray):
        self.inner = inner
        self.transforms = list(transforms)
        self.constants = constants

    def predict(self, z: FloatArray) -> FloatArray:
        y = self.inner.predict(z)
        for j, tr in enumerate(self.transforms):
            if tr == "constant":
                y[:, j] = self.constants[j]
        return y


def _fit(
    kind: str, z: FloatArray, y: FloatArray, transforms: Sequence[str], degree: int, seed: int
) -> _Predictor:
    inner = _fit_predictor(kind, z, _forward(y, transforms), degree, seed)
    if kind == "polynomial" and "constant" in transforms:
        # Keep the JSON form: write the constants into the polynomial's intercepts.
        assert isinstance(inner, _Polynomial)
        for j, tr in enumerate(transforms):
            if tr == "constant":
                inner.coefficients[:, j] = 0.0
                inner.coefficients[0, j] = y[0, j]
        return inner
    if "constant" in transforms:
        return _Fitted(inner, transforms, y[0])
    return inner


def _back(y: FloatArray, transforms: Sequence[str]) -> FloatArray:
    out = y.copy()
    for j, tr in enumerate(transforms):
        if tr == "log10":
            out[:, j] = 10.0 ** out[:, j]
    return out


def _cv_scores(
    kind: str,
    z: FloatArray,
    y: FloatArray,
    transforms: Sequence[str],
    degree: int,
    folds: int,
    seed: int,
) -> FloatArray:
    from sklearn.model_selection import KFold

    pred = np.empty_like(y)
    for tr_idx, te_idx in KFold(folds, shuffle=True, random_state=seed).split(z):
        f = _fit(kind, z[tr_idx], y[tr_idx], transforms, degree, seed)
        pred[te_idx] = _back(f.predict(z[te_idx]), transforms)
    return np.array([_r2(y[:, j], pred[:, j]) for j in range(y.shape[1])])


def _choose_degree(
    z: FloatArray,
    y: FloatArray,
    transforms: Sequence[str],
    folds: int,
    seed: int,
    max_degree: int = 10,
) -> tuple[int, FloatArray]:
    n_fold_train = len(z) * (folds - 1) // folds
    best: tuple[int, FloatArray] | None = None
    for deg in range(1, max_degree + 1):
        if len(_exponents(z.shape[1], deg)) > 0.7 * n_fold_train:
            break
        scores = _cv_scores("polynomial", z, y, transforms, deg, folds, seed)
        # Judge by the worst CQA: a surrogate is only as good as its weakest output.
        if best is None or scores.min() > best[1].min():
            best = (deg, scores)
    if best is None:
        raise ValueError("too few samples for even a linear polynomial surrogate")
    return best


def fit_surrogate(
    model: UnitOperationModel,
    *,
    inputs: Sequence[str] | None = None,
    outputs: Sequence[str] | None = None,
    ranges: Mapping[str, tuple[float, float]] | None = None,
    fixed: Mapping[str, object] | None = None,
    n_samples: int = 200,
    n_test: int = 100,
    kind: str = "auto",
    degree: int | None = None,
    folds: int = 5,
    seed: int = 0,
    workers: int | None = None,
    address: str | None = None,
    progress: Progress | None = None,
    max_failed_fraction: float = DEFAULT_MAX_FAILED_FRACTION,
) -> Surrogate:
    """Fit, cross-validate, test and time a surrogate of ``model``.

    Parameters
    ----------
    model
        Any model of the contract.
    inputs
        Parameters the surrogate takes (default: the CPPs).
    outputs
        CQAs it predicts (default: all).
    ranges
        Input ranges (default: declared bounds).
    fixed
        Values of the other parameters (default: declared defaults).
    n_samples, n_test
        Training and held-out sample sizes (independent Latin hypercubes).
    kind
        ``"polynomial"``, ``"gp"``, ``"mlp"`` or ``"auto"``.
    degree
        Polynomial degree (default: chosen by cross-validation).
    folds
        k of the k-fold cross-validation.
    seed
        Seed of the samples, the folds and the learners.
    workers, address, progress
        See :func:`phactory.process.parallel.evaluate_many` (progress counts the training and
        held-out evaluations together).
    max_failed_fraction
        Largest fraction of the evaluations (training and held-out) that may fail.

    Returns
    -------
    Surrogate
        With its :class:`SurrogateReport` in ``.report`` and the failed evaluations in
        ``.failures``.

    Raises
    ------
    phactory.process.failures.TooManyFailuresError
        If more than ``max_failed_fraction`` of the evaluations, or all, fail.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown surrogate kind {kind!r}; choose from {KINDS}")
    names = list(inputs) if inputs is not None else model.cpp_names()
    outs = list(outputs) if outputs is not None else model.cqa_names()
    b = bounds_of(model, names, ranges)
    x_train = space_filling(b, n_samples, seed)
    x_test = space_filling(b, n_test, seed + 1)
    total = n_samples + n_test

    def prog_train(done: int, _: int) -> None:
        if progress is not None:
            progress(done, total)

    def prog_test(done: int, _: int) -> None:
        if progress is not None:
            progress(n_samples + done, total)

    ev_train = evaluate_many(
        model, x_train, names, outs, fixed, workers=workers, address=address, progress=prog_train
    )
    ev_test = evaluate_many(
        model, x_test, names, outs, fixed, workers=workers, address=address, progress=prog_test
    )
    failures = pd.concat(
        [
            failure_table(names, x_train, ev_train).assign(set="training"),
            failure_table(names, x_test, ev_test).assign(set="held-out"),
        ],
        ignore_index=True,
    )
    check_fraction(
        f"surrogate of {model.name}",
        len(failures),
        total,
        max_failed_fraction,
        failures,
        total,
    )
    if ev_train.n_failed >= n_samples - 1 or ev_test.n_failed >= n_test:
        raise ValueError(
            f"surrogate of {model.name}: too few points ran to fit and test it; "
            f"{describe(failures, total)}"
        )
    x_train, y_train = x_train[~ev_train.failed], ev_train.values[~ev_train.failed]
    x_test, y_test = x_test[~ev_test.failed], ev_test.values[~ev_test.failed]
    lower, upper = b[:, 0], b[:, 1]
    z_train = 2.0 * (x_train - lower) / (upper - lower) - 1.0
    transforms = _transforms(y_train)

    t0 = time.perf_counter()
    chosen, deg = kind, degree
    if kind in ("polynomial", "auto"):
        if degree is None:
            deg, cv = _choose_degree(z_train, y_train, transforms, folds, seed)
        else:
            cv = _cv_scores("polynomial", z_train, y_train, transforms, degree, folds, seed)
        chosen = "polynomial"
        if kind == "auto" and cv.min() < 0.995:
            cv_mlp = _cv_scores("mlp", z_train, y_train, transforms, 0, folds, seed)
            if cv_mlp.min() > cv.min():
                chosen, cv, deg = "mlp", cv_mlp, None
    else:
        cv = _cv_scores(kind, z_train, y_train, transforms, 0, folds, seed)
        deg = None
    predictor = _fit(chosen, z_train, y_train, transforms, deg or 0, seed)
    fit_time = time.perf_counter() - t0

    # The surrogate is valid only at these values of the other parameters: record them.
    fixed_values = {
        k: v for k, v in resolve_parameters(model.parameters, fixed).items() if k not in names
    }
    sur = Surrogate(
        model.name,
        chosen,
        names,
        lower,
        upper,
        outs,
        transforms,
        predictor,
        fixed_values,
        failures=failures,
    )
    y_hat = sur.predict(x_test)
    test_r2 = {o: _r2(y_test[:, j], y_hat[:, j]) for j, o in enumerate(outs)}

    sim_time = _time_simulation(model, x_test, names, fixed)
    batch = space_filling(b, 10_000, seed + 2)
    pred_time = _best_time(lambda: sur.predict(batch), repeats=3) / len(batch)
    one = batch[:1]
    single = _best_time(lambda: sur.predict(one), repeats=200)
    report = SurrogateReport(
        model=model.name,
        kind=chosen,
        degree=deg if chosen == "polynomial" else None,
        inputs=names,
        outputs=outs,
        n_train=n_samples,
        n_test=n_test,
        folds=folds,
        cv_r2={o: float(v) for o, v in zip(outs, cv, strict=True)},
        test_r2=test_r2,
        simulation_time=sim_time,
        prediction_time=pred_time,
        single_prediction_time=single,
        speedup=sim_time / pred_time,
        single_speedup=sim_time / single,
        fit_time=fit_time,
        seed=seed,
        extra={
            "transforms": dict(zip(outs, transforms, strict=True)),
            "failed_training": ev_train.n_failed,
            "failed_held_out": ev_test.n_failed,
        },
    )
    sur.report = report
    return sur


def _best_time(fn: Any, repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def _time_simulation(
    model: UnitOperationModel,
    x: FloatArray,
    names: Sequence[str],
    fixed: Mapping[str, object] | None,
    n: int = 10,
) -> float:
    rows = x[: min(n, len(x))]
    t = time.perf_counter()
    for row in rows:
        p = dict(fixed or {})
        p.update(zip(names, row.tolist(), strict=True))
        model.simulate(p)
    return (time.perf_counter() - t) / len(rows)
