"""The soft sensor on spectra with known ground truth: components chosen by CV, the value of
preprocessing, the applicability domain, the model file, the stream."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phactory.errors import InvalidError
from phactory.monitor.datasets.spectra import SpectraExample, spectra_example
from phactory.monitor.modelfile import load_model, save_model
from phactory.monitor.softsensor import SoftSensor, SoftSensorStream
from phactory.monitor.softsensor.calibration import choose_components, folds


@pytest.fixture(scope="module")
def data() -> SpectraExample:
    return spectra_example(seed=7, n_train=50, n_test=200, n_outside=40, n_wavelengths=201)


def _fit(data: SpectraExample, preprocess: str) -> SoftSensor:
    t = data.train
    return SoftSensor(preprocess=preprocess).fit(t.x, t.y, x_names=t.x_names, y_names=t.y_names)


@pytest.fixture(scope="module")
def sensor(data: SpectraExample) -> SoftSensor:
    return _fit(data, "snv,sg1")


def _rmsep(model: SoftSensor, data: SpectraExample) -> np.ndarray:
    pred = model.predict(data.test.x)
    return np.sqrt(np.mean((pred.y - data.test.y) ** 2, axis=0))


def test_cv_picks_the_rank_of_a_mixture() -> None:
    # Four overlapping bands mixed linearly, little noise in X and in the reference values:
    # each concentration needs exactly 4 components.
    v = np.arange(120.0)
    pure = np.array([np.exp(-0.5 * ((v - c) / 12) ** 2) for c in (30, 50, 70, 90)])
    chosen = []
    for seed in range(6):
        rng = np.random.default_rng(seed)
        conc = rng.uniform(0, 1, size=(40, 4))
        x = conc @ pure + rng.normal(0, 0.01, size=(40, 120))
        y = conc[:, :2] + rng.normal(0, 0.01, size=(40, 2))
        m = SoftSensor(seed=seed).fit(x, y, x_names=[f"{i}" for i in v], y_names=["a", "b"])
        chosen += m.components_
        assert m.n_components_ == max(m.components_)
        # The curve: 0 components is the mean; 4 is far better than 3.
        assert m.cv_rmsecv_[0, 4] < 0.6 * m.cv_rmsecv_[0, 3] < m.cv_rmsecv_[0, 0]
    assert chosen.count(4) >= 11 and set(chosen) <= {4, 5}, chosen


def test_one_standard_error_rule_worked_example() -> None:
    rmsecv = np.array([3.0, 1.0, 0.5, 0.45, 0.44, 0.47])
    se = np.array([0.0, 0.1, 0.03, 0.02, 0.02, 0.02])
    # Minimum at 4 (0.44); within 0.44 + 0.02 = 0.46 the smallest is 3 (0.45).
    assert choose_components(rmsecv, se) == 3
    assert choose_components(rmsecv, np.zeros(6)) == 4


@settings(max_examples=40, deadline=None)
@given(
    st.integers(2, 60), st.integers(2, 12), st.sampled_from(["random", "venetian", "contiguous"])
)
def test_folds_partition_the_samples(n: int, k: int, scheme: str) -> None:
    for repeat in folds(n, k, scheme, repeats=2, seed=1):
        assert len(repeat) == min(k, n)
        together = np.sort(np.concatenate(repeat))
        assert np.array_equal(together, np.arange(n))
        sizes = [len(f) for f in repeat]
        assert max(sizes) - min(sizes) <= 1


def test_preprocessing_lowers_rmsep_on_scattered_spectra(data: SpectraExample) -> None:
    raw = _rmsep(_fit(data, "none"), data)
    for pipeline in ("snv", "msc", "snv,sg1"):
        better = _rmsep(_fit(data, pipeline), data)
        assert np.all(better < 0.75 * raw), (pipeline, better, raw)


def test_rmsecv_estimates_rmsep(sensor: SoftSensor, data: SpectraExample) -> None:
    rmsep = _rmsep(sensor, data)
    assert np.all(sensor.rmsec_ <= sensor.rmsecv_ * 1.05)
    assert np.all(np.abs(rmsep / sensor.rmsecv_ - 1) < 0.35)
    assert np.all(sensor.q2_ > 0.95)


def test_out_of_domain_spectra_are_flagged(sensor: SoftSensor, data: SpectraExample) -> None:
    test = sensor.predict(data.test.x)
    outside = sensor.predict(data.outside.x)
    assert not outside.in_domain.any()
    kinds = np.array(data.outside.kind)
    # A new band and a strong baseline both leave the calibration's space (SPE).
    for kind in ("contaminant", "baseline"):
        assert np.all(outside.spe[kinds == kind] > sensor.spe_limit_)
    # Normal spectra: the measured share flagged is near the target of 1%.
    flagged = 1 - test.in_domain.mean()
    assert flagged <= 0.05
    assert test.t2_limit == sensor.t2_limit_ > 0 and test.spe_limit == sensor.spe_limit_ > 0


def test_no_preprocessing_also_flags_outliers(data: SpectraExample) -> None:
    m = _fit(data, "none")
    assert not m.predict(data.outside.x).in_domain.any()
    assert 1 - m.predict(data.test.x).in_domain.mean() <= 0.05


def test_reloaded_model_predicts_bit_for_bit(
    sensor: SoftSensor, data: SpectraExample, tmp_path: Path
) -> None:
    path = save_model(sensor, tmp_path / "m.json")
    again = load_model(path, expect=SoftSensor)
    for x in (data.test.x, data.outside.x):
        a, b = sensor.predict(x), again.predict(x)
        assert np.array_equal(a.y, b.y)
        assert np.array_equal(a.t2, b.t2) and np.array_equal(a.spe, b.spe)
        assert np.array_equal(a.in_domain, b.in_domain)
    assert again.components_ == sensor.components_
    assert np.array_equal(again.rmsecv_, sensor.rmsecv_)
    assert again.pipeline_.spec == sensor.pipeline_.spec == "snv,sg1:11:2"
    # A model written again is the same state.
    assert again.to_state() == sensor.to_state()


def test_newer_or_broken_state_is_refused(sensor: SoftSensor, tmp_path: Path) -> None:
    path = save_model(sensor, tmp_path / "m.json")
    doc = json.loads(path.read_text())
    doc["state"]["version"] = 99
    path.write_text(json.dumps(doc))
    with pytest.raises(InvalidError, match=r"m.json: field 'state.version'.*upgrade"):
        load_model(path, expect=SoftSensor)
    doc["state"]["version"] = 1
    doc["state"]["coef"]["shape"] = [3, 3]
    doc["state"]["coef"]["data"] = [0.0] * 9
    path.write_text(json.dumps(doc))
    with pytest.raises(InvalidError, match=r"field 'state.coef' must have shape"):
        load_model(path, expect=SoftSensor)


def test_fixed_components(data: SpectraExample) -> None:
    t = data.train
    m = SoftSensor(components=2).fit(t.x, t.y, x_names=t.x_names, y_names=t.y_names)
    assert m.components_ == (2, 2, 2)
    assert np.allclose(m.rmsecv_, m.cv_rmsecv_[:, 2])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"components": 0}, "components must be 'auto'"),
        ({"components": 60}, "components 60: at most"),
        ({"target_far": 0.7}, "target_far must be in"),
        ({"cv": "loo"}, "cv 'loo' is unknown"),
        ({"preprocess": "snv,wavelet"}, "'wavelet' is unknown"),
    ],
)
def test_bad_parameters_are_refused(data: SpectraExample, kwargs: dict, message: str) -> None:
    t = data.train
    with pytest.raises(InvalidError, match=message):
        SoftSensor(**kwargs).fit(t.x, t.y, x_names=t.x_names, y_names=t.y_names)


def test_bad_data_is_refused(data: SpectraExample) -> None:
    t = data.train
    with pytest.raises(InvalidError, match=r"X has 50 rows .* but Y has 49"):
        SoftSensor().fit(t.x, t.y[:-1], x_names=t.x_names, y_names=t.y_names)
    y = t.y.copy()
    y[3, 1] = np.nan
    with pytest.raises(InvalidError, match="Y: row 3 column 'lactate' is not a finite number"):
        SoftSensor().fit(t.x, y, x_names=t.x_names, y_names=t.y_names)
    y = t.y.copy()
    y[:, 2] = 1.0
    with pytest.raises(InvalidError, match="'titre' are constant"):
        SoftSensor().fit(t.x, y, x_names=t.x_names, y_names=t.y_names)
    with pytest.raises(InvalidError, match="at least 5 samples"):
        SoftSensor().fit(t.x[:4], t.y[:4], x_names=t.x_names, y_names=t.y_names)
    with pytest.raises(InvalidError, match="expected spectra of 201 variables"):
        SoftSensor().fit(t.x, t.y, x_names=t.x_names, y_names=t.y_names).predict(t.x[:, :10])


def test_stream_publishes_tags_with_quality(sensor: SoftSensor, data: SpectraExample) -> None:
    stream = SoftSensorStream(sensor, {"glucose": "bio1/glucose", "titre": "bio1/titre"})
    t = datetime(2026, 1, 1, tzinfo=UTC)
    batch = sensor.predict(data.test.x[:1])
    good = stream.update(data.test.x[0], t)
    assert [(v.tag, v.time) for v in good] == [("bio1/glucose", t), ("bio1/titre", t)]
    assert good[0].value == batch.y[0, 0] and good[1].value == batch.y[0, 2]
    assert {v.quality for v in good} == ({"good"} if batch.in_domain[0] else {"uncertain"})
    # By name, any order of the mapping.
    named = dict(zip(reversed(sensor.x_names_), reversed(data.outside.x[0]), strict=True))
    out = stream.update(named, 12.5)
    assert {v.quality for v in out} == {"uncertain"} and out[0].time == 12.5
    spectrum = data.test.x[1].copy()
    spectrum[5] = np.nan
    bad = stream.update(spectrum, 13.0)
    assert {v.quality for v in bad} == {"bad"} and all(math.isnan(v.value) for v in bad)
    assert (stream.count, stream.out_of_domain, stream.bad) == (3, 1 + (not batch.in_domain[0]), 1)


def test_stream_refuses_configuration_errors(sensor: SoftSensor) -> None:
    with pytest.raises(InvalidError, match="'ph' not a response"):
        SoftSensorStream(sensor, {"ph": "bio1/ph"})
    stream = SoftSensorStream(sensor, {"glucose": "g"})
    with pytest.raises(InvalidError, match="expected 201 values"):
        stream.update([1.0, 2.0], 0.0)
    with pytest.raises(InvalidError, match="201 variable\\(s\\) of the model missing"):
        stream.update({"x": 1.0}, 0.0)


@pytest.mark.parametrize("shape", [(12, 40), (60, 8)])
def test_pca_basis_matches_the_svd(shape: tuple[int, int]) -> None:
    from phactory.monitor.softsensor.domain import pca_basis

    x = np.random.default_rng(2).normal(size=shape) @ np.diag(np.linspace(3, 1, shape[1]))
    mean, loadings, variances = pca_basis(x, 5)
    assert np.allclose(mean, x.mean(axis=0))
    _, s, vt = np.linalg.svd(x - x.mean(axis=0), full_matrices=False)
    assert np.allclose(variances, s[:5] ** 2 / (shape[0] - 1))
    # Same directions up to sign; orthonormal.
    assert np.allclose(np.abs(np.sum(loadings * vt[:5].T, axis=0)), 1.0)
    assert np.allclose(loadings.T @ loadings, np.eye(5), atol=1e-10)
