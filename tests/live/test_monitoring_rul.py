"""Remaining useful life live: a RUL model (the linear method, for speed) predicts from a
unit's tags in the historian what it predicts from the same history as a table, and
writes its prediction back as tags (generated run-to-failure data of
:mod:`phactory.monitor.datasets.degradation`, one cycle a minute)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from phactory.historian import Sample, open_historian, to_us
from phactory.live.grid import TagMap
from phactory.live.rul import RulPredictor
from phactory.monitor.datasets.degradation import degradation_data
from phactory.monitor.rul import RulModel
from phactory.monitor.table import Table, read_table

T0 = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
PREFIX = "plant/fill/line/P1/"


def test_a_units_remaining_life_is_predicted_from_its_tags(tmp_path: Path) -> None:
    data = degradation_data(n_train=30, n_test=3, n_sensors=6, seed=1)
    data.train.to_csv(tmp_path / "train.csv", index=False)
    model = RulModel(method="linear", window=10, seed=0).fit(
        read_table(tmp_path / "train.csv", named=("unit", "cycle")), "unit", "cycle"
    )
    unit = data.test[data.test["unit"] == data.test["unit"].iloc[0]]
    names = list(model.variables_)
    cycles = unit["cycle"].to_numpy()
    with open_historian(path=tmp_path / "h.sqlite") as h:
        h.ingest(
            Sample(PREFIX + n, to_us(T0) + int(c) * 60_000_000 + 1, float(row[n]), seq=int(c))
            for c, (_, row) in zip(cycles, unit.iterrows(), strict=True) for n in names
        )  # fmt: skip
        predictor = RulPredictor(
            model, h, name="p1-rul", unit="P1", tags=TagMap.of(names, PREFIX), life_start=T0,
            every=dt.timedelta(minutes=1), time_unit_h=1 / 60, history=len(cycles) + 5,
        )  # fmt: skip
        now = T0 + dt.timedelta(minutes=int(cycles[-1]) + 1)
        scan = predictor.scan(now)
        assert predictor.scan(now) is scan  # once per grid step
        published = h.query(predictor.outputs["rul"], T0, now + dt.timedelta(1))
    assert scan.prediction is not None and scan.rows == len(cycles)
    assert scan.at == T0 + dt.timedelta(minutes=int(cycles[-1]))
    table = Table("offline", tuple(names), unit[names].to_numpy(dtype=float),
                  extra={"unit": pd.Series(["P1"] * len(cycles)),
                         "time": pd.Series(cycles.astype(float))})  # fmt: skip
    [offline] = model.predict(table, "unit", "time")
    assert abs(scan.prediction.rul - offline.rul) < 1e-6
    assert scan.prediction.lower <= scan.prediction.rul <= scan.prediction.upper
    values = dict(zip(published["tag"], published["value"], strict=True))
    assert values[predictor.outputs["rul"]] == scan.prediction.rul
    assert set(published["source"]) == {"rul:p1-rul"}
