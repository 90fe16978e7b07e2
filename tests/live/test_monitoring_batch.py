"""Batch evolution monitoring live: a batch model of generated fed-batch CHO runs scores
the batch the record says runs on unit T1 (a real one, run by the batch engine), its
trajectory read from the historian as it evolves; a temperature fault raises one alarm
naming the temperature tag, after the fault began (ground truth of
:mod:`phactory.monitor.datasets.batches`), and opens its deviation on that batch."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from ebr_world import FILL, World, started_batch

from phactory.historian import Sample, open_historian, to_us
from phactory.live.batchmon import BatchMonitor, batch_start
from phactory.live.deviations import open_deviation
from phactory.live.grid import TagMap
from phactory.monitor.batch import BatchModel
from phactory.monitor.datasets.batches import fed_batch_runs

PREFIX = "tiny/main/cell/T1/"


@pytest.fixture(scope="module")
def runs():  # type: ignore[no-untyped-def]
    return fed_batch_runs(12, faults=("temperature",), seed=1)


@pytest.fixture(scope="module")
def model(runs) -> BatchModel:  # type: ignore[no-untyped-def]
    # 2 of 3 rows over a limit: no false alarm before the fault on this faulty batch
    return BatchModel(align="time", n_points=50, persistence=(2, 3)).fit(runs.batches[:12])


def test_the_running_batch_is_scored_as_it_evolves(
    runs,
    model: BatchModel,
    sqlite_world: World,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    _, batch_id = started_batch(sqlite_world)
    start = batch_start(sqlite_world.records, batch_id, "T1")
    assert start is not None
    faulty = runs.batches[12]
    [truth] = runs.faults
    names = list(faulty.variables)
    with open_historian(path=tmp_path / "h.sqlite") as h:
        h.ingest(
            Sample(PREFIX + n, to_us(start) + round(t * 3.6e9) + 1, float(v), seq=i)
            for i, (t, row) in enumerate(zip(faulty.time, faulty.values, strict=True))
            for n, v in zip(names, row, strict=True)
        )  # fmt: skip
        monitor = BatchMonitor(
            model, h, sqlite_world.records, name="t1-batch", unit="T1",
            tags=TagMap.of(names, PREFIX), every=dt.timedelta(minutes=30),
        )  # fmt: skip
        transitions = []
        for hours in range(12, int(faulty.time[-1]), 12):  # a scan every 12 h of the batch
            scan = monitor.scan(start + dt.timedelta(hours=hours, minutes=31))
            assert scan.batch_id == batch_id and scan.scores is not None
            assert len(scan.scores.t2) == len(scan.times) >= 2 * hours
            transitions += scan.transitions
    raised = [t for t in transitions if t.kind == "raised"]
    assert raised, "the temperature fault raised no alarm"
    first = raised[0]
    # after the fault began, within an hour (2 rows of 30 min over a limit)
    fault_at = start + dt.timedelta(hours=truth.start_h)
    assert fault_at <= first.at <= fault_at + dt.timedelta(hours=1.5)
    assert first.top[0].tag == PREFIX + truth.variable
    opened = open_deviation(sqlite_world.records, first, unit="T1")
    assert opened is not None and (opened[0].batch_id, opened[0].step) == (batch_id, FILL)
