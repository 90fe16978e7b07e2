"""Request and response bodies of the REST API (pydantic).

Separate classes for what a client sends to create (``...Create``) or change
(``...Update``) something and for what it gets back (``...Public``), so that a field
can never be set through a response schema or leak through a request one.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from phactory.app.principal import Role
from phactory.credentials import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from phactory.model.ids import ID_MAX, ID_PATTERN
from phactory.study.results import RunResults

__all__ = [
    "ChangePublic",
    "CompareRow",
    "ComparisonPublic",
    "KpiValue",
    "LockPublic",
    "LoginRequest",
    "ProblemPublic",
    "RunCreate",
    "RunPublic",
    "RunResultsPublic",
    "ScenarioCreate",
    "ScenarioPublic",
    "SiteDetail",
    "SitePublic",
    "SiteVersionCreate",
    "TokenCreate",
    "TokenCreated",
    "TokenPublic",
    "UnlockPublic",
    "UserCreate",
    "UserCreated",
    "UserPublic",
    "UserUpdate",
    "ValidationReport",
]

_STRICT = ConfigDict(extra="forbid")

RunKind = Literal["simulate", "schedule"]
Dispatch = Literal["fifo", "edd", "priority"]
RunStatusName = Literal["queued", "running", "done", "failed", "cancelled"]
#: Largest seed: integers above 2**53 do not survive a trip through JSON numbers.
MAX_SEED = 2**53 - 1
#: Shortest horizon of a run [d] (one hour).
MIN_DAYS = 1 / 24


class ProblemPublic(BaseModel):
    """One fault of a site file, located."""

    severity: Literal["error", "warning"] = "error"
    file: str | None = None
    line: int | None = None
    col: int | None = None
    path: str = Field(description="field path, e.g. teams.dsp.headcount")
    message: str


class ValidationReport(BaseModel):
    """Outcome of validating a site file."""

    valid: bool
    site_id: str | None = None
    problems: list[ProblemPublic] = []


# -- sites ----------------------------------------------------------------------------


class SitePublic(BaseModel):
    """The latest (or a given) stored version of a site."""

    site_id: str
    version: int
    name: str
    content_hash: str
    created_at: datetime
    created_by: str


class SiteDetail(SitePublic):
    """A site version with its summary: units by class, recipes, teams, plan totals."""

    summary: dict[str, Any]
    versions: list[int]


class SiteVersionCreate(BaseModel):
    """A new version of a stored site: its latest (or ``base_version``) with overrides."""

    model_config = _STRICT

    overrides: dict[str, Any] = Field(
        min_length=1,
        description='{"dotted.path": value}, e.g. {"plan.orders.0.batches": 12}',
        examples=[{"teams.dsp.headcount": 5}],
    )
    base_version: int | None = Field(default=None, ge=1)
    note: str = Field(default="", max_length=2000)


# -- scenarios ------------------------------------------------------------------------


class RunSettingsBody(BaseModel):
    """Run settings of a scenario: horizon [d], replications and seed."""

    model_config = _STRICT

    days: float | None = Field(default=None, ge=MIN_DAYS, le=3650)
    replications: int = Field(default=2, ge=1, le=200)
    seed: int = Field(default=0, ge=0, le=MAX_SEED)


class ScenarioCreate(BaseModel):
    """A scenario: a base site version plus overrides and run settings."""

    model_config = _STRICT

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    site_id: str = Field(min_length=1, max_length=ID_MAX, pattern=ID_PATTERN)
    site_version: int | None = Field(default=None, ge=1, description="default: the latest")
    overrides: dict[str, Any] = Field(default_factory=dict, examples=[{"teams.dsp.headcount": 5}])
    run_settings: RunSettingsBody = Field(default_factory=RunSettingsBody)


class ScenarioPublic(BaseModel):
    """A stored scenario."""

    id: uuid.UUID
    name: str
    description: str
    site_id: str
    site_version: int
    overrides: dict[str, Any]
    run_settings: dict[str, Any]
    created_at: datetime
    created_by: str


# -- runs -----------------------------------------------------------------------------


class RunCreate(BaseModel):
    """Start a simulation or a scheduling run of a scenario or of a site version.

    Settings left out come from the scenario's run settings, then from the defaults.
    """

    model_config = _STRICT

    kind: RunKind = "simulate"
    scenario_id: uuid.UUID | None = None
    site_id: str | None = Field(default=None, min_length=1, max_length=ID_MAX, pattern=ID_PATTERN)
    site_version: int | None = Field(default=None, ge=1)
    name: str = Field(default="", max_length=200)
    days: float | None = Field(default=None, ge=MIN_DAYS, le=3650, description="horizon [d]")
    replications: int | None = Field(default=None, ge=1, le=200)
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)
    dispatch: Dispatch = "fifo"
    objective: str = Field(
        default="makespan",
        pattern=r"^(makespan|tardiness|changeovers|lex:[a-z]+(,[a-z]+){0,2})$",
        description="scheduling objective",
    )
    time_limit_s: float = Field(default=30.0, gt=0, le=3600, description="solver budget [s]")
    duration_quantile: float | None = Field(
        default=None,
        ge=0.5,
        le=0.99,
        description="plan phases at this quantile of their durations (e.g. 0.9 for a P90 "
        "plan that holds under variability) instead of their means",
    )

    @model_validator(mode="after")
    def _target(self) -> RunCreate:
        if self.scenario_id is None and self.site_id is None:
            raise ValueError("give a scenario_id or a site_id")
        return self


class RunPublic(BaseModel):
    """A run and where it is in its lifecycle (results are fetched separately)."""

    id: uuid.UUID
    kind: str
    status: RunStatusName
    progress: float = Field(ge=0, le=1)
    message: str = ""
    scenario_id: uuid.UUID | None
    site_id: str
    site_version: int
    params: dict[str, Any]
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    created_by: str


class KpiValue(BaseModel):
    """A KPI's mean over replications and the 95 % confidence interval of that mean."""

    mean: float | None
    ci_low: float | None
    ci_high: float | None


#: The results of a finished run (``GET /runs/{id}/results``), told apart by ``kind``:
#: a simulation's KPIs with CIs, per-unit KPIs and replications, or a schedule's summary.
RunResultsPublic = RunResults


class CompareRow(BaseModel):
    """One KPI of two runs side by side, with the difference B - A and its CI.

    ``diff`` and its interval are in the KPI's unit (``unit``; a fraction for ratios,
    which people read in percentage points); the interval covers what
    :attr:`ComparisonPublic.ci` says.
    """

    kpi: str
    unit: str = ""
    a: KpiValue
    b: KpiValue
    diff: float | None
    diff_ci_low: float | None
    diff_ci_high: float | None
    p_value: float | None
    significant: bool
    n_a: int = Field(default=0, description="replications of A the test used")
    n_b: int = Field(default=0, description="replications of B the test used")


class ComparisonPublic(BaseModel):
    """Two simulation runs compared KPI by KPI: a paired t-test over the seeds they share
    (common random numbers), or Welch's test when they share fewer than two."""

    run_a: uuid.UUID
    run_b: uuid.UUID
    test: Literal["paired", "welch"]
    method: str = Field(description='e.g. "paired t-test over 5 shared seeds"')
    shared_seeds: int
    confidence: float
    ci: str = Field(description="what each difference interval covers")
    rows: list[CompareRow]


# -- accounts -------------------------------------------------------------------------


class LoginRequest(BaseModel):
    """A name and password, exchanged for an API token."""

    model_config = _STRICT

    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)
    label: str = Field(default="", max_length=200)


class UserCreate(BaseModel):
    """A new account; a password is generated (and returned once) if none is given."""

    model_config = _STRICT

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@\-]*$")
    role: Role = "viewer"
    password: str | None = Field(
        default=None, min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH
    )


class UserUpdate(BaseModel):
    """Changes to an account; fields left out stay as they are."""

    model_config = _STRICT

    role: Role | None = None
    active: bool | None = None
    password: str | None = Field(
        default=None, min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH
    )
    current_password: str | None = Field(
        default=None,
        max_length=MAX_PASSWORD_LENGTH,
        description="needed to change your own password (not for an admin changing another's)",
    )


class UserPublic(BaseModel):
    """An account, without its password."""

    name: str
    role: Role
    active: bool
    created_at: datetime
    created_by: str
    updated_at: datetime | None
    must_change_password: bool = Field(
        default=False, description="the password was set for the account: change it first"
    )


class LockPublic(BaseModel):
    """An account locked for one client address after failed logins."""

    client: str
    failures: int
    remaining_s: float


class UnlockPublic(BaseModel):
    """The login locks of an account that an admin ended."""

    name: str
    ended: int = Field(description="(account, address) pairs that were locked or counting")


class UserCreated(UserPublic):
    """A new account and, if it was generated, its password (shown only now)."""

    password: str | None = None


class TokenCreate(BaseModel):
    """A new API token for a user (default: yourself)."""

    model_config = _STRICT

    user: str | None = Field(default=None, max_length=100)
    label: str = Field(default="", max_length=200)
    hours: float | None = Field(default=None, gt=0, le=24 * 3650, description="lifetime")


class TokenPublic(BaseModel):
    """An API token, without its secret."""

    id: uuid.UUID
    user_name: str
    label: str
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenPublic):
    """A new API token and its secret (shown only now): send ``Authorization: Bearer``."""

    token: str
    token_type: Literal["bearer"] = "bearer"


class ChangePublic(BaseModel):
    """One change-log entry."""

    id: int
    at: datetime
    actor: str
    action: str
    entity_kind: str
    entity_id: str
    summary: str
    detail: dict[str, Any]
