"""One contract for every family of monitoring model (scikit-learn's habit).

Each family fits on small generated data, then: a model file reloads to bit-identical
outputs; a file of another family is refused; a newer state version and a missing field
are refused naming the field; ``__init__`` only stores its parameters (a bad one is
refused at ``fit``, as an :class:`~phactory.errors.InvalidError`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from phactory.errors import InvalidError
from phactory.monitor.modelfile import load_model, save_model


@dataclass
class Case:
    """A fitted model, how to get its outputs, and how to fit a badly set-up one."""

    model: Any
    outputs: Callable[[Any], dict[str, np.ndarray]]
    bad_fit: Callable[[], Any]


def _mspc(method: str) -> Case:
    from phactory.monitor.datasets.continuous import example_set
    from phactory.monitor.mspc import MspcModel

    data = example_set(
        0,
        n_variables=12,
        n_train=400,
        n_validation=400,
        n_fault=150,
        fault_start=50,
        kinds=("bias",),
    )
    quality = tuple(c for c in data.train.columns if c.startswith("QA")) if method == "pls" else ()
    names = [c for c in data.train.columns if c != "time" and c not in quality]
    x, v = data.train[names].to_numpy(), data.validation[names].to_numpy()
    y = data.train[list(quality)].to_numpy() if quality else None
    fault = data.faults["bias"][0][names].to_numpy()
    model = MspcModel(method, y_variables=quality).fit(x, names, X_val=v, Y=y)

    def outputs(m: Any) -> dict[str, np.ndarray]:
        s = m.score(fault)
        return {"t2": s.t2, "spe": s.spe, "alarm": s.alarm, "c": s.contributions}

    return Case(model, outputs, lambda: MspcModel(method, target_far=2.0).fit(x, names))


def _batch() -> Case:
    from phactory.monitor.batch import BatchModel
    from phactory.monitor.datasets.batches import fed_batch_runs

    train = fed_batch_runs(12, seed=1)
    test = fed_batch_runs(1, faults=("temperature",), n_running=1, seed=2)
    model = BatchModel(quality=("final_titer",)).fit(train.batches, train.quality[:, :1])

    def outputs(m: Any) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for b in test.batches:
            s = m.score(b)
            out |= {f"{b.id}.t2": s.t2, f"{b.id}.spe": s.spe, f"{b.id}.scores": s.scores}
            out[f"{b.id}.alarm"] = s.alarm
        return out

    return Case(model, outputs, lambda: BatchModel(n_points=1).fit(train.batches))


def _softsensor() -> Case:
    from phactory.monitor.datasets.spectra import generate_spectra
    from phactory.monitor.softsensor import SoftSensor

    train, test = generate_spectra(40, seed=1), generate_spectra(15, seed=2)
    model = SoftSensor(preprocess="snv,sg1", cv_folds=5).fit(
        train.x, train.y, x_names=train.x_names, y_names=train.y_names
    )

    def outputs(m: Any) -> dict[str, np.ndarray]:
        p = m.predict(test.x)
        return {"y": p.y, "t2": p.t2, "spe": p.spe, "in": p.in_domain}

    return Case(
        model,
        outputs,
        lambda: SoftSensor(preprocess="no-such-step").fit(
            train.x, train.y, x_names=train.x_names, y_names=train.y_names
        ),
    )


CASES: dict[str, Callable[[], Case]] = {
    "mspc-pca": lambda: _mspc("pca"),
    "mspc-dpca": lambda: _mspc("dpca"),
    "mspc-pls": lambda: _mspc("pls"),
    "mspc-innovation": lambda: _mspc("innovation"),
    "batch": _batch,
    "softsensor": _softsensor,
}


@pytest.fixture(params=sorted(CASES), scope="module")
def case(request: pytest.FixtureRequest) -> Case:
    return CASES[request.param]()


def _doc(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8")))


def test_a_saved_model_reloads_to_identical_outputs(case: Case, tmp_path: Path) -> None:
    path = save_model(case.model, tmp_path / "m.json")
    again = load_model(path, expect=type(case.model))
    before, after = case.outputs(case.model), case.outputs(again)
    assert before.keys() == after.keys()
    for key in before:
        np.testing.assert_array_equal(after[key], before[key], err_msg=key)
    # Saving the reloaded model writes the same state (nothing lost on the way).
    assert _doc(save_model(again, tmp_path / "m2.json"))["state"] == _doc(path)["state"]


def test_a_model_file_of_another_family_is_refused(case: Case, tmp_path: Path) -> None:
    from phactory.monitor.batch import BatchModel
    from phactory.monitor.mspc import MspcModel

    other = BatchModel if type(case.model) is not BatchModel else MspcModel
    path = save_model(case.model, tmp_path / "m.json")
    with pytest.raises(InvalidError, match=f"a '{case.model.family}' model, not a"):
        load_model(path, expect=other)


def test_a_newer_or_damaged_state_is_refused_naming_the_field(case: Case, tmp_path: Path) -> None:
    path = save_model(case.model, tmp_path / "m.json")
    doc = _doc(path)
    newer = json.loads(json.dumps(doc))
    newer["state"]["version"] = doc["state"]["version"] + 1
    path.write_text(json.dumps(newer), encoding="utf-8")
    with pytest.raises(InvalidError, match="version") as err:
        load_model(path)
    assert str(path) in str(err.value)
    damaged = json.loads(json.dumps(doc))
    del damaged["state"]["method"]
    path.write_text(json.dumps(damaged), encoding="utf-8")
    with pytest.raises(InvalidError, match=r"state\.method") as err:
        load_model(path)
    assert str(path) in str(err.value)


def test_init_only_stores_and_fit_refuses_bad_parameters(case: Case) -> None:
    with pytest.raises(InvalidError):
        case.bad_fit()
