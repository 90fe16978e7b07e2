"""The edge publisher against a real Mosquitto: a plant's metadata, values and changes
under its ISA-95 topics, events, refusals, the full-queue alarm, and store-and-forward
through a broker outage and a publisher restart."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from phactory.connect.mqtt import EdgePublisher, HistorianIngest, QueueFullError
from phactory.connect.mqtt import namespace as ns
from phactory.control.view import TagInfo
from phactory.errors import InvalidError
from phactory.events.plant_event import PlantEvent
from phactory.historian.samples import Sample

from .mqtt_support import (
    EPOCH,
    MemorySink,
    Mosquitto,
    Recorder,
    clear_retained,
    free_port,
    machine_broker,
    samples,
    unique,
    wait_for,
)
from .plant import REACTOR, TAGS, SmallPlant


@pytest.fixture
def broker() -> str:
    return machine_broker()


@pytest.fixture
def site(broker: str) -> Iterator[str]:
    """A site of its own; its retained metadata is cleared afterwards."""
    name = unique("pub")
    yield name
    clear_retained(broker, [ns.meta_topic(name, t.path) for t in TAGS])


def test_attach_publishes_metadata_values_and_changes(
    broker: str, site: str, tmp_path: Path
) -> None:
    plant = SmallPlant()
    plant.site = site
    with (
        Recorder(broker, f"phactory/v1/{site}/#") as rec,
        EdgePublisher(broker, site, tmp_path / "q", "edge-1", epoch=EPOCH) as pub,
    ):
        assert wait_for(lambda: pub.connected)
        pub.attach(plant)
        plant.write(f"{REACTOR}/TIC101_SP", 30.0)
        plant.scan(0.25)  # changes scans and TT101
        assert pub.flush(10)
        assert wait_for(lambda: len(rec.messages) >= 2 * len(TAGS) + 2)
    metas = dict(rec.json())
    tt = f"phactory/v1/{site}/_meta/{REACTOR}/TT101"
    assert {k: metas[tt][k] for k in ("data_type", "unit", "low", "high", "description")} == {
        "data_type": "REAL", "unit": "degC", "low": 0.0, "high": 150.0,
        "description": "reactor temperature",
    }  # fmt: skip
    values = [(t, p) for t, p in rec.json() if "/_meta/" not in t]
    assert len(values) == len(TAGS) + 2  # every initial value, then the two changes
    first = dict(values[: len(TAGS)])
    assert first[f"phactory/v1/{site}/{REACTOR}/TT101"]["v"] == 20.0
    assert first[f"phactory/v1/{site}/{REACTOR}/TT101"]["u"] == "degC"
    assert first[f"phactory/v1/{site}/{REACTOR}/agitator/SI201"]["u"] == "rpm"
    assert first[f"phactory/v1/{site}/{REACTOR}/batch_id"]["v"] == ""
    assert first[f"phactory/v1/{site}/{REACTOR}/XV401"]["v"] is False
    change = dict(values[len(TAGS) :])
    scans = change[f"phactory/v1/{site}/{REACTOR}/scans"]
    assert scans["v"] == 1 and scans["t"] == "2025-03-01T08:00:00.250000Z"
    assert scans["src"] == "edge-1" and scans["hist"] is False and scans["q"] == "good"
    assert change[f"phactory/v1/{site}/{REACTOR}/TT101"]["v"] == 22.0
    seqs = [int(p["seq"]) for _, p in rec.json()]  # type: ignore[call-overload]
    assert seqs == list(range(len(seqs)))  # in order, none missing
    assert len(plant._subscribers) == 0  # detached at close

    with Recorder(broker, f"phactory/v1/{site}/_meta/#") as late:  # retained for latecomers
        assert wait_for(lambda: len(late.messages) == len(TAGS))
        assert all(retain for _, _, retain in late.messages)


def test_events_go_to_their_unit_or_to_the_site(broker: str, tmp_path: Path) -> None:
    site = unique("ev")
    with (
        Recorder(broker, f"phactory/v1/{site}/#") as rec,
        EdgePublisher(
            broker, site, tmp_path / "q", "edge-1", units={"BR-01": "usp/c1/BR-01"}
        ) as pub,
    ):
        e1 = PlantEvent(EPOCH, "state", unit="BR-01", state="running", batch="B1")
        e2 = PlantEvent(EPOCH, "batch_released", batch="B2", order="O1", value=3.5)
        assert [pub.publish_event(e1), pub.publish_event(e2)] == [0, 1]
        assert pub.flush(10) and wait_for(lambda: len(rec.messages) == 2)
    (t1, p1), (t2, _) = rec.json()
    assert t1 == f"phactory/v1/{site}/usp/c1/BR-01/_events"
    assert t2 == f"phactory/v1/{site}/_events"
    assert p1["state"] == "running" and p1["t"] == "2025-03-01T08:00:00.000000Z"
    assert ns.decode(t2, rec.messages[1][1]) == PlantEvent(
        EPOCH, "batch_released", batch="B2", order="O1", value=3.5, source="edge-1", seq=1
    )


def test_bad_samples_are_refused_whole(broker: str, tmp_path: Path) -> None:
    with EdgePublisher(broker, "s1", tmp_path / "q", "edge-1") as pub:
        with pytest.raises(InvalidError, match="not of site 's1'"):
            pub.publish_samples([Sample("s2/a/c/u/T", 0, 1.0, 0)])
        with pytest.raises(InvalidError, match=r"tag 'a/c/u/T\+'"):
            pub.publish_samples([Sample("s1/a/c/u/T", 0, 1.0, 0), Sample("s1/a/c/u/T+", 0, 1, 0)])
        with pytest.raises(InvalidError, match="64-bit"):
            pub.publish_samples([Sample("s1/a/c/u/T", 0, 2**64, 0)])
        assert pub.next_seq == 0 and pub.counters.queued == 0


def test_a_full_queue_raises_the_alarm_and_refuses(tmp_path: Path) -> None:
    alarms: list[bool] = []
    url = f"mqtt://127.0.0.1:{free_port()}"  # nobody listens: everything stays queued
    with EdgePublisher(
        url, "s", tmp_path / "q", "edge-1", max_messages=5, on_alarm=alarms.append
    ) as pub:
        pub.publish_samples(samples("s", 5))
        with pytest.raises(QueueFullError):
            pub.publish_samples(samples("s", 1, 5))
        assert pub.queue_full and alarms == [True] and not pub.connected
        c = pub.counters
        assert (c.queued, c.backlog, c.refused, c.dropped, c.sent) == (5, 5, 1, 0, 0)


def test_store_and_forward_through_an_outage_and_a_restart(tmp_path: Path) -> None:
    """Live messages, then an outage (queued, historical), then the publisher closed
    with its backlog and started again (replayed): the subscriber gets every message
    once, in order, the late ones marked historical."""
    mosq = Mosquitto(tmp_path / "broker")
    mosq.start()
    sink = MemorySink()
    queue = tmp_path / "edge.queue"
    sub = HistorianIngest(mosq.url, sink, client_id=unique("hist"), session_expiry_s=300)
    try:
        sub.start()
        assert sub.wait_subscribed(10)
        pub = EdgePublisher(mosq.url, "s", queue, "edge-1", reconnect_max_s=1).start()
        assert wait_for(lambda: pub.connected)
        pub.publish_samples(samples("s", 50))
        assert pub.flush(10)
        mosq.stop()
        assert wait_for(lambda: not pub.connected)
        pub.publish_samples(samples("s", 50, 50))  # during the outage
        pub.close(timeout_s=0.2)
        assert pub.counters.backlog == 50

        mosq.start()
        pub = EdgePublisher(mosq.url, "s", queue, "edge-1", reconnect_max_s=1).start()
        assert pub.counters.backlog == 50
        pub.publish_samples(samples("s", 50, 100))  # after: live again
        assert pub.flush(20)
        c = pub.counters
        assert (c.acked, c.replayed, c.backlog, c.dropped) == (100, 50, 0, 0)
        pub.close()
        assert wait_for(lambda: len(sink.samples) == 150, 20)
    finally:
        sub.close()
        mosq.stop()
    stored = sorted(sink.samples.values(), key=lambda s: s.seq)
    assert [s.seq for s in stored] == list(range(150))
    assert [s.value for s in stored] == list(range(150))
    assert [s.historical for s in stored] == [False] * 50 + [True] * 50 + [False] * 50
    first_seen = list(dict.fromkeys(sink.order))
    assert first_seen == list(range(150))  # in order of first arrival


class OddPlant(SmallPlant):
    """The small plant with one tag whose name cannot be a topic level."""

    BAD = f"{REACTOR}/bad+tag"

    def __init__(self) -> None:
        super().__init__()
        self._values[self.BAD] = 0.0
        self._info[self.BAD] = TagInfo(self.BAD, "REAL")

    def tags(self) -> tuple[TagInfo, ...]:
        return (*TAGS, self._info[self.BAD])


def test_what_a_plant_gives_that_cannot_be_published_is_counted_not_raised(
    broker: str, site: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    plant = OddPlant()
    with (
        Recorder(broker, f"phactory/v1/{site}/#") as rec,
        EdgePublisher(broker, site, tmp_path / "q", "edge-1", epoch=EPOCH) as pub,
    ):
        pub.attach(plant)  # the bad tag is left out, logged
        plant.set_value(OddPlant.BAD, 1.0)  # on the "scan thread": no exception
        plant.set_value(f"{REACTOR}/scans", 2**70)  # beyond 64 bits
        plant.set_value(f"{REACTOR}/TT101", math.nan)  # published, as bad
        assert pub.flush(10)
        assert wait_for(lambda: len(rec.messages) == 2 * len(TAGS) + 1)
        assert pub.counters.invalid == 2
    assert "bad+tag" in caplog.text and "64-bit" in caplog.text
    topic, payload = rec.json()[-1]
    assert topic.endswith("/TT101") and payload["v"] is None and payload["q"] == "bad"
    assert not any("bad+tag" in t for t, _, _ in rec.messages)
