"""The Live page in a real browser (Playwright with Debian's Chromium) on a real server:
a state event and a sample written into the server's historian while the page is open
show on the unit's tile and in the trend within about a second; hostile names stay text.

The server keeps its historian in its data folder (``$PHACTORY_HOME/historian.sqlite``,
the embedded default); the test writes into the same file, as ``phactory mqtt ingest``
would. A screenshot goes to ``out/screenshots/live_page.png`` (and ``/tmp/live_page.png``).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from phactory.events import PlantEvent
from phactory.historian import Sample, open_historian, to_us

from .conftest import CHROMIUM
from .server import SCREENSHOTS, ServerProcess

PASSWORD = "live-admin-1"
SITE = "mab-biologics"
HOSTILE = '<img src=x onerror="alert(1)">{{7*7}}'
TT = f"{SITE}/usp/usp-suite/BR-01/TT"
PH = f"{SITE}/usp/usp-suite/BR-01/{HOSTILE}"


def _seed(home: Path, now: dt.datetime) -> None:
    """States of a few units and 5 minutes of two tags, as the subscriber stores them."""
    states = [
        ("BR-01", "producing", "B-0042", "production", "culture"),
        ("BR-02", "cleaning", "", "", "cip"),
        ("SB-50-01", "waiting_upstream", "B-0043", "seed", ""),
        ("CH-01", "down", "", "", ""),
        ("HS-01", "setup", "", "", ""),
        ("MX-01", "producing", HOSTILE, "media", HOSTILE),
        ("FV-01", "planned_down", "", "", ""),
        ("VF-01", "blocked", "B-0040", "viral-filtration", ""),
        ("QC-01", "waiting_labour", "B-0039", "release-testing", ""),
    ]
    events = [
        PlantEvent(now - dt.timedelta(minutes=20 - i), "state", unit, state, batch=batch,
                   procedure=proc, phase=phase, source="edge-test", seq=i)
        for i, (unit, state, batch, proc, phase) in enumerate(states)
    ]  # fmt: skip
    samples = [
        Sample(tag, to_us(now - dt.timedelta(seconds=s)), base + (s % 60) / 10, seq=k * 1000 + s,
               source="edge-test", unit=unit)
        for k, (tag, base, unit) in enumerate(((TT, 36.5, "degC"), (PH, 7.0, "pH")))
        for s in range(0, 300, 2)
    ]  # fmt: skip
    with open_historian(path=home / "historian.sqlite") as h:
        h.ingest_events(events, site=SITE)
        h.ingest(samples)


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}")
def test_the_live_page_follows_the_plant_within_a_second(browser: Any, tmp_path: Path) -> None:
    expect = pytest.importorskip("playwright.sync_api").expect
    home = tmp_path / "server"
    home.mkdir()
    _seed(home, dt.datetime.now(dt.UTC))
    with ServerProcess(home, admin_password=PASSWORD) as server:
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        page.set_default_timeout(20_000)
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(f"{server.base}/live?site={SITE}&minutes=5&tag={TT}")
        expect(page).to_have_url(re.compile(r"/login\?next="))
        page.get_by_label("User name").fill("admin")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_test_id("nav-drawer")).to_contain_text("Live")

        tile = page.get_by_test_id("unit-tile-BR-01")
        expect(tile).to_contain_text("producing")
        expect(tile).to_contain_text("B-0042 · production/culture")
        expect(page.locator("[data-testid^=unit-tile-]")).to_have_count(29)
        expect(page.get_by_test_id("unit-tile-MX-01")).to_contain_text(HOSTILE)
        expect(page.get_by_test_id("live-legend")).to_contain_text("waiting upstream")
        expect(page.get_by_test_id("live-alarms")).to_contain_text("unit CH-01 is down")
        expect(page.get_by_test_id("live-status")).to_contain_text("9 plant events")
        plot = page.get_by_test_id("live-trend")
        page.wait_for_function(
            "el => el.data && el.data[0] && el.data[0].y.length > 100", arg=plot.element_handle()
        )

        # The hostile tag is offered as text and can be trended.
        page.get_by_test_id("live-trend-tags").click()
        page.get_by_role("option", name=re.compile(re.escape(HOSTILE[:12]))).click()
        page.keyboard.press("Escape")
        page.wait_for_function(
            "el => el.data && el.data.length == 2 && el.data[1].y.length > 100",
            arg=plot.element_handle(),
        )

        # While the page is open: a state change and a sample, stored as the subscriber would.
        with open_historian(path=home / "historian.sqlite") as h:
            now = dt.datetime.now(dt.UTC)
            stored = time.monotonic()
            h.ingest_events(
                [PlantEvent(now, "state", "BR-01", "down", detail="agitator trip",
                            source="edge-test", seq=100)],
                site=SITE,
            )  # fmt: skip
            h.ingest([Sample(TT, to_us(now), 123.25, seq=99_999, source="edge-test")])
        state = page.get_by_test_id("unit-state-BR-01")
        expect(state).to_have_text("down", timeout=2_000)
        seen_state = time.monotonic() - stored
        page.wait_for_function(
            "el => el.data[0].y[el.data[0].y.length - 1] === 123.25",
            arg=plot.element_handle(),
            timeout=2_000,
        )
        seen_trend = time.monotonic() - stored
        assert tile.get_attribute("data-state") == "down"
        expect(page.get_by_test_id("live-alarms")).to_contain_text("unit BR-01 is down")
        print(f"state seen after {seen_state:.2f} s, sample after {seen_trend:.2f} s")

        page.set_viewport_size({"width": 1500, "height": 2300})
        page.wait_for_timeout(800)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "live_page.png"))
        shutil.copy(SCREENSHOTS / "live_page.png", "/tmp/live_page.png")

        # The Dashboard shows the same plant's KPIs from the live event log.
        page.goto(f"{server.base}/?site={SITE}")
        expect(page.get_by_test_id("live-kpi-caption")).to_contain_text("Live plant")
        expect(page.get_by_test_id("kpi-oee").first).to_contain_text("live")
        page.screenshot(path=str(SCREENSHOTS / "dashboard_live.png"))

        # A site without events yet says how to feed the historian.
        page.goto(f"{server.base}/live?site=mrna-vaccine")
        expect(page.get_by_test_id("live-hint")).to_contain_text("phactory mqtt ingest")
        expect(page.get_by_test_id("live-trend-note")).to_contain_text(
            "No tags of this site in the historian"
        )
        expect(page.get_by_test_id("live-no-alarms")).to_be_visible()
        page.screenshot(path=str(SCREENSHOTS / "live_page_empty.png"))
        assert dialogs == []  # hostile names were shown as text, never run


# ---------------------------------------------------------------------------- no browser
def test_tile_text_is_black_or_white_whichever_reads_better() -> None:
    from phactory.app.ui.charts import STATE_COLOURS
    from phactory.app.ui.pages.live import text_colour

    assert text_colour("#ffffff") == "#111111" and text_colour("#000000") == "#ffffff"
    assert text_colour(STATE_COLOURS["idle"]) == "#111111"
    assert text_colour(STATE_COLOURS["down"]) == "#ffffff"


def test_times_are_shown_in_site_time() -> None:
    from zoneinfo import ZoneInfo

    from phactory.app.ui.pages.live import since_text

    zone = ZoneInfo("Europe/Dublin")
    t = dt.datetime(2027, 7, 1, 7, 5, 12, tzinfo=dt.UTC)
    assert since_text(t, zone, t + dt.timedelta(hours=1)) == "since 08:05:12"
    assert since_text(t, zone, t + dt.timedelta(days=2)) == "since 2027-07-01 08:05"
    assert since_text(None, zone, t) == "no report yet"


def test_the_trend_figure_shows_hostile_tag_names_as_text() -> None:
    from zoneinfo import ZoneInfo

    import pandas as pd

    from phactory.app.services.live import TrendBuffer, TrendTag
    from phactory.app.ui.pages.live import trend_figure
    from phactory.app.ui.safety import safe_figure

    now = dt.datetime(2027, 1, 4, 8, 0, tzinfo=dt.UTC)
    buffer = TrendBuffer([PH], dt.timedelta(minutes=5))
    frame = pd.DataFrame({"time": pd.to_datetime([now], utc=True), "tag": [PH], "value": [7.1]})
    buffer.merge(frame, now)
    figure = safe_figure(
        trend_figure(buffer, {PH: TrendTag(PH, "<b>pH</b>", "")}, ZoneInfo("UTC"), now)
    )
    [trace] = figure["data"]
    assert "<" not in trace["name"] and "&lt;img" in trace["name"] and "&lt;b&gt;" in trace["name"]
    assert trace["y"] == [7.1] and trace["x"] == ["2027-01-04T08:00:00.000"]
    assert figure["layout"]["xaxis"]["range"] == [
        "2027-01-04T07:55:00.000",
        "2027-01-04T08:00:00.000",
    ]
