"""Streaming soft-sensor predictions as tag values, one spectrum at a time.

A spectrometer in line sends a spectrum every few seconds to minutes; each one becomes one
value per response, ready to publish as a tag (historian, unified namespace) with the
OPC UA status class (OPC 10000-4 section 7.39) as quality:

* ``good``: the spectrum is inside the model's applicability domain (T2 and SPE within
  their limits);
* ``uncertain``: it is outside: the value is published (an operator still wants to see it)
  but flagged, so that trends and the record can tell;
* ``bad``: the spectrum has a value that is not a finite number (a detector dropout); the
  value is NaN.

Plain data only: this module neither imports the historian nor connects to anything
(``monitor`` sits below ``historian`` and ``connect``); whoever owns the connection turns
:class:`TagValue` into its samples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np

from phactory.errors import InvalidError
from phactory.monitor.softsensor.model import SoftSensor, SoftSensorPrediction

__all__ = ["Quality", "SoftSensorStream", "TagValue"]

Quality = Literal["good", "uncertain", "bad"]


@dataclass(frozen=True, slots=True)
class TagValue:
    """One predicted value for one tag.

    Attributes
    ----------
    tag
        The tag name given for the response.
    time
        The spectrum's time, as passed to :meth:`SoftSensorStream.update` (unchanged).
    value
        The prediction in the response's units (NaN when the quality is ``bad``).
    quality
        ``good`` in domain, ``uncertain`` out of domain, ``bad`` for an unusable spectrum.
    """

    tag: str
    time: float | datetime
    value: float
    quality: Quality


class SoftSensorStream:
    """Predicts each incoming spectrum and returns the values of the mapped tags.

    Parameters
    ----------
    model
        A fitted :class:`~phactory.monitor.softsensor.model.SoftSensor`.
    tag_names
        Response -> tag name. Responses left out are not published.

    Attributes
    ----------
    count, out_of_domain, bad
        Spectra seen, flagged out of domain, and unusable.
    last
        The prediction of the last usable spectrum (with its T2 and SPE), or None.
    """

    def __init__(self, model: SoftSensor, tag_names: Mapping[str, str]) -> None:
        if not hasattr(model, "coef_"):
            raise InvalidError("the soft sensor of a stream must be fitted")
        unknown = [r for r in tag_names if r not in model.y_names_]
        if unknown:
            raise InvalidError(
                f"tag_names: {', '.join(map(repr, unknown))} not a response of the model "
                f"(responses: {', '.join(model.y_names_)})"
            )
        if not tag_names:
            raise InvalidError("tag_names: map at least one response to a tag")
        self.model = model
        self.tag_names = dict(tag_names)
        self._columns = [model.y_names_.index(r) for r in self.tag_names]
        self.count = 0
        self.out_of_domain = 0
        self.bad = 0
        self.last: SoftSensorPrediction | None = None

    def _spectrum(self, spectrum: Sequence[float] | np.ndarray | Mapping[str, float]) -> np.ndarray:
        p = len(self.model.x_names_)
        if isinstance(spectrum, Mapping):
            missing = [n for n in self.model.x_names_ if n not in spectrum]
            if missing:
                shown = ", ".join(map(repr, missing[:5]))
                raise InvalidError(
                    f"spectrum: {len(missing)} variable(s) of the model missing ({shown}...)"
                )
            return np.array([float(spectrum[n]) for n in self.model.x_names_])
        x = np.asarray(spectrum, dtype=float).ravel()
        if x.shape != (p,):
            raise InvalidError(
                f"spectrum: expected {p} values (the model's variables), got {x.size}"
            )
        return x

    def update(
        self, spectrum: Sequence[float] | np.ndarray | Mapping[str, float], time: float | datetime
    ) -> list[TagValue]:
        """Predict one spectrum measured at ``time``; one :class:`TagValue` per mapped tag.

        ``spectrum`` is the model's variables in order (``x_names_``) or a mapping by name.

        Raises
        ------
        InvalidError
            If the spectrum does not have the model's variables (a configuration error,
            not a measurement one).
        """
        x = self._spectrum(spectrum)
        self.count += 1
        if not np.all(np.isfinite(x)):
            self.bad += 1
            return [TagValue(self.tag_names[r], time, float("nan"), "bad") for r in self.tag_names]
        pred = self.model.predict(x[None, :])
        self.last = pred
        ok = bool(pred.in_domain[0])
        self.out_of_domain += not ok
        quality: Quality = "good" if ok else "uncertain"
        return [
            TagValue(tag, time, float(pred.y[0, k]), quality)
            for tag, k in zip(self.tag_names.values(), self._columns, strict=True)
        ]
