"""Surrogates: accuracy on held-out data, k-fold CV, files with version headers, speed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from phactory.process import Surrogate, fit_surrogate, get_model


@pytest.fixture(scope="module")
def lyo_surrogate() -> Surrogate:
    return fit_surrogate(
        get_model("lyophilisation"),
        n_samples=120,
        n_test=40,
        kind="polynomial",
        folds=4,
        seed=0,
        workers=1,
    )


def test_polynomial_surrogate_is_accurate_on_held_out_data(lyo_surrogate: Surrogate) -> None:
    rep = lyo_surrogate.report
    assert rep is not None
    assert rep.kind == "polynomial" and rep.degree is not None
    assert rep.min_test_r2 >= 0.99, rep.test_r2
    assert min(rep.cv_r2.values()) >= 0.99, rep.cv_r2
    assert rep.folds == 4 and rep.n_train == 120 and rep.n_test == 40
    assert rep.speedup > 1.0 and rep.simulation_time > 0


def test_prediction_matches_the_model(lyo_surrogate: Surrogate) -> None:
    model = get_model("lyophilisation")
    point = {"shelf_temperature": 5.0, "chamber_pressure": 0.1}
    pred = lyo_surrogate.predict_dict(point)
    true = model.simulate(point).cqas
    assert pred["primary_drying_time"] == pytest.approx(true["primary_drying_time"], rel=0.02)
    assert pred["collapse_margin"] == pytest.approx(true["collapse_margin"], abs=0.3)


def test_json_round_trip(lyo_surrogate: Surrogate, tmp_path: Path) -> None:
    path = lyo_surrogate.save(tmp_path / "lyo.json")
    head = json.loads(path.read_text())
    assert head["format"] == "phactory-process-surrogate" and head["version"] == 1
    loaded = Surrogate.load(path)
    x = np.array([[0.0, 0.1], [-20.0, 0.25]])
    np.testing.assert_array_equal(loaded.predict(x), lyo_surrogate.predict(x))
    assert loaded.report is not None and loaded.report.test_r2 == lyo_surrogate.report.test_r2


def test_other_versions_are_refused(lyo_surrogate: Surrogate, tmp_path: Path) -> None:
    path = lyo_surrogate.save(tmp_path / "lyo.json")
    head = json.loads(path.read_text())
    head["version"] = 99
    path.write_text(json.dumps(head))
    with pytest.raises(ValueError, match="version"):
        Surrogate.load(path)


def test_extrapolation_is_refused(lyo_surrogate: Surrogate) -> None:
    with pytest.raises(ValueError, match="outside"):
        lyo_surrogate.predict([[60.0, 0.1]])


def test_log_transform_for_wide_ranging_cqas() -> None:
    sur = fit_surrogate(
        get_model("solvent_swap"),
        n_samples=80,
        n_test=30,
        kind="polynomial",
        folds=3,
        seed=1,
        workers=1,
    )
    assert sur.report is not None
    assert sur.report.extra["transforms"]["residual_light_solvent"] == "log10"
    assert sur.report.test_r2["residual_light_solvent"] > 0.95
    assert sur.report.test_r2["solvent_used"] > 0.9999  # exactly linear in the inputs


@pytest.mark.parametrize("kind", ["mlp", "gp"])
def test_sklearn_surrogates_round_trip_with_joblib(kind: str, tmp_path: Path) -> None:
    sur = fit_surrogate(
        get_model("ishigami"),
        inputs=["x1", "x2"],
        n_samples=50,
        n_test=20,
        kind=kind,
        folds=2,
        seed=0,
        workers=1,
    )
    assert sur.report is not None and sur.report.kind == kind
    assert sur.report.min_test_r2 > 0.9
    path = sur.save(tmp_path / f"ishigami-{kind}.joblib")
    loaded = Surrogate.load(path)
    x = np.array([[0.1, -1.0], [2.0, 0.5]])
    np.testing.assert_allclose(loaded.predict(x), sur.predict(x))
