"""Applicability domain of a soft sensor: Hotelling T2 and SPE (Q) of a spectrum.

A calibration can only be trusted for spectra like the ones it was built on. Each
preprocessed spectrum ``x`` is projected on a principal-component model of the
preprocessed calibration spectra (mean ``m``, loadings ``P`` (p, A), score variances
``lambda``), and two distances are measured (Jackson 1991; ASTM E1655 uses the same pair,
Mahalanobis distance and spectral residual, for the outliers of a multivariate
calibration):

* Hotelling ``T2 = sum_a t_a^2 / lambda_a`` with ``t = (x - m) P``: how far the spectrum is
  from the calibration spectra *inside* the space they span (extrapolation in
  concentration, an unusual combination);
* ``SPE = ||(x - m) - t P^T||^2`` (the Q statistic): how much of the spectrum that space
  does not describe at all (a new band, a contaminant, a baseline never seen).

A prediction is out of domain when either exceeds its limit. Each statistic's limit is set
at ``target_far / 2`` so that, by the union bound, at most ``target_far`` of spectra like
the calibration ones are flagged.

Why one PCA model, not the regression's own scores: the soft sensor fits one PLS1 model
per response (:mod:`.calibration`), each with its own latent space; the domain is a
property of the spectrum, so it is measured once, in the principal subspace of the
calibration spectra. Its size ``A`` is the largest of the responses' component counts,
raised to the number of *systematic* components (:func:`systematic_components`: those
whose variance held-out spectra share), and kept below ``n - 1`` and ``p``. Too few
components would leave systematic variation (a scatter effect no regression needed, an
interferent) in the residual, inflate the SPE limit and hide a new band; a few noise
components too many cost little, since the SPE limit is calibrated on held-out spectra.

Limits
------
``T2``: the F-distribution limit for a *new* observation (Tracy, Young & Mason 1992)::

    T2_lim = A (n - 1)(n + 1) / (n (n - A)) F(1 - alpha; A, n - A)

``SPE``: a scaled chi-square ``g chi2_h`` whose mean and variance match those of the
**cross-validated** SPE of the calibration spectra (each spectrum measured against a model
that did not include it; Box 1954, Nomikos & MacGregor 1995: ``g = v / 2m``,
``h = 2 m^2 / v``). The usual Jackson & Mudholkar (1979) limit from the residual
eigenvalues of the calibration set is also computed and stored, but not used: with few
spectra of many wavelengths (n << p) a calibration spectrum's residual lies in the span of
the calibration set and misses most of the noise a new spectrum carries, so that limit is
far too low and would flag most new in-domain spectra (measured in
``benchmarks/monitoring_softsensor.py``).

References
----------
Jackson, J.E. (1991). A User's Guide to Principal Components. Wiley.
Jackson, J.E., Mudholkar, G.S. (1979). Control procedures for residuals associated with
principal component analysis. Technometrics 21, 341-349.
Tracy, N.D., Young, J.C., Mason, R.L. (1992). Multivariate control charts for individual
observations. J. Qual. Technol. 24, 88-95.
Box, G.E.P. (1954). Some theorems on quadratic forms applied in the study of analysis of
variance problems. Ann. Math. Stat. 25, 290-302.
Nomikos, P., MacGregor, J.F. (1995). Multivariate SPC charts for monitoring batch
processes. Technometrics 37, 41-59.
ASTM E1655-17. Standard practices for infrared multivariate quantitative analysis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from phactory.errors import InvalidError
from phactory.monitor.limits import (
    moment_limit,
    spe_limit_jackson_mudholkar,
    t2_limit,
    thetas,
)
from phactory.monitor.modelfile import StateReader, array_to_json

__all__ = ["DomainModel", "fit_domain", "pca_basis", "systematic_components", "t2_spe"]

#: Principal components with a variance below this share of the first are not used
#: (they are rounding noise in a rank-deficient calibration set).
_RANK_TOL = 1e-8
#: A component is systematic when held-out spectra keep this share of its calibration
#: variance (:func:`systematic_components`).
SYSTEMATIC_SHARE = 0.75


def _eigen(xc: np.ndarray, k: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Squared singular values (descending) of centred ``xc`` (n, p) and its first ``k``
    right singular vectors (p, k).

    By the eigen-decomposition of the smaller cross-product (the n x n Gram matrix when
    n <= p, else the p x p one): several times faster than an SVD for the wide, short
    matrices of spectra, and exact enough for the components kept (:data:`_RANK_TOL`).
    """
    n, p = xc.shape
    if n <= p:
        w, u = np.linalg.eigh(xc @ xc.T)
        s2, u = np.maximum(w[::-1], 0.0), u[:, ::-1][:, :k]
        return s2, xc.T @ (u / np.sqrt(np.maximum(s2[:k], np.finfo(float).tiny)))
    w, v = np.linalg.eigh(xc.T @ xc)
    return np.maximum(w[::-1], 0.0), v[:, ::-1][:, :k]


def _pca(
    Xp: np.ndarray, max_components: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`pca_basis` and every score variance (descending) of the centred data."""
    mean = Xp.mean(axis=0)
    xc = Xp - mean
    s2, vectors = _eigen(xc, max_components)
    var = s2 / max(xc.shape[0] - 1, 1)
    keep = int(np.sum(var > _RANK_TOL * max(float(var[0]), np.finfo(float).tiny)))
    a = min(max_components, keep)
    return mean, np.ascontiguousarray(vectors[:, :a]), var[:a].copy(), var


def pca_basis(Xp: np.ndarray, max_components: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean (p,), loadings (p, A) and score variances (A,) of ``Xp`` (n, p).

    ``A`` is at most ``max_components`` and the numerical rank of the centred data.
    """
    mean, loadings, variances, _ = _pca(Xp, max_components)
    return mean, loadings, variances


def t2_spe(
    Xp: np.ndarray, mean: np.ndarray, loadings: np.ndarray, variances: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Hotelling T2 and SPE of preprocessed spectra ``Xp`` (n, p) in a PCA model."""
    xc = Xp - mean
    t = xc @ loadings
    t2 = np.sum(t**2 / variances, axis=1)
    resid = xc - t @ loadings.T
    spe = np.sum(resid**2, axis=1)
    return t2, spe


def cumulative_t2_spe(
    Xp: np.ndarray, mean: np.ndarray, loadings: np.ndarray, variances: np.ndarray, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """T2 and SPE (n, width) for 0, 1, ... components (columns beyond the model's rank repeat
    its last), for choosing the domain's size after cross-validation."""
    xc = Xp - mean
    t = xc @ loadings
    t2 = np.concatenate([np.zeros((len(xc), 1)), np.cumsum(t**2 / variances, axis=1)], axis=1)
    total = np.sum(xc**2, axis=1, keepdims=True)
    spe = np.concatenate([total, total - np.cumsum(t**2, axis=1)], axis=1)
    spe = np.maximum(spe, 0.0)  # rounding of the subtraction; SPE is a sum of squares
    if t2.shape[1] < width:
        pad = width - t2.shape[1]
        t2 = np.concatenate([t2, np.repeat(t2[:, -1:], pad, axis=1)], axis=1)
        spe = np.concatenate([spe, np.repeat(spe[:, -1:], pad, axis=1)], axis=1)
    return t2[:, :width], spe[:, :width]


def systematic_components(t2_cv: np.ndarray, share: float = SYSTEMATIC_SHARE) -> int:
    """Principal components that carry systematic variation, from held-out T2 paths.

    ``t2_cv`` (..., A + 1) is the cumulative T2 of held-out spectra for 0..A components;
    its step ``j`` is ``t_j^2 / lambda_j``, whose mean is about 1 when component ``j``
    describes variation new spectra share, and well below 1 for a noise direction (a
    calibration set's noise eigenvalues are inflated when n << p: Marchenko-Pastur).
    Returns the components before the first two in a row whose mean step is below
    ``share`` (one dip is tolerated: a systematic component can come out weak in a fold).
    """
    steps = np.diff(t2_cv, axis=-1).reshape(-1, t2_cv.shape[-1] - 1)
    low = steps.mean(axis=0) < share
    for j in range(len(low)):
        if low[j] and (j + 1 == len(low) or low[j + 1]):
            return j
    return len(low)


@dataclass(frozen=True)
class DomainModel:
    """A PCA of the preprocessed calibration spectra with T2 and SPE limits.

    Attributes
    ----------
    mean
        (p,) mean preprocessed calibration spectrum.
    loadings
        (p, A) principal directions.
    variances
        (A,) score variances of the calibration spectra.
    n_train
        Calibration spectra.
    t2_limit, spe_limit
        The limits used (each at ``target_far / 2``).
    spe_limit_jm
        Jackson-Mudholkar limit from the calibration residuals (stored for comparison;
        ``None`` where it is undefined).
    """

    mean: np.ndarray
    loadings: np.ndarray
    variances: np.ndarray
    n_train: int
    t2_limit: float
    spe_limit: float
    spe_limit_jm: float | None

    @property
    def n_components(self) -> int:
        return int(self.loadings.shape[1])

    def statistics(self, Xp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """T2 and SPE (n,) of preprocessed spectra."""
        return t2_spe(Xp, self.mean, self.loadings, self.variances)

    def to_state(self) -> dict[str, Any]:
        return {
            "mean": array_to_json(self.mean),
            "loadings": array_to_json(self.loadings),
            "variances": array_to_json(self.variances),
            "n_train": self.n_train,
            "t2_limit": self.t2_limit,
            "spe_limit": self.spe_limit,
            "spe_limit_jm": self.spe_limit_jm,
        }

    @classmethod
    def from_state(cls, r: StateReader, p: int, at: str) -> DomainModel:
        """Read a domain written by :meth:`to_state`; ``at`` names it in messages."""
        d = cls(
            mean=r.array("mean"),
            loadings=r.array("loadings"),
            variances=r.array("variances"),
            n_train=r.integer("n_train"),
            t2_limit=r.number("t2_limit"),
            spe_limit=r.number("spe_limit"),
            spe_limit_jm=r.optional_number("spe_limit_jm"),
        )
        a = d.variances.shape[0] if d.variances.ndim == 1 else -1
        if d.mean.shape != (p,) or d.loadings.shape != (p, a):
            raise InvalidError(f"{at}: the arrays do not match the {p} variables")
        return d


def fit_domain(
    Xp: np.ndarray, n_components: int, spe_cv: np.ndarray, target_far: float
) -> DomainModel:
    """The domain model of preprocessed calibration spectra ``Xp`` (n, p).

    Parameters
    ----------
    n_components
        Principal components (capped at the rank of ``Xp``).
    spe_cv
        Cross-validated SPE of the calibration spectra with that many components.
    target_far
        Share of in-domain spectra allowed to be flagged; each statistic gets half.
    """
    n = Xp.shape[0]
    mean, loadings, variances, all_var = _pca(Xp, min(n_components, n - 2))
    a = loadings.shape[1]
    alpha = target_far / 2
    return DomainModel(
        mean=mean,
        loadings=loadings,
        variances=variances,
        n_train=n,
        t2_limit=t2_limit(a, n, alpha) if a > 0 else 0.0,
        spe_limit=moment_limit(spe_cv, alpha),
        spe_limit_jm=spe_limit_jackson_mudholkar(*thetas(all_var[a:]), alpha),
    )
