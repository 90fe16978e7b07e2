"""``phactory batchmon``: batch evolution monitoring from CSV files.

The CSV contract (``phactory.monitor.table``): a header row, one row per sample, a batch
id column (``--batch-col``) and a time column (``--time-col``: numbers in ``--time-unit``,
hours by default, or ISO 8601 datetimes); every other numeric column is a variable,
except those named with ``--exclude`` or ``--quality``. Final quality is either constant
columns of the batch file (``--quality COL``, repeated or comma separated) or a file of
one row per batch (``--quality-csv Q.csv``: the batch column and the quality columns).

* ``fit`` trains a :class:`~phactory.monitor.batch.BatchModel` on good, complete batches
  and prints what it learnt (with ``--validation V.csv``, the false-alarm rate on good
  batches it has not seen);
* ``score`` scores every row of every batch of a file (running batches up to where they
  are): a summary per batch, ``--csv`` one row per sample (cells a spreadsheet would run
  as formulas are neutralised), ``--json`` both;
* ``example`` writes generated fed-batch data with known faults to try it on.

Refusals (a missing column, a batch with a repeated time, too few batches) are one line
naming the file and line, exit code 2. Only Typer and Rich are imported at top level.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from phactory.cli.monitor_io import Exclude, column_names, command_group, csv_header
from phactory.cli.output import echo_json, number, print_table, say, write_csv

if TYPE_CHECKING:
    from phactory.monitor.batch import Batch, BatchModel, BatchScores
    from phactory.monitor.table import Table as CsvTable

__all__ = ["app"]

app = command_group(
    "batchmon", "Batch evolution monitoring: fit on good batches, score complete and running ones."
)

BatchCol = Annotated[str, typer.Option("--batch-col", help="Column of the batch id.")]
TimeCol = Annotated[
    str, typer.Option("--time-col", help="Column of the time: numbers or ISO 8601 datetimes.")
]
TimeUnit = Annotated[
    str, typer.Option("--time-unit", help="Unit of a numeric time column: h, min, s or d.")
]


def _read(
    path: Path,
    batch_col: str,
    time_col: str,
    time_unit: str,
    *,
    named: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    min_rows: int = 3,
) -> tuple[CsvTable, list[Batch]]:
    from phactory.monitor.batch.trajectory import batches_from_table
    from phactory.monitor.table import read_table

    table = read_table(path, named=(batch_col, time_col, *named), exclude=exclude, role="named")
    batches = batches_from_table(table, batch_col, time_col, time_unit=time_unit, min_rows=min_rows)
    return table, batches


@app.command()
def fit(
    batches_csv: Annotated[Path, typer.Argument(help="Good, complete batches (CSV).")],
    batch_col: BatchCol,
    time_col: TimeCol,
    out: Annotated[Path, typer.Option("--out", help="Model file to write (JSON).")],
    align: Annotated[str, typer.Option("--align", help="time, maturity:COLUMN or dtw.")] = "time",
    points: Annotated[int, typer.Option("--points", help="Grid points of the alignment.")] = 100,
    components: Annotated[
        int | None, typer.Option("--components", help="Components (default: chosen).")
    ] = None,
    method: Annotated[
        str, typer.Option("--method", help="pls (SIMCA, y = maturity) or pca (deviations).")
    ] = "pls",
    quality: Annotated[
        list[str] | None,
        typer.Option("--quality", help="Final quality column (repeat, or a,b,c)."),
    ] = None,
    quality_csv: Annotated[
        Path | None,
        typer.Option("--quality-csv", help="Final quality, one row per batch (CSV)."),
    ] = None,
    exclude: Exclude = None,
    target_far: Annotated[
        float, typer.Option("--target-far", help="False-alarm rate per row.")
    ] = 0.01,
    persistence: Annotated[
        str, typer.Option("--persistence", help="Alarm on K of the last N rows over a limit.")
    ] = "1/1",
    validation: Annotated[
        Path | None,
        typer.Option("--validation", help="Good batches not used to fit: measured false alarms."),
    ] = None,
    time_unit: TimeUnit = "h",
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Fit a batch model on good, complete batches and save it as JSON."""
    from phactory.monitor.batch import BatchModel
    from phactory.monitor.batch.trajectory import quality_from_rows, quality_from_table
    from phactory.monitor.modelfile import save_model
    from phactory.monitor.mspc.rules import parse_persistence
    from phactory.monitor.table import read_table

    names = tuple(column_names(quality))
    leave_out = tuple(column_names(exclude))
    q_table = None
    if quality_csv is not None:
        q_table = read_table(quality_csv, named=(batch_col,), role="batch")
        names = names or q_table.variables
        # Quality columns also in the batch file are not variables there either.
        header = csv_header(batches_csv)
        leave_out += tuple(n for n in names if n in header and n not in leave_out)
    in_file = names if quality_csv is None else ()
    table, batches = _read(
        batches_csv, batch_col, time_col, time_unit, named=in_file, exclude=leave_out
    )
    q = None
    if q_table is not None:
        names, q = quality_from_rows(q_table, batch_col, batches, names)
    elif names:
        q = quality_from_table(table, batch_col, batches, names)
    model = BatchModel(
        align=align,
        n_points=points,
        n_components=components,
        target_far=target_far,
        quality=names,
        method=method,
        persistence=parse_persistence(persistence),
    ).fit(batches, q)
    save_model(model, out)
    summary: dict[str, Any] = {"model": str(out), **model.summary()}
    if table.ignored:
        summary["ignored_text_columns"] = list(table.ignored)
    if validation is not None:
        _, good = _read(validation, batch_col, time_col, time_unit, min_rows=1)
        summary["validation"] = _validation(model, good)
    if as_json:
        echo_json(summary, indent=2)
        return
    _print_summary(summary)


def _validation(model: BatchModel, batches: list[Batch]) -> dict[str, Any]:
    import numpy as np

    scored = [model.score(b, complete=True) for b in batches]
    rows = np.concatenate([s.alarm for s in scored])
    return {
        "batches": len(scored),
        "far_rows": float(rows.mean()),
        "batches_with_alarm": float(np.mean([s.alarm.any() for s in scored])),
        "batch_level_alarms": float(np.mean([bool(s.batch_alarm) for s in scored])),
    }


def _print_summary(s: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title=f"batch model -> {s['model']}", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("value", overflow="fold")
    lv = s["batch_level"]
    rows = [
        ("batches", str(s["batches"])),
        ("variables", f"{len(s['variables'])}: {', '.join(s['variables'])}"),
        ("alignment / method", f"{s['align']} / {s['method']}, {s['n_points']} points"),
        ("components", str(s["components"])),
        ("T2 limit (min..max)", "{:.3g}..{:.3g}".format(*s["t2_limit_range"])),
        ("SPE limit (min..max)", "{:.3g}..{:.3g}".format(*s["spe_limit_range"])),
        (
            "false alarms (cross-validated)",
            f"{s['far_cv_rows']:.2%} of rows (target {s['target_far']:.2%}); "
            f"{s['far_cv_batches_any_alarm']:.0%} of batches have one",
        ),
        (
            "batch level",
            f"{lv['components']} components, T2 limit {lv['t2_limit']:.3g}, "
            f"SPE limit {lv['spe_limit']:.3g}",
        ),
    ]
    for name, q in s.get("quality", {}).items():
        rows.append(
            (
                f"quality {name}",
                f"RMSECV {q['rmsecv']:.4g} (predicting the mean: {q['rmse_mean_predictor']:.4g})",
            )
        )
    if "validation" in s:
        v = s["validation"]
        rows.append(
            (
                "validation",
                f"{v['batches']} batches: {v['far_rows']:.2%} of rows alarm, "
                f"{v['batches_with_alarm']:.0%} of batches have an alarm",
            )
        )
    if s.get("ignored_text_columns"):
        rows.append(("text columns ignored", ", ".join(s["ignored_text_columns"])))
    for r in rows:
        table.add_row(*r)
    print_table(table)


def _top(scores: BatchScores, row: int, k: int) -> str:
    """``"var:contribution; ..."`` for CSV cells."""
    return "; ".join(f"{n}:{v:.3g}" for n, v in scores.top(row, k))


def _top_json(scores: BatchScores, row: int, k: int) -> list[dict[str, Any]]:
    return [{"variable": n, "contribution": v} for n, v in scores.top(row, k)]


def _batch_row(s: BatchScores) -> dict[str, Any]:
    import numpy as np

    first = np.flatnonzero(s.alarm)
    return {
        "batch": s.batch,
        "status": "complete" if s.complete else "running",
        "rows": int(s.time.size),
        "hours": float(s.time[-1]),
        "progress": float(s.progress[-1]),
        "alarms": int(s.alarm.sum()),
        "first_alarm_h": s.first_alarm,
        "first_alarm_top": _top_json(s, int(first[0]), 3) if first.size else [],
        "batch_t2": s.batch_t2,
        "batch_t2_limit": s.batch_t2_limit,
        "batch_spe": s.batch_spe,
        "batch_spe_limit": s.batch_spe_limit,
        "batch_alarm": s.batch_alarm,
        "quality": s.quality,
    }


ROW_HEADER = ["batch", "time_h", "progress", "t2", "t2_limit", "spe", "spe_limit", "alarm", "top"]


def _rows(s: BatchScores, k: int, *, as_json: bool = False) -> list[list[Any]]:
    return [
        [
            s.batch,
            float(s.time[i]),
            float(s.progress[i]),
            float(s.t2[i]),
            float(s.t2_limit[i]),
            float(s.spe[i]),
            float(s.spe_limit[i]),
            bool(s.alarm[i]),
            _top_json(s, i, k) if as_json else _top(s, i, k),
        ]
        for i in range(s.time.size)
    ]


@app.command()
def score(
    model_json: Annotated[Path, typer.Argument(help="Model file from batchmon fit.")],
    batches_csv: Annotated[Path, typer.Argument(help="Batches to score (CSV).")],
    batch_col: BatchCol,
    time_col: TimeCol,
    running: Annotated[
        list[str] | None,
        typer.Option(
            "--running",
            help="Batch id to score as running (repeat); default: decided by its alignment.",
        ),
    ] = None,
    complete: Annotated[
        list[str] | None, typer.Option("--complete", help="Batch id to score as complete.")
    ] = None,
    top: Annotated[int, typer.Option("--top", help="Contributing variables per row.")] = 3,
    time_unit: TimeUnit = "h",
    as_csv: Annotated[bool, typer.Option("--csv", help="One CSV row per sample.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Batches and rows as JSON.")] = False,
) -> None:
    """Score every row of every batch: T2, SPE, limits, alarms, contributing variables."""
    from phactory.errors import InvalidError
    from phactory.monitor.batch import BatchModel
    from phactory.monitor.modelfile import load_model

    if as_csv and as_json:
        raise InvalidError("choose one of --csv and --json")
    model: BatchModel = load_model(model_json, expect=BatchModel)
    _, batches = _read(batches_csv, batch_col, time_col, time_unit, min_rows=1)
    forced = {b: False for b in column_names(running)} | {b: True for b in column_names(complete)}
    unknown = sorted(set(forced) - {b.id for b in batches})
    if unknown:
        raise InvalidError(f"{batches_csv}: no batch {', '.join(map(repr, unknown))}")
    scored = [model.score(b, complete=forced.get(b.id)) for b in batches]
    if as_csv:
        write_csv(ROW_HEADER, (r for s in scored for r in _rows(s, top)))
        return
    if as_json:
        rows = [
            dict(zip(ROW_HEADER, r, strict=True))
            for s in scored
            for r in _rows(s, top, as_json=True)
        ]
        echo_json({"batches": [_batch_row(s) for s in scored], "rows": rows})
        return
    _print_batches([_batch_row(s) for s in scored], str(batches_csv))


def _print_batches(rows: list[dict[str, Any]], title: str) -> None:
    from rich.table import Table

    table = Table(title=f"{len(rows)} batches of {title}", title_justify="left")
    quality = list((rows[0]["quality"] or {}) if rows else {})
    header = ["batch", "status", "hours", "progress", "alarms", "first alarm [h]", "blamed"]
    for name in (*header, "batch T2, SPE / limit", *quality):
        table.add_column(name, overflow="fold", justify="left" if name == "batch" else "right")
    for r in rows:
        level = ""
        if r["batch_t2"] is not None:
            t2 = r["batch_t2"] / r["batch_t2_limit"]
            level = f"{t2:.2f}, {r['batch_spe'] / r['batch_spe_limit']:.2f}"
        blamed = ", ".join(t["variable"] for t in r["first_alarm_top"][:2])
        q = r["quality"] or {}
        table.add_row(
            r["batch"],
            r["status"] + (" ALARM" if r["batch_alarm"] else ""),
            number(r["hours"]),
            f"{r['progress']:.0%}",
            str(r["alarms"]),
            number(r["first_alarm_h"]),
            blamed,
            level,
            *(number(q.get(name)) for name in quality),
        )
    print_table(table)


@app.command()
def example(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the files to.")],
    seed: Annotated[int, typer.Option("--seed", help="Seed of the generated data.")] = 0,
    batches: Annotated[int, typer.Option("--batches", help="Good training batches.")] = 30,
    interval: Annotated[float, typer.Option("--interval", help="Sampling interval [h].")] = 0.5,
) -> None:
    """Write generated fed-batch CHO data with known faults to try batchmon on.

    train.csv (good batches with their final quality), test.csv (good, faulty and one
    running batch), test_quality.csv and faults.json (the ground truth).
    """
    import json

    from phactory.errors import InvalidError
    from phactory.monitor.datasets.batches import FAULT_KINDS, QUALITY, fed_batch_runs

    if batches < 5:
        raise InvalidError("--batches must be at least 5")
    out.mkdir(parents=True, exist_ok=True)
    train = fed_batch_runs(batches, seed=seed, interval_h=interval)
    test = fed_batch_runs(
        4, faults=FAULT_KINDS, n_running=1, seed=seed + 1, interval_h=interval, prefix="T"
    )
    train.write_csv(out / "train.csv")
    test.write_csv(out / "test.csv", with_quality=False)
    test.write_quality_csv(out / "test_quality.csv")
    truth = {
        "faults": [f.to_dict() for f in test.faults],
        "running": list(test.running),
        "good": [b.id for b in test.batches[:4]],
        "quality": QUALITY,
    }
    (out / "faults.json").write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    say(
        f"wrote {out}/train.csv ({batches} good batches), test.csv (4 good, "
        f"{len(test.faults)} faulty, 1 running), test_quality.csv, faults.json\n"
        f"try: phactory batchmon fit {out}/train.csv --batch-col batch --time-col time_h "
        f"--quality final_titer,aggregates --align maturity:ivcd --out {out}/model.json\n"
        f"     phactory batchmon score {out}/model.json {out}/test.csv --batch-col batch "
        f"--time-col time_h"
    )
