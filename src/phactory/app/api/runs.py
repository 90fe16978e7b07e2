"""``/runs``: start simulations and scheduling runs, follow them, read their results."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from fastapi.responses import StreamingResponse

from phactory.app.api import public
from phactory.app.api.deps import Ctx, User
from phactory.app.api.errors import ERROR_RESPONSES, UNAVAILABLE_RESPONSES
from phactory.app.schemas import (
    CompareRow,
    ComparisonPublic,
    KpiValue,
    RunCreate,
    RunKind,
    RunPublic,
    RunResultsPublic,
    RunStatusName,
)
from phactory.app.services.workspace import Results

router = APIRouter(prefix="/runs", tags=["runs"], responses=ERROR_RESPONSES)


@router.get("", response_model=list[RunPublic], summary="List runs, newest first")
def list_runs(
    ctx: Ctx,
    user: User,
    site_id: str | None = None,
    scenario_id: uuid.UUID | None = None,
    kind: RunKind | None = None,
    status: RunStatusName | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[RunPublic]:
    runs = ctx.workspace.list_runs(
        site_id=site_id, scenario_id=scenario_id, kind=kind, status=status, limit=limit
    )
    return [public.run(r) for r in runs]


@router.post(
    "",
    response_model=RunPublic,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Start a simulation or scheduling run (a background job)",
    responses=UNAVAILABLE_RESPONSES,
)
def start_run(ctx: Ctx, user: User, body: RunCreate) -> RunPublic:
    return public.run(ctx.workspace.start_run(user, body))


@router.get(
    "/compare",
    response_model=ComparisonPublic,
    summary="Compare the KPIs of two finished simulation runs: B - A with a 95 % CI, paired "
    "over shared seeds (else Welch)",
)
def compare_runs(ctx: Ctx, user: User, a: uuid.UUID, b: uuid.UUID) -> ComparisonPublic:
    found = ctx.workspace.compare(a, b)
    c = found.comparison
    rows = []
    for r in c.rows:
        est_a, est_b = found.estimates(r.kpi)
        rows.append(
            CompareRow(
                kpi=r.kpi,
                unit=r.unit,
                a=KpiValue.model_validate(est_a.model_dump()),
                b=KpiValue.model_validate(est_b.model_dump()),
                diff=r.diff,
                diff_ci_low=r.ci_low,
                diff_ci_high=r.ci_high,
                p_value=r.p_value,
                significant=r.significant,
                n_a=r.n_a,
                n_b=r.n_b,
            )
        )
    return ComparisonPublic(
        run_a=a,
        run_b=b,
        test=c.test,
        method=c.method,
        shared_seeds=c.shared_seeds,
        confidence=c.confidence,
        ci=c.covers,
        rows=rows,
    )


@router.get("/{run_id}", response_model=RunPublic, summary="A run: status and progress")
def get_run(ctx: Ctx, user: User, run_id: uuid.UUID) -> RunPublic:
    return public.run(ctx.workspace.get_run(run_id))


@router.post("/{run_id}/cancel", response_model=RunPublic, summary="Cancel a queued or running run")
def cancel_run(ctx: Ctx, user: User, run_id: uuid.UUID) -> RunPublic:
    return public.run(ctx.workspace.cancel_run(user, run_id))


@router.get(
    "/{run_id}/results",
    response_model=RunResultsPublic,
    summary="Results of a finished run (KPI summary with CIs, or the schedule's summary)",
)
def get_results(ctx: Ctx, user: User, run_id: uuid.UUID) -> Results:
    return ctx.workspace.results(run_id)


@router.get(
    "/{run_id}/kpis",
    response_model=dict[str, KpiValue],
    summary="Site KPIs of a finished simulation: mean and 95 % CI",
)
def get_kpis(ctx: Ctx, user: User, run_id: uuid.UUID) -> dict[str, KpiValue]:
    return {
        k: KpiValue.model_validate(v.model_dump()) for k, v in ctx.workspace.kpis(run_id).items()
    }


@router.get(
    "/{run_id}/schedule",
    response_model=dict[str, Any],
    summary="Operations of a finished scheduling run",
)
def get_schedule(ctx: Ctx, user: User, run_id: uuid.UUID) -> dict[str, Any]:
    from phactory.app.errors import Missing

    ctx.workspace.results(run_id)
    found = ctx.workspace.artifact(run_id, "schedule")
    if found is None:
        raise Missing(f"run {run_id} has no schedule")
    return found


@router.get(
    "/{run_id}/events.csv",
    summary="The run's event log (replication 1) as CSV",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "CSV"}},
)
def get_events_csv(ctx: Ctx, user: User, run_id: uuid.UUID) -> StreamingResponse:
    chunks = ctx.workspace.events_csv(run_id)
    return StreamingResponse(
        chunks,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="run-{run_id}-events.csv"'},
    )
