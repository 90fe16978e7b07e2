"""A plant served by a Phactory OPC UA server, seen as a ControlledPlant: :class:`RemotePlant`.

:class:`RemotePlant` is the one client-side view of a running plant of controllers that
lives in another process or on another machine (``phactory control status``, the web
workspace's Controllers page). It implements
:class:`~phactory.control.view.ControlledPlant` over the address space of
:mod:`phactory.connect.opcua.isa95`, so that code written against a local
:class:`~phactory.control.site.SitePlant` works against a remote one.

How it talks to the server:

* **One session, one loop thread.** The asyncua client runs on an event loop of its own
  in a daemon thread (as ``asyncua.sync.ThreadLoop`` does); every public method hands a
  coroutine to that loop and waits for its answer, so the object is a synchronous,
  thread-safe facade. Callbacks of :meth:`RemotePlant.subscribe` run on that thread and
  must neither block nor call the plant back (that would wait on itself; refused with
  ``InvalidError``).
* **Browse once.** The constructor finds what the server serves
  (:func:`~phactory.connect.opcua.remote_space.discover`: a few Browse requests and one
  Read, whatever the size of the plant); later calls go straight to Read, Write and
  Call, one request per call, whatever the number of values.
* **Values** come back as the plant has them: ``TIME`` in ns (served as ms), ``REAL`` as
  float. :meth:`RemotePlant.scan_stats` reads the units' ``Diagnostics`` (refreshed by
  the server about once a second).
* **One subscription** (:mod:`~phactory.connect.opcua.remote_subscription`), opened on
  first use: :meth:`RemotePlant.subscribe` adds a monitored item per tag (and one on
  ``PlantTime``, whose last value stamps the changes) and delivers the changes of each
  publish in one call (the first notification of each item, its value when the item is
  made, is not a change and is not delivered); :meth:`RemotePlant.watch_phase` follows
  a phase's ``State`` and ``RunTime`` (the batch engine's phase driver: no Read per
  poll), reporting a lost connection or a silent subscription.

Refusals are Phactory's errors: an unreachable server or a dropped connection
:class:`~phactory.errors.UnavailableError` (after a drop every call raises it at once; a
new ``RemotePlant`` reconnects), and so does a request not answered within ``timeout_s``
(a loaded server; the session holds, and the next request is tried), a refused login
or a role that does not allow a write or a command :class:`~phactory.errors.DeniedError`,
an unknown path :class:`~phactory.errors.NotFoundError` naming it, a value of the wrong
type or out of range :class:`~phactory.errors.InvalidError`, a command the phase's state
refuses :class:`~phactory.batch.states.InvalidCommand`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import math
import threading
from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

from phactory.batch.states import Command, InvalidCommand, State, next_state
from phactory.connect.opcua.remote_space import (
    CHUNK,
    RemotePhase,
    RemoteSpace,
    RemoteTag,
    code_name,
    discover,
    reports_of,
    to_ua_value,
    ua,
)
from phactory.connect.opcua.remote_subscription import PhaseWatch, PlantSubscription
from phactory.control.view import (
    ControlledPlant,
    PackMLState,
    PhaseRef,
    ScanStats,
    TagChange,
    TagInfo,
)
from phactory.errors import (
    ConflictError,
    DeniedError,
    InvalidError,
    NotFoundError,
    PhactoryError,
    UnavailableError,
)

__all__ = ["PhaseWatch", "RemotePlant"]

_log = logging.getLogger(__name__)
T = TypeVar("T")
TagValue = bool | int | float | str

#: Status codes that mean the session or connection is gone.
_LOST_CODES: Final = frozenset(
    {
        "BadConnectionClosed",
        "BadSecureChannelClosed",
        "BadSecureChannelIdInvalid",
        "BadSessionClosed",
        "BadSessionIdInvalid",
        "BadSessionNotActivated",
        "BadServerHalted",
        "BadShutdown",
        "BadCommunicationError",
        "BadNoCommunication",
        "BadTimeout",
        "BadRequestTimeout",
        "BadTcpInternalError",
        "BadServerNotConnected",
    }
)
_LOGIN_CODES: Final = frozenset(
    {
        "BadUserAccessDenied",
        "BadIdentityTokenInvalid",
        "BadIdentityTokenRejected",
        "BadUserSignatureInvalid",
        "BadSecurityPolicyRejected",
        "BadSecurityModeRejected",
    }
)


class RemotePlant:
    """A plant served by a Phactory OPC UA server (see the module docstring).

    Parameters
    ----------
    endpoint
        ``opc.tcp://host:port/phactory/``.
    user, password
        The account (its role decides what may be written and commanded); anonymous
        without ``user`` (insecure servers only).
    insecure
        Security mode None, for a server started with ``--insecure``; otherwise
        Basic256Sha256 SignAndEncrypt with a client certificate from ``pki_dir``.
    pki_dir
        Where the client certificate is kept (default
        :func:`~phactory.connect.opcua.pki.default_pki_dir`).
    timeout_s
        Timeout of each request [s].
    watchdog_s
        Interval of the connection's health probe [s].
    publish_interval_s
        Publishing interval of the plant's subscription (:meth:`subscribe`,
        :meth:`watch_phase`) [s].
    keepalive_s
        Longest time the server lets pass without a publish response (a keep-alive when
        nothing changed) [s]; asyncua makes the subscription again after 1.5 times that
        in silence, and a watch reports it lost (see
        :mod:`~phactory.connect.opcua.remote_subscription`).

    Raises
    ------
    UnavailableError
        The server cannot be reached (or answers as no Phactory plant server does).
    DeniedError
        The server refused the login.
    NotFoundError
        The server serves no Phactory plant.

    Examples
    --------
    >>> with RemotePlant("opc.tcp://127.0.0.1:4840/phactory/", user="otto",
    ...                  password=pw) as plant:                     # doctest: +SKIP
    ...     plant.read(["ds/ds-train-1/IVT-01/TT"])
    """

    def __init__(
        self,
        endpoint: str,
        *,
        user: str | None = None,
        password: str | None = None,
        insecure: bool = False,
        pki_dir: Path | str | None = None,
        timeout_s: float = 10.0,
        watchdog_s: float = 5.0,
        publish_interval_s: float = 0.1,
        keepalive_s: float = 5.0,
    ) -> None:
        self.endpoint = endpoint
        self.user = user
        self.insecure = insecure
        self.timeout_s = timeout_s
        self.publish_interval_s = publish_interval_s
        self.keepalive_s = keepalive_s
        self.site = ""
        self._space = RemoteSpace("")
        self._client: Any = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._lost: str | None = None
        self._closed = False
        self._sub_lock = threading.Lock()
        self._subs = PlantSubscription(self)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._run_loop, name="phactory-remote-plant", daemon=True
        )
        self._thread.start()
        try:
            self._submit(
                self._open(user, password, insecure, pki_dir, timeout_s, watchdog_s),
                timeout_s * 3 + 10,
            )
        except BaseException:
            self.close()
            raise

    # -- the ControlledPlant protocol ------------------------------------------------------

    @property
    def now_s(self) -> float:
        """Plant time [s since the plant started] (the site's ``PlantTime``)."""
        if self._space.plant_time_id is None:
            raise NotFoundError(f"the server at {self.endpoint} serves no PlantTime")
        value = self._read_ids([self._space.plant_time_id], "PlantTime")[0]
        return float(value)

    def tags(self) -> Sequence[TagInfo]:
        """Every tag, in the order of the address space (unit by unit)."""
        return list(self._space.order)

    def read(self, paths: Sequence[str]) -> list[TagValue]:
        """Current values; ``NotFoundError`` names the first unknown path."""
        tags = [self._tag(p) for p in paths]
        values = self._read_ids([t.nodeid for t in tags], "tag", list(paths))
        return [t.from_ua(v) for t, v in zip(tags, values, strict=True)]

    def write(self, path: str, value: TagValue) -> None:
        """Write a set point.

        Raises
        ------
        NotFoundError
            No such tag.
        DeniedError
            A read-only tag, or the user's role may not write.
        InvalidError
            A value of the wrong type or that the plant refuses (out of range).
        """
        tag = self._tag(path)
        if tag.info.access != "setpoint":
            raise DeniedError(f"tag {path} is read-only (a measurement or a state)")
        ua_value = to_ua_value(tag, value)
        self._submit(self._write(tag, ua_value))

    def phases(self) -> Sequence[PhaseRef]:
        """Every equipment phase, in the order of the address space."""
        return list(self._space.phases)

    def phase_state(self, ref: PhaseRef) -> State:
        """The phase's ISA-88 state."""
        return self.phase_states([ref])[ref]

    def phase_run_s(self, ref: PhaseRef) -> float:
        """Plant time the phase has spent Running in its current (or last) run [s]."""
        return self.phase_run_times([ref])[ref]

    def command(
        self, ref: PhaseRef, command: Command, parameters: Mapping[str, float] | None = None
    ) -> None:
        """Command a phase (with its parameters on Start).

        Raises
        ------
        InvalidCommand
            The phase's state refuses the command.
        DeniedError
            The user's role may not command phases.
        InvalidError
            Parameters the phase refuses.
        ConflictError
            The unit refuses otherwise (equipment busy with another phase).
        """
        phase = self._phase(ref)
        command = Command(command)
        method = phase.methods.get(command)
        if method is None:
            raise NotFoundError(f"phase {ref.phase} of {ref.unit} has no method {command.value}")
        text: str | None = None
        if command is Command.START:
            clean: dict[str, float] = {}
            for k, v in (parameters or {}).items():
                if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                    raise InvalidError(f"Start parameter {k!r} must be a finite number, not {v!r}")
                clean[k] = float(v)
            text = json.dumps(clean)
        elif parameters:
            raise InvalidError(f"only Start takes parameters, not {command.value}")
        code = self._submit(self._call(phase.object_id, method, text))
        if code is None:
            return
        what = f"phase {ref.phase} of {ref.unit}"
        if code == "BadInvalidState":
            state = self.phase_state(ref)
            try:
                next_state(state, command)
            except InvalidCommand:
                raise InvalidCommand(state, command, what) from None
            raise ConflictError(
                f"{what}: {command.value} refused by the unit (its equipment is busy, "
                "or the phase's state changed)"
            )
        if code == "BadInvalidArgument":
            raise InvalidError(f"{what}: {command.value} refused: parameters {text} not accepted")
        raise self._refusal(code, f"{command.value} of {what}")

    def reports(self, ref: PhaseRef) -> dict[str, float]:
        """The phase's report values (of its last end)."""
        node = self._phase(ref).reports_id
        if node is None:
            raise NotFoundError(f"phase {ref.phase} of {ref.unit} has no Reports")
        return reports_of(self._read_ids([node], f"Reports of phase {ref.phase}")[0])

    def unit_state(self, unit: str) -> PackMLState:
        """The unit's PackML state (``unit``: its ISA-95 path or id)."""
        return next(iter(self.unit_states([unit]).values()))

    def scan_stats(self) -> Sequence[ScanStats]:
        """Scan statistics of every task, from the units' ``Diagnostics`` [s]."""
        if not self._space.diagnostics:
            return []
        ids = [
            nodeid for _, _, variables in self._space.diagnostics for nodeid in variables.values()
        ]
        values = iter(self._read_ids(ids, "diagnostics"))
        out = []
        for unit, task, variables in self._space.diagnostics:
            got = {name: next(values) for name in variables}

            def seconds(name: str, got: dict[str, Any] = got) -> float:
                v = got.get(name)
                return math.nan if v is None else float(v) / 1000.0

            out.append(
                ScanStats(
                    task=task,
                    unit=unit,
                    period_s=seconds("Period"),
                    scans=int(got.get("Scans") or 0),
                    overruns=int(got.get("Overruns") or 0),
                    min_s=seconds("MinScanTime"),
                    mean_s=seconds("MeanScanTime"),
                    max_s=seconds("MaxScanTime"),
                    jitter_p99_s=seconds("JitterP99"),
                )
            )
        return out

    def subscribe(self, callback: Callable[[Sequence[TagChange]], None]) -> Callable[[], None]:
        """Call ``callback`` with the tags that changed, once per publish of the server.

        Runs on the client's loop thread: return quickly, and do not call the plant
        from the callback. ``t_s`` of a change is the last plant time received.
        """
        subs = self._subs
        with self._sub_lock:
            first = not subs.callbacks
            subs.callbacks = [*subs.callbacks, callback]
            if first:
                try:
                    self._submit(subs.add_tags())
                except BaseException:
                    subs.callbacks = [c for c in subs.callbacks if c is not callback]
                    raise

        def unsubscribe() -> None:
            with self._sub_lock:
                if callback not in subs.callbacks:
                    return
                subs.callbacks = [c for c in subs.callbacks if c is not callback]
                if subs.callbacks or not self.connected:
                    return
                with contextlib.suppress(PhactoryError):
                    self._submit(subs.remove_tags())

        return unsubscribe

    # -- more than the view ----------------------------------------------------------------

    def units(self) -> list[str]:
        """ISA-95 paths of the units, in the order of the address space."""
        return list(self._space.units)

    def watch_phase(self, ref: PhaseRef) -> PhaseWatch:
        """Follow a phase's state and run time by the plant's subscription (see
        :mod:`~phactory.connect.opcua.remote_subscription`): a
        :class:`~phactory.connect.opcua.remote_subscription.PhaseWatch`, seeded by a Read;
        close it when done.

        Raises
        ------
        NotFoundError
            No such phase, or it has no State.
        UnavailableError
            The connection is lost.
        """
        phase = self._phase(ref)
        if phase.state_id is None:
            raise NotFoundError(f"phase {ref.phase} of {ref.unit} has no State")
        life, cells = self._submit(self._subs.watch(ref, phase))
        return PhaseWatch(self, self._subs, ref, phase, life, cells)

    def phase_states(self, refs: Sequence[PhaseRef] | None = None) -> dict[PhaseRef, State]:
        """The ISA-88 states of ``refs`` (default every phase) in one request."""
        refs = list(self._space.phases) if refs is None else list(refs)
        ids = []
        for ref in refs:
            node = self._phase(ref).state_id
            if node is None:
                raise NotFoundError(f"phase {ref.phase} of {ref.unit} has no State")
            ids.append(node)
        values = self._read_ids(ids, "phase state")
        out: dict[PhaseRef, State] = {}
        for ref, value in zip(refs, values, strict=True):
            try:
                out[ref] = State(value)
            except ValueError:
                raise InvalidError(
                    f"phase {ref.phase} of {ref.unit}: {value!r} is not an ISA-88 state"
                ) from None
        return out

    def phase_run_times(self, refs: Sequence[PhaseRef] | None = None) -> dict[PhaseRef, float]:
        """The run times [s] of ``refs`` (default every phase) in one request."""
        refs = list(self._space.phases) if refs is None else list(refs)
        ids = []
        for ref in refs:
            node = self._phase(ref).run_time_id
            if node is None:
                raise NotFoundError(f"phase {ref.phase} of {ref.unit} has no RunTime")
            ids.append(node)
        values = self._read_ids(ids, "phase run time")
        return {ref: float(v) for ref, v in zip(refs, values, strict=True)}

    def unit_states(self, units: Sequence[str] | None = None) -> dict[str, PackMLState]:
        """The PackML states of ``units`` (ISA-95 paths or ids; default every unit that
        has one) in one request, by path."""
        packml = self._space.packml
        units = list(packml) if units is None else [self._unit_path(u) for u in units]
        ids = []
        for unit in units:
            node = packml.get(unit)
            if node is None:
                raise NotFoundError(f"no unit {unit!r} with a PackML state on {self.endpoint}")
            ids.append(node)
        values = self._read_ids(ids, "PackML state")
        out: dict[str, PackMLState] = {}
        for unit, value in zip(units, values, strict=True):
            try:
                out[unit] = PackMLState(int(value))
            except (TypeError, ValueError):
                raise InvalidError(f"unit {unit}: {value!r} is not a PackML state") from None
        return out

    @property
    def connected(self) -> bool:
        """Whether the session is open (not closed, not dropped)."""
        return not self._closed and self._lost is None

    def close(self) -> None:
        """End the session and stop the loop thread (idempotent)."""
        if self._closed:
            return
        if threading.current_thread() is self._thread:
            raise InvalidError("a RemotePlant callback must not close the plant")
        self._closed = True
        loop = self._loop
        if self._thread.is_alive() and not loop.is_closed():
            if self._stack is not None:
                fut = asyncio.run_coroutine_threadsafe(self._disconnect(), loop)
                with contextlib.suppress(Exception):
                    fut.result(self.timeout_s + 5)
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(loop.stop)
            self._thread.join(self.timeout_s + 5)

    def __enter__(self) -> RemotePlant:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "lost" if self._lost else "open"
        return f"RemotePlant({self.endpoint!r}, site={self.site!r}, {state})"

    # -- loop thread ---------------------------------------------------------------------

    def _run_loop(self) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def _submit(self, coro: Coroutine[Any, Any, T], timeout_s: float | None = None) -> T:
        """Run ``coro`` on the loop thread and wait for its result."""
        if threading.current_thread() is self._thread:
            coro.close()
            raise InvalidError("a RemotePlant callback must not call the plant back")
        try:
            self._check_usable()
        except UnavailableError:
            coro.close()
            raise
        fut = asyncio.run_coroutine_threadsafe(self._guard(coro), self._loop)
        try:
            return fut.result(timeout_s if timeout_s is not None else self.timeout_s + 5)
        except concurrent.futures.TimeoutError:
            fut.cancel()
            raise UnavailableError(
                f"the OPC UA server at {self.endpoint} did not answer within {self.timeout_s:g} s"
            ) from None

    def _check_usable(self) -> None:
        """Raise ``UnavailableError`` if the session is closed or lost."""
        if self._closed:
            raise UnavailableError(f"the connection to {self.endpoint} is closed")
        if self._lost is not None:
            raise UnavailableError(f"the connection to {self.endpoint} was lost: {self._lost}")

    async def _guard(self, coro: Coroutine[Any, Any, T]) -> T:
        """Turn a lost connection into ``UnavailableError`` (and remember it)."""
        from asyncua.ua.uaerrors import UaStatusCodeError

        try:
            return await coro
        except PhactoryError:
            raise
        except UaStatusCodeError as exc:
            name = code_name(exc.code)
            if name in _LOST_CODES:
                self._lost = name
                raise UnavailableError(
                    f"the connection to {self.endpoint} was lost: {name}"
                ) from None
            raise self._refusal(name, "request") from None
        except TimeoutError:  # before OSError, its base class
            # A request not answered in time (a loaded server) is not a lost connection:
            # the answer may still come, and the next request may be answered at once.
            # A connection that is dead but not closed fails asyncua's health probe.
            raise UnavailableError(
                f"the OPC UA server at {self.endpoint} did not answer within {self.timeout_s:g} s"
            ) from None
        except (ConnectionError, OSError) as exc:
            self._lost = str(exc) or type(exc).__name__
            raise UnavailableError(
                f"the connection to {self.endpoint} was lost: {self._lost}"
            ) from None

    # -- coroutines (loop thread) ----------------------------------------------------------

    async def _open(
        self,
        user: str | None,
        password: str | None,
        insecure: bool,
        pki_dir: Path | str | None,
        timeout_s: float,
        watchdog_s: float,
    ) -> None:
        from asyncua.ua.uaerrors import UaError, UaStatusCodeError

        from phactory.connect.opcua.client import connect

        stack = contextlib.AsyncExitStack()
        try:
            client = await stack.enter_async_context(
                connect(
                    self.endpoint,
                    user=user,
                    password=password,
                    insecure=insecure,
                    pki_dir=pki_dir,
                    timeout_s=timeout_s,
                    watchdog_s=watchdog_s,
                )
            )
        except UaStatusCodeError as exc:
            name = code_name(exc.code)
            if name in _LOGIN_CODES:
                raise DeniedError(self._login_refused(user, insecure, name)) from None
            raise UnavailableError(
                f"the OPC UA server at {self.endpoint} refused the session: {name}"
            ) from None
        except UaError as exc:  # no endpoint or token policy that fits
            raise DeniedError(
                f"the OPC UA server at {self.endpoint} offers no way in for this client: "
                f"{exc}" + (" (is it a secure server? drop --insecure)" if insecure else "")
            ) from None
        except (OSError, TimeoutError) as exc:
            raise UnavailableError(
                f"cannot reach the OPC UA server at {self.endpoint}: "
                f"{exc.strerror if isinstance(exc, OSError) and exc.strerror else exc or 'timeout'}"
            ) from None
        self._stack = stack
        self._client = client

        async def lost(exc: Exception) -> None:
            self._lost = str(exc) or type(exc).__name__

        client.connection_lost_callback = lost
        self._space = await discover(client, self.endpoint)
        self.site = self._space.site

    def _login_refused(self, user: str | None, insecure: bool, code: str) -> str:
        who = f"the login of {user!r}" if user else "an anonymous session"
        why = (
            "wrong user name or password, or the account is locked, inactive or must "
            "change its password first"
            if user
            else "the server requires a user (--user) and a secure channel"
        )
        if insecure:
            why += "; a secure server refuses sessions without security (drop --insecure)"
        return f"the OPC UA server at {self.endpoint} refused {who} ({code}): {why}"

    async def _disconnect(self) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(stack.aclose(), self.timeout_s)

    def _read_ids(self, ids: list[Any], what: str, names: list[str] | None = None) -> list[Any]:
        """Values of ``ids`` in one request (loop thread); a bad status raises."""
        return self._submit(self._read_values(ids, what, names))

    async def _read_values(self, ids: list[Any], what: str, names: list[str] | None) -> list[Any]:
        u = ua()

        out: list[Any] = []
        for i in range(0, len(ids), CHUNK):
            params = u.ReadParameters()
            params.NodesToRead = [
                u.ReadValueId(NodeId=n, AttributeId=u.AttributeIds.Value)
                for n in ids[i : i + CHUNK]
            ]
            for k, dv in enumerate(await self._client.uaclient.read(params)):
                if dv.StatusCode is not None and not dv.StatusCode.is_good():
                    name = names[i + k] if names else str(ids[i + k].Identifier)
                    raise self._refusal(code_name(dv.StatusCode.value), f"read of {what} {name}")
                out.append(dv.Value.Value if dv.Value is not None else None)
        return out

    async def _write(self, tag: RemoteTag, value: Any) -> None:
        u = ua()
        from asyncua.ua.uaerrors import UaStatusCodeError

        item = u.WriteValue()
        item.NodeId = tag.nodeid
        item.AttributeId = u.AttributeIds.Value
        item.Value = u.DataValue(u.Variant(value, tag.variant_type))
        params = u.WriteParameters()
        params.NodesToWrite = [item]
        try:
            (code,) = await self._client.uaclient.write(params)
        except UaStatusCodeError as exc:
            name = code_name(exc.code)
            if name in _LOST_CODES:
                raise
            raise self._refusal(name, f"write of {tag.info.path}") from None
        if not code.is_good():
            raise self._refusal(code_name(code.value), f"write of {tag.info.path} = {value!r}")

    async def _call(self, obj: Any, method: Any, text: str | None) -> str | None:
        """Call a phase method; ``None`` if good, else the status code's name."""
        u = ua()
        from asyncua.ua.uaerrors import UaStatusCodeError

        request = u.CallMethodRequest()
        request.ObjectId = obj
        request.MethodId = method
        request.InputArguments = [] if text is None else [u.Variant(text, u.VariantType.String)]
        try:
            (result,) = await self._client.uaclient.call([request])
        except UaStatusCodeError as exc:
            name = code_name(exc.code)
            if name in _LOST_CODES:
                raise
            return name
        return None if result.StatusCode.is_good() else code_name(result.StatusCode.value)

    def _refusal(self, code: str, what: str) -> PhactoryError:
        """The Phactory error for a status code answering ``what``."""
        if code == "BadUserAccessDenied":
            who = f"user {self.user!r}" if self.user else "an anonymous session"
            return DeniedError(f"{what}: refused for {who} (the account's role does not allow it)")
        if code == "BadNotWritable":
            return DeniedError(f"{what}: read-only")
        if code in ("BadNotFound", "BadNodeIdUnknown", "BadNodeIdInvalid"):
            return NotFoundError(f"{what}: not found on {self.endpoint} ({code})")
        if code in ("BadOutOfRange", "BadTypeMismatch", "BadInvalidArgument"):
            return InvalidError(f"{what}: refused by the plant ({code})")
        if code == "BadInvalidState":
            return ConflictError(f"{what}: refused in the current state ({code})")
        return UnavailableError(f"{what}: the server answered {code}")

    # -- look-ups ----------------------------------------------------------------------

    def _tag(self, path: str) -> RemoteTag:
        tag = self._space.tags.get(path)
        if tag is None:
            raise NotFoundError(f"no tag {path!r} in plant {self.site} at {self.endpoint}")
        return tag

    def _unit_path(self, unit: str) -> str:
        """The ISA-95 path of a unit given by path or id (as it is if unknown)."""
        if unit in self._space.packml or "/" in unit:
            return unit
        found = [u for u in self._space.units if u.rpartition("/")[2] == unit]
        return found[0] if len(found) == 1 else unit

    def _phase(self, ref: PhaseRef) -> RemotePhase:
        phase = self._space.phases.get(ref)
        if phase is None:
            raise NotFoundError(
                f"no phase {ref.phase!r} of unit {ref.unit!r} in plant {self.site} "
                f"at {self.endpoint}"
            )
        return phase


if TYPE_CHECKING:  # mypy checks that RemotePlant keeps the ControlledPlant contract

    def _is_a_controlled_plant(plant: RemotePlant) -> ControlledPlant:
        return plant
