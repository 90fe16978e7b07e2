"""Model files: versioned JSON, exact arrays, refusals that name the file and field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from phactory.errors import InvalidError, NotFoundError
from phactory.monitor.modelfile import (
    FORMAT,
    FORMAT_VERSION,
    StateReader,
    array_from_json,
    array_to_json,
    load_model,
    save_model,
)
from phactory.monitor.mspc import MspcModel


@pytest.fixture(scope="module")
def fitted() -> MspcModel:
    rng = np.random.default_rng(0)
    latent = rng.standard_normal((300, 2))
    X = latent @ rng.standard_normal((2, 5)) + 0.3 * rng.standard_normal((300, 5))
    return MspcModel("pca", n_components=2).fit(X, [f"x{i}" for i in range(5)])


@pytest.fixture
def saved(tmp_path: Path, fitted: MspcModel) -> Path:
    return save_model(fitted, tmp_path / "model.json")


def _edit(path: Path, change: Any) -> Path:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))
    return path


@settings(max_examples=50)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(0, 4), st.integers(0, 4)),
        elements=st.floats(allow_nan=True, allow_infinity=True, width=64),
    )
)
def test_float_arrays_reload_bit_for_bit(a: np.ndarray) -> None:
    back = array_from_json(json.loads(json.dumps(array_to_json(a))), "f")
    assert back.shape == a.shape and back.dtype == np.float64
    assert np.array_equal(back, a, equal_nan=True)
    # The same bits, not only equal values (-0.0 stays -0.0; a NaN reads back as NaN).
    assert back.tobytes() == np.where(np.isnan(a), np.nan, a).tobytes()


def test_integer_and_boolean_arrays_keep_their_type() -> None:
    for a in (np.arange(6).reshape(2, 3), np.array([True, False])):
        back = array_from_json(array_to_json(a), "f")
        assert back.dtype == (np.int64 if a.dtype.kind == "i" else np.bool_)
        np.testing.assert_array_equal(back, a)
    with pytest.raises(TypeError):
        array_to_json(np.array(["text"]))


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ([1, 2], "expected an array"),
        ({"dtype": "complex", "shape": [1], "data": [1]}, "unknown dtype"),
        ({"dtype": "float64", "shape": [-1], "data": []}, "non-negative integers"),
        ({"dtype": "float64", "shape": [3], "data": [1, 2]}, "2 values for shape"),
        ({"dtype": "float64", "shape": [2], "data": [1, "x"]}, "not a number"),
        ({"dtype": "int64", "shape": [1], "data": [1.5]}, "not a number"),
        ({"dtype": "float64", "shape": [1], "data": "1"}, "data must be a list"),
    ],
)
def test_bad_arrays_are_refused_naming_the_field(obj: Any, message: str) -> None:
    with pytest.raises(InvalidError, match=message) as err:
        array_from_json(obj, "m.json: field 'state.center'")
    assert "m.json: field 'state.center'" in str(err.value)


def test_a_saved_model_reloads_to_identical_scores(saved: Path, fitted: MspcModel) -> None:
    doc = json.loads(saved.read_text())
    assert doc["format"] == FORMAT and doc["format_version"] == FORMAT_VERSION
    assert doc["family"] == "mspc" and doc["state"]["method"] == "pca"
    again = load_model(saved, expect=MspcModel)
    X = np.random.default_rng(1).standard_normal((50, 5))
    a, b = fitted.score(X), again.score(X)
    assert a.t2.tobytes() == b.t2.tobytes() and a.spe.tobytes() == b.spe.tobytes()
    assert a.contributions.tobytes() == b.contributions.tobytes()
    assert not (saved.parent / "model.json.tmp").exists()


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no such model file"):
        load_model(tmp_path / "absent.json")
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(InvalidError, match="not a JSON model file") as err:
        load_model(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format="something else"), "not a Phactory monitoring model"),
        (lambda d: d.update(format_version=FORMAT_VERSION + 1), "upgrade Phactory"),
        (lambda d: d.update(format_version="1"), "format_version must be a positive integer"),
        (lambda d: d.update(family="tarot"), "unknown model family 'tarot'"),
        (lambda d: d.update(state=[1]), "field 'state' must be an object"),
        (lambda d: d["state"].update(version=99), r"field 'state.version' is 99"),
        (lambda d: d["state"].update(method="magic"), "unknown method 'magic'"),
        (lambda d: d["state"].pop("center"), r"field 'state.center' is missing"),
        (
            lambda d: d["state"]["center"].update(shape=[2], data=[0.0, 1.0]),
            r"field 'state.center' must be 5 floats",
        ),
        (
            lambda d: d["state"]["projection"]["weights"].update(data=["x"] * 10),
            r"field 'state.projection.weights': a value is not a number",
        ),
        (
            lambda d: d["state"]["projection"]["loadings"].update(shape=[2, 5]),
            r"field 'state.projection.loadings' must be finite floats of shape \[5, 2\]",
        ),
        (
            lambda d: d["state"]["params"].update(persistence=[3, 2]),
            r"persistence rule needs 1 <= k <= n",
        ),
        (lambda d: d["state"]["limits"].update(t2="high"), r"'state.limits.t2' must be a number"),
    ],
)
def test_malformed_model_files_are_refused_naming_file_and_field(
    saved: Path, change: Any, message: str
) -> None:
    _edit(saved, change)
    with pytest.raises(InvalidError, match=message) as err:
        load_model(saved)
    assert str(saved) in str(err.value)


def test_a_model_of_another_family_is_refused(saved: Path) -> None:
    class Other:
        family = "other"

    with pytest.raises(InvalidError, match="a 'mspc' model, not a 'other' model"):
        load_model(saved, expect=Other)


def test_save_refuses_an_unwritable_path(tmp_path: Path, fitted: MspcModel) -> None:
    with pytest.raises(InvalidError, match="cannot write the model"):
        save_model(fitted, tmp_path / "no" / "such" / "dir" / "m.json")


def test_state_reader_types() -> None:
    r = StateReader({"s": "x", "i": 3, "f": 1.5, "b": True, "l": ["a"], "c": {"k": 1}}, "m.json")
    assert (r.text("s"), r.integer("i"), r.number("f"), r.flag("b")) == ("x", 3, 1.5, True)
    assert r.texts("l") == ("a",) and r.child("c").integer("k") == 1
    assert r.optional_number("absent") is None and r.has("s") and not r.has("absent")
    assert r.at("s") == "m.json: field 'state.s'"
    for read, name in ((r.text, "i"), (r.integer, "b"), (r.number, "s"), (r.flag, "i")):
        with pytest.raises(InvalidError, match=f"field 'state.{name}' must be"):
            read(name)
    with pytest.raises(InvalidError, match=r"field 'state.c.k' must be a string"):
        r.child("c").text("k")


def test_state_reader_version_and_pair() -> None:
    r = StateReader({"version": 2, "p": [2, 3], "q": [2, 3.0], "t": [True, 1]}, "m.json")
    assert r.version(2, "mspc") == 2 and r.pair("p") == (2, 3)
    newer = r"'state\.version' is 2; .* mspc models up to version 1 "
    with pytest.raises(InvalidError, match=newer):
        r.version(1, "mspc")
    for name in ("q", "t"):
        with pytest.raises(InvalidError, match=rf"'state\.{name}' must be a list of two integers"):
            r.pair(name)
    with pytest.raises(InvalidError, match=r"'state\.absent' is missing"):
        r.pair("absent")
