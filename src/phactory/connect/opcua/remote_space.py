"""What a Phactory OPC UA server serves, found by a client: :func:`discover`.

The client side of :mod:`phactory.connect.opcua.isa95`. :func:`discover` finds the
plant's namespace (``urn:phactory:<site>``), browses the site's tree breadth-first with
every node of a level in one Browse request (OPC 10000-4 §5.8.2; continuation points
followed), and reads the tags' ``DataType``, ``Description``, ``AccessLevel`` and their
``EngineeringUnits`` and ``EURange`` properties in one Read request. Since NodeIds name
every node after the plant, the tree is classified by NodeId (``<unit>#Phases/<phase>``,
``<unit>#PackML#StateCurrent``, ``<unit>#Diagnostics/<task>#Scans``, ...), not by browse
names; the order of the tags and units is the address space's (depth first), which is
the plant's.

Back from OPC UA to the plant's terms: a DataType gives the first IEC 61131-3 type of
:data:`~phactory.connect.opcua.nodes.DATA_TYPES` served with it (``Byte`` is ``USINT``;
``Duration`` is ``TIME``), a UNECE ``UnitId`` the first Phactory unit text of
:data:`~phactory.connect.opcua.units.UNECE_CODES` with that code (``degC`` for ``CEL``;
the display name for ``UnitId = -1``), ``CurrentWrite`` in ``AccessLevel`` a set point.
``REAL`` values (32-bit floats on the wire) are given back as the shortest decimal that
is the same 32-bit float.

asyncua is imported by the functions that use it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from phactory.batch.states import Command
from phactory.connect.opcua.isa95 import DIAGNOSTICS, namespace_uri
from phactory.connect.opcua.nodes import DATA_TYPES, OBJECT_TYPES, TYPES_NAMESPACE, converters
from phactory.connect.opcua.units import UNECE_CODES, unit_id
from phactory.control.view import PhaseRef, TagInfo
from phactory.errors import InvalidError, NotFoundError

__all__ = [
    "CHUNK",
    "RemotePhase",
    "RemoteSpace",
    "RemoteTag",
    "code_name",
    "discover",
    "read_attributes",
    "read_data_values",
    "reports_of",
    "shortest_float32",
    "to_ua_value",
    "ua",
]

_log = logging.getLogger(__name__)

#: Nodes per Browse or Read request (a plant of 5,000 tags takes a few).
CHUNK: Final = 2000
#: OPC UA DataType number -> IEC 61131-3 type (the first of DATA_TYPES that has it).
_IEC_OF: Final[dict[int, str]] = {}
for _iec, (_vt, _dt) in DATA_TYPES.items():
    _IEC_OF.setdefault(_dt, _iec)
#: OPC UA UnitId -> Phactory unit text (the first of UNECE_CODES with its code).
_UNIT_OF: Final[dict[int, str]] = {}
for _text, (_code, _display, _desc) in UNECE_CODES.items():
    _UNIT_OF.setdefault(unit_id(_code), _text)
_PROPERTIES: Final = ("EngineeringUnits", "EURange")


def ua() -> Any:
    """``asyncua.ua``, untyped: asyncua types identifiers and numbers as NewTypes that
    every literal would need wrapping in (as in :mod:`~phactory.connect.opcua.isa95`)."""
    from asyncua import ua as ua_module

    return ua_module


@dataclass(slots=True)
class RemoteTag:
    """A tag as served: its description, NodeId and value conversions."""

    info: TagInfo
    nodeid: Any
    #: OPC UA built-in type of its values (``ua.VariantType``).
    variant_type: Any
    #: Plant value -> OPC UA value (``TIME`` ns -> ms).
    to_ua: Callable[[Any], Any]
    #: OPC UA value -> plant value.
    from_ua: Callable[[Any], Any]


@dataclass(slots=True)
class RemotePhase:
    """A phase's object, variables and methods."""

    object_id: Any
    state_id: Any = None
    reports_id: Any = None
    run_time_id: Any = None
    methods: dict[Command, Any] = field(default_factory=dict)


@dataclass(slots=True)
class RemoteSpace:
    """Everything :func:`discover` found, by the plant's names."""

    site: str
    tags: dict[str, RemoteTag] = field(default_factory=dict)
    order: list[TagInfo] = field(default_factory=list)
    phases: dict[PhaseRef, RemotePhase] = field(default_factory=dict)
    units: list[str] = field(default_factory=list)
    #: Unit path -> its ``PackML/StateCurrent``.
    packml: dict[str, Any] = field(default_factory=dict)
    #: (unit path, task, {variable name: NodeId}) of each task's diagnostics.
    diagnostics: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    plant_time_id: Any = None


@dataclass(slots=True)
class _Browsed:
    """A node found while browsing: its class, browse name and children, in order."""

    nodeid: Any
    name: str
    node_class: int
    type_id: Any
    children: list[str] = field(default_factory=list)


async def discover(client: Any, endpoint: str) -> RemoteSpace:
    """Browse and read what the server at ``endpoint`` serves (``client``: connected).

    Raises
    ------
    NotFoundError
        The server serves no Phactory plant.
    """
    u = ua()
    namespaces: list[str] = await client.get_namespace_array()
    sites = [
        uri.removeprefix("urn:phactory:")
        for uri in namespaces
        if uri.startswith("urn:phactory:") and uri != TYPES_NAMESPACE
    ]
    if not sites:
        raise NotFoundError(f"the OPC UA server at {endpoint} serves no Phactory plant")
    space = RemoteSpace(sites[0])
    ns = namespaces.index(namespace_uri(space.site))
    ns_types = namespaces.index(TYPES_NAMESPACE) if TYPES_NAMESPACE in namespaces else -1
    root = u.NodeId(f"#{space.site}", ns)
    nodes = await _browse_tree(client, root, ns)
    unit_type = u.NodeId(OBJECT_TYPES["UnitType"], ns_types)
    order: list[str] = []
    stack = [root.Identifier]
    while stack:  # depth first, children in their order
        key = stack.pop()
        order.append(key)
        stack.extend(reversed(nodes[key].children))
    tag_keys: list[str] = []
    for key in order:
        node = nodes[key]
        if node.node_class == u.NodeClass.Object and node.type_id == unit_type:
            space.units.append(key)
        _classify(space, key, node, tag_keys)
    await _read_tag_infos(client, space, nodes, tag_keys)
    return space


async def _browse_tree(client: Any, root: Any, ns: int) -> dict[str, _Browsed]:
    """Every node under ``root`` in namespace ``ns``, one Browse request a level."""
    u = ua()
    nodes: dict[str, _Browsed] = {root.Identifier: _Browsed(root, root.Identifier, 1, None)}
    frontier = [root]
    while frontier:
        results: list[list[Any]] = []
        for i in range(0, len(frontier), CHUNK):
            results += await _browse_level(client, frontier[i : i + CHUNK])
        next_frontier = []
        for parent, refs in zip(frontier, results, strict=True):
            for ref in refs:
                nid = ref.NodeId
                if nid.NamespaceIndex != ns or not isinstance(nid.Identifier, str):
                    continue
                key = nid.Identifier
                if key in nodes:
                    continue
                typedef = ref.TypeDefinition
                type_id = (
                    u.NodeId(typedef.Identifier, typedef.NamespaceIndex)
                    if typedef is not None and not typedef.is_null()
                    else None
                )
                node = _Browsed(u.NodeId(key, ns), ref.BrowseName.Name, ref.NodeClass, type_id)
                nodes[key] = node
                nodes[parent.Identifier].children.append(key)
                if ref.NodeClass in (u.NodeClass.Object, u.NodeClass.Variable):
                    next_frontier.append(node.nodeid)
        frontier = next_frontier
    return nodes


async def _browse_level(client: Any, parents: list[Any]) -> list[list[Any]]:
    """The forward hierarchical references of ``parents``, continuation points followed."""
    u = ua()
    params = u.BrowseParameters()
    params.View = u.ViewDescription()
    params.RequestedMaxReferencesPerNode = 0
    params.NodesToBrowse = [
        u.BrowseDescription(
            NodeId=p,
            BrowseDirection=u.BrowseDirection.Forward,
            ReferenceTypeId=u.NodeId(u.ObjectIds.HierarchicalReferences),
            IncludeSubtypes=True,
            NodeClassMask=0,
            ResultMask=u.BrowseResultMask.All,
        )
        for p in parents
    ]
    out = []
    for result in await client.uaclient.browse(params):
        refs = list(result.References or [])
        point = result.ContinuationPoint
        while point:
            more = await client.uaclient.browse_next(
                u.BrowseNextParameters(ContinuationPoints=[point])
            )
            refs += list(more[0].References or [])
            point = more[0].ContinuationPoint
        out.append(refs)
    return out


def _classify(space: RemoteSpace, key: str, node: _Browsed, tag_keys: list[str]) -> None:
    """File a browsed node under what its NodeId says it is (isa95's scheme)."""
    u = ua()
    if node.node_class == u.NodeClass.Variable and "#" not in key:
        tag_keys.append(key)
        return
    head, sep, rest = key.partition("#")
    if not sep:
        return
    if head == "" and rest == f"{space.site}#PlantTime":
        space.plant_time_id = node.nodeid
    elif rest.startswith("Phases/"):
        phase, _, member = rest.removeprefix("Phases/").partition("#")
        ref = PhaseRef(head, phase)
        if not member and node.node_class == u.NodeClass.Object:
            space.phases[ref] = RemotePhase(node.nodeid)
        elif ref in space.phases and "#" not in member:
            entry = space.phases[ref]
            if member == "State":
                entry.state_id = node.nodeid
            elif member == "Reports":
                entry.reports_id = node.nodeid
            elif member == "RunTime":
                entry.run_time_id = node.nodeid
            elif node.node_class == u.NodeClass.Method:
                with contextlib.suppress(ValueError):
                    entry.methods[Command(member)] = node.nodeid
    elif rest == "PackML#StateCurrent":
        space.packml[head] = node.nodeid
    elif rest.startswith("Diagnostics/"):
        task, _, member = rest.removeprefix("Diagnostics/").partition("#")
        if not member and node.node_class == u.NodeClass.Object:
            space.diagnostics.append((head, task, {}))
        elif member in DIAGNOSTICS and space.diagnostics:
            unit, known, variables = space.diagnostics[-1]
            if (unit, known) == (head, task):
                variables[member] = node.nodeid


async def _read_tag_infos(
    client: Any, space: RemoteSpace, nodes: dict[str, _Browsed], tag_keys: list[str]
) -> None:
    """Data type, description, access level, engineering unit and range of each tag."""
    u = ua()
    attrs = (u.AttributeIds.DataType, u.AttributeIds.Description, u.AttributeIds.AccessLevel)
    items: list[tuple[Any, Any]] = []
    for key in tag_keys:
        items += [(nodes[key].nodeid, a) for a in attrs]
        items += [
            (nodes[f"{key}#{p}"].nodeid, u.AttributeIds.Value)
            for p in _PROPERTIES
            if f"{key}#{p}" in nodes
        ]
    values = iter(await read_attributes(client, items))
    for key in tag_keys:
        dtype, desc, access = next(values), next(values), next(values)
        props = {p: next(values) for p in _PROPERTIES if f"{key}#{p}" in nodes}
        number = dtype.Identifier if dtype is not None and dtype.NamespaceIndex == 0 else None
        iec = _IEC_OF.get(number) if isinstance(number, int) else None
        if iec is None:
            _log.warning("OPC UA: tag %s has a data type Phactory does not serve", key)
            continue
        text = desc.Text if desc is not None and desc.Text else ""
        if text == nodes[key].name:
            text = ""  # the server describes an undescribed tag by its name
        eu, rng = props.get("EngineeringUnits"), props.get("EURange")
        unit = ""
        if eu is not None and iec != "TIME":  # TIME is served in ms, the plant has ns
            unit = _UNIT_OF.get(eu.UnitId) or (eu.DisplayName.Text or "")
        writable = bool(int(access or 0) & u.AccessLevel.CurrentWrite.mask)
        info = TagInfo(
            path=key,
            data_type=iec,
            unit=unit,
            low=float(rng.Low) if rng is not None else None,
            high=float(rng.High) if rng is not None else None,
            description=text,
            access="setpoint" if writable else "read",
        )
        to_ua, from_ua = converters(iec)
        if DATA_TYPES[iec][0] == "Float":
            from_ua = shortest_float32
        variant = getattr(u.VariantType, DATA_TYPES[iec][0])
        space.tags[key] = RemoteTag(info, nodes[key].nodeid, variant, to_ua, from_ua)
        space.order.append(info)


async def read_attributes(client: Any, items: list[tuple[Any, Any]]) -> list[Any]:
    """Read ``(NodeId, AttributeId)`` pairs in as few requests as it takes; ``None`` where
    the server has no good value."""
    u = ua()
    out: list[Any] = []
    for i in range(0, len(items), CHUNK):
        params = u.ReadParameters()
        params.NodesToRead = [
            u.ReadValueId(NodeId=n, AttributeId=a) for n, a in items[i : i + CHUNK]
        ]
        for dv in await client.uaclient.read(params):
            good = dv.StatusCode is None or dv.StatusCode.is_good()
            out.append(dv.Value.Value if good and dv.Value is not None else None)
    return out


async def read_data_values(client: Any, ids: list[Any]) -> list[Any]:
    """The ``DataValue`` of each of ``ids`` (their Value attribute, with source and server
    timestamps), in as few Read requests as it takes; statuses unchecked."""
    u = ua()
    out: list[Any] = []
    for i in range(0, len(ids), CHUNK):
        params = u.ReadParameters()
        params.TimestampsToReturn = u.TimestampsToReturn.Both
        params.NodesToRead = [
            u.ReadValueId(NodeId=n, AttributeId=u.AttributeIds.Value) for n in ids[i : i + CHUNK]
        ]
        out += await client.uaclient.read(params)
    return out


def reports_of(text: Any) -> dict[str, float]:
    """A phase's ``Reports`` (JSON text, as served) as values; ``null`` (not finite) is
    NaN."""
    data = json.loads(text) if text else {}
    return {k: (math.nan if v is None else float(v)) for k, v in data.items()}


def code_name(code: Any) -> str:
    """The name of a status code (``BadUserAccessDenied``), its number if unknown."""
    from asyncua.ua.status_codes import get_name_and_doc

    value = int(code.value if hasattr(code, "value") else code) & 0xFFFF0000  # no info bits
    name = str(get_name_and_doc(value)[0])
    return name if name not in ("Bad", "Uncertain", "Good") else f"{name} 0x{value:08X}"


def shortest_float32(value: Any) -> float:
    """A ``REAL`` (32-bit float) as the shortest decimal that is the same float32:
    ``30.8``, not ``30.799999237060547`` (the float32 nearest 30.8, widened)."""
    x = float(value)
    if not math.isfinite(x):
        return x
    (wide,) = struct.unpack("f", struct.pack("f", x))
    for digits in range(6, 10):
        short = float(f"{wide:.{digits}g}")
        if struct.unpack("f", struct.pack("f", short))[0] == wide:
            return short
    return float(wide)


def to_ua_value(tag: RemoteTag, value: bool | int | float | str) -> Any:
    """A plant value as the tag's OPC UA value.

    Raises
    ------
    InvalidError
        A value of the wrong type for the tag (a number for a BOOL, a fraction for a
        DINT, ...).
    """
    iec = tag.info.data_type
    name = DATA_TYPES[iec][0]
    if name == "Boolean":
        ok = isinstance(value, bool)
    elif name == "String":
        ok = isinstance(value, str)
    else:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok and name not in ("Float", "Double") and iec != "TIME":
            ok = float(value).is_integer()
    if not ok:
        raise InvalidError(f"tag {tag.info.path} ({iec}) takes no {value!r}")
    try:
        return tag.to_ua(value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidError(f"tag {tag.info.path} ({iec}) takes no {value!r}") from None
