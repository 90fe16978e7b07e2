"""BatchModel on generated fed-batch data with known faults (ground truth).

Training: 16 good batches; fresh data: 16 other good batches and one batch of each fault
kind, all from other seeds, sampled hourly.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from phactory.errors import InvalidError
from phactory.monitor.batch import Batch, BatchModel
from phactory.monitor.datasets.batches import FAULT_KINDS, QUALITY, BatchSet, fed_batch_runs
from phactory.monitor.modelfile import load_model, save_model

ALIGNMENTS = ("time", "maturity:ivcd", "dtw")


@pytest.fixture(scope="module")
def train() -> BatchSet:
    return fed_batch_runs(16, seed=10, interval_h=1.0)


@pytest.fixture(scope="module")
def fresh() -> BatchSet:
    return fed_batch_runs(16, seed=11, interval_h=1.0)


@pytest.fixture(scope="module")
def faulty() -> BatchSet:
    return fed_batch_runs(0, faults=FAULT_KINDS, seed=12, interval_h=1.0)


@pytest.fixture(scope="module")
def models(train: BatchSet) -> dict[str, BatchModel]:
    return {
        a: BatchModel(align=a, quality=QUALITY).fit(train.batches, train.quality)
        for a in ALIGNMENTS
    }


@pytest.mark.parametrize("align", ALIGNMENTS)
def test_fresh_good_batches_stay_within_the_false_alarm_rate(
    models: dict[str, BatchModel], fresh: BatchSet, align: str
) -> None:
    # Target 1 % of rows. Rows of a batch are correlated, so 16 batches are far fewer
    # independent samples than their ~4,000 rows: the tolerance is 2.5 % (measured
    # 2026-12-08: 0.35 % to 0.67 %). The cross-validated estimate of the fit says the same.
    model = models[align]
    scored = [model.score(b) for b in fresh.batches]
    alarms = np.concatenate([s.alarm for s in scored])
    assert alarms.mean() <= 0.025
    assert model.far_ <= 0.025
    # Every fresh good batch is recognised as complete, and the batch-level model passes
    # at least 14 of the 16 (target 1 % per batch).
    assert all(s.complete for s in scored)
    assert sum(bool(s.batch_alarm) for s in scored) <= 2


@pytest.mark.parametrize("align", ALIGNMENTS)
def test_faults_are_detected_and_blamed_on_the_faulty_variable(
    models: dict[str, BatchModel], faulty: BatchSet, align: str
) -> None:
    model = models[align]
    for fault, batch in zip(faulty.faults, faulty.batches, strict=True):
        s = model.score(batch)
        after = s.time >= fault.start_h
        assert s.alarm[~after].mean() <= 0.05, fault  # before the fault: good
        alarmed = np.flatnonzero(s.alarm & after)
        blamed = [s.top(int(i), 1)[0][0] for i in alarmed]
        if fault.kind == "feed":
            # A feed pump at 65 % shows slowly in a model scaled over whole batches
            # (benchmarks/monitoring_batch.py); it is only required to show at all.
            assert s.alarm[after].mean() > s.alarm[~after].mean(), fault
            continue
        assert s.alarm[after].mean() >= 0.5, fault
        assert np.mean(np.array(blamed) == fault.variable) >= 0.9, (fault, blamed[:5])
        assert s.batch_alarm, fault  # and the batch as a whole is not a good one
        assert s.batch_contributions is not None
        assert s.variables[int(np.argmax(s.batch_contributions))] == fault.variable


@pytest.mark.parametrize("align", ["time", "maturity:ivcd"])
def test_a_running_batch_scores_as_the_same_rows_of_the_batch_running(
    models: dict[str, BatchModel], faulty: BatchSet, align: str
) -> None:
    # With time and maturity alignment a running batch is on the reference's clock, so
    # its rows score exactly as those rows of the whole batch scored as running. (Scored
    # as complete, the whole batch is on its own clock: the rows differ.)
    model = models[align]
    batch = faulty.batches[0]
    n = batch.n_rows // 2
    head = model.score(batch.head(n))
    assert not head.complete
    whole = model.score(batch, complete=False)
    for name in ("progress", "t2", "spe", "t2_limit", "spe_limit", "alarm", "contributions"):
        assert np.array_equal(getattr(head, name), getattr(whole, name)[:n]), name
    assert not np.array_equal(model.score(batch).progress[:n], head.progress)
    assert head.quality is not None and head.batch_t2 is None


def test_a_running_batch_under_dtw_ends_where_the_complete_batch_was(
    models: dict[str, BatchModel], fresh: BatchSet
) -> None:
    # Open-ended DTW warps a prefix on its own: the progress reached agrees with the
    # complete batch's at that row to within a few grid points, not exactly.
    model = models["dtw"]
    batch = fresh.batches[0]
    n = int(batch.n_rows * 0.6)
    head, whole = model.score(batch.head(n)), model.score(batch)
    assert not head.complete and whole.complete
    assert head.progress[-1] == pytest.approx(whole.progress[n - 1], abs=0.05)
    assert head.alarm.mean() <= 0.05


@pytest.mark.parametrize("align", ALIGNMENTS)
def test_final_quality_predicted_better_than_the_mean(
    models: dict[str, BatchModel], train: BatchSet, fresh: BatchSet, align: str
) -> None:
    model = models[align]
    pred = np.array([[model.score(b).quality[q] for q in QUALITY] for b in fresh.batches])
    rmsep = np.sqrt(np.mean((pred - fresh.quality) ** 2, axis=0))
    rmse_mean = np.sqrt(np.mean((train.quality.mean(axis=0) - fresh.quality) ** 2, axis=0))
    # final titer [g/L]: RMSEP 0.081-0.090 against 0.193 for the mean (measured
    # 2026-12-08 for the three alignments)
    assert rmsep[0] < 0.6 * rmse_mean[0]
    assert rmsep[1] < rmse_mean[1]


@pytest.mark.parametrize("align", ALIGNMENTS)
def test_a_reloaded_model_scores_bit_for_bit(
    models: dict[str, BatchModel], faulty: BatchSet, tmp_path: Path, align: str
) -> None:
    model = models[align]
    path = save_model(model, tmp_path / "m.json")
    again = load_model(path, expect=BatchModel)
    for batch in (faulty.batches[1], faulty.batches[2].head(100)):
        a, b = model.score(batch), again.score(batch)
        for name in ("progress", "scores", "score_upper", "t2", "t2_limit", "spe",
                     "spe_limit", "alarm", "contributions"):  # fmt: skip
            assert np.array_equal(getattr(a, name), getattr(b, name)), name
        assert a.quality == b.quality and a.batch_spe == b.batch_spe
    assert again.summary() == model.summary()


def test_newer_or_broken_state_is_refused(models: dict[str, BatchModel], tmp_path: Path) -> None:
    path = save_model(models["time"], tmp_path / "m.json")
    doc = json.loads(path.read_text())
    doc["state"]["version"] = 2
    path.write_text(json.dumps(doc))
    with pytest.raises(InvalidError, match=r"'state.version' is 2"):
        load_model(path)
    doc["state"]["version"] = 1
    del doc["state"]["evolution"]["s_inv"]
    path.write_text(json.dumps(doc))
    with pytest.raises(InvalidError, match=r"field 'state.evolution.s_inv' is missing"):
        load_model(path)


def test_training_data_is_checked(train: BatchSet) -> None:
    with pytest.raises(InvalidError, match="4 batch"):
        BatchModel().fit(train.batches[:4])
    with pytest.raises(InvalidError, match="maturity column 'conv'"):
        BatchModel(align="maturity:conv").fit(train.batches)
    with pytest.raises(InvalidError, match="quality final_titer named but no quality"):
        BatchModel(quality=["final_titer"]).fit(train.batches)
    q = train.quality.copy()
    q[3, 1] = np.nan
    with pytest.raises(InvalidError, match=r"batch 'B004'\) column 'aggregates': final quality"):
        BatchModel(quality=QUALITY).fit(train.batches, q)
    empty = list(train.batches)
    b = empty[2]
    values = b.values.copy()
    values[:, 3] = np.nan
    empty[2] = Batch(b.id, b.time, values, b.variables, "t.csv", np.arange(b.n_rows) + 2)
    with pytest.raises(InvalidError, match=r"t.csv:2 \(batch 'B003'\) column 'lactate': no value"):
        BatchModel().fit(empty)
    flat = list(train.batches)
    values = flat[5].values.copy()
    values[:, flat[5].variables.index("ivcd")] = 7.0
    flat[5] = Batch(flat[5].id, flat[5].time, values, flat[5].variables)
    with pytest.raises(InvalidError, match=r"'B006'\) column 'ivcd': the maturity variable"):
        BatchModel(align="maturity:ivcd").fit(flat)
    with pytest.raises(InvalidError, match="n_points"):
        BatchModel(n_points=5).fit(train.batches)


def test_scoring_needs_the_model_variables(models: dict[str, BatchModel]) -> None:
    other = Batch("X", np.arange(5.0), np.zeros((5, 2)), ("vcd", "ph"), "x.csv")
    with pytest.raises(InvalidError, match=r"x.csv: the model's variable\(s\) 'glucose'"):
        models["time"].score(other)


def test_missing_values_of_a_running_batch_count_as_on_the_mean(
    models: dict[str, BatchModel], fresh: BatchSet
) -> None:
    # A titer missing on every third row is held from the row before; a pH not measured
    # in the first 30 h counts as on the mean trajectory. (Maturity alignment: this batch
    # is faster than every training batch, which time alignment flags while it runs.)
    model = models["maturity:ivcd"]
    b = fresh.batches[3]
    values = b.values.copy()
    values[np.arange(b.n_rows) % 3 == 1, b.variables.index("titer")] = np.nan
    values[:30, b.variables.index("ph")] = np.nan
    sparse = Batch(b.id, b.time, values, b.variables)
    s = model.score(sparse.head(120))
    assert np.isfinite(s.t2).all() and np.isfinite(s.spe).all()
    assert s.alarm.mean() <= 0.05
