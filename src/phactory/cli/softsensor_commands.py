"""``phactory softsensor``: PAT soft sensors from spectra (PLS with preprocessing).

CSV contract (:mod:`phactory.monitor.table`): a header row, one row per sample; in X every
numeric column is a variable (wavelength; names may be numbers such as ``1100.0``) unless
named by ``--id-col`` or ``--exclude``; text columns are ignored and listed. In Y every
column is a response and must be numeric (an id column named by ``--id-col`` excepted).
Rows of X and Y are matched by id when both files have the ``--id-col`` column, else by
position. A model's variables must all be present, by name, in the files it predicts
(any order).

Only Typer and Rich are imported at top level; NumPy and the models when a command runs.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table as RichTable

from phactory.cli.monitor_io import Exclude, column_names, command_group, csv_header
from phactory.cli.output import console, echo_json, fail, number, print_table, say, write_csv

if TYPE_CHECKING:
    import numpy as np

    from phactory.monitor.table import Table

app = command_group(
    "softsensor", "PAT soft sensors: PLS on spectra with preprocessing and an applicability domain."
)

#: Rows of predictions shown in the terminal (all rows with --csv or --json).
SHOWN_ROWS = 40
#: Points of the RMSECV curve printed past the chosen number of components.
CURVE_PAST_CHOSEN = 4


def _read(path: Path, id_col: str | None, exclude: list[str]) -> Table:
    from phactory.monitor.table import read_table

    names = csv_header(path)
    named = [id_col] if id_col is not None and id_col in names else []
    return read_table(path, named=named, exclude=[e for e in exclude if e in names], role="id")


def _refuse_text_responses(table: Table) -> None:
    """Y columns are all responses: a text column is an error naming its first text cell."""
    if not table.ignored:
        return
    name = table.ignored[0]
    with Path(table.path).open(newline="", encoding="utf-8-sig") as f:
        for i, row in enumerate(csv.DictReader(f)):
            cell = (row.get(name) or "").strip()
            try:
                float(cell or "nan")
            except ValueError:
                fail(
                    f"{table.where(i, name)}: {cell[:40]!r} is not a number; every column of "
                    "Y is a response (name an id column with --id-col or leave a column out "
                    "with --exclude)"
                )
    fail(f"{table.path}: column {name!r} is not numeric")


def _ids(table: Table, id_col: str) -> list[str]:
    from phactory.errors import InvalidError

    ids = [str(v).strip() for v in table.extra_values(id_col)]
    seen: dict[str, int] = {}
    for i, v in enumerate(ids):
        if v in seen:
            raise InvalidError(
                f"{table.where(i, id_col)}: id {v!r} again (first on line "
                f"{table.line(seen[v])}); ids must be unique to match rows"
            )
        seen[v] = i
    return ids


def _match(x: Table, y: Table, id_col: str | None) -> np.ndarray:
    """Row of ``y`` for each row of ``x``: by id when both files have ``id_col``."""
    import numpy as np

    from phactory.errors import InvalidError

    if id_col is not None and id_col in x.extra and id_col in y.extra:
        xi, yi = _ids(x, id_col), _ids(y, id_col)
        where = {v: i for i, v in enumerate(yi)}
        only_x = [(i, v) for i, v in enumerate(xi) if v not in where]
        only_y = sorted(set(yi) - set(xi), key=yi.index)
        if only_x or only_y:
            parts = []
            if only_x:
                shown = ", ".join(f"{v!r} ({x.where(i)})" for i, v in only_x[:5])
                parts.append(f"{len(only_x)} id(s) of {x.path} not in {y.path}: {shown}")
            if only_y:
                shown = ", ".join(f"{v!r} ({y.where(yi.index(v))})" for v in only_y[:5])
                parts.append(f"{len(only_y)} id(s) of {y.path} not in {x.path}: {shown}")
            raise InvalidError(f"rows matched by {id_col!r}: " + "; ".join(parts))
        return np.array([where[v] for v in xi], dtype=int)
    if x.n_rows != y.n_rows:
        raise InvalidError(
            f"{x.path} has {x.n_rows} data rows but {y.path} has {y.n_rows}; rows are matched "
            "by position (give --id-col to match them by an id column)"
        )
    return np.arange(x.n_rows)


def _check_names(id_col: str | None, exclude: list[str], *paths: Path) -> None:
    headers = [csv_header(p) for p in paths]
    if id_col is not None and headers[0] and headers[1] and not any(id_col in h for h in headers):
        fail(f"--id-col {id_col!r}: no such column in {' or '.join(map(str, paths))}")
    unknown = [e for e in exclude if all(h and e not in h for h in headers)]
    if unknown:
        where = " or ".join(map(str, paths))
        fail(f"--exclude: no column {', '.join(map(repr, unknown))} in {where}")


IdCol = Annotated[
    str | None,
    typer.Option("--id-col", help="Sample id column; rows of X and Y are matched by it."),
]


@app.command("fit")
def fit_command(
    x_path: Annotated[Path, typer.Argument(metavar="X.csv", help="Spectra, one row per sample.")],
    y_path: Annotated[Path, typer.Argument(metavar="Y.csv", help="Responses, one column each.")],
    out: Annotated[Path, typer.Option("--out", help="Model file to write (JSON).")],
    preprocess: Annotated[
        str,
        typer.Option(
            "--preprocess",
            help="Pipeline, e.g. 'snv,sg1' or 'msc,sg2:15:3': snv, msc, sg/sg1/sg2[:window"
            "[:polyorder]], center, autoscale; 'none' for raw spectra.",
        ),
    ] = "none",
    components: Annotated[
        str, typer.Option("--components", help="'auto' (cross-validation) or a number.")
    ] = "auto",
    max_components: Annotated[int, typer.Option("--max-components")] = 20,
    folds: Annotated[int, typer.Option("--folds", help="Cross-validation folds.")] = 10,
    cv: Annotated[
        str,
        typer.Option("--cv", help="Folds: random (repeated), venetian, contiguous (time order)."),
    ] = "random",
    target_far: Annotated[
        float,
        typer.Option("--target-far", help="Share of normal spectra flagged out of domain."),
    ] = 0.01,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random folds.")] = 0,
    exclude: Exclude = None,
    id_col: IdCol = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Calibrate a soft sensor: PLS1 per response, components by cross-validation."""
    from phactory.monitor.modelfile import save_model
    from phactory.monitor.softsensor import SoftSensor
    from phactory.monitor.softsensor.preprocess import parse_pipeline

    parse_pipeline(preprocess)  # options are checked before any file is read
    excluded = column_names(exclude)
    _check_names(id_col, excluded, x_path, y_path)
    if components != "auto" and not components.isdigit():
        fail(f"--components {components!r}: 'auto' or a whole number")
    x = _read(x_path, id_col, excluded)
    y = _read(y_path, id_col, excluded)
    _refuse_text_responses(y)
    x.require_complete("a soft sensor")
    y.require_complete("a soft sensor")
    rows = _match(x, y, id_col)
    model = SoftSensor(
        preprocess=preprocess,
        components="auto" if components == "auto" else int(components),
        max_components=max_components,
        cv_folds=folds,
        target_far=target_far,
        cv=cv,
        seed=seed,
    )
    if as_json:
        model.fit(x.values, y.values[rows], x_names=x.variables, y_names=y.variables)
    else:
        with console.status("cross-validating"):
            model.fit(x.values, y.values[rows], x_names=x.variables, y_names=y.variables)
    save_model(model, out)
    summary = _fit_summary(model, x, out)
    if as_json:
        echo_json(summary)
        return
    _print_fit(model, summary)


def _fit_summary(model: Any, x: Table, out: Path) -> dict[str, Any]:
    return {
        "model": str(out),
        "samples": model.n_train_,
        "variables": len(model.x_names_),
        "ignored_columns": list(x.ignored),
        "preprocess": model.pipeline_.spec,
        "responses": {
            name: {
                "components": model.components_[k],
                "rmsecv": float(model.rmsecv_[k]),
                "rmsec": float(model.rmsec_[k]),
                "q2": float(model.q2_[k]),
                "rmsecv_curve": [float(v) for v in model.cv_rmsecv_[k]],
            }
            for k, name in enumerate(model.y_names_)
        },
        "domain": {
            "components": model.domain_.n_components,
            "t2_limit": model.t2_limit_,
            "spe_limit": model.spe_limit_,
            "target_far": model.target_far,
        },
        "fit_seconds": model.fit_seconds_,
    }


def _print_fit(model: Any, s: dict[str, Any]) -> None:
    ignored = s["ignored_columns"]
    say(
        f"{s['samples']} samples x {s['variables']} variables, preprocess {s['preprocess']}"
        + (f" (ignored text columns: {', '.join(ignored)})" if ignored else "")
    )
    table = RichTable("response", "components", "RMSEC", "RMSECV", "Q2")
    for name, r in s["responses"].items():
        table.add_row(
            name, str(r["components"]), number(r["rmsec"]), number(r["rmsecv"]), number(r["q2"])
        )
    print_table(table)
    say("RMSECV by number of components (chosen in brackets; 0 = the mean):")
    for name, r in s["responses"].items():
        # Briefly: up to a few components past the chosen one (--json has the whole curve).
        curve = r["rmsecv_curve"][: r["components"] + CURVE_PAST_CHOSEN + 1]
        cells = [
            f"[{a}:{number(v)}]" if a == r["components"] else f"{a}:{number(v)}"
            for a, v in enumerate(curve)
        ]
        say(f"  {name}: {' '.join(cells)}")
    d = s["domain"]
    say(
        f"applicability domain: {d['components']} principal components, T2 limit "
        f"{number(d['t2_limit'])}, SPE limit {number(d['spe_limit'])} (target "
        f"{d['target_far']:.1%} flagged)"
    )
    say(f"wrote {s['model']} ({s['fit_seconds']:.2f} s)")


def _rmsep(pred: np.ndarray, ref: np.ndarray, in_domain: np.ndarray) -> dict[str, Any]:
    """RMSEP (all rows and in-domain rows), bias and SEP of one response (ASTM E1655)."""
    import numpy as np

    ok = np.isfinite(ref)
    e = pred[ok] - ref[ok]
    e_in = pred[ok & in_domain] - ref[ok & in_domain]
    nan = float("nan")
    bias = float(e.mean()) if e.size else nan
    return {
        "n": int(e.size),
        "rmsep": float(np.sqrt(np.mean(e**2))) if e.size else nan,
        "n_in_domain": int(e_in.size),
        "rmsep_in_domain": float(np.sqrt(np.mean(e_in**2))) if e_in.size else nan,
        "bias": bias,
        "sep": float(np.sqrt(np.sum((e - bias) ** 2) / (e.size - 1))) if e.size > 1 else nan,
    }


@app.command("predict")
def predict_command(
    model_path: Annotated[Path, typer.Argument(metavar="M.json", help="Soft-sensor model.")],
    x_path: Annotated[Path, typer.Argument(metavar="X.csv", help="Spectra to predict.")],
    y_ref: Annotated[
        Path | None,
        typer.Option("--y", help="Reference responses: adds RMSEP, bias and SEP per response."),
    ] = None,
    id_col: IdCol = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print the rows as CSV.")] = False,
) -> None:
    """Predict responses of spectra, each with an in-domain flag (T2, SPE)."""
    import numpy as np

    from phactory.monitor.modelfile import load_model
    from phactory.monitor.softsensor import SoftSensor

    if as_json and as_csv:
        fail("--json and --csv: choose one")
    model = load_model(model_path, expect=SoftSensor)
    x = _read(x_path, id_col, [])
    values = x.columns(model.x_names_, role="model variable")
    gaps = np.argwhere(np.isnan(values))
    if gaps.size:
        row, col = (int(v) for v in gaps[0])
        fail(f"{x.where(row, model.x_names_[col])}: empty; a spectrum needs every variable")
    pred = model.predict(values)
    ids = _ids(x, id_col) if id_col is not None and id_col in x.extra else None
    rows = [
        {
            "line": x.line(i),
            **({"id": ids[i]} if ids is not None else {}),
            "prediction": {n: float(pred.y[i, k]) for k, n in enumerate(pred.y_names)},
            "in_domain": bool(pred.in_domain[i]),
            "t2": float(pred.t2[i]),
            "spe": float(pred.spe[i]),
        }
        for i in range(x.n_rows)
    ]
    stats: dict[str, Any] | None = None
    if y_ref is not None:
        y = _read(y_ref, id_col, [])
        ref = y.columns(model.y_names_, role="response")[_match(x, y, id_col)]
        stats = {
            n: _rmsep(pred.y[:, k], ref[:, k], pred.in_domain) for k, n in enumerate(pred.y_names)
        }
    summary = {
        "model": str(model_path),
        "data": str(x_path),
        "responses": list(pred.y_names),
        "t2_limit": pred.t2_limit,
        "spe_limit": pred.spe_limit,
        "rows_in_domain": int(pred.in_domain.sum()),
        "rows": rows,
        **({"rmsep": stats} if stats is not None else {}),
    }
    if as_json:
        echo_json(summary)
    elif as_csv:
        _print_csv(rows, list(pred.y_names), ids is not None)
        if stats is not None:
            _print_rmsep(stats, err=True)
    else:
        _print_predictions(summary)
        if stats is not None:
            _print_rmsep(stats, err=False)


def _print_csv(rows: list[dict[str, Any]], names: list[str], with_id: bool) -> None:
    write_csv(
        ["id" if with_id else "line", *names, "in_domain", "t2", "spe"],
        (
            [
                r["id"] if with_id else r["line"],
                *(r["prediction"][n] for n in names),
                int(r["in_domain"]),
                r["t2"],
                r["spe"],
            ]
            for r in rows
        ),
    )


def _print_predictions(s: dict[str, Any]) -> None:
    names = s["responses"]
    with_id = bool(s["rows"]) and "id" in s["rows"][0]
    table = RichTable("id" if with_id else "line", *names, "in domain", "T2", "SPE")
    for r in s["rows"][:SHOWN_ROWS]:
        table.add_row(
            str(r["id"] if with_id else r["line"]),
            *(number(r["prediction"][n]) for n in names),
            "yes" if r["in_domain"] else "NO",
            number(r["t2"]),
            number(r["spe"]),
        )
    print_table(table)
    more = len(s["rows"]) - SHOWN_ROWS
    if more > 0:
        say(f"... {more} more rows (all of them with --csv or --json)")
    say(
        f"in domain: {s['rows_in_domain']} of {len(s['rows'])} rows (T2 limit "
        f"{number(s['t2_limit'])}, SPE limit {number(s['spe_limit'])})"
    )


def _print_rmsep(stats: dict[str, Any], *, err: bool) -> None:
    table = RichTable("response", "n", "RMSEP", "n in domain", "RMSEP in domain", "bias", "SEP")
    for name, r in stats.items():
        table.add_row(
            name,
            str(r["n"]),
            number(r["rmsep"]),
            str(r["n_in_domain"]),
            number(r["rmsep_in_domain"]),
            number(r["bias"]),
            number(r["sep"]),
        )
    print_table(table, err=err)


@app.command("example")
def example_command(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the CSV files into.")],
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
) -> None:
    """Write generated Raman-like spectra with known concentrations (glucose, lactate,
    titre): a calibration set, a test set and out-of-domain spectra."""
    from phactory.monitor.datasets.spectra import spectra_example

    paths = spectra_example(seed=seed).write(out)
    for p in paths:
        say(f"wrote {p}")
    d = out
    say(
        "try:\n"
        f"  phactory softsensor fit {d / 'x_train.csv'} {d / 'y_train.csv'} --id-col sample "
        f"--preprocess snv,sg1 --out {d / 'model.json'}\n"
        f"  phactory softsensor predict {d / 'model.json'} {d / 'x_test.csv'} --id-col sample "
        f"--y {d / 'y_test.csv'}\n"
        f"  phactory softsensor predict {d / 'model.json'} {d / 'x_outside.csv'} --id-col sample"
    )
