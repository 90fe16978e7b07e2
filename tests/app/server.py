"""A Phactory server in a subprocess on a free loopback port, for restart and browser tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
#: Where browser tests put their screenshots (git-ignored; ``PHACTORY_SCREENSHOTS`` elsewhere).
SCREENSHOTS = Path(os.environ.get("PHACTORY_SCREENSHOTS", ROOT / "out" / "screenshots"))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


class ServerProcess:
    """``python -m phactory.app`` with its own data folder; stopped by :meth:`stop`.

    The first ``admin`` must change the password it was created with before anything
    else; :meth:`start` does that through the API (from :attr:`initial_password` to
    :attr:`admin_password`), so that tests log in with ``admin_password`` as a user would
    after the first login. ``change_admin_password=False`` leaves it to the test.
    """

    def __init__(
        self,
        home: Path,
        *,
        admin_password: str,
        database_url: str | None = None,
        change_admin_password: bool = True,
    ):
        self.home = home
        self.admin_password = admin_password
        self.initial_password = admin_password + "-first"
        self.change_admin_password = change_admin_password
        self.database_url = database_url
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = home / "server.log"

    def environment(self) -> dict[str, str]:
        """The server's environment: this one without Phactory or NiceGUI settings, nor
        pytest's mark of a running test (NiceGUI serves differently under pytest: it
        does not compress its pages), so that the server runs as in production."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PHACTORY_", "NICEGUI_")) and k != "PYTEST_CURRENT_TEST"
        }
        env.update(
            PHACTORY_HOME=str(self.home),
            PHACTORY_ADMIN_PASSWORD=self.initial_password,
            PHACTORY_EXAMPLES=str(ROOT / "examples"),
            PYTHONUNBUFFERED="1",
        )
        if self.database_url:
            env["PHACTORY_DATABASE_URL"] = self.database_url
        return env

    def command(self) -> list[str]:
        """The server's command line."""
        return [sys.executable, "-m", "phactory.app", "--port", str(self.port)]

    def start(self, timeout: float = 60.0) -> None:
        """Start the server and wait until its health check answers."""
        self.home.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                self.command(),
                cwd=self.home,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.base}/api/v1/health", timeout=1.0).status_code == 200:
                    if self.change_admin_password:
                        self._first_password_change()
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server did not start: {self.log.read_text()[-3000:]}")

    def _first_password_change(self) -> None:
        """Give the first admin :attr:`admin_password` (once: a restart finds it done)."""
        login = httpx.post(
            f"{self.base}/api/v1/auth/token",
            json={"username": "admin", "password": self.initial_password},
            timeout=10.0,
        )
        if login.status_code != 201:  # changed at an earlier start (or no such admin)
            return
        changed = httpx.patch(
            f"{self.base}/api/v1/users/admin",
            headers={"Authorization": f"Bearer {login.json()['token']}"},
            json={"password": self.admin_password, "current_password": self.initial_password},
            timeout=10.0,
        )
        changed.raise_for_status()

    def token(self, user: str = "admin", password: str | None = None) -> str:
        response = httpx.post(
            f"{self.base}/api/v1/auth/token",
            json={"username": user, "password": password or self.admin_password},
            timeout=10.0,
        )
        response.raise_for_status()
        return str(response.json()["token"])

    def client(self, token: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.base, headers={"Authorization": f"Bearer {token}"}, timeout=30.0
        )

    def kill9(self) -> None:
        """``kill -9`` the server and then its worker processes (as a crash would)."""
        assert self.proc is not None
        workers = _children(self.proc.pid)
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc = None

    def stop(self) -> None:
        """Stop gracefully (SIGTERM), or kill after 15 s."""
        if self.proc is None:
            return
        workers = _children(self.proc.pid)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc = None

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
