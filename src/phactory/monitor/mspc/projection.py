"""Latent-variable projections (PCA, PLS) as the two statistics they monitor.

Every monitored method ends in the same form: rows ``z`` (autoscaled, possibly lagged or
filtered, ``m`` columns) are projected on ``A`` components with weights ``R``
(``scores = z R``), reconstructed with loadings ``P`` (``z_hat = scores P^T``), and two
statistics are computed [1]_:

* ``T2 = z D z^T`` with ``D = R diag(1/lambda) R^T`` (``lambda`` the training variances
  of the scores): the Mahalanobis distance inside the model plane;
* ``SPE = |z - z_hat|^2`` (Q): the squared distance off the plane.

For PCA ``R = P`` (orthonormal loadings, Jackson [2]_); for PLS ``R`` are the X rotations
``W (P^T W)^-1`` and ``P`` the X loadings, so that T2 is on the X scores and SPE on the X
residuals (Kresta, MacGregor & Marlin [3]_).

Contributions per column of ``z``, computed for every row in the same matrix products:

* SPE: the squared residual of the column, ``(z - z_hat)_i^2`` (sums to SPE);
* T2: the complete decomposition of Alcala & Qin [4]_, ``((D^{1/2} z)_i)^2`` with the
  symmetric square root ``D^{1/2} = U diag(s) U^T`` (rank ``A``; sums to T2 and is never
  negative, unlike the partial decomposition ``z_i (D z)_i``).

Number of components (``n_components=None``): PCA keeps the fewest components whose
cumulative explained variance reaches ``explained`` (default 0.9), a rule any user can
check against a scree plot and that does not depend on how autocorrelated the data are
(cross-validation of PCA on time series leaks through the autocorrelation and keeps too
many). PLS keeps the fewest components whose cross-validated prediction error of the
quality variables (PRESS, five contiguous blocks so that neighbouring samples are not
split between fitting and testing) is within 1 % of the smallest. Both are capped at
``m - 1`` so that a residual space remains.

References
----------
.. [1] J. F. MacGregor, T. Kourti, "Statistical process control of multivariate
   processes", Control Eng. Practice 3 (1995) 403-414.
.. [2] J. E. Jackson, A User's Guide to Principal Components, Wiley (1991).
.. [3] J. V. Kresta, J. F. MacGregor, T. E. Marlin, "Multivariate statistical monitoring
   of process operating performance", Can. J. Chem. Eng. 69 (1991) 35-47.
.. [4] C. F. Alcala, S. J. Qin, "Reconstruction-based contribution for process monitoring",
   Automatica 45 (2009) 1593-1600 (complete decomposition contributions, sec. 3).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from phactory.errors import InvalidError
from phactory.monitor.modelfile import StateReader, array_to_json

__all__ = ["Projection", "Statistics", "fit_pca", "fit_pls"]

#: Contiguous cross-validation folds for the PLS component count.
PLS_FOLDS = 5
#: Most PLS components tried by cross-validation.
PLS_MAX_COMPONENTS = 20


@dataclass(frozen=True)
class Statistics:
    """T2 and SPE of rows, with their per-column contributions."""

    t2: np.ndarray  # (n,)
    spe: np.ndarray  # (n,)
    t2_contrib: np.ndarray  # (n, m)
    spe_contrib: np.ndarray  # (n, m)


@dataclass(frozen=True)
class Projection:
    """A fitted projection (see the module docstring for the symbols).

    Attributes
    ----------
    weights
        ``R``, ``(m, A)``: scores are ``z @ weights``.
    loadings
        ``P``, ``(m, A)``: the reconstruction is ``scores @ loadings.T``.
    t2_basis, t2_scale
        ``U (m, A)`` and ``s (A,)`` with ``D^{1/2} = U diag(s) U^T``.
    explained
        Share of the training variance of ``z`` each component explains [-].
    residual_eigenvalues
        Eigenvalues of the covariance of the training residuals (for the SPE limit).
    n_samples
        Training rows (for the T2 limit).
    """

    weights: np.ndarray
    loadings: np.ndarray
    t2_basis: np.ndarray
    t2_scale: np.ndarray
    explained: np.ndarray
    residual_eigenvalues: np.ndarray
    n_samples: int

    @property
    def n_components(self) -> int:
        return int(self.weights.shape[1])

    def statistics(self, z: np.ndarray) -> Statistics:
        """T2, SPE and contributions of the rows ``z`` (NaN rows give NaN)."""
        scores = z @ self.weights
        residual = z - scores @ self.loadings.T
        spe_contrib = residual * residual
        whitened = (z @ self.t2_basis) * self.t2_scale
        t2 = np.einsum("ij,ij->i", whitened, whitened)
        root = whitened @ self.t2_basis.T
        return Statistics(t2, spe_contrib.sum(axis=1), root * root, spe_contrib)

    def to_state(self) -> dict[str, object]:
        return {
            "weights": array_to_json(self.weights),
            "loadings": array_to_json(self.loadings),
            "t2_basis": array_to_json(self.t2_basis),
            "t2_scale": array_to_json(self.t2_scale),
            "explained": array_to_json(self.explained),
            "residual_eigenvalues": array_to_json(self.residual_eigenvalues),
            "n_samples": self.n_samples,
        }

    @classmethod
    def from_state(cls, r: StateReader, m: int) -> Projection:
        """Read and check the shapes against ``m`` monitored columns."""
        weights, loadings, basis = r.array("weights"), r.array("loadings"), r.array("t2_basis")
        scale, explained = r.array("t2_scale"), r.array("explained")
        a = weights.shape[1] if weights.ndim == 2 else -1
        for name, arr, shape in (
            ("weights", weights, (m, a)),
            ("loadings", loadings, (m, a)),
            ("t2_basis", basis, (m, a)),
            ("t2_scale", scale, (a,)),
            ("explained", explained, (a,)),
        ):
            if arr.shape != shape or arr.dtype != np.float64 or not np.isfinite(arr).all():
                raise InvalidError(
                    f"{r.at(name)} must be finite floats of shape {list(shape)}, "
                    f"not {list(arr.shape)}"
                )
        n = r.integer("n_samples")
        if not a < n:
            raise InvalidError(f"{r.at('n_samples')} must exceed {a}")
        return cls(weights, loadings, basis, scale, explained, r.array("residual_eigenvalues"), n)


def _finish(z: np.ndarray, weights: np.ndarray, loadings: np.ndarray) -> Projection:
    """The T2 square root and the residual spectrum of a projection fitted on ``z``."""
    n = z.shape[0]
    scores = z @ weights
    variances = scores.var(axis=0, ddof=1)
    if np.any(variances <= 0.0):
        raise InvalidError("a model component has no variance in the training data")
    # D = B B^T with B = R diag(lambda^-1/2); D^{1/2} = U diag(s) U^T from B = U S V^T.
    u, s, _ = np.linalg.svd(weights / np.sqrt(variances), full_matrices=False)
    residual = z - scores @ loadings.T
    cov = residual.T @ residual / (n - 1)
    total = float((z * z).sum() / (n - 1))
    explained = (variances * (loadings * loadings).sum(axis=0)) / total
    return Projection(
        weights=weights,
        loadings=loadings,
        t2_basis=u,
        t2_scale=s,
        explained=explained,
        residual_eigenvalues=np.clip(np.linalg.eigvalsh(cov)[::-1], 0.0, None),
        n_samples=n,
    )


def fit_pca(z: np.ndarray, n_components: int | None, explained: float = 0.9) -> Projection:
    """PCA of the centred rows ``z`` (scikit-learn, full SVD).

    ``n_components=None`` keeps the fewest components explaining ``explained`` of the
    variance (at most ``m - 1``).
    """
    from sklearn.decomposition import PCA

    n, m = z.shape
    cap = min(m - 1, n - 2)
    if n_components is not None and not 1 <= n_components <= cap:
        raise InvalidError(
            f"n_components must lie in 1..{cap} for {m} monitored columns and {n} rows, "
            f"not {n_components}"
        )
    full = PCA(n_components=min(n, m), svd_solver="full").fit(z)
    if n_components is None:
        if not 0.0 < explained < 1.0:
            raise InvalidError(f"explained must lie in (0, 1), not {explained}")
        cumulative = np.cumsum(full.explained_variance_ratio_)
        n_components = int(np.searchsorted(cumulative, explained) + 1)
        n_components = max(1, min(n_components, cap))
    loadings = np.ascontiguousarray(full.components_[:n_components].T)
    return _finish(z, loadings, loadings)


def fit_pls(z: np.ndarray, y: np.ndarray, n_components: int | None) -> Projection:
    """PLS of the centred rows ``z`` on the centred, scaled quality ``y`` (NIPALS).

    ``n_components=None`` chooses by contiguous-block cross-validation of ``y``.
    """
    n, m = z.shape
    cap = min(m - 1, n - 2)
    if n_components is not None and not 1 <= n_components <= cap:
        raise InvalidError(
            f"n_components must lie in 1..{cap} for {m} monitored columns and {n} rows, "
            f"not {n_components}"
        )
    if n_components is None:
        n_components = _pls_components(z, y, min(cap, PLS_MAX_COMPONENTS))
    pls = _pls(n_components).fit(z, y)
    return _finish(z, np.asarray(pls.x_rotations_), np.asarray(pls.x_loadings_))


def _pls(n_components: int) -> Any:
    from sklearn.cross_decomposition import PLSRegression

    return PLSRegression(n_components=n_components, scale=False, max_iter=1000, tol=1e-10)


def _pls_components(z: np.ndarray, y: np.ndarray, most: int) -> int:
    n = z.shape[0]
    edges = np.linspace(0, n, PLS_FOLDS + 1).astype(int)
    press = np.zeros(most)
    for lo, hi in itertools.pairwise(edges):
        train = np.r_[0:lo, hi:n]
        fitted = _pls(most).fit(z[train], y[train])
        # The predictions with the first a components, from one fit of `most`.
        zc = z[lo:hi] - z[train].mean(axis=0)
        y_mean = y[train].mean(axis=0)
        for a in range(1, most + 1):
            coef = fitted.x_rotations_[:, :a] @ fitted.y_loadings_[:, :a].T
            pred = y_mean + zc @ coef
            press[a - 1] += float(((y[lo:hi] - pred) ** 2).sum())
    best = float(press.min())
    return int(np.flatnonzero(press <= 1.01 * best)[0] + 1)
