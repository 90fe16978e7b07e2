"""Connecting Phactory's own clients (the batch engine's phase driver, tools) to a server.

:func:`connect` opens an asyncua client session the way a Phactory server expects it:
Basic256Sha256 with SignAndEncrypt, a client application certificate made on first use
in the PKI directory (:func:`~phactory.connect.opcua.pki.ensure_certificate` with
``kind="client"``), and a user name and password; or, with ``insecure=True``, security
mode None and (without a user) an anonymous session, for a server started with
``--insecure``.

asyncua's client declares a connection lost when the server does not answer its health
probe within ``watchdog_s`` (asyncua's default is 1 s); a plant server busy publishing
thousands of values may take longer on a loaded machine, so the default here is 10 s.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from phactory.connect.opcua.pki import default_pki_dir, ensure_certificate

__all__ = ["client_application_uri", "connect"]


def client_application_uri() -> str:
    """The application URI of Phactory's clients on this machine."""
    return f"urn:{socket.gethostname()}:phactory:opcua-client"


@asynccontextmanager
async def connect(
    endpoint: str,
    *,
    user: str | None = None,
    password: str | None = None,
    insecure: bool = False,
    pki_dir: Path | str | None = None,
    timeout_s: float = 10.0,
    watchdog_s: float = 10.0,
) -> AsyncIterator[Any]:
    """A connected asyncua ``Client``, disconnected when the block ends.

    Parameters
    ----------
    endpoint
        ``opc.tcp://host:port/...`` (:attr:`PlantServer.endpoint`).
    user, password
        The account; anonymous without ``user`` (insecure servers only).
    insecure
        Security mode None (a server started with ``--insecure``).
    pki_dir
        Where the client certificate is kept (default
        :func:`~phactory.connect.opcua.pki.default_pki_dir`).
    timeout_s
        Timeout of each request [s].
    watchdog_s
        Health-probe interval and timeout [s].

    Examples
    --------
    >>> async with connect(server.endpoint, user="otto", password=pw) as client:  # doctest: +SKIP
    ...     state = await client.get_node(server.node_id(...)).read_value()
    """
    from asyncua import ua
    from asyncua.client.client import Client
    from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256

    client = Client(endpoint, timeout=timeout_s, watchdog_intervall=watchdog_s)
    # asyncua asks for a 1 h session and warns when the server revises it to its own
    # maximum (10 min); ask for what the server gives
    client.session_timeout = 600_000
    if not insecure:
        uri = client_application_uri()
        files = ensure_certificate(pki_dir or default_pki_dir(), uri, kind="client")
        client.application_uri = uri
        await client.set_security(
            SecurityPolicyBasic256Sha256,
            str(files.certificate),
            str(files.private_key),
            mode=ua.MessageSecurityMode.SignAndEncrypt,
        )
    if user is not None:
        client.set_user(user)
        client.set_password(password or "")
    await client.connect()
    try:
        yield client
    finally:
        await client.disconnect()
