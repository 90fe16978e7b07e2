"""``phactory pdm reliability | update-twin``: failure behaviour from maintenance records.

A records CSV has one row per interval of operation: the unit, the operating hours since
the unit was last restored (or its hour meter with ``--cumulative``), the event that
ended it (a failure, or a censoring event: preventive maintenance, still running) and,
optionally, the repair time. ``reliability`` fits Weibull and exponential times to
failure with right censoring and the repair times; ``update-twin`` writes that fit into
a scenario of a site, for the plant twin (``phactory simulate --scenario FILE``).

Only Typer and Rich at top level; SciPy and the model are imported by the commands.
Refusals are printed in one line with exit code 2 (:class:`PhactoryGroup`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from phactory.cli.monitor_io import command_group
from phactory.cli.output import console, echo_json, number

if TYPE_CHECKING:
    from phactory.model.physical import Reliability
    from phactory.monitor.reliability import ReliabilityFit

app = command_group(
    "pdm", "Predictive maintenance: reliability from maintenance records, into the twin."
)

Records = Annotated[Path, typer.Argument(metavar="RECORDS.csv", help="Maintenance records.")]
UnitCol = Annotated[str, typer.Option("--unit-col", help="Column of the unit id.")]
TimeCol = Annotated[
    str, typer.Option("--time-col", help="Column of the operating hours to each event.")
]
EventCol = Annotated[str, typer.Option("--event-col", help="Column of the event.")]
FailureValue = Annotated[
    str,
    typer.Option("--failure-value", help="Event value of a failure; any other value censors."),
]
RepairCol = Annotated[
    str | None, typer.Option("--repair-col", help="Column of repair durations [h].")
]
Cumulative = Annotated[
    bool,
    typer.Option("--cumulative", help="--time-col is the unit's hour meter at each event."),
]
ModelOpt = Annotated[str, typer.Option("--model", help="auto (lower AIC), weibull or exponential.")]
Confidence = Annotated[
    float, typer.Option("--confidence", help="Level of the confidence intervals.")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def _fit(
    records: Path,
    unit_col: str,
    time_col: str,
    event_col: str,
    failure_value: str,
    repair_col: str | None,
    cumulative: bool,
    model: str,
    confidence: float,
) -> tuple[ReliabilityFit, dict[str, int]]:
    from phactory.monitor.reliability import fit_reliability, read_records

    rec = read_records(
        records,
        unit_col=unit_col,
        time_col=time_col,
        event_col=event_col,
        failure_value=failure_value,
        repair_col=repair_col,
        cumulative=cumulative,
    )
    fit = fit_reliability(
        rec.hours, rec.failed, rec.repair_h, model=model, confidence=confidence, where=rec.path
    )
    return fit, rec.events


def _ci(ci: tuple[float, float] | None) -> str:
    return "" if ci is None else f"{number(ci[0])} - {number(ci[1])}"


def _print_fit(fit: ReliabilityFit, events: dict[str, int]) -> None:
    shown = ", ".join(f"{escape(k)} {v}" for k, v in events.items())
    console.print(
        f"{fit.n_failures} failure(s), {fit.n_censored} censored interval(s), "
        f"{number(fit.total_hours)} operating hours (events: {shown})",
        highlight=False,
    )
    out = Table(title=f"Time to failure ({fit.confidence:.0%} confidence intervals)")
    for col in ("model", "MTBF [h]", "CI", "shape", "CI", "scale [h]", "AIC", ""):
        out.add_column(col, justify="left" if col in ("model", "") else "right")
    for f in (fit.weibull, fit.exponential):
        if f is None:
            continue
        out.add_row(
            f.model,
            number(f.mtbf_h),
            _ci(f.mtbf_ci),
            number(f.shape),
            _ci(f.shape_ci),
            number(f.scale_h),
            number(f.aic),
            "chosen" if f.model == fit.model else "",
        )
    console.print(out)
    if fit.lr_p_value is not None:
        console.print(
            f"likelihood-ratio test of shape = 1 (exponential): p = {fit.lr_p_value:.3g}; "
            f"{fit.model} chosen by {'AIC' if fit.chosen_by == 'aic' else 'request'}",
            highlight=False,
        )
    if fit.mttr_h is not None:
        extra = f" (sd {number(fit.mttr_sd_h)} h, CI {_ci(fit.mttr_ci)} h)" if fit.mttr_sd_h else ""
        console.print(
            f"MTTR {number(fit.mttr_h)} h from {fit.n_repairs} repair(s){extra}", highlight=False
        )


@app.command("reliability")
def reliability(
    records: Records,
    unit_col: UnitCol,
    time_col: TimeCol,
    event_col: EventCol,
    failure_value: FailureValue = "failure",
    repair_col: RepairCol = None,
    cumulative: Cumulative = False,
    model: ModelOpt = "auto",
    confidence: Confidence = 0.95,
    as_json: AsJson = False,
) -> None:
    """Fit Weibull and exponential times to failure (censored) and repair times."""
    fit, events = _fit(
        records,
        unit_col,
        time_col,
        event_col,
        failure_value,
        repair_col,
        cumulative,
        model,
        confidence,
    )
    if as_json:
        echo_json({"records": str(records), "events": events, **fit.to_dict()})
        return
    _print_fit(fit, events)


def _describe(rel: Reliability | None) -> dict[str, Any] | None:
    if rel is None:
        return None
    return {
        "mtbf_h": rel.mtbf,
        "model": rel.model,
        "shape": rel.shape,
        "mttr_h": rel.mttr.mean,
        "mttr": rel.mttr.model_dump(mode="json", by_alias=True),
    }


@app.command("update-twin")
def update_twin(
    site: Annotated[Path, typer.Argument(metavar="SITE", help="Site YAML file or folder.")],
    records: Records,
    equipment_class: Annotated[
        str, typer.Option("--class", help="Equipment class the records are of.")
    ],
    unit_col: UnitCol,
    time_col: TimeCol,
    event_col: EventCol,
    out: Annotated[Path, typer.Option("--out", help="Scenario YAML to write.")],
    failure_value: FailureValue = "failure",
    repair_col: RepairCol = None,
    cumulative: Cumulative = False,
    model: ModelOpt = "auto",
    confidence: Confidence = 0.95,
    as_json: AsJson = False,
) -> None:
    """Write a scenario of SITE with the fitted MTBF/MTTR of an equipment class."""
    from phactory.monitor.twin_update import write_twin_scenario

    fit, events = _fit(
        records,
        unit_col,
        time_col,
        event_col,
        failure_value,
        repair_col,
        cumulative,
        model,
        confidence,
    )
    update = write_twin_scenario(site, fit, equipment_class, out, source=records.name)
    before, after = _describe(update.before), _describe(update.after)
    if as_json:
        echo_json(
            {
                "scenario": str(update.path),
                "equipment_class": equipment_class,
                "before": before,
                "after": after,
                "warnings": list(update.warnings),
                "fit": fit.to_dict(),
            }
        )
        return
    _print_fit(fit, events)
    table = Table(title=f"Reliability of {escape(equipment_class)}")
    for col in ("", "model", "MTBF [h]", "shape", "MTTR [h]"):
        table.add_column(col, justify="left" if col in ("", "model") else "right")
    for label, d in (("site", before), ("scenario", after)):
        if d is None:
            table.add_row(label, "none", "", "", "")
        else:
            table.add_row(
                label, d["model"], number(d["mtbf_h"]), number(d["shape"]), number(d["mttr_h"])
            )
    console.print(table)
    for w in update.warnings:
        console.print(f"[yellow]warning:[/yellow] {escape(w)}")
    console.print(
        f"scenario written to {escape(str(update.path))}; run it with "
        f"`phactory simulate --scenario {escape(str(update.path))}`",
        highlight=False,
        soft_wrap=True,
    )
