"""Pieces shared by the monitoring commands: ``monitor``, ``batchmon``, ``softsensor``,
``rul`` and ``pdm``.

Their command groups, the ``--exclude`` option and how column names are given, and a
lenient look at a CSV header. Only Typer and the standard library: every one of those
modules imports this one when ``phactory`` starts.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated

import typer

from phactory.cli.main import PhactoryGroup

__all__ = ["Exclude", "column_names", "command_group", "csv_header"]

Exclude = Annotated[
    list[str] | None,
    typer.Option("--exclude", help="Column that is not a variable (repeat, or a,b)."),
]


def command_group(name: str, text: str) -> typer.Typer:
    """The Typer group of a monitoring command, with ``text`` as its help.

    Refusals are reported as by ``phactory`` (:class:`PhactoryGroup`), also when the
    group is run on its own.
    """
    return typer.Typer(
        name=name,
        help=text,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        cls=PhactoryGroup,
    )


def column_names(values: list[str] | None) -> list[str]:
    """Column names given repeated (``--x a --x b``) or comma separated (``--x a,b``)."""
    return [n.strip() for v in values or [] for n in v.split(",") if n.strip()]


def csv_header(path: Path) -> list[str]:
    """Column names of a CSV file; ``[]`` if it cannot be read (``read_table`` then says
    why, naming the file)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            return [c.strip() for c in next(csv.reader(f), [])]
    except (OSError, UnicodeDecodeError, csv.Error):
        return []
