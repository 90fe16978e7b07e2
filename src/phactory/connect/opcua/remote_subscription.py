"""The one OPC UA subscription of a :class:`~phactory.connect.opcua.remote.RemotePlant`:
tag changes for its subscribers, phase states and run times for its watches.

A ``RemotePlant`` opens one subscription (:class:`PlantSubscription`) on first use and
keeps it until the plant closes or the subscription fails; monitored items come and go
with what is followed:

* **tags** (:meth:`RemotePlant.subscribe <phactory.connect.opcua.remote.RemotePlant.subscribe>`):
  one item per tag and one on ``PlantTime`` (whose last value stamps the changes) while
  anyone subscribes; the changes of each publish go to the subscribers in one call. The
  first notification of each item (its value when the item is made) is not a change and
  is not delivered.
* **phases** (:class:`PhaseWatch`, made by
  :meth:`RemotePlant.watch_phase <phactory.connect.opcua.remote.RemotePlant.watch_phase>`):
  the phase's ``State`` and ``RunTime``, each item shared by the watches of the phase,
  made when the first opens and deleted when the last closes (or is garbage-collected:
  an engine that gave its lease up drops its drivers). :meth:`PhaseWatch.state` and
  :meth:`PhaseWatch.run_s` give the latest values the subscription delivered: they send
  no request.

**Order.** A watch is seeded by a Read right after its items are made, and
:meth:`PhaseWatch.refresh` reads again (after a command, whose new state the next
publish would bring only later). A Read and the notifications race, so each value is
kept with its source timestamp (the server stamps every value it writes): a notification
older than a value read, or a value read older than a notification, is dropped. Between
notifications, the order of arrival is the order of the changes.

**Health.** Values that stop arriving must not look like a phase standing still, so
:meth:`PhaseWatch.state` and :meth:`PhaseWatch.run_s` raise
:class:`~phactory.errors.UnavailableError` when the connection is lost or closed, when the
subscription reported a bad status (a status-change notification: the server ended it,
or the client was told the connection went: ``BadShutdown``), or when the keep-alives
stopped: the server sends one every ``keepalive_s`` in which nothing changed; asyncua's
client makes a subscription again after 1.5 keep-alive intervals in silence (changes in
between are lost: that is an error here too), and a subscription silent for
``max(3 × keep-alive interval, request timeout)`` is one. A plant whose subscription
failed makes a new one for the next watch (and moves the tag subscribers onto it).

Everything here runs on the plant's loop thread, except :class:`PhaseWatch`'s methods,
which hand their requests to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from phactory.batch.states import State
from phactory.connect.opcua.remote_space import (
    CHUNK,
    RemotePhase,
    code_name,
    read_data_values,
    reports_of,
    ua,
)
from phactory.control.view import PhaseRef, TagChange
from phactory.errors import InvalidError, UnavailableError

if TYPE_CHECKING:
    from phactory.connect.opcua.remote import RemotePlant

__all__ = ["PhaseWatch", "PlantSubscription"]

_log = logging.getLogger(__name__)
TagValue = bool | int | float | str
#: Lifetime of the subscription without publish requests before the server ends it [s]
#: (at least; OPC 10000-4 §5.13.2: at least three keep-alive intervals).
_LIFETIME_S = 60.0


@dataclass(slots=True, eq=False)
class _Cell:
    """The latest value of a monitored phase variable (``State`` or ``RunTime``)."""

    nodeid: Any
    value: Any = None
    #: Source timestamp of ``value`` (or its server timestamp; ``None``: unknown).
    stamp: Any = None
    #: ``value`` came from a Read (a notification older than it is stale).
    read: bool = False
    #: Watches sharing the monitored item.
    users: int = 0
    #: The monitored item's id on the server (``None`` until it is made).
    handle: int | None = None
    #: Notifications that changed ``value``.
    notifications: int = 0


def _stamp(dv: Any) -> Any:
    if dv is None:
        return None
    return dv.SourceTimestamp or dv.ServerTimestamp


def _merge(cell: _Cell, value: Any, dv: Any, *, read: bool) -> None:
    """Keep ``value`` in ``cell`` unless it is older than what the cell has from the other
    source (a Read against notifications)."""
    if value is None:
        return
    stamp = _stamp(dv)
    if stamp is not None and cell.stamp is not None and (read or cell.read):
        try:
            if stamp < cell.stamp:
                return
        except TypeError:  # naive against aware: cannot tell, take the newest arrival
            pass
    cell.value, cell.stamp, cell.read = value, stamp, read
    if not read:
        cell.notifications += 1


class _Life:
    """One OPC UA subscription, from its creation to its end."""

    def __init__(self, stale_after_s: float) -> None:
        self.sub: Any = None
        self.sub_id: Any = None
        self.created = time.monotonic()
        self.stale_after_s = stale_after_s
        #: The bad status it reported, if it did.
        self.failed: str | None = None

    def problem(self) -> str | None:
        """Why it no longer delivers values (``None``: it does)."""
        if self.failed is not None:
            return f"the subscription ended ({self.failed})"
        if self.sub is not None and self.sub.subscription_id != self.sub_id:
            # asyncua makes a subscription again when it heard nothing, not even a
            # keep-alive, for 1.5 keep-alive intervals: changes may have been missed
            return "the server sent not even a keep-alive for a while (the subscription was lost)"
        last = getattr(self.sub, "last_publish_at", None) or self.created
        age = time.monotonic() - last
        if age > self.stale_after_s:
            return f"no publish response, not even a keep-alive, for {age:.1f} s"
        return None


class _Handler:
    """asyncua subscription handler of one :class:`_Life`."""

    def __init__(self, owner: PlantSubscription, life: _Life) -> None:
        self._owner = owner
        self._life = life

    def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
        if self._owner._life is self._life:
            self._owner._on_value(node.nodeid, val, data)

    def status_change_notification(self, status: Any) -> None:
        code = code_name(status.Status)
        if not code.startswith("Good"):
            self._life.failed = code
            _log.info("RemotePlant: subscription ended: %s", code)


class PlantSubscription:
    """The subscription of one :class:`~phactory.connect.opcua.remote.RemotePlant` (see
    the module docstring); loop thread only, except :meth:`release_soon`."""

    def __init__(self, plant: RemotePlant) -> None:
        self._plant = plant
        #: Tag subscribers (replaced, never changed in place).
        self.callbacks: list[Callable[[Sequence[TagChange]], None]] = []
        self._life: _Life | None = None
        self._lock: asyncio.Lock | None = None
        self._tags_on = False
        self._tag_handles: list[int] = []
        self._tag_ids: dict[Any, str] = {}  # NodeId -> tag path ("" for PlantTime)
        self._first_seen: set[Any] = set()
        self._batch: dict[str, TagValue] = {}
        self._flush_due = False
        self._plant_time_s = math.nan
        self._cells: dict[Any, _Cell] = {}
        self._tasks: set[asyncio.Future[Any]] = set()

    # -- the subscription ------------------------------------------------------------------

    async def _ensure(self) -> _Life:
        """The working subscription (made, or made again after it failed)."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            life = self._life
            if life is not None and life.problem() is None:
                return life
            if life is not None:
                self._abandon(life)
            plant, u = self._plant, ua()
            interval_s = plant.publish_interval_s
            keepalive = max(1, math.ceil(plant.keepalive_s / interval_s - 1e-9))
            lifetime_s = max(_LIFETIME_S, 3 * plant.timeout_s)
            lifetime = max(3 * keepalive, math.ceil(lifetime_s / interval_s))
            params = u.CreateSubscriptionParameters(
                RequestedPublishingInterval=interval_s * 1000.0,
                RequestedLifetimeCount=lifetime,
                RequestedMaxKeepAliveCount=keepalive,
                MaxNotificationsPerPublish=10000,
                PublishingEnabled=True,
                Priority=0,
            )
            life = _Life(max(3 * keepalive * interval_s, plant.timeout_s))
            life.sub = await plant._client.create_subscription(params, _Handler(self, life))
            life.sub_id, life.created = life.sub.subscription_id, time.monotonic()
            self._life = life
            if self.callbacks:
                await self._add_tag_items(life)
            return life

    def _abandon(self, life: _Life) -> None:
        """Forget a failed subscription: its items, and (best effort) it on the server."""
        self._life = None
        self._cells = {}  # its watches keep theirs, and report the failure
        self._tags_on, self._tag_handles, self._tag_ids = False, [], {}
        self._first_seen, self._batch = set(), {}

        async def delete() -> None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(life.sub.delete(), self._plant.timeout_s)

        self._spawn(delete())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- tags ------------------------------------------------------------------------------

    async def add_tags(self) -> None:
        """Monitor every tag and ``PlantTime`` (for :attr:`callbacks`)."""
        life = await self._ensure()
        if not self._tags_on:
            await self._add_tag_items(life)

    async def _add_tag_items(self, life: _Life) -> None:
        space, client = self._plant._space, self._plant._client
        nodes = [t.nodeid for t in space.tags.values()]
        ids = {t.nodeid: path for path, t in space.tags.items()}
        if space.plant_time_id is not None:
            nodes.insert(0, space.plant_time_id)
            ids[space.plant_time_id] = ""
        self._tag_ids, self._first_seen, self._tags_on = ids, set(), True
        handles: list[int] = []
        for i in range(0, len(nodes), CHUNK):
            made = await life.sub.subscribe_data_change(
                [client.get_node(n) for n in nodes[i : i + CHUNK]]
            )
            handles += [h for h in made if isinstance(h, int)]
        self._tag_handles = handles

    async def remove_tags(self) -> None:
        """Delete the tag items (no subscriber is left)."""
        life, handles = self._life, self._tag_handles
        self._tags_on, self._tag_handles, self._tag_ids = False, [], {}
        self._first_seen, self._batch = set(), {}
        if life is None or life.failed is not None:
            return
        for i in range(0, len(handles), CHUNK):
            await life.sub.unsubscribe(handles[i : i + CHUNK])

    def _on_value(self, nodeid: Any, value: Any, data: Any) -> None:
        """A monitored item's notification."""
        cell = self._cells.get(nodeid)
        if cell is not None:
            _merge(cell, value, getattr(getattr(data, "monitored_item", None), "Value", None),
                   read=False)  # fmt: skip
            return
        path = self._tag_ids.get(nodeid)
        if path is None:
            return
        if path == "":
            if value is not None:
                self._plant_time_s = float(value)
            return
        if nodeid not in self._first_seen:  # the item's value when it was made
            self._first_seen.add(nodeid)
            return
        tag = self._plant._space.tags[path]
        try:
            self._batch[path] = tag.from_ua(value)
        except (TypeError, ValueError, OverflowError):
            return
        if not self._flush_due:
            self._flush_due = True
            # after the notifications of this publish, dispatched as tasks before it
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_due = False
        batch, self._batch = self._batch, {}
        if not batch:
            return
        t_s = self._plant_time_s
        changes = [TagChange(p, v, t_s) for p, v in batch.items()]
        for callback in self.callbacks:
            try:
                callback(changes)
            except Exception:  # one bad subscriber must not stop the others
                _log.exception("RemotePlant subscriber failed")

    # -- phases ----------------------------------------------------------------------------

    async def watch(self, ref: PhaseRef, phase: RemotePhase) -> tuple[_Life, list[_Cell]]:
        """Monitor the phase's ``State`` and ``RunTime`` (shared with other watches of it)
        and read them; the subscription and the cells (state first)."""
        life = await self._ensure()
        cells: list[_Cell] = []
        new: list[_Cell] = []
        for nodeid in (phase.state_id, phase.run_time_id):
            if nodeid is None:
                continue
            cell = self._cells.get(nodeid)
            if cell is None:
                cell = self._cells[nodeid] = _Cell(nodeid)
                new.append(cell)
            cell.users += 1
            cells.append(cell)
        try:
            if new:
                client = self._plant._client
                made = await life.sub.subscribe_data_change(
                    [client.get_node(c.nodeid) for c in new], sampling_interval=0.0
                )
                for cell, handle in zip(new, made, strict=True):
                    if not isinstance(handle, int):
                        raise self._plant._refusal(
                            code_name(handle), f"subscription to phase {ref.phase} of {ref.unit}"
                        )
                    cell.handle = handle
            await self.read_into(cells, f"phase {ref.phase} of {ref.unit}")
        except BaseException:
            self.release(life, cells)
            raise
        return life, cells

    async def read_into(self, cells: list[_Cell], what: str, more: Sequence[Any] = ()) -> list[Any]:
        """Read the cells' variables (and the nodes ``more``) in one request; merge what was
        read into the cells; the values read, in that order."""
        ids = [c.nodeid for c in cells] + list(more)
        dvs = await read_data_values(self._plant._client, ids)
        values: list[Any] = []
        for dv in dvs:
            if dv.StatusCode is not None and not dv.StatusCode.is_good():
                raise self._plant._refusal(code_name(dv.StatusCode), f"read of {what}")
            values.append(dv.Value.Value if dv.Value is not None else None)
        for cell, dv, value in zip(cells, dvs, values, strict=False):
            _merge(cell, value, dv, read=True)
        return values

    def release(self, life: _Life, cells: list[_Cell]) -> None:
        """A watch of ``cells`` ended: delete the items no watch shares any more."""
        handles: list[int] = []
        for cell in cells:
            cell.users -= 1
            if cell.users <= 0 and self._cells.get(cell.nodeid) is cell:
                del self._cells[cell.nodeid]
                if cell.handle is not None:
                    handles.append(cell.handle)
        plant = self._plant
        if handles and life is self._life and life.failed is None and plant.connected:

            async def delete() -> None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(life.sub.unsubscribe(handles), plant.timeout_s)

            self._spawn(delete())

    def release_soon(self, life: _Life, cells: list[_Cell]) -> None:
        """:meth:`release` from any thread (a finalizer's too), without waiting: on the
        loop thread, between two of its callbacks."""
        with contextlib.suppress(RuntimeError):  # the loop has ended: nothing to delete
            self._plant._loop.call_soon_threadsafe(self.release, life, cells)


class PhaseWatch:
    """A phase's ``State`` and ``RunTime`` as the plant's subscription delivers them (see
    the module docstring). Made by
    :meth:`RemotePlant.watch_phase <phactory.connect.opcua.remote.RemotePlant.watch_phase>`;
    :meth:`close` it when done (a context manager)."""

    def __init__(
        self,
        plant: RemotePlant,
        owner: PlantSubscription,
        ref: PhaseRef,
        phase: RemotePhase,
        life: _Life,
        cells: list[_Cell],
    ) -> None:
        self.ref = ref
        self._plant = plant
        self._owner = owner
        self._phase = phase
        self._life = life
        self._cells = cells
        self._state_cell = cells[0]
        self._run_cell = cells[1] if len(cells) > 1 else None
        self._closed = False
        self._finalizer = weakref.finalize(self, owner.release_soon, life, cells)

    @property
    def what(self) -> str:
        """How messages name the phase: ``phase <phase> of <unit path>``."""
        return f"phase {self.ref.phase} of {self.ref.unit}"

    @property
    def notifications(self) -> int:
        """State changes delivered by the subscription so far."""
        return self._state_cell.notifications

    def state(self) -> State:
        """The phase's state, as last delivered (no request).

        Raises
        ------
        UnavailableError
            The connection is lost or closed, or the subscription no longer delivers
            (a bad status, no keep-alive).
        """
        self._check()
        return self._to_state(self._state_cell.value)

    def run_s(self) -> float:
        """The phase's run time [s], as last delivered (no request; NaN if it has none)."""
        self._check()
        cell = self._run_cell
        return math.nan if cell is None or cell.value is None else float(cell.value)

    def refresh(self) -> State:
        """Read the state (and run time) now, in one request, into what :meth:`state`
        gives; the state read. Works while the session does, whatever the subscription."""
        values = self._plant._submit(self._owner.read_into(self._cells, self.what))
        return self._to_state(values[0])

    def final(self) -> tuple[State, float, dict[str, float]]:
        """Read the state, run time [s] and reports in one request (the results of a run
        that has ended: read, not delivered, so that they are the final ones)."""
        more = [] if self._phase.reports_id is None else [self._phase.reports_id]
        values = self._plant._submit(self._owner.read_into(self._cells, self.what, more))
        state = self._to_state(values[0])
        run_s = float(values[1]) if self._run_cell is not None and values[1] is not None else 0.0
        reports = reports_of(values[-1]) if more else {}
        return state, run_s, reports

    def close(self) -> None:
        """Stop watching (idempotent; the subscription's items go when no watch needs them)."""
        self._closed = True
        self._finalizer()

    def __enter__(self) -> PhaseWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check(self) -> None:
        if self._closed:
            raise InvalidError(f"the watch of {self.what} is closed")
        self._plant._check_usable()
        problem = self._life.problem()
        if problem is not None:
            raise UnavailableError(
                f"the OPC UA server at {self._plant.endpoint} no longer delivers the state "
                f"of {self.what}: {problem}"
            )

    def _to_state(self, value: Any) -> State:
        try:
            return State(value)
        except ValueError:
            raise InvalidError(f"{self.what}: {value!r} is not an ISA-88 state") from None
