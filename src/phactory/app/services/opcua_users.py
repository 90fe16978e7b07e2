"""OPC UA users from the web workspace's accounts.

The controllers' OPC UA server (:mod:`phactory.connect.opcua`) checks user names and
passwords through an :class:`~phactory.connect.opcua.users.Authenticator`;
:class:`AccountsAuthenticator` is that authenticator over the workspace's
:class:`~phactory.app.services.accounts.AccountService`, so that one account logs in to
the browser and to the plant with the same password, lockout and deactivation.

Roles map as follows (the web roles are :data:`phactory.app.principal.ROLES`):

=============  ================
web role       OPC UA role
=============  ================
``viewer``     ``viewer``
``operator``   ``operator``
``engineer``   ``engineer``
``admin``      ``engineer``
=============  ================

An account that must change its password first (the initial ``admin``) is refused
until it has, as in the browser. Failed logins count towards the account's lockout
under the client address ``opcua`` (the server does not tell who is connecting), so a
name locked by OPC UA guessing stays usable in the browser.
"""

from __future__ import annotations

from typing import Final

from phactory.app.errors import NotAuthenticated
from phactory.app.services.accounts import AccountService
from phactory.connect.opcua.users import OpcuaRole

__all__ = ["OPCUA_CLIENT", "OPCUA_ROLES", "AccountsAuthenticator"]

#: The client address failed OPC UA logins are counted under.
OPCUA_CLIENT: Final = "opcua"

#: Web role -> OPC UA role.
OPCUA_ROLES: Final[dict[str, OpcuaRole]] = {
    "viewer": "viewer",
    "operator": "operator",
    "engineer": "engineer",
    "admin": "engineer",
}


class AccountsAuthenticator:
    """OPC UA authenticator over the workspace accounts (see the module docstring)."""

    def __init__(self, accounts: AccountService, client: str = OPCUA_CLIENT) -> None:
        self._accounts = accounts
        self._client = client

    def authenticate(self, user: str, password: str) -> OpcuaRole | None:
        """The OPC UA role of the account, or ``None`` (wrong password, locked,
        inactive, or a password that must be changed first)."""
        try:
            principal = self._accounts.authenticate(user, password, client=self._client)
        except NotAuthenticated:  # includes LockedOut
            return None
        if principal.must_change_password:
            return None
        return OPCUA_ROLES.get(principal.role)
