"""Who may do what on the OPC UA server: three roles and the authenticator protocol.

The server knows users only through an :class:`Authenticator`, a one-method protocol
that turns a user name and password into a role, so that it does not depend on where
accounts live. The web workspace's accounts are adapted in
:mod:`phactory.app.services.opcua_users`; :class:`StaticAuthenticator` serves tests and
small installations.

Roles follow the usual split of a control system's operator interface (IEC 62443-3-3
SR 2.1, authorisation enforcement; ISA-101 operator vs engineer access):

============  =====  ================================  ===========================
role          read   call phase methods (ISA-88        write set points
                     Start, Hold, ... on a phase)      (``access == "setpoint"``)
============  =====  ================================  ===========================
viewer        yes    no                                no
operator      yes    yes                               no
engineer      yes    yes                               yes
============  =====  ================================  ===========================

A viewer calls no method at all (the server refuses the whole OPC UA Call service), an
operator writes nothing (the whole Write service).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Final, Literal, Protocol, get_args, runtime_checkable

from phactory.errors import InvalidError

__all__ = [
    "ROLES",
    "Authenticator",
    "OpcuaRole",
    "StaticAuthenticator",
    "may_call",
    "may_write",
]

#: The roles of OPC UA users, weakest first.
OpcuaRole = Literal["viewer", "operator", "engineer"]
ROLES: Final[tuple[OpcuaRole, ...]] = get_args(OpcuaRole)


@runtime_checkable
class Authenticator(Protocol):
    """Checks a user name and password; the role, or ``None`` to refuse.

    The server calls it while activating a session, on its event loop, so it should
    answer quickly (a password hash check, not a network round trip).
    """

    def authenticate(self, user: str, password: str) -> OpcuaRole | None:
        """The user's role, or ``None`` for an unknown user or a wrong password."""
        ...


def may_call(role: OpcuaRole) -> bool:
    """Whether ``role`` may call methods (command phases)."""
    return role in ("operator", "engineer")


def may_write(role: OpcuaRole) -> bool:
    """Whether ``role`` may write set points."""
    return role == "engineer"


class StaticAuthenticator:
    """Users given in code: ``{name: (password, role)}``.

    Passwords are compared in constant time (:func:`hmac.compare_digest`). Meant for tests,
    demonstrations and single-user installations; keep real accounts in the web
    workspace (:mod:`phactory.app.services.opcua_users`).
    """

    def __init__(self, users: Mapping[str, tuple[str, OpcuaRole]]) -> None:
        for name, (_password, role) in users.items():
            if role not in ROLES:
                raise InvalidError(
                    f"OPC UA user {name!r}: unknown role {role!r}; expected one of "
                    f"{', '.join(ROLES)}"
                )
        self._users = {n: (p.encode(), r) for n, (p, r) in users.items()}

    def authenticate(self, user: str, password: str) -> OpcuaRole | None:
        """The user's role, or ``None``."""
        known = self._users.get(user)
        # compare against something even for unknown names: same time either way
        stored, role = known if known is not None else (b"\0" * 16, None)
        ok = hmac.compare_digest(stored, password.encode())
        return role if ok and known is not None else None
