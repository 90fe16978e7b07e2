"""What live monitoring writes into the batch record (SQLite and PostgreSQL, with and
without group commit): a raised alarm opens one deviation on the batch running on its
unit, at its running step, naming the contributing tags, however often it is reported;
a soft sensor's value is recorded as a result of the running step, and refused outside
its applicability domain. The batch is a real one, run by the batch engine up to its
manual ``fill`` step on unit ``T1`` of the tiny site."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from ebr_world import FILL, World, started_batch

from phactory.errors import InvalidError, NotFoundError
from phactory.live.alarms import Contribution
from phactory.live.deviations import open_deviation, record_result, running_step
from phactory.live.monitoring import AlarmTransition

AT = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)


def raised(at: dt.datetime = AT, monitor: str = "t1-pca") -> AlarmTransition:
    top = (
        Contribution("TT", "tiny/main/cell/T1/TT", 3.5),
        Contribution("PT", "tiny/main/cell/T1/PT", 0.75),
    )
    return AlarmTransition("raised", monitor, at, "spe", 4.0, 9.5, 15.5, 2.4, top,
                           {"TT": 3.5, "PT": 0.75})  # fmt: skip


def test_an_alarm_opens_one_deviation_on_the_running_step_naming_its_tags(world: World) -> None:
    _, batch_id = started_batch(world)
    where = running_step(world.records, "T1")
    assert where is not None and (where.batch_id, where.step) == (batch_id, FILL)
    first = open_deviation(world.records, raised(), unit="T1", acting_account="eng1")
    assert first is not None
    _, deviation = first
    assert (deviation.batch_id, deviation.step, deviation.kind) == (batch_id, FILL, "out_of_limit")
    assert deviation.status == "open" and deviation.severity == "major"
    assert "tiny/main/cell/T1/TT" in deviation.description
    assert "tiny/main/cell/T1/PT" in deviation.description
    assert "t1-pca" in deviation.description
    # The same alarm again (a restarted monitor): the same deviation, nothing written.
    again = open_deviation(world.records, raised(), unit="T1")
    assert again is not None and again[1].deviation_id == deviation.deviation_id
    with world.records.access.reading() as view:
        devs = view.deviations(batch_id)
        alarms = view.entries(batch_id, kinds=["alarm"])
    assert [d.deviation_id for d in devs] == [deviation.deviation_id]
    assert len(alarms) == 1 and alarms[0].field == "monitor:t1-pca"
    assert alarms[0].acting_account == "eng1"
    # A later alarm of the same monitor is another deviation.
    later = open_deviation(world.records, raised(AT + dt.timedelta(minutes=5)), unit="T1")
    assert later is not None and later[1].deviation_id != deviation.deviation_id
    with pytest.raises(InvalidError, match="only a raised alarm"):
        cleared = AlarmTransition("cleared", "t1-pca", AT, "", 1.0, 1.0, 15.5, 2.4)
        open_deviation(world.records, cleared, unit="T1")


def test_no_batch_on_the_unit_opens_no_deviation(world: World) -> None:
    started_batch(world)
    assert running_step(world.records, "T2") is None
    assert open_deviation(world.records, raised(), unit="T2") is None
    with world.records.access.reading() as view:
        assert view.deviations() == []


def test_a_soft_sensor_value_stands_as_a_result_of_the_running_step(world: World) -> None:
    _, batch_id = started_batch(world)
    where = record_result(
        world.records, unit="T1", name="titer", value=2.35, engineering_unit="g/L",
        model="titer-pls", in_domain=True, at=AT, acting_account="eng1",
    )  # fmt: skip
    assert (where.batch_id, where.step) == (batch_id, FILL)
    with world.records.access.reading() as view:
        assert view.latest_value(f"step:{batch_id}/{FILL}", "titer") == 2.35
        [entry] = [e for e in view.entries(batch_id, kinds=["value"]) if e.field == "titer"]
    data = json.loads(entry.data)
    assert data["source"] == "softsensor" and data["cqa"] is True and data["unit"] == "g/L"
    assert data["model"] == "titer-pls" and entry.acting_account == "eng1"
    with pytest.raises(InvalidError, match="applicability domain"):
        record_result(world.records, unit="T1", name="titer", value=9.9, model="titer-pls",
                      in_domain=False, at=AT)  # fmt: skip
    with pytest.raises(NotFoundError, match="T2"):
        record_result(world.records, unit="T2", name="titer", value=1.0, model="titer-pls",
                      in_domain=True, at=AT)  # fmt: skip
