"""People: teams on shift, and phases claiming crews by skill.

Model
-----
A team has ``headcount`` people on duty during its staffed intervals (its shift pattern,
less holidays unless it works them) and none outside them. A phase needs, for each of its
labour requirements, ``count`` people holding the skill, taken from any teams on shift
that hold it (a requirement may be split across teams). A requirement with scope
``setup`` holds its people only for its first ``setup`` hours.

- A phase starts only when all its requirements can be met at once; until then it waits
  (the unit shows ``waiting_labour``).
- A phase that may pause (``continuous: false``) is worked while its crew is on shift; if
  the shift ends (or a break starts) before its people are done, the phase pauses and
  resumes when people are back, possibly from another team.
- A phase that cannot pause (``continuous: true``) starts only if every team it draws on
  stays on shift for as long as its people are needed; the crew then stays to the end.
  If the need is longer than any staffed stretch of a team, it starts whenever that team
  is on shift and the crew works over (otherwise it could never run).

Waiting phases are woken when people are released and at the start of a relevant team's
next staffed interval, computed from the interval lists: there is no clock process.
The order in which waiting phases get people is the run's dispatching rule.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

import simpy

from phactory.twin.recorder import Recorder

if TYPE_CHECKING:
    from phactory.twin.recipe import LabourNeed

__all__ = ["Alloc", "LabourPool", "LabourRequest", "Team"]

EPS: Final[float] = 1e-9
INF: Final[float] = math.inf


class Team:
    """A team's headcount and staffed intervals, with a cursor that only moves forward."""

    __slots__ = (
        "always",
        "busy",
        "cur",
        "ends",
        "headcount",
        "id",
        "longest",
        "mask",
        "n",
        "starts",
    )

    def __init__(
        self, team_id: str, headcount: int, spans: Sequence[tuple[float, float]], mask: int
    ) -> None:
        self.id = team_id
        self.headcount = headcount
        self.busy = 0
        self.starts = [a for a, _ in spans]
        self.ends = [b for _, b in spans]
        self.n = len(spans)
        self.cur = 0
        self.mask = mask
        self.longest = max((b - a for a, b in spans), default=0.0)
        # Staffed around the clock for the whole run: the common case, checked first.
        self.always = self.n == 1 and self.starts[0] <= 0.0

    def _at(self, t: float) -> int:
        # Simulation time never goes back, so the cursor only advances: O(1) amortised.
        i = self.cur
        ends = self.ends
        n = self.n
        while i < n and ends[i] <= t + EPS:
            i += 1
        self.cur = i
        return i

    def on_shift(self, t: float) -> bool:
        """Whether the team is on duty at ``t``."""
        if self.always:
            return True
        i = self._at(t)
        return i < self.n and self.starts[i] <= t + EPS

    def free(self, t: float) -> int:
        """People of the team on duty and not assigned at ``t``."""
        if self.always:
            return self.headcount - self.busy
        i = self._at(t)
        if i < self.n and self.starts[i] <= t + EPS:
            return self.headcount - self.busy
        return 0

    def shift_end(self, t: float) -> float:
        """End of the staffed interval holding ``t`` (``t`` itself if off duty) [h]."""
        if self.always:
            return INF
        i = self._at(t)
        if i < self.n and self.starts[i] <= t + EPS:
            return self.ends[i]
        return t

    def next_start(self, t: float) -> float:
        """Start of the next staffed interval strictly after ``t`` [h]."""
        i = self._at(t)
        if i < self.n and self.starts[i] > t + EPS:
            return self.starts[i]
        return self.starts[i + 1] if i + 1 < self.n else INF


#: Bit mask of teams (bit ``i`` for team ``i``; -1 for all). An alias, so that the
#: compiled build does not read the annotation as a type check of its own.
TeamMask = int

#: People of one team assigned to one requirement of a running phase:
#: ``(team, requirement index, skill, count, start_h, (batch, unit, phase))``.
#: A tuple rather than an object: tens of thousands are made per simulated year.
Alloc = tuple[Team, int, str, int, float, tuple[str | None, str | None, str | None]]


class LabourRequest:
    """A phase waiting for people; ``needs`` holds ``[requirement, hours still needed]``."""

    __slots__ = ("continuous", "ctx", "event", "key", "mask", "needs")

    def __init__(
        self,
        key: tuple[Any, ...],
        needs: list[list[Any]],
        continuous: bool,
        event: simpy.Event,
        mask: int,
        ctx: tuple[str | None, str | None, str | None],
    ) -> None:
        self.key = key
        self.needs = needs
        self.continuous = continuous
        self.event = event
        self.mask = mask
        self.ctx = ctx


class LabourPool:
    """All teams of the site and the queue of phases waiting for people."""

    def __init__(
        self,
        env: simpy.Environment,
        teams: list[Team],
        skill_teams: list[list[Team]],
        recorder: Recorder,
    ) -> None:
        self.env = env
        self.teams = teams
        self.skill_teams = skill_teams
        self.rec = recorder
        self.skill_masks = [_mask_of(ts) for ts in skill_teams]
        self.waiting: list[tuple[tuple[Any, ...], int, LabourRequest]] = []
        self._serial = 0
        self._wakes: set[float] = set()
        # Teams some waiting phase could use (bit mask), so that a release of people no
        # waiting phase needs costs nothing; recomputed lazily after removals.
        self._wmask = 0
        self._wstale = False

    # -- allocation ---------------------------------------------------------------------

    def allocate(
        self,
        needs: list[list[Any]],
        continuous: bool,
        t: float,
        ctx: tuple[str | None, str | None, str | None],
    ) -> list[Alloc] | None:
        """Assign people for every requirement still needed, or nothing at all.

        Parameters
        ----------
        needs
            ``[LabourNeed, hours still needed]`` per requirement; entries with no hours
            left are skipped.
        continuous
            Whether the phase cannot pause (its teams must stay on shift long enough).
        t
            Now [h].
        ctx
            ``(batch, unit, phase)`` for the labour table.
        """
        team: Team
        need: LabourNeed
        left: float
        eps: float = EPS
        if len(needs) == 1:
            # One requirement served by the first team with enough people free: the
            # common case, without the bookkeeping of the general loop below.
            need, left = needs[0]
            for team in self.skill_teams[need.skill]:
                if (team.always or not continuous) and team.free(t) >= need.count:
                    team.busy += need.count
                    return [(team, 0, need.skill_id, need.count, t, ctx)]
        out: list[Alloc] = []
        for i, (need, left) in enumerate(needs):
            if left <= eps:
                continue
            want = need.count
            for team in self.skill_teams[need.skill]:
                # ``busy`` is raised as people are picked, so a team serving two
                # requirements of the same phase is not counted twice.
                free = team.free(t)
                if free <= 0:
                    continue
                if (
                    continuous
                    and not team.always
                    and team.ends[team.cur] - t < left - eps
                    and team.longest >= left - eps
                ):
                    # A long enough staffed stretch comes later: wait for it.
                    continue
                k = free if free < want else want
                team.busy += k
                out.append((team, i, need.skill_id, k, t, ctx))
                want -= k
                if want == 0:
                    break
            if want:
                for a in out:
                    a[0].busy -= a[3]
                return None
        return out

    def wait(self, req: LabourRequest) -> None:
        """Queue ``req``; it is granted from a later release or shift start."""
        # The serial breaks ties between equal keys in arrival order, deterministically.
        self._serial += 1
        bisect.insort(self.waiting, (req.key, self._serial, req))
        self._wmask |= req.mask
        self._schedule_wake(req)

    def cancel(self, req: LabourRequest) -> None:
        """Withdraw a waiting request (its batch was scrapped)."""
        for i, entry in enumerate(self.waiting):
            if entry[2] is req:
                del self.waiting[i]
                self._wstale = True
                return

    def release(self, allocs: list[Alloc], t: float) -> None:
        """Return people to their teams and write their labour rows."""
        team: Team
        mask = 0
        rows = self.rec.labour
        for team, _need, skill_id, n, start, ctx in allocs:
            team.busy -= n
            mask |= team.mask
            if t > start:
                rows.append((team.id, skill_id, n, start, t, ctx[0], ctx[1], ctx[2]))
        if self.waiting:
            if self._wstale:
                self._wmask = 0
                for entry in self.waiting:
                    self._wmask |= entry[2].mask
                self._wstale = False
            if mask & self._wmask:
                self._serve(mask, t)

    def close(self, allocs: list[Alloc], t: float) -> None:
        """Write rows for people still assigned at the end of the run."""
        rows = self.rec.labour
        for team, _need, skill_id, n, start, ctx in allocs:
            if t > start:
                rows.append((team.id, skill_id, n, start, t) + ctx)  # noqa: RUF005

    # -- waking waiting phases ------------------------------------------------------------

    def _serve(self, mask: TeamMask, t: float) -> None:
        req: LabourRequest
        waiting = self.waiting
        i = 0
        while i < len(waiting):
            req = waiting[i][2]
            if req.mask & mask:
                grant = self.allocate(req.needs, req.continuous, t, req.ctx)
                if grant is not None:
                    del waiting[i]
                    self._wstale = True
                    req.event.succeed(grant)
                    continue
            i += 1

    def _schedule_wake(self, req: LabourRequest) -> None:
        need: LabourNeed
        team: Team
        t = self.env._now
        nxt = INF
        for need, left in req.needs:
            if left <= EPS:
                continue
            for team in self.skill_teams[need.skill]:
                s = team.next_start(t)
                if s < nxt:
                    nxt = s
        if nxt < INF and nxt not in self._wakes:
            self._wakes.add(nxt)
            ev = self.env.timeout(nxt - t, nxt)
            ev.callbacks.append(self._on_wake)

    def _on_wake(self, ev: simpy.Event) -> None:
        req: LabourRequest
        self._wakes.discard(ev.value)
        if self.waiting:
            self._serve(-1, self.env._now)
            # Who is still waiting waits for the next shift start (or a release).
            for _, _, req in self.waiting:
                self._schedule_wake(req)


def _mask_of(teams: list[Team]) -> int:
    m = 0
    for t in teams:
        m |= t.mask
    return m
