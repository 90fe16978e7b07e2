"""The one contract test, run on every registered process model."""

from __future__ import annotations

import inspect
import math
import pickle

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phactory.model.quantity import check_unit
from phactory.process import (
    Parameter,
    ParameterError,
    QualityAttribute,
    RunOutput,
    SimulationError,
    SimulationResult,
    UnitOperationModel,
    Variable,
    get_model,
    list_models,
)

MODELS = list_models()


@pytest.fixture(params=MODELS)
def model(request: pytest.FixtureRequest) -> UnitOperationModel:
    return get_model(request.param)


@pytest.fixture(scope="module")
def nominal() -> dict[str, SimulationResult]:
    # One nominal simulation per model, shared by the checks that only read it.
    return {name: get_model(name).simulate() for name in MODELS}


def test_builtin_models_are_registered() -> None:
    assert {"ivt", "lyophilisation", "solvent_swap", "cho_fed_batch", "ishigami"} <= set(MODELS)


def test_init_only_stores_configuration(model: UnitOperationModel) -> None:
    config = model.get_config()
    # Every constructor argument is stored under its own name, and nothing else is.
    assert set(vars(model)) == set(config)
    clone = type(model)(**config)
    assert clone.get_config() == config
    assert repr(model).startswith(type(model).__name__ + "(")
    # Configuration only: no positional-only or variadic arguments hiding state.
    kinds = {p.kind for p in inspect.signature(type(model).__init__).parameters.values()}
    assert inspect.Parameter.VAR_POSITIONAL not in kinds


def test_declarations_are_consistent(model: UnitOperationModel) -> None:
    names = model.parameter_names()
    assert len(names) == len(set(names)), "duplicate parameter names"
    assert model.cpp_names(), "a unit operation needs at least one CPP"
    assert model.cqas, "a unit operation needs at least one CQA"
    assert any(q.lower is not None or q.upper is not None for q in model.cqas)
    for p in model.parameters:
        assert p.lower <= p.default <= p.upper
        assert p.description
        check_unit(p.unit)  # every unit is one pint knows
    columns = [v.name for v in (*model.states, *model.outputs)]
    assert len(columns) == len(set(columns)), "duplicate time-series columns"
    for v in (*model.states, *model.outputs):
        check_unit(v.unit)
    for q in model.cqas:
        check_unit(q.unit)


def test_simulate_returns_time_series_and_cqas(
    model: UnitOperationModel, nominal: dict[str, SimulationResult]
) -> None:
    result = nominal[model.name]
    assert isinstance(result, SimulationResult)
    assert result.model == model.name
    ts = result.timeseries
    assert isinstance(ts, pd.DataFrame)
    assert ts.index.name == "time"
    assert len(ts) >= 1
    assert ts.index.is_monotonic_increasing
    assert list(ts.columns) == [v.name for v in (*model.states, *model.outputs)]
    assert set(result.cqas) == set(model.cqa_names())
    assert all(math.isfinite(v) for v in result.cqas.values())
    assert set(result.in_spec) == set(model.cqa_names())
    assert result.units["time"] == "h"
    assert result.params == model.default_params()
    # Defaults describe an acceptable batch.
    assert result.success, result.to_dict()


def test_simulation_is_deterministic(
    model: UnitOperationModel, nominal: dict[str, SimulationResult]
) -> None:
    again = model.simulate()
    assert again.cqas == nominal[model.name].cqas
    pd.testing.assert_frame_equal(again.timeseries, nominal[model.name].timeseries)


def test_out_of_bounds_is_refused_with_name_value_and_range(model: UnitOperationModel) -> None:
    p = model.cpp_names()[0]
    decl = model.parameter(p)
    bad = decl.upper + (decl.upper - decl.lower) + 1.0
    with pytest.raises(ParameterError) as err:
        model.simulate({p: bad})
    msg = str(err.value)
    assert p in msg and f"{bad:g}" in msg and decl.range_text() in msg
    assert err.value.name == p


def test_wrong_unit_is_refused(model: UnitOperationModel) -> None:
    p = model.parameters[0]
    wrong = "3 kg" if "[mass]" not in _dims(p.unit) else "3 m"
    with pytest.raises(ParameterError) as err:
        model.simulate({p.name: wrong})
    assert p.name in str(err.value) and wrong in str(err.value)


def test_unknown_parameter_is_refused(model: UnitOperationModel) -> None:
    with pytest.raises(ParameterError, match="unknown parameter"):
        model.simulate({"no_such_parameter": 1.0})


def test_values_with_units_equal_plain_floats(
    model: UnitOperationModel, nominal: dict[str, SimulationResult]
) -> None:
    p = model.cpp_names()[0]
    decl = model.parameter(p)
    text = f"{decl.default!r} {decl.unit}".strip()
    assert model.simulate({p: text}).cqas == nominal[model.name].cqas


def test_requested_times_are_reported(model: UnitOperationModel) -> None:
    result = model.simulate(times=[0.0])
    assert list(result.timeseries.index) == [0.0]


def test_evaluate_agrees_with_simulate(
    model: UnitOperationModel, nominal: dict[str, SimulationResult]
) -> None:
    names = model.cpp_names()
    row = [[model.parameter(n).default for n in names]]
    values = model.evaluate(np.array(row), names)
    assert values.shape == (1, len(model.cqas))
    expected = [nominal[model.name].cqas[q] for q in model.cqa_names()]
    np.testing.assert_allclose(values[0], expected, rtol=1e-12)


def test_model_pickles_for_workers(model: UnitOperationModel) -> None:
    clone = pickle.loads(pickle.dumps(model))
    assert clone.get_config() == model.get_config()


def _dims(unit: str) -> str:
    from phactory.model.quantity import unit_registry

    return str(unit_registry().Unit(unit).dimensionality) if unit else "dimensionless"


# ---------------------------------------------------------------------- the valid domain
# The declared bounds are each model's valid domain: every point of the box simulates, with
# finite CQAs and every non-negative variable non-negative over the whole time series.


def _assert_valid_run(model: UnitOperationModel, params: dict[str, float]) -> None:
    result = model.simulate(params)  # raises SimulationError if the model fails there
    assert all(math.isfinite(v) for v in result.cqas.values()), (params, result.cqas)
    ts = result.timeseries
    for v in (*model.states, *model.outputs):
        if v.nonnegative:
            col = ts[v.name].to_numpy(dtype=float)
            scale = float(np.nanmax(np.abs(col))) if col.size else 1.0
            tol = max(model.nonnegative_rtol * scale, model.nonnegative_atol)
            assert np.nanmin(col, initial=0.0) >= -tol, (v.name, params)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("side", ["lower", "upper"])
def test_every_declared_bound_simulates(name: str, side: str) -> None:
    model = get_model(name)
    for p in model.parameters:
        _assert_valid_run(model, {p.name: getattr(p, side)})


@st.composite
def _points(draw: st.DrawFn, name: str) -> dict[str, float]:
    # Each parameter at its lower bound, its upper bound or anywhere between, independently:
    # corners, faces and the interior of the box.
    out = {}
    for p in get_model(name).parameters:
        out[p.name] = draw(
            st.one_of(
                st.just(p.lower),
                st.just(p.upper),
                st.floats(p.lower, p.upper, allow_nan=False, allow_infinity=False),
            )
        )
    return out


@pytest.mark.parametrize("name", MODELS)
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_point_of_the_declared_box_simulates(name: str, data: st.DataObject) -> None:
    model = get_model(name)
    _assert_valid_run(model, data.draw(_points(name)))


class _Dip(UnitOperationModel):
    """A concentration that dips below zero mid-run and recovers by the end."""

    name = "test_dip"
    title = "Test model with a dip"
    parameters = (Parameter("depth", "mol/L", 0.5, 0.0, 1.0, "how far it dips", cpp=True),)
    states = (Variable("c", "mol/L", "a concentration", nonnegative=True),)
    outputs = (Variable("t_signed", "degC", "a temperature, which may be negative"),)
    cqas = (QualityAttribute("c_end", "mol/L", "final concentration", lower=0.0),)

    def _run(self, p: dict[str, float], times: object) -> RunOutput:
        columns = {"c": np.array([1.0, -p["depth"], 1.0]), "t_signed": np.full(3, -40.0)}
        return np.array([0.0, 1.5, 3.0]), columns, {"c_end": 1.0}


def test_a_negative_state_anywhere_in_the_run_is_refused() -> None:
    # The end of the run is fine; the middle is not (the CHO model was checked only at
    # harvest).
    with pytest.raises(SimulationError, match=r"'c'\) is negative, -0.5 mol/L at t = 1.5 h"):
        _Dip().simulate()
    # Round-off below the tolerance (1e-6 of the largest magnitude) is not a negative
    # concentration, and variables not declared non-negative may be negative.
    assert _Dip().simulate({"depth": 1e-9}).cqas == {"c_end": 1.0}


class _Nothing(_Dip):
    """A concentration that stays at zero, but for an integrator's round-off."""

    def _run(self, p: dict[str, float], times: object) -> RunOutput:
        columns = {"c": np.array([0.0, -3.7e-110, 0.0]), "t_signed": np.full(3, -40.0)}
        return np.array([0.0, 1.5, 3.0]), columns, {"c_end": 1.0}


def test_round_off_of_a_variable_that_stays_at_zero_is_zero() -> None:
    # Its own largest magnitude is the round-off: only the absolute floor tells it apart
    # (found by Hypothesis on the CHO model: no glutamine, a feed of 4.5e-117 L/h).
    assert _Nothing().simulate().cqas == {"c_end": 1.0}


# ---------------------------------------------------------------------- the result
# The time series is held as NumPy arrays; the DataFrame is built from them on first read.


def test_the_dataframe_is_the_arrays(
    model: UnitOperationModel, nominal: dict[str, SimulationResult]
) -> None:
    result = nominal[model.name]
    ts = result.timeseries
    assert result.timeseries is ts  # built once
    np.testing.assert_array_equal(ts.index.to_numpy(), result.time)
    assert list(result.columns) == list(ts.columns)
    for name, values in result.columns.items():
        np.testing.assert_array_equal(ts[name].to_numpy(), values)
        assert values.dtype == np.float64 and ts[name].dtype == np.float64
    assert not result.time.flags.writeable
    assert not any(v.flags.writeable for v in result.columns.values())


def test_results_compare_and_pickle(
    model: UnitOperationModel, nominal: dict[str, SimulationResult]
) -> None:
    result = nominal[model.name]
    assert model.simulate() == result
    _ = result.timeseries  # a built DataFrame does not travel, and is not compared
    clone = pickle.loads(pickle.dumps(result))
    assert clone == result
    assert "timeseries" not in vars(clone)
    pd.testing.assert_frame_equal(clone.timeseries, result.timeseries, check_exact=True)
    p = model.cpp_names()[0]
    decl = model.parameter(p)
    other = model.simulate({p: decl.lower if decl.default != decl.lower else decl.upper})
    assert other != result


class _Ragged(_Dip):
    """A model whose column is shorter than its times."""

    name = "test_ragged"

    def _run(self, p: dict[str, float], times: object) -> RunOutput:
        columns = {"c": np.array([1.0, 1.0]), "t_signed": np.full(3, -40.0)}
        return np.array([0.0, 1.5, 3.0]), columns, {"c_end": 1.0}


def test_columns_that_do_not_line_up_with_the_times_are_refused() -> None:
    with pytest.raises(SimulationError, match=r"test_ragged: column 'c' has shape \(2,\)"):
        _Ragged().simulate()
