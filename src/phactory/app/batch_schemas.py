"""Request and response bodies of the batch-record API (``/api/v1/batches``, ``/lots``,
``/records``), in the style of :mod:`phactory.app.schemas`.

Separate classes for what a client sends (``...Create``, ``...Update`` and signing
bodies) and what it gets back (``...Public``). Ids are checked against the one id pattern
(:data:`phactory.model.ids.ID_PATTERN`) where they enter; free text is bounded; numbers
must be finite. Passwords are :class:`~pydantic.SecretStr`: they never appear in a
validation error or a log line.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from phactory.credentials import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from phactory.model.ids import BATCH_ID_MAX, ID_MAX, ID_PATTERN
from phactory.records.inputs import LABEL_MAX, NAME_MAX, TEXT_MAX

__all__ = [
    "AuditReportPublic",
    "BatchCreate",
    "BatchDetail",
    "BatchPublic",
    "CheckCreate",
    "CheckPublic",
    "CommandCreate",
    "CommandPublic",
    "CommentCreate",
    "CorrectionCreate",
    "DeviationAdvance",
    "DeviationCreate",
    "DeviationPublic",
    "DispositionPublic",
    "EntryCreate",
    "LotCreate",
    "LotDisposition",
    "LotPublic",
    "PasswordReset",
    "RecordsSessionCreate",
    "RecordsSessionPublic",
    "RecordsUserPublic",
    "RejectCreate",
    "ReleaseCreate",
    "ReviewCreate",
    "ReviewItemPublic",
    "ReviewPublic",
    "ScanCreate",
    "SignaturePublic",
    "SimulateCreate",
    "StepPublic",
    "StepSignatureCreate",
    "Unlock",
    "WorkInstructionPublic",
]

_STRICT = ConfigDict(extra="forbid")

#: An id of a site object or a record (letters, digits, ``_ . -``).
IdText = Annotated[str, Field(min_length=1, max_length=ID_MAX, pattern=ID_PATTERN)]
#: A batch id (an order id with its suffix, or one chosen by a supervisor).
BatchIdText = Annotated[str, Field(min_length=1, max_length=BATCH_ID_MAX, pattern=ID_PATTERN)]
#: A step of a batch: ``unit_procedure/operation/phase``.
StepText = Annotated[
    str,
    Field(
        min_length=5,
        max_length=3 * ID_MAX + 2,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*/[A-Za-z0-9][A-Za-z0-9_.\-]*/[A-Za-z0-9][A-Za-z0-9_.\-]*$",
        description="unit_procedure/operation/phase",
        examples=["mix/main/fill"],
    ),
]
#: Free text kept in the record (a reason, note, comment or description).
Text = Annotated[str, Field(max_length=TEXT_MAX)]
NeededText = Annotated[str, Field(min_length=1, max_length=TEXT_MAX)]
Password = Annotated[SecretStr, Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)]
#: A new password: the shared policy's length (:class:`phactory.credentials.PasswordPolicy`
#: checks the rest).
NewPassword = Annotated[
    SecretStr, Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)
]
Number = Annotated[float, Field(allow_inf_nan=False)]
CommandName = Literal["Start", "Pause", "Resume", "Hold", "Restart", "Stop", "Abort", "Reset"]


class Signing(BaseModel):
    """The two components of an electronic signature (21 CFR 11.200(a)(1)).

    ``user_id`` is the person identified in ``X-Records-Session`` or, for a second person
    signing at the same workstation (a verifier), that person's id.
    """

    model_config = _STRICT

    user_id: IdText
    password: Password


# -- who acts ----------------------------------------------------------------------------


class RecordsSessionCreate(BaseModel):
    """Identify a person of the batch record: user id and password.

    After an administrator set a new password, the person chooses their own first: send
    it in ``new_password`` (the record then asks for it from now on).
    """

    model_config = _STRICT

    user_id: IdText
    password: Password
    new_password: NewPassword | None = None


class RecordsSessionPublic(BaseModel):
    """The person identified, and the secret to send in ``X-Records-Session``."""

    session: str = Field(description="send it in the X-Records-Session header")
    user_id: str
    full_name: str
    role: str
    idle_timeout_s: float


class RecordsUserPublic(BaseModel):
    """A batch-record account (never its password)."""

    user_id: str
    full_name: str
    role: str
    skills: list[str]
    active: bool
    locked: bool
    failed_attempts: int


class Unlock(BaseModel):
    """Unlock a locked batch-record account, with the reason (audited)."""

    model_config = _STRICT

    reason: NeededText


class PasswordReset(BaseModel):
    """A new password for a batch-record account, with the reason (audited)."""

    model_config = _STRICT

    new_password: NewPassword
    reason: NeededText


# -- batches -----------------------------------------------------------------------------


class BatchCreate(BaseModel):
    """A new batch from a master recipe of a site (a supervisor), started at once by default."""

    model_config = _STRICT

    site_id: IdText
    recipe_id: IdText | None = Field(default=None, description="default: the order's product")
    order_id: IdText | None = Field(default=None, description="an order of the site's plan")
    batch_id: BatchIdText | None = Field(default=None, description="default: automatic")
    batch_size: Number | None = Field(default=None, gt=0, description="in the recipe's unit")
    parameters: dict[IdText, Number] = Field(
        default_factory=dict, description="setpoints within their limits", max_length=200
    )
    seed: int = Field(default=0, ge=0, le=2**53 - 1)
    time_scale: Annotated[str, Field(max_length=20)] | None = Field(
        default=None,
        description="recipe time per wall-clock time of the simulated units: 1 real time "
        "(default of the server: PHACTORY_BATCH_TIME_SCALE), 600 ten recipe minutes per "
        "second, inf instant phases",
        examples=["600"],
    )
    start: bool = Field(default=True, description="give the Start command at once")
    reason: Text = ""


class BatchPublic(BaseModel):
    """A batch: what it makes, its ISA-88 state and its disposition."""

    batch_id: str
    site_id: str
    recipe_id: str
    recipe_version: str
    product: str
    order_id: str | None
    patient: str | None
    state: str
    disposition: str = Field(description="in_progress, reviewed, released or rejected")
    created_at: datetime
    created_by: str
    ended_at: datetime | None


class StepPublic(BaseModel):
    """A step (phase) of a batch."""

    step: str
    position: int
    kind: str
    unit: str
    state: str
    elapsed_h: float
    started_at: datetime | None
    ended_at: datetime | None
    blocked_by: str | None


class BatchDetail(BatchPublic):
    """A batch with its steps and what it waits for."""

    steps: list[StepPublic]
    current_step: str | None
    waiting_for: str | None
    hold_reason: str | None
    running: bool = Field(description="a runner of this server is working on it")
    run_error: str | None
    time_scale: str = Field(description="of its simulated units in this server")
    disposition_text: str = Field(description="the disposition as it truly stands")


class CommandCreate(BaseModel):
    """An ISA-88 command; Hold, Stop and Abort need a reason."""

    model_config = _STRICT

    command: CommandName
    reason: Text = ""


class CommandPublic(BaseModel):
    """The batch's state after a command."""

    batch_id: str
    state: str


class SimulateCreate(BaseModel):
    """Let simulated operators do the manual phases (demonstrations, commissioning).

    The person identified performs, signing with ``password``; ``verifier`` signs the
    critical steps as the second person.
    """

    model_config = _STRICT

    password: Password
    verifier: Signing | None = None


# -- work instructions --------------------------------------------------------------------


class EntryPublic(BaseModel):
    """A value to enter on a manual step, and its latest value."""

    item: str
    label: str
    unit: str
    low: float | None
    high: float | None
    setpoint: float | None
    critical: bool
    value: Any = None


class ScanPublic(BaseModel):
    """A material to scan and charge, and how much is charged."""

    material: str
    quantity: float
    unit: str
    charged: float


class WorkInstructionPublic(BaseModel):
    """The work instruction of a manual step and where it stands."""

    step: str
    title: str
    text: list[str]
    check_unit: str
    check_text: str
    check_passed: bool | None
    entries: list[EntryPublic]
    scans: list[ScanPublic]
    skills: list[str]
    needs_verifier: bool
    performer: str | None
    verifier: str | None
    missing: list[str]


class CheckCreate(BaseModel):
    """The equipment check of a manual step: the unit scanned, clean and ready."""

    model_config = _STRICT

    step: StepText
    unit: IdText
    clean: bool
    note: Text = ""


class CheckPublic(BaseModel):
    """Whether the check passed (a failed one is recorded and raises a deviation)."""

    passed: bool


class ScanCreate(BaseModel):
    """A lot scanned for a manual step; ``patient`` as read on the label (autologous)."""

    model_config = _STRICT

    step: StepText
    lot_id: IdText
    patient: IdText | None = None
    quantity: Number | None = Field(default=None, gt=0)


class EntryCreate(BaseModel):
    """A value entered on a manual step; entering it again needs a reason."""

    model_config = _STRICT

    step: StepText
    item: IdText
    value: Number
    reason: Text = ""


class StepSignatureCreate(Signing):
    """Sign a step *performed* or *verified* (or sign it again after a correction)."""

    step: StepText
    meaning: Literal["performed", "verified"]


class SignaturePublic(BaseModel):
    """A signature with its manifestation and whether it holds now."""

    id: int
    record_type: str
    record_id: str
    user_id: str
    printed_name: str
    meaning: str
    signed_at: str
    valid: bool
    status: str
    notice: str | None
    manifestation: str


# -- deviations, comments, corrections ------------------------------------------------------


class DeviationCreate(BaseModel):
    """A deviation raised by hand on a batch (and a step)."""

    model_config = _STRICT

    description: NeededText
    step: StepText | None = None


class DeviationPublic(BaseModel):
    """A deviation and where it is in its workflow."""

    deviation_id: str
    batch_id: str | None
    step: str | None
    kind: str
    severity: str
    description: str
    status: str
    raised_at: datetime
    raised_by: str


class DeviationAdvance(Signing):
    """Move a deviation one step on (open → investigation → capa → closed), signed."""

    note: NeededText


class CommentCreate(BaseModel):
    """A comment on the batch record (listed for the review)."""

    model_config = _STRICT

    text: NeededText


class CorrectionCreate(BaseModel):
    """A correction of a value entered on a step, with the reason (an override)."""

    model_config = _STRICT

    step: StepText
    item: IdText
    new: Number
    reason: NeededText


# -- review and disposition -------------------------------------------------------------------


class ReviewCreate(Signing):
    """QA signs the review (meaning *reviewed*)."""

    note: Text = ""


class ReleaseCreate(Signing):
    """The Qualified Person releases the batch (meaning *released*)."""


class RejectCreate(Signing):
    """The Qualified Person rejects the batch, with the reason."""

    reason: NeededText


class ReviewItemPublic(BaseModel):
    """One exception for the reviewer."""

    category: str
    subject: str
    text: str
    at: str
    user_id: str


class DispositionPublic(BaseModel):
    """Where the batch record stands, and what blocks the review and the release."""

    status: str
    text: str = Field(description='e.g. "released, not reviewed by QA" if a signature broke')
    can_review: bool
    can_release: bool
    review_blockers: list[str]
    release_blockers: list[str]
    review: SignaturePublic | None
    release: SignaturePublic | None


class AuditReportPublic(BaseModel):
    """The check of the audit trail's hash chain."""

    ok: bool
    entries: int
    first_bad: int | None
    text: str


class ReviewPublic(BaseModel):
    """The batch record for QA: exceptions, signatures, the audit chain, the disposition."""

    batch: BatchPublic
    exceptions: list[ReviewItemPublic]
    exception_counts: dict[str, int]
    deviations: list[DeviationPublic]
    signatures: list[SignaturePublic]
    audit: AuditReportPublic
    disposition: DispositionPublic


# -- lots ---------------------------------------------------------------------------------------


class LotCreate(BaseModel):
    """A lot received into quarantine; its material must be one of the site's."""

    model_config = _STRICT

    site_id: IdText
    lot_id: IdText
    material: IdText
    quantity: Number = Field(gt=0)
    unit: Annotated[str, Field(max_length=30, pattern=r"^[A-Za-z0-9 /.*^_%\-]+$")] | None = Field(
        default=None, description="of the quantity; default the material's unit"
    )
    expiry: date | None = None
    shelf_life_d: Number | None = Field(default=None, gt=0, le=36500, description="from today")
    supplier: Annotated[str, Field(max_length=NAME_MAX)] | None = None
    supplier_lot: Annotated[str, Field(max_length=LABEL_MAX)] | None = None
    patient: IdText | None = Field(default=None, description="for a patient-specific lot")


class LotDisposition(Signing):
    """QA releases or rejects a lot, with the reason, signed."""

    reason: NeededText


class LotPublic(BaseModel):
    """A lot known to the record."""

    lot_id: str
    material: str
    quantity: float
    unit: str
    status: str
    expiry: str | None
    patient: str | None
    batch_id: str | None
    supplier: str | None
    supplier_lot: str | None
    received_at: datetime | None
    received_by: str | None
