"""Studies carry on past the points where a model fails, and say how many and where.

A test model with a failing region (``a > fail_above``) is registered for these tests only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from phactory.errors import InvalidError
from phactory.process import (
    QualityAttribute,
    SimulationError,
    UnitOperationModel,
    Variable,
    design_space,
    fit_surrogate,
    morris,
    sobol,
)
from phactory.process.contract import FloatArray, RunOutput
from phactory.process.failures import TooManyFailuresError
from phactory.process.parallel import evaluate_many
from phactory.process.parameters import Parameter
from phactory.process.registry import register_model, unregister_model

THRESHOLD = 0.97


class Cliff(UnitOperationModel):
    """``y = (a + 2 b) u``, with no solution where ``a > fail_above``."""

    name = "test_cliff"
    title = "Test model with a failing region"
    parameters = (
        Parameter("a", "", 0.5, 0.0, 1.0, "first input", cpp=True),
        Parameter("b", "", 0.5, 0.0, 1.0, "second input", cpp=True),
        Parameter("fail_above", "", THRESHOLD, 0.0, 1.0, "the model fails where a exceeds it"),
        Parameter("u", "", 1.0, 0.5, 1.5, "an uncertain factor", uncertainty=0.1),
    )
    states = (Variable("y", "", "the value", nonnegative=True),)
    cqas = (QualityAttribute("y", "", "a + 2 b, scaled", upper=2.0),)

    def __init__(self, note: str = "") -> None:
        self.note = note

    def _run(self, p: dict[str, float], times: FloatArray | None) -> RunOutput:
        if p["a"] > p["fail_above"]:
            raise SimulationError(f"test_cliff: no solution at a = {p['a']:.6g}{self.note}")
        y = (p["a"] + 2.0 * p["b"]) * p["u"]
        return np.zeros(1), {"y": np.array([y])}, {"y": y}


@pytest.fixture
def cliff() -> Iterator[Cliff]:
    register_model(Cliff.name, Cliff, replace=True)
    try:
        yield Cliff()
    finally:
        unregister_model(Cliff.name)


def _failing(x: np.ndarray) -> np.ndarray:
    return np.asarray(x[:, 0] > THRESHOLD)


@pytest.mark.parametrize("workers", [1, 2])
def test_evaluations_record_failed_rows_and_carry_on(cliff: Cliff, workers: int) -> None:
    x = np.column_stack([np.linspace(0.0, 1.0, 21), np.full(21, 0.25)])
    ev = evaluate_many(cliff, x, ["a", "b"], workers=workers)
    expected = _failing(x)
    assert expected.sum() == 1  # only a = 1.0 of this grid is beyond 0.97
    np.testing.assert_array_equal(ev.failed, expected)
    assert np.isnan(ev.values[expected]).all()
    np.testing.assert_allclose(ev.values[~expected, 0], x[~expected, 0] + 0.5)
    [(row, message)] = ev.errors.items()
    assert row == 20 and "no solution at a = 1" in message


def test_sobol_drops_base_samples_with_a_failure_and_carries_on(cliff: Cliff) -> None:
    from SALib.sample import sobol as sobol_sample

    res = sobol(cliff, n=256, seed=3, workers=1)
    problem = {"num_vars": 2, "names": ["a", "b"], "bounds": [[0.0, 1.0], [0.0, 1.0]]}
    x = sobol_sample.sample(problem, 256, calc_second_order=False, seed=3)
    failing = _failing(x)
    assert len(res.failures) == failing.sum() > 0
    assert (res.failures["a"] > THRESHOLD).all()
    np.testing.assert_array_equal(res.failures["sample"], np.flatnonzero(failing))
    assert res.failures["error"].str.contains("no solution at a =").all()
    # A failed row drops its whole base sample (A, AB_a, AB_b, B): the indices come from
    # the complete ones.
    groups_ok = ~failing.reshape(-1, 4).any(axis=1)
    assert res.n_groups == 256 and res.n_groups_used == int(groups_ok.sum()) < 256
    df = res.indices["y"]
    assert np.isfinite(df.to_numpy()).all()
    # y = a + 2 b on what is left of the square: b carries about 4/5 of the variance.
    assert df.loc["b", "S1"] == pytest.approx(0.8, abs=0.1)
    assert res.n_evaluations == x.shape[0]
    assert f"{len(res.failures)} of {x.shape[0]} evaluations failed" in res.failures_text()


def test_morris_drops_trajectories_with_a_failure(cliff: Cliff) -> None:
    # On a 4-level grid a quarter of the points sit at a = 1 and fail, and almost half the
    # trajectories touch one: more than the default cap of 10 %.
    with pytest.raises(TooManyFailuresError, match="of 40 trajectories lost"):
        morris(cliff, trajectories=40, levels=4, seed=1, workers=1)
    res = morris(cliff, trajectories=40, levels=4, seed=1, workers=1, max_failed_fraction=0.6)
    assert len(res.failures) > 0 and (res.failures["a"] > THRESHOLD).all()
    assert res.n_groups == 40 and 0 < res.n_groups_used < 40
    # Elementary effects of y = a + 2 b are exactly 1 and 2 on every complete trajectory.
    assert res.indices["y"].loc["a", "mu_star"] == pytest.approx(1.0)
    assert res.indices["y"].loc["b", "mu_star"] == pytest.approx(2.0)


def test_design_space_reports_failed_grid_points(cliff: Cliff, tmp_path: Path) -> None:
    ds = design_space(cliff, "a", "b", n=11, n_monte_carlo=5, seed=0, workers=1)
    failed_column = ds.table["a"] > THRESHOLD  # a = 1.0: one column of the 11 x 11 grid
    assert failed_column.sum() == 11
    assert ds.table.loc[failed_column, "y"].isna().all()
    assert (ds.table.loc[failed_column, "n_failed"] == 6).all()
    assert ds.table.loc[failed_column, "probability_of_success"].isna().all()
    assert (ds.table.loc[~failed_column, "n_failed"] == 0).all()
    assert not (ds.inside()["a"] > THRESHOLD).any()
    assert len(ds.failures) == 11 * 6 and ds.n_evaluations == 121 * 6
    page = ds.to_html(tmp_path / "ds.html").read_text(encoding="utf-8")
    assert "Failed evaluations (66 of 726)" in page


def test_surrogate_leaves_failed_points_out(cliff: Cliff) -> None:
    sur = fit_surrogate(cliff, n_samples=120, n_test=60, kind="polynomial", seed=0, workers=1)
    assert len(sur.failures) > 0 and (sur.failures["a"] > THRESHOLD).all()
    assert set(sur.failures["set"]) <= {"training", "held-out"}
    rep = sur.report
    assert rep is not None
    assert rep.extra["failed_training"] + rep.extra["failed_held_out"] == len(sur.failures)
    assert rep.min_test_r2 > 0.999  # the model is linear where it runs


def test_too_many_failures_is_a_clear_error(cliff: Cliff) -> None:
    with pytest.raises(TooManyFailuresError) as err:
        design_space(cliff, "a", "b", n=5, n_monte_carlo=0, fixed={"fail_above": 0.5}, workers=1)
    assert isinstance(err.value, InvalidError)
    msg = str(err.value)
    assert "10 of 25 evaluations lost (40 %" in msg and "max_failed_fraction" in msg
    assert "at a=0.75, b=0" in msg and "no solution" in msg
    assert len(err.value.failures) == 10
    # Raising the cap lets the same study through ...
    ds = design_space(
        cliff,
        "a",
        "b",
        n=5,
        n_monte_carlo=0,
        fixed={"fail_above": 0.5},
        workers=1,
        max_failed_fraction=0.5,
    )
    assert len(ds.failures) == 10
    # ... but a study where everything failed is refused whatever the cap.
    with pytest.raises(TooManyFailuresError, match="256 of 256 base samples lost"):
        sobol(cliff, n=256, fixed={"fail_above": 0.0}, workers=1, max_failed_fraction=1.0)


def test_html_lists_failures_escaped(tmp_path: Path) -> None:
    payload = "<script>alert(1)</script>"
    register_model("test_cliff", lambda: Cliff(note=payload), replace=True)
    try:
        res = sobol(Cliff(note=payload), n=64, seed=3, workers=1)
        page = res.to_html(tmp_path / "s.html").read_text(encoding="utf-8")
    finally:
        unregister_model("test_cliff")
    assert len(res.failures) > 0
    assert payload not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert f"Failed evaluations ({len(res.failures)} of {res.n_evaluations})" in page


# ---------------------------------------------------------------------- command line
runner = CliRunner()


def _app():  # type: ignore[no-untyped-def]
    from phactory.cli.process_commands import app

    return app


def test_cli_prints_the_count_and_where(cliff: Cliff, tmp_path: Path) -> None:
    html = tmp_path / "sens.html"
    res = runner.invoke(
        _app(),
        ["sensitivity", "test_cliff", "--samples", "64", "--workers", "1", "--html", str(html)],
    )
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert re.search(r"\d+ of 256 model evaluations failed", text)
    assert "no solution at a =" in text
    assert "without a failure" in text
    assert "Failed evaluations" in html.read_text(encoding="utf-8")
    res = runner.invoke(
        _app(), ["design-space", "test_cliff", "--grid", "11", "--mc", "2", "--workers", "1"]
    )
    assert res.exit_code == 0, res.output
    assert "33 of 363 model evaluations failed" in " ".join(res.output.split())


def test_cli_too_many_failures_exits_2(cliff: Cliff) -> None:
    res = runner.invoke(
        _app(),
        [
            "surrogate",
            "test_cliff",
            "--samples",
            "40",
            "--test",
            "10",
            "--workers",
            "1",
            "--max-failed-fraction",
            "0",
        ],
    )
    assert res.exit_code == 2
    text = " ".join(res.output.split())
    assert "too many points" in text and "max_failed_fraction" in text


def test_cli_unreachable_cluster_names_the_address(
    cliff: Cliff, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    monkeypatch.setenv("PHACTORY_CLUSTER_TIMEOUT", "0.5")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{sock.getsockname()[1]}"
        res = runner.invoke(
            _app(), ["sensitivity", "test_cliff", "--samples", "8", "--address", address]
        )
    assert res.exit_code == 2
    text = " ".join(res.output.split())
    assert address in text and "cannot reach the Dask cluster" in text


def test_cli_simulate_json_is_strict() -> None:
    # Strict JSON (phactory.jsonio.dumps: NaN would become null). The contract already
    # refuses non-finite CQAs and parameters, so this guards the format, not a known NaN.
    res = runner.invoke(_app(), ["simulate", "ishigami", "--json"])
    assert res.exit_code == 0, res.output
    json.loads(res.output, parse_constant=lambda token: pytest.fail(f"non-JSON {token}"))
