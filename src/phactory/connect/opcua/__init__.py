"""OPC UA server of a running plant (asyncua): ISA-95 address space, ISA-88 phases, PackML.

:class:`PlantServer` serves a :class:`~phactory.control.view.ControlledPlant`
(:mod:`~phactory.connect.opcua.server`; the address space is described in
:mod:`~phactory.connect.opcua.isa95`); :func:`serve` runs one until cancelled and
:class:`ServerThread` in a background thread; :func:`connect` opens a client session
as the server expects it, and :class:`RemotePlant` is the same ``ControlledPlant`` seen
from a client (``phactory control status``). Users and roles are in
:mod:`~phactory.connect.opcua.users`, certificates in :mod:`~phactory.connect.opcua.pki`.

asyncua (about 0.8 s to import) is imported only when a server starts: importing this
package is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from phactory.connect.opcua.users import (
    ROLES,
    Authenticator,
    OpcuaRole,
    StaticAuthenticator,
    may_call,
    may_write,
)
from phactory.lazy import exports

if TYPE_CHECKING:
    from phactory.connect.opcua.client import connect
    from phactory.connect.opcua.pki import CertificateFiles, default_pki_dir, ensure_certificate
    from phactory.connect.opcua.remote import RemotePlant
    from phactory.connect.opcua.runner import ServerThread, serve
    from phactory.connect.opcua.server import DEFAULT_PORT, PlantServer

__all__ = [
    "DEFAULT_PORT",
    "ROLES",
    "Authenticator",
    "CertificateFiles",
    "OpcuaRole",
    "PlantServer",
    "RemotePlant",
    "ServerThread",
    "StaticAuthenticator",
    "connect",
    "default_pki_dir",
    "ensure_certificate",
    "may_call",
    "may_write",
    "serve",
]

_LAZY = {
    "DEFAULT_PORT": "server",
    "PlantServer": "server",
    "ServerThread": "runner",
    "serve": "runner",
    "connect": "client",
    "RemotePlant": "remote",
    "CertificateFiles": "pki",
    "default_pki_dir": "pki",
    "ensure_certificate": "pki",
}


__getattr__, __dir__ = exports(__name__, _LAZY)
