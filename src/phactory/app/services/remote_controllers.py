"""Controllers that run elsewhere, reached over OPC UA, for
:meth:`phactory.app.services.controllers.ControllerService.connect`.

A Phactory OPC UA server (``phactory control run SITE``) is reached at an endpoint
``opc.tcp://host[:port][/path]`` with one of its accounts: :func:`check_target` checks
what a user gave (an endpoint this server may open, bounded names) and
:func:`open_plant` opens a :class:`phactory.connect.opcua.RemotePlant` on it, turning
every way that can fail into a refusal that names the endpoint and never the password:
an unreachable server or one that does not answer (503), a refused login (403), a server
that serves no Phactory plant (404).

The password is handed to the OPC UA client and kept nowhere else; a
:class:`RemoteTarget` carries one only for the server-wide default connection
(``PHACTORY_CONTROLLERS_URL``, see :mod:`phactory.app.settings`), which is reconnected
after a drop, and never shows it (``repr``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from phactory.app.errors import Conflict, Forbidden, Invalid, Missing
from phactory.errors import (
    ConflictError,
    DeniedError,
    InvalidError,
    NotFoundError,
    PhactoryError,
    UnavailableError,
)

if TYPE_CHECKING:
    from phactory.control.view import ControlledPlant

__all__ = [
    "ENDPOINT_MAX",
    "ENDPOINT_PATTERN",
    "USER_MAX",
    "RemoteTarget",
    "check_target",
    "open_plant",
]

#: Longest endpoint accepted [characters].
ENDPOINT_MAX: Final = 300
#: Longest OPC UA user name accepted [characters].
USER_MAX: Final = 100
#: An endpoint: ``opc.tcp://``, a host name or IP address (IPv6 in brackets), an optional
#: port and path; no user or password in it (they have fields of their own), no spaces.
ENDPOINT_PATTERN: Final = (
    r"^opc\.tcp://(\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9][A-Za-z0-9.\-]{0,252})"
    r"(:[0-9]{1,5})?(/[A-Za-z0-9._~/\-]{0,200})?$"
)
_ENDPOINT: Final = re.compile(ENDPOINT_PATTERN)
_USER: Final = re.compile(r"^[^\x00-\x1f\x7f]+$")
#: Shortest password looked for in messages (a shorter one would match words).
_HIDE_MIN: Final = 8


@dataclass(frozen=True, slots=True)
class RemoteTarget:
    """Where controllers run and how to log in (``password`` never shown)."""

    endpoint: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    insecure: bool = False


def check_target(
    endpoint: str, user: str | None, password: str | None, *, insecure: bool = False
) -> RemoteTarget:
    """The target of a connection, checked.

    Raises
    ------
    Invalid
        An endpoint that is not ``opc.tcp://host[:port][/path]`` (or names a user or
        password), a port out of range, a user name with control characters, or a
        secure connection without a user (anonymous sessions need ``insecure``).
    """
    text = endpoint.strip() if isinstance(endpoint, str) else ""
    if "@" in text.partition("://")[2].partition("/")[0]:
        raise Invalid(
            "the endpoint must not hold a user or password (opc.tcp://user:pw@host): "
            "give them in their own fields"
        )
    if len(text) > ENDPOINT_MAX or not _ENDPOINT.match(text):
        shown = text if len(text) <= 80 else f"{text[:80]}…"
        raise Invalid(
            f"endpoint {shown!r} is not an OPC UA endpoint opc.tcp://host[:port][/path] "
            "(e.g. opc.tcp://127.0.0.1:4840/phactory/)"
        )
    try:
        port = urlsplit(text).port
    except ValueError:
        port = -1
    if port is not None and not 0 < port <= 65535:
        raise Invalid(f"endpoint {text!r}: the port must lie in 1…65535")
    name = (user or "").strip() or None
    if name is not None and (len(name) > USER_MAX or not _USER.match(name)):
        raise Invalid(f"the user name must be 1…{USER_MAX} printable characters")
    if name is None and not insecure:
        raise Invalid(
            f"a secure connection to {text} needs a user and password (anonymous sessions "
            "only on an insecure development server: tick insecure)"
        )
    return RemoteTarget(text, name, password or None, bool(insecure))


def open_plant(
    target: RemoteTarget, *, pki_dir: Path | None = None, timeout_s: float = 5.0
) -> ControlledPlant:
    """A :class:`~phactory.connect.opcua.RemotePlant` connected to ``target``.

    Raises
    ------
    UnavailableError
        The server cannot be reached or does not answer in time (503).
    Forbidden
        The server refused the login, or offers no way in for this client (403).
    Missing
        The server serves no Phactory plant (404).
    """
    from phactory.connect.opcua.remote import RemotePlant

    try:
        return RemotePlant(
            target.endpoint,
            user=target.user,
            password=target.password,
            insecure=target.insecure,
            pki_dir=pki_dir,
            timeout_s=timeout_s,
            # asyncua's health probe is a read under the same timeout: it declares the
            # connection lost when a loaded server answers late, so probe seldom (a
            # closed connection is seen at once; the probe finds only silent ones)
            watchdog_s=max(2.0 * timeout_s, 10.0),
        )
    except PhactoryError as exc:
        raise _refusal(exc, target) from None
    except Exception as exc:  # the client library's own: the server could not be used
        message = f"cannot connect to the OPC UA server at {target.endpoint}: "
        message += f"{type(exc).__name__}: {exc}"
        raise UnavailableError(_hide(message, target)) from None


def _refusal(exc: PhactoryError, target: RemoteTarget) -> PhactoryError:
    """``exc`` as the application's refusal of the same kind, naming the endpoint."""
    text = _hide(str(exc), target)
    if target.endpoint not in text:
        text = f"the OPC UA server at {target.endpoint}: {text}"
    if isinstance(exc, DeniedError):
        return Forbidden(text)
    if isinstance(exc, NotFoundError):
        return Missing(text)
    if isinstance(exc, InvalidError):
        return Invalid(text)
    if isinstance(exc, ConflictError):
        return Conflict(text)
    return UnavailableError(text)


def _hide(text: str, target: RemoteTarget) -> str:
    """``text`` without the password, should a library ever put it in a message (a
    password too short to be told from words is left: accounts need 8 characters)."""
    if target.password and len(target.password) >= _HIDE_MIN:
        text = text.replace(target.password, "(hidden)")
    return text
