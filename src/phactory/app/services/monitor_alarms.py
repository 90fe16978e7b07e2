"""The alarm desk of live monitoring: what is annunciated, and what people do about it.

ISA-18.2 rules (:mod:`phactory.live.alarms`), as the Monitoring page and
``/api/v1/monitor/alarms`` apply them:

* **Annunciated** (any account reads): the active alarms and those returned to normal
  that nobody acknowledged, newest first, without those of a shelved point nor those
  raised while it was shelved (``include_shelved`` shows them too).
* **Acknowledge** (operator and up): once, with an optional note.
* **Shelve** (operator and up): an alarm's point (its monitor) for at most
  :data:`~phactory.live.alarms.MAX_SHELVE`, with a reason; **unshelve** early.
* **History**: every raise, clear, deviation, acknowledgement and shelving with who and
  when (wall clock, UTC), kept when the monitor is removed.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass

from phactory.app.errors import Invalid, Missing
from phactory.app.principal import Principal, require
from phactory.app.services.monitor_store import Deployment, MonitorStore
from phactory.errors import InvalidError
from phactory.live import alarms as rules
from phactory.live.alarms import AlarmEvent, AlarmRecord, Contribution

__all__ = ["AlarmDesk", "AlarmDetail"]


@dataclass(frozen=True, slots=True)
class AlarmDetail:
    """An alarm, every variable's contribution on its raising row (largest first) and
    its history (newest first)."""

    alarm: AlarmRecord
    contributions: tuple[Contribution, ...]
    history: tuple[AlarmEvent, ...]


class AlarmDesk:
    """Alarms to annunciate, acknowledgements, shelving, history (see the module
    docstring).

    Parameters
    ----------
    store
        The monitoring tables.
    clock
        The wall clock (aware UTC).
    """

    def __init__(self, store: MonitorStore, clock: Callable[[], dt.datetime]) -> None:
        self.store = store
        self.clock = clock

    def annunciated(
        self,
        user: Principal,
        *,
        site: str | None = None,
        monitor: str | None = None,
        include_shelved: bool = False,
        limit: int = 200,
    ) -> list[AlarmRecord]:
        """The alarms to annunciate, newest first (viewer and up)."""
        require(user, "viewer", "reading alarms")
        now = self.clock()
        shelved = {d.name for d in self.store.active() if d.shelving and d.shelving.active(now)}
        found = self.store.alarms(active=True, monitor=monitor, site=site, limit=limit)
        # returned to normal, not acknowledged (ISA-18.2 rtn_unack)
        found += self.store.alarms(
            active=False, acknowledged=False, monitor=monitor, site=site, limit=limit
        )
        if not include_shelved:
            found = [a for a in found if a.monitor not in shelved and not a.shelved]
        found.sort(key=lambda a: (a.raised_at, a.id), reverse=True)
        return found[:limit]

    def log(
        self, user: Principal, *, monitor: str | None = None, limit: int = 200
    ) -> list[AlarmRecord]:
        """Every alarm, active or not, newest first (viewer and up)."""
        require(user, "viewer", "reading alarms")
        return self.store.alarms(monitor=monitor, limit=limit)

    def history(
        self,
        user: Principal,
        *,
        monitor: str | None = None,
        alarm_id: int | None = None,
        limit: int = 200,
    ) -> list[AlarmEvent]:
        """Lines of the alarm history, newest first (viewer and up)."""
        require(user, "viewer", "reading the alarm history")
        return self.store.history(monitor=monitor, alarm_id=alarm_id, limit=limit)

    def detail(self, user: Principal, alarm_id: int) -> AlarmDetail:
        """An alarm with its contributions and history (viewer and up).

        Raises
        ------
        Missing
            No such alarm.
        """
        require(user, "viewer", "reading alarms")
        alarm, contributions, _ = self.store.alarm(alarm_id)
        tags = {c.variable: c.tag for c in alarm.top}
        d = self._deployment_of(alarm.monitor)
        if d is not None:
            names, paths = d.summary.get("variables", ()), d.settings.get("tags", ())
            tags = {**dict(zip(names, paths, strict=False)), **tags}
        items = sorted(
            (Contribution(v, tags.get(v, v), c) for v, c in contributions.items()),
            key=lambda c: -c.value if math.isfinite(c.value) else math.inf,
        )
        history = self.store.history(alarm_id=alarm_id)
        return AlarmDetail(alarm, tuple(items), tuple(history))

    def _deployment_of(self, name: str) -> Deployment | None:
        try:
            return self.store.get(name)
        except Missing:
            return None

    def acknowledge(self, user: Principal, alarm_id: int, note: str = "") -> AlarmRecord:
        """Acknowledge an alarm (operator and up), with who, when and an optional note.

        Raises
        ------
        Forbidden
            Below operator.
        Missing
            No such alarm.
        Conflict
            Acknowledged already.
        """
        require(user, "operator", "acknowledging an alarm")
        at = self.clock()
        text = _note(note, "the acknowledgement note", required=False)
        return self.store.acknowledge(
            alarm_id, lambda a: rules.acknowledge(a, user.name, at, text), user.name, text, at
        )

    def shelve(
        self,
        user: Principal,
        alarm_id: int,
        reason: str,
        *,
        minutes: float | None = None,
        until: dt.datetime | None = None,
    ) -> Deployment:
        """Shelve the alarm point of an alarm (its monitor) for ``minutes`` or ``until``
        (operator and up; a reason is required; at most 24 h).

        Raises
        ------
        Forbidden
            Below operator.
        Invalid
            No reason, or a bad end.
        Missing
            No such alarm, or its monitor was removed.
        """
        require(user, "operator", "shelving an alarm")
        text = _note(reason, "the reason for shelving", required=True)
        now = self.clock()
        try:
            end = rules.shelve_until(now, until=until, minutes=minutes)
        except InvalidError as exc:
            raise Invalid(str(exc)) from None
        _, _, monitor_id = self.store.alarm(alarm_id)
        return self.store.shelve(monitor_id, alarm_id, end, user.name, text, now)

    def unshelve(self, user: Principal, name: str, reason: str = "") -> Deployment:
        """End the shelving of a monitor's alarm point (operator and up).

        Raises
        ------
        Conflict
            It is not shelved.
        """
        require(user, "operator", "unshelving an alarm")
        text = _note(reason, "the reason for unshelving", required=False)
        d = self.store.get(name)
        return self.store.shelve(d.id, None, None, user.name, text, self.clock())


def _note(text: str, what: str, *, required: bool) -> str:
    try:
        return rules.check_note(text, what, required=required)
    except InvalidError as exc:
        raise Invalid(str(exc)) from None
