"""A soft sensor live (SQLite historian): spectra stored one tag per channel are predicted
once each and the predictions written back as tags with source ``softsensor``, quality
``uncertain`` for spectra outside the model's applicability domain (ground truth: the
generated spectra of :mod:`phactory.monitor.datasets.spectra`, contaminated ones known).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from phactory.historian import Sample, open_historian
from phactory.live.grid import TagMap
from phactory.live.monitoring import MonitorState
from phactory.live.softsensor import SoftSensorPublisher
from phactory.monitor.datasets.spectra import generate_spectra
from phactory.monitor.softsensor import SoftSensor

T0 = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
T0_US = 1_740_787_200_000_000
PREFIX = "plant/usp/cell/BR1/raman/"
MINUTE = 60_000_000


@pytest.fixture(scope="module")
def sensor() -> SoftSensor:
    train = generate_spectra(150, seed=1, n_wavelengths=60)
    names = [f"ch{i:03d}" for i in range(60)]
    return SoftSensor(preprocess="snv", components="auto", max_components=8, cv_folds=5).fit(
        train.x, train.y, x_names=names, y_names=train.y_names
    )


def test_predictions_are_published_as_tags_flagged_outside_the_domain(
    sensor: SoftSensor, tmp_path: Path
) -> None:
    normal = generate_spectra(10, seed=2, n_wavelengths=60)
    odd = generate_spectra(5, seed=3, n_wavelengths=60, outside="contaminant")
    x = np.vstack([normal.x, odd.x])
    names = list(sensor.x_names_)
    with open_historian(path=tmp_path / "h.sqlite") as h:
        h.ingest(
            Sample(PREFIX + n, T0_US + i * MINUTE + 5_000_000, float(v), seq=i, source="raman")
            for i, row in enumerate(x) for n, v in zip(names, row, strict=True)
        )  # fmt: skip
        tags = TagMap.of(names, PREFIX)
        publisher = SoftSensorPublisher(sensor, h, name="br1-raman", tags=tags, start=T0,
                                        hold=dt.timedelta(0))  # fmt: skip
        first = publisher.scan(T0 + dt.timedelta(minutes=8, seconds=2))
        saved = MonitorState.from_json(publisher.state.to_json())
        again = SoftSensorPublisher(sensor, h, name="br1-raman", tags=tags, state=saved,
                                    hold=dt.timedelta(0))  # fmt: skip
        second = again.scan(T0 + dt.timedelta(minutes=20))
        assert (first.predicted, second.predicted) == (8, 7)  # each spectrum once
        # steps 15 to 18 min hold no spectrum (the step [19, 20) min is not closed yet)
        assert second.skipped == 4 and second.uncertain >= 5
        out = {r: f"{PREFIX}softsensor/br1-raman/{r}" for r in sensor.y_names_}
        frame = h.query(list(out.values()), T0, T0 + dt.timedelta(hours=1))
    assert set(frame["source"]) == {"softsensor"}
    # The quality is the model's own judgment of each spectrum: every contaminated one
    # is outside the domain (a normal one may be too, at the model's false-alarm rate).
    offline = sensor.predict(x)
    quality = ["good" if ok else "uncertain" for ok in offline.in_domain]
    assert quality[10:] == ["uncertain"] * 5 and quality[:10].count("good") >= 8
    for k, r in enumerate(sensor.y_names_):
        rows = frame[frame["tag"] == out[r]]
        assert len(rows) == 15
        assert list(rows["quality"]) == quality
        assert np.allclose(rows["value"].to_numpy(), offline.y[:, k], rtol=1e-12, atol=0)
        error = rows["value"].to_numpy()[:10] - normal.y[:, k]
        assert np.sqrt(np.mean(error**2)) < 0.25 * np.ptp(normal.y[:, k])
    when, value, quality = second.latest[out["titre"]]
    assert when == T0 + dt.timedelta(minutes=14) and quality == "uncertain"
    assert abs(value - offline.y[14, list(sensor.y_names_).index("titre")]) < 1e-9
