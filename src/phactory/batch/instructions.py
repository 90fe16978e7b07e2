"""Electronic work instructions: what people do and record in a manual phase.

A manual phase (:func:`phactory.batch.control_recipe.phase_kind`) becomes a
:class:`WorkInstruction` with

* text telling what to do, on which unit;
* **data entries**, one per process parameter, with type, unit and limits; a value
  outside its limits is accepted, flagged and raises a deviation (EU GMP Annex 11 §5
  built-in checks for correct entry);
* **material scans**, one per input material: the lot must exist, be released, not be
  expired and be of the material the recipe asks for; for autologous products the
  patient on the lot and on the label must be the batch's (chain of identity);
* an **equipment check**: the unit is scanned (it must be the allocated unit) and
  confirmed clean and ready (21 CFR 11.10(h) device checks);
* **signatures**: the performer (meaning *performed*) and, on critical steps, a verifier
  who is not the performer (*verified*) (EU GMP Annex 11 §6; 21 CFR 211.101(d)).

The phase completes when every item is done and its signatures hold.
:func:`evaluate` derives the status from the step's audit entries and signatures, so it
is always what the record says. :class:`phactory.batch.operator.SimulatedOperator`
performs the instructions as people would, for demonstrations and tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from phactory.batch.control_recipe import ControlPhase, MaterialRequirement
from phactory.records import AuditEntry, Signature

__all__ = [
    "DataEntry",
    "EquipmentCheck",
    "InstructionStatus",
    "MaterialScan",
    "WorkInstruction",
    "evaluate",
    "work_instruction",
]


@dataclass(frozen=True, slots=True)
class DataEntry:
    """A value to enter: a number in ``unit``, expected within ``[low, high]``."""

    item: str
    label: str
    unit: str
    low: float | None
    high: float | None
    setpoint: float | None
    value_type: str = "number"
    critical: bool = False


@dataclass(frozen=True, slots=True)
class MaterialScan:
    """A material to scan and charge: ``quantity`` ``unit`` of ``material``."""

    material: str
    quantity: float
    unit: str


@dataclass(frozen=True, slots=True)
class EquipmentCheck:
    """Scan the unit and confirm it is clean and ready."""

    unit: str
    text: str


@dataclass(frozen=True, slots=True)
class WorkInstruction:
    """The work instruction of one manual phase."""

    step: str
    title: str
    text: tuple[str, ...]
    entries: tuple[DataEntry, ...]
    scans: tuple[MaterialScan, ...]
    check: EquipmentCheck
    outputs: tuple[MaterialRequirement, ...]
    skills: tuple[str, ...]
    needs_verifier: bool

    def entry(self, item: str) -> DataEntry:
        """One data entry by item name."""
        for e in self.entries:
            if e.item == item:
                return e
        raise KeyError(f"step {self.step} has no data entry {item!r}")


def work_instruction(phase: ControlPhase) -> WorkInstruction:
    """The work instruction of a manual phase."""
    text = [f"Perform '{phase.name or phase.phase}' on unit {phase.unit}."]
    for req in phase.inputs:
        text.append(f"Charge {req.quantity:g} {req.unit} of {req.material}: scan each lot.")
    for p in phase.parameters:
        limits = (
            f"[{'' if p.low is None else f'{p.low:g}'}, {'' if p.high is None else f'{p.high:g}'}]"
        )
        text.append(f"Record {p.name} in {p.unit or '-'} (limits {limits}).")
    for out in phase.outputs:
        text.append(f"Label the output: {out.quantity:g} {out.unit} of {out.material}.")
    if phase.critical:
        text.append("Critical step: a second person verifies.")
    return WorkInstruction(
        step=phase.path,
        title=phase.name or phase.phase,
        text=tuple(text),
        entries=tuple(
            DataEntry(
                item=p.name,
                label=p.name,
                unit=p.unit,
                low=p.low,
                high=p.high,
                setpoint=p.setpoint,
                critical=p.critical,
            )
            for p in phase.parameters
        ),
        scans=tuple(MaterialScan(r.material, r.quantity, r.unit) for r in phase.inputs),
        check=EquipmentCheck(
            phase.unit, f"Scan unit {phase.unit}; confirm it is clean, in date and labelled."
        ),
        outputs=phase.outputs,
        skills=phase.skills,
        needs_verifier=phase.critical,
    )


@dataclass
class InstructionStatus:
    """Where a work instruction stands, as the record says.

    Attributes
    ----------
    values
        Latest value of each data entry.
    charged
        Quantity charged per material (sum over scanned lots).
    check_passed
        Whether the latest equipment check passed (``None``: not done).
    performer, verifier
        Users whose *performed* / *verified* signatures hold.
    missing
        What is still to do, for people; empty when the phase can complete.
    """

    instruction: WorkInstruction
    values: dict[str, Any] = field(default_factory=dict)
    charged: dict[str, float] = field(default_factory=dict)
    check_passed: bool | None = None
    performer: str | None = None
    verifier: str | None = None
    missing: list[str] = field(default_factory=list)

    @property
    def work_done(self) -> bool:
        """Every entry, scan and check done (signatures aside)."""
        return not [m for m in self.missing if not m.startswith("signature")]

    @property
    def complete(self) -> bool:
        """Everything done and signed."""
        return not self.missing


def evaluate(
    instruction: WorkInstruction,
    entries: Sequence[AuditEntry],
    signatures: Sequence[Signature],
) -> InstructionStatus:
    """The status of a work instruction from the step's entries and signatures."""
    status = InstructionStatus(instruction)
    for e in entries:
        if e.kind in ("entry", "correction"):
            status.values[e.field] = e.new
        elif e.kind == "material.consumed":
            q = e.new.get("quantity", 0.0) if isinstance(e.new, dict) else 0.0
            status.charged[e.field] = status.charged.get(e.field, 0.0) + float(q)
        elif e.kind == "check" and e.field == "equipment":
            status.check_passed = bool(e.details.get("passed"))
    for sig in signatures:
        if not sig.valid:
            continue
        if sig.meaning == "performed":
            status.performer = sig.user_id
        elif sig.meaning == "verified":
            status.verifier = sig.user_id
    if status.verifier is not None and status.verifier == status.performer:
        status.verifier = None
    for entry in instruction.entries:
        if entry.item not in status.values:
            status.missing.append(f"entry {entry.item}")
    for scan in instruction.scans:
        if status.charged.get(scan.material, 0.0) < scan.quantity * (1 - 1e-9):
            status.missing.append(f"scan {scan.material}")
    if status.check_passed is not True:
        status.missing.append("equipment check")
    if status.performer is None:
        status.missing.append("signature performed")
    if instruction.needs_verifier and status.verifier is None:
        status.missing.append("signature verified")
    return status
