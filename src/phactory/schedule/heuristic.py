"""A dispatch heuristic: serial schedule generation with delays for maximum time lags.

Batches are taken one at a time in a priority order (release date, earliest due date or
order priority); the unit procedures of a batch are placed in topological order, each at
the earliest time at which a unit group of its class, the crews of its phases (within
their shifts) and the cleaning and changeover before the next user are all available:
the serial schedule-generation scheme of Kolisch [1]_. A maximum time lag (a hold time,
a no-wait transfer) that the earliest start of a successor would break is repaired as in
schedule-construction procedures for generalised precedence constraints [2]_: the
predecessor's earliest start is pushed back by the excess and the batch is placed again.

Resources are kept as arrays over the integer time grain (free units per group, free
people per coupled skill set), so each placement is a few vectorised window scans.
On units whose changeovers are sequenced exactly, operations are only appended after
the last one, so that the changeover each needs is known when it is placed.

The result is a feasible schedule (for the same model the CP-SAT solver uses), which is
the solver's warm start and its fallback. Any other dispatcher (such as the twin's) can
give its schedule to the solver through the same :class:`~phactory.schedule.problem.Timing`
interface.

References
----------
.. [1] R. Kolisch (1996). Serial and parallel resource-constrained project scheduling
   methods revisited: theory and computation. *European Journal of Operational Research*
   90(2), 320-333.
.. [2] B. Franck, K. Neumann, C. Schwindt (2001). Truncated branch-and-bound,
   schedule-construction, and schedule-improvement procedures for resource-constrained
   project scheduling. *OR Spektrum* 23, 297-324.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from phactory.schedule.problem import Op, Piece, Problem, Timing

__all__ = ["DispatchOrder", "HeuristicError", "dispatch"]

DispatchOrder = Literal["release", "edd", "priority"]


_MAX_RESTARTS = 400
_MAX_TRIES = 20000

IntArray = npt.NDArray[np.int32]


class HeuristicError(RuntimeError):
    """The dispatch heuristic found no feasible place for an operation."""


class _Fail(Exception):
    def __init__(self, next_t: int) -> None:
        super().__init__(next_t)
        self.next_t = next_t


class _State:
    """Free units per group and free people per labour group, over the grain."""

    def __init__(self, problem: Problem) -> None:
        self.p = problem
        n = problem.horizon + 1
        self.n = n
        self.units: list[IntArray] = []
        for g in problem.groups:
            arr = np.full(n, g.capacity, dtype=np.int32)
            for a, b in g.blocks:
                arr[max(a, 0) : max(min(b, n), 0)] = 0
            self.units.append(arr)
        self.people: list[IntArray] = []
        for lg in problem.labour:
            arr = np.zeros(n, dtype=np.int32)
            for a, b, c in lg.profile:
                arr[max(a, 0) : max(min(b, n), 0)] = c
            self.people.append(arr)
        self.tail: dict[int, tuple[str | None, int]] = {
            g.idx: g.initial for g in problem.groups if g.changeover == "circuit"
        }

    # -- booking --------------------------------------------------------------------

    def occupancy(self, op: Op, t: Timing) -> tuple[int, int]:
        pad = self.p.pad.get((t.group, op.product), 0)
        return t.start - t.setup, t.end + op.clean + pad

    def book(self, op: Op, t: Timing, sign: int = -1) -> None:
        a, b = self.occupancy(op, t)
        self.units[t.group][max(a, 0) : b] += sign
        for seg in self.p.op_segments(op, t):
            if seg.needs:
                for lg, dem in self.p.demands(seg.needs):
                    self.people[lg][seg.start : seg.end] += sign * dem

    # -- searching ------------------------------------------------------------------

    def _fit_fixed(self, piece: Piece, lo: int, hi: int | None) -> int:
        """Earliest start in ``[lo, hi]`` at which the piece's crews are free."""
        x = lo
        crews = [(part, self.p.demands(part.needs)) for part in piece.parts if part.needs]
        if not crews:
            if hi is not None and x > hi:
                raise _Fail(x)
            return x
        for _ in range(_MAX_TRIES):
            if hi is not None and x > hi:
                raise _Fail(x)
            moved = False
            for part, dems in crews:
                a = x + part.offset
                b = a + part.length
                if b > self.n:
                    raise HeuristicError("the schedule runs past the end of the calendar")
                for lg, dem in dems:
                    bad = np.flatnonzero(self.people[lg][a:b] < dem)
                    if bad.size:
                        x = a + int(bad[-1]) + 1 - part.offset
                        moved = True
                        break
                if moved:
                    break
            if not moved:
                return x
        raise HeuristicError("no staffed time found for a phase")

    def _fit_chunks(
        self, piece: Piece, lo: int, hi: int | None
    ) -> tuple[int, tuple[tuple[int, int], ...]]:
        """Chunks of a pausable labour portion from the earliest staffed time in [lo, hi]."""
        dems = self.p.demands(piece.parts[0].needs)
        pause = self.p.max_pause
        span = piece.length + piece.max_chunks * (pause + 1) + 1
        x = lo
        for _ in range(_MAX_TRIES):
            if hi is not None and x > hi:
                raise _Fail(x)
            b = min(x + span, self.n)
            if b - x < piece.length:
                raise HeuristicError("the schedule runs past the end of the calendar")
            ok = np.ones(b - x, dtype=bool)
            for lg, dem in dems:
                ok &= self.people[lg][x:b] >= dem
            first = np.flatnonzero(ok)
            if not first.size:
                x = b
                continue
            start = x + int(first[0])
            if hi is not None and start > hi:
                raise _Fail(start)
            rel = start - x
            chunks: list[tuple[int, int]] = []
            left = piece.length
            pos = rel
            while left > 0 and len(chunks) < piece.max_chunks:
                stop = np.flatnonzero(~ok[pos:])
                run = int(stop[0]) if stop.size else len(ok) - pos
                run = min(run, left)
                chunks.append((x + pos, run))
                left -= run
                pos += run
                if left == 0:
                    break
                nxt = np.flatnonzero(ok[pos:])
                if not nxt.size or int(nxt[0]) > pause:
                    break
                pos += int(nxt[0])
            if left == 0:
                return start, tuple(chunks)
            x = start + max(chunks[0][1], 1)
        raise HeuristicError("no staffed time found for a pausable phase")

    def _pieces(
        self, op: Op, t: int
    ) -> tuple[int, int, list[tuple[int, tuple[tuple[int, int], ...]]]]:
        """Place the pieces from ``t``; return (start, end, piece timings)."""
        out: list[tuple[int, tuple[tuple[int, int], ...]]] = []
        cur = t
        start = t
        for k, piece in enumerate(op.template.pieces):
            hi = None if k == 0 else cur + (self.p.max_pause if piece.wait_before else 0)
            try:
                if piece.kind == "fixed":
                    x = self._fit_fixed(piece, cur, hi)
                    chunks: tuple[tuple[int, int], ...] = ()
                    end = x + piece.length
                else:
                    x, chunks = self._fit_chunks(piece, cur, hi)
                    end = chunks[-1][0] + chunks[-1][1]
            except _Fail as f:
                # A later piece cannot start in time: start the operation later.
                raise _Fail(start + max(1, f.next_t - (hi if hi is not None else cur))) from None
            if k == 0:
                start = x
            out.append((x, chunks))
            cur = end
        return start, cur, out

    def place_on(self, op: Op, g: int, t0: int) -> Timing:
        """Earliest placement of ``op`` on group ``g`` at or after ``t0``."""
        p = self.p
        group = p.groups[g]
        setup = 0
        lo = t0
        if group.changeover == "circuit":
            last, ready = self.tail[g]
            setup = p.changeover(group.equipment_class, last, op.product)
            lo = max(lo, ready + setup)
        tail = op.clean + p.pad.get((g, op.product), 0)
        units = self.units[g]
        t = lo
        for _ in range(_MAX_TRIES):
            try:
                start, end, pieces = self._pieces(op, t)
            except _Fail as f:
                t = max(f.next_t, t + 1)
                continue
            a, b = start - setup, end + tail
            if b > self.n:
                raise HeuristicError("the schedule runs past the end of the calendar")
            bad = np.flatnonzero(units[max(a, 0) : b] <= 0)
            if bad.size:
                t = max(a, 0) + int(bad[-1]) + 1 + setup
                continue
            return Timing(start, end, g, setup, pieces)
        raise HeuristicError(f"no place found for {op.procedure!r} on group {g}")

    def place(self, op: Op, t0: int) -> Timing:
        """Earliest-finishing placement over the candidate groups."""
        best: Timing | None = None
        for g in op.groups:
            try:
                tm = self.place_on(op, g, t0)
            except HeuristicError:
                continue
            if best is None or (tm.end, tm.start) < (best.end, best.start):
                best = tm
        if best is None:
            raise HeuristicError(
                f"no unit of class {op.equipment_class!r} can take {op.procedure!r} "
                "before the end of the calendar"
            )
        return best


def _batch_order(problem: Problem, rule: DispatchOrder | Sequence[str]) -> list[int]:
    inf = math.inf
    if not isinstance(rule, str):
        pos = {bid: i for i, bid in enumerate(rule)}
        fallback = _batch_order(problem, "release")
        rank = {b: i for i, b in enumerate(fallback)}
        return sorted(
            range(len(problem.batches)),
            key=lambda b: (pos.get(problem.batches[b].id, inf), rank[b]),
        )

    def key(b: int) -> tuple[float, ...]:
        o = problem.orders[problem.batches[b].order]
        due = float(o.due) if o.due is not None else inf
        if rule == "edd":
            return (due, o.release, -o.priority, b)
        if rule == "priority":
            return (-o.priority, o.release, due, b)
        return (o.release, due, -o.priority, b)

    return sorted(range(len(problem.batches)), key=key)


def dispatch(problem: Problem, rule: DispatchOrder | Sequence[str] = "release") -> list[Timing]:
    """A feasible schedule by serial schedule generation.

    Parameters
    ----------
    problem
        The scheduling problem.
    rule
        Batch order: ``release`` (release date, then due date), ``edd`` (earliest due
        date), ``priority`` (highest order priority first), or an explicit sequence of
        batch ids (e.g. the order in which the plant twin's dispatching started them);
        batches it does not name follow in release order.

    Returns
    -------
    list of Timing
        One per operation, indexed like ``problem.ops``; units are not yet assigned
        within pooled groups (see :func:`phactory.schedule.solution.assign_units`).

    Raises
    ------
    HeuristicError
        If some operation finds no place before the end of the calendar, or a hold time
        cannot be kept.
    """
    state = _State(problem)
    timings: list[Timing | None] = [None] * len(problem.ops)
    for op in problem.ops:
        if op.frozen is not None:
            timings[op.idx] = op.frozen
            state.book(op, op.frozen)
    for b in _batch_order(problem, rule):
        _place_batch(problem, state, problem.batches[b].ops, timings)
    out: list[Timing] = []
    for t in timings:
        assert t is not None
        out.append(t)
    return out


def _place_batch(
    problem: Problem, state: _State, op_ids: Sequence[int], timings: list[Timing | None]
) -> None:
    ops = problem.ops
    todo = [i for i in op_ids if ops[i].frozen is None]
    if not todo:
        return
    lb = {i: ops[i].release for i in todo}
    for _ in range(_MAX_RESTARTS):
        placed: list[int] = []
        tails: dict[int, tuple[str | None, int]] = {}
        failure: tuple[int, int] | None = None
        for i in todo:
            op = ops[i]
            t0 = lb[i]
            for p, mn, _mx in op.preds:
                tp = timings[p]
                assert tp is not None
                t0 = max(t0, tp.end + mn)
            tm = state.place(op, t0)
            for p, _mn, mx in op.preds:
                tp = timings[p]
                assert tp is not None
                if mx is not None and tm.start > tp.end + mx:
                    if ops[p].frozen is not None:
                        raise HeuristicError(
                            f"batch {problem.batches[op.batch].id}: {op.procedure!r} cannot "
                            f"start within {problem.h(mx):g} h of the frozen "
                            f"{ops[p].procedure!r}"
                        )
                    failure = (p, tm.start - (tp.end + mx))
                    break
            if failure is not None:
                break
            timings[i] = tm
            state.book(op, tm)
            g = problem.groups[tm.group]
            if g.changeover == "circuit":
                tails.setdefault(g.idx, state.tail[g.idx])
                state.tail[g.idx] = (op.product, tm.end + op.clean)
            placed.append(i)
        if failure is None:
            return
        p, excess = failure
        tp = timings[p]
        assert tp is not None
        lb[p] = max(lb[p], tp.start + excess)
        for i in reversed(placed):
            t = timings[i]
            assert t is not None
            state.book(ops[i], t, sign=+1)
            timings[i] = None
        for g_idx, tail in tails.items():
            state.tail[g_idx] = tail
    raise HeuristicError(
        f"batch {problem.batches[ops[todo[0]].batch].id}: the hold times (maximum lags) "
        f"could not be kept after {_MAX_RESTARTS} attempts"
    )
