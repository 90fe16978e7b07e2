"""The live monitor on a real historian (SQLite file and PostgreSQL): a fault injected
into the historian's data raises an alarm naming the faulty tag and clears when the data
return to normal; rows are scored once whatever the scans, also across a restart; normal
operation stays within the model's false-alarm rate; unknown tags are refused by name.

Data: the generated continuous process of :mod:`phactory.monitor.datasets.continuous`
(ground truth known), one sample per variable and second, stored as the MQTT subscriber
would; the model is a PCA fitted on its normal operation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phactory.errors import NotFoundError
from phactory.historian import Historian, Sample, open_historian
from phactory.live.grid import TagMap, read_grid
from phactory.live.monitoring import LiveMonitor, MonitorState, advance
from phactory.monitor.datasets.continuous import ContinuousProcess
from phactory.monitor.mspc import MspcModel

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
T0 = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
T0_US = 1_740_787_200_000_000
PREFIX = "plant/usp/cell/U1/"
SECOND = dt.timedelta(seconds=1)


@pytest.fixture(scope="module")
def process() -> ContinuousProcess:
    return ContinuousProcess.make(n_variables=12, seed=3)


@pytest.fixture(scope="module")
def model(process: ContinuousProcess) -> MspcModel:
    names = list(process.names)
    train, _ = process.simulate(2000, seed=1)
    validation, _ = process.simulate(2000, seed=2)
    return MspcModel("pca", target_far=0.01, persistence=(2, 3)).fit(
        train[names].to_numpy(), names, X_val=validation[names].to_numpy()
    )


@pytest.fixture(params=BACKENDS)
def historian(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Historian]:
    if request.param == "sqlite":
        h = open_historian(path=tmp_path / "historian.sqlite")
    else:
        h = open_historian(request.getfixturevalue("postgres_database").new_schema())
    yield h
    h.close()


def ingest(h: Historian, names: list[str], values: np.ndarray, first_row: int = 0) -> None:
    """Row ``i`` of ``values`` as one sample per variable at ``T0 + first_row + i`` s (+0.3 s)."""
    h.ingest(
        Sample(PREFIX + n, T0_US + (first_row + i) * 1_000_000 + 300_000, float(v), seq=i,
               source="edge")
        for i, row in enumerate(values) for n, v in zip(names, row, strict=True)
    )  # fmt: skip


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def faulty_run(
    process: ContinuousProcess, j: int, rows: tuple[int, int], size: float = 4.0
) -> np.ndarray:
    """A normal run of 500 rows with variable ``j`` biased by ``size`` standard
    deviations on ``rows`` (the ground truth). The run (seed 5) is one on which the model
    raises nothing without the bias (checked in the first test)."""
    frame, _ = process.simulate(500, seed=5)
    values = frame[list(process.names)].to_numpy(copy=True)
    values[rows[0] : rows[1], j] += size * process.sd()[j]
    return values


def test_a_sensor_fault_raises_an_alarm_on_its_tag_and_clears_when_it_ends(
    historian: Historian, model: MspcModel, process: ContinuousProcess
) -> None:
    names = list(process.names)
    j = 5
    clean, _ = process.simulate(500, seed=5)
    assert not model.score(clean[names].to_numpy()).alarm.any()
    ingest(historian, names, faulty_run(process, j, (200, 300)))
    monitor = LiveMonitor(model, historian, name="u1", tags=TagMap.of(names, PREFIX), start=T0)
    transitions = []
    for second in range(5, 505, 5):  # a scan every 5 s of plant time
        transitions += monitor.scan(at(second)).transitions
    raised = [t for t in transitions if t.kind == "raised"]
    cleared = [t for t in transitions if t.kind == "cleared"]
    assert len(raised) == 1 and len(cleared) == 1, [t.describe() for t in transitions]
    alarm = raised[0]
    # 2 of 3 rows over a limit: the second faulty row at the latest
    assert at(200) <= alarm.at <= at(201)
    assert alarm.top[0].tag == PREFIX + names[j] and alarm.top[0].variable == names[j]
    assert alarm.statistic in ("spe", "t2+spe") and alarm.spe > alarm.spe_limit
    assert alarm.contributions[names[j]] == max(alarm.contributions.values())
    assert at(300) <= cleared[0].at <= at(310) and cleared[0].raised_at == alarm.at
    # The last scan, at 500 s, scored up to the step [498 s, 499 s): 499 s minus settle.
    assert monitor.state.active is False and monitor.state.cursor_us == T0_US + 499 * 1_000_000
    # The statistics were published as tags, one row per scored second.
    published = historian.query(f"{PREFIX}monitor/u1/alarm", at(0), at(600))
    assert len(published) == 499
    assert published["value"].sum() >= 95 and set(published["source"]) == {"monitor:u1"}


def test_unknown_tags_are_refused_by_name(historian: Historian, model: MspcModel) -> None:
    names = list(model.variables_)
    ingest(historian, names[:-2], np.zeros((3, len(names) - 2)))
    with pytest.raises(NotFoundError) as refused:
        LiveMonitor(model, historian, name="u1", tags=TagMap.of(names, PREFIX))
    message = str(refused.value)
    assert PREFIX + names[-1] in message and PREFIX + names[-2] in message
    assert PREFIX + names[0] not in message


def test_gaps_are_held_for_a_while_then_rows_go_unscored(
    historian: Historian, model: MspcModel, process: ContinuousProcess
) -> None:
    names = list(process.names)
    frame, _ = process.simulate(120, seed=4)
    values = frame[names].to_numpy()
    ingest(historian, names, values[:60])
    # One tag falls silent at row 60 while the others go on.
    ingest(historian, names[1:], values[60:, 1:], first_row=60)
    monitor = LiveMonitor(
        model, historian, name="u1", tags=TagMap.of(names, PREFIX), start=T0,
        hold=dt.timedelta(seconds=10), publish=False,
    )  # fmt: skip
    result = monitor.scan(at(121))
    scored = np.isfinite(result.t2)
    assert scored[:70].all()  # rows 60..69 hold the silent tag's last value
    assert not scored[70:].any() and result.stale == 50
    times, grid = read_grid(historian, [PREFIX + names[0]], T0_US + 60_000_000,
                            T0_US + 72_000_000, 1_000_000, 10)  # fmt: skip
    assert (grid[:10, 0] == values[59, 0]).all() and np.isnan(grid[10:, 0]).all()
    assert times[0] == T0_US + 60_000_000


def test_normal_operation_stays_within_the_models_false_alarm_rate(
    historian: Historian, model: MspcModel, process: ContinuousProcess
) -> None:
    names = list(process.names)
    frame, _ = process.simulate(3000, seed=11)
    values = frame[names].to_numpy()
    ingest(historian, names, values)
    monitor = LiveMonitor(model, historian, name="u1", tags=TagMap.of(names, PREFIX), start=T0,
                          publish=False)  # fmt: skip
    alarm_rows = 0
    scored = 0
    raises = 0
    for second in [*range(60, 3000, 60), 3001]:
        result = monitor.scan(at(second))
        alarm_rows += int(result.alarm.sum())
        scored += result.rows
        raises += sum(t.kind == "raised" for t in result.transitions)
    assert scored == 3000
    # Live scoring is the model's own scoring of the same rows...
    offline = model.score(values)
    assert alarm_rows == int(offline.alarm.sum())
    # ...and its empirical false-alarm rate is that of the model's calibration.
    far = alarm_rows / scored
    assert model.far_validation_ is not None
    assert far <= max(3 * model.far_validation_, 0.02), (far, model.far_validation_)
    assert raises <= 10


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory, model: MspcModel,
           process: ContinuousProcess) -> Iterator[tuple[Historian, list[str], Any]]:  # fmt: skip
    h = open_historian(path=tmp_path_factory.mktemp("h") / "historian.sqlite")
    names = list(process.names)
    ingest(h, names, faulty_run(process, 2, (100, 140)))
    whole = LiveMonitor(model, h, name="u1", tags=TagMap.of(names, PREFIX), start=T0,
                        publish=False).scan(at(300))  # fmt: skip
    yield h, names, whole
    h.close()


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cuts=st.lists(st.integers(1, 299), max_size=6), restart=st.integers(0, 6))
def test_scans_score_each_row_once_however_they_are_cut_and_across_restarts(
    shared: tuple[Historian, list[str], Any], model: MspcModel, cuts: list[int], restart: int
) -> None:
    h, names, whole = shared
    tags = TagMap.of(names, PREFIX)
    monitor = LiveMonitor(model, h, name="u1", tags=tags, start=T0, publish=False)
    t2: list[float] = []
    kinds: list[tuple[str, dt.datetime]] = []
    for i, cut in enumerate([*sorted(set(cuts)), 300]):
        if i == restart:  # a new process, given the state its predecessor stored
            saved = MonitorState.from_json(monitor.state.to_json())
            monitor = LiveMonitor(model, h, name="u1", tags=tags, state=saved, publish=False)
        result = monitor.scan(at(cut))
        t2 += result.t2.tolist()
        kinds += [(t.kind, t.at) for t in result.transitions]
    # every row once, with the statistics of one whole scan (to the last bits: a matrix
    # product of another number of rows may round differently)
    assert len(t2) == len(whole.t2)
    assert np.allclose(np.asarray(t2), whole.t2, rtol=1e-12, atol=0, equal_nan=True)
    assert kinds == [(t.kind, t.at) for t in whole.transitions]
    assert [k for k, _ in kinds] == ["raised", "cleared"]


@given(fired=st.lists(st.booleans(), max_size=40), clear_after=st.integers(1, 4))
def test_an_alarm_raises_on_a_firing_row_and_clears_after_clear_after_quiet_rows(
    fired: list[bool], clear_after: int
) -> None:
    state, changes = MonitorState(), []
    for t, f in enumerate(fired):
        state, change = advance(state, f, t, clear_after)
        changes.append(change)
    active, quiet, raised = False, 0, None  # the rule, row by row
    for t, (f, change) in enumerate(zip(fired, changes, strict=True)):
        if f:
            assert change == (None if active else "raised")
            raised = t if not active else raised
            active, quiet = True, 0
        elif active:
            quiet += 1
            assert change == ("cleared" if quiet == clear_after else None)
            if quiet == clear_after:
                active, quiet, raised = False, 0, None
        else:
            assert change is None
    assert (state.active, state.quiet, state.raised_us) == (active, quiet, raised)
