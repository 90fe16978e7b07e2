"""The LiveService on a real historian (an SQLite file in tmp_path) and, for batches, a
real batch record: plant events in, unit states, running batches and alarms out; trends.

The site is ``tests/data/tiny-site.yaml`` (area ``main``, cell ``cell``, tanks T1, T2).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phactory.app.errors import Invalid, Missing
from phactory.app.services.live import LiveService, TrendBuffer, trend_step
from phactory.app.services.live_views import UnitTracker
from phactory.errors import NotFoundError
from phactory.events import PlantEvent
from phactory.historian import Historian, Sample, open_historian, to_us
from phactory.model import Site, load_site

from .conftest import TINY

T0 = dt.datetime(2027, 1, 4, 8, 0, tzinfo=dt.UTC)
HOSTILE = '<img src=x onerror="alert(1)">{{7*7}}%{x}'


class Sites:
    """The workspace's part the service uses: stored sites by id."""

    def __init__(self, *sites: Site) -> None:
        self.sites = {s.id: s for s in sites}

    def get_site(self, site_id: str, version: int | None = None) -> Site:
        if site_id not in self.sites:
            raise Missing(f"no site {site_id!r}")
        return self.sites[site_id]


@pytest.fixture
def site() -> Site:
    return load_site(TINY)


@pytest.fixture
def historian(tmp_path: Path) -> Iterator[Historian]:
    with open_historian(path=tmp_path / "historian.sqlite") as h:
        yield h


@pytest.fixture
def clock() -> list[dt.datetime]:
    """The service's wall clock, set by the test."""
    return [T0 + dt.timedelta(minutes=30)]


@pytest.fixture
def service(site: Site, historian: Historian, clock: list[dt.datetime]) -> Iterator[LiveService]:
    s = LiveService(
        Sites(site),
        historian=lambda: historian,
        poll_s=0.05,
        idle_s=1.0,
        clock=lambda: clock[0],
    )
    yield s
    s.close()


def state(
    unit: str, minutes: float, value: str, seq: int, source: str = "edge-1", **kw: Any
) -> PlantEvent:
    return PlantEvent(
        t=T0 + dt.timedelta(minutes=minutes),
        kind="state",
        unit=unit,
        state=value,
        source=source,
        seq=seq,
        **kw,
    )


def fresh(service: LiveService, site_id: str = "tiny") -> Any:
    """The layout once the service had time to read what was just stored."""
    time.sleep(service.poll_s * 1.5)
    return service.units(site_id)


def test_events_in_unit_states_out(service: LiveService, historian: Historian) -> None:
    layout = service.units("tiny")
    assert [(a.id, [(c.id, [u.id for u in c.units]) for c in a.cells]) for a in layout.areas] == [
        ("main", [("cell", ["T1", "T2"])])
    ]
    assert {u.state for u in layout.units} == {"idle"}  # never reported
    assert all(u.since is None for u in layout.units)
    assert layout.events == 0 and layout.last_event_at is None
    assert layout.sources == ("historian",) and layout.problems == ()

    historian.ingest_events(
        [
            state("T1", 0, "waiting_upstream", 1, batch="B1", procedure="mix"),
            state("T1", 5, "producing", 2, batch="B1", procedure="mix", phase="fill"),
            state("T1", 9, "producing", 3, batch="B1", procedure="mix", phase="stir"),
            state("T2", 2, "cleaning", 4, phase="cip"),
        ],
        site="tiny",
    )
    layout = fresh(service)
    t1, t2 = layout.units
    assert (t1.state, t1.batch, t1.procedure, t1.phase) == ("producing", "B1", "mix", "stir")
    # A new phase in the same state does not reset since when the unit is producing.
    assert t1.since == T0 + dt.timedelta(minutes=5)
    assert (t2.state, t2.since, t2.phase) == ("cleaning", T0 + dt.timedelta(minutes=2), "cip")
    assert layout.events == 4
    assert layout.last_event_at == T0 + dt.timedelta(minutes=9)


def test_replays_late_events_and_other_sites(service: LiveService, historian: Historian) -> None:
    historian.ingest_events([state("T1", 10, "producing", 1)], site="tiny")
    before = service.snapshot("tiny")
    assert before.layout.units[0].state == "producing"
    # A replay (same source and seq, even with another content) and a late event older
    # than the latest one change nothing of the present; another site's events, and
    # state events of units the site does not have, are not taken.
    historian.ingest_events([state("T1", 10, "down", 1)], site="tiny")
    historian.ingest_events([state("T1", 3, "down", 2)], site="tiny")
    historian.ingest_events([state("T1", 20, "down", 3)], site="other")
    historian.ingest_events([state("NOPE", 20, "down", 4)], site="tiny")
    after = fresh(service)
    assert after.units[0].state == "producing"
    assert after.units[0].since == T0 + dt.timedelta(minutes=10)
    # An event older than the lookback before the latest one is history: it joins the
    # event log (for KPIs) at the next deep read.
    assert after.events == 1
    service.deep_every_s = 0.1
    time.sleep(0.3)
    after = service.units("tiny")
    assert after.events == 2 and after.units[0].state == "producing"
    # Nothing visible changed but the history: the snapshot says so by its version.
    assert service.snapshot("tiny").version > before.version


def test_version_only_moves_when_something_changes(
    service: LiveService, historian: Historian
) -> None:
    first = service.snapshot("tiny")
    time.sleep(0.2)
    assert service.snapshot("tiny").version == first.version
    historian.ingest_events([state("T2", 1, "setup", 7)], site="tiny")
    time.sleep(0.1)
    assert service.snapshot("tiny").version > first.version


def test_hostile_strings_stay_text(service: LiveService, historian: Historian) -> None:
    historian.ingest_events(
        [state("T1", 1, "down", 1, batch=HOSTILE, procedure=HOSTILE, phase=HOSTILE)],
        site="tiny",
    )
    tag = f"tiny/main/cell/T1/{HOSTILE}"
    historian.ingest([Sample(tag, to_us(T0 + dt.timedelta(minutes=29)), 1.5, seq=1)])
    layout = fresh(service)
    unit = layout.units[0]
    assert (unit.batch, unit.procedure, unit.phase) == (HOSTILE, HOSTILE, HOSTILE)
    assert [t.name for t in service.tags("tiny")] == [tag]
    frame = service.trend([tag], dt.timedelta(minutes=5))
    assert frame["tag"].tolist() == [tag]
    [alarm] = service.alarms("tiny")
    assert (alarm.kind, alarm.source, alarm.key) == ("equipment_down", "T1", "down:T1")


def test_a_down_unit_is_an_alarm_until_repaired(service: LiveService, historian: Historian) -> None:
    historian.ingest_events([state("T2", 1, "down", 1, detail="pump trip")], site="tiny")
    [alarm] = fresh(service) and service.alarms("tiny")
    assert (alarm.severity, alarm.since) == ("major", T0 + dt.timedelta(minutes=1))
    historian.ingest_events([state("T2", 3, "idle", 2)], site="tiny")
    fresh(service)
    assert service.alarms("tiny") == ()


def test_unknown_site_and_bad_trends_are_refused(service: LiveService) -> None:
    with pytest.raises(Missing, match="no site 'nope'"):
        service.units("nope")
    with pytest.raises(Invalid, match="at least one tag"):
        service.trend([], dt.timedelta(minutes=5))
    with pytest.raises(Invalid, match="at most 12 tags"):
        service.trend([f"t{i}" for i in range(13)], dt.timedelta(minutes=5))
    with pytest.raises(Invalid, match="window"):
        service.trend(["t"], dt.timedelta(days=2))
    with pytest.raises(NotFoundError, match="'tiny/x'"):  # the historian names it
        service.trend(["tiny/x"], dt.timedelta(minutes=5))


def test_trends_raw_extended_and_on_a_grid(
    service: LiveService, historian: Historian, clock: list[dt.datetime]
) -> None:
    tag, text = "tiny/main/cell/T1/TT", "tiny/main/cell/T1/MODE"
    now = clock[0]
    samples = [
        Sample(tag, to_us(now - dt.timedelta(seconds=s)), 20.0 + s, seq=s, unit="degC")
        for s in range(0, 1200, 10)
    ]
    samples.append(Sample(text, to_us(now), "auto", seq=5000))
    historian.ingest(samples)
    raw = service.trend([tag, text], dt.timedelta(minutes=5))
    assert list(raw.columns) == ["time", "tag", "value"]
    assert len(raw) == 30 and set(raw["tag"]) == {tag}  # text is not trended
    assert raw["time"].is_monotonic_increasing
    assert raw["value"].iloc[-1] == 20.0 and raw["value"].iloc[0] == 310.0

    buffer = TrendBuffer([tag], dt.timedelta(minutes=5))
    assert buffer.merge(raw, now) and buffer.points == 30
    clock[0] = now + dt.timedelta(seconds=20)
    historian.ingest([Sample(tag, to_us(now + dt.timedelta(seconds=15)), 99.0, seq=9000)])
    since = buffer.since()
    assert since == now
    more = service.trend([tag], dt.timedelta(minutes=5), since=since)
    assert more["value"].tolist() == [20.0, 99.0]  # from its last point on
    assert buffer.merge(more, clock[0])
    assert buffer.values[tag][-1] == 99.0
    assert buffer.values[tag][0] == 300.0 and buffer.points == 30  # 290 s old: left the window
    assert not buffer.merge(more, clock[0])  # nothing new

    step = trend_step(dt.timedelta(hours=1))
    assert step == dt.timedelta(seconds=6)
    trend = service.read_trend([tag], dt.timedelta(hours=1))
    assert trend.every == step and [t.unit for t in trend.tags] == ["degC"]
    assert len(trend.frame) == 121  # one mean per 6-s step holding a sample (and the 99)
    assert trend.frame["value"].max() == 1210.0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 50), st.sampled_from(["producing", "down", "idle", "setup"])),
        min_size=1,
        max_size=30,
    )
)
def test_the_current_state_is_the_latest_events_whatever_the_arrival_order(
    changes: list[tuple[int, str]],
) -> None:
    events = [state("T1", m, s, i) for i, (m, s) in enumerate(changes)]
    tracker = UnitTracker(["T1"])
    for e in reversed(events):  # arrival order reversed
        tracker.take(e)
    ordered = UnitTracker(["T1"])
    for e in sorted(events, key=lambda e: e.t):
        ordered.take(e)
    latest = max(e.t for e in events)
    last = [e for e in events if e.t == latest]
    # Same time: the later arrival wins; otherwise the order of arrival does not matter.
    assert tracker.unit("T1", "", "", "").state == last[0].state
    assert ordered.unit("T1", "", "", "").state == last[-1].state


def test_background_refresh_runs_only_while_watched(
    site: Site, historian: Historian, clock: list[dt.datetime]
) -> None:
    calls = []

    def counting() -> Historian:
        calls.append(time.monotonic())
        return historian

    service = LiveService(Sites(site), historian=counting, poll_s=0.05, idle_s=0.3)
    try:
        service.units("tiny")
        time.sleep(0.25)
        watched = len(calls)
        assert watched >= 3  # refreshed in the background
        time.sleep(0.6)
        quiet = len(calls)
        time.sleep(0.3)
        assert len(calls) == quiet  # nobody watches: nothing polled
        assert service._thread is None
    finally:
        service.close()


def test_a_historian_that_cannot_be_read_is_reported(site: Site, historian: Historian) -> None:
    from phactory.errors import UnavailableError

    broken = [False]

    def maybe() -> Historian:
        if broken[0]:
            raise UnavailableError("database at 127.0.0.1:1 refused the connection")
        return historian

    service = LiveService(Sites(site), historian=maybe, poll_s=0.05)
    try:
        historian.ingest_events([state("T1", 1, "producing", 1)], site="tiny")
        assert service.units("tiny").units[0].state == "producing"
        broken[0] = True
        layout = fresh(service)
        assert layout.problems == (
            "the historian cannot be opened: database at 127.0.0.1:1 refused the connection",
        )
        assert layout.units[0].state == "producing"  # as last read
        broken[0] = False
        assert fresh(service).problems == ()
    finally:
        service.close()


# ---------------------------------------------------------------------------- batches
def test_running_batches_their_steps_units_and_deviations(tmp_path: Path, site: Site) -> None:
    from phactory.app.services.batches import BatchService
    from phactory.credentials import default_hasher

    from .batch_world import PEOPLE, make_people

    batches = BatchService(
        f"sqlite:///{tmp_path / 'record.db'}",
        sites=lambda _: site,
        time_scale=float("inf"),
        run_in_threads=False,
        group_commit=False,
        hasher=default_hasher(fast=True),
    )
    service = LiveService(Sites(site), batches=lambda: batches, poll_s=0.05)
    try:
        assert service.running_batches("tiny") == ()
        make_people(batches)
        sup = batches.login("sup", PEOPLE["sup"][3])
        batches.create(sup, site, "r1", batch_id="B1", start=True)
        batches.run("B1", timeout_s=10.0)  # until it waits for the manual fill
        [running] = fresh(service) and service.running_batches("tiny")
        assert (running.batch_id, running.state, running.step) == ("B1", "Running", "mix/main/fill")
        assert running.steps_total == 3 and running.steps_done == 0
        assert running.step_unit in ("T1", "T2")
        assert running.waiting_for is not None and "work instruction" in running.waiting_for
        layout = service.units("tiny")
        assert "batch record" in layout.sources
        unit = next(u for u in layout.units if u.id == running.step_unit)
        assert (unit.batch, unit.procedure) == ("B1", "mix")
        assert unit.state in ("producing", "waiting_upstream")

        batches.reviews.raise_deviation(sup, "B1", HOSTILE, step="mix/main/fill")
        time.sleep(service.batches_every_s + 0.2)
        [alarm] = service.alarms("tiny")
        assert (alarm.kind, alarm.source, alarm.severity) == ("deviation", "B1", "major")
        assert alarm.message.endswith(HOSTILE) and "mix/main/fill" in alarm.message
    finally:
        service.close()
        batches.close()


def test_trend_buffer_on_a_grid_is_replaced() -> None:
    tag = "s/a/c/u/x"
    buffer = TrendBuffer([tag], dt.timedelta(hours=1))
    assert buffer.since() is None
    times = pd.to_datetime([T0, T0 + dt.timedelta(minutes=1)], utc=True)
    frame = pd.DataFrame({"time": times, "tag": [tag, tag], "value": [1.0, 2.0]})
    assert buffer.merge(frame, T0 + dt.timedelta(minutes=2))
    assert not buffer.merge(frame, T0 + dt.timedelta(minutes=2))
    assert buffer.merge(frame.iloc[1:], T0 + dt.timedelta(minutes=2))
    assert buffer.values[tag] == [2.0]


def test_a_plant_run_faster_than_real_time_is_trended_at_its_own_present(
    service: LiveService, historian: Historian, clock: list[dt.datetime]
) -> None:
    tag = "tiny/main/cell/T1/TT"
    ahead = clock[0] + dt.timedelta(minutes=30)  # `control run --speed 10`: stamps run ahead
    historian.ingest_events([state("T1", 60, "producing", 1)], site="tiny")
    historian.ingest([Sample(tag, to_us(ahead + dt.timedelta(seconds=20)), 5.0, seq=1)])
    service.units("tiny")
    assert service.plant_now([tag]) == ahead
    assert service.plant_now(["other/x"]) == clock[0]
    assert service.trend([tag], dt.timedelta(minutes=5))["value"].tolist() == [5.0]
    buffer = TrendBuffer([tag], dt.timedelta(minutes=5))
    buffer.merge(service.trend([tag], dt.timedelta(minutes=5)), clock[0])
    assert buffer.points == 1  # the window ends at the latest point, not the clock
    assert buffer.end(clock[0]) == ahead + dt.timedelta(seconds=20)


def test_live_kpis_by_the_twin_code_over_the_last_hours(
    service: LiveService, historian: Historian, clock: list[dt.datetime]
) -> None:
    assert service.kpis("tiny") is None  # no event yet
    # T1: waiting 0-10 min, producing 10-40 min, idle after; T2 never reports (idle).
    historian.ingest_events(
        [
            state("T1", 0, "waiting_upstream", 1, batch="B1"),
            state("T1", 10, "producing", 2, batch="B1"),
            state("T1", 40, "idle", 3),
        ],
        site="tiny",
    )
    clock[0] = T0 + dt.timedelta(minutes=60)
    time.sleep(service.poll_s * 1.5)
    view = service.kpis("tiny", hours=24)
    assert view is not None
    assert view.start == T0 and view.end == clock[0]
    # Utilisation: producing hours / all unit hours = 0.5 h / (2 units x 1 h).
    assert view.kpis["utilisation"] == pytest.approx(0.25)
    # Availability: producing / planned busy time (producing + waiting) = 30 / 40 min.
    assert view.kpis["availability"] == pytest.approx(0.75)
    # A window shorter than the history starts later.
    short = service.kpis("tiny", hours=0.5)
    assert short is not None and short.start == clock[0] - dt.timedelta(minutes=30)
