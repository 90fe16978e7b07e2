"""Fixtures of the OPC UA tests: real servers on 127.0.0.1, real asyncua clients.

Starting an asyncua server costs about 3 s (it loads the standard address space), so
the session shares two servers, each over its own :class:`SmallPlant`:
a secure one (Basic256Sha256 SignAndEncrypt, three users) and an insecure one
(``insecure=True``: None endpoint and anonymous sessions). Tests that change a plant
use their own phases and tags, or compare before and after, so that they do not depend
on their order.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from phactory.connect.opcua import (
    CertificateFiles,
    PlantServer,
    ServerThread,
    StaticAuthenticator,
    ensure_certificate,
)
from phactory.connect.opcua.users import OpcuaRole

from .plant import SmallPlant

#: User -> (password, role) of the secure server.
USERS: dict[str, tuple[str, OpcuaRole]] = {
    "vera": ("viewer-password-1", "viewer"),
    "otto": ("operator-password-1", "operator"),
    "erin": ("engineer-password-1", "engineer"),
}
CLIENT_URI = "urn:phactory:tests:opcua-client"
T = TypeVar("T")


@dataclass(frozen=True)
class Served:
    """A plant and the server serving it."""

    plant: SmallPlant
    server: PlantServer

    @property
    def endpoint(self) -> str:
        return self.server.endpoint

    def nid(self, path: str) -> str:
        return self.server.node_id(path)


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One PKI directory for the session's servers and clients."""
    return tmp_path_factory.mktemp("opcua-pki")


@pytest.fixture(scope="session")
def client_cert(pki_dir: Path) -> CertificateFiles:
    """The test client's application instance certificate."""
    return ensure_certificate(pki_dir, CLIENT_URI, kind="client")


@pytest.fixture(scope="session")
def secure(pki_dir: Path) -> Iterator[Served]:
    """The secure server (the default configuration) with :data:`USERS`."""
    plant = SmallPlant()
    thread = ServerThread(
        plant,
        port=0,
        authenticator=StaticAuthenticator(USERS),
        pki_dir=pki_dir,
        state_poll_s=0.05,
    )
    with thread as server:
        yield Served(plant, server)


@pytest.fixture(scope="session")
def insecure(pki_dir: Path) -> Iterator[Served]:
    """An insecure (development) server without accounts."""
    plant = SmallPlant()
    with ServerThread(plant, port=0, insecure=True, pki_dir=pki_dir, state_poll_s=0.05) as server:
        yield Served(plant, server)


@asynccontextmanager
async def connect(
    endpoint: str,
    cert: CertificateFiles | None,
    user: str | None = None,
    password: str | None = None,
) -> AsyncIterator[Any]:
    """An asyncua client session: Basic256Sha256 SignAndEncrypt with ``cert``, or no
    security without; anonymous without ``user``."""
    from asyncua import Client, ua
    from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256

    client = Client(endpoint, timeout=10)
    if cert is not None:
        client.application_uri = cert.application_uri
        await client.set_security(
            SecurityPolicyBasic256Sha256,
            str(cert.certificate),
            str(cert.private_key),
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


def run(coro: Awaitable[T]) -> T:
    """Run a client coroutine to its end (the servers live on their own loops)."""

    async def main() -> T:
        return await coro

    return asyncio.run(main())


async def eventually(
    read: Callable[[], Awaitable[T]], ok: Callable[[T], bool], timeout_s: float = 5.0
) -> T:
    """Read until ``ok`` holds (values reach clients asynchronously); the last value."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await read()
        if ok(value) or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.02)
