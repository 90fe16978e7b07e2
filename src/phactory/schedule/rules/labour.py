"""The crew-capacity rule: at every moment, the people held are on shift.

People are held by phase segments (their ``crew``: ``skill x count``). At each moment
the skills needed must be coverable by the teams on duty, a person counting for one
skill at a time: a transportation problem from teams (supply: headcount) to skills
(demand), feasible exactly when the maximum flow from a source through the teams to the
skills and a sink saturates every demand [1]_. Teams are on duty in the windows of
their shift patterns, with holidays off for teams that do not work them, as
:mod:`phactory.model.timebase` places them.

References
----------
.. [1] L. R. Ford, D. R. Fulkerson (1956). Maximal flow through a network. *Canadian
   Journal of Mathematics* 8, 399-404.
"""

from __future__ import annotations

import itertools
from collections import defaultdict

import numpy as np
from scipy.sparse import csr_array
from scipy.sparse.csgraph import maximum_flow

from phactory.model import Site
from phactory.model.timebase import merge_intervals, shift_windows
from phactory.schedule.check_context import CheckContext
from phactory.schedule.schedule import parse_crew
from phactory.schedule.violations import Violation, ViolationKind

__all__ = ["CrewCapacity", "coverable"]

Use = tuple[float, float, dict[str, int], str]


def coverable(need: dict[str, int], teams: list[tuple[int, frozenset[str]]]) -> bool:
    """Whether teams ``(headcount, skills)`` can cover the people ``need``-ed per skill.

    Maximum flow source -> team (headcount) -> skill it holds (unbounded) -> sink
    (the need); coverable when the flow equals the total need. When no team holds two
    of the skills needed, the skills do not compete and each is compared with its own
    supply.
    """
    skills = sorted(s for s, n in need.items() if n > 0)
    total = sum(need[s] for s in skills)
    if total == 0:
        return True
    held = [(head, [k for k, s in enumerate(skills) if s in sk]) for head, sk in teams]
    held = [(head, ks) for head, ks in held if ks and head > 0]
    if sum(head for head, _ in held) < total:
        return False
    if all(len(ks) == 1 for _, ks in held):
        supply = [0] * len(skills)
        for head, ks in held:
            supply[ks[0]] += head
        return all(supply[k] >= need[s] for k, s in enumerate(skills))
    # Nodes: 0 source, 1..n teams, then the skills, then the sink; rows in node order.
    n_t, n_s = len(held), len(skills)
    sink = 1 + n_t + n_s
    indices: list[int] = [1 + i for i in range(n_t)]
    data: list[int] = [head for head, _ in held]
    indptr = [0, n_t]
    for _head, ks in held:
        indices.extend(1 + n_t + k for k in ks)
        data.extend([total] * len(ks))
        indptr.append(len(indices))
    for k in range(n_s):
        indices.append(sink)
        data.append(need[skills[k]])
        indptr.append(len(indices))
    indptr.append(len(indices))
    graph = csr_array(
        (
            np.asarray(data, dtype=np.int32),
            np.asarray(indices, dtype=np.int32),
            np.asarray(indptr, dtype=np.int32),
        ),
        shape=(sink + 1, sink + 1),
    )
    return int(maximum_flow(graph, 0, sink).flow_value) >= total


def _on_duty(site: Site, team_id: str, t0: float, t1: float) -> list[tuple[float, float]]:
    team = site.teams[team_id]
    pattern = site.shift_patterns.get(team.shift_pattern)
    if pattern is None:
        return []
    windows = shift_windows(site, pattern, t1, works_holidays=team.works_holidays)
    return [(a, b) for a, b in merge_intervals((a, b) for a, b, _ in windows) if b > t0 and a < t1]


def _uses(ctx: CheckContext) -> list[Use]:
    """People held by the phases of the recipe, per segment (unreadable crews skipped)."""
    out: list[Use] = []
    for key, r in ctx.rows.items():
        names = {n for n, _ in ctx.expected[key].phases}
        for sg in ctx.segments.get(key, []):
            if sg.phase not in names:
                continue
            try:
                crew = dict(parse_crew(sg.crew))
            except ValueError:
                continue
            if crew:
                out.append((sg.start_h, sg.end_h, crew, f"{r.batch}/{r.procedure}"))
    return out


class CrewCapacity:
    """At every moment the people the phases hold are coverable by the teams on shift."""

    name = "crew-capacity"
    kinds: tuple[ViolationKind, ...] = ("labour",)

    def check(self, ctx: CheckContext) -> list[Violation]:
        """One violation per stretch of time in which the teams on duty fall short."""
        uses = _uses(ctx)
        if not uses:
            return []
        site, tol = ctx.site, ctx.tol
        t0 = min(a for a, _, _, _ in uses) - 1.0
        t1 = max(b for _, b, _, _ in uses) + 1.0
        skills = {s for _, _, c, _ in uses for s in c}
        teams = [t for t in site.teams.values() if skills & set(t.skills)]
        duty = {t.id: _on_duty(site, t.id, t0, t1) for t in teams}
        points: set[float] = set()
        events: dict[float, list[tuple[int, dict[str, int], str]]] = defaultdict(list)
        for a, b, crew, who in uses:
            points.update((a, b))
            if b - a > tol:
                events[a].append((+1, crew, who))
                events[b].append((-1, crew, who))
        for spans in duty.values():
            points.update(x for a, b in spans for x in (a, b) if t0 <= x <= t1)
        active: dict[str, int] = defaultdict(int)
        holders: dict[str, int] = defaultdict(int)
        cursors = dict.fromkeys(duty, 0)
        cache: dict[tuple[tuple[tuple[str, int], ...], tuple[str, ...]], bool] = {}
        out: list[Violation] = []
        bad_since: float | None = None
        bad_msg = ""
        for x, y in itertools.pairwise(sorted(points)):
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
                    cache[key] = coverable(
                        dict(need),
                        [(site.teams[t].headcount, frozenset(site.teams[t].skills)) for t in on],
                    )
                ok = cache[key]
                if not ok and bad_since is None:
                    on_txt = ", ".join(f"{t} ({site.teams[t].headcount})" for t in on) or "nobody"
                    holding = sorted(w for w, n in holders.items() if n > 0)[:4]
                    bad_msg = (
                        f"needs {', '.join(f'{s} x{n}' for s, n in need)} "
                        f"(for {', '.join(holding)}) but on duty: {on_txt}"
                    )
            if not ok and bad_since is None:
                bad_since = x
            elif ok and bad_since is not None:
                out.append(
                    Violation(
                        "labour",
                        f"from {ctx.when(bad_since)} to {ctx.when(x)}: {bad_msg}",
                        time_h=bad_since,
                    )
                )
                bad_since = None
        if bad_since is not None:
            out.append(
                Violation("labour", f"from {ctx.when(bad_since)}: {bad_msg}", time_h=bad_since)
            )
        return out
