"""The batch engine's phase driver on controllers over OPC UA (issue 14, scope item 5).

Against :class:`~tests.connect.plant.SmallPlant` (a reactor with ``charge`` and ``heat``,
a tank with ``transfer``) served by a secure :class:`ServerThread`, with set-point
variables for the parameters of ``charge`` (``volume`` in L) and ``heat``
(``temperature`` in degC) and none for ``transfer``: recipe phases mapped onto the
controller's phases (units converted, ranges checked, refusals naming phase and unit),
reports turned into samples, Hold / Restart / Stop / Abort passed on, an engine
restarted mid-phase taking the controller's run over instead of starting it twice, the
phase's state and run time arriving by the plant's subscription (no Read per poll), and
a lost connection raising a clear error. Then the batch engine itself on these
controllers: a batch to Complete with its samples, an out-of-limit report raising a
deviation, recovery after a crash, the batch held when the subscription falls silent,
and ``phactory batch run --controllers`` holding the batch when the connection drops.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from phactory.batch import BatchEngine, State
from phactory.batch.control_recipe import (
    BoundParameter,
    ControlOperation,
    ControlPhase,
    ControlRecipe,
    ControlUnitProcedure,
)
from phactory.batch.states import Command
from phactory.connect.opcua import ServerThread, StaticAuthenticator
from phactory.connect.opcua.remote import RemotePlant
from phactory.connect.phase_driver import ControllerDrivers, ControllerPhase, ParameterSpec
from phactory.control.view import PhaseRef, TagInfo
from phactory.errors import (
    DeniedError,
    InvalidError,
    NotFoundError,
    UnavailableError,
)
from phactory.model import Site
from phactory.records import RecordService, default_hasher

from .conftest import USERS
from .plant import REACTOR, TANK, SmallPlant
from .test_remote_plant import reads_of

HEAT = PhaseRef(REACTOR, "heat")
CHARGE = PhaseRef(REACTOR, "charge")
TRANSFER = PhaseRef(TANK, "transfer")
OTTO, VERA = ("otto", USERS["otto"][0]), ("vera", USERS["vera"][0])


class ParamPlant(SmallPlant):
    """SmallPlant with set-point variables for the parameters of ``charge`` and ``heat``,
    and a bias added to reports (a faulty sensor)."""

    PARAMS = (
        TagInfo(f"{REACTOR}/charge/volume", "REAL", "L", 0.0, 2000.0, "charge volume",
                "setpoint"),
        TagInfo(f"{REACTOR}/heat/temperature", "REAL", "degC", 0.0, 150.0, "heat to",
                "setpoint"),
    )  # fmt: skip

    def __init__(self) -> None:
        super().__init__(run_scans=3)
        self._info.update({t.path: t for t in self.PARAMS})
        self._values.update({t.path: 0.0 for t in self.PARAMS})
        self.bias: dict[str, float] = {}

    def tags(self) -> tuple[TagInfo, ...]:
        return (*super().tags(), *self.PARAMS)

    def reports(self, ref: PhaseRef) -> dict[str, float]:
        out = super().reports(ref)
        return {k: v + self.bias.get(k, 0.0) for k, v in out.items()}

    def idle(self) -> None:
        """Every phase Idle again, commands and bias forgotten."""
        for _ in range(5):
            for ref in self.phases():
                state = self.phase_state(ref)
                if state in (State.COMPLETE, State.STOPPED, State.ABORTED):
                    self.command(ref, Command.RESET)
                elif state is not State.IDLE and state not in (State.STOPPING, State.ABORTING):
                    self.command(ref, Command.ABORT)
            self.scan()
        assert all(self.phase_state(r) is State.IDLE for r in self.phases())
        self.commands.clear()
        self.bias.clear()

    def starts(self, ref: PhaseRef) -> int:
        return sum(1 for r, c, _ in self.commands if r == ref and c is Command.START)


class Scanner:
    """Scans the plant every 10 ms in a thread while ``on`` is set."""

    def __init__(self, plant: SmallPlant) -> None:
        self.plant = plant
        self.on = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            if self.on.is_set():
                self.plant.scan()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def serve(plant: SmallPlant, pki_dir: Path) -> ServerThread:
    return ServerThread(
        plant, port=0, authenticator=StaticAuthenticator(USERS), pki_dir=pki_dir,
        state_poll_s=0.03,
    )  # fmt: skip


def remote(url: str, pki_dir: Path, who: tuple[str, str] = OTTO) -> RemotePlant:
    return RemotePlant(url, user=who[0], password=who[1], pki_dir=pki_dir, timeout_s=5.0)


@pytest.fixture(scope="module")
def served(pki_dir: Path) -> Iterator[tuple[ParamPlant, str]]:
    plant = ParamPlant()
    with serve(plant, pki_dir) as server:
        yield plant, server.endpoint


@pytest.fixture(scope="module")
def link(served: tuple[ParamPlant, str], pki_dir: Path) -> Iterator[RemotePlant]:
    """The engine's session to the controllers (an operator)."""
    with remote(served[1], pki_dir) as plant:
        yield plant


@pytest.fixture
def plant(served: tuple[ParamPlant, str], link: RemotePlant) -> ParamPlant:
    """The plant with every phase Idle, as its server shows it."""
    served[0].idle()
    for unit, name in (("reactor", "charge"), ("reactor", "heat"), ("tank", "transfer")):
        seen(link, unit, name, State.IDLE)
    return served[0]


def until(check: Callable[[], Any], timeout_s: float = 10.0) -> Any:
    """Call ``check`` until it returns something true; that."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            assert value, "condition not reached"
            return value
        time.sleep(0.01)


def seen(link: RemotePlant, unit: str, name: str, state: State) -> None:
    """Wait until the server shows the phase in ``state`` (it polls the plant)."""
    ref = PhaseRef(f"area1/cell1/{unit}", name)
    until(lambda: link.phase_state(ref) is state)


def param(name: str, sp: float | None, low: float, high: float, unit: str) -> BoundParameter:
    return BoundParameter(name=name, setpoint=sp, low=low, high=high, unit=unit)


def phase(name: str, unit: str = "reactor", *params: BoundParameter,
          duration_h: float = 1.0) -> ControlPhase:  # fmt: skip
    return ControlPhase(path=f"up/op/{name}", unit_procedure="up", operation="op", phase=name,
                        kind="automatic", duration_h=duration_h, unit=unit,
                        parameters=params)  # fmt: skip


def drive(driver: ControllerPhase, plant: SmallPlant, timeout_s: float = 10.0) -> Any:
    """Scan and poll until the driver reports the phase done or failed; the progress."""

    def step() -> Any:
        plant.scan()
        progress = driver.poll()
        return progress if (progress.done or progress.failed) else None

    return until(step, timeout_s)


# -- finding the controllers' phases ----------------------------------------------------


def test_the_drivers_find_the_units_phases_and_the_parameters_each_phase_declares(
    link: RemotePlant,
) -> None:
    drivers = ControllerDrivers(link)
    assert drivers.site == "test-site"
    heat = drivers.phase("reactor", "heat")
    assert (heat.unit, heat.ref, heat.what) == ("reactor", HEAT, "phase heat on unit reactor")
    assert heat.parameters == {"temperature": ParameterSpec("temperature", "degC", 0.0, 150.0)}
    assert drivers.phase("reactor", "charge").parameters == {
        "volume": ParameterSpec("volume", "L", 0.0, 2000.0)  # from the tag's EngineeringUnits
    }
    assert drivers.phase("tank", "transfer").parameters is None  # the plant declares none


def test_what_cannot_map_is_refused_naming_the_phase_and_the_unit(link: RemotePlant) -> None:
    drivers = ControllerDrivers(link)
    with pytest.raises(NotFoundError, match=r"unit mixer has no controller at opc\.tcp://"):
        drivers(phase("heat", "mixer")).start(phase("heat", "mixer"))
    with pytest.raises(NotFoundError, match=r"unit reactor has no equipment phase 'cool'.*"
                                            r"its phases: charge, heat"):  # fmt: skip
        drivers(phase("cool")).start(phase("cool"))
    bad = phase(
        "charge",
        "reactor",
        param("volume", 3000.0, 0.0, 5000.0, "L"),  # beyond the controller's 2000 L
        param("speed", 50.0, 0.0, 100.0, "%"),  # not a parameter of the controller's phase
    )
    with pytest.raises(InvalidError) as err:
        drivers(bad).start(bad)
    text = str(err.value)
    assert text.startswith("phase charge on unit reactor (step up/op/charge) cannot run")
    assert "volume: set point 3000 L lies outside the controller's range [0.0, 2000.0] L" in text
    assert "speed: the controller's phase does not take it (it takes volume)" in text
    kg = phase("charge", "reactor", param("volume", 5.0, 0.0, 10.0, "kg"))
    with pytest.raises(InvalidError, match="unit 'kg' cannot be converted to the controller's 'L'"):
        drivers(kg).start(kg)


def test_a_batch_is_checked_against_the_controllers_all_problems_at_once(
    link: RemotePlant,
) -> None:
    bad = phase("charge", "", param("volume", 3000.0, 0.0, 5000.0, "L"))
    recipe = ControlRecipe(
        batch_id="B9", site_id="test-site", recipe_id="r", recipe_version="1", product="p",
        unit_procedures=(
            ControlUnitProcedure(
                id="up", equipment_class="vessel", candidates=("reactor", "mixer"),
                operations=(ControlOperation(id="op", phases=(bad, phase("heat", ""))),),
            ),
        ),
    )  # fmt: skip
    problems = ControllerDrivers(link).problems(recipe)
    assert len(problems) == 3, problems
    assert problems[0].startswith(
        "step up/op/charge, phase charge on unit reactor: parameter volume"
    )
    assert problems[1].startswith("step up/op/charge: unit mixer has no controller")
    assert problems[2].startswith("step up/op/heat: unit mixer has no controller")
    other = recipe.model_copy(update={"site_id": "elsewhere"})
    with pytest.raises(InvalidError, match="batch B9 is of site elsewhere, the controllers at"):
        ControllerDrivers(link).check(other)


# -- running a phase --------------------------------------------------------------------


def test_a_phase_runs_with_set_points_in_the_controllers_units_and_reports_as_samples(
    link: RemotePlant, plant: ParamPlant
) -> None:
    ph = phase("charge", "reactor", param("volume", 500_000.0, 400_000.0, 600_000.0, "mL"))
    driver = ControllerDrivers(link)(ph)
    driver.start(ph)
    assert plant.commands == [(CHARGE, Command.START, {"volume": 500.0})]  # L, not mL
    progress = drive(driver, plant)
    assert progress.done and progress.failed is None
    assert progress.elapsed_h == pytest.approx(0.3 / 3600)  # RunTime: 3 scans of 0.1 s
    (sample,) = progress.samples
    assert (sample.parameter, sample.unit, sample.index) == ("volume", "mL", 1)
    assert sample.value == pytest.approx(500_000.0)  # the report, back in the recipe's unit
    # ISA-88: the recipe resets a complete phase once it has its results
    assert plant.commands[-1][:2] == (CHARGE, Command.RESET)
    assert plant.phase_state(CHARGE) is State.IDLE
    assert driver.poll().done and not driver.poll().samples  # reported once


def test_a_phase_without_declared_parameters_gets_the_set_points_as_they_are(
    link: RemotePlant, plant: ParamPlant
) -> None:
    ph = phase("transfer", "tank", param("volume", 450.0, 400.0, 500.0, "L"))
    driver = ControllerDrivers(link)(ph)
    driver.start(ph)
    assert plant.commands == [(TRANSFER, Command.START, {"volume": 450.0})]
    progress = drive(driver, plant)
    assert [(s.parameter, s.value) for s in progress.samples] == [("volume", 450.0)]
    refused = phase("transfer", "tank", param("speed", 5.0, 0.0, 10.0, "%"))
    expected = 'phase transfer of area1/cell1/tank: Start refused: parameters {"speed": 5.0}'
    with pytest.raises(InvalidError, match=re.escape(expected)):
        ControllerDrivers(link)(refused).start(refused)


def test_hold_restart_stop_and_abort_are_passed_on(link: RemotePlant, plant: ParamPlant) -> None:
    ph = phase("heat", "reactor", param("temperature", 37.0, 36.0, 38.0, "degC"))
    drivers = ControllerDrivers(link)
    driver = drivers(ph)
    driver.start(ph)
    driver.hold()
    assert plant.phase_state(HEAT) is State.HOLDING
    plant.scan()
    driver.restart()  # waits for Held, then Restart
    assert plant.phase_state(HEAT) is State.RESTARTING
    plant.scan()
    driver.stop()
    assert plant.phase_state(HEAT) is State.STOPPING
    plant.scan()
    assert [c for r, c, _ in plant.commands if r == HEAT] == [
        Command.START, Command.HOLD, Command.RESTART, Command.STOP,
    ]  # fmt: skip
    seen(link, "reactor", "heat", State.STOPPED)
    again = drivers(ph)
    again.start(ph)  # a phase left Stopped is reset, then started
    assert [c for r, c, _ in plant.commands if r == HEAT][-2:] == [Command.RESET, Command.START]
    again.abort()
    plant.scan()
    assert plant.phase_state(HEAT) is State.ABORTED


def test_a_phase_ended_on_the_controller_fails_the_step(
    link: RemotePlant, plant: ParamPlant
) -> None:
    ph = phase("heat", "reactor", param("temperature", 37.0, 36.0, 38.0, "degC"))
    driver = ControllerDrivers(link)(ph)
    driver.start(ph)
    plant.command(HEAT, Command.ABORT)  # at a SCADA
    progress = drive(driver, plant)
    assert progress.failed == (
        "phase heat on unit reactor: the controller's phase ended Aborted before it completed"
    )


# -- crash safety -----------------------------------------------------------------------


def test_an_engine_restarted_mid_phase_takes_the_run_over_not_starting_it_twice(
    link: RemotePlant, plant: ParamPlant
) -> None:
    ph = phase("heat", "reactor", param("temperature", 37.0, 36.0, 38.0, "degC"))
    ControllerDrivers(link)(ph).start(ph)  # the engine that crashed
    plant.scan()
    assert plant.phase_state(HEAT) is State.RUNNING
    fresh = ControllerDrivers(link)(ph)  # the engine restarted: nothing recorded yet
    fresh.start(ph, elapsed_h=0.0)
    assert plant.starts(HEAT) == 1
    progress = drive(fresh, plant)
    assert progress.done and progress.samples[0].value == 37.0
    assert plant.starts(HEAT) == 1


def test_a_run_that_completed_while_no_engine_watched_is_taken_over(
    link: RemotePlant, plant: ParamPlant
) -> None:
    ph = phase("heat", "reactor", param("temperature", 37.0, 36.0, 38.0, "degC"))
    ControllerDrivers(link)(ph).start(ph)
    for _ in range(3):
        plant.scan()
    assert plant.phase_state(HEAT) is State.COMPLETE
    seen(link, "reactor", "heat", State.COMPLETE)
    fresh = ControllerDrivers(link)(ph)
    fresh.start(ph)
    progress = until(lambda: (p := fresh.poll()).done and p)
    assert [s.value for s in progress.samples] == [37.0]
    assert plant.starts(HEAT) == 1


def test_a_run_held_on_the_controller_is_restarted_by_the_new_engine(
    link: RemotePlant, plant: ParamPlant
) -> None:
    ph = phase("heat", "reactor", param("temperature", 37.0, 36.0, 38.0, "degC"))
    old = ControllerDrivers(link)(ph)
    old.start(ph)
    old.hold()  # a runner told to stop holds its phases
    plant.scan()
    seen(link, "reactor", "heat", State.HELD)
    fresh = ControllerDrivers(link)(ph)
    fresh.start(ph, elapsed_h=0.0)
    assert [c for r, c, _ in plant.commands if r == HEAT] == [
        Command.START, Command.HOLD, Command.RESTART,
    ]  # fmt: skip
    assert drive(fresh, plant).done


# -- following the phase by subscription --------------------------------------------------


def test_the_driver_follows_its_phase_by_subscription_with_no_read_per_poll(
    link: RemotePlant, plant: ParamPlant, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = link._space.phases[HEAT]
    reads = reads_of(link, node.state_id, monkeypatch)  # Read requests of heat's State
    ph = phase("heat", "reactor", param("temperature", 37.0, 36.0, 38.0, "degC"))
    driver = ControllerDrivers(link)(ph)
    driver.start(ph)
    assert len(reads) == 2  # its state as it starts (take over?), and after Start
    follower = driver.follower
    assert follower is not None
    for _ in range(50):
        progress = driver.poll()
        assert not progress.done and progress.failed is None
    plant.command(HEAT, Command.HOLD)  # at a SCADA: the change reaches the driver unasked
    plant.scan()
    until(lambda: follower.state() is State.HELD)
    assert driver.poll().failed is None  # a phase held on the controller is no failure
    plant.command(HEAT, Command.RESTART)
    plant.scan()  # Running again
    plant.scan()  # 0.1 s of run time
    until(lambda: driver.poll().elapsed_h == pytest.approx(0.1 / 3600))
    assert len(reads) == 2  # every state and the run time came by the subscription
    plant.scan()
    plant.scan()  # Complete
    progress = until(lambda: (p := driver.poll()).done and p)
    assert [s.value for s in progress.samples] == [37.0]
    # one Read at Complete: state, run time and reports, so that they are the final ones
    assert len(reads) == 3 and node.reports_id in reads[-1]
    assert driver.follower is None
    until(lambda: node.state_id not in link._subs._cells)  # its items deleted


# -- access and connection ---------------------------------------------------------------


def test_accounts_are_checked(served: tuple[ParamPlant, str], pki_dir: Path) -> None:
    url = served[1]
    with pytest.raises(
        DeniedError, match=f"the OPC UA server at {url} refused the login of 'otto'"
    ):
        ControllerDrivers.connect(url, user="otto", password="wrong", pki_dir=pki_dir)
    with remote(url, pki_dir, VERA) as viewer:
        ph = phase("heat", "reactor", param("temperature", 37.0, 36.0, 38.0, "degC"))
        with pytest.raises(DeniedError, match=r"Start of phase heat.*refused for user 'vera'"):
            ControllerDrivers(viewer)(ph).start(ph)
    with pytest.raises(DeniedError, match="offers no way in for this client"):
        ControllerDrivers.connect(url, insecure=True, pki_dir=pki_dir, timeout_s=5.0)


def test_a_lost_connection_is_a_clear_error(pki_dir: Path) -> None:
    plant = ParamPlant()
    server = serve(plant, pki_dir)
    server.start()
    url = server.endpoint
    try:
        drivers = ControllerDrivers.connect(url, user=OTTO[0], password=OTTO[1],
                                            pki_dir=pki_dir, timeout_s=5.0)  # fmt: skip
        ph = phase("heat", "reactor", param("temperature", 37.0, 36.0, 38.0, "degC"))
        driver = drivers(ph)
        driver.start(ph)
        assert driver.poll().done is False
    finally:
        server.stop()

    def lost() -> bool:
        try:
            driver.poll()
        except UnavailableError as exc:
            assert f"the connection to {url} was lost" in str(exc)
            return True
        return False

    until(lost, 30.0)
    with pytest.raises(UnavailableError):
        driver.hold()
    drivers.close()


# -- the batch engine on the controllers -------------------------------------------------


def small_site() -> Site:
    """A site of the SmallPlant's units: charge and heat the reactor, transfer the tank."""
    return Site.model_validate(
        {
            "id": "test-site",
            "equipment_classes": {"reactor-class": {"capacity": "2000 L"},
                                  "tank-class": {"capacity": "5000 L"}},
            "areas": {"area1": {"process_cells": {"cell1": {"units": {
                "reactor": {"class": "reactor-class"}, "tank": {"class": "tank-class"}}}}}},
            "materials": {"drug": {"kind": "product", "unit": "L"}},
            "products": {"p": {"recipe": "r", "material": "drug"}},
            "recipes": {"r": {"id": "r", "product": "p", "status": "approved",
                              "unit_procedures": {
                "react": {"equipment_class": "reactor-class", "operations": {"op": {"phases": {
                    "charge": {"duration": "1 h", "parameters": {
                        "volume": {"setpoint": "500 L", "low": "400 L", "high": "600 L"}}},
                    "heat": {"duration": "2 h", "parameters": {
                        "temperature": {"setpoint": "37 degC", "low": "36 degC",
                                        "high": "38 degC", "critical": True}}},
                }}}},
                "store": {"equipment_class": "tank-class", "after": ["react"],
                          "operations": {"op": {"phases": {"transfer": {"duration": "1 h"}}}}},
            }}},
        }
    )  # fmt: skip


@pytest.fixture
def records(tmp_path: Path) -> Iterator[RecordService]:
    service = RecordService(f"sqlite:///{tmp_path / 'ebr.db'}", hasher=default_hasher(fast=True))
    service.accounts.bootstrap_admin("admin", "Ada Admin", "admin-pass-1")
    admin = service.accounts.login("admin", "admin-pass-1")
    service.accounts.create_user(admin, "sup", "Sam Supervisor", "supervisor", "sup-pass-1")
    yield service
    service.close()


def new_batch(records: RecordService, drivers: ControllerDrivers) -> tuple[BatchEngine, str]:
    engine = BatchEngine(records, time_scale=math.inf, driver=drivers, tick_s=0.01)
    sup = records.accounts.login("sup", "sup-pass-1")
    info = engine.lifecycle.create_batch(sup, small_site(), "r")
    engine.lifecycle.command(sup, info.batch_id, "Start")
    return engine, info.batch_id


def test_a_batch_runs_to_complete_on_the_controllers(
    link: RemotePlant, plant: ParamPlant, records: RecordService
) -> None:
    drivers = ControllerDrivers(link)
    engine, batch_id = new_batch(records, drivers)
    drivers.check(engine.context.stored_recipe(batch_id))
    scanner = Scanner(plant)
    scanner.on.set()
    try:
        final = engine.runner.run(batch_id, timeout_s=60)
    finally:
        scanner.close()
    assert final.state is State.COMPLETE
    assert [s.state for s in final.steps] == ["Complete"] * 3
    record = records.batches.record(batch_id)
    values = {(e.subject.rsplit("/", 1)[1], e.field): e.new for e in record.entries
              if e.kind == "value"}  # fmt: skip
    assert values == {("charge", "volume"): 500.0, ("heat", "temperature"): 37.0}
    assert record.deviations == []
    assert [plant.starts(r) for r in (CHARGE, HEAT, TRANSFER)] == [1, 1, 1]
    assert drivers.made == 3


def test_an_out_of_limit_report_raises_a_deviation(
    link: RemotePlant, plant: ParamPlant, records: RecordService
) -> None:
    plant.bias = {"temperature": 2.5}  # the reactor's temperature reads 2.5 K high
    engine, batch_id = new_batch(records, ControllerDrivers(link))
    scanner = Scanner(plant)
    scanner.on.set()
    try:
        final = engine.runner.run(batch_id, timeout_s=60)
    finally:
        scanner.close()
    assert final.state is State.COMPLETE
    (dev,) = records.batches.record(batch_id).deviations
    assert (dev.kind, dev.severity, dev.step) == ("out_of_limit", "critical", "react/op/heat")
    assert dev.description == "temperature 39.5 degC outside [36.0, 38.0]"


def test_a_crashed_engine_recovers_and_the_controllers_phase_is_not_started_twice(
    link: RemotePlant, plant: ParamPlant, records: RecordService
) -> None:
    engine, batch_id = new_batch(records, ControllerDrivers(link))
    # the plant is not scanned: the engine leaves with heat in flight, as after kill -9
    engine.runner.run(batch_id, timeout_s=1.0)
    assert plant.phase_state(CHARGE) is State.RUNNING
    restarted = BatchEngine(records, time_scale=math.inf, driver=ControllerDrivers(link),
                            tick_s=0.01)  # fmt: skip
    restarted.runner.attach(batch_id)  # recovery: the phase and the batch Held, with why
    restarted.runner.detach(batch_id)
    status = restarted.runner.status(batch_id)
    assert status.state is State.HELD and "in flight without its driver" in str(status.hold_reason)
    sup = records.accounts.login("sup", "sup-pass-1")
    restarted.lifecycle.command(sup, batch_id, "Restart", "controllers checked")
    scanner = Scanner(plant)
    scanner.on.set()
    try:
        final = restarted.runner.run(batch_id, timeout_s=60)
    finally:
        scanner.close()
    assert final.state is State.COMPLETE
    assert [plant.starts(r) for r in (CHARGE, HEAT, TRANSFER)] == [1, 1, 1]


def test_a_batch_is_held_when_its_subscription_falls_silent(
    pki_dir: Path, records: RecordService
) -> None:
    plant = ParamPlant()
    with serve(plant, pki_dir) as server, RemotePlant(
        server.endpoint, user=OTTO[0], password=OTTO[1], pki_dir=pki_dir, timeout_s=5.0,
        publish_interval_s=0.05, keepalive_s=0.2,
    ) as link:  # fmt: skip
        engine, batch_id = new_batch(records, ControllerDrivers(link))

        def silence_when_heating() -> None:  # charge completes; heat's publishes stop
            until(lambda: plant.starts(CHARGE) == 1, 30.0)
            for _ in range(3):
                plant.scan()
            until(lambda: plant.starts(HEAT) == 1, 30.0)
            sub = link._subs._life.sub  # the server forgets the engine's subscription
            link._submit(link._client.uaclient.delete_subscriptions([sub.subscription_id]))

        silencer = threading.Thread(target=silence_when_heating, daemon=True)
        silencer.start()
        try:
            with pytest.raises(UnavailableError, match="not even a keep-alive"):
                engine.runner.run(batch_id, timeout_s=60)
        finally:
            silencer.join(30)
        assert plant.phase_state(HEAT) is State.RUNNING
        restarted = BatchEngine(records, time_scale=math.inf, driver=ControllerDrivers(link),
                                tick_s=0.01)  # fmt: skip
        restarted.runner.attach(batch_id)  # the phase and the batch Held, with why
        restarted.runner.detach(batch_id)
        status = restarted.runner.status(batch_id)
        assert status.state is State.HELD and "in flight" in str(status.hold_reason)
        sup = records.accounts.login("sup", "sup-pass-1")
        restarted.lifecycle.command(sup, batch_id, "Restart", "subscription checked")
        scanner = Scanner(plant)
        scanner.on.set()
        try:
            final = restarted.runner.run(batch_id, timeout_s=60)  # on a new subscription
        finally:
            scanner.close()
    assert final.state is State.COMPLETE
    assert [plant.starts(r) for r in (CHARGE, HEAT, TRANSFER)] == [1, 1, 1]


def test_batch_run_with_controllers_holds_the_batch_when_the_connection_drops(
    tmp_path: Path, pki_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    import sys

    from typer.testing import CliRunner

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
    from cli_world import PEOPLE, add_people, invoke

    from phactory.cli.main import _register
    from phactory.credentials import default_hasher as hasher
    from phactory.records import accounts

    monkeypatch.setattr(accounts, "default_hasher", lambda: hasher(fast=True))
    monkeypatch.setenv("PHACTORY_HOME", str(tmp_path / "data"))
    _register()
    runner = CliRunner()
    db = f"sqlite:///{tmp_path / 'batch.db'}"
    site = tmp_path / "site.yaml"
    site.write_text(yaml.safe_dump(small_site().to_data(), sort_keys=False))
    add_people(runner, db, ["admin", "sup"])
    start = ["batch", "start", str(site), "--recipe", "r", "--batch-id", "B1", "--user", "sup",
             "--db", db]  # fmt: skip
    assert invoke(runner, start, PEOPLE["sup"][2]).exit_code == 0

    plant = ParamPlant()
    server = serve(plant, pki_dir)
    server.start()
    url = server.endpoint
    args = ["batch", "run", "B1", "--db", db, "--controllers", url, "--controllers-user", "otto"]
    wrong = invoke(runner, args, PHACTORY_CONTROLLERS_PASSWORD="wrong")
    assert wrong.exit_code == 2 and f"server at {url} refused the login of 'otto'" in wrong.output

    def drop_when_heating() -> None:  # charge completes; the server goes away during heat
        until(lambda: plant.starts(CHARGE) == 1)
        for _ in range(3):
            plant.scan()
        until(lambda: plant.starts(HEAT) == 1, 30.0)
        server.stop()

    dropper = threading.Thread(target=drop_when_heating, daemon=True)
    dropper.start()
    try:
        done = invoke(runner, args, PHACTORY_CONTROLLERS_PASSWORD=USERS["otto"][0])
    finally:
        dropper.join(30)
        server.stop()
    assert done.exit_code == 2, done.output
    assert f"the connection to {url} was lost" in done.output
    assert "batch B1 is Held" in done.output
    status = invoke(runner, ["batch", "status", "B1", "--json", "--db", db])
    data = json.loads(status.stdout)
    assert data["state"] == "Held"
    steps = {s["step"]: s["state"] for s in data["steps"]}
    assert steps == {"react/op/charge": "Complete", "react/op/heat": "Held",
                     "store/op/transfer": "Idle"}  # fmt: skip

    # The controllers are back (the plant kept running heat): a restart takes it over.
    assert plant.phase_state(HEAT) is State.RUNNING
    scanner = Scanner(plant)
    with serve(plant, pki_dir) as back:
        scanner.on.set()
        again = ["batch", "run", "B1", "--db", db, "--controllers", back.endpoint,
                 "--controllers-user", "otto", "--restart", "--user", "sup"]  # fmt: skip
        done = invoke(runner, again, PEOPLE["sup"][2],
                      PHACTORY_CONTROLLERS_PASSWORD=USERS["otto"][0])  # fmt: skip
        scanner.close()
    assert done.exit_code == 0, done.output
    assert "batch B1: Complete" in done.output
    assert [plant.starts(r) for r in (CHARGE, HEAT, TRANSFER)] == [1, 1, 1]
