"""Spectral preprocessing for soft sensors: SNV, MSC, Savitzky-Golay, centring, scaling.

A pipeline is written as text, steps separated by commas and applied left to right::

    "snv,sg1"          SNV, then a first derivative (window 11, polynomial order 2)
    "msc,sg2:15:3"     MSC, then a second derivative (window 15, order 3)
    "sg:7:2,center"    smoothing (window 7, order 2), then mean centring

Steps
-----
``snv``
    Standard normal variate (Barnes, Dhanoa & Lister 1989): each spectrum minus its own
    mean, divided by its own standard deviation (``ddof=1``). Removes multiplicative
    scatter and additive offsets spectrum by spectrum; needs no fitted state. A flat
    spectrum (standard deviation 0) is only centred, so that a stream never divides by 0.
``msc``
    Multiplicative scatter correction (Geladi, MacDougall & Martens 1985): each spectrum
    ``x`` is regressed on a reference ``r`` by least squares, ``x = a + b r``, and replaced by
    ``(x - a) / b``. The reference is the mean training spectrum (after the steps before
    ``msc``), fitted once and stored with the model.
``sg[:W[:P]]``, ``sg1[:W[:P]]``, ``sg2[:W[:P]]``
    Savitzky-Golay (1964) smoothing, first and second derivative by a local polynomial of
    order ``P`` over an odd window of ``W`` points (default ``W = 11``, ``P = 2``), by
    :func:`scipy.signal.savgol_filter` with ``mode="interp"`` (the end windows are fitted
    by the polynomial, so a straight line stays exact up to the edges). Derivatives are per
    column (``delta = 1``), i.e. in units of the spectrum per wavelength channel: column
    names need not be numbers and channels are assumed equally spaced.
``center`` (also ``centre``)
    Mean centring: the training column means are subtracted (stored).
``autoscale`` (also ``scale``)
    Centring and division by the training column standard deviations (``ddof=1``; a
    column constant in training keeps scale 1). Gives every wavelength the same weight,
    which amplifies noisy channels in spectra; usually not used with spectra but common
    for process variables.

SNV, MSC and the Savitzky-Golay filters work along the spectrum, so the column order of
the training file is the wavelength order. The reviews of Rinnan, van den Berg & Engelsen
(2009) and of Engel et al. (2013) compare these methods; which works is an empirical
question per data set, hence the CLI reports RMSECV for the pipeline a user chooses.

References
----------
Barnes, R.J., Dhanoa, M.S., Lister, S.J. (1989). Standard normal variate transformation and
de-trending of near-infrared diffuse reflectance spectra. Appl. Spectrosc. 43, 772-777.
Geladi, P., MacDougall, D., Martens, H. (1985). Linearization and scatter-correction for
near-infrared reflectance spectra of meat. Appl. Spectrosc. 39, 491-500.
Savitzky, A., Golay, M.J.E. (1964). Smoothing and differentiation of data by simplified
least squares procedures. Anal. Chem. 36, 1627-1639.
Rinnan, A., van den Berg, F., Engelsen, S.B. (2009). Review of the most common
pre-processing techniques for near-infrared spectra. TrAC 28, 1201-1222.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from phactory.errors import InvalidError
from phactory.monitor.modelfile import StateReader, array_to_json

__all__ = ["STEPS", "Pipeline", "Step", "parse_pipeline"]

#: Step names accepted in a pipeline (aliases map to the first spelling).
STEPS = ("snv", "msc", "sg", "sg1", "sg2", "center", "autoscale")
_ALIASES = {"centre": "center", "scale": "autoscale"}
_SG_DEFAULT = (11, 2)
#: Spectra whose spread is below this are treated as flat (SNV, MSC).
_TINY = 1e-12


@dataclass
class Step:
    """One preprocessing step and its fitted state.

    Attributes
    ----------
    name
        One of :data:`STEPS`.
    window, polyorder
        Savitzky-Golay options (0 for the other steps).
    reference
        MSC: the training mean spectrum.
    mean, scale
        ``center`` / ``autoscale``: the training column means and standard deviations.
    """

    name: str
    window: int = 0
    polyorder: int = 0
    reference: np.ndarray | None = field(default=None, repr=False)
    mean: np.ndarray | None = field(default=None, repr=False)
    scale: np.ndarray | None = field(default=None, repr=False)

    @property
    def spec(self) -> str:
        """The step as written in a pipeline (``sg1:11:2``)."""
        if self.name.startswith("sg"):
            return f"{self.name}:{self.window}:{self.polyorder}"
        return self.name

    @property
    def deriv(self) -> int:
        return {"sg": 0, "sg1": 1, "sg2": 2}.get(self.name, 0)

    @property
    def fitted(self) -> bool:
        if self.name == "msc":
            return self.reference is not None
        if self.name in ("center", "autoscale"):
            return self.mean is not None
        return True

    def check_width(self, p: int) -> None:
        """Refuse a window wider than the spectrum (``p`` columns)."""
        if self.name.startswith("sg") and self.window > p:
            raise InvalidError(
                f"preprocess step {self.spec!r}: window {self.window} is wider than the "
                f"{p} columns of the spectra"
            )

    def fit(self, X: np.ndarray) -> None:
        """Fit the step's state on training spectra ``X`` (n, p) (already through the steps
        before it)."""
        self.check_width(X.shape[1])
        if self.name == "msc":
            self.reference = X.mean(axis=0)
            if float(np.ptp(self.reference)) <= _TINY:
                raise InvalidError("preprocess step 'msc': the mean training spectrum is flat")
        elif self.name == "center":
            self.mean = X.mean(axis=0)
        elif self.name == "autoscale":
            self.mean = X.mean(axis=0)
            sd = X.std(axis=0, ddof=1) if X.shape[0] > 1 else np.zeros(X.shape[1])
            self.scale = np.where(sd > _TINY, sd, 1.0)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Apply the step to spectra ``X`` (n, p); returns a new array."""
        if self.name == "snv":
            mean = X.mean(axis=1, keepdims=True)
            sd = X.std(axis=1, ddof=1, keepdims=True) if X.shape[1] > 1 else np.ones_like(mean)
            snv: np.ndarray = (X - mean) / np.where(sd > _TINY, sd, 1.0)
            return snv
        if self.name.startswith("sg"):
            from scipy.signal import savgol_filter

            self.check_width(X.shape[1])
            out: np.ndarray = savgol_filter(
                X, self.window, self.polyorder, deriv=self.deriv, axis=1, mode="interp"
            )
            return out
        if not self.fitted:
            raise InvalidError(f"preprocess step {self.spec!r} is not fitted")
        if self.name == "msc":
            assert self.reference is not None
            return _msc(X, self.reference)
        assert self.mean is not None
        centred: np.ndarray = X - self.mean
        if self.name == "center":
            return centred
        assert self.scale is not None
        scaled: np.ndarray = centred / self.scale
        return scaled

    def to_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"step": self.name}
        if self.name.startswith("sg"):
            state |= {"window": self.window, "polyorder": self.polyorder}
        if self.reference is not None:
            state["reference"] = array_to_json(self.reference)
        if self.mean is not None:
            state["mean"] = array_to_json(self.mean)
        if self.scale is not None:
            state["scale"] = array_to_json(self.scale)
        return state

    @classmethod
    def from_state(cls, r: StateReader, at: str) -> Step:
        """Read a step written by :meth:`to_state`; ``at`` names it in messages."""
        name = r.text("step")
        if name not in STEPS:
            raise InvalidError(f"{at}: unknown preprocess step {name!r}")
        step = cls(name)
        if name.startswith("sg"):
            step.window, step.polyorder = r.integer("window"), r.integer("polyorder")
            _check_sg(step.spec, step.window, step.polyorder, step.deriv)
        if r.has("reference"):
            step.reference = r.array("reference")
        if r.has("mean"):
            step.mean = r.array("mean")
        if r.has("scale"):
            step.scale = r.array("scale")
        if not step.fitted:
            raise InvalidError(f"{at}: step {name!r} has no fitted state")
        return step


def _msc(X: np.ndarray, reference: np.ndarray) -> np.ndarray:
    # Least squares of each row on [1, r]: b = cov(x, r) / var(r), a = mean(x) - b mean(r).
    rc = reference - reference.mean()
    b = (X - X.mean(axis=1, keepdims=True)) @ rc / float(rc @ rc)
    a = X.mean(axis=1) - b * reference.mean()
    # A spectrum unrelated to the reference (b ~ 0) would blow up; keep it finite and let
    # the applicability domain flag it.
    b = np.where(np.abs(b) > _TINY, b, _TINY)
    out: np.ndarray = (X - a[:, None]) / b[:, None]
    return out


def _check_sg(spec: str, window: int, polyorder: int, deriv: int) -> None:
    if window < 3 or window % 2 == 0:
        raise InvalidError(f"preprocess step {spec!r}: the window must be odd and >= 3")
    if not polyorder < window:
        raise InvalidError(
            f"preprocess step {spec!r}: the polynomial order must be below the window"
        )
    if polyorder < deriv:
        raise InvalidError(
            f"preprocess step {spec!r}: a derivative of order {deriv} needs a polynomial "
            f"order of at least {deriv}"
        )


def _parse_step(text: str) -> Step:
    head, *options = [part.strip() for part in text.split(":")]
    name = _ALIASES.get(head.lower(), head.lower())
    if name not in STEPS:
        raise InvalidError(
            f"preprocess step {text!r} is unknown (known: snv, msc, sg, sg1, sg2 with "
            "optional :window:polyorder, center, autoscale)"
        )
    if not name.startswith("sg"):
        if options:
            raise InvalidError(f"preprocess step {text!r}: {name!r} takes no options")
        return Step(name)
    if len(options) > 2:
        raise InvalidError(f"preprocess step {text!r}: expected {name}[:window[:polyorder]]")
    window, polyorder = _SG_DEFAULT
    try:
        if options:
            window = int(options[0])
        if len(options) > 1:
            polyorder = int(options[1])
    except ValueError:
        raise InvalidError(
            f"preprocess step {text!r}: window and polynomial order must be whole numbers"
        ) from None
    step = Step(name, window=window, polyorder=polyorder)
    _check_sg(text, window, polyorder, step.deriv)
    return step


def parse_pipeline(spec: str | Sequence[str]) -> Pipeline:
    """A pipeline from text (``"snv,sg1:15:2"``) or a sequence of step texts.

    An empty text or sequence (or ``"none"``) is the identity.

    Raises
    ------
    InvalidError
        Naming the step: unknown step, options on a step that takes none, a window that is
        even, below 3 or not above the polynomial order, a polynomial order below the
        derivative.
    """
    parts = spec.split(",") if isinstance(spec, str) else list(spec)
    texts = [p.strip() for p in parts if p.strip()]
    if texts in (["none"], ["raw"]):
        texts = []
    return Pipeline([_parse_step(t) for t in texts])


@dataclass
class Pipeline:
    """Preprocessing steps applied left to right, each fitted on the output of the last."""

    steps: list[Step]

    @property
    def spec(self) -> str:
        """The pipeline as text (``"snv,sg1:11:2"``; ``"none"`` when empty)."""
        return ",".join(s.spec for s in self.steps) or "none"

    def fit(self, X: np.ndarray) -> Pipeline:
        """Fit every step on the training spectra ``X`` (n, p)."""
        self.fit_transform(X)
        return self

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        """Fit on ``X`` and return it preprocessed."""
        out = np.asarray(X, dtype=float)
        for step in self.steps:
            step.fit(out)
            out = step.transform(out)
        return out

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Preprocess spectra ``X`` (n, p) with the fitted steps."""
        out = np.asarray(X, dtype=float)
        for step in self.steps:
            out = step.transform(out)
        return out

    def fresh(self) -> Pipeline:
        """An unfitted copy (for cross-validation folds)."""
        return Pipeline([Step(s.name, s.window, s.polyorder) for s in self.steps])

    def to_state(self) -> list[dict[str, Any]]:
        return [s.to_state() for s in self.steps]

    @classmethod
    def from_state(cls, raw: Any, where: str, prefix: str) -> Pipeline:
        """Read the steps written by :meth:`to_state`; ``where`` names the file and
        ``prefix`` the field (``state.preprocess``) in messages."""
        if not isinstance(raw, list):
            raise InvalidError(f"{where}: field {prefix!r} must be a list of steps")
        steps = []
        for i, item in enumerate(raw):
            at = f"{prefix}[{i}]"
            if not isinstance(item, dict):
                raise InvalidError(f"{where}: field {at!r} must be an object")
            steps.append(Step.from_state(StateReader(item, where, at), f"{where}: field {at!r}"))
        return cls(steps)
