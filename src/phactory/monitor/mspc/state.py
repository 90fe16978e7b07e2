"""The model file state of an MSPC model (family ``mspc``), version 1.

``state`` holds: ``version``, ``method``, ``params`` (the constructor's arguments:
``n_components``, ``lags``, ``target_far``, ``persistence`` ``[k, n]``,
``y_variables``, ``options`` ``{explained, spe_limit, ewma}``), ``variables`` and
``dropped`` (constant in training), the autoscaling ``center`` and ``scale``, ``lags``
used, the ``projection`` (:class:`~.projection.Projection`), ``smoothing_start`` (the
training mean of each contribution), ``limits`` (``t2``, ``spe``, their ``*_nominal``
values and the calibration ``factor``), ``far`` (``target``, ``validation``,
``validation_nominal_limits``, ``validation_rows``, ``training``) and, for the
``innovation`` method, ``innovation`` (``coef``, ``ridge``, ``center``, ``scale``).
Every array is checked against the number of variables when read, so a hand-edited
file is refused naming the field rather than failing while scoring.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from phactory.errors import InvalidError
from phactory.monitor.modelfile import StateReader, array_to_json
from phactory.monitor.mspc.model import DYNAMIC, METHODS, STATE_VERSION, ewma_weight
from phactory.monitor.mspc.projection import Projection

if TYPE_CHECKING:
    from phactory.monitor.mspc.model import MspcModel

__all__ = ["read_state", "write_state"]

_M = TypeVar("_M", bound="MspcModel")


def write_state(model: MspcModel) -> dict[str, Any]:
    """The fitted model as JSON-ready values (state version :data:`STATE_VERSION`)."""
    state: dict[str, Any] = {
        "version": STATE_VERSION,
        "method": model.method,
        "params": {
            "n_components": model.n_components,
            "lags": model.lags,
            "target_far": model.target_far,
            "persistence": list(model.persistence),
            "y_variables": list(model.y_variables),
            "options": {
                "explained": model.explained_,
                "spe_limit": model.spe_method_,
                "ewma": model.ewma_,
            },
        },
        "variables": list(model.variables_),
        "dropped": list(model.dropped_),
        "center": array_to_json(model.center_),
        "scale": array_to_json(model.scale_),
        "lags": model.lags_,
        "projection": model.projection_.to_state(),
        "smoothing_start": {
            "t2": array_to_json(model.start_t2_),
            "spe": array_to_json(model.start_spe_),
        },
        "limits": {
            "t2": model.t2_limit_,
            "spe": model.spe_limit_,
            "t2_nominal": model.t2_nominal_,
            "spe_nominal": model.spe_nominal_,
            "factor": model.calibration_factor_,
        },
        "far": {
            "target": model.target_far,
            "validation": model.far_validation_,
            "validation_nominal_limits": model.far_validation_nominal_,
            "validation_rows": model.validation_rows_,
            "training": model.far_training_,
            "calibrated_on": model.calibrated_on_,
        },
    }
    if model.predictor_ is not None:
        state["innovation"] = {
            "coef": array_to_json(model.predictor_),
            "ridge": model.ridge_,
            "center": array_to_json(model.innovation_center_),
            "scale": array_to_json(model.innovation_scale_),
        }
    return state


def read_state(cls: type[_M], state: Mapping[str, Any], where: str) -> _M:
    """Rebuild a fitted model; refuse unknown or newer versions, naming the field."""
    r = StateReader(state, where)
    r.version(STATE_VERSION, "mspc")
    method = r.text("method")
    if method not in METHODS:
        raise InvalidError(f"{r.at('method')}: unknown method {method!r}")
    params = r.child("params")
    persistence = params.pair("persistence")
    options = params.child("options")
    n_comp = params.mapping().get("n_components")
    spe_method, explained = options.text("spe_limit"), options.number("explained")
    model = cls(
        method,
        n_components=None if n_comp is None else params.integer("n_components"),
        lags=params.integer("lags"),
        target_far=params.number("target_far"),
        persistence=persistence,
        y_variables=params.texts("y_variables"),
        explained=explained,
        spe_limit=spe_method,
        ewma=options.number("ewma"),
    )
    model.variables_ = r.texts("variables")
    model.dropped_ = r.texts("dropped")
    p = len(model.variables_)
    model.center_, model.scale_ = r.array("center"), r.array("scale")
    for name, arr in (("center", model.center_), ("scale", model.scale_)):
        if arr.shape != (p,) or arr.dtype != np.float64:
            raise InvalidError(f"{r.at(name)} must be {p} floats (one per variable)")
    if not np.all(model.scale_ > 0):
        raise InvalidError(f"{r.at('scale')} must be positive")
    model.lags_ = r.integer("lags")
    if model.lags_ != (model.lags if method in DYNAMIC else 0):
        raise InvalidError(f"{r.at('lags')} does not match the method's parameters")
    m = p * (model.lags_ + 1) if method == "dpca" else p
    model.projection_ = Projection.from_state(r.child("projection"), m)
    model.n_components_ = model.projection_.n_components
    model.spe_method_, model.explained_ = spe_method, explained
    model.ewma_ = ewma_weight(method, options.number("ewma"))
    start = r.child("smoothing_start")
    model.start_t2_, model.start_spe_ = start.array("t2"), start.array("spe")
    for name, arr in (("t2", model.start_t2_), ("spe", model.start_spe_)):
        if arr.shape != (p,) or arr.dtype != np.float64:
            raise InvalidError(f"{start.at(name)} must be {p} floats (one per variable)")
    model.predictor_ = None
    if method == "innovation":
        inn = r.child("innovation")
        model.predictor_, model.ridge_ = inn.array("coef"), inn.number("ridge")
        model.innovation_center_, model.innovation_scale_ = (
            inn.array("center"),
            inn.array("scale"),
        )
        if model.predictor_.shape != (p * model.lags_, p):
            raise InvalidError(f"{inn.at('coef')} must have shape {[p * model.lags_, p]}")
        if model.innovation_center_.shape != (p,) or model.innovation_scale_.shape != (p,):
            raise InvalidError(f"{inn.at('center')} and 'scale' must have {p} values")
    lim = r.child("limits")
    model.t2_limit_, model.spe_limit_ = lim.number("t2"), lim.number("spe")
    model.t2_nominal_, model.spe_nominal_ = lim.number("t2_nominal"), lim.number("spe_nominal")
    model.calibration_factor_ = lim.number("factor")
    far = r.child("far")
    model.far_validation_ = far.optional_number("validation")
    model.far_validation_nominal_ = far.optional_number("validation_nominal_limits")
    model.validation_rows_ = far.integer("validation_rows")
    model.far_training_ = far.number("training")
    # Files written before the held-out calibration have no "calibrated_on".
    model.calibrated_on_ = (
        far.text("calibrated_on")
        if far.has("calibrated_on")
        else ("validation" if model.validation_rows_ else "nominal")
    )
    try:
        model._check(None, fitting=False)
    except InvalidError as exc:
        raise InvalidError(f"{r.at('params')}: {exc}") from None
    return model
