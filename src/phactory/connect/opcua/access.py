"""Hooks into asyncua: who is who, who may do what, where writes go, how values travel.

Three hooks of asyncua carry :mod:`phactory.connect.opcua.users` into the server:

* :class:`PlantUserManager` (asyncua's ``UserManager``) turns an ActivateSession request
  into a :class:`PlantUser` with an OPC UA role, through the :class:`Authenticator`;
  anonymous sessions get a user only on an insecure (development) server.
* :class:`RoleRuleset` (asyncua's ``PermissionRuleset``) is asked for every request of an
  activated session: it refuses the Write service to viewers and operators, the Call
  service to viewers, and the NodeManagement services (AddNodes, DeleteNodes, ...) to
  everyone; a refused request answers ``BadUserAccessDenied`` (OPC 10000-4 §7.34).
* :class:`PlantAttributeService` replaces the Write service's handling of set points:
  a client's write is passed to :meth:`ControlledPlant.write` first and reaches the
  address space only when the plant accepts it; a refusal becomes the item's status
  code (:func:`status_for`).

:class:`ScalarDataValue` is the ``DataValue`` the server writes plant values with. asyncua
deep-copies every value for every monitored item that sees it
(``MonitoredItemValues.set_current_datavalue``, "to prevent referencing the inner
value"), which costs more than everything else on the way to a client together
(measured: about 0.1 ms of a 2-core machine per change). A plant value is an immutable
scalar (bool, int, float, str) in a new Variant, so its copy is itself; the subclass says
so to :func:`copy.deepcopy` and nothing else changes (same fields, same encoding).

This module imports asyncua at the top; :mod:`phactory.connect.opcua.server` imports it
only when a server starts.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, cast

from asyncua import ua
from asyncua.crypto.permission_rules import USER_TYPES, PermissionRuleset, User, UserRole
from asyncua.server.address_space import AddressSpace, AttributeService
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.object_ids import ObjectIds
from asyncua.ua.status_codes import StatusCodes

from phactory.batch.states import InvalidCommand
from phactory.connect.opcua.users import ROLES, Authenticator, OpcuaRole, may_call, may_write
from phactory.errors import (
    ConflictError,
    DeniedError,
    InvalidError,
    NotFoundError,
    PhactoryError,
    UnavailableError,
)

__all__ = [
    "AttributeIds",
    "PlantAttributeService",
    "PlantUser",
    "PlantUserManager",
    "RoleRuleset",
    "ScalarDataValue",
    "StatusCodes",
    "numeric_id",
    "status",
    "status_for",
]

_log = logging.getLogger(__name__)


def numeric_id(number: int, namespace: int = 0) -> ua.NodeId:
    """A numeric NodeId (asyncua types the identifier as its own ``Int32``)."""
    return ua.NodeId(cast(Any, number), cast(Any, namespace))


def status(code: int) -> ua.StatusCode:
    """A status code from one of :class:`StatusCodes` (``Good`` is ``0``)."""
    return ua.StatusCode(cast(Any, code))


_WRITE: Final = numeric_id(ObjectIds.WriteRequest_Encoding_DefaultBinary)
_CALL: Final = numeric_id(ObjectIds.CallRequest_Encoding_DefaultBinary)
#: The services an activated session may use at all (asyncua's list for ordinary
#: users: no NodeManagement, no RegisterServer).
_SERVICES: Final = frozenset(numeric_id(t) for t in USER_TYPES)


@dataclass
class PlantUser(User):
    """An asyncua user with its OPC UA role (:data:`~phactory.connect.opcua.users.ROLES`)."""

    opcua_role: OpcuaRole = "viewer"


def role_of(user: object) -> OpcuaRole | None:
    """The OPC UA role of a session's user, ``None`` for anyone else."""
    return user.opcua_role if isinstance(user, PlantUser) else None


class PlantUserManager:
    """asyncua user manager: user name and password through an :class:`Authenticator`.

    asyncua lets any client open a SecureChannel with security policy None (it must, for
    discovery: OPC 10000-4 §5.4.4) and would then activate sessions on it, whatever
    endpoints the server offers, with no per-request permission checks at all.
    ``require_secure_channel`` closes that door: a session is activated only over a
    channel that carries the client's application certificate, i.e. a signed and
    encrypted one (asyncua passes the channel's peer certificate here for user name and
    anonymous tokens; X.509 user tokens are not offered).

    Parameters
    ----------
    authenticator
        Checks names and passwords; ``None``: no named users (only an insecure server
        without accounts).
    anonymous_role
        The role of anonymous sessions; ``None`` refuses them.
    require_secure_channel
        Refuse sessions on channels without security (all but insecure servers).
    """

    def __init__(
        self,
        authenticator: Authenticator | None,
        anonymous_role: OpcuaRole | None,
        *,
        require_secure_channel: bool = True,
    ) -> None:
        self.authenticator = authenticator
        self.anonymous_role = anonymous_role
        self.require_secure_channel = require_secure_channel

    def get_user(
        self,
        iserver: Any,
        username: str | None = None,
        password: str | None = None,
        certificate: Any = None,
    ) -> User | None:
        """The session's user, or ``None`` to refuse (``BadUserAccessDenied``)."""
        if self.require_secure_channel and not certificate:
            _log.info("OPC UA session refused: channel without security")
            return None
        if username is None:
            if self.anonymous_role is None:
                return None
            return PlantUser(role=UserRole.User, name=None, opcua_role=self.anonymous_role)
        if self.authenticator is None:
            return None
        try:
            role = self.authenticator.authenticate(username, password or "")
        except PhactoryError as exc:  # locked out, inactive, ...: refused like a bad password
            _log.info("OPC UA login of %r refused: %s", username, exc)
            return None
        except Exception:  # an authenticator failing must not take the server down
            _log.exception("OPC UA authenticator failed for %r", username)
            return None
        if role not in ROLES:
            _log.info("OPC UA login of %r refused", username)
            return None
        _log.info("OPC UA login of %r as %s", username, role)
        return PlantUser(role=UserRole.User, name=username, opcua_role=role)


class RoleRuleset(PermissionRuleset):
    """Per-request permissions from the session user's OPC UA role."""

    def check_validity(self, user: Any, action_type_id: ua.NodeId, body: Any) -> bool:
        """Whether ``user`` may use the service ``action_type_id`` (a request's type)."""
        if action_type_id not in _SERVICES:
            return False
        role = role_of(user)
        if role is None:
            return False
        if action_type_id == _WRITE:
            return may_write(role)
        if action_type_id == _CALL:
            return may_call(role)
        return True


def status_for(exc: BaseException) -> ua.StatusCode:
    """The OPC UA status code answering a plant's refusal.

    ============================  =======================
    refusal                       status code
    ============================  =======================
    ``InvalidCommand`` (ISA-88)   ``BadInvalidState``
    ``NotFoundError``             ``BadNotFound``
    ``DeniedError``               ``BadNotWritable``
    ``InvalidError``              ``BadOutOfRange``
    ``ConflictError``             ``BadInvalidState``
    ``UnavailableError``          ``BadResourceUnavailable``
    anything else                 ``BadInternalError``
    ============================  =======================
    """
    codes = StatusCodes
    if isinstance(exc, InvalidCommand | ConflictError):
        code = codes.BadInvalidState
    elif isinstance(exc, NotFoundError):
        code = codes.BadNotFound
    elif isinstance(exc, DeniedError):
        code = codes.BadNotWritable
    elif isinstance(exc, InvalidError):
        code = codes.BadOutOfRange
    elif isinstance(exc, UnavailableError):
        code = codes.BadResourceUnavailable
    else:
        code = codes.BadInternalError
    return status(code)


#: Writes a client's DataValue to the plant; answers the item's status code.
SetpointWriter = Callable[[ua.NodeId, ua.DataValue], Awaitable[ua.StatusCode]]


class PlantAttributeService(AttributeService):
    """asyncua's Write service, with set points written through the plant.

    Parameters
    ----------
    aspace
        The server's address space.
    setpoints
        The NodeIds of the set-point variables.
    write_setpoint
        Writes one value to the plant (type check, conversion, ``plant.write``).
    """

    def __init__(
        self, aspace: AddressSpace, setpoints: frozenset[ua.NodeId], write_setpoint: SetpointWriter
    ) -> None:
        super().__init__(aspace)
        self._setpoints = setpoints
        self._write_setpoint = write_setpoint

    async def write(
        self, params: ua.WriteParameters, user: User = User(role=UserRole.Admin)
    ) -> list[ua.StatusCode]:
        """Write each item; set points go to the plant first."""
        results: list[ua.StatusCode] = []
        for item in params.NodesToWrite:
            one = ua.WriteParameters(NodesToWrite=[item])
            if item.AttributeId != AttributeIds.Value or item.NodeId not in self._setpoints:
                results.extend(await super().write(one, user))
                continue
            role = role_of(user)
            if user.role != UserRole.Admin and (role is None or not may_write(role)):
                results.append(status(StatusCodes.BadUserAccessDenied))
                continue
            answer = await self._write_setpoint(item.NodeId, item.Value)
            if answer.is_good():
                results.extend(await super().write(one, user))
            else:
                results.append(answer)
        return results


class ScalarDataValue(ua.DataValue):
    """A ``DataValue`` of an immutable scalar, which :func:`copy.deepcopy` returns as is."""

    __slots__ = ()

    def __deepcopy__(self, memo: dict[int, Any]) -> ScalarDataValue:
        return self

    def __copy__(self) -> ScalarDataValue:
        return self
