"""``phactory monitor``: multivariate statistical process monitoring on CSV files.

Commands: ``fit`` (a model of normal operation from a CSV file, limits calibrated on a
second one), ``score`` (T2, SPE, alarm and the most contributing variables of every row
of a CSV file) and ``example`` (generated data with known faults to try them on).

The CSV contract (:mod:`phactory.monitor.table`): a header row, one row per sample in
time order, every numeric column a variable except ``--time-col`` and ``--exclude``
columns; text columns are ignored and said so. ``fit`` refuses missing values, naming
the file, line and column; ``score`` gives a row with a missing value no statistics (NaN
in ``--csv``, ``null`` in ``--json``) and no alarm, as it does the first ``--lags``
rows of a dynamic model. Variables constant in the training file are dropped with a
notice and recorded in the model.

Output of ``score``: a table of the alarmed rows and a summary (default), every row as
CSV (``--csv``; cells a spreadsheet would run as formulas are neutralised) or JSON
(``--json``). ``row`` is the 0-based data row (file line ``row + 2``).

Only Typer and Rich are imported at top level; NumPy, pandas and scikit-learn when a
command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from phactory.cli.monitor_io import Exclude, column_names, command_group
from phactory.cli.output import echo_json, print_table, say, write_csv

if TYPE_CHECKING:
    import numpy as np

    from phactory.monitor.mspc import MspcModel, MspcScores
    from phactory.monitor.table import Table

__all__ = ["TABLE_ROWS", "app"]

#: Most alarmed rows the default table shows (``--csv`` and ``--json`` show all).
TABLE_ROWS = 200

app = command_group(
    "monitor", "Multivariate statistical process monitoring (PCA, dynamic PCA, PLS): fit, score."
)

TimeCol = Annotated[
    str | None,
    typer.Option("--time-col", help="Column with the time of each row (not a variable)."),
]


@app.command()
def fit(
    train: Annotated[Path, typer.Argument(help="CSV of normal operation (training).")],
    out: Annotated[Path, typer.Option("--out", help="Model file to write (JSON).")],
    validation: Annotated[
        Path | None,
        typer.Option("--validation", help="CSV of other normal operation: calibrates the limits."),
    ] = None,
    method: Annotated[str, typer.Option("--method", help="pca, dpca, pls or innovation.")] = "pca",
    target_far: Annotated[
        float, typer.Option("--target-far", help="Wanted false-alarm rate per row.")
    ] = 0.01,
    exclude: Exclude = None,
    time_col: TimeCol = None,
    components: Annotated[
        int | None, typer.Option("--components", help="Components (default: automatic).")
    ] = None,
    lags: Annotated[int, typer.Option("--lags", help="Lagged rows (dpca, innovation).")] = 2,
    persistence: Annotated[
        str, typer.Option("--persistence", help="Alarm when K of the last N rows exceed: K/N.")
    ] = "1/1",
    y: Annotated[
        list[str] | None,
        typer.Option("--y", help="Quality column for pls (repeatable); not a process variable."),
    ] = None,
    ewma: Annotated[
        float | None,
        typer.Option(
            "--ewma",
            help="Smooth T2 and SPE with this EWMA weight in (0, 1] "
            "(default: 0.1 for innovation, none otherwise).",
        ),
    ] = None,
) -> None:
    """Fit a monitoring model on normal operation and write it as JSON."""
    from phactory.errors import InvalidError
    from phactory.monitor.modelfile import save_model
    from phactory.monitor.mspc import METHODS, MspcModel
    from phactory.monitor.mspc.rules import parse_persistence
    from phactory.monitor.table import read_table

    if method not in METHODS:
        raise InvalidError(f"--method must be one of {', '.join(METHODS)}, not {method!r}")
    if not 0.0 < target_far < 0.5:
        raise InvalidError(f"--target-far must lie in (0, 0.5), not {target_far:g}")
    rule = parse_persistence(persistence)
    quality = tuple(y or ())
    if quality and method != "pls":
        raise InvalidError(f"--y is used by --method pls only, not {method}")
    if method == "pls" and not quality:
        raise InvalidError("--method pls needs the quality columns: --y COL (repeatable)")
    named = [time_col] if time_col else []
    excluded = column_names(exclude)
    table = read_table(train, named=named, exclude=excluded)
    Y = table.columns(quality, role="quality (--y)") if quality else None
    names = tuple(v for v in table.variables if v not in quality)
    if not names:
        raise InvalidError(f"{train}: no process variable left besides the --y columns")
    table.require_complete("fitting a monitoring model", names + quality)
    X = table.columns(names)
    X_val = None
    if validation is not None:
        vtable = read_table(validation, named=named, exclude=excluded)
        vtable.require_complete("fitting a monitoring model", names)
        X_val = vtable.columns(names)
        usable = X_val.shape[0] - (lags if method in ("dpca", "innovation") else 0)
        if usable * target_far < 1.0:
            raise InvalidError(
                f"{validation}: {X_val.shape[0]} rows are too few to calibrate a false-alarm "
                f"rate of {target_far:g} (at least {int(1.0 / target_far) + lags} rows)"
            )
    options: dict[str, Any] = {} if ewma is None else {"ewma": ewma}
    model = MspcModel(
        method,
        n_components=components,
        lags=lags,
        target_far=target_far,
        persistence=rule,
        y_variables=quality,
        **options,
    )
    try:
        model.fit(X, names, X_val=X_val, Y=Y)
    except InvalidError as exc:
        raise InvalidError(f"{train}: {exc}") from None
    save_model(model, out)
    _summary(model, table, train, validation)
    say(f"wrote {out}")


def _summary(model: MspcModel, table: Table, train: Path, validation: Path | None) -> None:
    if table.ignored:
        say(f"ignored text column(s): {', '.join(table.ignored)}")
    if model.dropped_:
        say(
            f"dropped {len(model.dropped_)} column(s) constant in {train}: "
            f"{', '.join(model.dropped_)}"
        )
    lags = f", lags {model.lags_}" if model.lags_ else ""
    smooth = f", EWMA {model.ewma_:g}" if model.ewma_ < 1.0 else ""
    k, n = model.persistence
    say(
        f"method {model.method}: {table.n_rows} rows, {len(model.variables_)} variables, "
        f"{model.n_components_} components ({100 * model.projection_.explained.sum():.1f} % "
        f"of the variance){lags}{smooth}, persistence {k}/{n}"
    )
    say(
        f"limits: T2 {model.t2_limit_:.4g} (nominal {model.t2_nominal_:.4g}), "
        f"SPE {model.spe_limit_:.4g} (nominal {model.spe_nominal_:.4g})"
    )
    target = f"false-alarm rate: target {100 * model.target_far:.3g} %"
    if model.far_validation_ is not None and model.calibrated_on_ != "nominal":
        nominal = model.far_validation_nominal_ or 0.0
        where = validation if model.calibrated_on_ == "validation" else "held-out blocks"
        say(
            f"{target}; on {where} ({model.validation_rows_} rows) "
            f"{100 * model.far_validation_:.3g} % (nominal limits: {100 * nominal:.3g} %, "
            f"calibration factor {model.calibration_factor_:.3g}); "
            f"on the training rows {100 * model.far_training_:.3g} %"
        )
        if model.calibrated_on_ == "held-out":
            say(
                "note: no --validation: the limits were calibrated on five held-out blocks of "
                "the training rows, each scored by the model fitted on the others; another run "
                "of normal operation (--validation) calibrates them on data from outside it"
            )
    else:
        say(
            f"{target}; on the training rows {100 * model.far_training_:.3g} % "
            "(nominal limits, no --validation: expect more on new data)"
        )


def _top(scores: MspcScores, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` most contributing variables of every row: indices and values."""
    import numpy as np

    c = np.where(np.isfinite(scores.contributions), scores.contributions, -np.inf)
    k = min(k, c.shape[1])
    order = np.argsort(-c, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(scores.contributions, order, axis=1)


@app.command()
def score(
    model_file: Annotated[Path, typer.Argument(metavar="MODEL.json", help="Fitted model.")],
    data: Annotated[Path, typer.Argument(metavar="DATA.csv", help="Rows to score.")],
    time_col: TimeCol = None,
    as_json: Annotated[bool, typer.Option("--json", help="Every row as JSON.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Every row as CSV.")] = False,
    top: Annotated[
        int, typer.Option("--top", min=1, help="Contributing variables shown per row.")
    ] = 3,
) -> None:
    """Score the rows of a CSV file: T2, SPE, alarm and the variables to blame."""
    import numpy as np

    from phactory.errors import InvalidError
    from phactory.monitor.modelfile import load_model
    from phactory.monitor.mspc import MspcModel
    from phactory.monitor.table import read_table

    if as_csv and as_json:
        raise InvalidError("choose one of --csv and --json")
    model = load_model(model_file, expect=MspcModel)
    table = read_table(data, named=[time_col] if time_col else [])
    scores = model.score(table.columns(model.variables_))
    times = None if time_col is None else table.extra_values(time_col).astype(str).tolist()
    order, values = _top(scores, top)
    names = scores.variables
    n = table.n_rows
    scored = np.isfinite(scores.t2)
    alarms = np.flatnonzero(scores.alarm)

    def tops(i: int) -> list[tuple[str, float]]:
        if not scored[i]:
            return []
        return [(names[int(j)], float(v)) for j, v in zip(order[i], values[i], strict=True)]

    summary: dict[str, Any] = {
        "model": str(model_file),
        "data": str(data),
        "method": model.method,
        "rows": n,
        "rows_scored": int(scored.sum()),
        "alarms": int(alarms.size),
        "first_alarm_row": int(alarms[0]) if alarms.size else None,
        "t2_limit": scores.t2_limit,
        "spe_limit": scores.spe_limit,
    }
    if as_json:
        rows = []
        for i in range(n):
            row: dict[str, Any] = {"row": i}
            if times is not None:
                row["time"] = times[i]
            row.update(
                t2=float(scores.t2[i]),
                spe=float(scores.spe[i]),
                t2_limit=scores.t2_limit,
                spe_limit=scores.spe_limit,
                alarm=bool(scores.alarm[i]),
                top=[{"variable": v, "contribution": c} for v, c in tops(i)],
            )
            rows.append(row)
        echo_json({"summary": summary, "rows": rows})
        return
    if as_csv:
        _write_csv(scores, times, order, values, scored)
        return
    _alarm_table(scores, times, alarms, tops)
    first = "none"
    if alarms.size:
        i = int(alarms[0])
        at = f", time {times[i]}" if times is not None else ""
        first = f"row {i} ({table.where(i)}{at})"
    say(
        f"{n} rows, {int(scored.sum())} with statistics, {alarms.size} alarms "
        f"({100 * alarms.size / max(n, 1):.3g} %); first alarm: {first}"
    )
    say(f"limits: T2 {scores.t2_limit:.4g}, SPE {scores.spe_limit:.4g} ({model.method})")
    if scored.sum() < n:
        say(
            f"{n - int(scored.sum())} rows without statistics (a missing value, or the "
            f"first {model.lags_} rows of a dynamic model)"
        )


def _write_csv(
    scores: MspcScores,
    times: list[str] | None,
    order: np.ndarray,
    values: np.ndarray,
    scored: np.ndarray,
) -> None:
    k = order.shape[1]
    header = ["row", *(["time"] if times is not None else [])]
    header += ["t2", "spe", "t2_limit", "spe_limit", "alarm"]
    for j in range(1, k + 1):
        header += [f"top{j}", f"top{j}_contribution"]
    names = scores.variables
    t2, spe, alarm = scores.t2.tolist(), scores.spe.tolist(), scores.alarm.tolist()
    limits = [float(scores.t2_limit), float(scores.spe_limit)]

    def row(i: int) -> list[Any]:
        cells: list[Any] = [i, *([times[i]] if times is not None else [])]
        cells += [t2[i], spe[i], *limits, "true" if alarm[i] else "false"]
        if scored[i]:
            for j in range(k):
                cells += [names[int(order[i, j])], float(values[i, j])]
        else:
            cells += ["", ""] * k
        return cells

    write_csv(header, (row(i) for i in range(len(t2))))


def _alarm_table(
    scores: MspcScores, times: list[str] | None, alarms: np.ndarray, tops: Any
) -> None:
    from rich.table import Table

    if not alarms.size:
        return
    table = Table(
        title=f"{alarms.size} alarmed rows"
        + (f"; the first {TABLE_ROWS}" if alarms.size > TABLE_ROWS else ""),
        title_justify="left",
    )
    for name in ["row", *(["time"] if times is not None else []), "T2", "SPE", "top variables"]:
        table.add_column(name, justify="left" if name in ("time", "top variables") else "right")
    for i in alarms[:TABLE_ROWS].tolist():
        t2_mark = "*" if scores.t2_exceeds[i] else ""
        spe_mark = "*" if scores.spe_exceeds[i] else ""
        blame = ", ".join(f"{v} {c:.3g}" for v, c in tops(i))
        table.add_row(
            str(i),
            *([times[i]] if times is not None else []),
            f"{scores.t2[i]:.4g}{t2_mark}",
            f"{scores.spe[i]:.4g}{spe_mark}",
            blame,
        )
    print_table(table)
    say("* over its limit; contributions in units of the limit of the statistic(s) over it")


@app.command()
def example(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the CSV files to.")],
    seed: Annotated[int, typer.Option("--seed", help="Seed of the generated process.")] = 0,
) -> None:
    """Write generated data with known faults: train.csv, validation.csv, one CSV per fault
    kind and faults.json (the ground truth)."""
    import json

    from phactory.errors import InvalidError
    from phactory.monitor.datasets.continuous import example_set

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidError(f"{out}: cannot create the folder ({exc.strerror})") from None
    ex = example_set(seed, n_train=3000, n_validation=5000, n_fault=1500, fault_start=300)
    written = []
    for name, frame in (("train.csv", ex.train), ("validation.csv", ex.validation)):
        frame.to_csv(out / name, index=False, float_format="%.8g")
        written.append(name)
    truth = {}
    for kind, (frame, gt) in ex.faults.items():
        name = f"fault_{kind}.csv"
        frame.to_csv(out / name, index=False, float_format="%.8g")
        written.append(name)
        truth[name] = gt.to_dict()
    meta = {"seed": seed, "generator": "phactory.monitor.datasets.continuous", "faults": truth}
    (out / "faults.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    written.append("faults.json")
    say(f"wrote {', '.join(written)} to {out}")
    say(
        f"try: phactory monitor fit {out / 'train.csv'} --validation {out / 'validation.csv'} "
        f"--time-col time --out {out / 'model.json'}\n"
        f"     phactory monitor score {out / 'model.json'} {out / 'fault_bias.csv'} --time-col time"
    )
