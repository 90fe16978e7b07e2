"""The live path end to end over the machine's Mosquitto: what the batch engine does
(its record) and what the controllers show (their units' states) reach the historian as
plant events, and the live KPIs computed from the historian are those computed from the
record directly."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "records"))

from ebr_world import completed_batch, make_world, tiny_site

from phactory.batch.plant_events import RecordEventFeed
from phactory.connect.mqtt import EdgePublisher, HistorianIngest
from phactory.connect.mqtt.record_feed import RecordPublisher
from phactory.historian import open_historian
from phactory.live import live_kpis

from .mqtt_support import machine_broker, unique, wait_for


def test_the_batch_record_reaches_the_historian_and_gives_the_same_kpis(tmp_path: Path) -> None:
    broker = machine_broker()
    world = make_world(f"sqlite:///{tmp_path / 'record.sqlite'}")
    try:
        completed_batch(world)
        direct, _ = RecordEventFeed(world.records).read()
        site = tiny_site()
        topic_site = unique("rec")
        with (
            open_historian(path=tmp_path / "historian.sqlite") as historian,
            HistorianIngest(broker, historian, f"phactory/v1/{topic_site}/#",
                            client_id=unique("h"), session_expiry_s=60) as sub,
            EdgePublisher(broker, topic_site, tmp_path / "rec.queue", "rec-1") as pub,
        ):  # fmt: skip
            assert sub.wait_subscribed(5)
            feed = RecordPublisher(world.records, pub, site, tmp_path / "rec.position")
            assert feed.step() == len(direct)
            # Nothing new: the position was kept.
            assert feed.step() == 0
            assert RecordPublisher(world.records, pub, site, tmp_path / "rec.position").step() == 0
            assert pub.flush(10)
            assert wait_for(lambda: sub.counters.events == len(direct))
            stored = historian.events(site_prefix=topic_site)
        assert [(e.t, e.kind, e.unit, e.state, e.batch) for e in stored] == [
            (e.t, e.kind, e.unit, e.state, e.batch) for e in direct
        ]
        # Unit events went to their unit's topic, batch events to the site's.
        start, end = direct[0].t, direct[-1].t
        a, b = live_kpis(site, direct, start, end), live_kpis(site, stored, start, end)
        for name in ("utilisation", "availability", "oee", "batches_completed"):
            assert b.result.site[name] == pytest.approx(a.result.site[name], nan_ok=True), name
    finally:
        world.records.close()


def test_controllers_publish_their_units_states_as_plant_events(tmp_path: Path) -> None:
    from phactory.batch.states import Command
    from phactory.control.site import SitePlant
    from phactory.model import load_site

    broker = machine_broker()
    site = load_site(Path(__file__).resolve().parents[1] / "data" / "tiny-site.yaml")
    plant = SitePlant(site, seed=1)
    topic_site = unique("ctl")
    try:
        with (
            open_historian(path=tmp_path / "historian.sqlite") as historian,
            HistorianIngest(broker, historian, f"phactory/v1/{topic_site}/#",
                            client_id=unique("h"), session_expiry_s=60) as sub,
            EdgePublisher(broker, topic_site, tmp_path / "ctl.queue", "ctl-1") as pub,
        ):  # fmt: skip
            assert sub.wait_subscribed(5)
            pub.attach(plant)
            ref = plant.phases()[0]
            plant.command(ref, Command.START)
            plant.advance(5.0)
            unit = ref.unit.rsplit("/", 1)[-1]

            def states() -> list[str]:
                events = historian.events(site_prefix=topic_site)
                return [e.state for e in events if e.unit == unit and e.kind == "state"]

            # The unit's state before the start, then the state of its running phase.
            assert wait_for(lambda: len(states()) >= 2, 10), states()
            first, *later = states()
        assert first == "idle" and {"producing", "cleaning"} & set(later), (first, later)
    finally:
        plant.close()
