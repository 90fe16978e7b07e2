"""Registry and the plant twin's per-batch entry point."""

from __future__ import annotations

import numpy as np
import pytest

from phactory.process import (
    ParameterError,
    UnitOperationModel,
    get_model,
    list_models,
    register_model,
    run_for_batch,
)
from phactory.process.models.ishigami import Ishigami


def test_get_model_returns_fresh_instances() -> None:
    a, b = get_model("ivt"), get_model("ivt")
    assert isinstance(a, UnitOperationModel) and a is not b
    assert get_model("solvent_swap", strategy="put_and_take").strategy == "put_and_take"


def test_unknown_model_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="ivt"):
        get_model("no-such-model")


def test_register_a_plugin_model() -> None:
    class Shifted(Ishigami):
        name = "ishigami_plugin_test"

    register_model("ishigami_plugin_test", Shifted, replace=True)
    assert "ishigami_plugin_test" in list_models()
    with pytest.raises(ValueError, match="already registered"):
        register_model("ishigami_plugin_test", Shifted)


def test_run_for_batch_is_reproducible_from_the_generator() -> None:
    setpoints = {"mg_total": "60 mM", "ntp_total": 0.05}
    a = run_for_batch("ivt", setpoints, np.random.default_rng(11))
    b = run_for_batch("ivt", setpoints, np.random.default_rng(11))
    c = run_for_batch("ivt", setpoints, np.random.default_rng(12))
    assert a == b
    assert a["rna_yield"] != c["rna_yield"]  # kinetic constants vary batch to batch
    assert set(a) == {"rna_yield", "final_ph", "ntp_conversion"}


def test_run_for_batch_without_generator_is_the_nominal_batch() -> None:
    nominal = get_model("lyophilisation").simulate({"shelf_temperature": 0.0}).cqas
    assert run_for_batch("lyophilisation", {"shelf_temperature": "0 degC"}, None) == nominal


def test_run_for_batch_keeps_recipe_set_points() -> None:
    # A set point the recipe gives is never perturbed, even if the parameter is uncertain.
    rng = np.random.default_rng(0)
    fixed = {"k_app": 4.34, "k1": 5.55e5, "k2": 1.94e5, "k_ac": 1.2e6}
    assert run_for_batch("ivt", fixed, rng) == get_model("ivt").simulate(fixed).cqas


def test_run_for_batch_refuses_bad_set_points() -> None:
    with pytest.raises(ParameterError, match="mg_total"):
        run_for_batch("ivt", {"mg_total": "2 mol/L"}, np.random.default_rng(0))
