"""The production plan executed by the batch engine on the site's controllers and virtual
plant, in simulated time: the live half of virtual commissioning.

One thread drives everything, deterministically:

- the plant (:class:`~phactory.control.site.SitePlant`) runs in simulated time only when
  the loop advances it (:meth:`SitePlant.advance`), so no wall time is plant time;
- the batch record's clock **is** the plant clock (``epoch + plant seconds``): every
  record entry, and so every live event, is stamped in plant time, and the engine's hold
  times and lags (time scale 1 against that clock) are plant hours;
- batches are created and started at their orders' release times, named as the twin
  names them (:meth:`phactory.model.Site.batch_ids`);
- the engine's automatic phases run on the controllers through the same driver as over
  OPC UA (:class:`~phactory.connect.phase_driver.ControllerDrivers`, here on the plant
  in process); manual phases are performed and signed by simulated operators
  (:class:`~phactory.batch.SimulatedOperator`, accounts made for the run) once the
  phase's planned duration of plant time has passed since it became ready, as people
  would take it;
- between engine steps the plant advances to the next thing due (a release, a manual
  step's end) or until a phase changes state, whichever comes first.

The result is the batch record of the run, read as plant events
(:class:`~phactory.batch.plant_events.RecordEventFeed`).
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from phactory.events import PlantEvent

if TYPE_CHECKING:
    from phactory.batch import BatchEngine, SimulatedOperator
    from phactory.control.site import SitePlant
    from phactory.model import Site
    from phactory.records import RecordService, UserSession

__all__ = ["LiveRun", "run_plan_on_controllers"]

_H = 3600.0
#: Longest stretch of plant time advanced between two looks at the batches [s].
MAX_STEP_S = 6 * _H
#: Plant time between two looks at the phases' states while the plant advances [s].
LOOK_S = 60.0
#: Scan period of the controllers in commissioning. The plant's dynamics are minutes
#: (jacket temperatures) to days (cell growth), far slower than a 10 s scan; the KPIs of
#: a 10 s and a 100 ms run have not been compared side by side. Three plant days of
#: mab-biologics took 7 s of wall time at 10 s against 150-168 s at the live plant's
#: 100 ms (2 cores, 2026-12-07).
DEFAULT_SCAN = "10 s"


@dataclass(slots=True)
class LiveRun:
    """What the live execution of a plan produced."""

    epoch: dt.datetime
    horizon_h: float
    events: list[PlantEvent]
    batches_started: int
    wall_s: float


@dataclass(slots=True)
class _Release:
    t_h: float
    order_id: str
    batch_id: str


def run_plan_on_controllers(
    site: Site,
    days: float,
    *,
    seed: int = 0,
    workdir: Path,
    scan_period: str = DEFAULT_SCAN,
    progress: Callable[[float, float], None] | None = None,
) -> LiveRun:
    """Execute the site's plan for ``days`` on its controllers and virtual plant.

    Parameters
    ----------
    site
        The site with its plan.
    days
        Horizon [d].
    seed
        Sensor noise and every batch's seed.
    workdir
        Folder of the run's batch record (``record.sqlite``).
    scan_period
        Scan period of every controller (default :data:`DEFAULT_SCAN`).
    progress
        Called with (plant hours reached, horizon hours).
    """
    from phactory.batch import BatchEngine, SimulatedOperator
    from phactory.batch.plant_events import RecordEventFeed
    from phactory.connect.phase_driver import ControllerDrivers
    from phactory.control.site import SitePlant
    from phactory.records import RecordService, default_hasher

    wall0 = time.perf_counter()
    horizon_h = days * 24.0
    epoch = site.epoch
    plant = SitePlant(site, seed=seed, scan_period=scan_period)

    def clock() -> dt.datetime:
        return epoch + dt.timedelta(seconds=plant.now_s)

    workdir.mkdir(parents=True, exist_ok=True)
    records = RecordService(
        f"sqlite:///{workdir / 'record.sqlite'}", hasher=default_hasher(fast=True), clock=clock
    )
    try:
        people = _accounts(records, site)
        operator = SimulatedOperator(
            people["performer"][0], people["performer"][1],
            people["verifier"][0], people["verifier"][1],
        )  # fmt: skip
        engine = BatchEngine(records, time_scale=1.0, driver=ControllerDrivers(plant), tick_s=0.0)
        releases = _releases(site, horizon_h)
        started: list[str] = []
        active: list[str] = []  # started and not finished
        ready_at: dict[tuple[str, str], float] = {}
        while True:
            now_h = plant.now_s / _H
            while releases and releases[0].t_h <= now_h + 1e-9:
                r = releases.pop(0)
                info = engine.lifecycle.create_batch(
                    people["supervisor"][0], site, batch_id=r.batch_id,
                    order_id=r.order_id, seed=seed,
                )  # fmt: skip
                engine.lifecycle.command(people["supervisor"][0], info.batch_id, "Start")
                started.append(info.batch_id)
                active.append(info.batch_id)
            due_h = _step_batches(engine, active, operator, ready_at, now_h)
            if progress is not None:
                progress(min(now_h, horizon_h), horizon_h)
            if now_h >= horizon_h - 1e-9:
                break
            wake_h = min([horizon_h, *(r.t_h for r in releases[:1]), *due_h])
            step_s = min(max(wake_h * _H - plant.now_s, 1.0), MAX_STEP_S)
            _advance(plant, step_s)
        events, _ = RecordEventFeed(records).read()
    finally:
        records.close()
        plant.close()
    return LiveRun(
        epoch=epoch,
        horizon_h=horizon_h,
        events=events,
        batches_started=len(started),
        wall_s=time.perf_counter() - wall0,
    )


def _advance(plant: SitePlant, seconds: float) -> None:
    """Advance the plant ``seconds``, or until a phase changes state (looked at every
    :data:`LOOK_S` of plant time: a phase's end is seen that late at most)."""
    before = _phase_states(plant)
    end = plant.now_s + seconds
    while plant.now_s < end - 1e-9:
        plant.advance(min(LOOK_S, end - plant.now_s))
        if _phase_states(plant) != before:
            return


def _phase_states(plant: SitePlant) -> tuple[object, ...]:
    return tuple(plant.phase_state(ref) for ref in plant.phases())


def _step_batches(
    engine: BatchEngine,
    batches: list[str],
    operator: SimulatedOperator,
    ready_at: dict[tuple[str, str], float],
    now_h: float,
) -> list[float]:
    """Tick every batch of ``batches`` until none progresses, removing those that finish;
    return when manual steps are due [plant h]."""
    from phactory.batch.states import State

    due: list[float] = []
    progressed = True
    while progressed:
        progressed = False
        due = []
        for batch_id in list(batches):
            status = engine.runner.status(batch_id)
            if status.finished:
                batches.remove(batch_id)
                continue
            step = status.current
            use_operator: SimulatedOperator | None = None
            if step is not None and step.kind == "manual" and State(step.state) is State.RUNNING:
                key = (batch_id, step.step)
                start = ready_at.setdefault(key, now_h)
                phase = engine.context.phase(batch_id, step.step)
                end = start + phase.duration_h
                if now_h + 1e-9 >= end:
                    use_operator = operator
                else:
                    due.append(end)
            result = engine.runner.tick(batch_id, operator=use_operator)
            progressed = progressed or result.progressed
    return due


def _releases(site: Site, horizon_h: float) -> list[_Release]:
    out: list[_Release] = []
    for order in site.orders:
        t_h = site.release_hours(order)
        if t_h >= horizon_h:  # as the twin: released at the end, never started
            continue
        out.extend(_Release(t_h, order.id, b) for b in site.batch_ids(order))
    out.sort(key=lambda r: (r.t_h, r.order_id, r.batch_id))
    return out


def _accounts(r: RecordService, site: Site) -> dict[str, tuple[UserSession, str]]:
    """Accounts made for this run only: a supervisor and two simulated operators with
    every skill of the site."""
    skills = tuple(sorted({s for team in site.teams.values() for s in team.skills}))
    admin_pw = secrets.token_urlsafe(16)
    r.accounts.bootstrap_admin("commission-admin", "Commissioning admin", admin_pw)
    admin = r.accounts.login("commission-admin", admin_pw)
    out: dict[str, tuple[UserSession, str]] = {}
    for user, role in (
        ("supervisor", "supervisor"),
        ("performer", "operator"),
        ("verifier", "operator"),
    ):
        pw = secrets.token_urlsafe(16)
        r.accounts.create_user(admin, f"sim-{user}", f"Simulated {user}", role, pw, skills=skills)
        out[user] = (r.accounts.login(f"sim-{user}", pw), pw)
    return out
