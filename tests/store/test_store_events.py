"""Run event logs: bulk append, numbering, reading back as a DataFrame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from phactory.model import Site
from phactory.store import EVENT_COLUMNS, InvalidInput, NotFound, RunRecord, Store


@pytest.fixture
def run(store: Store, site: Site) -> RunRecord:
    store.save_site(site)
    return store.create_run("simulate", site_id="tiny")


def test_append_and_read(store: Store, run: RunRecord) -> None:
    n = store.append_events(
        run.id,
        [
            {"t_h": 0.0, "kind": "state", "unit": "T1", "payload": {"state": "idle"}},
            {"t_h": 1.5, "kind": "batch_start", "unit": "T1", "batch": "B-001"},
            {"t_h": 2, "kind": "value", "payload": {"temp": np.float64(36.9), "n": np.int64(3)}},
        ],
    )
    assert n == 3
    frame = store.read_events(run.id)
    assert list(frame.columns) == list(EVENT_COLUMNS)
    assert frame["seq"].tolist() == [0, 1, 2]
    assert frame["t_h"].tolist() == [0.0, 1.5, 2.0]
    assert frame["seq"].dtype == np.int64 and frame["t_h"].dtype == np.float64
    assert frame["kind"].tolist() == ["state", "batch_start", "value"]
    assert frame["unit"].iloc[0] == "T1" and pd.isna(frame["unit"].iloc[2])
    assert pd.isna(frame["batch"].iloc[0]) and frame["batch"].iloc[1] == "B-001"
    assert frame["payload"].tolist() == [{"state": "idle"}, None, {"temp": 36.9, "n": 3}]


def test_appends_continue_the_numbering_and_filters(store: Store, run: RunRecord) -> None:
    store.append_events(run.id, [{"t_h": float(i), "kind": "tick"} for i in range(3)])
    frame = pd.DataFrame(
        {
            "t_h": [3.0, 4.0],
            "kind": ["tock", "tick"],
            "unit": ["T1", None],
            "payload": [{"a": 1}, None],
        }
    )
    assert store.append_events(run.id, frame) == 2
    assert store.read_events(run.id)["seq"].tolist() == [0, 1, 2, 3, 4]
    assert store.read_events(run.id, kinds=["tock"])["seq"].tolist() == [3]
    assert store.read_events(run.id, after_seq=2)["kind"].tolist() == ["tock", "tick"]
    assert store.append_events(run.id, []) == 0


def test_an_empty_log_has_the_columns(store: Store, run: RunRecord) -> None:
    frame = store.read_events(run.id)
    assert frame.empty and list(frame.columns) == list(EVENT_COLUMNS)
    assert frame["seq"].dtype == np.int64 and frame["t_h"].dtype == np.float64


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"kind": "x"}, "event 1: t_h must be a finite number"),
        ({"t_h": float("nan"), "kind": "x"}, "event 1: t_h must be a finite number"),
        ({"t_h": 1.0}, "event 1: kind must be a non-empty string"),
        ({"t_h": 1.0, "kind": "x", "colour": "red"}, r"event 1: unknown field\(s\) colour"),
        ({"t_h": 1.0, "kind": "x", "unit": 5}, "event 1: unit must be a string"),
        ({"t_h": 1.0, "kind": "x", "batch": "B\x00"}, "event 1: batch must be a string"),
        ({"t_h": 1.0, "kind": "x", "payload": [1]}, "event 1 payload must be a mapping"),
        ({"t_h": 1.0, "kind": "x", "payload": {"v": float("inf")}}, "not valid JSON"),
    ],
)
def test_a_bad_event_appends_nothing(
    store: Store, run: RunRecord, event: dict[str, object], message: str
) -> None:
    good = {"t_h": 0.0, "kind": "ok"}
    with pytest.raises(InvalidInput, match=message):
        store.append_events(run.id, [good, event])
    assert store.read_events(run.id).empty


def test_unknown_run(store: Store) -> None:
    with pytest.raises(NotFound, match="run 00000000-0000-0000-0000-000000000000 not found"):
        store.append_events("00000000-0000-0000-0000-000000000000", [{"t_h": 0, "kind": "x"}])
    with pytest.raises(NotFound, match="run nope not found"):
        store.read_events("nope")


def test_a_large_log(store: Store, run: RunRecord) -> None:
    n = 20_000
    events = [
        {"t_h": i / 10, "kind": "state", "unit": f"T{i % 7}", "payload": {"i": i}} for i in range(n)
    ]
    assert store.append_events(run.id, events) == n
    frame = store.read_events(run.id)
    assert len(frame) == n and frame["payload"].iloc[-1] == {"i": n - 1}
