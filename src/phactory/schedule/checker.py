"""An independent schedule checker: every constraint, recomputed from the site.

The checker shares no code with the model builder or the heuristic: it reads the site
(recipes, equipment, teams, shift patterns, calendar) and a :class:`Schedule` and
recomputes everything it needs in its own way — phase durations from the recipes,
staffed time by walking the calendar day by day, maintenance windows, changeover rules,
and the feasibility of crews by a maximum flow of people from teams on duty to the
skills needed at each moment [1]_. It lists every violation as a typed record with a
message in words.

Checked
-------
* each unit procedure of each batch of the scheduled orders exactly once, on an existing
  unit of the right equipment class (``missing``, ``duplicate``, ``unknown``,
  ``wrong-class``);
* phases in recipe order, each running its mean duration (up to the schedule's time
  grain, durations being rounded up to it), a continuous phase without pause, the
  operation spanning its phases (``duration``, ``phase-order``, ``continuity``);
* on each unit, no two operations overlapping, and between them the cleaning of the
  first and the product changeover (most specific rule) (``overlap``, ``cleaning``,
  ``changeover``); no processing, cleaning or changeover in a maintenance window
  (``maintenance``; operations marked ``frozen`` by a reschedule are facts and defer
  the maintenance instead), no processing in a breakdown (``downtime``);
* links between unit procedures with their minimum and maximum time lags
  (``precedence``, ``max-lag``); release dates (``release``); due dates when the
  schedule treats them as deadlines (``deadline``);
* crews: the labour portion of every phase held by the people its recipe asks for
  (``crew``), and at every moment the people held coverable by the teams on shift, with
  holidays off for teams that do not work them (``labour``).

Tolerances: times agree within ``tol_h`` (1e-6 h by default).

References
----------
.. [1] L. R. Ford, D. R. Fulkerson (1956). Maximal flow through a network. *Canadian
   Journal of Mathematics* 8, 399-404.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from phactory.model import Site
from phactory.model.distribution import planned_hours
from phactory.schedule.schedule import Schedule, parse_crew

__all__ = ["ScheduleViolationError", "Violation", "ViolationKind", "assert_valid", "check_schedule"]

ViolationKind = Literal[
    "missing",
    "duplicate",
    "unknown",
    "wrong-class",
    "duration",
    "phase-order",
    "continuity",
    "overlap",
    "cleaning",
    "changeover",
    "maintenance",
    "downtime",
    "precedence",
    "max-lag",
    "release",
    "deadline",
    "crew",
    "labour",
    "time",
]


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken constraint, with where and when [h from the epoch]."""

    kind: ViolationKind
    message: str
    batch: str | None = None
    procedure: str | None = None
    unit: str | None = None
    time_h: float | None = None

    def __str__(self) -> str:
        return f"[{self.kind}] {self.message}"


class ScheduleViolationError(AssertionError):
    """Raised by :func:`assert_valid`; ``violations`` holds the list."""

    def __init__(self, violations: list[Violation]) -> None:
        head = "\n".join(str(v) for v in violations[:20])
        more = f"\n... and {len(violations) - 20} more" if len(violations) > 20 else ""
        super().__init__(f"{len(violations)} schedule violation(s):\n{head}{more}")
        self.violations = violations


def assert_valid(site: Site, schedule: Schedule, **kw: Any) -> None:
    """Raise :class:`ScheduleViolationError` unless the schedule is valid."""
    found = check_schedule(site, schedule, **kw)
    if found:
        raise ScheduleViolationError(found)


# -- calendars, recomputed -----------------------------------------------------------


def _hours(site: Site, moment: dt.datetime) -> float:
    # Elapsed time: both ends in UTC (two datetimes sharing a tzinfo subtract as wall
    # clocks, which would make a daylight-saving day 24 h long).
    a = site.aware(moment).astimezone(dt.UTC)
    return (a - site.epoch.astimezone(dt.UTC)).total_seconds() / 3600.0


def _team_on_duty(site: Site, team_id: str, t0: float, t1: float) -> list[tuple[float, float]]:
    """Duty intervals of a team in [t0, t1], walking calendar days in local time."""
    team = site.teams[team_id]
    pattern = site.shift_patterns.get(team.shift_pattern)
    if pattern is None:
        return []
    names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    local0 = site.from_hours(t0).astimezone(site.zone).date() - dt.timedelta(days=2)
    local1 = site.from_hours(t1).astimezone(site.zone).date() + dt.timedelta(days=1)
    holidays = {h.date for h in site.calendar.holidays}
    spans: list[tuple[float, float]] = []
    day = local0
    while day <= local1:
        wd = names[day.weekday()]
        for sh in pattern.shifts:
            if wd not in sh.days:
                continue
            hh, mm = (int(x) for x in sh.start.split(":"))
            begin = dt.datetime.combine(day, dt.time(hh, mm))
            a = _hours(site, begin)
            pieces = [(a, a + sh.duration)]
            for br in sh.breaks:
                b0, b1 = a + br.start_after, a + br.start_after + br.duration
                pieces = [
                    q
                    for p0, p1 in pieces
                    for q in ((p0, min(p1, b0)), (max(p0, b1), p1))
                    if q[1] > q[0]
                ]
            spans.extend(pieces)
        day += dt.timedelta(days=1)
    if not team.works_holidays and holidays:
        cut: list[tuple[float, float]] = []
        for d in holidays:
            cut.append(
                (
                    _hours(site, dt.datetime.combine(d, dt.time())),
                    _hours(site, dt.datetime.combine(d + dt.timedelta(days=1), dt.time())),
                )
            )
        out: list[tuple[float, float]] = []
        for a, b in spans:
            parts = [(a, b)]
            for c0, c1 in cut:
                parts = [
                    q
                    for p0, p1 in parts
                    for q in ((p0, min(p1, c0)), (max(p0, c1), p1))
                    if q[1] > q[0]
                ]
            out.extend(parts)
        spans = out
    return sorted((a, b) for a, b in spans if b > t0 and a < t1)


def _maintenance(site: Site, until: float) -> dict[str, list[tuple[float, float, str]]]:
    out: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    for w in site.calendar.maintenance:
        a0 = _hours(site, site.aware(w.start))
        starts = [a0]
        if w.every is not None:
            k = 1
            while a0 + k * w.every < until:
                starts.append(a0 + k * w.every)
                k += 1
        for u in w.units:
            for a in starts:
                out[u].append((a, a + w.duration, w.reason or "planned maintenance"))
    return out


def _changeover(site: Site, cls: str, a: str, b: str) -> float:
    if a == b:
        return 0.0
    best_score, best = -1, 0.0
    for rule in site.changeovers:
        fields = (rule.equipment_class, rule.from_product, rule.to_product)
        if any(f != "*" and f != want for f, want in zip(fields, (cls, a, b), strict=True)):
            continue
        score = sum(f != "*" for f in fields)
        if score > best_score:
            best_score, best = score, rule.duration
    return best


def _max_flow_ok(need: dict[str, int], teams: list[tuple[str, int, frozenset[str]]]) -> bool:
    """Can teams (id, people, skills) cover the people needed per skill? (augmenting paths)"""
    skills = [s for s, n in need.items() if n > 0]
    if not skills:
        return True
    left = {s: need[s] for s in skills}
    cap = {t: n for t, n, _ in teams}
    flow: dict[tuple[str, str], int] = defaultdict(int)  # skill -> team
    skills_of = {t: sk for t, _, sk in teams}

    def augment() -> bool:
        # BFS from skills with unmet need to a team with spare people, allowing to
        # re-route people along (team -> skill it currently serves -> other team).
        from collections import deque

        parent: dict[tuple[str, str], tuple[str, str] | None] = {}
        q: deque[tuple[str, str]] = deque()
        for s in skills:
            if left[s] > 0:
                parent[("s", s)] = None
                q.append(("s", s))
        while q:
            node = q.popleft()
            kind, name = node
            if kind == "s":
                for t in cap:
                    if name in skills_of[t] and ("t", t) not in parent:
                        parent[("t", t)] = node
                        if cap[t] > 0:
                            # found: apply along the path
                            cur: tuple[str, str] | None = ("t", t)
                            cap[t] -= 1
                            while cur is not None:
                                prev = parent[cur]
                                if prev is None:
                                    left[cur[1]] -= 1
                                    break
                                if cur[0] == "t" and prev[0] == "s":
                                    flow[(prev[1], cur[1])] += 1
                                elif cur[0] == "s" and prev[0] == "t":
                                    flow[(cur[1], prev[1])] -= 1
                                cur = prev
                            return True
                        q.append(("t", t))
            else:
                for s in skills:
                    if flow[(s, name)] > 0 and ("s", s) not in parent:
                        parent[("s", s)] = node
                        q.append(("s", s))
        return False

    while any(v > 0 for v in left.values()):
        if not augment():
            return False
    return True


# -- the check ------------------------------------------------------------------------


def _records(df: Any) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in df.to_dict(orient="records")]


def _fmt(site: Site, h: float) -> str:
    return f"{site.from_hours(h).astimezone(site.zone):%Y-%m-%d %H:%M} (h {h:.2f})"


def check_schedule(
    site: Site,
    schedule: Schedule,
    *,
    orders: Iterable[str] | None = None,
    tol_h: float = 1e-6,
) -> list[Violation]:
    """Every violation of the site's constraints by ``schedule``.

    Parameters
    ----------
    site
        The site the schedule is for.
    schedule
        The schedule to check.
    orders
        Orders that must be fully scheduled; by default those the schedule mentions.
    tol_h
        Time tolerance [h].

    Returns
    -------
    list of Violation
        Empty if the schedule is valid.
    """
    out: list[Violation] = []
    tol = tol_h
    grain = schedule.grain_h
    all_orders = {o.id: o for o in site.orders}
    ops = schedule.operations
    segs = schedule.segments
    if schedule.site != site.id:
        out.append(
            Violation("unknown", f"the schedule is for site {schedule.site!r}, not {site.id!r}")
        )
    if abs((schedule.epoch - site.epoch).total_seconds()) > 1.0:
        out.append(
            Violation(
                "time", f"the schedule's epoch {schedule.epoch} is not the plan start {site.epoch}"
            )
        )
    wanted = (
        set(orders) if orders is not None else set(ops["order"].astype(str)) if len(ops) else set()
    )

    # Expected operations.
    expected: dict[
        tuple[str, str], tuple[str, Any, Any]
    ] = {}  # (batch, proc) -> (order, recipe, up)
    for oid in sorted(wanted):
        o = all_orders.get(oid)
        if o is None:
            out.append(Violation("unknown", f"order {oid!r} is not in the site's plan"))
            continue
        rec = site.recipe_for(o)
        for k in range(site.batches_for(o)):
            bid = f"{o.id}-B{k + 1:02d}"
            for up in rec.unit_procedures.values():
                expected[(bid, up.id)] = (oid, rec, up)

    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for r in _records(ops):
        key = (str(r["batch"]), str(r["procedure"]))
        if not all(math.isfinite(float(r[c])) for c in ("start_h", "end_h")):
            out.append(Violation("time", "non-finite time", key[0], key[1]))
            continue
        if key in rows:
            out.append(
                Violation("duplicate", f"{key[0]}/{key[1]} is scheduled more than once", *key)
            )
            continue
        if key not in expected:
            out.append(
                Violation(
                    "unknown",
                    f"{key[0]}/{key[1]} is not a unit procedure of a scheduled order",
                    *key,
                )
            )
            continue
        rows[key] = r
    for key in expected:
        if key not in rows:
            out.append(Violation("missing", f"{key[0]}/{key[1]} is not scheduled", *key))

    seg_by_op: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for sg in _records(segs):
        seg_by_op[(str(sg["batch"]), str(sg["procedure"]))].append(sg)

    downtime: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    for d in schedule.downtime:
        downtime[d.unit].append((d.start_h, d.end_h, d.reason or "breakdown"))

    horizon = max((float(r["clean_end_h"]) for r in rows.values()), default=0.0)
    horizon = max([horizon, *(float(r["end_h"]) for r in rows.values())]) + 24.0
    maint = _maintenance(site, horizon)

    crew_use: list[tuple[float, float, dict[str, int], str]] = []

    # Per operation: unit, class, phases, durations, crews, release.
    for key, r in rows.items():
        bid, pid = key
        oid, rec, up = expected[key]
        unit = str(r["unit"])
        u = site.units.get(unit)
        if u is None:
            out.append(Violation("unknown", f"{bid}/{pid}: unknown unit {unit!r}", bid, pid, unit))
        elif u.equipment_class != up.equipment_class:
            out.append(
                Violation(
                    "wrong-class",
                    f"{bid}/{pid} needs a {up.equipment_class!r} unit but {unit} is a "
                    f"{u.equipment_class!r}",
                    bid,
                    pid,
                    unit,
                )
            )
        start, end = float(r["start_h"]), float(r["end_h"])
        order = all_orders[oid]
        if order.release is not None:
            rel = _hours(site, site.aware(order.release))
            if start < rel - tol:
                out.append(
                    Violation(
                        "release",
                        f"{bid}/{pid} starts {_fmt(site, start)}, before the order's release "
                        f"{_fmt(site, rel)}",
                        bid,
                        pid,
                        unit,
                        start,
                    )
                )
        phases: list[tuple[str, Any]] = []
        for o in up.operations.values():
            for ph in o.phases.values():
                phases.append((f"{o.id}/{ph.id}" if len(up.operations) > 1 else ph.id, ph))
        my = sorted(
            seg_by_op.get(key, []), key=lambda sg: (float(sg["start_h"]), float(sg["end_h"]))
        )
        names = {n for n, _ in phases}
        for sg in my:
            if sg["phase"] not in names:
                out.append(
                    Violation(
                        "unknown", f"{bid}/{pid}: unknown phase {sg['phase']!r}", bid, pid, unit
                    )
                )
            if str(sg["unit"]) != unit:
                out.append(
                    Violation(
                        "unknown",
                        f"{bid}/{pid}: a segment is on {sg['unit']} but the procedure on {unit}",
                        bid,
                        pid,
                        unit,
                    )
                )
        if my:
            first, last = float(my[0]["start_h"]), max(float(sg["end_h"]) for sg in my)
            if abs(first - start) > tol or abs(last - end) > tol:
                out.append(
                    Violation(
                        "phase-order",
                        f"{bid}/{pid} runs {start:.2f}-{end:.2f} h but its phases run "
                        f"{first:.2f}-{last:.2f} h",
                        bid,
                        pid,
                        unit,
                        start,
                    )
                )
            for sa, sb in itertools.pairwise(my):
                if float(sb["start_h"]) < float(sa["end_h"]) - tol:
                    out.append(
                        Violation(
                            "phase-order",
                            f"{bid}/{pid}: phase segments overlap at "
                            f"{_fmt(site, float(sb['start_h']))}",
                            bid,
                            pid,
                            unit,
                        )
                    )
        prev_end = -math.inf
        for name, ph in phases:
            mine = [sg for sg in my if sg["phase"] == name]
            if not mine:
                out.append(
                    Violation(
                        "missing", f"{bid}/{pid}: phase {name!r} is not scheduled", bid, pid, unit
                    )
                )
                continue
            p0 = float(mine[0]["start_h"])
            if p0 < prev_end - tol:
                out.append(
                    Violation(
                        "phase-order",
                        f"{bid}/{pid}: phase {name!r} starts before the previous phase ends",
                        bid,
                        pid,
                        unit,
                        p0,
                    )
                )
            prev_end = max(float(sg["end_h"]) for sg in mine)
            worked = sum(float(sg["end_h"]) - float(sg["start_h"]) for sg in mine)
            q = schedule.duration_quantile
            mean = planned_hours(ph.duration, q)
            if worked < mean - tol or worked > mean + grain + tol:
                basis = "recipe mean" if q is None else f"P{100 * q:g} planned duration"
                out.append(
                    Violation(
                        "duration",
                        f"{bid}/{pid}: phase {name!r} runs {worked:g} h, its {basis} is "
                        f"{mean:g} h (grain {grain:g} h)",
                        bid,
                        pid,
                        unit,
                        p0,
                    )
                )
            if ph.continuous:
                for sa, sb in itertools.pairwise(mine):
                    g0, g1 = float(sa["end_h"]), float(sb["start_h"])
                    if g1 - g0 > tol and not any(
                        d0 <= g0 + tol and d1 >= g1 - tol for d0, d1, _ in downtime.get(unit, [])
                    ):
                        out.append(
                            Violation(
                                "continuity",
                                f"{bid}/{pid}: continuous phase {name!r} pauses "
                                f"{g1 - g0:g} h from {_fmt(site, g0)}",
                                bid,
                                pid,
                                unit,
                                g0,
                            )
                        )
            # Crew coverage along the phase's progress.
            progress = 0.0
            for sg in mine:
                try:
                    crew = dict(parse_crew(str(sg["crew"])))
                except ValueError as exc:
                    out.append(Violation("crew", f"{bid}/{pid}: {exc}", bid, pid, unit))
                    crew = {}
                need: dict[str, int] = defaultdict(int)
                for lab in ph.labour:
                    portion = mean
                    if lab.scope == "setup" and lab.setup is not None:
                        portion = min(lab.setup, mean)
                    if progress < portion - tol:
                        need[lab.skill] += lab.count
                for skill, n in need.items():
                    if crew.get(skill, 0) < n:
                        out.append(
                            Violation(
                                "crew",
                                f"{bid}/{pid}: phase {name!r} needs {skill} x{n} from "
                                f"{_fmt(site, float(sg['start_h']))} but the schedule holds "
                                f"x{crew.get(skill, 0)}",
                                bid,
                                pid,
                                unit,
                                float(sg["start_h"]),
                            )
                        )
                if crew:
                    crew_use.append(
                        (float(sg["start_h"]), float(sg["end_h"]), crew, f"{bid}/{pid}")
                    )
                progress += float(sg["end_h"]) - float(sg["start_h"])

    # Links between unit procedures.
    for key, r in rows.items():
        bid, pid = key
        _oid, _rec, up = expected[key]
        for link in up.after:
            pr = rows.get((bid, link.procedure))
            if pr is None:
                continue
            gap = float(r["start_h"]) - float(pr["end_h"])
            if gap < link.min_lag - tol:
                out.append(
                    Violation(
                        "precedence",
                        f"{bid}/{pid} starts {gap:g} h after {link.procedure} ends; at least "
                        f"{link.min_lag:g} h needed",
                        bid,
                        pid,
                        str(r["unit"]),
                        float(r["start_h"]),
                    )
                )
            if link.max_lag is not None and gap > link.max_lag + tol:
                out.append(
                    Violation(
                        "max-lag",
                        f"{bid}/{pid} starts {gap:g} h after {link.procedure} ends; the hold "
                        f"limit is {link.max_lag:g} h",
                        bid,
                        pid,
                        str(r["unit"]),
                        float(r["start_h"]),
                    )
                )
    if schedule.deadlines:
        for key, r in rows.items():
            bid, pid = key
            oid, _rec, up = expected[key]
            order = all_orders[oid]
            if order.due is None:
                continue
            due = _hours(site, site.aware(order.due))
            if float(r["end_h"]) > due + tol:
                out.append(
                    Violation(
                        "deadline",
                        f"{bid}/{pid} ends {_fmt(site, float(r['end_h']))}, after the deadline "
                        f"{_fmt(site, due)}",
                        bid,
                        pid,
                        str(r["unit"]),
                        float(r["end_h"]),
                    )
                )

    # Units: overlap, cleaning, changeover, maintenance, downtime.
    by_unit: dict[str, list[tuple[float, float, str, str, str]]] = defaultdict(list)
    frozen = {key for key, r in rows.items() if bool(r.get("frozen", False))}
    for key, r in rows.items():
        by_unit[str(r["unit"])].append(
            (float(r["start_h"]), float(r["end_h"]), key[0], key[1], str(r["product"]))
        )
    for unit, lst in by_unit.items():
        u = site.units.get(unit)
        if u is None:
            continue
        cls = site.equipment_classes[u.equipment_class]
        clean = cls.cleaning.duration
        blocked = sorted(maint.get(unit, []))
        down = sorted(downtime.get(unit, []))
        lst.sort()
        for i, (s0, e0, bid, pid, prod) in enumerate(lst):
            for m0, m1, why in blocked:
                if (bid, pid) in frozen:
                    break  # started before a reschedule: the maintenance was deferred
                if s0 < m1 - tol and e0 + clean > m0 + tol:
                    out.append(
                        Violation(
                            "maintenance",
                            f"{bid}/{pid} on {unit} ({_fmt(site, s0)} to {_fmt(site, e0 + clean)} "
                            f"with cleaning) overlaps maintenance '{why}' from {_fmt(site, m0)}",
                            bid,
                            pid,
                            unit,
                            s0,
                        )
                    )
            for d0, d1, why in down:
                if s0 >= d0 - tol and s0 < d1 - tol:
                    out.append(
                        Violation(
                            "downtime",
                            f"{bid}/{pid} starts on {unit} while it is down ({why})",
                            bid,
                            pid,
                            unit,
                            s0,
                        )
                    )
            for sg in seg_by_op.get((bid, pid), []):
                a, b = float(sg["start_h"]), float(sg["end_h"])
                for d0, d1, why in down:
                    if a < d1 - tol and b > d0 + tol:
                        out.append(
                            Violation(
                                "downtime",
                                f"{bid}/{pid}: phase {sg['phase']} runs on {unit} while it "
                                f"is down ({why})",
                                bid,
                                pid,
                                unit,
                                a,
                            )
                        )
            if i == 0:
                continue
            _ps, pe, pb, pp, pprod = lst[i - 1]
            if s0 < pe - tol:
                out.append(
                    Violation(
                        "overlap",
                        f"{bid}/{pid} and {pb}/{pp} overlap on {unit} from {_fmt(site, s0)}",
                        bid,
                        pid,
                        unit,
                        s0,
                    )
                )
                continue
            if s0 < pe + clean - tol:
                out.append(
                    Violation(
                        "cleaning",
                        f"{bid}/{pid} starts on {unit} {s0 - pe:g} h after {pb}/{pp} ends; "
                        f"cleaning takes {clean:g} h",
                        bid,
                        pid,
                        unit,
                        s0,
                    )
                )
                continue
            co = _changeover(site, u.equipment_class, pprod, prod)
            if co > 0:
                # A contiguous stretch of ``co`` hours between cleaning and start, outside
                # maintenance windows.
                free0 = pe + clean
                holes = sorted(
                    (max(m0, free0), min(m1, s0)) for m0, m1, _ in blocked if m1 > free0 and m0 < s0
                )
                best = 0.0
                cur = free0
                for h0, h1 in holes:
                    best = max(best, h0 - cur)
                    cur = max(cur, h1)
                best = max(best, s0 - cur)
                if best < co - tol:
                    out.append(
                        Violation(
                            "changeover",
                            f"{bid}/{pid} ({prod}) follows {pb}/{pp} ({pprod}) on {unit} with "
                            f"{s0 - pe - clean:g} h after cleaning; the changeover takes {co:g} h",
                            bid,
                            pid,
                            unit,
                            s0,
                        )
                    )

    out.extend(_labour(site, crew_use, tol))
    return out


def _labour(
    site: Site, uses: list[tuple[float, float, dict[str, int], str]], tol: float
) -> list[Violation]:
    """People held at each moment against the teams on duty (max flow)."""
    if not uses:
        return []
    t0 = min(a for a, _, _, _ in uses)
    t1 = max(b for _, b, _, _ in uses)
    skills = {s for _, _, c, _ in uses for s in c}
    teams = [t for t in site.teams.values() if skills & set(t.skills)]
    duty = {t.id: _team_on_duty(site, t.id, t0 - 1.0, t1 + 1.0) for t in teams}
    points: set[float] = set()
    for a, b, _, _ in uses:
        points.update((a, b))
    for spans in duty.values():
        for a, b in spans:
            if t0 - 1 <= a <= t1 + 1:
                points.add(a)
            if t0 - 1 <= b <= t1 + 1:
                points.add(b)
    times = sorted(points)
    events: dict[float, list[tuple[int, dict[str, int], str]]] = defaultdict(list)
    for a, b, crew, who in uses:
        if b - a <= tol:
            continue
        events[a].append((+1, crew, who))
        events[b].append((-1, crew, who))
    active: dict[str, int] = defaultdict(int)
    holders: dict[str, int] = defaultdict(int)
    cursors = {t.id: 0 for t in teams}
    cache: dict[tuple[tuple[tuple[str, int], ...], tuple[str, ...]], bool] = {}
    out: list[Violation] = []
    bad_since: float | None = None
    bad_msg = ""
    for x, y in itertools.pairwise(times):
        for sign, crew, who in events.get(x, []):
            for s, n in crew.items():
                active[s] += sign * n
            holders[who] += sign
        if y - x <= tol:
            continue
        need = tuple(sorted((s, n) for s, n in active.items() if n > 0))
        ok = True
        if need:
            mid = (x + y) / 2.0
            on: list[str] = []
            for t in teams:
                spans = duty[t.id]
                i = cursors[t.id]
                while i < len(spans) and spans[i][1] <= mid:
                    i += 1
                cursors[t.id] = i
                if i < len(spans) and spans[i][0] <= mid:
                    on.append(t.id)
            key = (need, tuple(on))
            if key not in cache:
                cache[key] = _max_flow_ok(
                    dict(need),
                    [(t, site.teams[t].headcount, frozenset(site.teams[t].skills)) for t in on],
                )
            ok = cache[key]
            if not ok and bad_since is None:
                on_txt = ", ".join(f"{t} ({site.teams[t].headcount})" for t in on) or "nobody"
                holding = sorted(w for w, n in holders.items() if n > 0)[:4]
                bad_msg = (
                    f"needs {', '.join(f'{s} x{n}' for s, n in need)} "
                    f"(for {', '.join(holding)}) "
                    f"but on duty: {on_txt}"
                )
        if not ok and bad_since is None:
            bad_since = x
        elif ok and bad_since is not None:
            out.append(
                Violation(
                    "labour",
                    f"from {_fmt(site, bad_since)} to {_fmt(site, x)}: {bad_msg}",
                    time_h=bad_since,
                )
            )
            bad_since = None
    if bad_since is not None:
        out.append(
            Violation("labour", f"from {_fmt(site, bad_since)}: {bad_msg}", time_h=bad_since)
        )
    return out
