"""Files written whole or not at all: the one atomic write of Phactory.

A file that a crash, a full disk or a kill could leave half written (a model, a
scenario, a monitor's cursor, a publisher's position, a certificate) is written to a
temporary file in the same folder, flushed to disk, then renamed over the target
(``os.replace`` is atomic on POSIX and Windows within one file system), so a reader sees
the old content or the new, never part of it. On failure the temporary file is removed
and the error names the file and what it was.

This is a base module: it imports nothing of Phactory but :mod:`phactory.errors`.
"""

from __future__ import annotations

import os
from pathlib import Path

from phactory.errors import InvalidError

__all__ = ["write_atomic"]


def write_atomic(path: str | Path, data: str | bytes, *, what: str, mode: int = 0o644) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` atomically, with permissions ``mode``.

    Parameters
    ----------
    what
        What the file is, for the error message ("the model", "the scenario").
    mode
        Permissions of a new file (the temporary file is created with them, so the
        content is never readable more widely).

    Raises
    ------
    InvalidError
        If the file cannot be written, naming it and the reason.
    """
    p = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InvalidError(f"{p}: cannot write {what} ({exc.strerror or exc})") from None
    return p
