"""Global sensitivity: Ishigami reference indices; process pool and Dask give the same."""

from __future__ import annotations

import numpy as np
import pytest

from phactory.process import get_model, morris, sobol
from phactory.process.models.ishigami import ishigami_indices


@pytest.fixture(scope="module")
def ishigami_sobol() -> object:
    return sobol(get_model("ishigami"), "y", n=2**13, seed=1, workers=1)


def test_sobol_reproduces_ishigami_indices(ishigami_sobol: object) -> None:
    df = ishigami_sobol.indices["y"]  # type: ignore[attr-defined]
    published_s1 = [0.3139, 0.4424, 0.0]
    published_st = [0.5576, 0.4424, 0.2437]
    np.testing.assert_allclose(df["S1"], published_s1, atol=0.01)
    np.testing.assert_allclose(df["ST"], published_st, atol=0.01)
    # The closed form agrees with the published values.
    exact = ishigami_indices(7.0, 0.1)
    np.testing.assert_allclose(exact["S1"], published_s1, atol=1e-4)
    np.testing.assert_allclose(exact["ST"], published_st, atol=1e-4)


def test_process_pool_gives_identical_indices(ishigami_sobol: object) -> None:
    pooled = sobol(get_model("ishigami"), "y", n=2**13, seed=1, workers=2)
    np.testing.assert_array_equal(
        pooled.indices["y"].to_numpy(), ishigami_sobol.indices["y"].to_numpy()
    )  # type: ignore[attr-defined]


def test_dask_cluster_gives_identical_indices() -> None:
    from distributed import LocalCluster

    model = get_model("ishigami")
    serial = sobol(model, "y", n=256, seed=2, workers=1)
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        seen: list[int] = []
        on_dask = sobol(
            model,
            "y",
            n=256,
            seed=2,
            address=cluster.scheduler_address,
            progress=lambda done, total: seen.append(done),
        )
    np.testing.assert_array_equal(on_dask.indices["y"].to_numpy(), serial.indices["y"].to_numpy())
    assert seen[-1] == serial.n_evaluations


def test_morris_screening_ranks_ishigami_inputs() -> None:
    res = morris(get_model("ishigami"), trajectories=200, seed=0, workers=1)
    df = res.indices["y"]
    assert res.n_evaluations == 200 * 4
    assert (df["mu_star"] > 0).all()
    # x3 acts only through its interaction with x1: its effects vary strongly in sign.
    assert abs(df.loc["x3", "mu"]) < 0.5 * df.loc["x3", "mu_star"]
    # x2 enters through sin^2, so its elementary effects have mean ~0 and a large spread.
    assert df.loc["x2", "sigma"] > 0


def test_sensitivity_of_a_process_model(tmp_path: object) -> None:
    res = sobol(
        get_model("lyophilisation"),
        ["collapse_margin", "primary_drying_time"],
        n=32,
        seed=0,
        workers=1,
    )
    tab = res.table()
    assert set(tab["output"]) == {"collapse_margin", "primary_drying_time"}
    df = res.indices["collapse_margin"]
    # Product temperature is driven by the shelf temperature far more than by pressure.
    assert df.loc["shelf_temperature", "ST"] > df.loc["chamber_pressure", "ST"]
    from pathlib import Path

    out = res.to_html(Path(str(tmp_path)) / "sobol.html")
    text = out.read_text()
    # Self-contained: plotly.js is embedded, nothing is loaded from a CDN.
    assert len(text) > 1_000_000 and "<script src=" not in text


def test_unknown_output_is_refused() -> None:
    with pytest.raises(KeyError, match="unknown CQA"):
        sobol(get_model("ishigami"), "z", n=8, workers=1)
