"""ISA-88 batch execution: control recipes, the state machine, phase drivers, work instructions.

>>> from phactory.batch import BatchEngine
>>> from phactory.records import RecordService
>>> records = RecordService("sqlite:///batches.db")               # doctest: +SKIP
>>> engine = BatchEngine(records, time_scale=600)                   # doctest: +SKIP
>>> batch = engine.lifecycle.create_batch(supervisor, site, "r1")   # doctest: +SKIP
>>> engine.lifecycle.command(supervisor, batch.batch_id, "Start")   # doctest: +SKIP
>>> engine.runner.run(batch.batch_id, operator=operator).state      # doctest: +SKIP
<State.COMPLETE: 'Complete'>
"""

from phactory.batch.control_recipe import (
    AllocationError,
    BoundParameter,
    ControlOperation,
    ControlPhase,
    ControlRecipe,
    ControlUnitProcedure,
    MaterialRequirement,
    allocate_at_start,
    allocate_units,
    build_control_recipe,
    phase_kind,
)
from phactory.batch.drivers import DriverFactory, PhaseDriver, PhaseProgress, Sample, SimulatedUnit
from phactory.batch.engine import BatchBusy, BatchEngine, BatchStatus
from phactory.batch.instructions import (
    DataEntry,
    EquipmentCheck,
    InstructionStatus,
    MaterialScan,
    WorkInstruction,
    evaluate,
    work_instruction,
)
from phactory.batch.operator import SimulatedOperator
from phactory.batch.states import (
    COMPLETIONS,
    TRANSITIONS,
    Command,
    InvalidCommand,
    State,
    complete,
    next_state,
)
from phactory.batch.time_scale import (
    TIME_SCALE_ENV,
    TimeScaleError,
    check_time_scale,
    describe_time_scale,
    parse_time_scale,
    time_scale_from_env,
)

__all__ = [
    "COMPLETIONS",
    "TIME_SCALE_ENV",
    "TRANSITIONS",
    "AllocationError",
    "BatchBusy",
    "BatchEngine",
    "BatchStatus",
    "BoundParameter",
    "Command",
    "ControlOperation",
    "ControlPhase",
    "ControlRecipe",
    "ControlUnitProcedure",
    "DataEntry",
    "DriverFactory",
    "EquipmentCheck",
    "InstructionStatus",
    "InvalidCommand",
    "MaterialRequirement",
    "MaterialScan",
    "PhaseDriver",
    "PhaseProgress",
    "Sample",
    "SimulatedOperator",
    "SimulatedUnit",
    "State",
    "TimeScaleError",
    "WorkInstruction",
    "allocate_at_start",
    "allocate_units",
    "build_control_recipe",
    "check_time_scale",
    "complete",
    "describe_time_scale",
    "evaluate",
    "next_state",
    "parse_time_scale",
    "phase_kind",
    "time_scale_from_env",
    "work_instruction",
]
