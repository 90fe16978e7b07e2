"""``phactory control run SITE`` and ``phactory control status``: a site's controllers on
their virtual plant, served over OPC UA, and a look at a running one.

``run`` builds the site's controllers (:class:`phactory.control.site.SitePlant`), runs
them in real time (``--speed N``: N times faster; ``--simulated``: simulated time as
fast as the machine allows while a phase runs, standing still while none does:
:class:`phactory.connect.virtual.PacedPlant`) and serves them with
:class:`phactory.connect.opcua.PlantServer` until Ctrl-C or SIGTERM, then stops the
server, then the controllers after the scan in progress, and closes the RETAIN store
(``--retain FILE``: RETAIN variables survive the stop, and a restart with the same file
is a warm one). Security is the server's default: Basic256Sha256 SignAndEncrypt only,
the server certificate made on first start in the PKI directory, users and roles from
Phactory's accounts (:mod:`phactory.app.services.opcua_users`, the database of
``--db`` or ``PHACTORY_DATABASE_URL``); ``--insecure`` also offers security mode None and
anonymous sessions (role engineer), for development only, with a warning. ``--mqtt URL``
also publishes every tag (metadata, values, changes) to an MQTT broker in the unified
namespace through a durable queue (:class:`phactory.connect.mqtt.EdgePublisher`;
``--mqtt-queue FILE``, by default ``mqtt/<site>.queue`` in the data folder), stamped
with the wall time of plant time 0 taken at start (with ``--speed`` or ``--simulated``
plant time runs ahead of the clock, and so do the stamps).

``status`` connects to a running server (:class:`phactory.connect.opcua.remote.RemotePlant`)
and prints the plant time, each controller task's scan statistics and each unit's PackML
state with its phases (those not Idle; ``--all``: every one); ``--json`` prints the same
as one JSON object. The password is read from ``PHACTORY_CONTROLLERS_PASSWORD``, else
asked for.

Refusals exit 2: a site that does not validate (``FILE:LINE:COL`` problems), a port in
use, a server that cannot be reached or refuses the login.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from phactory.cli.control_commands import app
from phactory.cli.output import console, echo_json, err_console, fail, stop_on_signals
from phactory.errors import PhactoryError

if TYPE_CHECKING:
    from phactory.connect.mqtt import EdgePublisher
    from phactory.connect.opcua.remote import RemotePlant
    from phactory.connect.opcua.users import Authenticator
    from phactory.control.view import ControlledPlant

#: The endpoint ``status`` connects to by default (``run``'s default).
DEFAULT_ENDPOINT = "opc.tcp://127.0.0.1:4840/phactory/"
PASSWORD_ENV = "PHACTORY_CONTROLLERS_PASSWORD"


def _quiet_asyncua() -> None:
    """asyncua logs protocol chatter (revised timeouts, service faults) as warnings;
    the commands report what matters themselves."""
    logging.getLogger("asyncua").setLevel(logging.ERROR)


def _port_free(host: str, port: int) -> bool:
    """Whether ``host:port`` can be listened on (as asyncio's server would: SO_REUSEADDR)."""
    if port == 0:
        return True
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


@contextlib.contextmanager
def _accounts(db: str | None, required: bool) -> Any:
    """The OPC UA authenticator over Phactory's accounts (``None`` when not required and
    no database is named), the workspace closed when the block ends."""
    if not required and db is None:
        yield None, ""
        return
    from phactory.app.context import AppContext
    from phactory.app.services.opcua_users import AccountsAuthenticator
    from phactory.app.settings import AppSettings
    from phactory.store import StoreError

    overrides: dict[str, Any] = {"prewarm_workers": False}
    if db is not None:
        overrides["database_url"] = db
    try:
        settings = AppSettings.from_env(**overrides)
        ctx = AppContext(settings, bootstrap=False)
    except StoreError as exc:
        fail(f"cannot open the accounts database: {exc}")
    except ValueError as exc:
        fail(f"bad settings: {exc}")
    try:
        if ctx.accounts.count_users() == 0:
            err_console.print(
                "warning: there are no accounts, so nobody can log in; add one with "
                "`phactory user add NAME --role operator`",
                style="yellow",
                markup=False,
            )
        auth: Authenticator = AccountsAuthenticator(ctx.accounts)
        yield auth, _safe_url(settings.database_url)
    finally:
        ctx.close()


def _safe_url(url: str) -> str:
    """A database URL without its password."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "the accounts database"


@app.command()
def run(
    site: Annotated[Path, typer.Argument(help="Site YAML file or site folder.")],
    opcua_port: Annotated[
        int,
        typer.Option("--opcua-port", min=0, max=65535, help="OPC UA port (0: any free one)."),
    ] = 4840,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (0.0.0.0: every interface).")
    ] = "127.0.0.1",
    realtime: Annotated[
        bool, typer.Option("--realtime", help="Run in real time (the default).")
    ] = False,
    speed: Annotated[
        float | None,
        typer.Option("--speed", min=0.0, help="Run N times faster than real time."),
    ] = None,
    simulated: Annotated[
        bool,
        typer.Option("--simulated", help="Simulated time: as fast as possible while a phase runs."),
    ] = False,
    insecure: Annotated[
        bool,
        typer.Option(
            "--insecure", help="DEVELOPMENT ONLY: also allow security mode None and anonymous."
        ),
    ] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the sensors' noise.")] = 0,
    retain: Annotated[
        Path | None,
        typer.Option("--retain", help="SQLite file keeping RETAIN variables (warm restarts)."),
    ] = None,
    scan_period: Annotated[
        str | None,
        typer.Option("--scan-period", help="Scan period of every controller, e.g. 100ms."),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db", help="Database URL of the accounts (default PHACTORY_DATABASE_URL or local)."
        ),
    ] = None,
    pki_dir: Annotated[
        Path | None,
        typer.Option("--pki-dir", help="Where the server certificate is kept."),
    ] = None,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            "--fault",
            help="Inject a fault: TAG=KIND[@TIME][,PARAM=VALUE]... e.g. "
            "'usp/cell/BR-01/TT101=sensor_drift@2h,rate=0.5' (repeat).",
        ),
    ] = None,
    faults_out: Annotated[
        Path | None,
        typer.Option("--faults-out", help="Write the faults that took effect (JSON) at stop."),
    ] = None,
    mqtt: Annotated[
        str | None,
        typer.Option(
            "--mqtt",
            help="Also publish tags to this MQTT broker (mqtt://host:port) in the unified "
            "namespace, with store-and-forward.",
        ),
    ] = None,
    mqtt_queue: Annotated[
        Path | None,
        typer.Option(
            "--mqtt-queue",
            help="The MQTT publisher's durable queue (default: mqtt/<site>.queue in the "
            "data folder).",
        ),
    ] = None,
) -> None:
    """Run a site's controllers on its virtual plant and serve them over OPC UA.

    Faults (--fault) act from a plant time on (TIME such as 90min or 2h; now if not given)
    and are kept as ground truth: --faults-out writes them when the plant stops. Kinds:
    sensor_bias (bias), sensor_drift (rate per h), stuck_valve (position), fouling (loss,
    ramp_h), heater_failure (remaining), pump_degradation (loss, ramp_h).
    """
    faults = [_parse_fault(text) for text in fault or []]
    if mqtt is not None:
        from phactory.connect.mqtt.broker import parse_url

        parse_url(mqtt)  # a bad URL is refused before anything starts
    if sum((realtime, speed is not None, simulated)) > 1:
        fail("give one of --realtime, --speed N and --simulated")
    if speed is not None and not speed > 0:
        fail(f"--speed must be positive, not {speed:g}")
    if not _port_free(host, opcua_port):
        fail(f"cannot listen on {host}:{opcua_port}: the port is in use (choose --opcua-port)")
    _quiet_asyncua()
    from phactory.connect.opcua import ServerThread
    from phactory.connect.opcua.pki import default_pki_dir
    from phactory.connect.virtual import PacedPlant
    from phactory.control.runtime import RetainStore
    from phactory.control.runtime.durations import parse_duration
    from phactory.control.site import SitePlant

    period_s: float | None = None
    if scan_period is not None:
        try:
            period_s = parse_duration(scan_period) / 1e9
        except ValueError as exc:
            fail(f"--scan-period {scan_period!r}: {exc}")
        if not period_s > 0:
            fail(f"--scan-period must be positive, not {scan_period!r}")
    store = RetainStore(retain) if retain is not None else None
    try:
        plant = SitePlant.from_path(site, seed=seed, scan_period=period_s, retain=store)
        for text, (tag, kind, at_s, params) in zip(fault or [], faults, strict=True):
            try:
                plant.inject(tag, kind, at_s, **params)
            except PhactoryError as exc:
                fail(f"--fault {text!r}: {exc}")
        # Simulated time is paced: it passes only while a phase needs it, so an idle plant
        # waits for commands instead of spinning a core through empty hours.
        paced = PacedPlant(plant) if simulated else None
        with _accounts(db, required=not insecure) as (authenticator, users_from):
            server = ServerThread(
                paced or plant,
                host=host,
                port=opcua_port,
                insecure=insecure,
                authenticator=authenticator,
                pki_dir=pki_dir or default_pki_dir(),
            )
            try:
                served = server.start()
            except OSError as exc:
                fail(f"cannot listen on {host}:{opcua_port}: {exc.strerror or exc}")
            publisher: EdgePublisher | None = None
            try:
                if mqtt is not None:
                    publisher = _start_publisher(mqtt, mqtt_queue, paced or plant)
                if paced is not None:
                    mode = "simulated time (passing while a phase runs)"
                    paced.start()
                else:
                    mode = f"real time x{speed or 1:g}"
                    plant.run(realtime=True, speed=speed or 1.0)
                _announce(plant, served.endpoint, served.certificate, mode, insecure, users_from)
                _wait_for_stop()
            finally:
                server.stop()
                if paced is not None:
                    paced.stop()
                plant.stop()
                if publisher is not None:
                    publisher.close()
            if faults_out is not None:
                _write_faults(plant, faults_out)
            console.print(
                f"Stopped {plant.site} at plant time {plant.now_s:.1f} s"
                + (f"; RETAIN kept in {retain}" if retain is not None else ""),
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
    finally:
        if store is not None:
            store.close()


def _start_publisher(url: str, queue: Path | None, plant: ControlledPlant) -> EdgePublisher:
    """An edge publisher of ``plant`` to the broker at ``url`` (its queue by default in the
    data folder), started and attached; announced on stdout."""
    from phactory.connect.mqtt import EdgePublisher
    from phactory.connect.mqtt.queue import default_path

    queue = queue or default_path(plant.site)
    publisher = EdgePublisher(url, plant.site, queue, f"phactory-control-{plant.site}").start()
    publisher.attach(plant)
    console.print(
        f"MQTT: publishing phactory/v1/{plant.site}/# to {publisher.broker} "
        f"(queue {queue}, {publisher.counters.backlog} message(s) waiting)",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    return publisher


def _parse_fault(text: str) -> tuple[str, str, float | None, dict[str, float]]:
    """``TAG=KIND[@TIME][,PARAM=VALUE]...`` as (tag, kind, plant time [s] or None, params)."""
    from phactory.control.runtime.durations import parse_duration

    tag, sep, rest = text.partition("=")
    if not sep or not tag.strip() or not rest.strip():
        fail(f"--fault {text!r}: write TAG=KIND[@TIME][,PARAM=VALUE]...")
    head, *pairs = rest.split(",")
    kind, _, when = head.partition("@")
    at_s: float | None = None
    if when.strip():
        try:
            at_s = parse_duration(when) / 1e9
        except PhactoryError as exc:
            fail(f"--fault {text!r}: time {when!r}: {exc}")
    params: dict[str, float] = {}
    for pair in pairs:
        name, eq, value = pair.partition("=")
        try:
            if not eq:
                raise ValueError
            params[name.strip()] = float(value)
        except ValueError:
            fail(f"--fault {text!r}: parameter {pair!r}: write NAME=NUMBER")
    return tag.strip(), kind.strip(), at_s, params


def _write_faults(plant: Any, path: Path) -> None:
    """The ground truth: every fault that took effect, by start time."""
    records = [
        {
            "unit": f.unit,
            "tag": f.tag,
            "kind": f.kind,
            "start_s": f.start_s,
            "params": dict(f.params),
        }
        for f in plant.faults()
    ]
    try:
        path.write_text(json.dumps({"site": plant.site, "faults": records}, indent=2) + "\n")
    except OSError as exc:
        err_console.print(f"could not write {path}: {exc}", markup=False)
        return
    console.print(f"wrote {len(records)} fault(s) to {path}", markup=False, highlight=False)


def _announce(
    plant: Any,
    endpoint: str,
    certificate: Path | None,
    mode: str,
    insecure: bool,
    users_from: str,
) -> None:
    """The endpoint, what is served and how, on stdout (one line each, flushed)."""
    security = "Basic256Sha256 SignAndEncrypt"
    if insecure:
        security += ", None and anonymous (INSECURE)"
        err_console.print(
            "WARNING: --insecure: anyone who can reach this port may read, write and "
            "command the plant without a password, over an unencrypted channel. "
            "Development only.",
            style="bold red",
            markup=False,
            highlight=False,
        )
    units = len(plant.units())
    console.print(f"OPC UA endpoint: {endpoint}", markup=False, highlight=False, soft_wrap=True)
    console.print(
        f"{plant.site}: {units} units, {len(plant.tags())} tags, {len(plant.phases())} phases; "
        f"{mode}; {security}" + (f"; users from {users_from}" if users_from else ""),
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    if certificate is not None:
        console.print(f"server certificate: {certificate}", markup=False, highlight=False)
    console.print("Press Ctrl-C to stop.", markup=False, highlight=False)
    sys.stdout.flush()


def _wait_for_stop() -> None:
    """Block until SIGINT (Ctrl-C) or SIGTERM."""
    with stop_on_signals() as stop:
        while not stop.wait(0.5):
            pass


@app.command()
def status(
    endpoint: Annotated[
        str, typer.Option("--endpoint", help="The OPC UA endpoint of `phactory control run`.")
    ] = DEFAULT_ENDPOINT,
    user: Annotated[
        str | None,
        typer.Option("--user", envvar="PHACTORY_CONTROLLERS_USER", help="Account name."),
    ] = None,
    insecure: Annotated[
        bool,
        typer.Option("--insecure", help="Security mode None (a server run with --insecure)."),
    ] = False,
    all_phases: Annotated[
        bool, typer.Option("--all", help="List every phase, not only those not Idle.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    pki_dir: Annotated[
        Path | None,
        typer.Option("--pki-dir", help="Where the client certificate is kept."),
    ] = None,
) -> None:
    """Show a running plant: plant time, scan statistics, unit and phase states."""
    if user is None and not insecure:
        fail("give --user (a secure server accepts no anonymous sessions), or --insecure")
    password: str | None = None
    if user is not None:
        password = os.environ.get(PASSWORD_ENV)
        if password is None:
            if not sys.stdin.isatty():
                fail(f"no password: set {PASSWORD_ENV} or run in a terminal")
            password = typer.prompt(f"Password of {user}", hide_input=True)
    _quiet_asyncua()
    from phactory.connect.opcua.remote import RemotePlant

    with RemotePlant(
        endpoint, user=user, password=password, insecure=insecure, pki_dir=pki_dir
    ) as plant:
        data = _status(plant)
    if as_json:
        echo_json(data, indent=2)
        return
    _print_status(data, all_phases)


def _ms(seconds: float) -> float | None:
    return None if seconds != seconds else round(seconds * 1000.0, 4)


def _status(plant: RemotePlant) -> dict[str, Any]:
    """What ``status`` shows, read in a few requests."""
    from phactory.batch.states import State

    now = plant.now_s
    stats = plant.scan_stats()
    states = plant.phase_states()
    busy = [ref for ref, s in states.items() if s is not State.IDLE]
    run_s = plant.phase_run_times(busy) if busy else {}
    packml = plant.unit_states()
    units: dict[str, dict[str, Any]] = {}
    for unit in plant.units():
        state = packml.get(unit)
        units[unit] = {
            "unit": unit,
            "packml": state.name.capitalize() if state is not None else None,
            "packml_state": int(state) if state is not None else None,
            "phases": [],
        }
    for ref, phase_state in states.items():
        entry = units.setdefault(
            ref.unit, {"unit": ref.unit, "packml": None, "packml_state": None, "phases": []}
        )
        entry["phases"].append(
            {"phase": ref.phase, "state": phase_state.value, "run_s": run_s.get(ref)}
        )
    return {
        "site": plant.site,
        "endpoint": plant.endpoint,
        "plant_time_s": now,
        "tasks": [
            {
                "unit": s.unit,
                "task": s.task,
                "period_ms": _ms(s.period_s),
                "scans": s.scans,
                "overruns": s.overruns,
                "min_ms": _ms(s.min_s),
                "mean_ms": _ms(s.mean_s),
                "max_ms": _ms(s.max_s),
                "jitter_p99_ms": _ms(s.jitter_p99_s),
            }
            for s in stats
        ],
        "units": list(units.values()),
    }


def _clock(seconds: float) -> str:
    """``1d 02:03:04`` (days only when there are any)."""
    whole = round(seconds)
    days, rest = divmod(whole, 86400)
    text = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{days}d {text}" if days else text


def _print_status(data: dict[str, Any], all_phases: bool) -> None:
    from rich import box
    from rich.table import Table

    def num(v: float | None, fmt: str = ".3f") -> str:
        return "" if v is None else format(v, fmt)

    now = data["plant_time_s"]
    console.print(
        f"{data['site']} at {data['endpoint']}: plant time {now:.1f} s ({_clock(now)})",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    widest = max((len(u["unit"]) for u in data["units"]), default=10)
    tasks = Table(
        title="Controller tasks (times in ms)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    tasks.add_column("unit", overflow="fold")  # its id: the path is in the next table
    for col in ("task", "period", "scans", "overruns", "min", "mean", "max", "jitter p99"):
        tasks.add_column(col, justify="left" if col == "task" else "right", no_wrap=True)
    for t in data["tasks"]:
        tasks.add_row(
            t["unit"].rpartition("/")[2], t["task"], num(t["period_ms"], "g"), str(t["scans"]),
            str(t["overruns"]), num(t["min_ms"]), num(t["mean_ms"]), num(t["max_ms"]),
            num(t["jitter_p99_ms"]),
        )  # fmt: skip
    console.print(tasks)
    units = Table(
        title="Units and phases", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False
    )
    units.add_column("unit", overflow="fold", min_width=min(widest, 40))
    units.add_column("PackML", no_wrap=True)
    units.add_column("phases" if all_phases else "phases not Idle", overflow="fold")
    for u in data["units"]:
        phases = u["phases"] if all_phases else [p for p in u["phases"] if p["state"] != "Idle"]
        phases = sorted(phases, key=lambda p: p["state"] == "Idle")  # non-Idle first
        text = ", ".join(
            f"{p['phase']} {p['state']}"
            + (f" ({p['run_s']:.0f} s)" if p["run_s"] is not None and p["state"] != "Idle" else "")
            for p in phases
        )
        idle = sum(p["state"] == "Idle" for p in u["phases"])
        if not all_phases and idle:
            text += ("; " if text else "") + f"{idle} idle"
        units.add_row(u["unit"], u["packml"] or "", text)
    console.print(units)
