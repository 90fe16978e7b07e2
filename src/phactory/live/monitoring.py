"""Live monitoring: a fitted MSPC model scores the historian's data as it arrives and
raises and clears alarms with the variables to blame.

Reading
-------
Each variable of the model is a historian tag (:class:`TagMap`): the variable's name
*is* the tag path, or a ``tag_prefix`` (the unit's path in the unified namespace,
``site/area/cell/unit/``) is put before it. A model whose tags the historian does not
know is refused, naming them.

The data are sampled on a regular grid of step ``every`` aligned to the Unix epoch: each
row holds the **mean of each tag's samples in the step** (the historian's aggregate
query, :meth:`phactory.historian.Historian.query`, exact under late and replayed
samples), and a step without a sample of a tag holds that tag's previous value for at
most ``hold`` (last-value hold: a slow analyser or a tag reported by exception is not a
gap). Why means on a grid rather than raw samples: a model is a function of one row of
all variables at once, while raw samples of different tags arrive at their own times;
the mean of a step averages a fast signal's noise the way the training data were
averaged (train on the same ``every``: ``phactory historian query --every``), and with
``every`` a whole number of minutes the rows come from the historian's 1-minute table
(a fraction of the raw reads). For a fast plant signal (1 Hz), ``every = 1 s`` scores
each second; rows that are still incomplete after ``hold`` are not scored (counted
``stale``), and a gap restarts a dynamic model's lags.

A step ``[t, t + every)`` is scored once, when it is closed: at wall-clock time
``t + every + settle`` (``settle`` is the ingest delay allowed for; a sample stored later
than that is kept by the historian but not seen by the monitor). The monitor keeps a
**cursor**, the first step not scored yet (:class:`MonitorState`, JSON-ready): a
restarted monitor given its last state goes on where it stopped, scoring each row once.

Scoring and alarms
------------------
Rows are scored by the model in time order with the rows before them as context (the
model's ``lags`` and the ``n - 1`` rows its k-of-n persistence rule looks back on), so
that the rule and the lagged variables of a dynamic model see the same history whether
the rows come one scan at a time or all at once; the model's own ``alarm`` (after its
k-of-n rule) decides. An alarm is **raised** on the first row the rule fires, with the
row's largest contributions (``top``) and all of them (for a bar chart), and
**cleared** after ``clear_after`` consecutive scored rows on which it does not fire
(ISA-18.2 off-delay, so that a statistic hovering at its limit does not chatter).
Transitions are returned (:class:`AlarmTransition`); what happens next (the alarm's life
cycle, :mod:`phactory.live.alarms`; a deviation in the batch record,
:mod:`phactory.live.deviations`) is the caller's.

With ``publish`` the monitor writes its statistics back into the historian as tags below
``score_prefix`` (``t2``, ``spe``, ``t2_limit``, ``spe_limit``, ``alarm`` as 0/1; source
``monitor:<name>``; sequence number the row's time, so a re-scan stores nothing twice):
control charts over any window are then historian queries, and the Live page trends
them with the unit's tags.

Times: wall-clock and data times are aware UTC at the edges, integer µs inside (the
historian's time base, :mod:`phactory.historian.times`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final, Protocol

import numpy as np

from phactory.errors import InvalidError
from phactory.historian.times import from_us, to_us
from phactory.live.alarms import Contribution
from phactory.live.grid import Grid, TagMap, score_prefix_of

if TYPE_CHECKING:
    from phactory.historian import Historian

__all__ = [
    "SCORE_TAGS",
    "AlarmTransition",
    "LiveMonitor",
    "MonitorState",
    "ScanResult",
    "Scorer",
    "Scores",
    "advance",
    "clear_transition",
    "raise_transition",
    "row_stats",
]

#: Statistics a monitor publishes, one tag each below its ``score_prefix``.
SCORE_TAGS: Final = ("t2", "spe", "t2_limit", "spe_limit", "alarm")
#: Most rows scored per historian read (a monitor far behind catches up in chunks).
CHUNK_ROWS: Final = 3600
#: Most rows scored per scan (the rest at the next scan).
MAX_SCAN_ROWS: Final = 86_400


class Scores(Protocol):
    """What the live monitor reads of a model's scores
    (:class:`phactory.monitor.mspc.MspcScores`)."""

    @property
    def t2(self) -> np.ndarray: ...
    @property
    def spe(self) -> np.ndarray: ...
    @property
    def t2_limit(self) -> float: ...
    @property
    def spe_limit(self) -> float: ...
    @property
    def t2_exceeds(self) -> np.ndarray: ...
    @property
    def spe_exceeds(self) -> np.ndarray: ...
    @property
    def alarm(self) -> np.ndarray: ...
    @property
    def contributions(self) -> np.ndarray: ...

    def top(self, row: int, k: int = 3) -> list[tuple[str, float]]: ...


class Scorer(Protocol):
    """What the live monitor needs of a fitted model
    (:class:`phactory.monitor.mspc.MspcModel`; it also reads ``lags_`` and
    ``persistence`` when the model has them)."""

    @property
    def variables_(self) -> tuple[str, ...]: ...

    def score(self, X: np.ndarray) -> Scores: ...


def _f(x: Any) -> float:
    """``x`` as a float, NaN when it is not finite."""
    v = float(x)
    return v if math.isfinite(v) else math.nan


def _finite(x: Any) -> np.ndarray:
    """``x`` as floats, NaN where not finite."""
    a = np.asarray(x, dtype=float)
    return np.where(np.isfinite(a), a, np.nan)


def row_stats(
    t2: Any, spe: Any, t2_limit: Any, spe_limit: Any
) -> tuple[float, float, float, float]:
    """A row's T2, SPE and their limits, NaN where not finite."""
    return _f(t2), _f(spe), _f(t2_limit), _f(spe_limit)


@dataclass(frozen=True, slots=True)
class MonitorState:
    """Where a monitor is (JSON-ready: :meth:`to_json`, :meth:`from_json`).

    Attributes
    ----------
    cursor_us
        Start of the first grid step not scored yet [µs] (``None``: from the next scan).
    active
        Whether its alarm is raised.
    quiet
        Scored rows in a row without the rule firing while raised.
    raised_us
        Data time of the row that raised the active alarm [µs].
    """

    cursor_us: int | None = None
    active: bool = False
    quiet: int = 0
    raised_us: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "cursor_us": self.cursor_us,
            "active": self.active,
            "quiet": self.quiet,
            "raised_us": self.raised_us,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any] | None) -> MonitorState:
        """The state of :meth:`to_json` (``None`` or ``{}``: a new monitor).

        Raises
        ------
        InvalidError
            A malformed field, named.
        """
        if not doc:
            return cls()

        def opt_int(name: str) -> int | None:
            v = doc.get(name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
                raise InvalidError(f"monitor state: {name} must be an integer, not {v!r}")
            return v

        active = doc.get("active", False)
        if not isinstance(active, bool):
            raise InvalidError(f"monitor state: active must be true or false, not {active!r}")
        return cls(opt_int("cursor_us"), active, opt_int("quiet") or 0, opt_int("raised_us"))


@dataclass(frozen=True, slots=True)
class AlarmTransition:
    """An alarm raised or cleared by a monitor.

    Attributes
    ----------
    kind
        ``"raised"`` or ``"cleared"``.
    monitor
        The monitor's name.
    at
        Data time of the row (start of its grid step).
    statistic
        For a raise: ``"t2"``, ``"spe"``, ``"t2+spe"`` or ``"persistence"`` (see
        :class:`phactory.live.alarms.AlarmRecord`); ``""`` for a clear.
    t2, spe, t2_limit, spe_limit
        The row's statistics and limits.
    top
        For a raise: the largest contributions, largest first.
    contributions
        For a raise: every variable's contribution on the row.
    raised_at
        For a clear: when the alarm it clears was raised.
    """

    kind: str
    monitor: str
    at: dt.datetime
    statistic: str
    t2: float
    spe: float
    t2_limit: float
    spe_limit: float
    top: tuple[Contribution, ...] = ()
    contributions: dict[str, float] = field(default_factory=dict)
    raised_at: dt.datetime | None = None

    def describe(self) -> str:
        """One line for a console or a deviation."""
        when = self.at.isoformat(timespec="seconds")
        if self.kind == "cleared":
            return f"{self.monitor}: alarm cleared at {when}"
        tops = ", ".join(f"{c.tag} ({c.value:.3g})" for c in self.top)
        return (
            f"{self.monitor}: {self.statistic.upper()} alarm at {when}: T2 {self.t2:.4g} "
            f"(limit {self.t2_limit:.4g}), SPE {self.spe:.4g} (limit {self.spe_limit:.4g}); "
            f"top contributing tags: {tops}"
        )


def advance(
    state: MonitorState, fired: bool, t_us: int, clear_after: int
) -> tuple[MonitorState, str | None]:
    """The alarm's state after one scored row at ``t_us`` on which the model's rule
    ``fired`` or not, and ``"raised"`` or ``"cleared"`` when that row raised or cleared
    it: raised on the first row the rule fires, cleared after ``clear_after``
    consecutive rows on which it does not (ISA-18.2 off-delay)."""
    if fired:
        if not state.active:
            return replace(state, active=True, quiet=0, raised_us=t_us), "raised"
        return (replace(state, quiet=0) if state.quiet else state), None
    if not state.active:
        return state, None
    if state.quiet + 1 < clear_after:
        return replace(state, quiet=state.quiet + 1), None
    return replace(state, active=False, quiet=0, raised_us=None), "cleared"


def raise_transition(
    monitor: str,
    tags: TagMap,
    t_us: int,
    stats: tuple[float, float, float, float],
    exceeds: tuple[bool, bool],
    contributions: Any,
    top: Sequence[tuple[str, float]],
) -> AlarmTransition:
    """The raise of ``monitor``'s alarm on the row at ``t_us``: its ``stats`` (T2, SPE
    and their limits), which of T2 and SPE ``exceeds`` its limit (neither: the
    persistence rule fired), every variable's contribution (in the order of
    ``tags.variables``) and the largest ones (``(variable, value)``)."""
    statistic = {(True, True): "t2+spe", (True, False): "t2", (False, True): "spe"}.get(
        exceeds, "persistence"
    )
    row = np.asarray(contributions, dtype=float)
    return AlarmTransition(
        "raised", monitor, from_us(t_us), statistic, *stats,
        tuple(Contribution(v, tags.tag_of(v), _f(c)) for v, c in top),
        {v: _f(c) for v, c in zip(tags.variables, row, strict=True)},
    )  # fmt: skip


def clear_transition(
    monitor: str, t_us: int, stats: tuple[float, float, float, float], raised_us: int | None
) -> AlarmTransition:
    """The clear, on the row at ``t_us``, of ``monitor``'s alarm raised at ``raised_us``."""
    raised = None if raised_us is None else from_us(raised_us)
    return AlarmTransition("cleared", monitor, from_us(t_us), "", *stats, raised_at=raised)


@dataclass(frozen=True, slots=True)
class ScanResult:
    """What one scan did: the rows scanned (``times`` [µs], their statistics, NaN for
    the ``stale`` ones not scored for want of data) and the alarm transitions."""

    times: np.ndarray
    t2: np.ndarray
    spe: np.ndarray
    alarm: np.ndarray
    t2_limit: float
    spe_limit: float
    stale: int
    transitions: tuple[AlarmTransition, ...]

    @property
    def rows(self) -> int:
        """Rows scanned (scored, or ``stale``)."""
        return len(self.times)


class LiveMonitor:
    """A fitted MSPC model scoring the historian live (see the module docstring).

    Parameters
    ----------
    model
        The fitted model (:class:`phactory.monitor.mspc.MspcModel`).
    historian
        Where the data are read (and the statistics written, with ``publish``).
    name
        The monitor's name (alarms and published tags carry it).
    tags
        The tag of each model variable; default the variables' names as tags.
    every
        Grid step.
    settle
        Ingest delay allowed for before a step is scored.
    hold
        Longest last-value hold of a tag without samples (default ``10 * every``).
    clear_after
        Rows without the rule firing that clear a raised alarm.
    publish
        Write the statistics into the historian (below ``score_prefix``).
    score_prefix
        Default ``<tag prefix>monitor/<name>``.
    state
        Where a previous run of the monitor stopped.
    start
        With a new state: score from this time (backfill) instead of from now.

    Raises
    ------
    NotFoundError
        A tag the historian does not know.
    InvalidError
        Bad durations, or a model that is not fitted.
    """

    def __init__(
        self,
        model: Scorer,
        historian: Historian,
        *,
        name: str,
        tags: TagMap | None = None,
        every: dt.timedelta = dt.timedelta(seconds=1),
        settle: dt.timedelta = dt.timedelta(milliseconds=250),
        hold: dt.timedelta | None = None,
        clear_after: int = 3,
        publish: bool = True,
        score_prefix: str | None = None,
        state: MonitorState | None = None,
        start: dt.datetime | None = None,
    ) -> None:
        variables = getattr(model, "variables_", None)
        if not variables:
            raise InvalidError(f"monitor {name!r}: the model is not fitted (no variables_)")
        self.model = model
        self.historian = historian
        self.name = name
        self.tags = tags or TagMap.of(variables)
        if self.tags.variables != tuple(variables):
            raise InvalidError(f"monitor {name!r}: the tag map is not of the model's variables")
        self.grid = Grid.of(every, settle, hold, f"monitor {name!r}")
        if clear_after < 1:
            raise InvalidError(f"monitor {name!r}: clear_after must be at least 1")
        self.clear_after = clear_after
        self.publish = publish
        self.score_prefix = score_prefix or score_prefix_of(self.tags.prefix, name)
        k_n = getattr(model, "persistence", (1, 1))
        # the fitted lags (0 for static methods), else the parameter
        lags = getattr(model, "lags_", getattr(model, "lags", 0))
        self.context_rows = max(0, int(lags)) + max(0, int(k_n[1]) - 1)
        self.state = state or MonitorState()
        if self.state.cursor_us is None and start is not None:
            self.state = replace(self.state, cursor_us=self.grid.floor(to_us(start, "start")))
        self.tags.check(historian)

    def score_tags(self) -> dict[str, str]:
        """The tags the monitor publishes, by statistic."""
        return {s: f"{self.score_prefix}/{s}" for s in SCORE_TAGS}

    def scan(self, now: dt.datetime) -> ScanResult:
        """Score the steps closed since the last scan (at most :data:`MAX_SCAN_ROWS`).

        Parameters
        ----------
        now
            The wall-clock time (aware).
        """
        e = self.grid.every_us
        end = self.grid.closed_end(now)
        if self.state.cursor_us is None:
            self.state = replace(self.state, cursor_us=end)
        assert self.state.cursor_us is not None
        end = min(end, self.state.cursor_us + MAX_SCAN_ROWS * e)
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        transitions: list[AlarmTransition] = []
        stale = 0
        limits = (math.nan, math.nan)
        while self.state.cursor_us < end:
            cursor = self.state.cursor_us
            chunk_end = min(end, cursor + CHUNK_ROWS * e)
            got = self._scan_chunk(cursor, chunk_end, transitions)
            if got is not None:
                times, t2, spe, alarm, n_stale, limits = got
                parts.append((times, t2, spe, alarm))
                stale += n_stale
            self.state = replace(self.state, cursor_us=chunk_end)
        if parts:
            times, t2, spe, alarm = (np.concatenate(x) for x in zip(*parts, strict=True))
        else:
            times = np.empty(0, dtype="int64")
            t2 = spe = np.empty(0)
            alarm = np.empty(0, dtype=bool)
        result = ScanResult(times, t2, spe, alarm, limits[0], limits[1], stale, tuple(transitions))
        if self.publish and result.rows:
            self._publish(result)
        return result

    def _scan_chunk(
        self, cursor: int, end: int, transitions: list[AlarmTransition]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, tuple[float, float]] | None:
        first = cursor - self.context_rows * self.grid.every_us
        times, values = self.grid.read(self.historian, self.tags.tags, first, end)
        complete = ~np.isnan(values).any(axis=1)
        new = times >= cursor
        n_new = int(new.sum())
        t2 = np.full(n_new, np.nan)
        spe = np.full(n_new, np.nan)
        alarm = np.zeros(n_new, dtype=bool)
        offset = int(np.argmax(new)) if n_new else 0
        limits = (math.nan, math.nan)
        # Maximal runs of complete rows: a gap restarts a dynamic model's lags.
        edges = np.flatnonzero(np.diff(np.concatenate(([0], complete.astype(int), [0]))))
        for a, b in zip(edges[::2], edges[1::2], strict=True):
            if b <= offset:
                continue
            scores = self.model.score(values[a:b])
            limits = (_f(scores.t2_limit), _f(scores.spe_limit))
            lo = max(a, offset)  # the rows before are context, scored before
            t2[lo - offset : b - offset] = _finite(scores.t2[lo - a :])
            spe[lo - offset : b - offset] = _finite(scores.spe[lo - a :])
            fired = np.asarray(scores.alarm[lo - a :], dtype=bool)
            alarm[lo - offset : b - offset] = fired
            for i, f in enumerate(fired.tolist(), start=lo):
                if f or self.state.active:  # else the row changes nothing
                    self._step(int(times[i]), scores, i - a, f, transitions)
        return times[new], t2, spe, alarm, n_new - int(complete[new].sum()), limits

    def _step(
        self, t_us: int, scores: Scores, j: int, fired: bool, transitions: list[AlarmTransition]
    ) -> None:
        """Advance the alarm of one scored row (row ``j`` of ``scores``)."""
        before = self.state
        self.state, change = advance(before, fired, t_us, self.clear_after)
        if change is None:
            return
        stats = row_stats(scores.t2[j], scores.spe[j], scores.t2_limit, scores.spe_limit)
        if change == "raised":
            exceeds = (bool(scores.t2_exceeds[j]), bool(scores.spe_exceeds[j]))
            transitions.append(
                raise_transition(
                    self.name, self.tags, t_us, stats, exceeds, scores.contributions[j],
                    scores.top(j, 3),
                )
            )  # fmt: skip
        else:
            transitions.append(clear_transition(self.name, t_us, stats, before.raised_us))

    def _publish(self, result: ScanResult) -> None:
        from phactory.historian import Sample

        names = self.score_tags()
        source = f"monitor:{self.name}"[:200]
        samples: list[Sample] = []
        for i, t_us in enumerate(result.times.tolist()):
            if math.isnan(result.t2[i]):
                continue
            row = {
                "t2": float(result.t2[i]),
                "spe": float(result.spe[i]),
                "t2_limit": result.t2_limit,
                "spe_limit": result.spe_limit,
                "alarm": float(result.alarm[i]),
            }
            samples.extend(
                Sample(names[k], int(t_us), v, seq=int(t_us) if t_us >= 0 else 0, source=source)
                for k, v in row.items()
            )
        if samples:
            self.historian.ingest(samples)
