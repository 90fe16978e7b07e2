"""The historian's subscriber against a real Mosquitto: what it stores, that it
acknowledges only what was stored (so a subscriber that goes away loses nothing), its
persistent session, and how it takes malformed messages and a failing or refusing sink."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from phactory.connect.mqtt import EdgePublisher, HistorianIngest
from phactory.connect.mqtt import namespace as ns
from phactory.connect.mqtt.broker import make_client, parse_url
from phactory.control.view import TagInfo
from phactory.events.plant_event import PlantEvent
from phactory.historian.samples import Sample
from phactory.historian.tags import TagMeta

from .mqtt_support import (
    EPOCH,
    EPOCH_US,
    MemorySink,
    clear_retained,
    machine_broker,
    unique,
    wait_for,
)
from .mqtt_support import samples as support_samples


@pytest.fixture
def broker() -> str:
    return machine_broker()


@pytest.fixture
def site() -> str:
    return unique("sub")


@pytest.fixture
def publisher(broker: str, site: str, tmp_path: Path) -> Iterator[EdgePublisher]:
    with EdgePublisher(broker, site, tmp_path / "edge.queue", "edge-1") as pub:
        yield pub


def subscriber(broker: str, site: str, sink: MemorySink, client_id: str) -> HistorianIngest:
    """A subscriber of one site's topics; its session expires soon after the test."""
    return HistorianIngest(
        broker, sink, f"phactory/v1/{site}/#", client_id=client_id, session_expiry_s=60
    )


def samples(site: str, n: int, start: int = 0) -> list[Sample]:
    return support_samples(site, n, start, unit="L")


def test_samples_events_and_metadata_reach_the_sink(
    broker: str, site: str, publisher: EdgePublisher
) -> None:
    sink = MemorySink()
    with subscriber(broker, site, sink, unique("h")) as sub:
        assert sub.wait_subscribed(5)
        publisher.publish_meta([TagInfo("a/c/u/T0", "REAL", "L", 0.0, 10.0, "level")])
        publisher.publish_samples(samples(site, 30))
        publisher.publish_event(PlantEvent(EPOCH, "batch_started", unit="u", batch="B1"))
        assert publisher.flush(10)
        assert wait_for(lambda: len(sink.samples) == 30 and len(sink.events) == 1)
    clear_retained(broker, [ns.meta_topic(site, "a/c/u/T0")])
    assert sink.metas == {
        f"{site}/a/c/u/T0": TagMeta(f"{site}/a/c/u/T0", "REAL", "L", 0.0, 10.0, "level")
    }
    got = sorted(sink.samples.values(), key=lambda s: s.seq)
    assert got[0] == Sample(f"{site}/a/c/u/T0", EPOCH_US, 0.0, 1, "edge-1", "good", "L", False)
    assert [s.seq for s in got] == list(range(1, 31))
    [(where, event)] = sink.events.values()
    assert where == site  # filed under the site of its topic
    assert (event.kind, event.batch, event.source, event.seq) == (
        "batch_started",
        "B1",
        "edge-1",
        31,
    )
    c = sub.counters
    assert (c.received, c.samples, c.events, c.metas, c.malformed, c.acked) == (32, 30, 1, 1, 0, 32)


def test_nothing_is_acknowledged_before_it_is_stored(
    broker: str, site: str, publisher: EdgePublisher
) -> None:
    """A subscriber whose sink fails stores nothing and acknowledges nothing; when it
    goes, the broker gives everything to the next one with the same client id."""
    client_id = unique("h")
    broken = MemorySink(fail=10**9)
    first = subscriber(broker, site, broken, client_id).start()
    assert first.wait_subscribed(5)
    publisher.publish_samples(samples(site, 40))
    assert publisher.flush(10)
    assert wait_for(lambda: first.counters.received == 40 and first.counters.sink_errors >= 2)
    assert first.counters.acked == 0 and not broken.samples
    first.close(timeout_s=0.1)  # gives up the batch: the broker keeps it

    sink = MemorySink()
    with subscriber(broker, site, sink, client_id) as second:
        assert wait_for(lambda: len(sink.samples) == 40)
        assert wait_for(lambda: second.counters.acked == 40)  # once the batch is stored
    assert sorted(s.seq for s in sink.samples.values()) == list(range(40))


def test_what_is_published_while_it_is_away_is_kept_for_it(
    broker: str, site: str, publisher: EdgePublisher
) -> None:
    client_id = unique("h")
    sink = MemorySink()
    with subscriber(broker, site, sink, client_id) as sub:
        assert sub.wait_subscribed(5)
    publisher.publish_samples(samples(site, 25))  # nobody listening now
    assert publisher.flush(10)
    with subscriber(broker, site, sink, client_id):
        assert wait_for(lambda: len(sink.samples) == 25)


def test_malformed_messages_are_counted_acknowledged_and_skipped(
    broker: str, site: str, publisher: EdgePublisher
) -> None:
    client_id = unique("h")
    sink = MemorySink()
    with subscriber(broker, site, sink, client_id) as sub:
        assert sub.wait_subscribed(5)
        b = parse_url(broker)
        raw = make_client(b, unique("raw"))
        raw.connect(b.host, b.port)
        raw.loop_start()
        for topic, payload in [
            (f"phactory/v1/{site}/a/c/u/T0", b"not json"),
            (f"phactory/v1/{site}/a/c/u/T0", b'{"t":"2025-03-01T08:00:00Z","v":1}'),
            (f"phactory/v1/{site}/a/c/T0", b'{"t":"2025-03-01T08:00:00Z","v":1,"seq":1}'),
            (f"phactory/v1/{site}/a/c/u/T0", b"\xff" * 10),
        ]:
            raw.publish(topic, payload, qos=1).wait_for_publish(5)
        raw.disconnect()
        raw.loop_stop()
        publisher.publish_samples(samples(site, 5))
        assert publisher.flush(10)
        assert wait_for(lambda: len(sink.samples) == 5 and sub.counters.malformed == 4)
        assert wait_for(lambda: sub.counters.acked == 9)  # once the batch is stored
    sink2 = MemorySink()
    with subscriber(broker, site, sink2, client_id) as again:  # nothing comes back
        assert again.wait_subscribed(5)
        publisher.publish_samples(samples(site, 1, 5))
        assert publisher.flush(10) and wait_for(lambda: len(sink2.samples) == 1)
        assert again.counters.received == 1


def test_a_sample_the_sink_refuses_does_not_hold_back_the_others(
    broker: str, site: str, publisher: EdgePublisher
) -> None:
    sink = MemorySink(refuse_tag=f"{site}/a/c/u/T1")
    with subscriber(broker, site, sink, unique("h")) as sub:
        assert sub.wait_subscribed(5)
        publisher.publish_samples(samples(site, 30))
        assert publisher.flush(10)
        assert wait_for(lambda: sub.counters.acked == 30)
        c = sub.counters
    assert len(sink.samples) == 20 and all(not t.endswith("T1") for t, _, _ in sink.samples)
    assert (c.refused, c.samples) == (10, 20)


def test_a_failing_sink_is_retried_until_it_stores(
    broker: str, site: str, publisher: EdgePublisher
) -> None:
    sink = MemorySink(fail=2)
    with subscriber(broker, site, sink, unique("h")) as sub:
        assert sub.wait_subscribed(5)
        publisher.publish_samples(samples(site, 10))
        assert publisher.flush(10)
        assert wait_for(lambda: len(sink.samples) == 10)
        assert sub.counters.sink_errors == 2


def test_into_the_real_historian(
    broker: str, site: str, publisher: EdgePublisher, tmp_path: Path
) -> None:
    from phactory.historian import open_historian

    with open_historian(path=tmp_path / "historian.sqlite") as historian:
        with subscriber(broker, site, historian, unique("h")) as sub:
            assert sub.wait_subscribed(5)
            publisher.publish_samples(samples(site, 300))
            publisher.publish_samples(samples(site, 300))  # the same values, new numbers
            publisher.publish_event(PlantEvent(EPOCH, "state", unit="u", state="running"))
            assert publisher.flush(10)
            assert wait_for(lambda: sub.counters.acked == 601)
        frame = historian.query(
            [f"{site}/a/c/u/T{i}" for i in range(3)], EPOCH, EPOCH + dt.timedelta(seconds=1)
        )
        events = historian.events(site_prefix=site)
    assert len(frame) == 600 and sorted(frame["seq"]) == list(range(600))
    assert [e.state for e in events] == ["running"]
