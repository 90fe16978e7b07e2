"""Durable RETAIN variables: a SQLite file that survives ``kill -9`` and power loss.

IEC 61131-3:2013 §6.5.6 asks that retentive variables keep their values over a warm
restart and take their initial values on a cold restart. A PLC keeps them in battery-backed
memory; here they live in one SQLite file per plant (any number of controllers).

Durability rests on SQLite's guarantees: the database is in WAL mode with
``synchronous=FULL``, so a ``COMMIT`` returns only after the write-ahead log has been
fsync'ed; a process killed at any instant leaves either the state before or after each
transaction, never a mixture. Commit policy (what :class:`Controller` does): **one
transaction per scan that changed a retained value**, written after the programs of the
scan ran and before its outputs are written, holding every changed value of that scan and
the scan's nominal time. So the durable state is always the state at the end of one scan,
and an output the plant saw was never computed from a state that could be lost. A scan
that changed nothing durable writes nothing.

Schema::

    retain_value(controller, program, path, type_name, value)   -- value: JSON text
    retain_meta(controller, seq, now_ns, saved_at)              -- seq counts commits
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from phactory.errors import UnavailableError

__all__ = ["RetainImage", "RetainStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS retain_value (
    controller TEXT NOT NULL,
    program    TEXT NOT NULL,
    path       TEXT NOT NULL,
    type_name  TEXT NOT NULL,
    value      TEXT NOT NULL,
    PRIMARY KEY (controller, program, path)
);
CREATE TABLE IF NOT EXISTS retain_meta (
    controller TEXT PRIMARY KEY,
    seq        INTEGER NOT NULL,
    now_ns     INTEGER NOT NULL,
    saved_at   TEXT NOT NULL
);
"""


@dataclass
class RetainImage:
    """What a controller committed last: values by ``(program, path)``."""

    seq: int = 0
    now_ns: int = 0
    values: dict[tuple[str, str], tuple[str, Any]] = field(default_factory=dict)
    """``(program, path) -> (type_name, decoded JSON value)``."""


class RetainStore:
    """The durable store of RETAIN variables of the controllers of one plant.

    Parameters
    ----------
    path
        The SQLite file (created if missing). Use one file per plant; each controller's
        rows are keyed by its name.

    Notes
    -----
    The connection may be used from any one thread at a time (the runner's); calls are
    serialised by a lock.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30.0
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise UnavailableError(f"cannot open the RETAIN store {self.path}: {exc}") from exc
        self._lock = threading.Lock()
        self.commits = 0

    def close(self) -> None:
        """Close the file (a checkpoint folds the log into the database)."""
        with self._lock:
            self._db.close()

    def load(self, controller: str) -> RetainImage:
        """The last committed image of ``controller`` (empty if it never committed)."""
        with self._lock:
            meta = self._db.execute(
                "SELECT seq, now_ns FROM retain_meta WHERE controller = ?", (controller,)
            ).fetchone()
            rows = self._db.execute(
                "SELECT program, path, type_name, value FROM retain_value WHERE controller = ?",
                (controller,),
            ).fetchall()
        image = RetainImage()
        if meta is not None:
            image.seq, image.now_ns = int(meta[0]), int(meta[1])
        for program, path, type_name, value in rows:
            image.values[(program, path)] = (type_name, json.loads(value))
        return image

    def commit(
        self,
        controller: str,
        changed: Mapping[tuple[str, str], tuple[str, Any]],
        now_ns: int,
        removed: Iterable[tuple[str, str]] = (),
    ) -> int:
        """Write ``changed`` values (``(program, path) -> (type_name, JSON-able value)``)
        and delete ``removed`` ones in one durable transaction; returns the commit's
        sequence number."""
        rows = [
            (controller, prog, path, type_name, json.dumps(value, separators=(",", ":")))
            for (prog, path), (type_name, value) in changed.items()
        ]
        gone = [(controller, prog, path) for prog, path in removed]
        stamp = datetime.now(UTC).isoformat()
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(
                    "INSERT INTO retain_value (controller, program, path, type_name, value) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (controller, program, path) "
                    "DO UPDATE SET type_name = excluded.type_name, value = excluded.value",
                    rows,
                )
                if gone:
                    db.executemany(
                        "DELETE FROM retain_value WHERE controller = ? AND program = ? "
                        "AND path = ?",
                        gone,
                    )
                db.execute(
                    "INSERT INTO retain_meta (controller, seq, now_ns, saved_at) "
                    "VALUES (?, 1, ?, ?) ON CONFLICT (controller) DO UPDATE SET "
                    "seq = retain_meta.seq + 1, now_ns = excluded.now_ns, "
                    "saved_at = excluded.saved_at",
                    (controller, now_ns, stamp),
                )
                seq = int(
                    db.execute(
                        "SELECT seq FROM retain_meta WHERE controller = ?", (controller,)
                    ).fetchone()[0]
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self.commits += 1
        return seq

    def clear(self, controller: str) -> None:
        """Forget every value of ``controller`` (a cold restart)."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("DELETE FROM retain_value WHERE controller = ?", (controller,))
                db.execute("DELETE FROM retain_meta WHERE controller = ?", (controller,))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
