"""Batches and their unit procedures, as SimPy processes.

A batch is released per the plan; each of its unit procedures (ISA-88) runs as one SimPy
process that

1. waits until it may claim a unit: when all predecessors are done plus ``min_lag``
   (or, for a procedure with a hold-time limit on an incoming link, ahead of time: when
   every predecessor has started its last phase, at the predecessors' expected end less
   the time to clean and change the unit over, so that the unit is ready when the
   intermediate is);
   a procedure whose output cannot wait (a successor linked with ``max_lag`` and
   ``on_breach: scrap``) first has that successor claim and prepare its unit, so that
   a busy destination delays the source rather than losing the batch;
2. claims a unit of its class through the class's :class:`~phactory.twin.dispatch.ClassPool`;
3. cleans the unit if its clean hold ran out, changes it over if the product changes;
4. waits for its predecessors (``waiting_upstream``), then runs its phases in order,
   each taking its sampled duration, claiming people (``waiting_labour``) and utilities,
   interrupted by failures of the unit (``down``, the phase resumes after repair), and
   possibly losing the batch (``failure_probability``);
5. releases the unit, which is cleaned, and starts the successors.

A maximum time lag between procedures is checked when the successor starts its first
phase: a breach is a ``deviation`` event; with ``on_breach: scrap`` the batch is
scrapped as soon as the limit passes (a timer), its other running procedures are
interrupted, their people released and their units released and cleaned.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, Final, cast

import simpy

from phactory.twin.hybrid import phase_cqas
from phactory.twin.labour import Alloc, LabourPool, LabourRequest, Team
from phactory.twin.recipe import LabourNeed, PhaseSpec, ProcSpec, RecipeSpec
from phactory.twin.recorder import Ctx

if TYPE_CHECKING:
    from phactory.twin.dispatch import Assignment, ClassPool
    from phactory.twin.engine import Run
    from phactory.twin.equipment import UnitState

__all__ = ["BatchState", "ProcState", "run_procedure"]

EPS: Final[float] = 1e-9
#: Tolerance on time lags [h] (3.6 s): a successor starting exactly at the limit is fine.
LAG_TOL: Final[float] = 1e-3
INF: Final[float] = math.inf

ACTIVE: Final = "active"
COMPLETED: Final = "completed"
SCRAPPED: Final = "scrapped"


class BatchState:
    """One batch during a run."""

    __slots__ = (
        "bctx",
        "due_h",
        "durations",
        "end_h",
        "id",
        "index",
        "n_done",
        "offset",
        "order",
        "patient",
        "priority",
        "procs",
        "product",
        "recipe",
        "release_h",
        "released",
        "scrap_u",
        "start_h",
        "status",
    )

    def __init__(
        self,
        batch_id: str,
        index: int,
        order: str,
        recipe: RecipeSpec,
        patient: str | None,
        release_h: float,
        due_h: float,
        priority: int,
    ) -> None:
        self.id = batch_id
        self.index = index
        self.order = order
        self.product = recipe.product
        self.recipe = recipe
        self.patient = patient
        self.release_h = release_h
        self.due_h = due_h
        self.priority = priority
        self.bctx = (batch_id, order, recipe.product)
        self.status = ACTIVE
        self.released = False
        self.start_h = math.nan
        self.end_h = math.nan
        self.n_done = 0
        self.offset = 0
        self.durations: list[float] = []
        self.scrap_u: list[float] | None = None
        self.procs = [ProcState(self, spec) for spec in recipe.procs]


class ProcState:
    """One unit procedure of one batch: the request a dispatching rule orders.

    Attributes a :class:`~phactory.twin.dispatch.DispatchRule` or
    :class:`~phactory.twin.dispatch.UnitPolicy` may read: ``batch`` (with ``id``,
    ``product``, ``due_h``, ``priority``, ``release_h``), ``spec`` (with ``id``,
    ``equipment_class``, ``mean_h`` and ``lead_h``), ``t_request`` (when the unit was
    requested [h]) and ``planned`` (its :class:`~phactory.twin.dispatch.Assignment`
    under a plan of record).
    """

    __slots__ = (
        "allocs",
        "batch",
        "claim_at",
        "claim_event",
        "ctx",
        "end_h",
        "entered",
        "expect",
        "key",
        "labour_req",
        "n_done",
        "n_hint",
        "n_push",
        "planned",
        "prepared",
        "prepared_event",
        "prepping",
        "process",
        "push_ready",
        "ready",
        "repair_ctx",
        "repair_end",
        "spec",
        "start_h",
        "started",
        "t_request",
        "unit",
        "unit_wait",
        "up_event",
        "used",
    )

    def __init__(self, batch: BatchState, spec: ProcSpec) -> None:
        self.batch = batch
        self.spec = spec
        self.ctx: Ctx = (*batch.bctx, spec.id, None)
        self.n_done = 0
        self.n_hint = 0
        self.n_push = 0
        self.push_ready = 0.0
        self.ready = 0.0
        self.expect = 0.0
        self.claim_at = 0.0
        self.claim_event: simpy.Event | None = None
        self.process: simpy.Process | None = None
        self.entered = False
        self.started = False
        self.used = False
        self.prepping = False
        self.prepared = False
        self.prepared_event: simpy.Event | None = None
        self.start_h = math.nan
        self.end_h = math.nan
        self.t_request = 0.0
        self.key: tuple[float, ...] = ()
        self.unit: UnitState | None = None
        self.unit_wait: simpy.Event | None = None
        self.up_event: simpy.Event | None = None
        self.labour_req: LabourRequest | None = None
        self.allocs: list[Alloc] = []
        self.repair_end = -INF
        self.repair_ctx: Ctx = self.ctx
        self.planned: Assignment | None = None


def run_procedure(run: Run, ps: ProcState) -> Generator[simpy.Event, Any, None]:
    """The SimPy process of one unit procedure of one batch (see the module docstring)."""
    # The annotations of locals type them in the compiled build (C doubles, C fields).
    b: BatchState = ps.batch
    spec: ProcSpec
    unit: UnitState | None
    ph: PhaseSpec
    labour: LabourPool
    d: float
    now: float
    remaining: float
    seg: float
    end: float
    team: Team
    n: LabourNeed
    eps: float = EPS  # a C double when compiled: comparisons stay in C
    ps.entered = True
    if b.status != ACTIVE:
        return
    # One generator for the whole procedure: a nested ``yield from`` would add a frame
    # switch to every resumption. A scrapped batch's procedures are interrupted and
    # undo what they hold in ``_abort``.
    try:
        env = run.env
        spec = ps.spec
        timeout = env.timeout
        pool: ClassPool = run.pools[spec.equipment_class]
        if ps.claim_at > env._now + eps:
            if ps.planned is not None and spec.claim_ahead:
                # Under a plan of record its input may come early and wake it sooner.
                ps.claim_event = simpy.Event(env)
                run.wake_at(ps.claim_event, ps.claim_at)
                yield ps.claim_event
                ps.claim_event = None
            else:
                yield timeout(ps.claim_at - env._now)
        if spec.gates and run.lookahead:
            # Secure the units of successors that cannot wait for this one's output.
            for si in spec.gates:
                s = b.procs[si]
                if not s.prepared:
                    run.spawn(s, env._now)
                    if s.prepared_event is None:
                        s.prepared_event = simpy.Event(env)
                    yield s.prepared_event

        # -- claim a unit -----------------------------------------------------------------
        unit = pool.request(ps)
        if unit is None:
            granted = ps.unit_wait
            assert granted is not None
            unit = yield granted
        ps.unit_wait = None
        product = b.product
        pctx = ps.ctx

        # -- prepare it: re-clean past the clean hold, change over to this product --------
        if unit.needs_cleaning(product, env._now, pctx):
            ps.prepping = True
            if unit.clean_h > 0.0:
                unit.set("cleaning", env._now, pctx)
                yield timeout(unit.clean_h)
            unit.cleaned(env._now)
        co = unit.changeover(product)
        if co > 0.0:
            ps.prepping = True
            unit.set("setup", env._now, pctx)
            yield timeout(co)
        unit.last_product = product
        ps.prepared = True
        if ps.prepared_event is not None:
            ps.prepared_event.succeed()

        # -- wait for the predecessors and their minimum lags ------------------------------
        if ps.n_done < spec.n_preds:
            unit.set("waiting_upstream", env._now, pctx)
            ps.up_event = simpy.Event(env)
            yield ps.up_event
        if ps.ready > env._now + eps:
            unit.set("waiting_upstream", env._now, pctx)
            yield timeout(ps.ready - env._now)

        # -- phases -----------------------------------------------------------------------
        durations = b.durations
        scrap_u = b.scrap_u
        labour = run.labour
        events = run.rec.events
        uid = unit.id
        bid, oid, prod = bctx = b.bctx
        proc_id = spec.id
        last = spec.phases[-1]
        first = True
        for ph in spec.phases:
            dv = durations[ph.index]  # the float object itself goes into the rows
            d = dv
            pid = ph.id
            ctx: Ctx = bctx + ph.names  # type: ignore[assignment]
            now = env._now
            if ph.draws:
                for ui, amount in ph.draws:
                    wait = run.utilities[ui].draw(amount, now)
                    if wait > eps:
                        unit.set("waiting_upstream", now, ctx)
                        yield timeout(wait)
                        now = env._now
            if not ph.needs:
                # Fast path: nobody to wait for, one timeout unless the unit fails.
                if first:
                    first = False
                    run.proc_started(ps, unit, now)
                    if b.status != ACTIVE:
                        _release_unit(ps, unit, now)
                        return
                    ps.used = True
                events.append((now, "phase_started", uid, bid, oid, prod, proc_id, pid, dv, None))
                if ph is last:
                    run.last_phase_started(ps, now + d)
                unit.set("producing", now, ctx)
                remaining = d
                while unit.ttf < remaining:
                    ttf = unit.ttf
                    yield timeout(ttf)
                    remaining -= ttf
                    unit.ttf = 0.0
                    yield from _breakdown(run, ps, unit, ctx)
                    unit.set("producing", env._now, ctx)
                unit.ttf -= remaining
                yield timeout(remaining)
                now = env._now
            else:
                # People are needed: a setup-scope requirement only for its first hours.
                needs: list[list[Any]] = []
                for n in ph.needs:
                    setup = n.setup_h
                    needs.append([n, d if setup is None or setup > d else setup])
                continuous = ph.continuous
                remaining = d
                started = False
                allocs = ps.allocs
                open_needs = len(needs)
                lctx = (bid, uid, pid)
                while True:
                    if allocs and not continuous:
                        # A pausable phase is worked only while its crew is on shift.
                        for a in allocs:
                            team = a[0]
                            if not team.on_shift(now):
                                labour.release(allocs, now)
                                allocs = ps.allocs = []
                                break
                    if open_needs and not allocs:
                        grant = labour.allocate(needs, continuous, now, lctx)
                        if grant is None:
                            unit.set("waiting_labour", now, ctx)
                            req = LabourRequest(
                                ps.key, needs, continuous, simpy.Event(env), ph.mask, lctx
                            )
                            ps.labour_req = req
                            labour.wait(req)
                            grant = yield req.event
                            ps.labour_req = None
                            now = env._now
                        allocs = ps.allocs = grant
                    if not started:
                        started = True
                        if first:
                            first = False
                            run.proc_started(ps, unit, now)
                            if b.status != ACTIVE:
                                # The start breached a max lag with on_breach scrap.
                                labour.release(allocs, now)
                                ps.allocs = []
                                _release_unit(ps, unit, now)
                                return
                            ps.used = True
                        events.append(
                            (now, "phase_started", uid, bid, oid, prod, proc_id, pid, dv, None)
                        )
                        if ph is last:
                            run.last_phase_started(ps, now + remaining)
                    unit.set("producing", now, ctx)
                    seg = remaining
                    for a in allocs:
                        left = needs[a[1]][1]
                        if left < seg:
                            seg = left
                        if not continuous:
                            team = a[0]
                            end = team.shift_end(now) - now
                            if end < seg:
                                seg = end
                    fail = unit.ttf < seg
                    if fail:
                        seg = unit.ttf
                    if seg > 0.0:
                        yield timeout(seg)
                        now = env._now
                    remaining -= seg
                    unit.ttf -= seg
                    if allocs:
                        done = 0
                        for entry in needs:
                            if entry[1] > eps:
                                entry[1] -= seg
                                if entry[1] <= eps:
                                    done += 1
                        if done:
                            open_needs -= done
                            if not open_needs:
                                labour.release(allocs, now)
                                allocs = ps.allocs = []
                            else:
                                keep = [a for a in allocs if needs[a[1]][1] > eps]
                                labour.release([a for a in allocs if needs[a[1]][1] <= eps], now)
                                allocs = ps.allocs = keep
                    if fail:
                        yield from _breakdown(run, ps, unit, ctx)
                        now = env._now
                    if remaining <= eps:
                        break
                if allocs:
                    labour.release(allocs, now)
                    allocs = ps.allocs = []
            events.append((now, "phase_completed", uid, bid, oid, prod, proc_id, pid, dv, None))
            if ph.modelled:
                outcome = phase_cqas(ph.model, run.seed, bid, run.deterministic)
                for name, value in outcome.cpps.items():
                    events.append(
                        (now, "process_value", uid, bid, oid, prod, proc_id, pid, value, name)
                    )
                for name, value in outcome.values.items():
                    events.append((now, "cqa", uid, bid, oid, prod, proc_id, pid, value, name))
                if outcome.failed is not None:
                    run.scrap(
                        b,
                        f"CQA {outcome.failed!r} out of limits after phase {pid!r} "
                        f"(model {ph.model.process_model!r})",
                        ps,
                        uid,
                        ctx,
                    )
                    _release_unit(ps, unit, now)
                    return
            p = ph.failure_probability
            if p > 0.0 and scrap_u is not None and scrap_u[ph.index] < p:
                run.scrap(b, f"lost in phase {pid!r} (failure probability {p:g})", ps, uid, ctx)
                _release_unit(ps, unit, now)
                return

        # -- done -------------------------------------------------------------------------
        now = env._now
        events.append((now, "procedure_completed", uid, *pctx, now - ps.start_h, None))
        _release_unit(ps, unit, now)
        run.proc_done(ps, now)
    except simpy.Interrupt:
        _abort(run, ps)


def _breakdown(
    run: Run, ps: ProcState, unit: UnitState, ctx: Ctx
) -> Generator[simpy.Event, Any, None]:
    """The unit failed mid-phase: down for a repair, then the phase resumes."""
    env = run.env
    clock = unit.clock
    assert clock is not None
    now = env._now
    repair = clock.next_repair()
    run.rec.events.append((now, "failure", unit.id, *ctx, repair, None))
    unit.set("down", now, ctx)
    ps.repair_end = now + repair
    ps.repair_ctx = ctx
    yield env.timeout(repair)
    _repaired(run, unit, ctx, repair)


def _repaired(run: Run, unit: UnitState, ctx: Ctx, repair: float) -> None:
    """The repair is done: the unit is as good as new (a fresh time to failure)."""
    clock = unit.clock
    assert clock is not None
    unit.ttf = clock.next_ttf()
    run.rec.events.append((run.env._now, "repair", unit.id, *ctx, repair, None))


def _release_unit(ps: ProcState, unit: UnitState, now: float) -> None:
    ps.unit = None
    unit.release(now, ps.used or ps.prepping, ps.ctx)


def _abort(run: Run, ps: ProcState) -> None:
    """Undo what an interrupted (scrapped) procedure holds or waits for."""
    now = run.env._now
    if ps.unit_wait is not None:
        if ps.unit_wait.triggered:
            ps.unit = ps.unit_wait.value
        else:
            run.pools[ps.spec.equipment_class].cancel(ps)
        ps.unit_wait = None
    req = ps.labour_req
    if req is not None:
        if req.event.triggered:
            granted_allocs = cast(list[Alloc], req.event.value)
            run.labour.release(granted_allocs, now)
        else:
            run.labour.cancel(req)
        ps.labour_req = None
    if ps.allocs:
        run.labour.release(ps.allocs, now)
        ps.allocs = []
    unit = ps.unit
    if unit is None:
        return
    if ps.repair_end > now + EPS and unit.state == "down":
        # The repair goes on without the batch; the unit is cleaned afterwards.
        ps.unit = None
        used = ps.used or ps.prepping
        ctx = ps.ctx
        fail_ctx = ps.repair_ctx
        repair = ps.repair_end - unit.t0

        def repaired(_ev: simpy.Event) -> None:
            _repaired(run, unit, fail_ctx, repair)
            unit.release(run.env._now, used, ctx)

        run.env.timeout(ps.repair_end - now).callbacks.append(repaired)
        return
    _release_unit(ps, unit, now)
