"""The Controllers page (``/controllers``): a site's soft controllers, run in this server
or elsewhere.

Pick a site and a speed and start its controllers (operators and up), or open "Connect
to controllers" and connect to controllers served elsewhere over OPC UA (``phactory
control run SITE``: endpoint, an account of that server, its password; operators and
up); then, per unit, a card with the unit's PackML state and ISO 22400 state (where
known), its equipment phases with their ISA-88 states and reports (and, for operators,
the commands each state accepts), the scan statistics of its task, and its tags with
live values in an expandable table. A dropped connection is shown as such, the units as
last read (dimmed, commands off). The page polls
:class:`~phactory.app.services.controllers.ControllerService` once a second while it is
open, off the event loop (and reads a unit's tags only while its table is open), and
again after each of its own actions; a read begun before the last one shown, or before
such an action, is dropped, so that it cannot put back states just left. Everything goes
through that service. The password field is emptied once connected.

Every text comes to the browser as element text (labels, badges, table cells,
notifications), never as markup; test ids made of unit and phase names are set by key
(:func:`phactory.app.ui.safety.testid`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

from nicegui import run, ui

from phactory.app.ui import safety
from phactory.app.ui.layout import PageContext, empty_state, section, workspace_page
from phactory.errors import PhactoryError

if TYPE_CHECKING:
    from phactory.app.services.controllers import (
        ControllerService,
        ControllerStatus,
        PhaseStatus,
        TagValue,
        TaskStatus,
        UnitStatus,
    )

__all__ = ["controllers_page"]

#: How often the page reads the controllers [s].
REFRESH_S: Final = 1.0
#: Speeds offered (plant time per wall-clock time).
SPEEDS: Final[dict[float, str]] = {
    1.0: "1× · real time",
    10.0: "10×",
    50.0: "50×",
    100.0: "100×",
}
_PACKML_COLOURS: Final[dict[str, str]] = {
    "Execute": "positive",
    "Idle": "grey-7",
    "Starting": "secondary",
    "Complete": "teal",
    "Completing": "teal",
    "Held": "orange-9",
    "Holding": "orange-9",
    "Unholding": "orange-9",
    "Suspended": "orange",
    "Suspending": "orange",
    "Unsuspending": "orange",
    "Stopped": "negative",
    "Stopping": "negative",
    "Aborted": "negative",
    "Aborting": "negative",
    "Clearing": "grey-7",
    "Resetting": "grey-7",
}
_PHASE_COLOURS: Final[dict[str, str]] = {
    "Idle": "grey-7",
    "Running": "positive",
    "Complete": "teal",
    "Pausing": "orange",
    "Paused": "orange",
    "Holding": "orange-9",
    "Held": "orange-9",
    "Restarting": "secondary",
    "Stopping": "negative",
    "Stopped": "negative",
    "Aborting": "negative",
    "Aborted": "negative",
}
_COMMAND_ICONS: Final[dict[str, str]] = {
    "Start": "play_arrow",
    "Pause": "pause",
    "Resume": "play_arrow",
    "Hold": "pan_tool",
    "Restart": "replay",
    "Stop": "stop",
    "Abort": "cancel",
    "Reset": "restart_alt",
}
_NOWRAP: Final = "text-no-wrap"
_TAG_COLUMNS: Final[list[dict[str, Any]]] = [
    {
        "name": "name",
        "label": "Tag",
        "field": "name",
        "align": "left",
        "sortable": True,
        "classes": _NOWRAP,
    },
    {"name": "value", "label": "Value", "field": "value", "align": "right", "classes": _NOWRAP},
    {"name": "unit", "label": "Unit", "field": "unit", "align": "left", "classes": _NOWRAP},
    {"name": "range", "label": "Range", "field": "range", "align": "left", "classes": _NOWRAP},
    {"name": "access", "label": "Access", "field": "access", "align": "left", "classes": _NOWRAP},
    {"name": "description", "label": "Description", "field": "description", "align": "left"},
]


def _number(x: float) -> str:
    return f"{x:.4g}" if abs(x) < 1e5 else f"{x:.3e}"


def _value(value: bool | int | float | str | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return _number(value)
    return str(value)


def _range(low: float | None, high: float | None) -> str:
    if low is None and high is None:
        return ""
    return f"{'' if low is None else _number(low)} … {'' if high is None else _number(high)}"


def plant_time(seconds: float | None) -> str:
    """Plant time as ``[N d ]hh:mm:ss``."""
    if seconds is None:
        return "—"
    total = int(seconds)
    days, rest = divmod(total, 86_400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    clock = f"{h:02d}:{m:02d}:{s:02d}"
    return f"{days} d {clock}" if days else clock


def describe(status: ControllerStatus) -> str:
    """One line: what runs (here or where), at what speed, plant time, who started it."""
    if status.site is None:
        if status.error:
            return f"Not connected to {status.endpoint}: {status.error}"
        return "No controllers run in this server."
    if status.location == "remote":
        who = f" as {status.user}" if status.user else ""
        by = f" · connected by {status.started_by}" if status.started_by else ""
        if not status.connected:
            why = f": {status.error}" if status.error else ""
            return (
                f"Disconnected from {status.site} at {status.endpoint}{why} · "
                f"{len(status.units)} units as last read"
            )
        return (
            f"Connected: {status.site} at {status.endpoint}{who} · {len(status.units)} units · "
            f"plant time {plant_time(status.plant_time_s)}{by}"
        )
    version = f" v{status.site_version}" if status.site_version is not None else ""
    speed = f" at {status.speed:g}× real time" if status.speed is not None else ""
    state = "Running" if status.running else "Stopped"
    who = f" · started by {status.started_by}" if status.started_by else ""
    return (
        f"{state}: {status.site}{version}{speed} · {len(status.units)} units · "
        f"plant time {plant_time(status.plant_time_s)}{who}"
    )


def tasks_text(tasks: tuple[TaskStatus, ...], speed: float | None) -> str:
    """Scan statistics, a line per task; jitter in real time where the speed is known
    (the statistics give it on the plant clock)."""
    parts = []
    for t in tasks:
        jitter = f"{t.jitter_p99_ms:.1f} ms"
        if speed is not None and speed != 1.0:
            jitter = f"{t.jitter_p99_ms / speed:.1f} ms ({t.jitter_p99_ms:.0f} ms plant time)"
        parts.append(
            f"Task {t.task} every {t.period_ms:g} ms: {t.scans:,} scans, {t.overruns:,} "
            f"overruns · scan time {t.min_ms:.3f} / {t.mean_ms:.3f} / {t.max_ms:.3f} ms "
            f"(min / mean / max) · start jitter p99 {jitter}"
        )
    return "\n".join(parts) or "No task"


def _reports_text(reports: dict[str, float | None]) -> str:
    return ", ".join(f"{k} {_value(v)}" for k, v in reports.items())


class _UnitCard:
    """The card of one unit; :meth:`show` updates it in place."""

    def __init__(
        self,
        pc: PageContext,
        service: ControllerService,
        unit: UnitStatus,
        acted: Callable[[], Awaitable[None]],
        *,
        running: bool,
        speed: float | None,
        may_command: bool,
    ) -> None:
        self.pc = pc
        self.service = service
        self.path = unit.path
        self.acted = acted
        self.may_command = may_command
        self._phases_seen: Any = None
        self._states: tuple[str, str | None, str | None] | None = None
        self.card = safety.slug_testid(
            ui.card().classes("w-full q-pa-md gap-2"), "unit-card", unit.id
        )
        with self.card:
            with ui.row().classes("w-full items-center gap-2 no-wrap"):
                ui.icon("memory", color="primary").classes("text-2xl")
                with ui.column().classes("gap-0 min-w-0"):
                    ui.label(unit.id).classes("text-h6 text-primary leading-tight")
                    ui.label(unit.path).classes("text-caption text-grey-7")
                ui.space()
                self.badges = ui.row().classes("items-center gap-1")
            self.fault = ui.label("").classes("text-negative text-caption")
            self.fault.set_visibility(False)
            self.phases = ui.column().classes("w-full gap-0")
            self.tasks = safety.slug_testid(
                ui.label("").classes("text-caption text-grey-8 whitespace-pre-line"),
                "unit-tasks",
                unit.id,
            )
            self.expansion = ui.expansion("Tags", icon="sell").classes("w-full")
            safety.slug_testid(self.expansion, "unit-tags", unit.id)
            with self.expansion:
                self.table = (
                    ui.table(columns=_TAG_COLUMNS, rows=[], row_key="path")
                    .props("dense flat bordered wrap-cells hide-bottom")
                    .classes("w-full")
                )
                self.table.pagination = {"rowsPerPage": 0}
            self.expansion.on_value_change(lambda e: self.open_tags(bool(e.value)))
        self.show(unit, running=running, speed=speed)

    # ------------------------------------------------------------------ updating
    def show(
        self,
        unit: UnitStatus,
        *,
        running: bool,
        speed: float | None = None,
        tags: list[TagValue] | None = None,
    ) -> None:
        """Show ``unit``'s states, phases and statistics (and ``tags``, if read)."""
        states = (unit.packml_name, unit.equipment_state, unit.fault)
        if states != self._states:
            self._states = states
            self.badges.clear()
            with self.badges:
                b = ui.badge(f"PackML {unit.packml_state} {unit.packml_name}")
                b.props(f"color={_PACKML_COLOURS.get(unit.packml_name, 'grey-7')}")
                safety.slug_testid(b, "unit-state", unit.id)
                if unit.equipment_state is not None:
                    ui.badge(unit.equipment_state).props("outline color=primary").tooltip(
                        "ISO 22400 equipment state"
                    )
            self.fault.set_text(f"Fault: {unit.fault}" if unit.fault else "")
            self.fault.set_visibility(bool(unit.fault))
        seen = (running, tuple((p.name, p.state, tuple(p.reports.items())) for p in unit.phases))
        if seen != self._phases_seen:
            self._phases_seen = seen
            self.phases.clear()
            with self.phases:
                self._phase_table(unit, running)
        self.tasks.set_text(tasks_text(unit.tasks, speed))
        if tags is not None:
            self.show_tags(tags)

    def _phase_table(self, unit: UnitStatus, running: bool) -> None:
        if not unit.phases:
            ui.label("No equipment phases.").classes("text-grey-6")
            return
        with ui.grid(columns="minmax(7rem,auto) minmax(6rem,auto) 1fr auto").classes(
            "w-full items-center gap-x-3 gap-y-1"
        ):
            for title in ("Phase", "State", "Reports", "Commands" if self.may_command else ""):
                ui.label(title).classes("text-caption text-weight-bold text-grey-8")
            for phase in unit.phases:
                self._phase_row(unit, phase, running)

    def _phase_row(self, unit: UnitStatus, phase: PhaseStatus, running: bool) -> None:
        ui.label(phase.name).classes("text-weight-medium")
        state = (
            ui.badge(phase.state)
            .classes("justify-self-start")
            .props(f"color={_PHASE_COLOURS.get(phase.state, 'grey-7')}")
        )
        safety.slug_testid(state, "phase-state", unit.id, phase.name)
        ui.label(_reports_text(phase.reports)).classes("text-caption text-grey-8")
        with ui.row().classes("gap-1 no-wrap"):
            if not self.may_command:
                return
            for command in phase.commands:
                button = ui.button(
                    icon=_COMMAND_ICONS.get(command, "bolt"),
                    on_click=lambda _, c=command, p=phase.name: self.command(p, c),
                ).props("dense flat round size=sm color=primary")
                button.tooltip(command)
                if not running:
                    button.disable()
                safety.slug_testid(button, "phase-command", unit.id, phase.name, command)

    async def open_tags(self, value: bool) -> None:
        """Open (the card takes the grid's whole width) or close the tag table."""
        if value:
            self.card.classes(add="col-span-2")
            tags = await run.io_bound(self.read_tags)
            if tags is not None:
                self.show_tags(tags)
        else:
            self.card.classes(remove="col-span-2")

    def read_tags(self) -> list[TagValue] | None:
        """The unit's tags, if they can be read (a blocking call: off the event loop)."""
        try:
            return self.service.tag_values(self.path)
        except PhactoryError:
            return None

    def show_tags(self, tags: list[TagValue]) -> None:
        """Show ``tags`` in the table."""
        self.table.rows = [_tag_row(t) for t in tags]
        self.table.update()

    # ------------------------------------------------------------------ acting
    async def command(self, phase: str, command: str) -> None:
        try:
            new = await run.io_bound(self.service.command, self.pc.user, self.path, phase, command)
        except PhactoryError as exc:
            ui.notify(str(exc), type="negative", multi_line=True, close_button=True)
            return
        if new is None:  # the client went away
            return
        ui.notify(f"{command} {phase}: now {new.state}", type="positive")
        await self.acted()


def _tag_row(tag: TagValue) -> dict[str, Any]:
    return {
        "path": tag.path,
        "name": tag.name,
        "value": _value(tag.value),
        "unit": tag.unit,
        "range": _range(tag.low, tag.high),
        "access": "set point" if tag.access == "setpoint" else "read",
        "description": tag.description,
    }


@workspace_page("/controllers", "Controllers")
async def controllers_page(pc: PageContext) -> None:
    service = pc.app.controllers
    sites = pc.workspace.list_sites()
    may_run = pc.user.has("operator")
    cards: dict[str, _UnitCard] = {}
    layout_seen: list[Any] = [None]
    #: Reads of the controllers: [last begun, oldest that may still be shown]. The timer's
    #: refresh and the one after an action run side by side; a read begun before the last
    #: one shown, or before an action of this page changed the controllers, shows them as
    #: they were and is dropped, so that it cannot put back a state just left (and rebuild
    #: the buttons under a click).
    reads = [0, 0]

    with section(
        "Soft controllers",
        "IEC 61131-3 controllers of every unit of a site, scanning its virtual plant in this "
        "server or in a process of their own: ISA-88 phases, PackML unit states, scan "
        "statistics and live tags.",
    ):
        with ui.row().classes("w-full items-center gap-3"):
            options = {s.site_id: f"{s.name or s.site_id} (v{s.version})" for s in sites}
            site = ui.select(options, value=pc.site_id, label="Site").props(
                "outlined dense options-dense"
            )
            site.classes("min-w-[18rem]")
            safety.slug_testid(site, "controllers-site")
            speed = ui.select(SPEEDS, value=1.0, label="Speed").props("outlined dense")
            speed.classes("min-w-[10rem]")
            safety.slug_testid(speed, "controllers-speed")
            start = ui.button("Start", icon="play_arrow", on_click=lambda: do_start())
            start.props("unelevated color=accent")
            safety.slug_testid(start, "controllers-start")
            stop = ui.button("Stop", icon="stop", on_click=lambda: do_stop())
            stop.props("unelevated color=negative")
            safety.slug_testid(stop, "controllers-stop")
        remote = ui.expansion("Connect to controllers", icon="lan").classes("w-full")
        safety.slug_testid(remote, "controllers-remote")
        with remote:
            ui.label(
                "Controllers served over OPC UA by `phactory control run SITE` on this or "
                "another machine: their endpoint and an account of that server, whose role "
                "decides what may be commanded there."
            ).classes("text-caption text-grey-7")
            with ui.row().classes("w-full items-center gap-3"):
                endpoint = ui.input("Endpoint", placeholder="opc.tcp://host:4840/phactory/").props(
                    "outlined dense maxlength=300"
                )
                endpoint.classes("min-w-[22rem]")
                safety.slug_testid(endpoint, "controllers-endpoint")
                user = ui.input("User").props("outlined dense maxlength=100 autocomplete=off")
                safety.slug_testid(user, "controllers-user")
                password = ui.input("Password", password=True, password_toggle_button=True)
                password.props("outlined dense maxlength=1000 autocomplete=new-password")
                safety.slug_testid(password, "controllers-password")
                insecure = ui.checkbox("Insecure (development server)")
                insecure.tooltip("No security: only for a server started with --insecure")
                safety.slug_testid(insecure, "controllers-insecure")
                connect = ui.button("Connect", icon="link", on_click=lambda: do_connect())
                connect.props("unelevated color=primary")
                safety.slug_testid(connect, "controllers-connect")
                disconnect = ui.button(
                    "Disconnect", icon="link_off", on_click=lambda: do_disconnect()
                ).props("outline color=negative")
                safety.slug_testid(disconnect, "controllers-disconnect")
        if not may_run:
            for element in (site, speed, start, stop, endpoint, user, password, insecure):
                element.disable()
            for element in (connect, disconnect):
                element.disable()
            ui.label(
                "Starting, stopping and connecting to controllers needs the operator role."
            ).classes("text-caption text-grey-7")
        line = safety.slug_testid(ui.label("").classes("text-grey-8"), "controllers-status")

    units = ui.column().classes("w-full gap-4")

    def build(status: ControllerStatus) -> None:
        cards.clear()
        units.clear()
        with units:
            if status.site is None:
                empty_state(
                    "No controllers run yet",
                    "Pick a site and a speed and press Start: every unit of the site gets a "
                    "controller running its ISA-88 phases on the virtual plant. Or connect to "
                    "controllers that run elsewhere.",
                )
                return
            with ui.grid(columns=2).classes("w-full gap-4 items-start"):
                for unit in status.units:
                    cards[unit.path] = _UnitCard(
                        pc,
                        service,
                        unit,
                        acted,
                        running=status.running,
                        speed=status.speed,
                        may_command=may_run,
                    )

    def controls(status: ControllerStatus) -> None:
        if not may_run:
            return
        is_remote = status.location == "remote" and status.site is not None
        local_running = status.location == "local" and status.running
        for element, on in (
            (site, not local_running and not is_remote),
            (speed, not local_running and not is_remote),
            (start, not local_running and not is_remote),
            (stop, local_running),
            (connect, not local_running and not (is_remote and status.connected)),
            (disconnect, is_remote),
        ):
            element.set_enabled(on)

    def show(
        status: ControllerStatus, tags: dict[str, list[TagValue] | None] | None = None
    ) -> None:
        line.set_text(describe(status))
        controls(status)
        units.classes(remove="opacity-50")
        if status.location == "remote" and status.connected is False:
            units.classes(add="opacity-50")
        key = (status.site, status.site_version, tuple(u.path for u in status.units))
        if key != layout_seen[0]:
            layout_seen[0] = key
            build(status)
            if status.site is not None and status.site in options:
                site.value = status.site
            if status.speed in SPEEDS:
                speed.value = status.speed
            return
        for unit in status.units:
            card = cards.get(unit.path)
            if card is not None:
                found = (tags or {}).get(unit.path)
                card.show(unit, running=status.running, speed=status.speed, tags=found)

    def read(
        open_units: list[tuple[str, _UnitCard]],
    ) -> tuple[ControllerStatus, dict[str, list[TagValue] | None]]:
        """The status and the tags of the units whose table is open (blocking)."""
        status = service.status()
        return status, {path: card.read_tags() for path, card in open_units}

    def changed() -> None:
        """The controllers were changed here: reads begun before show them as they were."""
        reads[1] = reads[0] + 1

    def newest(read_no: int) -> bool:
        """Whether read ``read_no`` may be shown (and newer ones only, from now on)."""
        if read_no < reads[1]:
            return False
        reads[1] = read_no
        return True

    async def refresh() -> None:
        open_units = [(path, card) for path, card in cards.items() if card.expansion.value]
        reads[0] += 1
        read_no = reads[0]
        try:
            found = await run.io_bound(read, open_units)
        except PhactoryError as exc:
            if newest(read_no):
                line.set_text(f"The controllers cannot be read: {exc}")
            return
        if found is not None and newest(read_no):  # None: the client went away
            show(*found)

    async def acted() -> None:
        changed()
        await refresh()

    async def do_start() -> None:
        if not site.value:
            ui.notify("Pick a site first", type="warning")
            return
        try:
            status = service.start(pc.user, str(site.value), speed=float(speed.value or 1.0))
        except PhactoryError as exc:
            ui.notify(str(exc), type="negative", multi_line=True, close_button=True)
            return
        ui.notify(f"Started the controllers of {status.site}", type="positive")
        await acted()

    async def do_stop() -> None:
        try:
            service.stop(pc.user)
        except PhactoryError as exc:
            ui.notify(str(exc), type="negative", multi_line=True, close_button=True)
            return
        ui.notify("Stopped the controllers", type="info")
        await acted()

    async def do_connect() -> None:
        connect.disable()
        connect.props(add="loading")
        try:
            status = await run.io_bound(
                service.connect,
                pc.user,
                str(endpoint.value or ""),
                str(user.value or "") or None,
                str(password.value or "") or None,
                insecure=bool(insecure.value),
            )
        except PhactoryError as exc:
            ui.notify(str(exc), type="negative", multi_line=True, close_button=True)
            return
        finally:
            connect.props(remove="loading")
            connect.enable()
        if status is None:
            return
        password.value = ""
        ui.notify(f"Connected to the controllers of {status.site}", type="positive")
        changed()
        show(status)

    async def do_disconnect() -> None:
        try:
            status = await run.io_bound(service.disconnect, pc.user)
        except PhactoryError as exc:
            ui.notify(str(exc), type="negative", multi_line=True, close_button=True)
            return
        ui.notify("Disconnected from the controllers", type="info")
        if status is not None:
            changed()
            show(status)

    initial = await run.io_bound(service.status)  # may connect to the default controllers
    if initial is None:  # the client went away
        return
    if initial.location == "remote":
        remote.value = True
        endpoint.value = initial.endpoint or ""
        user.value = initial.user or ""
    show(initial)
    ui.timer(REFRESH_S, refresh)
