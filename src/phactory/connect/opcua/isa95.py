"""The address space of a plant: ISA-95 equipment objects, tags, ISA-88 phases, PackML.

Layout under the standard ``Objects`` folder (namespace ``urn:phactory:<site>``)::

    Objects
    └── <site>                       SiteType            (ISA-95 enterprise-site)
        ├── PlantTime                Double [s]
        └── <area>                   AreaType
            └── <cell>               ProcessCellType
                └── <unit>           UnitType
                    ├── <module>     EquipmentModuleType
                    │   └── <tag>    variable (tag of the module)
                    ├── <tag>        variable (tag of the unit)
                    ├── Phases       FolderType
                    │   └── <phase>  PhaseType: State, Reports, RunTime, Start(Parameters), Hold,
                    │                Restart, Pause, Resume, Stop, Abort, Reset
                    ├── PackML       PackMLStatusType: StateCurrent, StateCurrentName
                    └── Diagnostics  FolderType
                        └── <task>   BaseObjectType: Scans, Overruns, MinScanTime,
                                     MeanScanTime, MaxScanTime, JitterP99, Period

The equipment hierarchy is ISA-95's (IEC 62264-1 §5.2: enterprise, site, area, process
cell, unit, equipment module; ISA-88.00.01 §4.2 for the last two); the object types live
in the namespace ``urn:phactory:types``. Each **tag** is a variable of its IEC 61131-3
type's OPC UA data type (:data:`DATA_TYPES`), of ``AnalogItemType`` when it is numeric
and has an engineering range (OPC 10000-8 §5.3.2.3, properties ``EngineeringUnits`` and
``EURange``), ``BaseAnalogType`` when numeric without a range, otherwise
``BaseDataVariableType``; its ``Description`` is the tag's. ``TIME`` values [ns] are
served as OPC UA ``Duration`` [ms]. Set points (``access == "setpoint"``) are writable
(``AccessLevel`` CurrentRead|CurrentWrite); who may write is decided per session by
:mod:`phactory.connect.opcua.users`.

Each **phase** (ISA-88 equipment phase) has its state as ``State`` (String, the ISA-88
state name of :class:`phactory.batch.states.State`), its report values as ``Reports``
(String: a JSON object ``{name: value}``, refreshed at every state change, so it is
complete when ``State`` reads ``Complete``), the plant time it has spent Running in its
current or last run as ``RunTime`` (Double, seconds: the run's progress in recipe time,
whatever the speed the plant runs at) and one method per ISA-88 command. The site's
``PlantTime`` (Double) is plant time in seconds since the plant started.
``Start`` takes one input argument ``Parameters`` (String): a JSON object of phase
parameters ``{"name": number, ...}``; ``""`` or ``"{}"`` for none. The other methods
take no arguments. A command the phase's state machine refuses answers
``BadInvalidState``; bad parameters ``BadInvalidArgument``.

Each **unit** has its PackML state (OPC 30050 / ISA-TR88.00.02) as ``PackML/StateCurrent``
(Int32, the OPC 30050 state number of :class:`phactory.control.view.PackMLState`) and
``PackML/StateCurrentName`` (String, e.g. ``Execute``).

Each unit whose controller reports scan statistics
(:meth:`~phactory.control.view.ControlledPlant.scan_stats`) has a ``Diagnostics`` folder
with one object per cyclic task (IEC 61131-3 §6.8.2, task), holding the task's
statistics (:data:`DIAGNOSTICS`): ``Scans`` and ``Overruns`` (UInt64, counts since the
controller's start), ``MinScanTime``, ``MeanScanTime``, ``MaxScanTime`` (Double, the
execution time of a scan), ``JitterP99`` (Double, 99th percentile of
|actual - nominal start| over the recent scans) and ``Period`` (Double, the task's
period), the last five in milliseconds (``BaseAnalogType`` with ``EngineeringUnits``
ms, UNECE ``C26``). The server refreshes them about once a second, writing only the
values that changed. The tasks are those the plant reports when the server starts.

String NodeIds (``ns=<site ns>;s=...``) name every node after the plant: a tag's NodeId is
its path (``area/cell/unit/TT101``), an equipment object's its path, a phase
``<unit>#Phases/<phase>`` with children ``...#State``, ``...#Reports``, ``...#Start``; the
site ``#<site>``; the PackML variables ``<unit>#PackML#StateCurrent`` and
``...#StateCurrentName``; a task's diagnostics ``<unit>#Diagnostics/<task>`` with the
variables ``<unit>#Diagnostics/<task>#Scans``, ``...#Overruns``, ``...#MinScanTime`` etc.
(each time variable's property ``...#MinScanTime#EngineeringUnits``). ``#`` never occurs
in Phactory ids, so these cannot clash.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from phactory.batch.states import Command, State
from phactory.connect.opcua import nodes
from phactory.connect.opcua.nodes import DATA_TYPES, NodeBuilder, converters
from phactory.connect.opcua.phases import METHOD_HELP, packml_name, reports_json
from phactory.connect.opcua.units import eu_information
from phactory.control.view import ControlledPlant, PhaseRef, ScanStats, TagInfo
from phactory.errors import InvalidError, NotFoundError

if TYPE_CHECKING:
    from asyncua import ua
    from asyncua.server.server import Server

__all__ = [
    "DIAGNOSTICS",
    "DiagnosticsNodes",
    "PhaseNodes",
    "PlantNodes",
    "TagNodes",
    "build_address_space",
    "check_plant",
    "diagnostics_values",
    "namespace_uri",
]

_COMMANDS: Final = tuple(Command)
_log = logging.getLogger(__name__)

#: The variables of a task's diagnostics: name -> (:class:`ScanStats` field, OPC UA
#: built-in type, factor from the field to the value served). Times are served in ms.
DIAGNOSTICS: Final[dict[str, tuple[str, str, float | None]]] = {
    "Scans": ("scans", "UInt64", None),
    "Overruns": ("overruns", "UInt64", None),
    "MinScanTime": ("min_s", "Double", 1000.0),
    "MeanScanTime": ("mean_s", "Double", 1000.0),
    "MaxScanTime": ("max_s", "Double", 1000.0),
    "JitterP99": ("jitter_p99_s", "Double", 1000.0),
    "Period": ("period_s", "Double", 1000.0),
}
_DIAGNOSTICS_HELP: Final = {
    "Scans": "Scans since the controller started",
    "Overruns": "Scans that did not end within the task's period",
    "MinScanTime": "Shortest scan execution time [ms]",
    "MeanScanTime": "Mean scan execution time [ms]",
    "MaxScanTime": "Longest scan execution time [ms]",
    "JitterP99": "99th percentile of |actual - nominal scan start| over the recent scans [ms]",
    "Period": "The task's scan period [ms]",
}
#: DataType numbers of the diagnostics' built-in types (OPC 10000-6 §5.1.2).
_UINT64, _DOUBLE_TYPE = 9, 11


def diagnostics_values(stats: ScanStats) -> dict[str, int | float]:
    """The values of a task's diagnostics variables (:data:`DIAGNOSTICS`): counts as
    ints, times in ms; a time that is not finite is served as NaN."""
    out: dict[str, int | float] = {}
    for name, (attr, vtype, factor) in DIAGNOSTICS.items():
        raw = getattr(stats, attr)
        if vtype == "UInt64":
            out[name] = max(int(raw), 0)
        else:
            value = float(raw) * (factor or 1.0)
            out[name] = value if math.isfinite(value) else math.nan
    return out


def namespace_uri(site: str) -> str:
    """The namespace URI of a site's nodes: ``urn:phactory:<site>``."""
    return f"urn:phactory:{site}"


@dataclass(slots=True)
class TagNodes:
    """A tag's variable: how values go to and come from OPC UA."""

    info: TagInfo
    nodeid: ua.NodeId
    variant_type: ua.VariantType
    #: Plant value -> OPC UA value (``TIME`` ns -> ms; a type constructor otherwise).
    to_ua: Callable[[Any], Any]
    #: OPC UA value -> plant value.
    from_ua: Callable[[Any], Any]
    #: asyncua's store of the Value attribute (``AttributeValue``), for the server's
    #: fast path; ``None`` until the server looked it up.
    value_slot: Any = None


@dataclass(slots=True)
class PhaseNodes:
    """A phase's object and its variables."""

    ref: PhaseRef
    object_id: ua.NodeId
    state_id: ua.NodeId
    reports_id: ua.NodeId
    #: ``RunTime``: plant time spent Running in the current or last run [s].
    run_time_id: ua.NodeId
    #: Method NodeId -> the command it gives.
    methods: dict[ua.NodeId, Command] = field(default_factory=dict)


@dataclass(slots=True)
class DiagnosticsNodes:
    """The diagnostics object of one task of a unit's controller."""

    unit: str
    task: str
    object_id: ua.NodeId
    #: Variable name (:data:`DIAGNOSTICS`) -> NodeId.
    variables: dict[str, ua.NodeId] = field(default_factory=dict)
    #: Variable name -> the value the node was made with.
    initial: dict[str, int | float] = field(default_factory=dict)


@dataclass(slots=True)
class PlantNodes:
    """What :func:`build_address_space` made: the NodeIds of everything the server keeps
    up to date."""

    site_id: ua.NodeId
    #: The site's ``PlantTime`` [s].
    plant_time_id: ua.NodeId
    tags: dict[str, TagNodes]
    phases: dict[PhaseRef, PhaseNodes]
    #: Unit path -> (StateCurrent, StateCurrentName).
    packml: dict[str, tuple[ua.NodeId, ua.NodeId]]
    #: (unit path, task) -> the task's diagnostics.
    diagnostics: dict[tuple[str, str], DiagnosticsNodes] = field(default_factory=dict)


def _split_tag(path: str) -> tuple[str, str | None, str] | None:
    """(unit path, module or None, tag name) of a tag path; ``None`` if not ISA-95."""
    parts = path.split("/")
    if len(parts) not in (4, 5) or not all(parts) or "#" in path:
        return None
    return "/".join(parts[:3]), (parts[3] if len(parts) == 5 else None), parts[-1]


def check_plant(plant: ControlledPlant) -> list[str]:
    """Check that the plant can be served; its units' paths, in order.

    Every problem is reported at once.

    Raises
    ------
    InvalidError
        If a tag path is not ``area/cell/unit[/module]/name``, a phase's unit not
        ``area/cell/unit``, a data type cannot be served (:data:`DATA_TYPES`), a path is
        used twice (a tag named like an equipment module, two tags or phases alike), or
        a tag or module is called ``Phases``, ``PackML`` or ``Diagnostics`` (names the
        server gives).
    """
    problems: list[str] = []
    units: dict[str, None] = {}
    equipment: set[str] = set()
    tags: set[str] = set()
    for info in plant.tags():
        split = _split_tag(info.path)
        if split is None:
            problems.append(
                f"tag {info.path!r}: expected an ISA-95 path area/cell/unit[/module]/name"
            )
            continue
        unit, module, name = split
        units.setdefault(unit)
        if module is not None:
            equipment.add(f"{unit}/{module}")
        if info.data_type.upper() not in DATA_TYPES:
            problems.append(
                f"tag {info.path!r}: data type {info.data_type!r} cannot be served over OPC UA; "
                f"expected one of {', '.join(DATA_TYPES)}"
            )
        if info.path in tags:
            problems.append(f"tag {info.path!r} is listed twice")
        tags.add(info.path)
        if module in _RESERVED or (module is None and name in _RESERVED):
            problems.append(f"tag {info.path!r}: {sorted(_RESERVED)} are names the server gives")
    phases: set[PhaseRef] = set()
    for ref in plant.phases():
        parts = ref.unit.split("/")
        if len(parts) != 3 or not all(parts) or "#" in ref.unit or "#" in ref.phase:
            problems.append(
                f"phase {ref.phase!r}: unit {ref.unit!r} is not an ISA-95 path area/cell/unit"
            )
            continue
        if ref in phases:
            problems.append(f"phase {ref.phase!r} of {ref.unit} is listed twice")
        phases.add(ref)
        units.setdefault(ref.unit)
    for path in sorted(tags & (equipment | set(units))):
        problems.append(f"tag {path!r} has the path of an equipment module or unit")
    if problems:
        raise InvalidError(
            f"plant {plant.site!r} cannot be served over OPC UA: " + "; ".join(problems)
        )
    return list(units)


#: Names the server gives to children of a unit.
_RESERVED: Final = frozenset({"Phases", "PackML", "Diagnostics"})


async def build_address_space(
    server: Server, plant: ControlledPlant, ns_types: int, ns: int
) -> PlantNodes:
    """Add the plant's nodes to ``server`` (an initialised, not yet started asyncua server).

    Values are the plant's at the time of the call.

    Raises
    ------
    InvalidError
        If a tag path is not an ISA-95 path, a tag's data type is unknown, or two nodes
        would have the same NodeId.
    """
    units = check_plant(plant)
    from asyncua import ua as ua_module

    # asyncua types identifiers and numbers as NewTypes (Int32, UInt32, ...): the builder
    # works with the module untyped rather than wrap every literal
    ua: Any = ua_module
    b = NodeBuilder(ua, ns_types, ns)
    for name in nodes.OBJECT_TYPES:
        b.object_type(name)
    site_id = b.nid(f"#{plant.site}", "site")
    b.obj(
        site_id,
        ua.NodeId(nodes.OBJECTS_FOLDER),
        plant.site,
        "SiteType",
        f"site {plant.site}",
        nodes.ORGANIZES,
    )
    plant_time_id = b.nid(f"#{plant.site}#PlantTime", "plant time")
    b.variable(
        plant_time_id,
        site_id,
        "PlantTime",
        ua.Variant(float(plant.now_s), ua.VariantType.Double),
        ua.NodeId(nodes.DOUBLE),
        description="Plant time [s since the plant started]: recipe time at any speed",
    )

    tags = list(plant.tags())
    phases = list(plant.phases())
    seen: dict[str, ua.NodeId] = {}

    def equipment(path: str, type_name: str) -> ua.NodeId:
        """The object of an area, cell, unit or module path, made with its parents."""
        if path in seen:
            return seen[path]
        parent_path, _, name = path.rpartition("/")
        parent = equipment(parent_path, _PARENT_TYPE[type_name]) if parent_path else site_id
        nodeid = b.nid(path, type_name.removesuffix("Type"))
        b.obj(nodeid, parent, name, type_name, "", nodes.HAS_COMPONENT)
        seen[path] = nodeid
        return nodeid

    for unit in units:
        equipment(unit, "UnitType")

    values = plant.read([t.path for t in tags]) if tags else []
    tag_nodes: dict[str, TagNodes] = {}
    for info, value in zip(tags, values, strict=True):
        tag_nodes[info.path] = _tag(b, ua, info, value, equipment)

    phase_nodes: dict[PhaseRef, PhaseNodes] = {}
    folders: dict[str, ua.NodeId] = {}
    for ref in phases:
        if ref.unit not in folders:
            folders[ref.unit] = b.nid(f"{ref.unit}#Phases", "phases folder")
            b.obj(
                folders[ref.unit],
                seen[ref.unit],
                "Phases",
                None,
                "ISA-88 equipment phases",
                nodes.HAS_COMPONENT,
            )
        phase_nodes[ref] = _phase(b, ua, ref, folders[ref.unit], plant)

    packml: dict[str, tuple[ua.NodeId, ua.NodeId]] = {}
    for unit in units:
        try:
            state = plant.unit_state(unit)
        except NotFoundError:
            continue
        obj = b.nid(f"{unit}#PackML", "PackML object")
        b.obj(
            obj,
            seen[unit],
            "PackML",
            "PackMLStatusType",
            "PackML unit state (OPC 30050)",
            nodes.HAS_COMPONENT,
        )
        current = b.nid(f"{unit}#PackML#StateCurrent", "PackML")
        current_name = b.nid(f"{unit}#PackML#StateCurrentName", "PackML")
        b.variable(
            current,
            obj,
            "StateCurrent",
            ua.Variant(int(state), ua.VariantType.Int32),
            ua.NodeId(nodes.INT32),
            description="PackML state number (OPC 30050)",
        )
        b.variable(
            current_name,
            obj,
            "StateCurrentName",
            ua.Variant(packml_name(state), ua.VariantType.String),
            ua.NodeId(nodes.STRING),
            description="PackML state name",
        )
        packml[unit] = (current, current_name)

    diagnostics = _diagnostics(b, ua, plant, units, seen, equipment)

    results = await server.iserver.isession.add_nodes(b.items)
    for item, result in zip(b.items, results, strict=True):
        if not result.StatusCode.is_good():
            raise RuntimeError(
                f"OPC UA: could not add node {item.RequestedNewNodeId}: {result.StatusCode}"
            )
    return PlantNodes(site_id, plant_time_id, tag_nodes, phase_nodes, packml, diagnostics)


_PARENT_TYPE: Final = {
    "UnitType": "ProcessCellType",
    "ProcessCellType": "AreaType",
    "AreaType": "SiteType",
    "EquipmentModuleType": "UnitType",
}


def _tag(
    b: NodeBuilder, ua: Any, info: TagInfo, value: Any, equipment: Callable[[str, str], ua.NodeId]
) -> TagNodes:
    split = _split_tag(info.path)
    assert split is not None  # check_plant said so
    unit, module, name = split
    parent = (
        equipment(f"{unit}/{module}", "EquipmentModuleType")
        if module
        else equipment(unit, "UnitType")
    )
    vt_name, dt = DATA_TYPES[info.data_type.upper()]
    vtype = getattr(ua.VariantType, vt_name)
    to_ua, from_ua = converters(info.data_type.upper())
    numeric = vt_name not in ("Boolean", "String")
    ranged = numeric and info.low is not None and info.high is not None
    typedef = (
        nodes.ANALOG_ITEM_TYPE
        if ranged
        else nodes.BASE_ANALOG_TYPE
        if numeric
        else nodes.BASE_DATA_VARIABLE_TYPE
    )
    nodeid = b.nid(info.path, "tag")
    b.variable(
        nodeid,
        parent,
        name,
        ua.Variant(to_ua(value), vtype),
        ua.NodeId(dt),
        description=info.description,
        typedef=typedef,
        writable=info.access == "setpoint",
    )
    unit_text = "ms" if info.data_type.upper() == "TIME" else info.unit
    if numeric and unit_text:
        eu = eu_information(unit_text)
        euinfo = ua.EUInformation(
            NamespaceUri=eu.namespace_uri,
            UnitId=eu.unit_id,
            DisplayName=ua.LocalizedText(eu.display_name),
            Description=ua.LocalizedText(eu.description),
        )
        b.variable(
            b.nid(f"{info.path}#EngineeringUnits", "property"),
            nodeid,
            "EngineeringUnits",
            ua.Variant(euinfo, ua.VariantType.ExtensionObject),
            ua.NodeId(nodes.EU_INFORMATION),
            is_property=True,
            ns0_name=True,
        )
    if ranged:
        assert info.low is not None and info.high is not None  # for mypy: ranged says so
        rng = ua.Range(Low=float(info.low), High=float(info.high))
        b.variable(
            b.nid(f"{info.path}#EURange", "property"),
            nodeid,
            "EURange",
            ua.Variant(rng, ua.VariantType.ExtensionObject),
            ua.NodeId(nodes.RANGE),
            is_property=True,
            ns0_name=True,
        )
    return TagNodes(info, nodeid, vtype, to_ua, from_ua)


def _diagnostics(
    b: NodeBuilder,
    ua: Any,
    plant: ControlledPlant,
    units: list[str],
    seen: dict[str, ua.NodeId],
    equipment: Callable[[str, str], ua.NodeId],
) -> dict[tuple[str, str], DiagnosticsNodes]:
    """The ``Diagnostics`` folder of each unit with scan statistics, one object a task.

    Statistics of a unit that is not an ISA-95 path ``area/cell/unit``, of a task whose
    name has a ``#``, or of a (unit, task) already seen are left out, with a warning.
    """
    out: dict[tuple[str, str], DiagnosticsNodes] = {}
    folders: dict[str, ua.NodeId] = {}
    known = set(units)
    ms = eu_information("ms")
    for stats in plant.scan_stats():
        unit, task = stats.unit, stats.task
        parts = unit.split("/")
        valid = len(parts) == 3 and all(parts) and "#" not in unit and task and "#" not in task
        if not valid or (unit, task) in out:
            _log.warning("OPC UA: scan statistics of task %r of %r not served", task, unit)
            continue
        if unit not in folders:
            parent = seen[unit] if unit in known else equipment(unit, "UnitType")
            folders[unit] = b.nid(f"{unit}#Diagnostics", "diagnostics folder")
            b.obj(
                folders[unit],
                parent,
                "Diagnostics",
                None,
                "Scan statistics of the unit's controller tasks",
                nodes.HAS_COMPONENT,
            )
        base = f"{unit}#Diagnostics/{task}"
        obj = b.nid(base, "task diagnostics")
        b.obj(
            obj, folders[unit], task, None, f"Scan statistics of task {task}", nodes.HAS_COMPONENT
        )
        b.items[-1].TypeDefinition = ua.NodeId(nodes.BASE_OBJECT_TYPE)  # an object, not a folder
        entry = DiagnosticsNodes(unit, task, obj)
        for name, value in diagnostics_values(stats).items():
            vtype = DIAGNOSTICS[name][1]
            nodeid = b.nid(f"{base}#{name}", "task diagnostics")
            b.variable(
                nodeid,
                obj,
                name,
                ua.Variant(value, getattr(ua.VariantType, vtype)),
                ua.NodeId(_UINT64 if vtype == "UInt64" else _DOUBLE_TYPE),
                description=_DIAGNOSTICS_HELP[name],
                typedef=nodes.BASE_DATA_VARIABLE_TYPE
                if vtype == "UInt64"
                else nodes.BASE_ANALOG_TYPE,
            )
            if vtype == "Double":
                euinfo = ua.EUInformation(
                    NamespaceUri=ms.namespace_uri,
                    UnitId=ms.unit_id,
                    DisplayName=ua.LocalizedText(ms.display_name),
                    Description=ua.LocalizedText(ms.description),
                )
                b.variable(
                    b.nid(f"{base}#{name}#EngineeringUnits", "property"),
                    nodeid,
                    "EngineeringUnits",
                    ua.Variant(euinfo, ua.VariantType.ExtensionObject),
                    ua.NodeId(nodes.EU_INFORMATION),
                    is_property=True,
                    ns0_name=True,
                )
            entry.variables[name] = nodeid
            entry.initial[name] = value
        out[(unit, task)] = entry
    return out


def _phase(
    b: NodeBuilder, ua: Any, ref: PhaseRef, folder: ua.NodeId, plant: ControlledPlant
) -> PhaseNodes:
    base = f"{ref.unit}#Phases/{ref.phase}"
    obj = b.nid(base, "phase")
    b.obj(
        obj,
        folder,
        ref.phase,
        "PhaseType",
        f"ISA-88 equipment phase {ref.phase} of {ref.unit}",
        nodes.ORGANIZES,
    )
    state: State = plant.phase_state(ref)
    state_id, reports_id, run_time_id = (
        b.nid(f"{base}#State", "phase state"),
        b.nid(f"{base}#Reports", "phase reports"),
        b.nid(f"{base}#RunTime", "phase run time"),
    )
    b.variable(
        state_id,
        obj,
        "State",
        ua.Variant(State(state).value, ua.VariantType.String),
        ua.NodeId(nodes.STRING),
        description="ISA-88 phase state",
    )
    b.variable(
        reports_id,
        obj,
        "Reports",
        ua.Variant(reports_json(plant.reports(ref)), ua.VariantType.String),
        ua.NodeId(nodes.STRING),
        description="Report values, JSON object {name: value}",
    )
    b.variable(
        run_time_id,
        obj,
        "RunTime",
        ua.Variant(float(plant.phase_run_s(ref)), ua.VariantType.Double),
        ua.NodeId(nodes.DOUBLE),
        description="Plant time spent Running in the current or last run [s]",
    )
    out = PhaseNodes(ref, obj, state_id, reports_id, run_time_id)
    for command in _COMMANDS:
        mid = b.nid(f"{base}#{command.value}", "phase method")
        b.method(mid, obj, command.value, METHOD_HELP[command])
        out.methods[mid] = command
        if command is Command.START:
            arg = ua.Argument(
                Name="Parameters",
                DataType=ua.NodeId(nodes.STRING),
                ValueRank=-1,
                Description=ua.LocalizedText(
                    'JSON object of phase parameters, e.g. {"temperature": 37.0}'
                ),
            )
            b.variable(
                b.nid(f"{base}#Start#InputArguments", "method arguments"),
                mid,
                "InputArguments",
                ua.Variant([arg], ua.VariantType.ExtensionObject),
                ua.NodeId(nodes.ARGUMENT),
                is_property=True,
                ns0_name=True,
            )
    return out
