"""``phactory process ...``: process twins from the command line.

Commands: ``list``, ``simulate``, ``sensitivity``, ``design-space``, ``surrogate``. Heavy
imports (NumPy, SciPy, pandas, SALib, the models) happen inside the commands so that
``phactory --help`` and ``phactory process simulate ivt --json`` start fast.

The studies carry on past points where the model fails; each prints how many evaluations
failed and where (the first ten, with their error), and its HTML output lists them all.
A study with too many failures, an unknown model or parameter, or an unreachable
``--address`` ends with one line on standard error and exit code 2. Every text from a
model or an error is escaped before Rich prints it (Rich reads ``[...]`` as markup).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from phactory.cli.main import PhactoryGroup
from phactory.cli.output import console, err_console, fail
from phactory.jsonio import dumps

if TYPE_CHECKING:
    import pandas as pd

    from phactory.process.contract import UnitOperationModel

#: Failed evaluations listed on the terminal (the HTML outputs list them all).
_SHOWN_FAILURES = 10

app = typer.Typer(
    name="process",
    help="Process twins: simulate unit-operation models, sensitivity, design space, surrogates.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=PhactoryGroup,  # refusals reported as by `phactory`, also when run on its own
)

# The options every study takes (sensitivity, design space, surrogate).
Seed = Annotated[int, typer.Option(help="random seed")]
Workers = Annotated[int | None, typer.Option(help="local worker processes")]
Address = Annotated[str | None, typer.Option(help="Dask scheduler address")]
MaxFailed = Annotated[
    float,
    typer.Option(
        "--max-failed-fraction",
        help="largest fraction of failed model evaluations (Sobol/Morris: of groups)",
    ),
]


def _model(name: str) -> UnitOperationModel:
    from phactory.process.registry import get_model

    try:
        return get_model(name)
    except KeyError as exc:
        fail(str(exc.args[0]))


def _parse_sets(sets: list[str] | None) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in sets or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            fail(f"--set expects NAME=VALUE, got {item!r}")
        params[name.strip()] = value.strip()
    return params


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int, int], None]]:
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _print_failures(failures: pd.DataFrame, total: int) -> None:
    """How many evaluations failed, and where (the first few, with their errors)."""
    n = len(failures)
    if n == 0:
        console.print(f"all {total} model evaluations ran")
        return
    table = Table(
        title=f"{n} of {total} model evaluations failed ({100.0 * n / total:.3g} %)"
        + (f"; the first {_SHOWN_FAILURES}" if n > _SHOWN_FAILURES else ""),
        title_justify="left",
    )
    columns = [str(c) for c in failures.columns]
    for c in columns:
        table.add_column(escape(c), justify="left" if c in ("error", "set") else "right")
    for _, row in failures.head(_SHOWN_FAILURES).iterrows():
        table.add_row(
            *[
                escape(f"{v:.6g}" if isinstance(v, float) else str(v))
                for v in row.to_numpy().tolist()
            ]
        )
    console.print(table)


@app.command("list")
def list_command() -> None:
    """List the registered process models with their CPPs and CQAs."""
    from phactory.process.registry import get_model, list_models

    table = Table(title="Process models")
    for col in ("model", "title", "CPPs", "CQAs"):
        table.add_column(col)
    for name in list_models():
        m = get_model(name)
        table.add_row(
            *(
                escape(t)
                for t in (name, m.title, ", ".join(m.cpp_names()), ", ".join(m.cqa_names()))
            )
        )
    console.print(table)


@app.command("simulate")
def simulate_command(
    model: Annotated[str, typer.Argument(help="registered model name (see `list`)")],
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="parameter value NAME=VALUE, e.g. --set 'mg_total=40 mM'"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Simulate MODEL once and print its CQAs (with the specification check)."""
    m = _model(model)
    result = m.simulate(_parse_sets(set_))
    if as_json:
        typer.echo(dumps(result.to_dict(), indent=2))  # NaN -> null: strict JSON
        return
    table = Table(title=escape(f"{m.title}: CQAs"))
    for col in ("CQA", "value", "unit", "limits", "in spec"):
        table.add_column(col)
    for q in m.cqas:
        v = result.cqas[q.name]
        ok = result.in_spec[q.name]
        table.add_row(
            escape(q.name),
            f"{v:.6g}",
            escape(q.unit),
            escape(q.limits_text()),
            "[green]yes[/]" if ok else "[red]no[/]",
        )
    console.print(table)


@app.command("sensitivity")
def sensitivity_command(
    model: Annotated[str, typer.Argument(help="registered model name")],
    method: Annotated[str, typer.Option(help="sobol or morris")] = "sobol",
    samples: Annotated[int, typer.Option(help="Sobol base sample / Morris trajectories")] = 256,
    output: Annotated[str | None, typer.Option(help="one CQA (default: all)")] = None,
    html: Annotated[Path | None, typer.Option(help="write a self-contained HTML chart")] = None,
    seed: Seed = 0,
    workers: Workers = None,
    address: Address = None,
    max_failed: MaxFailed = 0.1,
) -> None:
    """Global sensitivity of MODEL's CQAs to its CPPs (SALib)."""
    from phactory.process.sensitivity import morris, sobol

    m = _model(model)
    if method not in ("sobol", "morris"):
        fail(f"--method must be sobol or morris, got {method!r}")
    if samples < 2:
        fail("--samples must be at least 2")
    try:
        with _progress(f"{method} on {model}") as prog:
            if method == "sobol":
                n = 2 ** max(1, round(math.log2(samples)))  # Sobol' sequences like powers of 2
                res = sobol(
                    m,
                    output,
                    n=n,
                    seed=seed,
                    workers=workers,
                    address=address,
                    progress=prog,
                    max_failed_fraction=max_failed,
                )
            else:
                res = morris(
                    m,
                    output,
                    trajectories=samples,
                    seed=seed,
                    workers=workers,
                    address=address,
                    progress=prog,
                    max_failed_fraction=max_failed,
                )
    except (KeyError, ValueError) as exc:
        fail(str(exc))
    for out, df in res.indices.items():
        table = Table(title=escape(f"{method} indices of {out} ({res.n_evaluations} evaluations)"))
        table.add_column("parameter")
        for c in df.columns:
            table.add_column(escape(str(c)), justify="right")
        for name, row in df.iterrows():
            table.add_row(escape(str(name)), *[f"{v:.4f}" for v in row.to_numpy()])
        console.print(table)
    _print_failures(res.failures, res.n_evaluations)
    if len(res.failures):
        unit = "base samples" if method == "sobol" else "trajectories"
        console.print(
            f"indices from {res.n_groups_used} of {res.n_groups} {unit} without a failure"
        )
    if html is not None:
        res.to_html(html)
        console.print(f"wrote {html}")


@app.command("design-space")
def design_space_command(
    model: Annotated[str, typer.Argument(help="registered model name")],
    x: Annotated[str | None, typer.Option(help="CPP on the x axis (default: first CPP)")] = None,
    y: Annotated[str | None, typer.Option(help="CPP on the y axis (default: second CPP)")] = None,
    grid: Annotated[int, typer.Option(help="grid points per axis")] = 9,
    mc: Annotated[int, typer.Option(help="Monte Carlo draws per grid point")] = 20,
    target: Annotated[float, typer.Option(help="required probability of success")] = 0.9,
    html: Annotated[Path | None, typer.Option(help="write a self-contained HTML report")] = None,
    seed: Seed = 0,
    workers: Workers = None,
    address: Address = None,
    max_failed: MaxFailed = 0.1,
) -> None:
    """Map MODEL's CQAs and probability of success over two CPPs (ICH Q8)."""
    from phactory.process.design_space import design_space

    m = _model(model)
    cpps = m.cpp_names()
    xa = x or (cpps[0] if cpps else None)
    ya = y or (cpps[1] if len(cpps) > 1 else None)
    if xa is None or ya is None:
        fail(f"{model} has fewer than two CPPs; give --x and --y")
    try:
        with _progress(f"design space of {model}") as prog:
            ds = design_space(
                m,
                xa,
                ya,
                n=grid,
                n_monte_carlo=mc,
                seed=seed,
                target=target,
                workers=workers,
                address=address,
                progress=prog,
                max_failed_fraction=max_failed,
            )
    except (KeyError, ValueError) as exc:
        fail(str(exc))
    inside = ds.inside()
    table = Table(
        title=escape(
            f"design space of {model}: {len(inside)} of {len(ds.table)} grid points "
            f"with P(success) >= {target:g}"
        )
    )
    cols = [xa, ya, *ds.cqas, "probability_of_success"]
    for c in cols:
        table.add_column(
            "P(success)" if c == "probability_of_success" else escape(c), justify="right"
        )
    for _, row in ds.table.iterrows():
        table.add_row(*[f"{row[c]:.4g}" for c in cols])
    console.print(table)
    _print_failures(ds.failures, ds.n_evaluations)
    if html is not None:
        ds.to_html(html)
        console.print(f"wrote {html}")


@app.command("surrogate")
def surrogate_command(
    model: Annotated[str, typer.Argument(help="registered model name")],
    out: Annotated[Path | None, typer.Option(help="file to save the surrogate to")] = None,
    samples: Annotated[int, typer.Option(help="training samples")] = 300,
    test: Annotated[int, typer.Option(help="held-out samples")] = 100,
    kind: Annotated[str, typer.Option(help="polynomial, gp, mlp or auto")] = "auto",
    folds: Annotated[int, typer.Option(help="cross-validation folds")] = 5,
    seed: Seed = 0,
    workers: Workers = None,
    address: Address = None,
    max_failed: MaxFailed = 0.1,
) -> None:
    """Fit a surrogate of MODEL's CQAs over its CPPs; report accuracy and speed-up."""
    from phactory.process.surrogate import fit_surrogate

    m = _model(model)
    try:
        with _progress(f"sampling {model}") as prog:
            sur = fit_surrogate(
                m,
                n_samples=samples,
                n_test=test,
                kind=kind,
                folds=folds,
                seed=seed,
                workers=workers,
                address=address,
                progress=prog,
                max_failed_fraction=max_failed,
            )
    except (KeyError, ValueError) as exc:
        fail(str(exc))
    rep = sur.report
    assert rep is not None
    table = Table(
        title=escape(
            f"{rep.kind} surrogate of {model} "
            f"({rep.n_train} training, {rep.n_test} held-out samples)"
        )
    )
    for c in ("CQA", f"{rep.folds}-fold CV R2", "held-out R2"):
        table.add_column(c, justify="right")
    for o in rep.outputs:
        table.add_row(escape(o), f"{rep.cv_r2[o]:.5f}", f"{rep.test_r2[o]:.5f}")
    console.print(table)
    _print_failures(sur.failures, rep.n_train + rep.n_test)
    console.print(
        f"simulation {rep.simulation_time * 1e3:.3g} ms; surrogate "
        f"{rep.prediction_time * 1e6:.3g} us/point in batch (speed-up {rep.speedup:,.0f}x), "
        f"{rep.single_prediction_time * 1e6:.3g} us per single call "
        f"(speed-up {rep.single_speedup:,.0f}x)"
    )
    if out is not None:
        sur.save(out)
        console.print(f"wrote {out}")
