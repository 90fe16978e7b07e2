"""The address space: ISA-95 browse paths, tags with EngineeringUnits and EURange, phases
with their ISA-88 methods, PackML unit states; values following the plant.

Expected values are written out by hand from :mod:`tests.connect.plant` and the standards
(UNECE Rec 20 codes, OPC 30050 state numbers).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import pytest
from asyncua import ua
from asyncua.ua.uaerrors import UaError
from hypothesis import given
from hypothesis import strategies as st

from phactory.batch.states import Command, State
from phactory.connect.opcua import PlantServer
from phactory.connect.opcua.isa95 import check_plant
from phactory.connect.opcua.phases import parse_parameters, reports_json
from phactory.connect.opcua.units import eu_information, unit_id
from phactory.control.view import PackMLState, PhaseRef, TagInfo
from phactory.errors import InvalidError

from .conftest import USERS, Served, connect, eventually, run
from .plant import REACTOR, TANK, SmallPlant

ERIN = ("erin", USERS["erin"][0])


def test_isa95_browse_path_from_objects(insecure: Served) -> None:
    ns = insecure.server.namespace_index
    path = ["test-site", "area1", "cell1", "reactor", "agitator", "SI201"]

    async def body() -> tuple[str, list[str]]:
        async with connect(insecure.endpoint, None) as c:
            node = c.nodes.objects
            types = []
            for name in path[:-1]:
                node = await node.get_child(f"{ns}:{name}")
                typedef = c.get_node(await node.read_type_definition())
                types.append((await typedef.read_browse_name()).Name)
            tag = await node.get_child(f"{ns}:{path[-1]}")
            return tag.nodeid.to_string(), types

    nodeid, types = run(body())
    assert nodeid == f"ns={ns};s=area1/cell1/reactor/agitator/SI201"
    assert types == ["SiteType", "AreaType", "ProcessCellType", "UnitType", "EquipmentModuleType"]


def test_tags_have_their_data_type_units_and_range(insecure: Served) -> None:
    async def props(c: Any, path: str) -> dict[str, Any]:
        node = c.get_node(insecure.nid(path))
        out: dict[str, Any] = {
            "type": (await node.read_data_type_as_variant_type()).name,
            "typedef": (
                await c.get_node(await node.read_type_definition()).read_browse_name()
            ).Name,
            "description": (await node.read_description()).Text,
        }
        for child in await node.get_properties():
            name = (await child.read_browse_name()).Name
            value = await child.read_value()
            if name == "EngineeringUnits":
                out[name] = (value.UnitId, value.DisplayName.Text)
            elif name == "EURange":
                out[name] = (value.Low, value.High)
        return out

    async def body() -> dict[str, dict[str, Any]]:
        async with connect(insecure.endpoint, None) as c:
            return {
                p: await props(c, f"{REACTOR}/{p}")
                for p in ("TT101", "LT301", "pH", "XV401", "batch_id", "scans", "hold_time")
            }

    got = run(body())
    assert got["TT101"] == {
        "type": "Float",
        "typedef": "AnalogItemType",
        "description": "reactor temperature",
        "EngineeringUnits": (4408652, "°C"),  # UNECE CEL
        "EURange": (0.0, 150.0),
    }
    assert got["LT301"]["type"] == "Double"
    assert got["LT301"]["EngineeringUnits"] == (unit_id("LTR"), "L")
    # no range: BaseAnalogType, no EURange; a unit without UNECE code keeps its text
    assert got["pH"] == {
        "type": "Float",
        "typedef": "BaseAnalogType",
        "description": "broth pH (no range known)",
        "EngineeringUnits": (-1, "pH"),
    }
    assert got["XV401"] == {
        "type": "Boolean",
        "typedef": "BaseDataVariableType",
        "description": "inlet valve open",
    }
    assert got["batch_id"]["type"] == "String"
    assert got["scans"]["type"] == "Int32"
    assert got["hold_time"]["type"] == "Double"  # Duration [ms]
    assert got["hold_time"]["EngineeringUnits"] == (unit_id("C26"), "ms")


def test_time_values_are_served_as_durations_in_ms(insecure: Served) -> None:
    async def body() -> tuple[float, str]:
        async with connect(insecure.endpoint, None) as c:
            node = c.get_node(insecure.nid(f"{REACTOR}/hold_time"))
            dtype = c.get_node(await node.read_data_type())
            return await node.read_value(), (await dtype.read_browse_name()).Name

    assert run(body()) == (60_000.0, "Duration")  # 60 s in the plant [ns]


def test_setpoints_are_writable_and_measurements_not(insecure: Served) -> None:
    async def body() -> dict[str, int]:
        async with connect(insecure.endpoint, None) as c:
            return {
                p: await c.get_node(insecure.nid(f"{REACTOR}/{p}")).read_attribute(
                    ua.AttributeIds.AccessLevel
                )
                for p in ("TT101", "TIC101_SP")
            }

    levels = {k: v.Value.Value for k, v in run(body()).items()}
    assert levels == {"TT101": 1, "TIC101_SP": 3}  # CurrentRead, CurrentRead|CurrentWrite


def test_values_follow_the_plant_through_a_subscription(secure: Served, client_cert) -> None:
    plant = secure.plant
    scans = f"{REACTOR}/scans"

    class Handler:
        def __init__(self) -> None:
            self.values: list[int] = []

        def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
            self.values.append(val)

    async def body() -> tuple[list[int], int]:
        handler = Handler()
        async with connect(secure.endpoint, client_cert, *ERIN) as c:
            sub = await c.create_subscription(20, handler)
            await sub.subscribe_data_change(c.get_node(secure.nid(scans)))
            for _ in range(5):
                plant.scan()
                await asyncio.sleep(0.05)
            last = int(plant.read([scans])[0])
            for _ in range(100):
                if handler.values and handler.values[-1] == last:
                    break
                await asyncio.sleep(0.02)
            await sub.delete()
        return handler.values, last

    values, last = run(body())
    assert values[-1] == last
    assert len(values) >= 4  # the initial value and most scans (fast ones may coalesce)
    assert values == sorted(values)


def test_a_phase_runs_through_its_states_over_opcua(secure: Served, client_cert) -> None:
    plant = secure.plant
    ref = PhaseRef(REACTOR, "heat")
    base = f"{REACTOR}#Phases/heat"

    async def body() -> dict[str, Any]:
        ns = secure.server.namespace_index
        out: dict[str, Any] = {}
        async with connect(secure.endpoint, client_cert, *ERIN) as c:
            phase = c.get_node(secure.nid(base))
            state = c.get_node(secure.nid(f"{base}#State"))
            packml = c.get_node(secure.nid(f"{REACTOR}#PackML#StateCurrent"))
            name = c.get_node(secure.nid(f"{REACTOR}#PackML#StateCurrentName"))
            methods = [(await m.read_browse_name()).Name for m in await phase.get_methods()]
            out["methods"] = sorted(methods)
            await phase.call_method(f"{ns}:Start", json.dumps({"temperature": 37.0}))
            out["after start"] = (await state.read_value(), await packml.read_value())
            try:
                await phase.call_method(f"{ns}:Start", "")
            except UaError as exc:
                out["start again"] = type(exc).__name__
            for _ in range(plant.run_scans):
                plant.scan()
            out["done"] = await eventually(state.read_value, lambda v: v == "Complete")
            out["packml"] = (await packml.read_value(), await name.read_value())
            reports = c.get_node(secure.nid(f"{base}#Reports"))
            out["reports"] = json.loads(await reports.read_value())
            await phase.call_method(f"{ns}:Reset")
            out["after reset"] = await state.read_value()
        return out

    out = run(body())
    assert out["methods"] == sorted(c.value for c in Command)
    assert out["after start"] == ("Running", PackMLState.EXECUTE)  # 6
    assert out["start again"] == "BadInvalidState"  # ISA-88: Start only from Idle
    assert out["done"] == "Complete"
    assert out["packml"] == (17, "Complete")  # OPC 30050 Complete
    assert out["reports"] == {"duration": pytest.approx(0.3), "temperature": 37.0}
    assert out["after reset"] == "Idle"
    assert plant.phase_state(ref) is State.IDLE


@pytest.mark.parametrize(
    ("parameters", "status"),
    [
        ("not json", "BadInvalidArgument"),
        ('["a list"]', "BadInvalidArgument"),
        ('{"temperature": "hot"}', "BadInvalidArgument"),
        ('{"pressure": 2.0}', "BadInvalidArgument"),  # the plant does not know it
    ],
)
def test_bad_start_parameters_are_refused(insecure: Served, parameters: str, status: str) -> None:
    ref = PhaseRef(REACTOR, "heat")

    async def body() -> str:
        ns = insecure.server.namespace_index
        async with connect(insecure.endpoint, None) as c:
            phase = c.get_node(insecure.nid(f"{REACTOR}#Phases/heat"))
            try:
                await phase.call_method(f"{ns}:Start", parameters)
            except UaError as exc:
                return type(exc).__name__
        return "accepted"

    assert run(body()) == status
    assert insecure.plant.phase_state(ref) is State.IDLE


def test_start_declares_its_parameters_argument(insecure: Served) -> None:
    async def body() -> list[tuple[str, int]]:
        async with connect(insecure.endpoint, None) as c:
            start = c.get_node(insecure.nid(f"{TANK}#Phases/transfer#Start"))
            args = await (await start.get_child("0:InputArguments")).read_value()
            return [(a.Name, a.DataType.Identifier) for a in args]

    assert run(body()) == [("Parameters", 12)]  # String


def test_engineering_units_of_phactory_unit_text() -> None:
    assert unit_id("CEL") == 4408652  # OPC 10000-8 §5.6.3 example
    assert eu_information("degC").display_name == "°C"
    assert eu_information("g/L").unit_id == unit_id("GL")
    assert eu_information("%").unit_id == unit_id("P1")
    assert eu_information("rpm").unit_id == unit_id("RPM")
    assert eu_information("bar").unit_id == unit_id("BAR")
    assert eu_information("cells/mL").unit_id == -1
    assert eu_information("cells/mL").display_name == "cells/mL"


@given(
    st.dictionaries(
        st.text(min_size=1, max_size=8), st.floats(allow_nan=False, allow_infinity=False)
    )
)
def test_start_parameters_round_trip_through_json(parameters: dict[str, float]) -> None:
    assert parse_parameters(json.dumps(parameters)) == parameters


def test_reports_json_is_valid_json_without_nan() -> None:
    text = reports_json({"b": 1.5, "a": float("nan"), "c": 2})
    assert json.loads(text) == {"a": None, "b": 1.5, "c": 2}
    with pytest.raises(InvalidError):
        parse_parameters('{"x": NaN}')


class _BadPlant(SmallPlant):
    """The small plant with tags and phases the server cannot serve."""

    def tags(self) -> Sequence[TagInfo]:
        return (
            *super().tags(),
            TagInfo("area1/reactor/TT9", "REAL"),  # no cell
            TagInfo(f"{REACTOR}/TT8", "DATE_AND_TIME"),
            TagInfo(f"{REACTOR}/agitator", "REAL"),  # the module's path
            TagInfo(f"{REACTOR}/Phases", "BOOL"),
        )

    def phases(self) -> Sequence[PhaseRef]:
        return (*super().phases(), PhaseRef("area1/reactor", "charge"))


def test_a_plant_that_cannot_be_served_is_refused_with_every_problem(pki_dir) -> None:
    with pytest.raises(InvalidError) as err:
        check_plant(_BadPlant())
    message = str(err.value)
    for part in (
        "'area1/reactor/TT9': expected an ISA-95 path",
        "'area1/cell1/reactor/TT8': data type 'DATE_AND_TIME'",
        "'area1/cell1/reactor/agitator' has the path of an equipment module",
        "'area1/cell1/reactor/Phases'",
        "unit 'area1/reactor' is not an ISA-95 path",
    ):
        assert part in message
    # the server refuses it before starting asyncua
    server = PlantServer(_BadPlant(), port=0, insecure=True, pki_dir=pki_dir)
    with pytest.raises(InvalidError):
        run(server.start())
    assert check_plant(SmallPlant()) == [REACTOR, TANK]
