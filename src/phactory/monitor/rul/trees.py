"""Gradient-boosted trees as plain arrays: saved as JSON, predicted by NumPy.

scikit-learn's :class:`~sklearn.ensemble.HistGradientBoostingRegressor` keeps each fitted
tree as a structured array of nodes (``_predictors[i][0].nodes``: value, feature_idx,
num_threshold, missing_go_to_left, left, right, is_leaf) and the prediction is
``baseline + sum of the trees' leaf values`` [1]_. Those arrays are all a prediction
needs, so :class:`TreeEnsemble` copies them out of the fitted model and walks the trees
itself, all trees and a block of rows at a time: at a split a value goes left when
``x <= num_threshold``, a missing value (NaN) goes where ``missing_go_to_left`` says.
Leaf values are added tree by tree onto the baseline in the order scikit-learn adds them,
so the sums round alike and the predictions are bit-for-bit scikit-learn's (a test checks
it). The saved model is data (no pickle) and does not depend on scikit-learn's version
to load; fitting does (it reads the private ``_predictors`` and ``_baseline_prediction``,
and refuses a model it does not understand: categorical splits, several trees per
iteration, a non-identity link).

References
----------
.. [1] G. Ke et al., "LightGBM: a highly efficient gradient boosting decision tree",
   NeurIPS 2017 (the histogram algorithm that scikit-learn's estimator follows).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from phactory.monitor.modelfile import StateReader, array_to_json

__all__ = ["TreeEnsemble"]

#: Rows walked at once (the node index array is rows x trees).
_BLOCK = 4096
#: Losses whose link is the identity (raw prediction = prediction).
_IDENTITY_LOSSES = ("squared_error", "absolute_error", "quantile")


@dataclass(frozen=True)
class TreeEnsemble:
    """A fitted boosted-tree regressor as arrays.

    Attributes
    ----------
    baseline
        Initial prediction (the loss's optimal constant).
    offsets
        ``(T + 1,)`` first node of each tree in the node arrays.
    value, threshold
        ``(N,)`` leaf value; split threshold (``x <= threshold`` goes left).
    feature, left, right
        ``(N,)`` split feature; children, as indices into the node arrays (global).
    is_leaf, missing_left
        ``(N,)`` leaf flag; where a missing value goes.
    """

    baseline: float
    offsets: np.ndarray
    value: np.ndarray
    threshold: np.ndarray
    feature: np.ndarray
    left: np.ndarray
    right: np.ndarray
    is_leaf: np.ndarray
    missing_left: np.ndarray

    @property
    def n_trees(self) -> int:
        return int(self.offsets.size - 1)

    @classmethod
    def from_sklearn(cls, model: Any) -> TreeEnsemble:
        """Copy the trees of a fitted ``HistGradientBoostingRegressor``.

        Raises
        ------
        ValueError
            If the model has categorical splits, several trees per iteration or a loss
            whose link is not the identity (none of which this module predicts).
        """
        if getattr(model, "loss", None) not in _IDENTITY_LOSSES:
            raise ValueError(f"loss {getattr(model, 'loss', None)!r} has a non-identity link")
        baseline = np.asarray(model._baseline_prediction, dtype=float).ravel()
        if baseline.size != 1:
            raise ValueError("one tree per iteration expected")
        trees = []
        for it in model._predictors:
            if len(it) != 1:
                raise ValueError("one tree per iteration expected")
            nodes = it[0].nodes
            if np.any(nodes["is_categorical"]):
                raise ValueError("categorical splits are not supported")
            trees.append(nodes)
        if not trees:
            raise ValueError("the model has no trees")
        sizes = np.array([len(t) for t in trees], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        start = np.repeat(offsets[:-1], sizes)
        nodes = np.concatenate(trees)
        leaf = np.asarray(nodes["is_leaf"], dtype=bool)
        here = np.arange(leaf.size)
        return cls(
            baseline=float(baseline[0]),
            offsets=offsets,
            value=np.asarray(nodes["value"], dtype=float),
            threshold=np.asarray(nodes["num_threshold"], dtype=float),
            feature=np.where(leaf, 0, nodes["feature_idx"]).astype(np.int64),
            # Leaves point to themselves, so a walk can keep stepping until all rows rest.
            left=np.where(leaf, here, nodes["left"].astype(np.int64) + start),
            right=np.where(leaf, here, nodes["right"].astype(np.int64) + start),
            is_leaf=leaf,
            missing_left=np.asarray(nodes["missing_go_to_left"], dtype=bool),
        )

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predictions for the rows of ``X`` (``(n, n_features)``, NaN = missing)."""
        X = np.asarray(X, dtype=float)
        n = X.shape[0]
        out = np.zeros(n)
        out += self.baseline
        if self.n_trees == 0:
            return out
        roots = self.offsets[:-1]
        trees = roots.size
        p = X.shape[1]
        for lo in range(0, n, _BLOCK):
            hi = min(n, lo + _BLOCK)
            flat = X[lo:hi].ravel()
            # One walker per (row, tree), row-major; only walkers not yet at a leaf step.
            node = np.tile(roots, hi - lo)
            base = np.repeat(np.arange(hi - lo) * p, trees)
            walking = np.flatnonzero(~self.is_leaf[node])
            while walking.size:
                at = node[walking]
                x = flat[base[walking] + self.feature[at]]
                # NaN <= t is False: a missing value goes left only where the split says so.
                go_left = (x <= self.threshold[at]) | (np.isnan(x) & self.missing_left[at])
                step = np.where(go_left, self.left[at], self.right[at])
                node[walking] = step
                walking = walking[~self.is_leaf[step]]
            leaves = self.value[node].reshape(hi - lo, trees)
            acc = out[lo:hi]
            for t in range(trees):  # tree by tree, as scikit-learn sums them
                acc += leaves[:, t]
        return out

    def to_state(self) -> dict[str, Any]:
        return {
            "kind": "trees",
            "baseline": self.baseline,
            "offsets": array_to_json(self.offsets),
            "value": array_to_json(self.value),
            "threshold": array_to_json(self.threshold),
            "feature": array_to_json(self.feature),
            "left": array_to_json(self.left),
            "right": array_to_json(self.right),
            "is_leaf": array_to_json(self.is_leaf),
            "missing_left": array_to_json(self.missing_left),
        }

    @classmethod
    def from_state(cls, r: StateReader, n_features: int) -> TreeEnsemble:
        """Rebuild from :meth:`to_state`.

        Raises
        ------
        ValueError
            If the arrays do not form trees over ``n_features`` features (the caller
            names the file).
        """
        e = cls(
            baseline=r.number("baseline"),
            offsets=r.array("offsets").astype(np.int64),
            value=r.array("value").astype(float),
            threshold=r.array("threshold").astype(float),
            feature=r.array("feature").astype(np.int64),
            left=r.array("left").astype(np.int64),
            right=r.array("right").astype(np.int64),
            is_leaf=r.array("is_leaf").astype(bool),
            missing_left=r.array("missing_left").astype(bool),
        )
        n = e.value.size
        arrays = (e.threshold, e.feature, e.left, e.right, e.is_leaf, e.missing_left)
        if any(a.ndim != 1 or a.size != n for a in (e.value, *arrays)) or n == 0:
            raise ValueError("the node arrays differ in length or are empty")
        if e.offsets.ndim != 1 or e.offsets[0] != 0 or e.offsets[-1] != n:
            raise ValueError("the tree offsets do not span the nodes")
        if np.any(np.diff(e.offsets) <= 0):
            raise ValueError("a tree has no node")
        inner = ~e.is_leaf
        if np.any((e.feature[inner] < 0) | (e.feature[inner] >= n_features)):
            raise ValueError(f"a split uses a feature outside 0..{n_features - 1}")
        # Children lie further down their own tree, so every walk ends at a leaf.
        end = np.repeat(e.offsets[1:], np.diff(e.offsets))
        here = np.arange(n)
        for child in (e.left, e.right):
            if np.any((child[inner] <= here[inner]) | (child[inner] >= end[inner])):
                raise ValueError("a split points outside its own tree")
            if np.any(child[~inner] != here[~inner]):
                raise ValueError("a leaf has children")
        return e
