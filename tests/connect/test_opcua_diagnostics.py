"""Scan statistics in the address space: each unit's ``Diagnostics``, one object a task.

A :class:`StatsPlant` (the small test plant with two controller tasks whose statistics
follow its scans) is served over a real socket; an asyncua client browses to the
variables, checks their types and engineering units, and watches the values move.
Expected values are computed by hand from :meth:`StatsPlant.scan_stats` (times in ms).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from phactory.connect.opcua import ServerThread
from phactory.connect.opcua.isa95 import DIAGNOSTICS, check_plant, diagnostics_values
from phactory.connect.opcua.units import unit_id
from phactory.control.view import ScanStats, TagInfo
from phactory.errors import InvalidError

from .conftest import Served, connect, eventually, run
from .plant import REACTOR, TANK, SmallPlant


class StatsPlant(SmallPlant):
    """The small plant with a controller task per unit whose statistics follow the scans:
    after ``n`` scans the reactor's task has ``n`` scans, a mean of ``1 + n/10`` ms and one
    overrun every 4 scans; the tank's task (500 ms) never changes but for its scans."""

    def scan_stats(self) -> Sequence[ScanStats]:
        with self._lock:
            n = int(self._values[f"{REACTOR}/scans"])
        return (
            ScanStats("main", REACTOR, 0.1, n, n // 4, 0.0005, 0.001 + n * 1e-4, 0.004, 0.0002),
            ScanStats("slow", TANK, 0.5, n, 0, 0.002, 0.002, 0.002, 0.0),
        )


@pytest.fixture(scope="module")
def served(pki_dir: Path) -> Iterator[Served]:
    plant = StatsPlant()
    with ServerThread(
        plant, port=0, insecure=True, pki_dir=pki_dir, state_poll_s=0.02, diagnostics_s=0.05
    ) as server:
        yield Served(plant, server)


def _nid(served: Served, unit: str, task: str, name: str) -> str:
    return served.nid(f"{unit}#Diagnostics/{task}#{name}")


def test_diagnostics_browse_path_and_node_ids(served: Served) -> None:
    ns = served.server.namespace_index
    path = ["test-site", "area1", "cell1", "reactor", "Diagnostics", "main"]

    async def body() -> tuple[str, list[str], str]:
        async with connect(served.endpoint, None) as c:
            node = c.nodes.objects
            for name in path:
                node = await node.get_child(f"{ns}:{name}")
            names = sorted([(await ch.read_browse_name()).Name for ch in await node.get_children()])
            typedef = c.get_node(await node.read_type_definition())
            return node.nodeid.to_string(), names, (await typedef.read_browse_name()).Name

    nodeid, names, typedef = run(body())
    assert nodeid == f"ns={ns};s={REACTOR}#Diagnostics/main"
    assert names == sorted(DIAGNOSTICS)
    assert typedef == "BaseObjectType"


def test_counts_are_uint64_and_times_double_in_ms(served: Served) -> None:
    async def describe(c: Any, name: str) -> tuple[str, str, Any]:
        node = c.get_node(_nid(served, TANK, "slow", name))
        vtype = (await node.read_data_type_as_variant_type()).name
        typedef = (await c.get_node(await node.read_type_definition()).read_browse_name()).Name
        eu = None
        for prop in await node.get_properties():
            if (await prop.read_browse_name()).Name == "EngineeringUnits":
                value = await prop.read_value()
                eu = (value.UnitId, value.DisplayName.Text)
        return vtype, typedef, eu

    async def body() -> dict[str, tuple[str, str, Any]]:
        async with connect(served.endpoint, None) as c:
            return {name: await describe(c, name) for name in DIAGNOSTICS}

    got = run(body())
    ms = (unit_id("C26"), "ms")
    assert got == {
        "Scans": ("UInt64", "BaseDataVariableType", None),
        "Overruns": ("UInt64", "BaseDataVariableType", None),
        "MinScanTime": ("Double", "BaseAnalogType", ms),
        "MeanScanTime": ("Double", "BaseAnalogType", ms),
        "MaxScanTime": ("Double", "BaseAnalogType", ms),
        "JitterP99": ("Double", "BaseAnalogType", ms),
        "Period": ("Double", "BaseAnalogType", ms),
    }


def test_values_follow_the_plant_and_only_changes_are_written(served: Served) -> None:
    plant = served.plant
    names = ("Scans", "Overruns", "MeanScanTime", "MaxScanTime", "Period")

    async def read_all(c: Any) -> dict[str, Any]:
        out = {}
        for name in names:
            dv = await c.get_node(_nid(served, REACTOR, "main", name)).read_data_value()
            out[name] = (dv.Value.Value, dv.SourceTimestamp)
        return out

    async def body() -> tuple[dict[str, Any], dict[str, Any], int]:
        async with connect(served.endpoint, None) as c:
            before = await read_all(c)
            for _ in range(8):
                plant.scan()
            n = int(plant.read([f"{REACTOR}/scans"])[0])
            after = await eventually(lambda: read_all(c), lambda v: v["Scans"][0] == n)
            return before, after, n

    before, after, n = run(body())
    assert after["Scans"][0] == n and n >= before["Scans"][0] + 8
    assert after["Overruns"][0] == n // 4
    assert after["MeanScanTime"][0] == pytest.approx(1.0 + n * 0.1)  # [ms]
    assert after["MaxScanTime"][0] == pytest.approx(4.0)
    assert after["Period"][0] == pytest.approx(100.0)
    # values that did not change were not written again: same source timestamp
    assert after["Period"][1] == before["Period"][1]
    assert after["MaxScanTime"][1] == before["MaxScanTime"][1]
    assert after["Scans"][1] > before["Scans"][1]


def test_diagnostics_values_convert_to_counts_and_ms() -> None:
    stats = ScanStats("t", "a/c/u", 0.1, 12, 3, 0.0001, 0.00025, math.inf, 0.0015)
    got = diagnostics_values(stats)
    assert got["Scans"] == 12 and isinstance(got["Scans"], int)
    assert got["Overruns"] == 3
    assert got["MinScanTime"] == pytest.approx(0.1)
    assert got["MeanScanTime"] == pytest.approx(0.25)
    assert math.isnan(got["MaxScanTime"])  # not finite: served as NaN
    assert got["JitterP99"] == pytest.approx(1.5)
    assert got["Period"] == pytest.approx(100.0)


def test_a_tag_named_diagnostics_is_refused() -> None:
    class Clash(SmallPlant):
        def tags(self) -> Sequence[TagInfo]:
            return (*super().tags(), TagInfo(f"{REACTOR}/Diagnostics", "REAL"))

    with pytest.raises(InvalidError, match="Diagnostics"):
        check_plant(Clash())


def test_a_plant_without_statistics_has_no_diagnostics(insecure: Served) -> None:
    """SmallPlant reports no statistics: its units have no Diagnostics folder."""

    async def body() -> list[str]:
        async with connect(insecure.endpoint, None) as c:
            node = c.get_node(insecure.nid(REACTOR))
            return [(await ch.read_browse_name()).Name for ch in await node.get_children()]

    names = run(body())
    assert "Phases" in names and "PackML" in names and "Diagnostics" not in names
