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

from __future__ import annotations

from typing import TYPE_CHECKING

from phactory.lazy import exports

if TYPE_CHECKING:
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
    from phactory.batch.drivers import (
        DriverFactory,
        PhaseDriver,
        PhaseProgress,
        Sample,
        SimulatedUnit,
    )
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

#: Where each public name lives: importing the package is cheap (the engine, SQLAlchemy
#: and the records load only when used), so that light users of
#: :mod:`phactory.batch.states` (the controllers) do not pay for the engine (PEP 562).
_HOME: dict[str, str] = {
    "AllocationError": "phactory.batch.control_recipe",
    "BoundParameter": "phactory.batch.control_recipe",
    "ControlOperation": "phactory.batch.control_recipe",
    "ControlPhase": "phactory.batch.control_recipe",
    "ControlRecipe": "phactory.batch.control_recipe",
    "ControlUnitProcedure": "phactory.batch.control_recipe",
    "MaterialRequirement": "phactory.batch.control_recipe",
    "allocate_at_start": "phactory.batch.control_recipe",
    "allocate_units": "phactory.batch.control_recipe",
    "build_control_recipe": "phactory.batch.control_recipe",
    "phase_kind": "phactory.batch.control_recipe",
    "DriverFactory": "phactory.batch.drivers",
    "PhaseDriver": "phactory.batch.drivers",
    "PhaseProgress": "phactory.batch.drivers",
    "Sample": "phactory.batch.drivers",
    "SimulatedUnit": "phactory.batch.drivers",
    "BatchBusy": "phactory.batch.engine",
    "BatchEngine": "phactory.batch.engine",
    "BatchStatus": "phactory.batch.engine",
    "DataEntry": "phactory.batch.instructions",
    "EquipmentCheck": "phactory.batch.instructions",
    "InstructionStatus": "phactory.batch.instructions",
    "MaterialScan": "phactory.batch.instructions",
    "WorkInstruction": "phactory.batch.instructions",
    "evaluate": "phactory.batch.instructions",
    "work_instruction": "phactory.batch.instructions",
    "SimulatedOperator": "phactory.batch.operator",
    "COMPLETIONS": "phactory.batch.states",
    "TRANSITIONS": "phactory.batch.states",
    "Command": "phactory.batch.states",
    "InvalidCommand": "phactory.batch.states",
    "State": "phactory.batch.states",
    "complete": "phactory.batch.states",
    "next_state": "phactory.batch.states",
    "TIME_SCALE_ENV": "phactory.batch.time_scale",
    "TimeScaleError": "phactory.batch.time_scale",
    "check_time_scale": "phactory.batch.time_scale",
    "describe_time_scale": "phactory.batch.time_scale",
    "parse_time_scale": "phactory.batch.time_scale",
    "time_scale_from_env": "phactory.batch.time_scale",
}


__getattr__, __dir__ = exports(__name__, _HOME)

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
