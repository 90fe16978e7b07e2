"""Running a :class:`~phactory.connect.opcua.server.PlantServer`: until cancelled, or in
a background thread.

:func:`serve` is for asyncio programs (``phactory control run`` awaits it next to the
controllers' tasks); :class:`ServerThread` runs a server on its own event loop in a
daemon thread, for synchronous callers (the CLI, tests, notebooks). Either way the
plant calls the server back on its scanning thread and the server calls the plant from
its loop or worker threads: :class:`~phactory.control.view.ControlledPlant` is
thread-safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from phactory.connect.opcua.server import DEFAULT_PORT, PlantServer
from phactory.connect.opcua.users import Authenticator
from phactory.control.view import ControlledPlant
from phactory.errors import InvalidError

__all__ = ["ServerThread", "serve"]


async def serve(
    plant: ControlledPlant,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    insecure: bool = False,
    authenticator: Authenticator | None = None,
    pki_dir: Path | str | None = None,
    started: Callable[[PlantServer], object] | None = None,
    **options: Any,
) -> None:
    """Serve ``plant`` over OPC UA until cancelled.

    ``started``, if given, is called with the :class:`PlantServer` once it listens (to
    print the endpoint, say). Options (and ``options``: ``anonymous_role``,
    ``state_poll_s``) as for :class:`PlantServer`.
    """
    server = PlantServer(
        plant,
        host=host,
        port=port,
        insecure=insecure,
        authenticator=authenticator,
        pki_dir=pki_dir,
        **options,
    )
    async with server:
        if started is not None:
            started(server)
        await asyncio.Event().wait()


class ServerThread:
    """A :class:`PlantServer` on its own event loop in a background thread.

    For synchronous callers (the CLI, tests, notebooks)::

        with ServerThread(plant, authenticator=users, port=0) as server:
            print(server.endpoint)

    Parameters are those of :class:`PlantServer`.
    """

    def __init__(self, plant: ControlledPlant, **options: Any) -> None:
        self.plant = plant
        self.options = options
        self.server: PlantServer | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def endpoint(self) -> str:
        """The endpoint URL (after :meth:`start`)."""
        if self.server is None:
            raise InvalidError("the OPC UA server thread is not started")
        return self.server.endpoint

    def start(self, timeout_s: float = 60.0) -> PlantServer:
        """Start the thread and wait until the server listens; re-raises its start error."""
        if self._thread is not None:
            raise InvalidError("the OPC UA server thread is already started")
        self._thread = threading.Thread(target=self._run, name="phactory-opcua", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise TimeoutError(f"the OPC UA server did not start within {timeout_s} s")
        if self._error is not None:
            self._thread.join()
            raise self._error
        assert self.server is not None
        return self.server

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop the server and its thread (idempotent)."""
        if self._thread is None:
            return
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout_s)
        self._thread = None

    def __enter__(self) -> PlantServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        """The thread's loop: :func:`serve` until :meth:`stop`."""
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()

        def started(server: PlantServer) -> None:
            self.server = server
            self._ready.set()

        serving = asyncio.create_task(serve(self.plant, started=started, **self.options))
        stopping = asyncio.create_task(self._stop.wait())
        await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if serving.done():  # it could not start (serve only ends by an error)
            stopping.cancel()
            self._error = serving.exception() or RuntimeError("the OPC UA server ended")
            self._ready.set()
            return
        serving.cancel()  # serve stops the server on its way out
        with contextlib.suppress(asyncio.CancelledError):
            await serving
