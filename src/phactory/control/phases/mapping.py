"""Which shipped logic runs a recipe phase: the mapping from recipe phase names.

A recipe phase names what it does (``incubate``, ``transcribe``, ``culture``); an equipment
phase of a unit carries it out (ANSI/ISA-88.00.01-2010 §5.2.3: the recipe phase is linked
to an equipment phase of the unit its unit procedure runs on). The equipment phase is
named after the recipe phase and runs the shipped logic chosen by the first rule below
that matches; a site may choose another logic or its own ST file per phase
(:mod:`phactory.model.control`).

Rules, in order (``*`` is any text; a recipe phase's ``process_model`` is matched first,
then the cleaning names of :data:`phactory.model.procedural.CIP_PHASES` and
``SIP_PHASES``: a phase named as cleaning is cleaning whatever else its name says, as the
live event log counts it, :func:`phactory.model.procedural.is_cleaning_phase`):

=========================================  ===========  ===================================
recipe phase                               logic        examples
=========================================  ===========  ===================================
process_model ``cho_fed_batch``            grow         (any)
process_model ``ivt``                      hold + IVT   transcribe (mRNA)
process_model ``lyophilisation``           freeze_dry   (any)
cip, clean*, *-sanitise, *-sanitize        cip          strip-sanitise (oligo-dT skid)
sip, steam*, sterilise*, sterilize*        sip
grow, culture, production, *-culture       grow + CHO   grow (seed trains), culture (mAb)
activate, transduce, expand*, expansion    grow         CAR-T activation and expansion
heat*, cool*, warm*, chill*, controlled-   temperature  controlled-rate-program (CAR-T,
rate-*, *-ramp                                          to -90 degC)
incubate, digest, hold, *-hold, react,     hold         incubate (linearisation), digest,
transcribe, inactivat*, low-ph*                         hold (low-pH viral inactivation)
charge, charge-*, transfer-in, fill-       charge
vessel
transfer, transfer-out, drain, harvest,    transfer
empty
agitate, mix, stir, dissolve*, make-*      agitate      dissolve-filter, make-buffers
fill, fill-vials, aseptic-fill             fill
freeze-dry*, lyophilis*, lyophiliz*,       freeze_dry
primary-drying
anything else                              timed        purify, load-wash-elute, inspect
=========================================  ===========  ===================================

Only *automatic* phases become equipment phases (:func:`phactory.batch.control_recipe.
phase_kind`): a manual phase is an electronic work instruction for people.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Final

from phactory.model.procedural import CIP_PHASES, SIP_PHASES

__all__ = ["RULES", "LogicChoice", "MappingRule", "choose_logic", "normalise"]


def normalise(name: str) -> str:
    """A parameter or phase name compared case- and separator-blind (``pH`` -> ``ph``,
    ``hold-time`` -> ``hold_time``)."""
    return name.strip().lower().replace("-", "_").replace(" ", "_")


@dataclass(frozen=True, slots=True)
class LogicChoice:
    """The logic an equipment phase runs, with its process model and default inputs.

    Attributes
    ----------
    logic
        Name of a shipped logic (:data:`phactory.control.phases.library.LOGICS`).
    model
        Process model coupled while it runs (``None``: none).
    defaults
        Values of ``P_*`` inputs in the spec's unit when the recipe gives none (e.g. the
        -90 degC target of a controlled-rate freezing program).
    rule
        The rule that chose it (for messages and ``phactory control tags``).
    """

    logic: str
    model: str | None = None
    defaults: dict[str, float] = field(default_factory=dict)
    rule: str = ""


@dataclass(frozen=True, slots=True)
class MappingRule:
    """Phase ids matching any of ``patterns`` (shell patterns) run ``choice``."""

    patterns: tuple[str, ...]
    choice: LogicChoice


def _rule(patterns: str, logic: str, model: str | None = None, **defaults: float) -> MappingRule:
    return MappingRule(
        tuple(patterns.split()), LogicChoice(logic, model, dict(defaults), rule=patterns)
    )


#: Process models matched before names.
MODEL_RULES: Final[dict[str, LogicChoice]] = {
    "cho_fed_batch": LogicChoice("grow", "cho_fed_batch", rule="process_model cho_fed_batch"),
    "ivt": LogicChoice("hold", "ivt", rule="process_model ivt"),
    "lyophilisation": LogicChoice(
        "freeze_dry", "lyophilisation", rule="process_model lyophilisation"
    ),
}

RULES: Final[tuple[MappingRule, ...]] = (
    _rule(" ".join(CIP_PHASES), "cip"),
    _rule(" ".join(SIP_PHASES), "sip"),
    _rule("grow culture production *-culture", "grow", "cho_fed_batch"),
    _rule("activate transduce expand* expansion", "grow"),
    _rule("controlled-rate-*", "temperature", P_SP=-90.0),
    _rule("heat* cool* warm* chill* *-ramp", "temperature"),
    _rule("incubate digest hold *-hold react transcribe inactivat* low-ph*", "hold"),
    _rule("charge charge-* transfer-in fill-vessel", "charge"),
    _rule("transfer transfer-out drain harvest empty", "transfer"),
    _rule("agitate mix stir dissolve* make-*", "agitate"),
    _rule("fill fill-vials aseptic-fill", "fill"),
    _rule("freeze-dry* lyophilis* lyophiliz* primary-drying", "freeze_dry", "lyophilisation"),
)

_TIMED: Final = LogicChoice("timed", rule="(no rule matched)")


def choose_logic(phase_id: str, process_model: str | None = None) -> LogicChoice:
    """The logic that runs recipe phase ``phase_id`` (see the module docstring)."""
    if process_model is not None and process_model in MODEL_RULES:
        return MODEL_RULES[process_model]
    pid = phase_id.lower()
    for rule in RULES:
        if any(fnmatch.fnmatchcase(pid, pat) for pat in rule.patterns):
            return rule.choice
    return _TIMED
