"""Crews on the grain: skills coupled through the teams that hold them, and headcounts.

People are a resource shared by phases: a phase needs ``count`` people of a skill while
its labour portion lasts, and a person of a team on duty may serve any skill of the
team. Where teams hold several skills, needs compete for the same people.

Modelling choice
    For every set of skills that is *maximal* for its set of teams (adding any other
    skill would bring in no new team) and connected through shared teams, the people
    needed from those skills at any time must not exceed the headcount on duty of the
    teams holding any of them. These are Hall's conditions for the transportation of
    people to needs [1]_; they are exact when a need may be split over teams. A
    component of more than 12 coupled skills is relaxed to one constraint per skill and
    one for the component (the checker still verifies crews exactly by a maximum flow).
    Staffed time comes from :func:`~phactory.schedule.calendar.staffed_steps` (the time
    base's shifts, rounded inwards to the grain).

References
----------
.. [1] P. Hall (1935). On representatives of subsets. *J. London Math. Soc.* 10, 26-30.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping

from phactory.model import Site
from phactory.schedule.calendar import Grain, capacity_profile, staffed_steps
from phactory.schedule.problem import LabourGroup

__all__ = ["labour_groups"]


def labour_groups(
    site: Site, skills_used: set[str], horizon_h: float, grain: Grain
) -> tuple[list[LabourGroup], dict[str, list[tuple[int, int, int]]]]:
    """Coupled skill sets with their headcount on duty over the calendar [grains].

    Parameters
    ----------
    site
        Supplies teams, their skills, headcounts and shift patterns.
    skills_used
        Skills some phase (or frozen operation) of the problem needs.
    horizon_h
        Length of the calendar [h].
    grain
        The time grain; staffed time is rounded inwards to it.

    Returns
    -------
    (list of LabourGroup, dict)
        The coupled skill sets, and per skill the profile ``(start, end, people)`` of
        the headcount on duty of the teams holding it [grains].
    """
    teams_of: dict[str, frozenset[str]] = {
        s: frozenset(t.id for t in site.teams.values() if s in t.skills) for s in skills_used
    }
    staffed = {t.id: staffed_steps(site, t, grain, horizon_h) for t in site.teams.values()}

    def profile(team_ids: Iterable[str]) -> list[tuple[int, int, int]]:
        crews = [(staffed[t], site.teams[t].headcount) for t in sorted(team_ids)]
        prof = capacity_profile(
            [([(float(a), float(b)) for a, b in sp], hc) for sp, hc in crews],
            float(grain.up(horizon_h)),
        )
        return [(round(a), round(b), c) for a, b, c in prof]

    per_skill = {s: profile(teams_of[s]) for s in skills_used}
    # Components of the skill-team graph, then connected skill subsets within each.
    skills = sorted(skills_used)
    comp: dict[str, int] = {}
    for s in skills:
        if s in comp:
            continue
        stack, cid = [s], len(set(comp.values()))
        while stack:
            x = stack.pop()
            if x in comp:
                continue
            comp[x] = cid
            stack.extend(y for y in skills if y not in comp and teams_of[y] & teams_of[x])
    groups: list[LabourGroup] = []
    seen: set[frozenset[str]] = set()
    for cid in sorted(set(comp.values())):
        members = [s for s in skills if comp[s] == cid]
        if len(members) > 12:
            # Too many coupled skills to enumerate: one constraint per skill and one for
            # the whole component (a relaxation; the checker still verifies crews).
            subsets: Iterable[tuple[str, ...]] = [(s,) for s in members] + [tuple(members)]
        else:
            subsets = (
                c for r in range(1, len(members) + 1) for c in itertools.combinations(members, r)
            )
        for sub in subsets:
            sset = frozenset(sub)
            teams = frozenset().union(*(teams_of[s] for s in sset))
            if any(teams_of[x] <= teams for x in members if x not in sset):
                continue  # a larger skill set with the same teams dominates this one
            if len(sset) > 1 and not _connected(sset, teams_of):
                continue  # implied by its connected parts
            if sset in seen:
                continue
            seen.add(sset)
            prof = profile(teams)
            cmax = max((c for _, _, c in prof), default=0)
            groups.append(LabourGroup(len(groups), sset, tuple(sorted(teams)), prof, cmax))
    return groups, per_skill


def _connected(skills: frozenset[str], teams_of: Mapping[str, frozenset[str]]) -> bool:
    items = sorted(skills)
    reached = {items[0]}
    stack = [items[0]]
    while stack:
        x = stack.pop()
        for y in items:
            if y not in reached and teams_of[x] & teams_of[y]:
                reached.add(y)
                stack.append(y)
    return len(reached) == len(items)
