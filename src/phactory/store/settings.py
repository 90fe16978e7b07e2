"""Typed store settings, read from the environment.

=========================  ==========================================================
variable                   meaning
=========================  ==========================================================
``PHACTORY_DATABASE_URL``  SQLAlchemy URL of the database, e.g.
                           ``postgresql+psycopg://postgres@127.0.0.1:5432/phactory``;
                           default: a SQLite file ``phactory.db`` in the data folder
``PHACTORY_HOME``          the data folder; default ``~/.local/share/phactory``
``PHACTORY_DATABASE_ECHO`` ``1`` / ``true`` logs every SQL statement (debugging)
=========================  ==========================================================

Nothing is read at import time: call :meth:`StoreSettings.from_env`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_DB_FILENAME", "StoreSettings", "data_dir"]

#: Name of the SQLite file in the data folder.
DEFAULT_DB_FILENAME = "phactory.db"

_TRUE = {"1", "true", "yes", "on"}


def _get(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    return value or None


def data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The folder for Phactory's local data: ``$PHACTORY_HOME`` or ``~/.local/share/phactory``.

    Parameters
    ----------
    environ
        Environment to read; default ``os.environ``.

    Returns
    -------
    Path
        An absolute path; it may not exist yet.
    """
    env = os.environ if environ is None else environ
    home = _get(env, "PHACTORY_HOME")
    path = Path(home).expanduser() if home else Path.home() / ".local" / "share" / "phactory"
    return path.absolute()


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """Where and how the store keeps its data.

    Attributes
    ----------
    database_url
        SQLAlchemy database URL (``sqlite:///...`` or ``postgresql+psycopg://...``).
    echo
        Log every SQL statement.
    create_folder
        Create the folder of a SQLite file if it is missing; set for the default URL only,
        so that a mistyped explicit path is an error rather than a new empty database.
    """

    database_url: str
    echo: bool = False
    create_folder: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StoreSettings:
        """Read the settings from environment variables (see the module docstring).

        Parameters
        ----------
        environ
            Environment to read; default ``os.environ``.

        Returns
        -------
        StoreSettings
        """
        env = os.environ if environ is None else environ
        url = _get(env, "PHACTORY_DATABASE_URL")
        echo = (_get(env, "PHACTORY_DATABASE_ECHO") or "").lower() in _TRUE
        if url is None:
            default = f"sqlite:///{data_dir(env) / DEFAULT_DB_FILENAME}"
            return cls(database_url=default, echo=echo, create_folder=True)
        return cls(database_url=url, echo=echo)
