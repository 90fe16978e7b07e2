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

from phactory.errors import InvalidError, NotFoundError
from phactory.live.alarms import Contribution

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
    "TagMap",
    "read_grid",
    "score_prefix_of",
]

#: Statistics a monitor publishes, one tag each below its ``score_prefix``.
SCORE_TAGS: Final = ("t2", "spe", "t2_limit", "spe_limit", "alarm")
#: Most rows scored per historian read (a monitor far behind catches up in chunks).
CHUNK_ROWS: Final = 3600
#: Most rows scored per scan (the rest at the next scan).
MAX_SCAN_ROWS: Final = 86_400
_US: Final = dt.timedelta(microseconds=1)


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


def _us(t: dt.datetime, what: str) -> int:
    if t.tzinfo is None or t.utcoffset() is None:
        raise InvalidError(f"{what} {t.isoformat()} has no time zone")
    return (t - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // _US


def _time(t_us: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=int(t_us))


@dataclass(frozen=True, slots=True)
class TagMap:
    """The historian tag of each model variable, in the model's order."""

    variables: tuple[str, ...]
    tags: tuple[str, ...]
    prefix: str = ""

    @classmethod
    def of(
        cls,
        variables: Sequence[str],
        prefix: str = "",
        mapping: Mapping[str, str] | None = None,
    ) -> TagMap:
        """Tags of ``variables``: ``mapping[v]`` where given, else ``prefix`` + ``v``.

        A non-empty ``prefix`` not ending in ``/`` gets one (``site/area/cell/unit`` and
        ``TI101`` give ``site/area/cell/unit/TI101``).
        """
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        given = dict(mapping or {})
        unknown = sorted(set(given) - set(variables))
        if unknown:
            raise InvalidError(f"tag mapping names variables the model has not: {unknown}")
        tags = tuple(given.get(v, prefix + v) for v in variables)
        if len(set(tags)) != len(tags):
            raise InvalidError("two variables are mapped to the same tag")
        return cls(tuple(variables), tags, prefix)

    def check(self, historian: Historian) -> None:
        """Refuse tags the historian does not know.

        Raises
        ------
        NotFoundError
            Naming every unknown tag (and its variable).
        """
        known = historian.describe(list(self.tags))
        missing = [(v, t) for v, t in zip(self.variables, self.tags, strict=True) if t not in known]
        if missing:
            listed = ", ".join(f"{t!r} (variable {v})" for v, t in missing[:10])
            more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            raise NotFoundError(
                f"the historian has no tag {listed}{more}: check the tag prefix "
                f"{self.prefix!r}, or feed the historian first"
            )

    def tag_of(self, variable: str) -> str:
        """The tag of ``variable``."""
        return self.tags[self.variables.index(variable)]


def score_prefix_of(tag_prefix: str, name: str) -> str:
    """Where a monitor named ``name`` publishes its statistics: ``<tag prefix>monitor/<name>``
    (the prefix ending in ``/`` as :meth:`TagMap.of` makes it)."""
    if tag_prefix and not tag_prefix.endswith("/"):
        tag_prefix += "/"
    return f"{tag_prefix}monitor/{name}"


def read_grid(
    historian: Historian,
    tags: Sequence[str],
    start_us: int,
    end_us: int,
    every_us: int,
    hold_rows: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``tags`` on the grid of ``every_us`` for the steps starting in
    ``[start_us, end_us)`` (both on the grid): step means, a missing value held from the
    previous step for at most ``hold_rows`` steps (reading that far back), else NaN.

    Returns
    -------
    times, values
        Step starts [µs] ``(m,)`` and values ``(m, len(tags))``.
    """
    if end_us <= start_us:
        return np.empty(0, dtype="int64"), np.empty((0, len(tags)))
    first = start_us - hold_rows * every_us
    frame = historian.query(
        list(tags),
        _time(first),
        _time(end_us),
        every=dt.timedelta(microseconds=every_us),
        agg="mean",
        max_cells=None,
    )
    values = frame.to_numpy(dtype=float, copy=True)
    if hold_rows > 0:
        values = _hold(values, hold_rows)
    times = first + every_us * np.arange(len(values), dtype="int64")
    keep = times >= start_us
    return times[keep], values[keep]


def _hold(values: np.ndarray, limit: int) -> np.ndarray:
    """Forward-fill NaN down each column for at most ``limit`` rows."""
    out = values.copy()
    n = len(out)
    idx = np.where(~np.isnan(out), np.arange(n)[:, None], -1)
    last = np.maximum.accumulate(idx, axis=0)
    rows = np.arange(n)[:, None]
    fill = np.isnan(out) & (last >= 0) & (rows - last <= limit)
    src = np.where(fill, last, 0)
    cols = np.broadcast_to(np.arange(out.shape[1]), out.shape)
    out[fill] = values[src[fill], cols[fill]]
    return out


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


def _f(x: Any) -> float:
    v = float(x)
    return v if math.isfinite(v) else math.nan


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
        self.every_us = every // _US
        if self.every_us <= 0:
            raise InvalidError(f"monitor {name!r}: every must be a positive duration")
        self.settle_us = settle // _US
        if self.settle_us < 0:
            raise InvalidError(f"monitor {name!r}: settle must not be negative")
        hold_us = 10 * self.every_us if hold is None else hold // _US
        self.hold_rows = max(0, hold_us // self.every_us)
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
            self.state = replace(self.state, cursor_us=self._floor(_us(start, "start")))
        self.tags.check(historian)

    def _floor(self, t_us: int) -> int:
        return (t_us // self.every_us) * self.every_us

    def closed_end(self, now: dt.datetime) -> int:
        """End of the last grid step closed at ``now`` [µs]."""
        return self._floor(_us(now, "now") - self.settle_us)

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
        end = self.closed_end(now)
        if self.state.cursor_us is None:
            self.state = replace(self.state, cursor_us=end)
        assert self.state.cursor_us is not None
        end = min(end, self.state.cursor_us + MAX_SCAN_ROWS * self.every_us)
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        transitions: list[AlarmTransition] = []
        stale = 0
        limits = (math.nan, math.nan)
        while self.state.cursor_us < end:
            cursor = self.state.cursor_us
            chunk_end = min(end, cursor + CHUNK_ROWS * self.every_us)
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
        e = self.every_us
        first = cursor - self.context_rows * e
        times, values = read_grid(self.historian, self.tags.tags, first, end, e, self.hold_rows)
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
            for i in range(max(a, offset), b):
                j = i - a
                t2[i - offset] = _f(scores.t2[j])
                spe[i - offset] = _f(scores.spe[j])
                alarm[i - offset] = bool(scores.alarm[j])
                self._step(int(times[i]), scores, j, transitions)
        return times[new], t2, spe, alarm, n_new - int(complete[new].sum()), limits

    def _step(self, t_us: int, scores: Scores, j: int, transitions: list[AlarmTransition]) -> None:
        """Advance the alarm of one scored row."""
        s = self.state
        fired = bool(scores.alarm[j])
        if fired:
            if not s.active:
                transitions.append(self._raised(t_us, scores, j))
                self.state = replace(s, active=True, quiet=0, raised_us=t_us)
            elif s.quiet:
                self.state = replace(s, quiet=0)
            return
        if not s.active:
            return
        quiet = s.quiet + 1
        if quiet < self.clear_after:
            self.state = replace(s, quiet=quiet)
            return
        raised = None if s.raised_us is None else _time(s.raised_us)
        transitions.append(
            AlarmTransition(
                "cleared", self.name, _time(t_us), "", _f(scores.t2[j]), _f(scores.spe[j]),
                _f(scores.t2_limit), _f(scores.spe_limit), raised_at=raised,
            )
        )  # fmt: skip
        self.state = replace(s, active=False, quiet=0, raised_us=None)

    def _raised(self, t_us: int, scores: Scores, j: int) -> AlarmTransition:
        t2_x, spe_x = bool(scores.t2_exceeds[j]), bool(scores.spe_exceeds[j])
        statistic = {(True, True): "t2+spe", (True, False): "t2", (False, True): "spe"}.get(
            (t2_x, spe_x), "persistence"
        )
        row = np.asarray(scores.contributions[j], dtype=float)
        contributions = {v: _f(c) for v, c in zip(self.tags.variables, row, strict=True)}
        top = tuple(Contribution(v, self.tags.tag_of(v), _f(c)) for v, c in scores.top(j, 3))
        return AlarmTransition(
            "raised", self.name, _time(t_us), statistic, _f(scores.t2[j]), _f(scores.spe[j]),
            _f(scores.t2_limit), _f(scores.spe_limit), top, contributions,
        )  # fmt: skip

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
