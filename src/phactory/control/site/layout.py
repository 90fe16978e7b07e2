"""From a site to its controllers: units, their equipment phases, plant and tags.

For every unit of a site (ISA-95 path ``area/cell/unit``, IEC 62264-1 §5.2) this module
decides, without running anything:

* its **equipment phases**: one per recipe phase id that an automatic phase of a recipe
  runs on the unit's equipment class, bound to the logic chosen by
  :func:`phactory.control.phases.mapping.choose_logic` or by the site's ``control:``
  section (:mod:`phactory.model.control`: another shipped logic, or the site's own ST
  file);
* its **virtual plant** (:class:`~phactory.control.plant.UnitSpec`): the equipment those
  phases need, sized from the class's capacity;
* its **tags**: ``area/cell/unit/STATE`` (PackML, OPC 30050 number) and
  ``.../EQUIPMENT_STATE`` (ISO 22400); every I/O channel, under the equipment module the
  site names for it when there is one (``.../IVT-01/TCU-01/TT``), else under the unit;
  per phase ``.../<phase>/STATE`` (ISA-88) and one writable set point per parameter
  (``.../<phase>/<parameter>``, with the recipe's unit and limits).

Vessels whose charge is a manual phase are taken as holding 60 % of their capacity at the
start (the plant cannot see what people put in); vessels with an automatic charge start
empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from phactory.control.phases.binding import PhaseBinding, RecipePhase, bind_phase
from phactory.control.phases.library import INTERFACE_INPUTS, LOGICS, PhaseLogic
from phactory.control.phases.mapping import LogicChoice, choose_logic
from phactory.control.plant.channels import Channel
from phactory.control.plant.process import COUPLINGS
from phactory.control.plant.unit import UnitPlant, UnitSpec
from phactory.control.pou import POU, Section
from phactory.control.view import TagInfo
from phactory.errors import InvalidError, NotFoundError

if TYPE_CHECKING:
    from phactory.model import Site
    from phactory.model.control import PhaseControl

__all__ = [
    "DEFAULT_SCAN_S",
    "MODULE_KEYWORDS",
    "ControlConfigError",
    "TagSpec",
    "UnitLayout",
    "layout_site",
]

#: Scan period of a unit's controller when the site says nothing [s].
DEFAULT_SCAN_S = 0.1

#: Words in an equipment module's function or name that place a feature's tags under it.
MODULE_KEYWORDS: dict[str, tuple[str, ...]] = {
    "thermal": ("temperature", "tcu", "jacket", "heat", "shelf"),
    "agitation": ("agitat", "stirr", "impeller"),
    "tank": ("level", "transfer", "weigh", "load cell"),
    "ph": ("ph control", "ph probe", "base", "acid"),
    "ph_dosing": ("ph control", "ph probe", "base", "acid"),
    "oxygen": ("oxygen", "sparg", "aeration", "gas"),
    "steam": ("steam", "sip"),
    "cip": ("cip", "clean"),
    "fill": ("fill", "dosing pump"),
    "chamber": ("vacuum", "chamber", "condenser"),
    "process": ("analy", "sampl", "at-line", "pat"),
}


class ControlConfigError(InvalidError):
    """A problem of the site's ``control:`` section; ``path`` is the entry's path in the
    site data (empty when the problem is not in that section)."""

    def __init__(self, message: str, path: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.path = path


TagKind = Literal["channel", "unit_state", "equipment_state", "phase_state", "parameter"]


@dataclass(frozen=True, slots=True)
class TagSpec:
    """A tag and where its value comes from.

    Attributes
    ----------
    info
        What :meth:`ControlledPlant.tags` shows.
    kind
        What it reads: a plant channel, the unit's PackML or ISO 22400 state, a phase's
        ISA-88 state or one of its parameters.
    unit
        The unit's id.
    key
        Channel name, or parameter name.
    phase
        The phase, for phase tags.
    """

    info: TagInfo
    kind: TagKind
    unit: str
    key: str = ""
    phase: str = ""


@dataclass(frozen=True)
class UnitLayout:
    """One unit's controller, as planned (see the module docstring)."""

    unit: str
    path: str
    equipment_class: str
    spec: UnitSpec
    bindings: tuple[PhaseBinding, ...]
    modules: dict[str, str]
    scan_period_s: float
    blocks: dict[str, type[POU]] = field(default_factory=dict)

    def channel_path(self, ch: Channel) -> str:
        """ISA-95 path of a channel's tag."""
        feature = "process" if ch.feature == "process" else ch.feature
        module = self.modules.get(feature)
        if module is None and feature == "ph":
            module = self.modules.get("ph_dosing")
        return f"{self.path}/{module}/{ch.name}" if module else f"{self.path}/{ch.name}"

    def tag_specs(self, plant: UnitPlant) -> list[TagSpec]:
        """Every tag of the unit, in a stable order."""
        p = self.path
        out = [
            TagSpec(
                TagInfo(f"{p}/STATE", "INT", "", 1.0, 17.0, "PackML unit state (OPC 30050)"),
                "unit_state",
                self.unit,
            ),
            TagSpec(
                TagInfo(f"{p}/EQUIPMENT_STATE", "STRING", description="ISO 22400 state"),
                "equipment_state",
                self.unit,
            ),
        ]
        for ch in plant.channels.values():
            info = TagInfo(
                self.channel_path(ch), ch.data_type, ch.unit, ch.low, ch.high,
                f"{ch.description} ({'measured' if ch.direction == 'in' else 'command'})",
            )  # fmt: skip
            out.append(TagSpec(info, "channel", self.unit, ch.name))
        for b in self.bindings:
            out.append(
                TagSpec(
                    TagInfo(
                        f"{p}/{b.phase}/STATE",
                        "STRING",
                        description=f"ISA-88 state of phase {b.phase} ({b.logic.name})",
                    ),
                    "phase_state",
                    self.unit,
                    phase=b.phase,
                )
            )
            for name, pb in b.parameters.items():
                info = TagInfo(
                    f"{p}/{b.phase}/{name}", "REAL", pb.unit, pb.low, pb.high,
                    f"{pb.description} (set point of phase {b.phase})", "setpoint",
                )  # fmt: skip
                out.append(TagSpec(info, "parameter", self.unit, name, b.phase))
        return out


def _recipe_phases(site: Site) -> dict[tuple[str, str], list[RecipePhase]]:
    """Automatic recipe phases by (equipment class, phase id), in recipe order."""
    from phactory.batch.control_recipe import phase_kind

    out: dict[tuple[str, str], list[RecipePhase]] = {}
    for r in site.recipes.values():
        for up in r.unit_procedures.values():
            for op in up.operations.values():
                for ph in op.phases.values():
                    if phase_kind(ph) != "automatic":
                        continue
                    path = f"{up.id}/{op.id}/{ph.id}"
                    out.setdefault((up.equipment_class, ph.id), []).append(
                        RecipePhase(r.id, path, ph)
                    )
    return out


def _capacity_l(site: Site, cls: str) -> float:
    ec = site.equipment_classes.get(cls)
    if ec is not None and ec.capacity is not None and ec.capacity.compatible("L"):
        return float(ec.capacity.to("L"))
    return 100.0


def _modules(site: Site, unit: str, features: frozenset[str]) -> dict[str, str]:
    u = site.units[unit]
    out: dict[str, str] = {}
    for feature in (*sorted(features), "process"):
        words = MODULE_KEYWORDS.get(feature, ())
        for m in u.equipment_modules.values():
            text = f"{m.function} {m.name} {m.id}".lower()
            if any(w in text for w in words):
                out[feature] = m.id
                break
    return out


class _Programs:
    """The site's own ST files, each compiled once."""

    def __init__(self, base_dir: Path | None) -> None:
        self.base_dir = base_dir
        self.libs: dict[Path, object] = {}

    def block(self, pc: PhaseControl, logic: PhaseLogic, where: str) -> type[POU]:
        from phactory.control.st import Library, compile_files

        assert pc.program is not None
        path = Path(pc.program)
        if not path.is_absolute() and self.base_dir is not None:
            path = self.base_dir / path
        if path not in self.libs:
            if not path.is_file():
                raise NotFoundError(f"{where}: no such ST file {pc.program!r} ({path})")
            self.libs[path] = compile_files([path])
        lib = self.libs[path]
        assert isinstance(lib, Library)
        fbs = lib.function_blocks()
        name = (pc.block or "").upper()
        if not name:
            name = logic.block if logic.block in fbs else (next(iter(fbs)) if len(fbs) == 1 else "")
        cls = fbs.get(name)
        if cls is None:
            raise InvalidError(
                f"{where}: {pc.program} has no function block {pc.block or logic.block!r} "
                f"(it has: {', '.join(fbs) or 'none'}); name it with 'block:'"
            )
        names = {d.name: d for d in cls.DECLS}
        missing = [n for n in ("STATE", "SC") if n not in names]
        if missing or names["STATE"].section is not Section.INPUT:
            raise InvalidError(
                f"{where}: block {name} of {pc.program} lacks the phase interface "
                f"({', '.join(missing) or 'STATE must be a VAR_INPUT'}); see "
                "phactory.control.phases"
            )
        return cls


def layout_site(
    site: Site,
    *,
    scan_period_s: float | None = None,
    base_dir: str | Path | None = None,
    units: list[str] | None = None,
) -> list[UnitLayout]:
    """Plan the controller of every unit of ``site`` (see the module docstring).

    Parameters
    ----------
    site
        The site.
    scan_period_s
        Scan period of every controller [s], overriding the site's ``control:`` section.
    base_dir
        Folder that ST file names of the ``control:`` section are relative to.
    units
        Only these units (default: all).

    Raises
    ------
    InvalidError
        An unknown logic or process model, a recipe phase id mapped to two logics, or a
        site ST file without the phase interface; the message names the ``control:``
        entry.
    NotFoundError
        A site ST file does not exist.
    STCompileError
        A site ST file does not compile (every problem, located).
    """
    from phactory.control.phases.library import shipped_library

    ctl = site.control
    groups = _recipe_phases(site)
    programs = _Programs(Path(base_dir) if base_dir is not None else None)
    shipped = shipped_library().function_blocks()
    out: list[UnitLayout] = []
    wanted = set(units) if units is not None else None
    for unit_id, (area, cell) in site.unit_location.items():
        if wanted is not None and unit_id not in wanted:
            continue
        unit = site.units[unit_id]
        cls = unit.equipment_class
        cls_ctl = ctl.equipment_classes.get(cls) if ctl else None
        unit_ctl = ctl.units.get(unit_id) if ctl else None
        bindings: list[PhaseBinding] = []
        blocks: dict[str, type[POU]] = {}
        for (gcls, phase_id), rphases in groups.items():
            if gcls != cls:
                continue
            pc = (unit_ctl.phases.get(phase_id) if unit_ctl else None) or (
                cls_ctl.phases.get(phase_id) if cls_ctl else None
            )
            if unit_ctl is not None and phase_id in unit_ctl.phases:
                at: tuple[str, ...] = ("control", "units", unit_id, "phases", phase_id)
            elif cls_ctl is not None and phase_id in cls_ctl.phases:
                at = ("control", "equipment_classes", cls, "phases", phase_id)
            else:
                at = ()
            where = ".".join(at) if at else f"unit {unit_id} phase {phase_id}"
            choice = _choice(phase_id, rphases, pc, where, at)
            logic = LOGICS[choice.logic]
            block_cls = shipped[logic.block]
            block_inputs = block_outputs = None
            source = ""
            if pc is not None and pc.program is not None:
                try:
                    block_cls = programs.block(pc, logic, where)
                except (InvalidError, NotFoundError) as exc:
                    if hasattr(exc, "problems"):
                        raise  # a compile error, located in the ST file itself
                    raise ControlConfigError(str(exc), (*at, "program")) from None
                block_inputs = frozenset(
                    d.name for d in block_cls.DECLS if d.section is Section.INPUT
                )
                block_outputs = frozenset(
                    d.name for d in block_cls.DECLS if d.section is Section.OUTPUT
                )
                source = pc.program
            model = choice.model
            model_params = COUPLINGS[model].known_parameters() if model else frozenset()
            b = bind_phase(
                phase_id, logic, rphases, model=model, model_params=model_params,
                defaults=choice.defaults, block=block_cls.NAME, block_inputs=block_inputs,
                block_outputs=block_outputs, source=source, rule=choice.rule,
            )  # fmt: skip
            bindings.append(b)
            blocks[block_cls.NAME] = block_cls
        spec = _spec(site, unit_id, cls, bindings)
        period = (
            scan_period_s
            or (unit_ctl.scan_period * 3600.0 if unit_ctl and unit_ctl.scan_period else None)
            or (cls_ctl.scan_period * 3600.0 if cls_ctl and cls_ctl.scan_period else None)
            or (ctl.scan_period * 3600.0 if ctl else DEFAULT_SCAN_S)
        )
        out.append(
            UnitLayout(
                unit=unit_id,
                path=f"{area}/{cell}/{unit_id}",
                equipment_class=cls,
                spec=spec,
                bindings=tuple(bindings),
                modules=_modules(site, unit_id, spec.features),
                scan_period_s=float(period),
                blocks=blocks,
            )
        )
    return out


def _choice(
    phase_id: str,
    rphases: list[RecipePhase],
    pc: PhaseControl | None,
    where: str,
    at: tuple[str, ...],
) -> LogicChoice:
    model_name = next((rp.phase.process_model for rp in rphases if rp.phase.process_model), None)
    if pc is not None and pc.logic is not None:
        if pc.logic not in LOGICS:
            raise ControlConfigError(
                f"{where}.logic: unknown phase logic {pc.logic!r}; known: {', '.join(LOGICS)}",
                (*at, "logic"),
            )
        base = choose_logic(phase_id, model_name)
        model = base.model if base.logic == pc.logic else LOGICS[pc.logic].model
        choice = LogicChoice(pc.logic, model, {}, rule=f"site: logic {pc.logic}")
    else:
        chosen = {choose_logic(phase_id, rp.phase.process_model).logic for rp in rphases}
        if len(chosen) > 1:
            names = ", ".join(sorted(chosen))
            raise ControlConfigError(
                f"{where}: the recipes' phases {phase_id!r} map to different logics "
                f"({names}); choose one in the site's control section"
            )
        choice = choose_logic(phase_id, model_name)
    if pc is not None and pc.model is not None:
        model = None if pc.model == "none" else pc.model
        if model is not None and model not in COUPLINGS:
            raise ControlConfigError(
                f"{where}.model: no plant coupling for process model {model!r}; "
                f"known: {', '.join(sorted(COUPLINGS))}, none",
                (*at, "model"),
            )
        choice = LogicChoice(choice.logic, model, choice.defaults, choice.rule)
    return choice


def _spec(site: Site, unit: str, cls: str, bindings: list[PhaseBinding]) -> UnitSpec:
    features: set[str] = set()
    processes: set[str] = set()
    temps: list[float] = []
    for b in bindings:
        features |= b.needs
        if b.model is not None:
            processes.add(b.model)
        temps += b.setpoint_temperatures()
    if "ph_dosing" in features:
        features.discard("ph")
    cap = _capacity_l(site, cls)
    kwargs: dict[str, object] = {}
    if "chamber" in features:  # a freeze dryer: the shelves, on silicone oil
        kwargs = {"what": "shelf", "t_cold": -55.0, "t_hot": 60.0, "t_low": -70.0,
                  "t_high": 80.0, "heat_rate_k_h": 60.0}  # fmt: skip
    elif temps and min(temps) < -20.0:  # a cryogenic (liquid nitrogen) freezer
        kwargs = {"t_cold": -180.0, "t_hot": 40.0, "t_low": -196.0, "t_high": 60.0,
                  "heat_rate_k_h": 150.0}  # fmt: skip
    automatic_charge = any(b.logic.name in ("charge", "grow") for b in bindings)
    vessel = bool(features & {"thermal", "tank", "agitation", "ph_dosing", "oxygen"})
    initial = 0.6 * cap if vessel and not automatic_charge and "chamber" not in features else 0.0
    culture = any(b.logic.name == "grow" for b in bindings)
    if not kwargs:
        # Heating rate at full TCU output: the jacket area per volume grows as V^(-1/3),
        # 20 K/h for a 2000 L vessel (see plant.thermal), at most 80 K/h.
        kwargs = {"heat_rate_k_h": min(max(20.0 * (2000.0 / cap) ** (1.0 / 3.0), 20.0), 80.0)}
    return UnitSpec(
        unit=unit,
        capacity_l=cap,
        features=frozenset(features),
        processes=frozenset(processes),
        initial_volume_l=initial,
        ph_rate=2.0 if culture else 10.0,
        **kwargs,  # type: ignore[arg-type]
    )


def missing_interface(cls: type[POU]) -> list[str]:
    """Phase-interface inputs a block lacks (only ``STATE`` and ``SC`` are required)."""
    names = {d.name for d in cls.DECLS}
    return [n for n in INTERFACE_INPUTS if n not in names]
