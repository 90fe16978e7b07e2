"""Shared terminal output: one console, one way to report problems and refusals.

Only light imports here (Rich, Typer): every command module imports this one, and the
``phactory`` command must start at once.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console

if TYPE_CHECKING:
    from rich.console import RenderableType

    from phactory.errors import PhactoryError
    from phactory.model.errors import Problem

console = Console()
err_console = Console(stderr=True)

#: Exit code of a refusal: bad input (a broken site file, a bad override), a missing
#: record, an unreachable database; as documented.
EXIT_REFUSED = 2


def print_problems(problems: list[Problem]) -> None:
    """Print every problem as ``FILE:LINE:COL: path: message`` on stderr."""
    for p in problems:
        style = "yellow" if p.severity == "warning" else "red"
        # Plain text for the location so that editors and CI can parse it.
        err_console.print(str(p), style=style, markup=False, highlight=False, soft_wrap=True)


def _error_line(message: str) -> None:
    err_console.print(
        f"error: {message}", style="red", markup=False, highlight=False, soft_wrap=True
    )
    sys.stdout.flush()


def fail(message: str, code: int = EXIT_REFUSED) -> NoReturn:
    """Print an error and exit with ``code``; no traceback reaches the user."""
    _error_line(message)
    raise typer.Exit(code)


def report_refusal(exc: PhactoryError) -> None:
    """Print a refusal of Phactory (any :class:`~phactory.errors.PhactoryError`) for a user.

    One line ``error: <message>`` naming what was refused and where; a site that does not
    validate lists each of its problems (``FILE:LINE:COL field: message``) first.
    """
    problems: Any = getattr(exc, "problems", None)
    if isinstance(problems, list) and problems and hasattr(problems[0], "severity"):
        print_problems(problems)
        n = sum(p.severity == "error" for p in problems)
        where = getattr(exc, "source", "") or "the site definition"
        message = f"{n} error(s) in {where}; nothing was written"
    else:
        message = str(exc).strip() or type(exc).__name__
    _error_line(message)


def echo_json(value: Any, *, indent: int | None = None) -> None:
    """Print ``value`` as strict JSON (``null`` for ``NaN``; :func:`phactory.jsonio.dumps`)."""
    from phactory.jsonio import dumps

    typer.echo(dumps(value, indent=indent))


def say(text: str, *, err: bool = False) -> None:
    """Print ``text`` as it is (no Rich markup or highlighting, long lines unwrapped):
    file names, column names and values from the user's files are shown verbatim."""
    (err_console if err else console).print(text, markup=False, highlight=False, soft_wrap=True)


def print_table(table: RenderableType, *, err: bool = False) -> None:
    """Print a Rich table whose cells come from the user's files verbatim (a column named
    ``[red]`` stays as it is; Rich markup there would be applied, or refused)."""
    (err_console if err else console).print(table, markup=False, highlight=False)


def write_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Write ``header`` and ``rows`` as CSV on stdout; ``None`` is an empty cell.

    defusedcsv: a text cell starting with ``= + - @ | %`` (a formula to a spreadsheet) gets
    a leading ``'``; numbers are written as they are, so give numbers as numbers (a
    ``repr`` of ``-1e-05`` as text would be quoted as a formula).
    """
    from defusedcsv import csv  # type: ignore[import-untyped]

    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(["" if c is None else c for c in row] for row in rows)


def number(v: float | None) -> str:
    """A KPI value for a table: four significant digits, whole numbers from 10,000 on,
    ``n/a`` where undefined."""
    if v is None or not math.isfinite(v):
        return "n/a"
    return f"{v:,.4g}" if abs(v) < 1e4 else f"{v:,.0f}"


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGINT (Ctrl-C) or SIGTERM while in the block, for commands that
    run until stopped; the handlers before it are put back after."""
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
