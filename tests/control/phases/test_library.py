"""The shipped phase logic: it compiles, follows the phase interface, and the example
recipes' phases map onto it as documented in :mod:`phactory.control.phases.mapping`."""

from __future__ import annotations

from pathlib import Path

import pytest

from phactory.control.phases.library import INTERFACE_INPUTS, LOGICS, data_dir, shipped_library
from phactory.control.phases.mapping import choose_logic, normalise
from phactory.control.phases.tuning import tuning_for
from phactory.control.plant import UnitPlant, UnitSpec
from phactory.control.plant.unit import FEATURES
from phactory.control.pou import Section
from phactory.control.site import layout_site
from phactory.model import load_site

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"

#: Every automatic phase of the example recipes, and the logic (and model) it runs.
EXPECTED = {
    "mrna-vaccine": {
        "dissolve-filter": ("agitate", None),
        "incubate": ("hold", None),
        "purify": ("timed", None),
        "linearity-check": ("timed", None),
        "transcribe": ("hold", "ivt"),
        "digest": ("hold", None),
        "concentrate-diafilter": ("timed", None),
        "load-wash-elute": ("timed", None),
        "strip-sanitise": ("cip", None),
        "remove-ethanol-concentrate": ("timed", None),
        "in-process-tests": ("timed", None),
        "filter-to-holding-bag": ("timed", None),
        "inspect-100-percent": ("timed", None),
        "test": ("timed", None),
    },
    "mab-biologics": {
        "dissolve": ("agitate", None),
        "make-buffers": ("agitate", None),
        "grow": ("grow", "cho_fed_batch"),
        "culture": ("grow", "cho_fed_batch"),
        "load-wash-elute": ("timed", None),
        "strip-regenerate": ("timed", None),
        "hold": ("hold", None),
        "run": ("timed", None),
        "filter": ("timed", None),
        "test": ("timed", None),
    },
    "car-t-autologous": {
        "label-and-select": ("timed", None),
        "activate": ("grow", None),
        "transduce": ("grow", None),
        "expand-day-2-4": ("grow", None),
        "expand-day-4-6": ("grow", None),
        "expand-to-harvest": ("grow", None),
        "controlled-rate-program": ("temperature", None),
        "test": ("timed", None),
    },
}


def test_every_shipped_logic_compiles_into_one_library() -> None:
    lib = shipped_library()
    assert set(lib.function_blocks()) == {lg.block for lg in LOGICS.values()}
    assert sorted(p.name for p in data_dir().glob("*.st")) == sorted(
        lg.source for lg in LOGICS.values()
    )
    assert shipped_library() is lib  # compiled once


@pytest.mark.parametrize("name", sorted(LOGICS))
def test_each_block_has_the_phase_interface_and_its_declared_io(name: str) -> None:
    lg = LOGICS[name]
    decls = {d.name: d for d in shipped_library().function_blocks()[lg.block].DECLS}
    for n in INTERFACE_INPUTS:
        assert decls[n].section is Section.INPUT, n
    assert decls["SC"].section is Section.OUTPUT
    for p in lg.params:
        assert decls[p.input].section is Section.INPUT, p.input
        assert decls[p.input].type_name == ("TIME" if p.is_time else "REAL"), p.input
        assert p.needs <= set(FEATURES)
    for r in lg.reports:
        assert decls[r.output].section is Section.OUTPUT, r.output
        if r.param:
            lg.param(r.param)
    for c in lg.loops:
        assert decls[c].section is Section.INPUT
    assert lg.needs <= set(FEATURES)


def test_tuning_sets_only_inputs_some_block_has() -> None:
    features = frozenset(FEATURES) - {"ph"}
    plant = UnitPlant(UnitSpec("U", 500.0, features, initial_volume_l=300.0))
    config = tuning_for(plant, 0.1)
    inputs = {
        d.name
        for cls in shipped_library().function_blocks().values()
        for d in cls.DECLS
        if d.section is Section.INPUT
    }
    assert set(config) <= inputs
    assert {"C_KP", "C_TI", "C_KP_PH", "C_KP_DO", "C_KP_SIP", "C_KP_CIP", "C_TF"} <= set(config)
    assert all(v > 0 for v in config.values())


@pytest.mark.parametrize("example", sorted(EXPECTED))
def test_example_recipe_phases_map_as_documented(example: str) -> None:
    site = load_site(EXAMPLES / example)
    got: dict[str, tuple[str, str | None]] = {}
    for layout in layout_site(site):
        for b in layout.bindings:
            got.setdefault(b.phase, (b.logic.name, b.model))
    assert got == EXPECTED[example]


@pytest.mark.parametrize(
    ("phase", "model", "logic"),
    [
        ("heat-to-37", None, "temperature"),
        ("cool-down", None, "temperature"),
        ("inactivation-hold", None, "hold"),
        ("low-ph-hold", None, "hold"),
        ("transfer-out", None, "transfer"),
        ("charge-media", None, "charge"),
        ("cip", None, "cip"),
        ("sterilise", None, "sip"),
        ("fill", None, "fill"),
        ("freeze-dry", None, "freeze_dry"),
        ("anything", "lyophilisation", "freeze_dry"),
        ("anything", "cho_fed_batch", "grow"),
        ("chromatography", None, "timed"),
    ],
)
def test_rules_choose_logic_by_name_then_model(phase: str, model: str | None, logic: str) -> None:
    assert choose_logic(phase, model).logic == logic


def test_names_compare_case_and_separator_blind() -> None:
    assert normalise("Hold-Time") == "hold_time"
    assert normalise(" dissolved oxygen ") == "dissolved_oxygen"
