"""``phactory rul fit | predict | example``: remaining useful life from sensor histories.

CSV contract (as every monitoring command): a header row, one row per unit and time,
every numeric column a sensor except the unit and time columns, the operating settings
(``--setting-col``) and ``--exclude``. Training units run to failure (the last row of
each unit is its failure); test units are cut off before it.

Only Typer and Rich at top level; NumPy, pandas and scikit-learn are imported by the
commands. Refusals (:class:`~phactory.errors.PhactoryError`: bad files, naming file, line
and column) are printed in one line with exit code 2 by :class:`PhactoryGroup`. Texts from
the user's files are escaped before Rich prints them.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from phactory.cli.monitor_io import Exclude, column_names, command_group
from phactory.cli.output import console, echo_json, fail, number, write_csv

if TYPE_CHECKING:
    from phactory.monitor.rul import RulPrediction
    from phactory.monitor.rul.evaluation import RulScores

app = command_group(
    "rul", "Remaining useful life: fit on run-to-failure histories, predict with intervals."
)

UnitCol = Annotated[str, typer.Option("--unit-col", help="Column of the unit id.")]
TimeCol = Annotated[
    str, typer.Option("--time-col", help="Column of the time (cycles, hours or ISO 8601).")
]


@app.command("fit")
def fit(
    train: Annotated[Path, typer.Argument(metavar="TRAIN.csv", help="Run-to-failure histories.")],
    unit_col: UnitCol,
    time_col: TimeCol,
    out: Annotated[Path, typer.Option("--out", help="Model file to write (JSON).")],
    cap: Annotated[
        float, typer.Option("--cap", help="Cap of the piecewise-linear RUL target.")
    ] = 125.0,
    no_cap: Annotated[bool, typer.Option("--no-cap", help="Learn the uncapped RUL.")] = False,
    window: Annotated[int, typer.Option("--window", min=1, help="Rows in the windows.")] = 30,
    setting_col: Annotated[
        list[str] | None,
        typer.Option(
            "--setting-col",
            help="Operating-setting column (repeat, or a,b,c): sensors are normalised per "
            "operating regime.",
        ),
    ] = None,
    regimes: Annotated[
        int | None,
        typer.Option("--regimes", min=1, help="Number of operating regimes (default: chosen)."),
    ] = None,
    exclude: Exclude = None,
    coverage: Annotated[
        float, typer.Option("--coverage", help="Nominal coverage of the intervals.")
    ] = 0.9,
    method: Annotated[
        str, typer.Option("--method", help="gbm (gradient boosting) or linear (ridge).")
    ] = "gbm",
    no_age: Annotated[
        bool,
        typer.Option("--no-age", help="Do not use the time since a unit's first row."),
    ] = False,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed (reproducible).")] = 0,
    trees: Annotated[
        int, typer.Option("--trees", min=1, help="Boosting iterations of each tree model.")
    ] = 300,
    threads: Annotated[
        int,
        typer.Option(
            "--threads",
            min=1,
            help="Threads fitting the trees; more help only on an otherwise idle machine.",
        ),
    ] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Fit a RUL model on units that ran to failure; save it as JSON."""
    from phactory.monitor.modelfile import save_model
    from phactory.monitor.rul import RulModel
    from phactory.monitor.table import read_table

    settings = column_names(setting_col)
    excluded = column_names(exclude)
    clash = sorted(set(settings) & {unit_col, time_col, *excluded})
    if clash:
        fail(f"--setting-col {', '.join(clash)} is also the unit, time or an excluded column")
    table = read_table(train, named=(unit_col, time_col), exclude=excluded)
    started = time.perf_counter()
    model = RulModel(
        cap=None if no_cap else cap,
        window=window,
        coverage=coverage,
        method=method,
        seed=seed,
        settings=settings,
        n_regimes=regimes,
        age=not no_age,
        n_estimators=trees,
        n_threads=threads,
    ).fit(table, unit_col, time_col)
    seconds = time.perf_counter() - started
    save_model(model, out)
    summary: dict[str, Any] = {
        "model": str(out),
        "method": model.method,
        "units": model.n_units_,
        "calibration_units": model.n_calibration_units_,
        "rows": table.n_rows,
        "sensors": list(model.sensors_),
        "dropped_constant": list(model.dropped_),
        "settings": list(model.settings),
        "regimes": None if model.regimes_ is None else model.regimes_.k,
        "features": len(model.features_),
        "cap": model.cap,
        "coverage": model.coverage,
        "interval_margins": [v if math.isfinite(v) else None for v in model.margins_.q.tolist()],
        "ignored_text_columns": list(table.ignored),
        "fit_seconds": round(seconds, 3),
    }
    if as_json:
        echo_json(summary)
        return
    console.print(
        f"fitted a {model.method} RUL model on {model.n_units_} units ({table.n_rows} rows) "
        f"in {seconds:.1f} s; intervals calibrated on {model.n_calibration_units_} held-out "
        f"units at {model.coverage:.0%}",
        highlight=False,
    )
    console.print(f"sensors ({len(model.sensors_)}): {escape(', '.join(model.sensors_))}")
    if model.dropped_:
        console.print(f"dropped as constant: {escape(', '.join(model.dropped_))}")
    if model.regimes_ is not None:
        console.print(f"operating regimes: {model.regimes_.k} (from {escape(', '.join(settings))})")
    if table.ignored:
        console.print(f"text columns ignored: {escape(', '.join(table.ignored))}")
    if not all(math.isfinite(v) for v in model.margins_.q.tolist()):
        console.print(
            "[yellow]too few calibration units for this coverage: intervals are unbounded[/yellow]"
        )
    console.print(f"model written to {escape(str(out))}")


def _prediction_rows(preds: list[RulPrediction], truth: Any | None) -> list[dict[str, Any]]:
    rows = []
    for i, p in enumerate(preds):
        row: dict[str, Any] = {
            "unit": p.unit,
            "time": p.time,
            "rul": p.rul,
            "lower": p.lower,
            "upper": p.upper if math.isfinite(p.upper) else None,
        }
        if truth is not None:
            row["true_rul"] = float(truth[i])
        rows.append(row)
    return rows


def _scores_dict(s: RulScores) -> dict[str, float | int]:
    return {
        "n": s.n,
        "rmse": s.rmse,
        "mae": s.mae,
        "nasa_score": s.nasa_score,
        "coverage": s.coverage,
        "mean_width": s.width,
    }


@app.command("predict")
def predict(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL.json", help="A fitted RUL model.")],
    test: Annotated[Path, typer.Argument(metavar="TEST.csv", help="Histories of running units.")],
    unit_col: UnitCol,
    time_col: TimeCol,
    truth: Annotated[
        Path | None,
        typer.Option(
            "--truth",
            help="True RULs: unit + RUL columns with a header, or one column in unit order.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV, one row per unit.")] = False,
) -> None:
    """RUL of each unit at its last row, with an interval (and scores with --truth)."""
    import numpy as np

    from phactory.monitor.modelfile import load_model
    from phactory.monitor.rul import RulModel
    from phactory.monitor.rul.evaluation import read_truth, score_predictions
    from phactory.monitor.table import read_table

    if as_json and as_csv:
        fail("choose one of --json and --csv")
    model = load_model(model_path, expect=RulModel)
    table = read_table(test, named=(unit_col, time_col))
    preds = model.predict(table, unit_col, time_col)
    true = None
    scores = None
    if truth is not None:
        true = read_truth(truth, unit_col, [p.unit for p in preds])
        scores = score_predictions(
            np.array([p.rul for p in preds]),
            np.array([p.lower for p in preds]),
            np.array([p.upper for p in preds]),
            true,
        )
    rows = _prediction_rows(preds, true)
    if as_json:
        echo_json(
            {
                "model": str(model_path),
                "coverage": model.coverage,
                "cap": model.cap,
                "units": rows,
                "scores": None if scores is None else _scores_dict(scores),
            }
        )
        return
    if as_csv:
        write_csv(list(rows[0]), (list(r.values()) for r in rows))
        return
    out = Table(
        title=f"RUL at the last row ({model.coverage:.0%} intervals; "
        f"cap {number(model.cap) if model.cap else 'none'})"
    )
    for col in ("unit", "time", "RUL", "lower", "upper", *(["true"] if true is not None else [])):
        out.add_column(col, justify="left" if col == "unit" else "right")
    for r in rows:
        cells = [escape(r["unit"]), number(r["time"]), number(r["rul"]), number(r["lower"])]
        cells.append(number(r["upper"]))
        if true is not None:
            cells.append(number(r["true_rul"]))
        out.add_row(*cells)
    console.print(out)
    if scores is not None:
        console.print(
            f"{scores.n} units: RMSE {number(scores.rmse)}, MAE {number(scores.mae)}, "
            f"NASA score {number(scores.nasa_score)}, interval coverage "
            f"{scores.coverage:.1%} (nominal {model.coverage:.0%}), mean width "
            f"{number(scores.width)}",
            highlight=False,
        )


@app.command("example")
def example(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the CSV files into.")],
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed (reproducible).")] = 0,
    regimes: Annotated[
        int, typer.Option("--regimes", min=1, max=6, help="Operating regimes (1-6).")
    ] = 1,
    train_units: Annotated[int, typer.Option("--train-units", min=4)] = 100,
    test_units: Annotated[int, typer.Option("--test-units", min=1)] = 100,
) -> None:
    """Write generated run-to-failure data with known truth (C-MAPSS-like)."""
    from phactory.monitor.datasets.degradation import degradation_data

    data = degradation_data(n_train=train_units, n_test=test_units, n_regimes=regimes, seed=seed)
    paths = data.write(out)
    for p in paths:
        console.print(f"wrote {escape(str(p))}", highlight=False)
    t = data.truth
    console.print(
        f"maintenance records: Weibull shape {t.shape}, scale {t.scale_h:g} h "
        f"(MTBF {t.mtbf_h:.1f} h), repairs {t.mttr_h:g} +- {t.mttr_sd_h:g} h",
        highlight=False,
    )
    d = escape(str(out))
    settings = " --setting-col setting_1,setting_2,setting_3" if regimes > 1 else ""
    console.print(
        "try:\n"
        f"  phactory rul fit {d}/train.csv --unit-col unit --time-col cycle{settings} "
        f"--out {d}/rul.json\n"
        f"  phactory rul predict {d}/rul.json {d}/test.csv --unit-col unit --time-col cycle "
        f"--truth {d}/test_rul.csv\n"
        f"  phactory pdm reliability {d}/maintenance.csv --unit-col unit --time-col hours "
        "--event-col event --repair-col repair_h",
        highlight=False,
        soft_wrap=True,
    )
