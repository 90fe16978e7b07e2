"""The shipped phase logic: one Structured Text function block per kind of equipment phase.

Each :class:`PhaseLogic` names its ST function block (in ``data/<name>.st``, shipped as
package data), the equipment it needs in the virtual plant, its parameters (the block's
``P_*`` inputs, with the recipe parameter names each takes and the unit it expects) and
its reports (``R_*`` outputs). :func:`shipped_library` compiles every shipped file once
with :func:`phactory.control.st.compile_files`.

===========  =================  ===============================================  =======
logic        block              what it does                                     model
===========  =================  ===============================================  =======
temperature  PH_TEMPERATURE     heat / cool to a set point (ramp, PI on TCU)
hold         PH_HOLD            hold temperature (and pH) for a time
grow         PH_GROW            cell culture: temperature, pH and DO PI loops    CHO
charge       PH_CHARGE          fill to a volume (inlet pump and valve)
transfer     PH_TRANSFER        empty to the heel (outlet pump and valve)
agitate      PH_AGITATE         agitator at a speed for a time
cip          PH_CIP             pre-rinse, hot caustic wash, rinse to conductivity
sip          PH_SIP             steam to temperature, exposure time, F0
fill         PH_FILL            fill vials (count or time), checkweigher
freeze_dry   PH_FREEZE_DRY      freeze, evacuate, primary drying to Pirani end   lyo
timed        PH_TIMED           generic: completes after its duration
===========  =================  ===============================================  =======

The ISA-88 phase interface every block follows (ANSI/ISA-88.00.01-2010 §5.2.3, phase
logic; state codes of :data:`phactory.control.phases.machine.STATE_CODES`) is described in
:mod:`phactory.control.phases`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from phactory.control.st import Library

__all__ = [
    "INTERFACE_INPUTS",
    "LOGICS",
    "ParamSpec",
    "PhaseLogic",
    "ReportSpec",
    "data_dir",
    "logic",
    "shipped_library",
]

#: Inputs every phase block has, set by the phase state machine each scan.
INTERFACE_INPUTS: Final = ("STATE", "FIRST", "T_STATE", "T_RUN", "T_RUN_S", "DT", "DT_S")


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """A parameter input of a phase block.

    Attributes
    ----------
    input
        The block's input (``P_*``).
    unit
        Unit the block expects (``s`` for a ``TIME`` input, given in seconds).
    names
        Recipe parameter names it takes (normalised: lower case, ``_`` for ``-``).
    description
        What it is.
    duration
        Bound to the phase's duration (``duration_h``) when no recipe parameter is.
    needs
        Equipment features the unit needs when a recipe binds it.
    """

    input: str
    unit: str
    names: tuple[str, ...]
    description: str
    duration: bool = False
    needs: frozenset[str] = frozenset()

    @property
    def is_time(self) -> bool:
        """A ``TIME`` input (value in seconds, passed as nanoseconds)."""
        return self.unit == "s"


@dataclass(frozen=True, slots=True)
class ReportSpec:
    """A report output of a phase block.

    Attributes
    ----------
    output
        The block's output (``R_*``).
    name
        Report name when ``param`` is not bound (or has none).
    unit
        Unit of the output.
    param
        The ``P_*`` input whose recipe parameter names the report (the report is then in
        that parameter's unit, so it can be compared with its limits).
    suffix
        Appended to that name (``_min``, ``_max``).
    when
        Reported only when this ``P_*`` input is bound (a loop the phase runs) or, for a
        channel name, when the unit has that channel.
    """

    output: str
    name: str
    unit: str
    param: str = ""
    suffix: str = ""
    when: str = ""


@dataclass(frozen=True)
class PhaseLogic:
    """A kind of equipment phase (see the module docstring)."""

    name: str
    block: str
    description: str
    needs: frozenset[str] = frozenset()
    params: tuple[ParamSpec, ...] = ()
    reports: tuple[ReportSpec, ...] = ()
    model: str | None = None
    #: Open-loop logic: while Running it only waits for its duration, so simulated time
    #: may skip ahead to the end (:meth:`phactory.control.site.SitePlant.advance`).
    open_loop: bool = False
    #: The ISO 22400 state of a unit running it.
    activity: Literal["producing", "cleaning"] = "producing"
    #: Loops switched on when their parameter is bound: ``C_*`` input -> ``P_*`` input.
    loops: dict[str, str] = field(default_factory=dict)

    @property
    def source(self) -> str:
        """File name of its ST source in :func:`data_dir`."""
        return f"{self.name}.st"

    def param(self, input_name: str) -> ParamSpec:
        """The parameter spec of input ``input_name``."""
        for p in self.params:
            if p.input == input_name:
                return p
        raise KeyError(f"logic {self.name} has no parameter input {input_name}")


def _p(
    input_name: str,
    unit: str,
    names: str,
    description: str,
    *,
    duration: bool = False,
    needs: str = "",
) -> ParamSpec:
    return ParamSpec(
        input_name,
        unit,
        tuple(names.split()),
        description,
        duration=duration,
        needs=frozenset(needs.split()),
    )


_DURATION = _p("P_DURATION", "s", "duration", "duration of the phase", duration=True)
_TEMP_NAMES = "temperature temperature_setpoint target_temperature set_temperature"
_PH_NAMES = "ph ph_setpoint"


def _minmax(output: str, name: str, unit: str, param: str) -> tuple[ReportSpec, ...]:
    return (
        ReportSpec(output, name, unit, param, when=param),
        ReportSpec(f"{output}_MIN", f"{name}_min", unit, param, "_min", when=param),
        ReportSpec(f"{output}_MAX", f"{name}_max", unit, param, "_max", when=param),
    )


LOGICS: Final[dict[str, PhaseLogic]] = {
    lg.name: lg
    for lg in (
        PhaseLogic(
            "temperature",
            "PH_TEMPERATURE",
            "heat or cool the contents to a set point",
            needs=frozenset({"thermal"}),
            params=(
                _p("P_SP", "degC", _TEMP_NAMES, "target temperature"),
                _p("P_RAMP", "K/min", "ramp ramp_rate heating_rate cooling_rate", "ramp rate"),
                _p("P_BAND", "K", "band tolerance", "completion band"),
                _p("P_SETTLE", "s", "settle_time settling_time", "time in the band"),
            ),
            reports=(
                ReportSpec("R_TEMP", "temperature", "degC", "P_SP"),
                ReportSpec("R_RATE", "rate", "K/min", "P_RAMP"),
            ),
        ),
        PhaseLogic(
            "hold",
            "PH_HOLD",
            "hold temperature (and pH) for a time",
            params=(
                _p("P_DURATION", "s", "hold_time hold_duration duration time",
                   "time to hold", duration=True),
                _p("P_TEMP", "degC", _TEMP_NAMES, "temperature set point", needs="thermal"),
                _p("P_PH", "", _PH_NAMES, "pH set point", needs="ph_dosing"),
                _p("P_AGIT", "rpm", "agitation agitation_speed agitator_speed stirrer_speed",
                   "agitator speed", needs="agitation"),
                _p("P_BAND", "K", "band", "temperature band of the min/max record"),
            ),
            reports=(
                *_minmax("R_TEMP", "temperature", "degC", "P_TEMP"),
                *_minmax("R_PH", "pH", "", "P_PH"),
                ReportSpec("R_TIME_S", "time_s", "s"),
            ),
            loops={"C_T_LOOP": "P_TEMP", "C_PH_LOOP": "P_PH"},
        ),
        PhaseLogic(
            "grow",
            "PH_GROW",
            "cell culture under temperature, pH and dissolved-oxygen control",
            needs=frozenset({"tank", "thermal", "ph_dosing", "oxygen", "agitation"}),
            params=(
                _p("P_DURATION", "s", "duration culture_duration", "culture duration",
                   duration=True),
                _p("P_TEMP", "degC", f"{_TEMP_NAMES} culture_temperature", "temperature"),
                _p("P_SHIFT_TIME", "s", "shift_time temperature_shift_time",
                   "time of the temperature shift"),
                _p("P_SHIFT_TEMP", "degC", "shift_temperature", "temperature after the shift"),
                _p("P_PH", "", _PH_NAMES, "pH set point"),
                _p("P_DO", "%", "dissolved_oxygen do do_setpoint dissolved_oxygen_setpoint",
                   "dissolved oxygen set point"),
                _p("P_AGIT", "rpm", "agitation agitation_speed agitator_speed stirrer_speed",
                   "agitator speed"),
            ),
            reports=(
                *_minmax("R_TEMP", "temperature", "degC", "P_TEMP"),
                *_minmax("R_PH", "pH", "", "P_PH"),
                *_minmax("R_DO", "dissolved_oxygen", "%", "P_DO"),
                ReportSpec("R_VCD", "vcd", "1/nL", when="VCD"),
                ReportSpec("R_TITRE", "titre", "g/L", when="TITRE"),
                ReportSpec("R_TIME_S", "time_s", "s"),
            ),
            model="cho_fed_batch",
        ),
        PhaseLogic(
            "charge",
            "PH_CHARGE",
            "fill the vessel to a volume",
            needs=frozenset({"tank"}),
            params=(
                _p("P_VOLUME", "L", "volume charge_volume target_volume", "target volume"),
                _p("P_SPEED", "%", "pump_speed speed", "inlet pump speed"),
            ),
            reports=(
                ReportSpec("R_VOLUME", "volume", "L", "P_VOLUME"),
                ReportSpec("R_CHARGED", "charged_volume", "L"),
                ReportSpec("R_VALVE_FAULT", "valve_fault", ""),
            ),
        ),
        PhaseLogic(
            "transfer",
            "PH_TRANSFER",
            "empty the vessel through the outlet line",
            needs=frozenset({"tank"}),
            params=(
                _p("P_HEEL", "L", "heel heel_volume", "level at which the transfer ends"),
                _p("P_SPEED", "%", "pump_speed speed", "outlet pump speed"),
            ),
            reports=(
                ReportSpec("R_TRANSFERRED", "transferred_volume", "L"),
                ReportSpec("R_VOLUME", "volume_left", "L"),
                ReportSpec("R_VALVE_FAULT", "valve_fault", ""),
            ),
        ),
        PhaseLogic(
            "agitate",
            "PH_AGITATE",
            "run the agitator at a speed for a time",
            needs=frozenset({"agitation"}),
            params=(
                _DURATION,
                _p("P_SPEED", "rpm",
                   "speed agitation agitation_speed agitator_speed stirrer_speed",
                   "agitator speed"),
            ),
            reports=(
                ReportSpec("R_SPEED", "speed", "rpm", "P_SPEED"),
                ReportSpec("R_TIME_S", "time_s", "s"),
            ),
            open_loop=True,
        ),
        PhaseLogic(
            "cip",
            "PH_CIP",
            "clean in place: pre-rinse, hot caustic wash, final rinse",
            needs=frozenset({"cip"}),
            params=(
                _p("P_RINSE", "s", "rinse_time pre_rinse_time", "pre-rinse time"),
                _p("P_WASH", "s", "wash_time caustic_time contact_time", "caustic contact time"),
                _p("P_TEMP", "degC", f"{_TEMP_NAMES} wash_temperature", "wash temperature"),
                _p("P_COND_WASH", "mS/cm", "wash_conductivity conductivity",
                   "minimum wash conductivity"),
                _p("P_COND_RINSE", "mS/cm", "rinse_conductivity final_conductivity",
                   "final-rinse conductivity limit"),
            ),
            reports=(
                ReportSpec("R_WASH_TEMP_MIN", "temperature", "degC", "P_TEMP"),
                ReportSpec("R_WASH_COND_MIN", "wash_conductivity", "mS/cm", "P_COND_WASH"),
                ReportSpec("R_FINAL_COND", "final_conductivity", "mS/cm", "P_COND_RINSE"),
                ReportSpec("R_TIME_S", "time_s", "s"),
            ),
            activity="cleaning",
        ),
        PhaseLogic(
            "sip",
            "PH_SIP",
            "steam in place: heat-up, exposure, cool-down",
            needs=frozenset({"steam", "thermal"}),
            params=(
                _p("P_TEMP", "degC", f"{_TEMP_NAMES} sterilisation_temperature",
                   "sterilisation temperature"),
                _p("P_TIME", "s", "time exposure_time hold_time sterilisation_time",
                   "exposure time"),
            ),
            reports=(
                ReportSpec("R_TEMP_MIN", "temperature", "degC", "P_TEMP"),
                ReportSpec("R_F0", "f0", "min"),
                ReportSpec("R_TIME_S", "time_s", "s"),
            ),
            activity="cleaning",
        ),
        PhaseLogic(
            "fill",
            "PH_FILL",
            "fill vials",
            needs=frozenset({"fill"}),
            params=(
                _p("P_VOLUME", "mL", "fill_volume volume", "fill volume per vial"),
                _p("P_COUNT", "", "vials count quantity", "vials to fill"),
                _p("P_SPEED", "%", "line_speed speed", "line speed"),
                _DURATION,
            ),
            reports=(
                ReportSpec("R_VOLUME", "fill_volume", "mL", "P_VOLUME"),
                ReportSpec("R_COUNT", "vials", "", "P_COUNT"),
                ReportSpec("R_TIME_S", "time_s", "s"),
            ),
        ),
        PhaseLogic(
            "freeze_dry",
            "PH_FREEZE_DRY",
            "freeze, evacuate and dry to the end of primary drying",
            needs=frozenset({"chamber", "thermal"}),
            params=(
                _p("P_FREEZE", "degC", "freezing_temperature freeze_temperature",
                   "freezing shelf temperature"),
                _p("P_FREEZE_HOLD", "s", "freezing_time freeze_hold", "freezing hold"),
                _p("P_SHELF", "degC", "shelf_temperature", "primary-drying shelf temperature"),
                _p("P_RAMP", "K/min", "shelf_ramp_rate ramp ramp_rate", "shelf ramp"),
                _p("P_PCH", "mtorr", "chamber_pressure pressure", "chamber pressure"),
                _p("P_COLLAPSE", "degC", "collapse_temperature", "collapse temperature"),
            ),
            reports=(
                ReportSpec("R_TPROD_MAX", "max_product_temperature", "degC"),
                ReportSpec("R_MARGIN", "collapse_margin", "K"),
                ReportSpec("R_DRYING_S", "primary_drying_time_s", "s"),
                ReportSpec("R_PCH", "chamber_pressure", "mtorr", "P_PCH"),
                ReportSpec("R_TIME_S", "time_s", "s"),
            ),
            model="lyophilisation",
        ),
        PhaseLogic(
            "timed",
            "PH_TIMED",
            "generic phase: completes after its duration",
            params=(_DURATION,),
            reports=(ReportSpec("R_TIME_S", "time_s", "s"),),
            open_loop=True,
        ),
    )
}  # fmt: skip


def logic(name: str) -> PhaseLogic:
    """The shipped logic ``name``.

    Raises
    ------
    KeyError
        Naming the known logics.
    """
    try:
        return LOGICS[name]
    except KeyError:
        raise KeyError(f"unknown phase logic {name!r}; known: {', '.join(LOGICS)}") from None


def data_dir() -> Path:
    """The folder of the shipped ST sources (package data)."""
    return Path(str(resources.files("phactory.control.phases") / "data"))


_LOCK = threading.Lock()
_LIBRARY: list[Library] = []


def shipped_library() -> Library:
    """Every shipped phase block, compiled once per process (thread-safe)."""
    with _LOCK:
        if not _LIBRARY:
            from phactory.control.st import compile_files

            files = [data_dir() / lg.source for lg in LOGICS.values()]
            _LIBRARY.append(compile_files(files))
        return _LIBRARY[0]
