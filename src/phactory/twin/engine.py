# cython: annotation_typing=False
# (Compiled, annotations stay hints here: this public API accepts any real number.)
"""The plant twin: a discrete-event simulation of a site executing its production plan.

:func:`simulate` runs one replication and returns its :class:`~phactory.events.EventLog`.
The internal time base is hours from ``site.epoch`` (the plan start), as everywhere in
Phactory; the run covers ``[0, horizon]``.

How a run is built (Law 2015, ch. 1-2, for the event-scheduling and process-interaction
world views this mixes [1]_):

- one SimPy process releases batches at their orders' release times;
- each unit procedure of a batch is a process (:mod:`phactory.twin.batch`);
- units, cleaning and maintenance are driven by timeout callbacks
  (:mod:`phactory.twin.equipment`), people by a pool woken at releases and shift starts
  (:mod:`phactory.twin.labour`), utilities by a token bucket
  (:mod:`phactory.twin.utilities`); nothing polls on a clock;
- the plan's randomness comes from per-purpose streams (:mod:`phactory.twin.streams`),
  so the same seed reproduces the same log exactly.

With ``deterministic=True`` every duration is its mean, units never fail and batches are
never lost, for results that can be checked by hand.

Modelling choices
-----------------
- Equipment states (ISO 22400-2): ``producing`` while a phase runs; ``setup`` for a
  product changeover; ``cleaning`` after a batch (and before one, past the clean hold);
  ``waiting_upstream`` while a claimed unit waits for a predecessor, a minimum lag or a
  utility; ``waiting_labour`` while it waits for people (before a phase, or paused at a
  shift end); ``down`` during a repair; ``planned_down`` during maintenance; ``idle``
  otherwise. ``blocked`` is not modelled: a unit is released when its procedure ends
  (the intermediate leaves in a transfer line or bag), and hold-time limits are handled
  by the successor claiming its unit ahead (``lookahead``).
- Failures count operating (producing) hours only; a failure stops the phase, the unit is
  repaired (``down``), and the phase resumes where it stopped. Its crew stays.
- A phase's ``failure_probability`` loses the batch at the end of that phase (when the
  failure is found); the batch is scrapped and the rest of its procedures are not run.
- Planned maintenance waits for a running unit procedure and its cleaning, then takes its
  full duration; dispatching avoids such clashes when another unit is free.
- Dirty hold matters only where cleaning can be deferred (``after_each_batch: false``,
  campaign mode); otherwise cleaning starts as soon as a procedure ends.

Event values and details
------------------------
``phase_started`` / ``phase_completed``: the phase's sampled duration [h] (pauses and
repairs not included); ``procedure_started``: the start delay against the plan of
record [h] (NaN without one); ``procedure_completed``: hours from the procedure's first
phase to its end; ``failure`` / ``repair``: the repair time [h]; ``deviation``: hours
beyond the limit, with the limit in ``detail``; ``maintenance_started``: its duration
[h], with the reason (and any deferral) in ``detail``; ``batch_completed``: the quantity;
``batch_scrapped``: 0, with the reason in ``detail``.

References
----------
.. [1] A. M. Law, *Simulation Modeling and Analysis*, 5th ed., McGraw-Hill, 2015.
.. [2] ISO 22400-2:2014 for the equipment states recorded in the timeline.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Generator, Iterable
from typing import Any, Final, cast

import numpy as np
import simpy

from phactory.events import EventLog
from phactory.model import Site
from phactory.twin.batch import (
    ACTIVE,
    COMPLETED,
    EPS,
    LAG_TOL,
    SCRAPPED,
    BatchState,
    ProcState,
    run_procedure,
)
from phactory.twin.dispatch import (
    DISPATCH_RULES,
    Assignment,
    ClassPool,
    DispatchRule,
    EarliestAvailable,
    PlanOfRecord,
    UnitPolicy,
)
from phactory.twin.equipment import MaintenanceCalendar, UnitState, maintenance_windows
from phactory.twin.errors import TwinError
from phactory.twin.labour import Alloc, LabourPool, Team
from phactory.twin.recipe import LinkSpec, RecipeSpec, break_gate_cycles, compile_recipe
from phactory.twin.recorder import Ctx, Recorder
from phactory.twin.shifts import staffed_intervals
from phactory.twin.streams import FailureClock, generator, sample_durations
from phactory.twin.utilities import UtilitySupply
from phactory.twin.validate import check_runnable, horizon_hours

__all__ = ["Twin", "simulate"]

INF: Final[float] = math.inf
#: Utilities whose per-phase amounts a site utility with a capacity can supply.
SUPPLIED: Final[tuple[str, ...]] = ("wfi", "steam")
#: How long before it is needed a pulled side branch aims to finish, at most [h].
PULL_SLACK_H: Final[float] = 12.0


class Twin:
    """A configured run of the plant twin; :meth:`run` simulates it.

    The constructor only stores its parameters (nothing is checked or built until
    :meth:`run`); after a run, attributes ending in ``_`` describe it.

    Parameters
    ----------
    site
        The site, with its plan.
    days
        Run length [d]; default the plan's horizon.
    seed
        Base seed (a non-negative integer); the same seed gives the same event log.
    dispatch
        ``"fifo"``, ``"edd"``, ``"priority"`` or a :class:`~phactory.twin.DispatchRule`.
    deterministic
        Mean durations, no failures, no batch losses.
    unit_policy
        Chooses among free units; default :class:`~phactory.twin.EarliestAvailable`.
    schedule
        A plan of record to execute (list of :class:`~phactory.twin.Assignment`, see
        :class:`~phactory.twin.PlanOfRecord`); it replaces ``dispatch`` and
        ``unit_policy``. Procedures it does not assign take the unit free the longest
        and queue behind the assigned ones. A procedure starts no earlier than planned,
        except one whose input has a hold-time limit (``max_lag``): if its input comes
        so early that waiting for the planned start would breach the limit, it claims
        its unit early and starts within the limit.
    lookahead
        Respect hold-time limits (``max_lag``) by looking ahead, as a planner on the
        floor would (see :mod:`phactory.twin.batch`): a procedure with a limited
        incoming link claims and prepares its unit just before its predecessors end; a
        source whose output cannot wait (``on_breach: scrap``) starts only once its
        destination unit is secured; side branches feeding a limited link (media,
        buffers) start just in time instead of at release. ``False`` gives the plain
        greedy behaviour: every procedure claims a unit when its predecessors are done.
    utility_buffer_h
        Storage of each rate-limited utility, in hours of its generation [h].

    Attributes
    ----------
    events_processed_ : int
        SimPy events processed by the run.
    wall_s_ : float
        Wall time of :meth:`run` [s], set-up and DataFrames included.
    cpu_s_ : float
        CPU time of :meth:`run` [s].
    sim_s_ : float
        Wall time of the event loop alone [s].
    sim_cpu_s_ : float
        CPU time of the event loop alone [s] (robust to other load on the machine).
    batches_ : int
        Batches released during the run.
    """

    def __init__(
        self,
        site: Site,
        days: float | None = None,
        seed: int = 0,
        dispatch: str | DispatchRule = "fifo",
        *,
        deterministic: bool = False,
        unit_policy: UnitPolicy | None = None,
        schedule: Iterable[Assignment] | None = None,
        lookahead: bool = True,
        utility_buffer_h: float = 1.0,
    ) -> None:
        self.site = site
        self.days = days
        self.seed = seed
        self.dispatch = dispatch
        self.deterministic = deterministic
        self.unit_policy = unit_policy
        self.schedule = schedule
        self.lookahead = lookahead
        self.utility_buffer_h = utility_buffer_h

    def run(self) -> EventLog:
        """Simulate and return the event log.

        Raises
        ------
        TwinError
            If the plan can never complete or a parameter is invalid; nothing is run.
        """
        t0, c0 = time.perf_counter(), time.process_time()
        # A run allocates hundreds of thousands of long-lived tuples (the log's rows);
        # the cyclic garbage collector would traverse them again and again (a third of
        # the run time) while finding nothing to free, so it is paused for the run.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            run = Run(self)
            t1, c1 = time.perf_counter(), time.process_time()
            run.env.run(until=run.horizon)
            t2, c2 = time.perf_counter(), time.process_time()
            log = run.finish()
            self.events_processed_ = next(run.env._eid) - len(run.env._queue)
            self.batches_ = sum(1 for b in run.batches if b.released)
            run.dispose()
        finally:
            if gc_was_enabled:
                gc.enable()
        self.sim_s_ = t2 - t1
        self.sim_cpu_s_ = c2 - c1
        self.wall_s_ = time.perf_counter() - t0
        self.cpu_s_ = time.process_time() - c0
        return log


def simulate(
    site: Site,
    days: float | None = None,
    seed: int = 0,
    dispatch: str | DispatchRule = "fifo",
    *,
    deterministic: bool = False,
    unit_policy: UnitPolicy | None = None,
    schedule: Iterable[Assignment] | None = None,
    lookahead: bool = True,
    utility_buffer_h: float = 1.0,
) -> EventLog:
    """Simulate ``site`` executing its plan and return the event log of the run.

    Parameters are those of :class:`Twin`. Example (from the repository root):

    >>> from phactory.model import load_site
    >>> from phactory.twin import simulate
    >>> log = simulate(load_site("examples/mab-biologics"), days=90, seed=1)
    >>> log.check()                       # every unit's timeline tiles [0, 2160 h]
    >>> hours = log.state_hours()         # hours per unit (rows) and ISO 22400 state
    >>> float(round(hours.loc["BR-01"].sum(), 6))
    2160.0
    >>> log.batches["status"].value_counts().to_dict()
    {'completed': 11, 'in_progress': 7, 'not_started': 6}

    Raises
    ------
    TwinError
        If the plan can never complete (a recipe needs a class without units, a skill
        no team holds...) or a parameter is invalid.
    """
    return Twin(
        site,
        days,
        seed,
        dispatch,
        deterministic=deterministic,
        unit_policy=unit_policy,
        schedule=schedule,
        lookahead=lookahead,
        utility_buffer_h=utility_buffer_h,
    ).run()


def _seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or int(seed) < 0:
        raise TwinError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _rule(dispatch: Any) -> DispatchRule:
    if isinstance(dispatch, str):
        rule = DISPATCH_RULES.get(dispatch.lower())
        if rule is None:
            raise TwinError(
                f"unknown dispatch rule {dispatch!r} (use one of {', '.join(DISPATCH_RULES)})"
            )
        return rule
    if not callable(getattr(dispatch, "key", None)):
        raise TwinError(f"dispatch must be a rule name or have a key() method, got {dispatch!r}")
    return dispatch  # type: ignore[no-any-return]


class Run:
    """Everything one run builds and mutates; internal to the twin."""

    def __init__(self, cfg: Twin) -> None:
        site = cfg.site
        self.site = site
        self.seed = _seed(cfg.seed)
        self.horizon = horizon_hours(site, cfg.days)
        recipes = check_runnable(site)
        rule = _rule(cfg.dispatch)
        policy: UnitPolicy = cfg.unit_policy or EarliestAvailable()
        if not callable(getattr(policy, "choose", None)):
            raise TwinError(f"unit_policy must have a choose() method, got {policy!r}")
        if not (cfg.utility_buffer_h >= 0.0 and math.isfinite(cfg.utility_buffer_h)):
            raise TwinError(f"utility_buffer_h must be >= 0 h, got {cfg.utility_buffer_h!r}")
        self.deterministic = cfg.deterministic
        self.lookahead = cfg.lookahead
        self.env = env = simpy.Environment()
        self.rec = Recorder()

        # -- people ---------------------------------------------------------------------
        skills: dict[str, int] = {}
        for crew in site.teams.values():
            for s in crew.skills:
                skills.setdefault(s, len(skills))
        teams: list[Team] = []
        spans_cache: dict[tuple[str, bool], list[tuple[float, float]]] = {}
        for i, crew in enumerate(site.teams.values()):
            key = (crew.shift_pattern, crew.works_holidays)
            if key not in spans_cache:
                spans_cache[key] = staffed_intervals(
                    site,
                    site.shift_patterns[crew.shift_pattern],
                    self.horizon,
                    works_holidays=crew.works_holidays,
                )
            teams.append(Team(crew.id, crew.headcount, spans_cache[key], 1 << i))
        skill_teams: list[list[Team]] = [[] for _ in skills]
        for crew, team in zip(site.teams.values(), teams, strict=True):
            for s in crew.skills:
                skill_teams[skills[s]].append(team)
        self.labour = LabourPool(env, teams, skill_teams, self.rec)

        # -- utilities --------------------------------------------------------------------
        util_index = {u: i for i, u in enumerate(k for k in site.utilities if k in SUPPLIED)}
        self.utilities = [
            UtilitySupply(u, site.utilities[u].capacity, cfg.utility_buffer_h) for u in util_index
        ]

        # -- recipes and batches --------------------------------------------------------
        self.recipes: dict[str, RecipeSpec] = {
            r.id: compile_recipe(site, r, skills, util_index, self.labour.skill_masks)
            for r in recipes
        }
        break_gate_cycles(list(self.recipes.values()))
        self.batches = self._batches(site)
        self._durations()

        # -- plan of record -------------------------------------------------------------
        if cfg.schedule is not None:
            # The schedule decides units and timing; the twin's own look-ahead heuristics
            # (claiming ahead, pulling side branches just in time) would fight it.
            self.lookahead = False
            plan = PlanOfRecord(cfg.schedule)
            self._check_schedule(plan)
            rule, policy = plan, plan
            for b in self.batches:
                for ps in b.procs:
                    ps.planned = plan.plan.get((b.id, ps.spec.id))
                    # A procedure whose input has a hold-time limit (``claim_ahead``)
                    # starts at its planned start or, if its input came early, as late
                    # as the limit allows (``proc_done``): a plant does not let an
                    # intermediate expire to keep to the clock. It still takes its
                    # planned unit in the plan's order.
                    if ps.planned is not None and not ps.spec.claim_ahead:
                        ps.ready = ps.planned.planned_start

        # -- units ----------------------------------------------------------------------
        windows = maintenance_windows(site, self.horizon)
        self.units: list[UnitState] = []
        for i, u in enumerate(site.units.values()):
            cls = site.equipment_classes[u.equipment_class]
            rel = u.reliability or cls.reliability
            clock = (
                FailureClock(rel, self.seed, u.id)
                if rel is not None and not self.deterministic
                else None
            )
            self.units.append(
                UnitState(u.id, i, cls, env, self.rec, site, clock, windows.get(u.id, []))
            )
        MaintenanceCalendar(env, self.units)
        self.pools: dict[str, ClassPool] = {}
        for cls_id in site.equipment_classes:
            members = [u for u in self.units if u.equipment_class == cls_id]
            self.pools[cls_id] = ClassPool(env, cls_id, members, rule, policy)

        env.process(self._release())

    # -- set-up helpers -----------------------------------------------------------------

    def _batches(self, site: Site) -> list[BatchState]:
        """The batches released within the horizon, with their place in the whole plan.

        ``offset`` counts the phases of every batch of the plan before this one, released
        in this run or not, so that a batch draws the same durations whatever the run's
        length: a shorter run is an exact prefix of a longer one.
        """
        out: list[BatchState] = []
        offset = 0
        for order in site.orders:
            recipe = self.recipes[site.recipe_for(order).id]
            n = site.batches_for(order)
            release = site.release_hours(order)
            if release >= self.horizon:
                offset += n * recipe.n_phases
                continue
            due = site.to_hours(order.due) if order.due else INF
            for bid in site.batch_ids(order):
                b = BatchState(
                    bid,
                    len(out),
                    order.id,
                    recipe,
                    order.patient,
                    release,
                    due,
                    order.priority,
                )
                b.offset = offset
                offset += recipe.n_phases
                out.append(b)
        self._draws = offset
        return out

    def _durations(self) -> None:
        """Draw every phase duration and loss uniform of the plan up front (see streams)."""
        batches = self.batches
        if not batches:
            return
        total = self._draws
        rng = generator(self.seed, "durations")
        u = rng.random(total)
        z = rng.standard_normal(total)
        loss = generator(self.seed, "scrap").random(total)
        fallback = generator(self.seed, "fallback")
        by_recipe: dict[str, list[int]] = {}
        for b in batches:
            by_recipe.setdefault(b.recipe.id, []).append(b.index)
        offsets = np.array([b.offset for b in batches], dtype=np.int64)
        for rid, idx in by_recipe.items():
            spec = self.recipes[rid]
            off = offsets[np.array(idx)]
            mat = np.empty((len(idx), spec.n_phases))
            lossy = False
            for proc in spec.procs:
                for ph in proc.phases:
                    if self.deterministic:
                        mat[:, ph.index] = ph.mean_h
                    else:
                        cols = off + ph.index
                        mat[:, ph.index] = sample_durations(
                            ph.model.duration, u[cols], z[cols], fallback
                        )
                    lossy = lossy or ph.failure_probability > 0.0
            rows = mat.tolist()
            use_loss = lossy and not self.deterministic
            for k, bi in enumerate(idx):
                b = batches[bi]
                b.durations = rows[k]
                if use_loss:
                    b.scrap_u = loss[b.offset : b.offset + spec.n_phases].tolist()

    def _check_schedule(self, plan: PlanOfRecord) -> None:
        by_id = {b.id: b for b in self.batches}
        site = self.site
        in_plan = {bid for o in site.orders for bid in site.batch_ids(o)}
        problems = []
        for (bid, proc), a in plan.plan.items():
            b = by_id.get(bid)
            if b is None:
                # Batches of the plan released after the horizon are simply not run.
                if bid not in in_plan:
                    problems.append(f"schedule names unknown batch {bid!r}")
                continue
            if proc not in b.recipe.by_id:
                problems.append(
                    f"schedule: batch {bid!r} (recipe {b.recipe.id!r}) has no "
                    f"unit procedure {proc!r}"
                )
                continue
            unit = self.site.units.get(a.unit)
            cls = b.recipe.procs[b.recipe.by_id[proc]].equipment_class
            if unit is None:
                problems.append(f"schedule: unknown unit {a.unit!r} for {bid!r}/{proc!r}")
            elif unit.equipment_class != cls:
                problems.append(
                    f"schedule: unit {a.unit!r} is of class "
                    f"{unit.equipment_class!r}, but {bid!r}/{proc!r} needs {cls!r}"
                )
            if not math.isfinite(a.planned_start):
                problems.append(f"schedule: planned start of {bid!r}/{proc!r} is not finite")
        if problems:
            raise TwinError(
                "the schedule cannot be executed:\n" + "\n".join(f"  - {p}" for p in problems)
            )

    # -- batch flow ---------------------------------------------------------------------

    def _release(self) -> Generator[simpy.Event, Any, None]:
        env = self.env
        for b in sorted(self.batches, key=lambda b: (b.release_h, b.index)):
            if b.release_h > env._now:
                yield env.timeout(b.release_h - env._now)
            b.released = True
            self.rec.event(env._now, "batch_released", None, (*b.bctx, None, None))
            procs = b.procs
            for r in b.recipe.roots:
                ps = procs[r]
                if not (self.lookahead and ps.spec.pulled):
                    self.spawn(ps, env._now)
            # Executing a schedule: every planned procedure prepares its unit (cleaning,
            # changeover) ahead of its planned start, as a planner's schedule assumes,
            # instead of waiting for its predecessors to finish first.
            for ps in procs:
                if ps.planned is not None:
                    self.spawn(ps, env._now)

    def spawn(self, ps: ProcState, claim_at: float) -> None:
        """Start the process of ``ps``, which claims its unit no earlier than ``claim_at``."""
        if ps.batch.status != ACTIVE or ps.process is not None:
            return
        planned = ps.planned
        if planned is not None:
            claim_at = max(claim_at, planned.planned_start - ps.spec.lead_h)
        ps.claim_at = claim_at
        ps.process = self.env.process(run_procedure(self, ps))

    def proc_started(self, ps: ProcState, unit: UnitState, now: float) -> None:
        """The first phase of ``ps`` starts: record it and check the maximum lags."""
        ps.started = True
        ps.start_h = now
        b = ps.batch
        events = self.rec.events
        if b.start_h != b.start_h:  # NaN: the batch's first procedure
            b.start_h = now
            events.append((now, "batch_started", unit.id, *b.bctx, None, None, math.nan, None))
        planned = ps.planned
        delay = now - planned.planned_start if planned is not None else math.nan
        c = ps.ctx
        events.append(
            (now, "procedure_started", unit.id, c[0], c[1], c[2], c[3], c[4], delay, None)
        )
        if self.lookahead:
            self._pull(ps, now)
        for link in ps.spec.preds:
            if link.max_lag is None:
                continue
            pred = b.procs[link.pred]
            lag = now - pred.end_h
            if lag > link.max_lag + LAG_TOL:
                over = lag - link.max_lag
                detail = (
                    f"max lag {link.max_lag:g} h after {pred.spec.id!r} exceeded by "
                    f"{over:.2f} h (lag {lag:.2f} h)"
                )
                events.append((now, "deviation", unit.id, *ps.ctx, over, detail))
                if link.scrap and b.status == ACTIVE:
                    self.scrap(b, detail, ps, unit.id, ps.ctx)

    def _pull(self, ps: ProcState, now: float) -> None:
        """Start pulled side branches once the main line into their successor runs."""
        spec = ps.spec
        if spec.pulled or not spec.pushes:
            return
        b = ps.batch
        durations = b.durations
        end = now
        for ph in spec.phases:
            end += durations[ph.index]
        for link in spec.succs:
            s = b.procs[link.succ]
            if not s.spec.pulls:
                continue
            s.n_push += 1
            if end + link.min_lag > s.push_ready:
                s.push_ready = end + link.min_lag
            if s.n_push == s.spec.pushers:
                for pi, max_lag in s.spec.pulls:
                    p = b.procs[pi]
                    took = p.spec.lead_h
                    for ph in p.spec.phases:
                        took += durations[ph.index]
                    # Aim to finish a little before the successor needs the output, well
                    # inside the hold limit.
                    slack = min(0.5 * max_lag, PULL_SLACK_H)
                    self.spawn(p, max(now, s.push_ready - took - slack))

    def last_phase_started(self, ps: ProcState, expected_end: float) -> None:
        """``ps`` is in its last phase: successors that claim ahead may now do so."""
        b = ps.batch
        for link in ps.spec.succs:
            s = b.procs[link.succ]
            if not s.spec.claim_ahead or not (self.lookahead or s.planned is not None):
                continue
            s.n_hint += 1
            e = expected_end + link.min_lag
            if e > s.expect:
                s.expect = e
            if s.n_hint == s.spec.n_preds:
                early = s.expect - s.spec.lead_h
                if s.planned is None:
                    self.spawn(s, early)
                elif s.claim_event is not None and early < s.claim_at - EPS:
                    # Its input comes early: claim and prepare the unit early too.
                    self.wake_at(s.claim_event, max(early, self.env._now))

    def wake_at(self, event: simpy.Event, t: float) -> None:
        """Trigger ``event`` at ``t`` [h] unless it has been triggered by then."""

        def wake(_ev: simpy.Event) -> None:
            if not event.triggered:
                event.succeed()

        self.env.timeout(t - self.env._now).callbacks.append(wake)

    def proc_done(self, ps: ProcState, now: float) -> None:
        """``ps`` is complete: start or wake its successors; complete the batch."""
        b = ps.batch
        ps.end_h = now
        b.n_done += 1
        for link in ps.spec.succs:
            s = b.procs[link.succ]
            s.n_done += 1
            r = now + link.min_lag
            if r > s.ready:
                s.ready = r
            if link.max_lag is not None and link.scrap:
                self._lag_timer(s, link)
            if s.n_done == s.spec.n_preds:
                if s.planned is not None and s.spec.claim_ahead:
                    s.ready = max(s.ready, self._start_under_plan(s, s.planned.planned_start))
                # Already running (it claimed its unit ahead): wake it; else start it.
                if s.process is not None:
                    ev = s.up_event
                    if ev is not None and not ev.triggered:
                        ev.succeed()
                else:
                    self.spawn(s, s.ready)
        if b.n_done == len(b.procs) and b.status == ACTIVE:
            b.status = COMPLETED
            b.end_h = now
            self.rec.events.append(
                (now, "batch_completed", None, *b.bctx, None, None, b.recipe.batch_size, None)
            )

    def _start_under_plan(self, s: ProcState, planned_start: float) -> float:
        """When ``s``, whose inputs have hold-time limits, starts under a plan [h].

        At its planned start if that keeps within every limit; else (its input came
        early) with the slack side branches keep before the earliest limit (half the
        limit, at most ``PULL_SLACK_H``), so that a short wait for people at the start
        does not breach it.
        """
        procs = s.batch.procs
        start = planned_start
        for link in s.spec.preds:
            lag = link.max_lag
            if lag is not None:
                limit = procs[link.pred].end_h + lag
                if planned_start > limit + LAG_TOL:
                    start = min(start, limit - min(0.5 * lag, PULL_SLACK_H))
        return start

    def _lag_timer(self, s: ProcState, link: LinkSpec) -> None:
        assert link.max_lag is not None
        max_lag = link.max_lag

        def expire(_ev: simpy.Event) -> None:
            b = s.batch
            if b.status != ACTIVE or s.started:
                return
            pred = b.procs[link.pred].spec.id
            detail = f"{s.spec.id!r} not started within the max lag {max_lag:g} h after {pred!r}"
            unit = s.unit.id if s.unit is not None else None
            # Recorded when the limit passes: it is exceeded by (practically) nothing yet.
            self.rec.events.append((self.env._now, "deviation", unit, *s.ctx, 0.0, detail))
            self.scrap(b, detail, None, unit, s.ctx)

        self.env.timeout(max_lag + LAG_TOL).callbacks.append(expire)

    def scrap(
        self, b: BatchState, reason: str, by: ProcState | None, unit: str | None, ctx: Ctx
    ) -> None:
        """Scrap batch ``b``: stop its procedures (``by`` cleans up after itself)."""
        now = self.env._now
        b.status = SCRAPPED
        b.end_h = now
        self.rec.events.append((now, "batch_scrapped", unit, *ctx, 0.0, reason))
        for ps in b.procs:
            if ps is by:
                continue
            p = ps.process
            if p is not None and p.is_alive and ps.entered:
                p.interrupt(reason)

    # -- end of run ---------------------------------------------------------------------

    def dispose(self) -> None:
        """Break the run's reference cycles once its log is built.

        Processes, their pending events, procedures and their batches, units and their
        pools all refer to one another; left alone, a finished run waits for the cyclic
        garbage collector, which then walks hundreds of thousands of objects (a fifth of
        a second for a CAR-T year, in the middle of whatever runs next). Cut here, it is
        freed at once by reference counting. The run cannot be used afterwards.
        """
        self.env._queue.clear()
        rec = self.rec
        rec.events.clear()
        rec.labour.clear()
        rec.batches.clear()
        for rows in rec.timelines:
            rows.clear()
        for b in self.batches:
            for ps in b.procs:
                ps.process = None
                ps.unit = None
                ps.unit_wait = None
                ps.up_event = None
                ps.claim_event = None
                ps.prepared_event = None
                ps.labour_req = None
                ps.allocs = []
            b.procs = []
        for u in self.units:
            u.holder = None
            u.pool = None
        for pool in self.pools.values():
            pool.units = []
            pool.free = []
            pool.waiting = []
        self.labour.waiting.clear()

    def finish(self) -> EventLog:
        """Close open rows at the horizon and build the event log."""
        h = self.horizon
        for u in self.units:
            u.close(h)
        for b in self.batches:
            for ps in b.procs:
                if ps.allocs:
                    self.labour.close(ps.allocs, h)
                req = ps.labour_req
                if req is not None and req.event.triggered:
                    granted = cast(list[Alloc], req.event.value)
                    self.labour.close(granted, h)
        rows = self.rec.batches
        for b in self.batches:
            if not b.released:
                continue
            if b.status == ACTIVE:
                status = "in_progress" if b.start_h == b.start_h else "not_started"
            else:
                status = b.status
            rows.append(
                (
                    b.id,
                    b.order,
                    b.product,
                    b.recipe.id,
                    b.patient,
                    b.release_h,
                    b.start_h,
                    b.end_h if b.status != ACTIVE else math.nan,
                    b.due_h if b.due_h < INF else math.nan,
                    status,
                    b.recipe.batch_size if b.status == COMPLETED else 0.0,
                )
            )
        return self.rec.event_log(
            h, [u.id for u in self.units], self.site.epoch, self.site.id, self.seed
        )
