"""Shared terminal output: one console, and one way to report model problems."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer
from rich.console import Console

from phactory.model.errors import Problem

console = Console()
err_console = Console(stderr=True)

#: Exit code for invalid input (a broken site file, a bad override), as documented.
EXIT_INVALID = 2


def print_problems(problems: list[Problem]) -> None:
    """Print every problem as ``FILE:LINE:COL: path: message`` on stderr."""
    for p in problems:
        style = "yellow" if p.severity == "warning" else "red"
        # Plain text for the location so that editors and CI can parse it.
        err_console.print(str(p), style=style, markup=False, highlight=False, soft_wrap=True)


def fail(message: str, code: int = EXIT_INVALID) -> NoReturn:
    """Print an error and exit with ``code``; no traceback reaches the user."""
    err_console.print(f"error: {message}", style="red", markup=False, highlight=False)
    sys.stdout.flush()
    raise typer.Exit(code)
