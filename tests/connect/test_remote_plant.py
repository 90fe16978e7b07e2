"""RemotePlant: the ControlledPlant contract over a real, secure OPC UA session.

:class:`~tests.connect.test_opcua_diagnostics.StatsPlant` (the small test plant with scan
statistics) is served by a :class:`ServerThread` (Basic256Sha256 SignAndEncrypt, the
users of :data:`conftest.USERS`); a :class:`RemotePlant` per role reads, writes,
commands and subscribes, and what it sees is compared with the plant itself. The
refusals are Phactory's errors: unknown paths, roles, a dropped server. A phase watch
(the batch engine's phase driver follows its phase with one) gets the phase's state and
run time by the plant's subscription, with no Read, and reports a subscription that
ended, fell silent or lost its connection.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest

from phactory.batch.states import Command, InvalidCommand, State
from phactory.connect.opcua import ServerThread, StaticAuthenticator
from phactory.connect.opcua.remote import RemotePlant
from phactory.control.view import PackMLState, PhaseRef, TagChange
from phactory.errors import DeniedError, InvalidError, NotFoundError, UnavailableError

from .conftest import USERS, Served
from .plant import PHASES, REACTOR, TAGS, TANK
from .test_opcua_diagnostics import StatsPlant

T = TypeVar("T")


@pytest.fixture(scope="module")
def served(pki_dir: Path) -> Iterator[Served]:
    plant = StatsPlant()
    with ServerThread(
        plant,
        port=0,
        authenticator=StaticAuthenticator(USERS),
        pki_dir=pki_dir,
        state_poll_s=0.02,
        diagnostics_s=0.05,
    ) as server:
        yield Served(plant, server)


def _remote(served: Served, pki_dir: Path, user: str) -> Iterator[RemotePlant]:
    plant = RemotePlant(
        served.endpoint, user=user, password=USERS[user][0], pki_dir=pki_dir, timeout_s=5
    )
    try:
        yield plant
    finally:
        plant.close()


@pytest.fixture(scope="module")
def engineer(served: Served, pki_dir: Path) -> Iterator[RemotePlant]:
    yield from _remote(served, pki_dir, "erin")


@pytest.fixture(scope="module")
def operator(served: Served, pki_dir: Path) -> Iterator[RemotePlant]:
    yield from _remote(served, pki_dir, "otto")


@pytest.fixture(scope="module")
def viewer(served: Served, pki_dir: Path) -> Iterator[RemotePlant]:
    yield from _remote(served, pki_dir, "vera")


def reads_of(plant: RemotePlant, node: Any, monkeypatch: pytest.MonkeyPatch) -> list[list[Any]]:
    """Every Read request ``plant`` sends from now on that reads ``node``: the NodeIds it
    reads (a hook on the asyncua session)."""
    session = plant._client.uaclient
    real = session.read
    seen: list[list[Any]] = []

    async def read(params: Any) -> Any:
        ids = [r.NodeId for r in params.NodesToRead]
        if node in ids:
            seen.append(ids)
        return await real(params)

    monkeypatch.setattr(session, "read", read)
    return seen


def error_of(call: Callable[[], object]) -> Exception | None:
    """What ``call`` raises (``None`` if it returns)."""
    try:
        call()
    except Exception as exc:
        return exc
    return None


def until(read: Callable[[], T], ok: Callable[[T], bool], timeout_s: float = 5.0) -> T:
    """Read until ``ok`` holds (values reach the client asynchronously); the last value."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = read()
        if ok(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


def test_browse_finds_the_plants_tags_phases_and_units(engineer: RemotePlant) -> None:
    assert engineer.site == "test-site"
    # every TagInfo field comes back: type, unit (UNECE code -> Phactory text), range,
    # description and who may write
    assert list(engineer.tags()) == list(TAGS)
    assert list(engineer.phases()) == list(PHASES)
    assert engineer.units() == [REACTOR, TANK]


def test_read_gives_the_plants_values(served: Served, viewer: RemotePlant) -> None:
    paths = [t.path for t in TAGS]
    assert viewer.read(paths) == served.plant.read(paths)
    hold_time = viewer.read([f"{REACTOR}/hold_time"])[0]
    assert hold_time == 60_000_000_000 and isinstance(hold_time, int)  # TIME [ns]


def test_an_unknown_path_is_named(viewer: RemotePlant) -> None:
    with pytest.raises(NotFoundError, match="area1/cell1/reactor/NOPE"):
        viewer.read([f"{REACTOR}/TT101", f"{REACTOR}/NOPE"])
    with pytest.raises(NotFoundError, match="'boil'"):
        viewer.phase_state(PhaseRef(REACTOR, "boil"))
    with pytest.raises(NotFoundError, match="nowhere"):
        viewer.unit_state("area1/cell1/nowhere")


def test_an_engineer_writes_a_set_point(served: Served, engineer: RemotePlant) -> None:
    path = f"{REACTOR}/agitator/SIC201_SP"
    engineer.write(path, 120.5)
    assert served.plant.read([path]) == [120.5]
    assert engineer.read([path]) == [120.5]
    engineer.write(f"{REACTOR}/hold_time", 90_000_000_000)  # TIME [ns], served in ms
    assert served.plant.read([f"{REACTOR}/hold_time"]) == [90_000_000_000]


def test_writes_are_refused_with_the_reason(
    served: Served, engineer: RemotePlant, operator: RemotePlant, viewer: RemotePlant
) -> None:
    path = f"{REACTOR}/TIC101_SP"
    before = served.plant.read([path])
    with pytest.raises(DeniedError, match="'vera'"):
        viewer.write(path, 30.0)
    with pytest.raises(DeniedError, match="'otto'"):
        operator.write(path, 30.0)
    with pytest.raises(InvalidError, match="BadOutOfRange"):
        engineer.write(path, 1000.0)  # outside the tag's range: the plant refuses
    with pytest.raises(InvalidError, match="takes no 'hot'"):
        engineer.write(path, "hot")
    with pytest.raises(DeniedError, match="read-only"):
        engineer.write(f"{REACTOR}/TT101", 30.0)
    assert served.plant.read([path]) == before


def test_an_operator_commands_a_phase(served: Served, operator: RemotePlant) -> None:
    ref = PhaseRef(TANK, "transfer")
    operator.command(ref, Command.START, {"volume": 250, "flow": 20.0})
    assert served.plant.commands[-1] == (ref, Command.START, {"volume": 250.0, "flow": 20.0})
    assert operator.phase_state(ref) is State.RUNNING
    assert operator.unit_state(TANK) is PackMLState.EXECUTE
    assert operator.unit_state("tank") is PackMLState.EXECUTE  # by id too
    with pytest.raises(InvalidCommand, match="transfer of area1/cell1/tank is Running"):
        operator.command(ref, Command.RESET)
    for _ in range(3):
        served.plant.scan()
    assert until(lambda: operator.phase_state(ref), lambda s: s is State.COMPLETE) is State.COMPLETE
    assert operator.reports(ref) == {"duration": pytest.approx(0.3), "flow": 20.0, "volume": 250.0}
    assert operator.phase_run_s(ref) == pytest.approx(0.3)
    operator.command(ref, Command.RESET)
    assert until(lambda: operator.phase_state(ref), lambda s: s is State.IDLE) is State.IDLE


def test_a_viewer_commands_nothing(served: Served, viewer: RemotePlant) -> None:
    n = len(served.plant.commands)
    with pytest.raises(DeniedError, match="'vera'"):
        viewer.command(PhaseRef(REACTOR, "charge"), Command.START)
    assert len(served.plant.commands) == n


def test_bad_start_parameters_are_refused(operator: RemotePlant) -> None:
    ref = PhaseRef(REACTOR, "charge")
    with pytest.raises(InvalidError, match="finite number"):
        operator.command(ref, Command.START, {"volume": math.nan})
    with pytest.raises(InvalidError, match="not accepted"):
        operator.command(ref, Command.START, {"colour": 3.0})  # the plant does not take it
    assert operator.phase_state(ref) is State.IDLE


def test_scan_stats_come_from_the_diagnostics(served: Served, viewer: RemotePlant) -> None:
    for _ in range(5):
        served.plant.scan()
    expected = list(served.plant.scan_stats())
    n = expected[0].scans
    got = until(lambda: list(viewer.scan_stats()), lambda s: bool(s) and s[0].scans == n)
    assert [(s.unit, s.task) for s in got] == [(REACTOR, "main"), (TANK, "slow")]
    for remote, local in zip(got, expected, strict=True):
        assert (remote.scans, remote.overruns) == (local.scans, local.overruns)
        for field in ("period_s", "min_s", "mean_s", "max_s", "jitter_p99_s"):
            assert getattr(remote, field) == pytest.approx(getattr(local, field)), field


def test_plant_time_follows_the_plant(served: Served, viewer: RemotePlant) -> None:
    served.plant.scan()
    t = served.plant.now_s
    assert until(lambda: viewer.now_s, lambda v: v == pytest.approx(t)) == pytest.approx(t)


def test_subscribe_delivers_changes_until_unsubscribed(
    served: Served, engineer: RemotePlant
) -> None:
    got: list[TagChange] = []
    arrived = threading.Event()

    def on_changes(changes: Sequence[TagChange]) -> None:
        got.extend(changes)
        arrived.set()

    path = f"{REACTOR}/batch_id"
    unsubscribe = engineer.subscribe(on_changes)
    try:
        time.sleep(0.3)  # the items' first values are not changes
        assert got == []
        served.plant.set_value(path, "B-0042")
        assert arrived.wait(5)
        assert [(c.path, c.value) for c in got] == [(path, "B-0042")]
        assert got[0].t_s == pytest.approx(served.plant.now_s)
    finally:
        unsubscribe()
    got.clear()
    served.plant.set_value(path, "B-0043")
    time.sleep(0.3)
    assert got == []


def test_a_callback_may_not_call_the_plant_back(served: Served, viewer: RemotePlant) -> None:
    errors: list[Exception] = []
    done = threading.Event()

    def on_changes(changes: Sequence[TagChange]) -> None:
        try:
            viewer.read([f"{REACTOR}/TT101"])
        except InvalidError as exc:
            errors.append(exc)
        done.set()

    unsubscribe = viewer.subscribe(on_changes)
    try:
        time.sleep(0.2)
        served.plant.set_value(f"{REACTOR}/XV401", True)
        assert done.wait(5)
    finally:
        unsubscribe()
    assert errors and "must not call the plant back" in str(errors[0])


def test_a_phase_watch_follows_state_and_run_time_by_subscription_without_reads(
    served: Served, operator: RemotePlant, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = PhaseRef(REACTOR, "heat")
    phase = operator._space.phases[ref]
    reads = reads_of(operator, phase.state_id, monkeypatch)
    with operator.watch_phase(ref) as watch:
        assert watch.state() is State.IDLE
        assert len(reads) == 1  # seeded by one Read, as the items are made
        served.plant.command(ref, Command.START, {"temperature": 40.0})  # at a SCADA
        assert until(watch.state, lambda s: s is State.RUNNING) is State.RUNNING
        served.plant.scan()
        assert until(watch.run_s, lambda v: v > 0) == pytest.approx(0.1)
        served.plant.scan()
        served.plant.scan()
        assert until(watch.state, lambda s: s is State.COMPLETE) is State.COMPLETE
        assert len(reads) == 1  # Running, the run time, Complete: all by the subscription
        assert watch.notifications >= 2
        state, run_s, reports = watch.final()  # the results: read, so that they are final
        assert (state, run_s) == (State.COMPLETE, pytest.approx(0.3))
        assert reports == {"duration": pytest.approx(0.3), "temperature": 40.0}
        assert len(reads) == 2 and phase.reports_id in reads[-1]
    served.plant.command(ref, Command.RESET)
    # the monitored items go with the last watch of the phase
    assert until(lambda: dict(operator._subs._cells), lambda cells: not cells) == {}
    with pytest.raises(InvalidError, match="closed"):
        watch.state()


def test_a_watch_reports_a_subscription_that_ended_and_the_next_watch_gets_a_new_one(
    operator: RemotePlant,
) -> None:
    from asyncua import ua

    ref = PhaseRef(TANK, "transfer")
    watch = operator.watch_phase(ref)
    sub = watch._life.sub
    assert watch.state() is State.IDLE
    ended = ua.PublishResult(  # what the server sends when it ends a subscription
        sub.subscription_id,
        NotificationMessage=ua.NotificationMessage(
            NotificationData=[
                ua.StatusChangeNotification(Status=ua.StatusCode(ua.StatusCodes.BadTimeout))
            ]
        ),
    )
    operator._submit(sub.publish_callback(ended))  # as asyncua's publish loop hands it on
    error = until(lambda: error_of(watch.state), lambda e: e is not None)
    assert isinstance(error, UnavailableError)
    assert "no longer delivers the state of phase transfer" in str(error)
    assert "the subscription ended (BadTimeout)" in str(error)
    with pytest.raises(UnavailableError):
        watch.run_s()
    assert watch.refresh() is State.IDLE  # the session still answers a Read
    with operator.watch_phase(ref) as again:
        assert again._life is not watch._life and again._life.sub is not sub
        assert again.state() is State.IDLE
    watch.close()


def test_a_watch_reports_a_subscription_without_keep_alives(served: Served, pki_dir: Path) -> None:
    ref = PhaseRef(TANK, "transfer")
    with RemotePlant(
        served.endpoint, user="otto", password=USERS["otto"][0], pki_dir=pki_dir, timeout_s=5,
        publish_interval_s=0.05, keepalive_s=0.2,
    ) as plant:  # fmt: skip
        watch = plant.watch_phase(ref)
        time.sleep(1.5)  # nothing changes: the keep-alives keep the subscription alive
        assert watch.state() is State.IDLE
        sub_id = watch._life.sub.subscription_id
        plant._submit(plant._client.uaclient.delete_subscriptions([sub_id]))  # server forgets
        error = until(lambda: error_of(watch.state), lambda e: e is not None, 15.0)
        assert isinstance(error, UnavailableError)
        assert "not even a keep-alive" in str(error)
        with plant.watch_phase(ref) as again:  # a new subscription
            time.sleep(0.5)
            assert again.state() is State.IDLE


def test_refused_logins_and_unreachable_servers(served: Served, pki_dir: Path) -> None:
    with pytest.raises(DeniedError, match="refused the login of 'vera'"):
        RemotePlant(served.endpoint, user="vera", password="wrong-password", pki_dir=pki_dir)
    with pytest.raises(DeniedError, match="anonymous"):
        RemotePlant(served.endpoint, pki_dir=pki_dir)
    with pytest.raises(DeniedError, match="drop --insecure"):
        RemotePlant(served.endpoint, insecure=True, pki_dir=pki_dir)
    with pytest.raises(UnavailableError, match="cannot reach the OPC UA server"):
        RemotePlant("opc.tcp://127.0.0.1:9/phactory/", pki_dir=pki_dir, timeout_s=2)


def test_a_dropped_server_and_close(pki_dir: Path) -> None:
    plant = StatsPlant()
    thread = ServerThread(plant, port=0, insecure=True, pki_dir=pki_dir)
    server = thread.start()
    remote = RemotePlant(server.endpoint, insecure=True, pki_dir=pki_dir, timeout_s=5)
    try:
        assert remote.read([f"{TANK}/LT501"]) == [1000.0]
        assert remote.connected
        watch = remote.watch_phase(PHASES[0])
        assert watch.state() is State.IDLE
        thread.stop()
        # the watch learns it with no request of its own
        error = until(lambda: error_of(watch.state), lambda e: e is not None, 15.0)
        assert isinstance(error, UnavailableError) and "lost" in str(error)
        with pytest.raises(UnavailableError, match="lost"):
            remote.read([f"{TANK}/LT501"])
        assert not remote.connected
        with pytest.raises(UnavailableError, match="lost"):  # at once, every time after
            remote.phase_state(PHASES[0])
    finally:
        thread.stop()
        remote.close()
    remote.close()  # idempotent
    with pytest.raises(UnavailableError, match="closed"):
        remote.read([f"{TANK}/LT501"])
    assert not remote._thread.is_alive()  # the loop thread ended
