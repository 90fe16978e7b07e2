"""Request and response bodies of ``/api/v1/controllers``, in the style of
:mod:`phactory.app.schemas`.

What a client sends (``...Create``, ``...Update``) is bounded and strict (unknown fields
refused, numbers finite); what it gets back (``...Public``) is read from the typed results
of :class:`phactory.app.services.controllers.ControllerService` (``from_attributes``).
A password is write-only: sent to connect, never answered nor echoed in an error.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from phactory.app.services.controllers import MAX_SPEED, PATH_MAX
from phactory.app.services.remote_controllers import ENDPOINT_MAX, ENDPOINT_PATTERN, USER_MAX
from phactory.credentials import MAX_PASSWORD_LENGTH
from phactory.model.ids import ID_MAX, ID_PATTERN

__all__ = [
    "ConnectCreate",
    "ControllersPublic",
    "PhaseCommandCreate",
    "PhasePublic",
    "SetPointUpdate",
    "StartCreate",
    "TagValuePublic",
    "TaskPublic",
    "UnitPublic",
]

_STRICT = ConfigDict(extra="forbid")
_READ = ConfigDict(from_attributes=True)

CommandName = Literal["Start", "Pause", "Resume", "Hold", "Restart", "Stop", "Abort", "Reset"]
PathText = Annotated[str, Field(min_length=1, max_length=PATH_MAX)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
#: A tag value: a number, a truth value or text; ``null`` for a number not set.
TagValueType = bool | int | Finite | Annotated[str, Field(max_length=PATH_MAX)]


class StartCreate(BaseModel):
    """Start the controllers of a stored site in real time, ``speed`` times faster."""

    model_config = _STRICT

    site: str = Field(pattern=ID_PATTERN, max_length=ID_MAX, description="a stored site's id")
    speed: float = Field(
        default=1.0, gt=0, le=MAX_SPEED, allow_inf_nan=False, description="× real time"
    )


class ConnectCreate(BaseModel):
    """Connect to controllers served elsewhere over OPC UA (``phactory control run``)."""

    model_config = _STRICT

    endpoint: str = Field(
        min_length=1,
        max_length=ENDPOINT_MAX,
        pattern=ENDPOINT_PATTERN,
        description="opc.tcp://host[:port][/path], e.g. opc.tcp://127.0.0.1:4840/phactory/",
    )
    user: str | None = Field(
        default=None,
        min_length=1,
        max_length=USER_MAX,
        description="an account of that server (its role decides what may be done there); "
        "none: anonymous, on an insecure server only",
    )
    password: SecretStr | None = Field(
        default=None, max_length=MAX_PASSWORD_LENGTH, description="never answered back"
    )
    insecure: bool = Field(
        default=False, description="no security, for a server started with --insecure"
    )


class PhaseCommandCreate(BaseModel):
    """An ISA-88 command to an equipment phase (Start may carry parameter values)."""

    model_config = _STRICT

    unit: PathText = Field(description="the unit's ISA-95 path (area/cell/unit) or its id")
    phase: PathText
    command: CommandName
    parameters: dict[Annotated[str, Field(max_length=100)], Finite] = Field(
        default_factory=dict, max_length=50, description="Start parameters, in their units"
    )


class SetPointUpdate(BaseModel):
    """A new value of a set-point tag."""

    model_config = _STRICT

    path: PathText = Field(description="the tag's ISA-95 path, area/cell/unit[/module]/name")
    value: TagValueType


class PhasePublic(BaseModel):
    """An equipment phase: ISA-88 state, the commands it accepts now, its reports."""

    model_config = _READ

    name: str
    state: str
    commands: list[str]
    reports: dict[str, float | None] = Field(description="values at its last end")


class TaskPublic(BaseModel):
    """Scan statistics of a controller task [ms]: scan times in real time, start jitter
    (99th percentile) on the plant clock."""

    model_config = _READ

    task: str
    unit: str
    period_ms: float
    scans: int
    overruns: int
    min_ms: float
    mean_ms: float
    max_ms: float
    jitter_p99_ms: float


class UnitPublic(BaseModel):
    """A unit's controller."""

    model_config = _READ

    path: str = Field(description="ISA-95 path, area/cell/unit")
    id: str
    packml_state: int = Field(description="PackML state number (OPC 30050)")
    packml_name: str
    equipment_state: str | None = Field(description="ISO 22400 state, where known")
    fault: str | None = Field(description="why the controller went to its safe state")
    phases: list[PhasePublic]
    tasks: list[TaskPublic]


class ControllersPublic(BaseModel):
    """The controllers run in this server or connected to (``site`` null: none)."""

    model_config = _READ

    site: str | None
    site_version: int | None
    running: bool = Field(description="whether phases can be commanded now")
    speed: float | None = Field(description="× real time")
    plant_time_s: float | None = Field(description="plant time [s] since the plant was built")
    started_by: str | None = Field(description="who started or connected them")
    started_at: datetime | None
    units: list[UnitPublic] = Field(description="as last read, while disconnected")
    location: Literal["local", "remote"] | None = Field(
        description="local: run in this server; remote: reached over OPC UA at endpoint"
    )
    endpoint: str | None = Field(description="the OPC UA endpoint of remote controllers")
    user: str | None = Field(description="the account logged in there")
    connected: bool | None = Field(description="whether the connection holds (remote only)")
    error: str | None = Field(description="why the connection does not hold")


class TagValuePublic(BaseModel):
    """A tag and its current value (``null``: a number not set)."""

    model_config = _READ

    path: str
    name: str = Field(description="the path below the unit")
    value: bool | int | float | str | None
    data_type: str = Field(description="IEC 61131-3 type")
    unit: str = Field(description="engineering unit")
    low: float | None
    high: float | None
    access: Literal["read", "setpoint"]
    description: str
