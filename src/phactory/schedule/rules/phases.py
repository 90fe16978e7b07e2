"""Rules about the phases inside each unit procedure: sequence, durations, pauses, crews."""

from __future__ import annotations

import itertools
from collections import defaultdict

from phactory.model.distribution import planned_hours
from phactory.schedule.check_context import CheckContext, Expected, OpRow, SegRow
from phactory.schedule.schedule import parse_crew
from phactory.schedule.violations import Violation, ViolationKind

__all__ = ["ContinuousPhases", "PhaseCrews", "PhaseDurations", "PhaseSequence"]


def _operations(ctx: CheckContext) -> list[tuple[OpRow, Expected, dict[str, list[SegRow]]]]:
    """``(row, expected unit procedure, segments by phase)`` of each scheduled one."""
    by = ctx.phase_segments
    return [(r, ctx.expected[k], by.get(k, {})) for k, r in ctx.rows.items()]


class PhaseSequence:
    """Every phase of the recipe is scheduled, in recipe order, on the procedure's unit.

    The unit procedure spans its phases (its start is the first phase's start, its end
    the last phase's end), segments do not overlap, and no segment names a phase the
    unit procedure does not have.
    """

    name = "phase-sequence"
    kinds: tuple[ViolationKind, ...] = (
        "missing-phase",
        "unknown-phase",
        "phase-unit",
        "phase-order",
    )

    def check(self, ctx: CheckContext) -> list[Violation]:
        """Missing, unknown, misplaced and out-of-order phases."""
        out: list[Violation] = []
        tol = ctx.tol
        for r, exp, mine in _operations(ctx):
            b, p, u = r.batch, r.procedure, r.unit
            phases = exp.phases
            names = {n for n, _ in phases}
            segs = ctx.segments.get(r.key, [])
            for sg in segs:
                if sg.phase not in names:
                    out.append(
                        Violation("unknown-phase", f"{b}/{p}: unknown phase {sg.phase!r}", b, p, u)
                    )
                if sg.unit != u:
                    out.append(
                        Violation(
                            "phase-unit",
                            f"{b}/{p}: a segment is on {sg.unit} but the procedure on {u}",
                            b,
                            p,
                            u,
                        )
                    )
            if segs:
                first, last = segs[0].start_h, max(sg.end_h for sg in segs)
                if abs(first - r.start_h) > tol or abs(last - r.end_h) > tol:
                    out.append(
                        Violation(
                            "phase-order",
                            f"{b}/{p} runs {r.start_h:.2f}-{r.end_h:.2f} h but its phases run "
                            f"{first:.2f}-{last:.2f} h",
                            b,
                            p,
                            u,
                            r.start_h,
                        )
                    )
            for sa, sb in itertools.pairwise(segs):
                if sb.start_h < sa.end_h - tol:
                    out.append(
                        Violation(
                            "phase-order",
                            f"{b}/{p}: phase segments overlap at {ctx.when(sb.start_h)}",
                            b,
                            p,
                            u,
                            sb.start_h,
                        )
                    )
            prev_end = -float("inf")
            for name, _ph in phases:
                got = mine.get(name)
                if not got:
                    out.append(
                        Violation(
                            "missing-phase", f"{b}/{p}: phase {name!r} is not scheduled", b, p, u
                        )
                    )
                    continue
                if got[0].start_h < prev_end - tol:
                    out.append(
                        Violation(
                            "phase-order",
                            f"{b}/{p}: phase {name!r} starts before the previous phase ends",
                            b,
                            p,
                            u,
                            got[0].start_h,
                        )
                    )
                prev_end = max(sg.end_h for sg in got)
        return out


class PhaseDurations:
    """Each phase is worked for its planned duration, up to the schedule's time grain.

    The planned duration is the recipe's mean, or the schedule's duration quantile of
    the phase's distribution; the scheduler rounds it up to its grain, so a phase may
    run up to one grain longer.
    """

    name = "phase-durations"
    kinds: tuple[ViolationKind, ...] = ("duration",)

    def check(self, ctx: CheckContext) -> list[Violation]:
        """A violation per phase worked too short or too long."""
        out: list[Violation] = []
        tol, grain, q = ctx.tol, ctx.schedule.grain_h, ctx.schedule.duration_quantile
        basis = "recipe mean" if q is None else f"P{100 * q:g} planned duration"
        for r, exp, mine in _operations(ctx):
            for name, ph in exp.phases:
                got = mine.get(name)
                if not got:
                    continue
                worked = sum(sg.end_h - sg.start_h for sg in got)
                plan = planned_hours(ph.duration, q)
                if worked < plan - tol or worked > plan + grain + tol:
                    out.append(
                        Violation(
                            "duration",
                            f"{r.batch}/{r.procedure}: phase {name!r} runs {worked:g} h, its "
                            f"{basis} is {plan:g} h (grain {grain:g} h)",
                            r.batch,
                            r.procedure,
                            r.unit,
                            got[0].start_h,
                        )
                    )
        return out


class ContinuousPhases:
    """A continuous phase runs without pause, unless its unit breaks down under it."""

    name = "continuous-phases"
    kinds: tuple[ViolationKind, ...] = ("continuity",)

    def check(self, ctx: CheckContext) -> list[Violation]:
        """A violation per pause of a continuous phase not covered by a breakdown."""
        out: list[Violation] = []
        tol = ctx.tol
        for r, exp, mine in _operations(ctx):
            down = ctx.downtime.get(r.unit, [])
            for name, ph in exp.phases:
                if not ph.continuous:
                    continue
                for sa, sb in itertools.pairwise(mine.get(name, [])):
                    g0, g1 = sa.end_h, sb.start_h
                    if g1 - g0 > tol and not any(
                        d0 <= g0 + tol and d1 >= g1 - tol for d0, d1, _ in down
                    ):
                        out.append(
                            Violation(
                                "continuity",
                                f"{r.batch}/{r.procedure}: continuous phase {name!r} pauses "
                                f"{g1 - g0:g} h from {ctx.when(g0)}",
                                r.batch,
                                r.procedure,
                                r.unit,
                                g0,
                            )
                        )
        return out


class PhaseCrews:
    """Each phase holds the people its recipe asks for while its labour portion lasts.

    A requirement of scope ``phase`` lasts the whole phase; one of scope ``setup``
    lasts its set-up time from the start of the phase's work, counted along the
    phase's segments (a paused phase resumes its set-up where it stopped).
    """

    name = "phase-crews"
    kinds: tuple[ViolationKind, ...] = ("crew",)

    def check(self, ctx: CheckContext) -> list[Violation]:
        """A violation per segment short of people, and per unreadable crew text."""
        out: list[Violation] = []
        tol, q = ctx.tol, ctx.schedule.duration_quantile
        for r, exp, mine in _operations(ctx):
            b, p, u = r.batch, r.procedure, r.unit
            for name, ph in exp.phases:
                plan = planned_hours(ph.duration, q)
                progress = 0.0
                for sg in mine.get(name, []):
                    try:
                        crew = dict(parse_crew(sg.crew))
                    except ValueError as exc:
                        out.append(Violation("crew", f"{b}/{p}: {exc}", b, p, u, sg.start_h))
                        crew = {}
                    need: dict[str, int] = defaultdict(int)
                    for lab in ph.labour:
                        portion = plan
                        if lab.scope == "setup" and lab.setup is not None:
                            portion = min(lab.setup, plan)
                        if progress < portion - tol:
                            need[lab.skill] += lab.count
                    for skill, n in need.items():
                        if crew.get(skill, 0) < n:
                            out.append(
                                Violation(
                                    "crew",
                                    f"{b}/{p}: phase {name!r} needs {skill} x{n} from "
                                    f"{ctx.when(sg.start_h)} but the schedule holds "
                                    f"x{crew.get(skill, 0)}",
                                    b,
                                    p,
                                    u,
                                    sg.start_h,
                                )
                            )
                    progress += sg.end_h - sg.start_h
        return out
