"""Typed settings of the web application, read from the environment.

===================================  ======================================================
variable                             meaning
===================================  ======================================================
``PHACTORY_HOST``                    address to listen on; default ``127.0.0.1``
``PHACTORY_PORT``                    port; default ``8080``
``PHACTORY_DATABASE_URL``            the store's database (see :mod:`phactory.store.settings`)
``PHACTORY_SECRET``                  key for hashing API tokens and session cookies; default a
                                     random key kept in ``$PHACTORY_HOME/app-secret``
``PHACTORY_ADMIN_PASSWORD``          password of the ``admin`` account created on first start;
                                     default a random one, printed once
``PHACTORY_JOB_WORKERS``             simulation / scheduling worker processes; default 1
``PHACTORY_API_THREADS``             threads serving the synchronous API routes; default 16
``PHACTORY_EXAMPLES``                folder of example sites loaded on first start; ``none``
                                     to load none
``PHACTORY_COOKIE_SECURE``           ``1`` to send the session cookie over HTTPS only (it is
                                     anyway when the request came over HTTPS)
``PHACTORY_LOGIN_TOKEN_HOURS``       lifetime of a token from ``POST /api/v1/auth/token``
                                     [h]; default 12
``PHACTORY_MAX_BODY_BYTES``          largest request body of the API but uploads; default
                                     1 MB
``PHACTORY_CONTROLLERS_URL``         OPC UA endpoint of controllers run elsewhere
                                     (``phactory control run``), e.g.
                                     ``opc.tcp://plc-host:4840/phactory/``: the Controllers
                                     page connects to it on first use (and again after a
                                     drop) until a user starts, stops or connects others
``PHACTORY_CONTROLLERS_USER``        the account the server logs in with there
``PHACTORY_CONTROLLERS_PASSWORD``    its password
``PHACTORY_CONTROLLERS_INSECURE``    ``1`` for a server started with ``--insecure``
                                     (no security; anonymous without a user)
===================================  ======================================================

Nothing is read at import time: call :meth:`AppSettings.from_env`.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Final

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from phactory.store import StoreSettings

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "AppSettings", "default_examples_dir"]

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8080
_SECRET_FILE: Final = "app-secret"
_TRUE: Final = {"1", "true", "yes", "on"}


def default_examples_dir() -> Path | None:
    """The ``examples/`` folder of the source checkout or the working directory, if any."""
    for candidate in (
        Path(__file__).resolve().parents[3] / "examples",
        Path.cwd() / "examples",
    ):
        if (candidate / "mab-biologics").is_dir():
            return candidate
    return None


def _persistent_secret(home: Path) -> str:
    """A random key kept in ``home/app-secret`` (created once, readable by the owner only)."""
    path = home / _SECRET_FILE
    try:
        text = path.read_text(encoding="utf-8").strip()
        if len(text) >= 32:
            return text
    except FileNotFoundError:
        pass
    home.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(key + "\n")
    return key


class AppSettings(BaseModel):
    """Everything the server needs to start; immutable.

    Attributes
    ----------
    host, port
        Where to listen.
    database_url
        The store's SQLAlchemy URL (SQLite file by default, PostgreSQL by URL).
    secret
        Key of the HMAC that turns API tokens and session ids into what the database
        keeps; changing it logs everyone out and invalidates every token.
    admin_password
        Password of the first ``admin``; ``None`` makes a random one, printed once.
    job_workers
        Worker processes that run simulations and scheduling (each uses one core).
    api_threads
        Threads that serve the synchronous API routes.
    examples_dir
        Sites loaded into an empty store on first start; ``None`` for none.
    max_upload_bytes
        Largest site file accepted by an upload.
    max_body_bytes
        Largest request body of every other route (413 beyond, before it is read).
    session_hours
        Lifetime of a browser session.
    login_token_hours
        Lifetime of an API token obtained with a password (``POST /api/v1/auth/token``).
    cookie_secure
        Mark the session cookie ``Secure`` (behind HTTPS).
    prewarm_workers
        Start the worker processes with the server, so that the first run starts at once.
    create_db_folder
        Create the folder of a SQLite file (only for the default database).
    controllers_url, controllers_user, controllers_password, controllers_insecure
        Controllers run elsewhere that the server connects to by itself (see
        :class:`phactory.app.services.controllers.ControllerService`); none by default.
    """

    model_config = ConfigDict(frozen=True)

    host: str = DEFAULT_HOST
    port: int = Field(default=DEFAULT_PORT, ge=1, le=65535)
    database_url: str
    secret: str = Field(min_length=16, repr=False)
    admin_password: str | None = Field(default=None, repr=False)
    job_workers: int = Field(default=1, ge=1, le=64)
    api_threads: int = Field(default=16, ge=1, le=200)
    examples_dir: Path | None = None
    max_upload_bytes: int = Field(default=2_000_000, ge=1_000)
    max_body_bytes: int = Field(default=1_000_000, ge=1_000)
    session_hours: float = Field(default=12.0, gt=0)
    login_token_hours: float = Field(default=12.0, gt=0, le=24 * 365)
    cookie_secure: bool = False
    prewarm_workers: bool = True
    controllers_url: str | None = Field(default=None, max_length=300)
    controllers_user: str | None = Field(default=None, max_length=100)
    controllers_password: str | None = Field(default=None, repr=False)
    controllers_insecure: bool = False

    create_db_folder: bool = False

    @property
    def store_settings(self) -> StoreSettings:
        """The store's settings for :attr:`database_url`."""
        from phactory.store import StoreSettings

        return StoreSettings(self.database_url, create_folder=self.create_db_folder)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> AppSettings:
        """Read the settings from the environment (see the module docstring).

        Parameters
        ----------
        environ
            Environment to read; default ``os.environ``.
        **overrides
            Values that win over the environment (e.g. ``port=8081`` from the CLI).
        """
        from phactory.store import StoreSettings, data_dir

        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        home = data_dir(env)
        store = StoreSettings.from_env(env)
        values: dict[str, object] = {
            "database_url": store.database_url,
            "create_db_folder": store.create_folder,
        }
        if (host := get("PHACTORY_HOST")) is not None:
            values["host"] = host
        if (port := get("PHACTORY_PORT")) is not None:
            values["port"] = port
        if (workers := get("PHACTORY_JOB_WORKERS")) is not None:
            values["job_workers"] = workers
        if (threads := get("PHACTORY_API_THREADS")) is not None:
            values["api_threads"] = threads
        if (password := get("PHACTORY_ADMIN_PASSWORD")) is not None:
            values["admin_password"] = password
        values["cookie_secure"] = (get("PHACTORY_COOKIE_SECURE") or "").lower() in _TRUE
        if (hours := get("PHACTORY_LOGIN_TOKEN_HOURS")) is not None:
            values["login_token_hours"] = hours
        if (body := get("PHACTORY_MAX_BODY_BYTES")) is not None:
            values["max_body_bytes"] = body
        if (url := get("PHACTORY_CONTROLLERS_URL")) is not None:
            values["controllers_url"] = url
            values["controllers_user"] = get("PHACTORY_CONTROLLERS_USER")
            values["controllers_password"] = get("PHACTORY_CONTROLLERS_PASSWORD")
            insecure = (get("PHACTORY_CONTROLLERS_INSECURE") or "").lower()
            values["controllers_insecure"] = insecure in _TRUE
        examples = get("PHACTORY_EXAMPLES")
        if examples is None:
            values["examples_dir"] = default_examples_dir()
        elif examples.lower() != "none":
            values["examples_dir"] = Path(examples).expanduser()
        values.update(overrides)
        if "secret" not in values:
            values["secret"] = get("PHACTORY_SECRET") or _persistent_secret(home)
        return cls.model_validate(values)
