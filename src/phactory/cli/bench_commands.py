"""``phactory bench scheduling``: the product's scheduler on public job-shop benchmarks.

Each instance becomes a site (one unit per machine, one recipe per job) and is solved by
the same scheduler ``phactory schedule`` runs (see :mod:`phactory.schedule.benchmarks`).
Results go to stdout as one JSON list; progress goes to stderr so that the JSON can be
piped. Flexible job shops (the ``mk`` suite, ``.fjs`` files with machine choices) cannot
be expressed as sites and are refused with the reason; ``benchmarks/scheduling.py
--suite mk`` in the repository solves them with a dedicated reference model.

The scheduler (OR-Tools, pandas) is imported inside the command, so that the CLI starts
fast.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from phactory.cli.output import err_console, fail

if TYPE_CHECKING:
    from rich.progress import Progress

    from phactory.schedule.benchmarks.runner import BenchRow

__all__ = ["app"]

app = typer.Typer(
    name="bench",
    help="Benchmarks: run Phactory's engines on public reference problems.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def bench() -> None:
    """Benchmarks: run Phactory's engines on public reference problems."""
    # A callback keeps ``bench`` a command group even while it has a single command, so
    # ``bench scheduling`` works the same standalone and once registered on ``phactory``.


class SuiteChoice(StrEnum):
    """Benchmark suites shipped with Phactory."""

    ft = "ft"
    la = "la"
    ta = "ta"
    mk = "mk"
    all = "all"


class FormatChoice(StrEnum):
    """File formats of ``--instance``."""

    jsp = "jsp"
    fjsp = "fjsp"


_FLEXIBLE = (
    "Brandimarte's mk instances are flexible job shops (machine-dependent processing "
    "times), which a Phactory site cannot express; 'python benchmarks/scheduling.py "
    "--suite mk' in the repository solves them with a dedicated reference model"
)


@app.command()
def scheduling(
    suite_name: Annotated[
        SuiteChoice | None,
        typer.Option(
            "--suite",
            help="Shipped suite: ft (Fisher & Thompson), la (Lawrence la01-20), "
            "ta (Taillard ta01-10) or all of them. Default: ft. (mk, Brandimarte's flexible "
            "shops, is not expressible as a site.)",
            show_default=False,
        ),
    ] = None,
    instance: Annotated[
        Path | None,
        typer.Option(
            "--instance",
            help="Your own instance file instead of a suite.",
            show_default=False,
            dir_okay=False,
        ),
    ] = None,
    fmt: Annotated[
        FormatChoice | None,
        typer.Option(
            "--format",
            help="Format of --instance: jsp (standard or Taillard layout) or fjsp "
            "(Brandimarte .fjs, one machine per operation). Default: fjsp for *.fjs, else jsp.",
            show_default=False,
        ),
    ] = None,
    time_limit: Annotated[
        float, typer.Option("--time-limit", min=0.1, help="Seconds per instance.")
    ] = 10.0,
    workers: Annotated[int, typer.Option("--workers", min=1, help="CP-SAT worker threads.")] = 2,
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the solver.")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress on stderr.")] = False,
) -> None:
    """Solve benchmark instances with Phactory's scheduler; print a JSON list on stdout.

    Each item: instance, bks, makespan, bound, gap_to_bks, seconds.

    bks is the optimal or best-known makespan (null for a file not in the catalog).

    gap_to_bks is 100 * (makespan - bks) / bks, in percent.
    """
    from phactory.jsonio import dumps
    from phactory.schedule.benchmarks.catalog import CatalogEntry, suite
    from phactory.schedule.benchmarks.instances import InstanceFormatError
    from phactory.schedule.benchmarks.runner import mean_gap, run_entries, run_file
    from phactory.schedule.benchmarks.shop_site import NotExpressibleError

    if instance is not None and suite_name is not None:
        fail("give either --suite or --instance, not both")
    if fmt is not None and instance is None:
        fail("--format applies to --instance only")
    if suite_name == SuiteChoice.mk:
        fail(_FLEXIBLE)

    rows: list[BenchRow]
    with _progress(quiet) as bar:
        if instance is not None:
            from rich.markup import escape

            task = bar.add_task(escape(instance.name), total=1, status="")
            try:
                row = run_file(
                    instance,
                    fmt.value if fmt is not None else None,
                    time_limit=time_limit,
                    workers=workers,
                    seed=seed,
                    progress=lambda inc, lb, s: bar.update(task, status=_status(inc, lb)),
                )
            except FileNotFoundError:
                fail(f"{instance}: no such file")
            except IsADirectoryError:
                fail(f"{instance}: is a directory, expected an instance file")
            except (InstanceFormatError, NotExpressibleError) as exc:
                fail(str(exc))
            except OSError as exc:
                fail(f"{instance}: {exc.strerror or exc}")
            bar.update(task, advance=1, status=_status(row["makespan"], row["bound"]))
            rows = [row]
        else:
            name = (suite_name or SuiteChoice.ft).value
            # "all" is every shipped instance a site can express: the classical job shops.
            entries = [e for e in suite(name) if e.format == "jsp"]
            overall = bar.add_task("suite", total=len(entries), status="")

            def start(entry: CatalogEntry) -> None:
                bar.update(overall, description=entry.name, status="")

            def done(row: BenchRow) -> None:
                bar.update(overall, advance=1, status=_status(row["makespan"], row["bound"]))

            rows = run_entries(
                entries,
                time_limit=time_limit,
                workers=workers,
                seed=seed,
                on_start=start,
                progress=lambda inc, lb, s: bar.update(overall, status=_status(inc, lb)),
                on_row=done,
            )
    typer.echo(dumps(rows, indent=1))
    if not quiet and len(rows) > 1:
        err_console.print(f"mean gap to BKS: {mean_gap(rows)} %", highlight=False)


def _status(incumbent: int | None, bound: int) -> str:
    return f"best {incumbent if incumbent is not None else '-'}  bound {bound}"


def _progress(quiet: bool) -> Progress:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[status]}"),
        console=err_console,
        disable=quiet,
        transient=True,
    )
