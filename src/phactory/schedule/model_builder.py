"""The CP-SAT model of a pharmaceutical site's production schedule.

Variables and constraints, following the interval-based formulation of CP Optimizer
[1]_ as CP-SAT offers it [2]_, all times on the integer grain of :mod:`.problem`.
:func:`build_model` adds them one section at a time, each function stating its
modelling choice:

=======================  ===============================================================
section                  function
=======================  ===============================================================
operations, release,     :func:`operation_variables`: start, end, pieces, chunks,
unit alternatives        alternative unit groups (occupancy with cleaning), crew
                         intervals
units and calendars      :func:`unit_capacity` (``NoOverlap`` / ``Cumulative`` with
                         maintenance and breakdowns), :func:`class_capacity`
                         (redundant)
crews and shifts         :func:`crew_capacity`
changeovers              :func:`changeover_sequences` (``add_circuit``)
precedences and lags     :func:`links`
due dates, objectives    :func:`due_dates` (makespan, tardiness, hard deadlines)
=======================  ===============================================================

Objectives: ``makespan`` (latest end of a final operation), ``tardiness`` (sum of
weighted order tardiness), ``changeovers`` (successor literals between different
products), combined lexicographically by :mod:`.solver`.

References
----------
.. [1] P. Laborie, J. Rogerie, P. Shaw, P. Vilim (2018). IBM ILOG CP Optimizer for
   scheduling. *Constraints* 23, 210-250.
.. [2] L. Perron, F. Didier, S. Gay (2023). The CP-SAT-LP solver. *29th International
   Conference on Principles and Practice of Constraint Programming (CP 2023)*, LIPIcs 280.
.. [3] E. Kondili, C. C. Pantelides, R. W. H. Sargent (1993). A general algorithm for
   short-term scheduling of batch operations - I. MILP formulation. *Computers &
   Chemical Engineering* 17(2), 211-227 (the batch-plant setting: units, holds, crews).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ortools.sat.python import cp_model

from phactory.schedule.objectives import ObjectiveName
from phactory.schedule.problem import Op, Problem, Timing

__all__ = ["BuiltModel", "build_model"]

Expr = Any  # cp_model linear expressions and integers


@dataclass
class _OpVars:
    start: Expr
    end: Expr
    setup: Expr
    presence: dict[int, Any]
    pieces: list[tuple[Expr, list[tuple[Any, Any]]]]
    aux: list[tuple[Any, Callable[[Timing], int]]] = field(default_factory=list)


@dataclass
class BuiltModel:
    """A CP-SAT model with handles on its variables."""

    model: cp_model.CpModel
    problem: Problem
    horizon: int
    ops: list[_OpVars]
    objectives: dict[str, Expr]
    arcs: dict[int, list[tuple[int, int, Any]]]
    makespan: Any
    tardiness: dict[int, Any]

    def objective(self, name: ObjectiveName) -> Expr:
        """The linear expression of an objective."""
        return self.objectives[name]

    # -- hints ----------------------------------------------------------------------

    def hint(self, timings: Sequence[Timing]) -> None:
        """Give a complete solution as the search's hint (warm start)."""
        m = self.model
        m.clear_hints()  # type: ignore[no-untyped-call]
        p = self.problem
        seen: dict[int, int] = {}

        def _hint(_m: cp_model.CpModel, var: Any, val: int) -> None:
            if isinstance(var, cp_model.IntVar) and var.index not in seen:
                seen[var.index] = val
                _m.add_hint(var, val)

        for op, v, t in zip(p.ops, self.ops, timings, strict=True):
            if op.frozen is not None:
                continue
            _hint(m, v.start, t.start)
            _hint(m, v.setup, t.setup)
            for g, lit in v.presence.items():
                _hint(m, lit, int(g == t.group))
            for (pstart, chunks), (tp, tchunks) in zip(v.pieces, t.pieces, strict=True):
                _hint(m, pstart, tp)
                padded = list(tchunks)
                last_end = tchunks[-1][0] + tchunks[-1][1] if tchunks else tp
                while len(padded) < len(chunks):
                    padded.append((last_end, 0))
                for (cs, cz), (a, z) in zip(chunks, padded, strict=True):
                    _hint(m, cs, a)
                    _hint(m, cz, z)
            for var, fn in v.aux:
                _hint(m, var, fn(t))
        # Successor literals from the sequences.
        for g, arcs in self.arcs.items():
            seq = sorted(
                (i for i, t in enumerate(timings) if t.group == g and p.ops[i].frozen is None),
                key=lambda i: timings[i].start,
            )
            used = set()
            if seq:
                used.add((-1, seq[0]))
                used.add((seq[-1], -1))
                used.update(itertools.pairwise(seq))
            else:
                used.add((-1, -1))
            on = set(seq)
            for i, j, lit in arcs:
                if i == j and i >= 0:
                    _hint(m, lit, int(i not in on))
                else:
                    _hint(m, lit, int((i, j) in used))
        ms = max((t.end for op, t in zip(p.ops, timings, strict=True) if op.final), default=0)
        _hint(m, self.makespan, ms)
        for o, var in self.tardiness.items():
            order = p.orders[o]
            assert order.due is not None
            end = max(
                timings[i].end for b in order.batches for i in p.batches[b].ops if p.ops[i].final
            )
            _hint(m, var, max(0, end - order.due))

    # -- reading ----------------------------------------------------------------------

    def read(self, value: Callable[[Any], int]) -> list[Timing]:
        """Timings of a solution; ``value`` is ``solver.value`` (or a callback's ``value``)."""
        out: list[Timing] = []
        for op, v in zip(self.problem.ops, self.ops, strict=True):
            if op.frozen is not None:
                out.append(op.frozen)
                continue
            group = (
                next((g for g, lit in v.presence.items() if value(lit)), op.groups[0])
                if len(v.presence) > 1
                else op.groups[0]
            )
            pieces = []
            for pstart, chunks in v.pieces:
                cs = tuple((int(value(c)), int(value(z))) for c, z in chunks)
                cs = tuple(ch for ch in cs if ch[1] > 0)
                pieces.append((int(value(pstart)), cs))
            out.append(
                Timing(
                    start=int(value(v.start)),
                    end=int(value(v.end)),
                    group=group,
                    setup=int(value(v.setup)),
                    pieces=pieces,
                )
            )
        return out


def _ancestors(problem: Problem) -> dict[int, set[int]]:
    anc: dict[int, set[int]] = {}
    for op in problem.ops:  # topological within each batch
        s: set[int] = set()
        for p, _mn, _mx in op.preds:
            s.add(p)
            s |= anc[p]
        anc[op.idx] = s
    return anc


@dataclass
class _Resources:
    """Intervals collected per resource while the operations are built."""

    problem: Problem
    model: cp_model.CpModel
    units: dict[int, list[tuple[Any, int]]]
    crews: dict[int, list[tuple[Any, int]]]
    class_any: dict[str, list[Any]] = field(default_factory=dict)

    def crew(self, start: Expr, size: Expr, end: Expr, needs: Any, name: str) -> None:
        """An interval holding ``needs`` people, counted in each labour group it draws on."""
        dems = self.problem.demands(needs)
        if not dems:
            return
        m = self.model
        if isinstance(size, int):
            iv = m.new_fixed_size_interval_var(start, size, name)
        else:
            iv = m.new_interval_var(start, size, end, name)
        for lg, dem in dems:
            self.crews[lg].append((iv, dem))


def build_model(
    problem: Problem,
    *,
    horizon: int | None = None,
    upper_bounds: dict[str, int] | None = None,
) -> BuiltModel:
    """Build the CP-SAT model, one section at a time (see the module docstring).

    Parameters
    ----------
    problem
        The scheduling problem.
    horizon
        Upper bound of every time variable [grains]; by default the problem's.
    upper_bounds
        ``objective -> bound`` constraints (e.g. the value of an earlier lexicographic
        stage, or of the warm start).

    Returns
    -------
    BuiltModel
    """
    H = horizon if horizon is not None else problem.horizon
    m = cp_model.CpModel()
    res = _Resources(
        problem,
        m,
        units={g.idx: [] for g in problem.groups},
        crews={lg.idx: [] for lg in problem.labour},
    )
    ops_vars = operation_variables(m, problem, H, res)
    unit_capacity(m, problem, H, res.units)
    class_capacity(m, problem, res.class_any)
    crew_capacity(m, problem, H, res.crews)
    arcs, changeover_terms = changeover_sequences(m, problem, ops_vars)
    links(m, problem, ops_vars)
    makespan, tard, tardiness_terms = due_dates(m, problem, H, ops_vars)
    objectives: dict[str, Expr] = {
        "makespan": makespan,
        "tardiness": sum(tardiness_terms) if tardiness_terms else 0,
        "changeovers": sum(changeover_terms) if changeover_terms else 0,
    }
    for name, bound in (upper_bounds or {}).items():
        expr = objectives[name]
        if not isinstance(expr, int):
            m.add(expr <= bound)
    return BuiltModel(m, problem, H, ops_vars, objectives, arcs, makespan, tard)


def operation_variables(m: cp_model.CpModel, p: Problem, H: int, res: _Resources) -> list[_OpVars]:
    """Start, end, pieces and unit alternatives of every operation.

    Modelling choice
        An operation's start ``S`` lies in ``[release, H - length]`` (its order's
        release, or the reschedule time). Its pieces are chained: a fixed piece has a
        fixed length; a pause of at most ``max_pause`` may precede a piece that starts
        with a phase whose crew is not always on duty; a chunked piece is
        ``max_chunks`` intervals ``(c_j, z_j)`` in order, at most ``max_pause`` apart,
        with ``sum z_j`` = its labour portion. For each candidate unit group an
        optional *occupancy* interval ``[S - setup, E + cleaning + pad_g)`` with
        presence ``x_g``, ``sum_g x_g = 1`` (alternative resources [1]_): cleaning right
        after the batch is the extension of the occupancy. Every stretch of a phase that
        holds people is a crew interval. A frozen operation is fixed intervals.
    """
    needs_setup = {
        i
        for i, op in enumerate(p.ops)
        if op.frozen is None and any(p.groups[g].changeover == "circuit" for g in op.groups)
    }
    out: list[_OpVars] = []
    for op in p.ops:
        if op.frozen is not None:
            out.append(_frozen(m, p, op, res))
        else:
            out.append(_operation(m, p, op, H, op.idx in needs_setup, res))
    return out


def unit_capacity(
    m: cp_model.CpModel, p: Problem, H: int, intervals: dict[int, list[tuple[Any, int]]]
) -> None:
    """Units: one batch at a time on a unit, at most ``capacity`` in a pooled group.

    Modelling choice
        A single-unit group is a ``NoOverlap`` of its occupancies, a pool of identical
        units a ``Cumulative`` of capacity = its size; maintenance windows and
        breakdowns are fixed intervals taking the whole group.
    """
    for g in p.groups:
        blocks = []
        for a, b in g.blocks:
            a, b = max(a, 0), min(b, H)
            if b <= a:
                continue
            blocks.append(m.new_fixed_size_interval_var(a, b - a, f"blk{g.idx}"))
        items = intervals[g.idx]
        if not items:
            continue
        if g.capacity == 1:
            m.add_no_overlap([iv for iv, _ in items] + blocks)
        else:
            m.add_cumulative(
                [iv for iv, _ in items] + blocks,
                [d for _, d in items] + [g.capacity] * len(blocks),
                g.capacity,
            )


def class_capacity(m: cp_model.CpModel, p: Problem, class_any: dict[str, list[Any]]) -> None:
    """Redundant: at most the class's number of units busy at once.

    Modelling choice
        For a class split into several groups, one "any unit" interval per operation
        (processing and cleaning) in a ``Cumulative`` of capacity = the class's units,
        so that propagation sees the aggregate capacity the groups split up.
    """
    for cls, ivs in class_any.items():
        n_units = sum(g.capacity for g in p.groups if g.equipment_class == cls)
        if len([g for g in p.groups if g.equipment_class == cls]) > 1 and len(ivs) > n_units:
            m.add_cumulative(ivs, [1] * len(ivs), n_units)


def crew_capacity(
    m: cp_model.CpModel, p: Problem, H: int, intervals: dict[int, list[tuple[Any, int]]]
) -> None:
    """Crews: people held never exceed the headcount on duty of each coupled skill set.

    Modelling choice
        A ``Cumulative`` of capacity = the largest headcount ever on duty, with fixed
        intervals taking up ``capacity - on duty`` outside shifts, on holidays and in
        breaks; a phase can therefore only be worked while enough people are on shift.
    """
    for lg in p.labour:
        items = intervals[lg.idx]
        if not items:
            continue
        blocks = []
        dems = []
        for a, b, c in lg.profile:
            a, b = max(a, 0), min(b, H)
            if b <= a or c >= lg.cmax:
                continue
            blocks.append(m.new_fixed_size_interval_var(a, b - a, f"off{lg.idx}"))
            dems.append(lg.cmax - c)
        m.add_cumulative([iv for iv, _ in items] + blocks, [d for _, d in items] + dems, lg.cmax)


def changeover_sequences(
    m: cp_model.CpModel, p: Problem, ops_vars: list[_OpVars]
) -> tuple[dict[int, list[tuple[int, int, Any]]], list[Any]]:
    """Product sequences on ``circuit`` groups and the product changes they count.

    Modelling choice
        Successor literals ``a_ij`` with ``add_circuit`` (a depot node for the first and
        last operation) order the operations; ``a_ij`` implies ``setup_j = D(p_i, p_j)``
        and ``S_j - setup_j >= E_i + cleaning_i``. On ``pad`` groups the longest
        changeover the product may need is already reserved in the occupancy.

    Returns
    -------
    (dict, list)
        Arcs ``(i, j, literal)`` per circuit group (-1 is the depot), and the literals
        of arcs between different products (the changeovers objective).
    """
    arcs = _circuits(m, p, ops_vars)
    terms: list[Any] = []
    for g_idx, lst in arcs.items():
        init = p.groups[g_idx].initial[0]
        for i, j, lit in lst:
            if j < 0 or i == j:
                continue
            prev = init if i < 0 else p.ops[i].product
            if prev is not None and prev != p.ops[j].product:
                terms.append(lit)
    return arcs, terms


def links(m: cp_model.CpModel, p: Problem, ops_vars: list[_OpVars]) -> None:
    """Links between unit procedures of a batch, with their lags.

    Modelling choice
        ``S_succ >= E_pred + min_lag`` and, for hold times and no-wait transfers,
        ``S_succ <= E_pred + max_lag``; links between two frozen operations are facts.
    """
    for op in p.ops:
        v = ops_vars[op.idx]
        for pr, mn, mx in op.preds:
            u = ops_vars[pr]
            if op.frozen is not None and p.ops[pr].frozen is not None:
                continue
            m.add(v.start >= u.end + mn)
            if mx is not None:
                m.add(v.start <= u.end + mx)


def due_dates(
    m: cp_model.CpModel, p: Problem, H: int, ops_vars: list[_OpVars]
) -> tuple[Any, dict[int, Any], list[Any]]:
    """Makespan, tardiness per order, and hard deadlines.

    Modelling choice
        ``makespan >= E`` of final operations; per order with a due date
        ``T_o >= E - due``, ``T_o >= 0`` over its batches' final operations, weighted by
        the order's weight in the objective; with hard deadlines also ``E <= due``.

    Returns
    -------
    (makespan, dict, list)
        The makespan variable, ``order -> T_o``, and the weighted tardiness terms.
    """
    finals = [ops_vars[op.idx].end for op in p.ops if op.final]
    makespan = m.new_int_var(0, H, "makespan")
    for e in finals:
        m.add(makespan >= e)
    tard: dict[int, Any] = {}
    terms = []
    for order in p.orders:
        if order.due is None:
            continue
        ends = [ops_vars[i].end for b in order.batches for i in p.batches[b].ops if p.ops[i].final]
        t = m.new_int_var(0, H, f"tard_{order.idx}")
        for e in ends:
            m.add(t >= e - order.due)
            if p.deadlines:
                m.add(e <= order.due)
        tard[order.idx] = t
        terms.append(order.weight * t)
    return makespan, tard, terms


def _frozen(m: cp_model.CpModel, p: Problem, op: Op, res: _Resources) -> _OpVars:
    t = op.frozen
    assert t is not None
    pad = p.pad.get((t.group, op.product), 0)
    a, b = t.start - t.setup, t.end + op.clean + pad
    iv = m.new_fixed_size_interval_var(a, b - a, f"frz{op.idx}")
    res.units[t.group].append((iv, 1))
    res.class_any.setdefault(op.equipment_class, []).append(iv)
    for seg in p.op_segments(op, t):
        if seg.needs and seg.end > seg.start:
            res.crew(seg.start, seg.end - seg.start, seg.end, seg.needs, f"fc{op.idx}")
    return _OpVars(t.start, t.end, t.setup, {}, [])


def _operation(
    m: cp_model.CpModel, p: Problem, op: Op, H: int, with_setup: bool, res: _Resources
) -> _OpVars:
    i = op.idx
    tpl = op.template
    start = m.new_int_var(op.release, max(op.release, H - tpl.min_length), f"s{i}")
    pieces: list[tuple[Expr, list[tuple[Any, Any]]]] = []
    cur_end: Expr = start
    aux: list[tuple[Any, Callable[[Timing], int]]] = []
    for k, piece in enumerate(tpl.pieces):
        if k == 0:
            ps: Expr = start
        elif not piece.wait_before:
            ps = cur_end
        else:
            ps = m.new_int_var(0, H, f"p{i}_{k}")
            m.add(ps >= cur_end)
            m.add(ps <= cur_end + p.max_pause)
        if piece.kind == "fixed":
            for part in piece.parts:
                if part.needs:
                    res.crew(
                        ps + part.offset,
                        part.length,
                        ps + part.offset + part.length,
                        part.needs,
                        f"c{i}",
                    )
            pieces.append((ps, []))
            cur_end = ps + piece.length
        else:
            chunks: list[tuple[Any, Any]] = []
            prev_end: Expr | None = None
            for j in range(piece.max_chunks):
                c = ps if j == 0 else m.new_int_var(0, H, f"k{i}_{k}_{j}")
                z = m.new_int_var(0, piece.length, f"z{i}_{k}_{j}")
                if prev_end is not None:
                    m.add(c >= prev_end)
                    m.add(c <= prev_end + p.max_pause)
                e = m.new_int_var(0, H, f"ke{i}_{k}_{j}")
                m.add(e == c + z)
                res.crew(c, z, e, piece.parts[0].needs, f"ck{i}")
                aux.append((e, _chunk_end(k, j)))
                chunks.append((c, z))
                prev_end = e
            m.add(sum(z for _, z in chunks) == piece.length)
            pieces.append((ps, chunks))
            assert prev_end is not None
            cur_end = prev_end
    end = cur_end
    setup: Expr = 0
    occ_start: Expr = start
    if with_setup:
        max_setup = max(
            (d for (cls, _a, _b), d in p.changeovers.items() if cls == op.equipment_class),
            default=0,
        )
        setup = m.new_int_var(0, max_setup, f"su{i}")
        occ_start = m.new_int_var(-max_setup, H, f"os{i}")
        m.add(occ_start == start - setup)
        aux.append((occ_start, lambda t: t.start - t.setup))
    fixed = tpl.fixed_length
    presence: dict[int, Any] = {}
    if len(op.groups) > 1:
        for g in op.groups:
            presence[g] = m.new_bool_var(f"x{i}_{g}")
        m.add_exactly_one(presence.values())
    for g in op.groups:
        group = p.groups[g]
        lit = presence.get(g)
        tail = op.clean + p.pad.get((g, op.product), 0)
        occ_end = end + tail
        if fixed is not None and not with_setup:
            size: Expr = fixed + tail
        else:
            size = m.new_int_var(0, H, f"sz{i}_{g}")
            m.add(size == occ_end - occ_start)
            aux.append((size, _size(tail)))
        if lit is None:
            iv = (
                m.new_fixed_size_interval_var(occ_start, size, f"u{i}")
                if isinstance(size, int)
                else m.new_interval_var(occ_start, size, occ_end, f"u{i}")
            )
        elif isinstance(size, int):
            iv = m.new_optional_fixed_size_interval_var(occ_start, size, lit, f"u{i}_{g}")
        else:
            iv = m.new_optional_interval_var(occ_start, size, occ_end, lit, f"u{i}_{g}")
        res.units[g].append((iv, 1))
        if with_setup and group.changeover != "circuit":
            if lit is None:
                m.add(setup == 0)
            else:
                m.add(setup == 0).only_enforce_if(lit)
    if len(op.groups) > 1:
        # Any-unit interval for the class-level redundant capacity.
        clean_end = end + op.clean
        if fixed is not None:
            any_iv = m.new_fixed_size_interval_var(start, fixed + op.clean, f"a{i}")
        else:
            any_size = m.new_int_var(0, H, f"as{i}")
            m.add(any_size == clean_end - start)
            aux.append((any_size, _size_plain(op.clean)))
            any_iv = m.new_interval_var(start, any_size, clean_end, f"a{i}")
        res.class_any.setdefault(op.equipment_class, []).append(any_iv)
    return _OpVars(start, end, setup, presence, pieces, aux)


def _chunk_end(k: int, j: int) -> Callable[[Timing], int]:
    def fn(t: Timing) -> int:
        start, chunks = t.pieces[k]
        if j < len(chunks):
            return chunks[j][0] + chunks[j][1]
        if chunks:
            return chunks[-1][0] + chunks[-1][1]
        return start

    return fn


def _size_plain(tail: int) -> Callable[[Timing], int]:
    def fn(t: Timing) -> int:
        return t.end + tail - t.start

    return fn


def _size(tail: int) -> Callable[[Timing], int]:
    def fn(t: Timing) -> int:
        return t.end + tail - (t.start - t.setup)

    return fn


def _circuits(
    m: cp_model.CpModel, p: Problem, ops_vars: list[_OpVars]
) -> dict[int, list[tuple[int, int, Any]]]:
    """Successor literals and ``add_circuit`` per circuit group; arcs as (i, j, lit), -1 = depot."""
    out: dict[int, list[tuple[int, int, Any]]] = {}
    anc: dict[int, set[int]] | None = None
    for g in p.groups:
        if g.changeover != "circuit":
            continue
        members = [op.idx for op in p.ops if op.frozen is None and g.idx in op.groups]
        if not members:
            continue
        if anc is None:
            anc = _ancestors(p)
        node = {i: k + 1 for k, i in enumerate(members)}
        cls = g.equipment_class
        init_prod, ready = g.initial
        arcs: list[tuple[int, int, Any]] = []
        circuit: list[tuple[int, int, Any]] = []
        empty = m.new_bool_var(f"empty{g.idx}")
        arcs.append((-1, -1, empty))
        circuit.append((0, 0, empty))
        for i in members:
            v = ops_vars[i]
            lit_on = v.presence.get(g.idx)
            if lit_on is not None:
                arcs.append((i, i, lit_on.negated()))
                circuit.append((node[i], node[i], lit_on.negated()))
                m.add_implication(empty, lit_on.negated())
            else:
                m.add(empty == 0)
            first = m.new_bool_var(f"f{g.idx}_{i}")
            arcs.append((-1, i, first))
            circuit.append((0, node[i], first))
            m.add(v.setup == p.changeover(cls, init_prod, p.ops[i].product)).only_enforce_if(first)
            if ready > 0:
                m.add(v.start - v.setup >= ready).only_enforce_if(first)
            last = m.new_bool_var(f"l{g.idx}_{i}")
            arcs.append((i, -1, last))
            circuit.append((node[i], 0, last))
        for i in members:
            for j in members:
                if i == j or j in anc[i]:
                    continue
                lit = m.new_bool_var(f"a{g.idx}_{i}_{j}")
                arcs.append((i, j, lit))
                circuit.append((node[i], node[j], lit))
                vi, vj = ops_vars[i], ops_vars[j]
                d = p.changeover(cls, p.ops[i].product, p.ops[j].product)
                m.add(vj.start - vj.setup >= vi.end + p.ops[i].clean).only_enforce_if(lit)
                m.add(vj.setup == d).only_enforce_if(lit)
        m.add_circuit(circuit)
        out[g.idx] = arcs
    return out
