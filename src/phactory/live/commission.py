"""Virtual commissioning: the plan run live on the controllers against the twin's
prediction of it, KPI by KPI.

:func:`commission` executes the site's plan on its controllers and virtual plant through
the batch engine (:mod:`phactory.live.execution`), reads the batch record as the live
event log, runs the twin on the same plan and seed, and computes both sides' KPIs with the
same code (:func:`phactory.kpi.compute`). Each KPI's difference is
``(live - twin) / |twin|``; a difference over :data:`TOLERANCE` is traced to the named
modelling differences between the twin and the live plant that account for it.

Tracing a difference
--------------------
The two event logs tile the same horizon with the same ISO 22400 states, so where the
plants spend their time differently shows in the hours per state, summed over units.
Each state is owned by one modelling difference (:data:`CAUSES`): breakdowns are sampled
by the twin only, cleaning after each batch is the twin's equipment rule while live only
the recipe's phases run, and so on. A cause is named for a KPI when its state's hours
differ by more than :data:`MATERIAL` of the units' total hours; phase durations (the
twin's distributions against the controllers' physics) are compared per phase. The
report lists every cause with its hours on both sides, so the trace can be checked.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from phactory.events import EventLog
    from phactory.model import Site

__all__ = ["CAUSES", "KPIS", "CommissionReport", "KpiParity", "commission"]

#: The KPIs compared (site KPIs of :mod:`phactory.kpi`).
KPIS: Final[tuple[str, ...]] = (
    "throughput_per_day",
    "batches_completed",
    "oee",
    "availability",
    "cycle_time_h",
    "utilisation",
)
#: A difference larger than this (a fraction) needs a cause.
TOLERANCE: Final[float] = 0.02
#: A state's hours differ materially when by more than this share of all unit hours.
MATERIAL: Final[float] = 0.005

#: The modelling difference behind each ISO 22400 state's hours.
CAUSES: Final[dict[str, str]] = {
    "down": (
        "equipment failures: the twin samples breakdowns and repairs from each class's "
        "MTBF/MTTR; the virtual plant fails only where a fault is injected"
    ),
    "planned_down": "planned maintenance: the twin follows the maintenance calendar; "
    "live execution schedules none",
    "cleaning": (
        "cleaning: the twin cleans a unit after every batch by its class's CIP/SIP rule; "
        "live, only the recipe's own cleaning phases run"
    ),
    "setup": "changeovers: the twin models product changeover setups; live has none",
    "waiting_labour": (
        "labour: the twin's phases wait for qualified people on shift; the simulated "
        "operators are always there"
    ),
    "waiting_upstream": (
        "unit claiming: the twin claims units ahead of need and runs linked unit "
        "procedures side by side; the batch engine allocates a unit when its procedure "
        "starts and runs the procedures in recipe order"
    ),
    "blocked": "blocking: not modelled by the twin",
    "idle": (
        "idle time: the mirror of the states above (a unit not claimed by a batch is "
        "idle), and of batches released but not started for want of a unit"
    ),
    "producing": (
        "phase durations: the twin samples each phase's duration distribution; on the "
        "controllers a phase lasts as long as its logic and the plant's physics take"
    ),
}
#: The causes of producing hours that differ by the amount of work started in the
#: horizon rather than by its duration (the split of the producing hours), by whether the
#: live plant did more or less of it.
WORK_STARTED: Final[dict[str, str]] = {
    "more": (
        "more work started live: the batch engine starts a released batch's next phase as "
        "soon as its unit is free and the simulated operators are always there, while the "
        "twin's phases wait for crews on shift and for its dispatching"
    ),
    "less": (
        "less work started live: the batch engine runs a batch's unit procedures one after "
        "the other in recipe order, while the twin runs linked unit procedures side by side "
        "and claims units ahead of need"
    ),
}


_LOSSES = ("down", "planned_down", "cleaning", "setup", "waiting_labour", "waiting_upstream")
#: The states whose hours a KPI depends on (ISO 22400-2 time elements).
RELEVANT: Final[dict[str, tuple[str, ...]]] = {
    "availability": _LOSSES,
    "oee": ("producing", *_LOSSES),
    "utilisation": ("producing",),
    "cycle_time_h": ("producing", "waiting_labour", "waiting_upstream", "down", "cleaning"),
    "throughput_per_day": ("producing", *_LOSSES),
    "batches_completed": ("producing", *_LOSSES),
}


@dataclass(frozen=True, slots=True)
class KpiParity:
    """One KPI from the twin and from the live plant."""

    name: str
    twin: float
    live: float
    diff_pct: float | None
    cause: str | None


@dataclass(frozen=True, slots=True)
class StateHours:
    """Hours in one state, summed over units, on both sides."""

    state: str
    twin_h: float
    live_h: float


@dataclass(frozen=True, slots=True)
class PhaseHours:
    """Mean hours a recipe phase ran (producing or cleaning) per batch, on both sides;
    runs cut by the horizon are left out."""

    procedure: str
    phase: str
    twin_h: float
    live_h: float
    twin_n: int
    live_n: int

    @property
    def diff_pct(self) -> float | None:
        """``(live - twin) / twin`` [%]; ``None`` without a twin time."""
        return None if self.twin_h <= 0 else 100.0 * (self.live_h - self.twin_h) / self.twin_h


@dataclass(frozen=True, slots=True)
class ProducingSplit:
    """The difference of producing hours (live - twin) split into what the durations of
    the phases account for (``sum((live mean - twin mean) * live runs)`` over the phases
    both ran to completion) and the rest, the amount of work done in the horizon."""

    twin_runs: int
    live_runs: int
    durations_h: float
    work_h: float


@dataclass(slots=True)
class CommissionReport:
    """The parity of the live plant with the twin over one plan."""

    site: str
    days: float
    seed: int
    kpis: list[KpiParity]
    states: list[StateHours]
    phases: list[PhaseHours]
    split: ProducingSplit
    batches_started: int
    live_wall_s: float
    twin_wall_s: float
    live: EventLog
    twin: EventLog

    def to_json(self) -> dict[str, object]:
        """``{"kpis": {NAME: {"twin", "live", "diff_pct", "cause"}}, ...}``."""
        return {
            "site": self.site,
            "days": self.days,
            "seed": self.seed,
            "kpis": {
                k.name: {
                    "twin": k.twin,
                    "live": k.live,
                    "diff_pct": k.diff_pct,
                    "cause": k.cause,
                }
                for k in self.kpis
            },
            "state_hours": {s.state: {"twin": s.twin_h, "live": s.live_h} for s in self.states},
            "phase_hours": [
                {
                    "procedure": p.procedure,
                    "phase": p.phase,
                    "twin_h": p.twin_h,
                    "live_h": p.live_h,
                    "twin_n": p.twin_n,
                    "live_n": p.live_n,
                    "diff_pct": p.diff_pct,
                }
                for p in self.phases
            ],
            "producing_split": {
                "twin_runs": self.split.twin_runs,
                "live_runs": self.split.live_runs,
                "durations_h": self.split.durations_h,
                "work_started_h": self.split.work_h,
            },
            "batches_started": self.batches_started,
            "wall_s": {"live": self.live_wall_s, "twin": self.twin_wall_s},
        }


def commission(
    site: Site,
    days: float,
    *,
    seed: int = 0,
    workdir: Path,
    progress: Callable[[float, float], None] | None = None,
) -> CommissionReport:
    """Run ``site``'s plan live on its controllers and in the twin; compare their KPIs.

    Parameters
    ----------
    site
        The site with its plan.
    days
        Horizon [d] of both runs.
    seed
        The twin's seed, the live plant's sensor noise and its batches' seeds.
    workdir
        Folder of the live run's batch record.
    progress
        Called with (plant hours reached, horizon hours) during the live run.
    """
    import datetime as dt
    import time

    from phactory.kpi import compute
    from phactory.live.execution import run_plan_on_controllers
    from phactory.live.kpis import live_kpis
    from phactory.twin import simulate

    run = run_plan_on_controllers(site, days, seed=seed, workdir=workdir, progress=progress)
    end = run.epoch + dt.timedelta(hours=run.horizon_h)
    live = live_kpis(site, run.events, run.epoch, end)
    t0 = time.perf_counter()
    twin_log = simulate(site, days=days, seed=seed)
    twin = compute(twin_log, site)
    twin_wall = time.perf_counter() - t0
    states = _state_hours(twin_log, live.log)
    phases = _phase_hours(twin_log, live.log)
    split = _producing_split(twin_log, live.log, states, phases)
    total_h = run.horizon_h * max(len(site.units), 1)
    kpis = [
        _parity(
            name,
            twin.site.get(name, math.nan),
            live.result.site.get(name, math.nan),
            states,
            total_h,
            phases,
            split,
        )
        for name in KPIS
    ]
    return CommissionReport(
        site=site.id,
        days=days,
        seed=seed,
        kpis=kpis,
        states=states,
        phases=phases,
        split=split,
        batches_started=run.batches_started,
        live_wall_s=run.wall_s,
        twin_wall_s=twin_wall,
        live=live.log,
        twin=twin_log,
    )


def _working_runs(log: EventLog) -> int:
    """Phase runs (batch, procedure, phase) that worked in the horizon."""
    tl = log.timeline
    work = tl[tl["state"].isin(("producing", "cleaning")) & (tl["phase"] != "")]
    return len(work.drop_duplicates(["batch", "procedure", "phase"]))


def _producing_split(
    twin: EventLog, live: EventLog, states: list[StateHours], phases: list[PhaseHours]
) -> ProducingSplit:
    producing = next(s for s in states if s.state == "producing")
    durations = sum((p.live_h - p.twin_h) * p.live_n for p in phases)
    return ProducingSplit(
        _working_runs(twin),
        _working_runs(live),
        durations,
        (producing.live_h - producing.twin_h) - durations,
    )


def _producing_cause(s: StateHours, split: ProducingSplit, phases: list[PhaseHours]) -> str:
    """The producing hours' causes: the work started and the phases' durations, the
    larger share first, the smaller only where it is material too; both in hours."""
    numbers = (
        f"producing: twin {s.twin_h:,.0f} h, live {s.live_h:,.0f} h, of which "
        f"{split.work_h:+,.0f} h from the work started (phase runs: twin {split.twin_runs}, "
        f"live {split.live_runs}) and {split.durations_h:+,.0f} h from phase durations"
    )
    work = WORK_STARTED["more" if split.work_h > 0 else "less"]
    durations = CAUSES["producing"] + _phase_note(phases)
    shares = sorted(
        ((split.work_h, work), (split.durations_h, durations)), key=lambda x: -abs(x[0])
    )
    named = [text for hours, text in shares if abs(hours) > MATERIAL * max(s.twin_h, 1.0)]
    return "; ".join(named or [shares[0][1]]) + f" ({numbers})"


def _phase_note(phases: list[PhaseHours], top: int = 3) -> str:
    """The phases whose mean durations differ most, for a ``producing`` cause."""
    ranked = sorted(
        (p for p in phases if p.diff_pct is not None and abs(p.diff_pct) > 100 * TOLERANCE),
        key=lambda p: -abs(p.live_h - p.twin_h) * min(p.twin_n, p.live_n),
    )[:top]
    if not ranked:
        return ""
    return (
        " (most of all "
        + ", ".join(
            f"{p.procedure}/{p.phase}: {p.twin_h:,.1f} h in the twin, {p.live_h:,.1f} h live"
            for p in ranked
        )
        + ")"
    )


def _state_hours(twin: EventLog, live: EventLog) -> list[StateHours]:
    from phactory.events import STATES

    a, b = twin.state_hours().sum(), live.state_hours().sum()
    return [StateHours(s, float(a.get(s, 0.0)), float(b.get(s, 0.0))) for s in STATES]


def _phase_hours(twin: EventLog, live: EventLog) -> list[PhaseHours]:
    """Mean hours per batch of each recipe phase, from the working intervals of the
    timelines (producing or cleaning), runs cut by the horizon left out."""

    def means(log: EventLog) -> dict[tuple[str, str], tuple[float, int]]:
        tl = log.timeline
        work = tl[tl["state"].isin(("producing", "cleaning")) & (tl["phase"] != "")]
        if work.empty:
            return {}
        runs = (
            work.assign(hours=work["end_h"] - work["start_h"])
            .groupby(["batch", "procedure", "phase"])
            .agg(hours=("hours", "sum"), end=("end_h", "max"))
        )
        runs = runs[runs["end"] < log.horizon_h - 1e-9]
        per = runs.groupby(level=["procedure", "phase"])["hours"].agg(["mean", "count"])
        return {
            (str(proc), str(phase)): (float(m), int(n))
            for (proc, phase), m, n in zip(per.index, per["mean"], per["count"], strict=True)
        }

    a, b = means(twin), means(live)
    return [
        PhaseHours(
            proc,
            phase,
            a[(proc, phase)][0],
            b[(proc, phase)][0],
            a[(proc, phase)][1],
            b[(proc, phase)][1],
        )
        for proc, phase in sorted(a.keys() & b.keys())
    ]


def _parity(
    name: str,
    twin: float,
    live: float,
    states: list[StateHours],
    total_h: float,
    phases: list[PhaseHours],
    split: ProducingSplit,
) -> KpiParity:
    if math.isnan(twin) or math.isnan(live):
        diff = None
    elif twin == 0:
        diff = 0.0 if live == 0 else math.copysign(math.inf, live)
    else:
        diff = 100.0 * (live - twin) / abs(twin)
    if diff is None or abs(diff) <= 100.0 * TOLERANCE:
        return KpiParity(name, twin, live, None if diff is None or math.isinf(diff) else diff,
                         None)  # fmt: skip
    relevant = RELEVANT.get(name, tuple(CAUSES))
    material = sorted(
        (
            s
            for s in states
            if s.state in relevant and abs(s.live_h - s.twin_h) > MATERIAL * total_h
        ),
        key=lambda s: -abs(s.live_h - s.twin_h),
    )
    if material:
        cause = "; ".join(
            _producing_cause(s, split, phases)
            if s.state == "producing"
            else f"{CAUSES[s.state]} ({s.state}: twin {s.twin_h:,.0f} h, live {s.live_h:,.0f} h)"
            for s in material
        )
    else:
        cause = (
            "no state's hours differ materially: the difference comes from which batches "
            "end inside the horizon (few batches: one batch more or less is a large share)"
        )
    return KpiParity(name, twin, live, None if math.isinf(diff) else diff, cause)
