"""The OPC UA server of a running plant: :class:`PlantServer`.

One server serves one :class:`~phactory.control.view.ControlledPlant` with the address
space of :mod:`phactory.connect.opcua.isa95`. Values flow both ways:

* **plant -> clients**: the server subscribes to the plant's tag changes. The plant calls
  back on its scanning thread; the callback only stores the newest value per tag in a
  dictionary (under a lock) and wakes the server's event loop once per batch. The loop
  then writes the whole batch straight into asyncua's address space (no Node objects,
  no service request, no second look-up per value; values as
  :class:`~phactory.connect.opcua.access.ScalarDataValue`, which asyncua's monitored
  items need not deep-copy), from where asyncua's subscriptions send the changes to
  clients at their publishing intervals. Values that
  change again before the loop gets to them are coalesced (a client sees the newest,
  as OPC UA sampling would give it). Phase states, phase reports and PackML unit states,
  which the plant does not push, are polled every ``state_poll_s`` and written when
  they change, and refreshed at once after every method call. Scan statistics
  (:meth:`ControlledPlant.scan_stats`, the units' ``Diagnostics``) are polled every
  ``diagnostics_s`` (about once a second), likewise written only where they changed.
* **clients -> plant**: writes to set points go to :meth:`ControlledPlant.write`; method
  calls on phases go to :meth:`ControlledPlant.command` (in a worker thread, so a plant
  busy scanning never stalls the server). Refusals are status codes
  (:func:`phactory.connect.opcua.access.status_for`).

Security (OPC 10000-2, OPC 10000-4 §5.4-5.6, OPC 10000-7 security policies): by default
the only endpoint is Basic256Sha256 with SignAndEncrypt, the only user token a user
name and password, checked by the :class:`~phactory.connect.opcua.users.Authenticator`;
the server certificate is made on first start (:mod:`phactory.connect.opcua.pki`).
Sessions on a channel without security are refused even though asyncua accepts such
channels for discovery (:class:`~phactory.connect.opcua.access.PlantUserManager`). Client
application certificates are accepted without a trust list: the channel is encrypted
either way and users authenticate by password. ``insecure=True`` (``--insecure``, for
development) adds the None endpoint and anonymous sessions (role ``anonymous_role``,
by default ``engineer``). The server listens on 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Self

from phactory.batch.states import Command, State
from phactory.connect.opcua.isa95 import (
    DIAGNOSTICS,
    PlantNodes,
    TagNodes,
    build_address_space,
    check_plant,
    diagnostics_values,
    namespace_uri,
)
from phactory.connect.opcua.nodes import TYPES_NAMESPACE
from phactory.connect.opcua.phases import packml_name, parse_parameters, reports_json
from phactory.connect.opcua.pki import default_pki_dir, ensure_certificate
from phactory.connect.opcua.users import ROLES, Authenticator, OpcuaRole
from phactory.control.view import ControlledPlant, PackMLState, PhaseRef, TagChange
from phactory.errors import InvalidError, PhactoryError

if TYPE_CHECKING:
    from asyncua import ua
    from asyncua.server.server import Server

__all__ = ["DEFAULT_PORT", "PlantServer"]

_log = logging.getLogger(__name__)

#: The IANA port of OPC UA TCP (opc.tcp).
DEFAULT_PORT: Final = 4840
#: Values written per turn of the event loop before letting clients' requests in.
_WRITES_PER_TURN: Final = 2000


@dataclass(slots=True)
class _States:
    """What one poll of the plant found changed (see ``PlantServer._read_states``)."""

    plant_time_s: float
    phases: dict[PhaseRef, tuple[State, dict[str, float]]] = field(default_factory=dict)
    run_s: dict[PhaseRef, float] = field(default_factory=dict)
    packml: dict[str, PackMLState] = field(default_factory=dict)
    #: Diagnostics variable -> (new value, OPC UA built-in type name).
    diagnostics: dict[Any, tuple[int | float, str]] = field(default_factory=dict)


class PlantServer:
    """An OPC UA server over a running plant.

    Parameters
    ----------
    plant
        The plant to serve.
    host
        Address to listen on (``127.0.0.1``: this machine only; ``0.0.0.0``: everywhere).
    port
        TCP port; ``0`` lets the system choose (see :attr:`port` after start).
    insecure
        Development only: also offer security mode None and anonymous sessions.
    authenticator
        Checks user names and passwords (required unless ``insecure``).
    pki_dir
        Where the server certificate is kept (default
        :func:`~phactory.connect.opcua.pki.default_pki_dir`).
    anonymous_role
        Role of anonymous sessions on an insecure server.
    state_poll_s
        How often phase and unit states are read from the plant [s].
    diagnostics_s
        How often scan statistics are read from the plant [s].

    Examples
    --------
    >>> async def main(plant):                                      # doctest: +SKIP
    ...     async with PlantServer(plant, authenticator=users, port=4840) as server:
    ...         print(server.endpoint)
    ...         await asyncio.Event().wait()
    """

    def __init__(
        self,
        plant: ControlledPlant,
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        insecure: bool = False,
        authenticator: Authenticator | None = None,
        pki_dir: Path | str | None = None,
        anonymous_role: OpcuaRole = "engineer",
        state_poll_s: float = 0.1,
        diagnostics_s: float = 1.0,
    ) -> None:
        self.plant = plant
        self.host = host
        self.port = port
        self.insecure = insecure
        self.authenticator = authenticator
        self.pki_dir = Path(pki_dir) if pki_dir is not None else None
        self.anonymous_role = anonymous_role
        self.state_poll_s = state_poll_s
        self.diagnostics_s = diagnostics_s
        self._server: Server | None = None
        self._nodes: PlantNodes | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._pending: dict[str, Any] = {}
        self._wake: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._unsubscribe: Any = None
        self._phase_cache: dict[PhaseRef, State] = {}
        self._packml_cache: dict[str, PackMLState] = {}
        self._run_cache: dict[PhaseRef, float] = {}
        self._diag_cache: dict[Any, int | float] = {}
        self._diag_due = 0.0
        self._setpoints: dict[Any, TagNodes] = {}
        self.certificate: Path | None = None
        self.namespace_index: int | None = None

    # -- public ------------------------------------------------------------------------

    @property
    def namespace_uri(self) -> str:
        """``urn:phactory:<site>``: the namespace of the plant's nodes."""
        return namespace_uri(self.plant.site)

    @property
    def application_uri(self) -> str:
        """The server's application URI (named in its certificate)."""
        return f"urn:{socket.gethostname()}:phactory:opcua-server"

    @property
    def endpoint(self) -> str:
        """The endpoint URL clients connect to, ``opc.tcp://host:port/phactory/``."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"opc.tcp://{host}:{self.port}/phactory/"

    def node_id(self, path: str) -> str:
        """The NodeId string of a tag or equipment path, e.g. ``ns=2;s=area/cell/unit/TT101``."""
        if self.namespace_index is None:
            raise InvalidError("the OPC UA server is not started")
        return f"ns={self.namespace_index};s={path}"

    async def start(self) -> None:
        """Make the certificate if needed, build the address space and listen.

        Raises
        ------
        InvalidError
            If the options do not fit (no authenticator on a secure server, unknown
            role), or the plant cannot be served (bad tag path or type).
        """
        if self._server is not None:
            raise InvalidError("the OPC UA server is already started")
        if not self.insecure and self.authenticator is None:
            raise InvalidError(
                "a secure OPC UA server needs an authenticator (user accounts); "
                "use --insecure only for development"
            )
        if self.anonymous_role not in ROLES:
            raise InvalidError(
                f"anonymous_role {self.anonymous_role!r}: expected one of {', '.join(ROLES)}"
            )
        check_plant(self.plant)  # fail fast, before asyncua's 3 s of start-up
        from asyncua import ua
        from asyncua.server.server import Server

        from phactory.connect.opcua.access import (
            AttributeIds,
            PlantAttributeService,
            PlantUserManager,
            RoleRuleset,
        )

        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        server = Server(
            user_manager=PlantUserManager(  # type: ignore[arg-type]
                self.authenticator,
                self.anonymous_role if self.insecure else None,
                require_secure_channel=not self.insecure,
            )
        )
        await server.init()
        server.set_endpoint(f"opc.tcp://{self.host}:{self.port}/phactory/")
        server.set_server_name(f"Phactory {self.plant.site}")
        await server.set_application_uri(self.application_uri)
        server.product_uri = "urn:phactory"
        server.manufacturer_name = "Phactory"
        server.allow_remote_admin(False)
        policies = [ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt]
        tokens: list[type] = [ua.UserNameIdentityToken]
        if self.insecure:
            policies.insert(0, ua.SecurityPolicyType.NoSecurity)
            tokens.insert(0, ua.AnonymousIdentityToken)
        server.set_security_policy(policies, permission_ruleset=RoleRuleset())  # type: ignore[arg-type]
        server.set_identity_tokens(tokens)
        files = await asyncio.to_thread(
            ensure_certificate,
            self.pki_dir or default_pki_dir(),
            self.application_uri,
            hostnames=(self.host,),
        )
        if files.generated:
            _log.info("OPC UA server certificate made: %s", files.certificate)
        self.certificate = files.certificate
        await server.load_certificate(str(files.certificate))
        await server.load_private_key(str(files.private_key))

        ns_types = await server.register_namespace(TYPES_NAMESPACE)
        self.namespace_index = await server.register_namespace(self.namespace_uri)
        # subscribe before reading the initial values: a change in between is kept
        self._unsubscribe = self.plant.subscribe(self._on_changes)
        try:
            nodes = await build_address_space(server, self.plant, ns_types, self.namespace_index)
            self._nodes = nodes
            # empty caches: the first poll writes every state, whatever changed meanwhile
            self._phase_cache, self._packml_cache, self._run_cache = {}, {}, {}
            # the diagnostics hold the values they were made with: write only changes
            self._diag_cache = {
                d.variables[name]: value
                for d in nodes.diagnostics.values()
                for name, value in d.initial.items()
            }
            self._diag_due = time.monotonic() + self.diagnostics_s
            for phase in nodes.phases.values():
                for method_id, command in phase.methods.items():
                    server.iserver.isession.add_method_callback(
                        method_id, self._method(phase.ref, command)
                    )
            self._setpoints = {
                t.nodeid: t for t in nodes.tags.values() if t.info.access == "setpoint"
            }
            for tag in nodes.tags.values():
                node = server.iserver.aspace.get(tag.nodeid)
                tag.value_slot = node.attributes.get(AttributeIds.Value) if node else None
            server.iserver.attribute_service = PlantAttributeService(
                server.iserver.aspace, frozenset(self._setpoints), self._write_setpoint
            )
            await server.start()
        except BaseException:
            self._unsubscribe()
            self._unsubscribe = None
            raise
        self._server = server
        if server.bserver is not None:
            self.port = server.bserver.port
        self._tasks = [
            asyncio.create_task(self._flush_loop(), name="opcua-values"),
            asyncio.create_task(self._poll_loop(), name="opcua-states"),
        ]
        self._wake.set()  # write what arrived while building
        _log.info(
            "OPC UA server of %s on %s (%s)",
            self.plant.site,
            self.endpoint,
            "INSECURE: None and anonymous allowed"
            if self.insecure
            else "Basic256Sha256 SignAndEncrypt",
        )

    async def stop(self) -> None:
        """Stop listening and unsubscribe from the plant (idempotent)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._server is not None:
            server, self._server = self._server, None
            await server.stop()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- plant -> address space --------------------------------------------------------

    def _on_changes(self, changes: Sequence[TagChange]) -> None:
        """Plant callback (scanning thread): keep the newest values, wake the loop once."""
        with self._lock:
            was_empty = not self._pending
            pending = self._pending
            for change in changes:
                pending[change.path] = change.value
        if was_empty and self._loop is not None and self._wake is not None:
            with contextlib.suppress(RuntimeError):  # loop closed: the server is stopping
                self._loop.call_soon_threadsafe(self._wake.set)

    async def _flush_loop(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            with self._lock:
                batch, self._pending = self._pending, {}
            try:
                await self._write_values(batch)
            except Exception:  # keep serving: one bad value must not stop the flow
                _log.exception("OPC UA: writing plant values failed")

    async def _write_values(self, batch: dict[str, Any]) -> None:
        """Write plant values into the address space and on to the monitored items.

        The fast path does what asyncua's ``AddressSpace.write_attribute_value`` does for
        a plain variable (store the DataValue, call the data-change callbacks of the
        monitored items) without looking the node up again and checking the type: the
        Variant is made here, of the variable's own type. A variable with a value
        callback or setter (none of ours) takes asyncua's path.
        """
        from asyncua import ua

        from phactory.connect.opcua.access import AttributeIds, ScalarDataValue

        assert self._server is not None and self._nodes is not None
        aspace = self._server.iserver.aspace
        tags = self._nodes.tags
        variant_of, value_of = ua.Variant, ScalarDataValue  # bound once: this loop is hot
        good = ua.StatusCode()  # never changed in place: one for every value
        stamp = _now()
        n = 0
        for path, value in batch.items():
            tag = tags.get(path)
            if tag is None:
                continue
            try:
                variant = variant_of(tag.to_ua(value), tag.variant_type, None, False)
            except (TypeError, ValueError, OverflowError):
                _log.warning(
                    "OPC UA: tag %s: value %r does not fit %s", path, value, tag.info.data_type
                )
                continue
            dv = value_of(variant, good, stamp, stamp)
            slot = tag.value_slot
            if slot is None or slot.value_callback is not None or slot.value_setter is not None:
                await aspace.write_attribute_value(tag.nodeid, AttributeIds.Value, dv)
            else:
                slot.value = dv
                callbacks = slot.datachange_callbacks
                if callbacks:
                    for handle, callback in tuple(callbacks.items()):
                        await callback(handle, dv)
            n += 1
            if n % _WRITES_PER_TURN == 0:
                await asyncio.sleep(0)  # let requests of clients in between
                stamp = _now()

    async def _poll_loop(self) -> None:
        while True:
            await asyncio.sleep(self.state_poll_s)
            try:
                await self._refresh_states(None)
            except Exception:
                _log.exception("OPC UA: reading phase and unit states failed")

    async def _refresh_states(self, only: PhaseRef | None) -> None:
        """Read phase states (reports when changed) and unit states; write the changes.

        A full refresh (``only`` is ``None``) also reads the scan statistics when they
        are due (every :attr:`diagnostics_s`).
        """
        assert self._nodes is not None
        refs = [only] if only is not None else list(self._nodes.phases)
        units = [only.unit] if only is not None else list(self._nodes.packml)
        units = [u for u in units if u in self._nodes.packml]
        diagnostics = False
        if only is None and self._nodes.diagnostics:
            now = time.monotonic()
            if now >= self._diag_due:
                diagnostics = True
                self._diag_due = now + self.diagnostics_s
        states = await asyncio.to_thread(self._read_states, refs, units, diagnostics)
        await self._write_states(states)

    def _read_states(
        self, refs: list[PhaseRef], units: list[str], diagnostics: bool = False
    ) -> _States:
        """Worker thread: the states (and run times, and scan statistics if asked) that
        differ from the last written."""
        plant = self.plant
        out = _States(plant_time_s=float(plant.now_s))
        if diagnostics:
            self._read_diagnostics(out)
        for ref in refs:
            state = State(plant.phase_state(ref))
            if state != self._phase_cache.get(ref):
                out.phases[ref] = (state, plant.reports(ref))
            if state is not State.IDLE or ref in out.phases:
                run_s = float(plant.phase_run_s(ref))
                if run_s != self._run_cache.get(ref):
                    out.run_s[ref] = run_s
        for unit in units:
            unit_state = plant.unit_state(unit)
            if unit_state != self._packml_cache.get(unit):
                out.packml[unit] = unit_state
        return out

    def _read_diagnostics(self, out: _States) -> None:
        """Worker thread: the diagnostics values that changed since last written."""
        assert self._nodes is not None
        served = self._nodes.diagnostics
        cache = self._diag_cache
        for stats in self.plant.scan_stats():
            nodes = served.get((stats.unit, stats.task))
            if nodes is None:
                continue
            for name, value in diagnostics_values(stats).items():
                nodeid = nodes.variables[name]
                old = cache.get(nodeid)
                same = old == value or (
                    isinstance(old, float) and math.isnan(old) and math.isnan(value)
                )
                if not same:
                    out.diagnostics[nodeid] = (value, DIAGNOSTICS[name][1])

    async def _write_states(self, states: _States) -> None:
        from asyncua import ua

        from phactory.connect.opcua.access import AttributeIds, ScalarDataValue

        assert self._server is not None and self._nodes is not None
        aspace = self._server.iserver.aspace
        stamp = _now()
        value_attr, string, int32, double = (
            AttributeIds.Value,
            ua.VariantType.String,
            ua.VariantType.Int32,
            ua.VariantType.Double,
        )

        def dv(value: Any, vtype: ua.VariantType) -> ua.DataValue:
            return ScalarDataValue(
                ua.Variant(value, vtype), SourceTimestamp=stamp, ServerTimestamp=stamp
            )

        await aspace.write_attribute_value(
            self._nodes.plant_time_id, value_attr, dv(states.plant_time_s, double)
        )
        for ref, run_s in states.run_s.items():
            # before the state: a client that sees Complete reads the run's full time
            await aspace.write_attribute_value(
                self._nodes.phases[ref].run_time_id, value_attr, dv(run_s, double)
            )
            self._run_cache[ref] = run_s
        for ref, (state, reports) in states.phases.items():
            node = self._nodes.phases[ref]
            # reports first: a client that sees Complete finds the reports already there
            await aspace.write_attribute_value(
                node.reports_id, value_attr, dv(reports_json(reports), string)
            )
            await aspace.write_attribute_value(node.state_id, value_attr, dv(state.value, string))
            self._phase_cache[ref] = state
        for unit, unit_state in states.packml.items():
            current, name = self._nodes.packml[unit]
            await aspace.write_attribute_value(current, value_attr, dv(int(unit_state), int32))
            await aspace.write_attribute_value(
                name, value_attr, dv(packml_name(unit_state), string)
            )
            self._packml_cache[unit] = unit_state
        for nodeid, (value, vtype) in states.diagnostics.items():
            await aspace.write_attribute_value(
                nodeid, value_attr, dv(value, getattr(ua.VariantType, vtype))
            )
            self._diag_cache[nodeid] = value

    # -- clients -> plant --------------------------------------------------------------

    def _method(self, ref: PhaseRef, command: Command) -> Any:
        """The callback of one phase method."""

        from phactory.connect.opcua.access import StatusCodes, status, status_for

        async def call(_parent: ua.NodeId, *args: ua.Variant) -> list[ua.Variant] | ua.StatusCode:
            parameters: dict[str, float] | None = None
            if command is Command.START:
                text = args[0].Value if args else ""
                if text is None:
                    text = ""
                if not isinstance(text, str):
                    return status(StatusCodes.BadTypeMismatch)
                try:
                    parameters = parse_parameters(text)
                except InvalidError as exc:
                    _log.info(
                        "OPC UA: %s %s of %s refused: %s", command.value, ref.phase, ref.unit, exc
                    )
                    return status(StatusCodes.BadInvalidArgument)
            elif args:
                return status(StatusCodes.BadTooManyArguments)
            try:
                await asyncio.to_thread(self.plant.command, ref, command, parameters)
            except PhactoryError as exc:
                _log.info(
                    "OPC UA: %s %s of %s refused: %s", command.value, ref.phase, ref.unit, exc
                )
                if isinstance(exc, InvalidError):
                    return status(StatusCodes.BadInvalidArgument)
                return status_for(exc)
            _log.info("OPC UA: %s %s of %s", command.value, ref.phase, ref.unit)
            await self._refresh_states(ref)
            return []

        return call

    async def _write_setpoint(self, nodeid: ua.NodeId, value: ua.DataValue) -> ua.StatusCode:
        """A client's write of a set point, through the plant."""
        from phactory.connect.opcua.access import StatusCodes, status, status_for

        tag = self._setpoints[nodeid]
        variant = value.Value
        if variant is None or variant.VariantType != tag.variant_type:
            return status(StatusCodes.BadTypeMismatch)
        try:
            plant_value = tag.from_ua(variant.Value)
        except (TypeError, ValueError, OverflowError):
            return status(StatusCodes.BadTypeMismatch)
        try:
            await asyncio.to_thread(self.plant.write, tag.info.path, plant_value)
        except PhactoryError as exc:
            _log.info("OPC UA: write of %s = %r refused: %s", tag.info.path, plant_value, exc)
            return status_for(exc)
        _log.info("OPC UA: %s = %r", tag.info.path, plant_value)
        return status(0)


def _now() -> Any:
    """Wall-clock time for source and server timestamps (asyncua's ``DateTime``)."""
    return datetime.now(UTC)
