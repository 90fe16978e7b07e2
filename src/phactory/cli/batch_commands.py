"""``phactory batch ...``, ``phactory audit verify`` and ``phactory trace``.

Batch execution and the electronic batch record from the command line, through the same
service as the web pages and the REST API
(:class:`phactory.app.services.batches.BatchService`). The database is the store's
(``--db URL``, else ``PHACTORY_DATABASE_URL``, else the SQLite file in the data folder).

Passwords are never options: they are read from an environment variable
(``PHACTORY_PASSWORD`` for ``--user``, ``PHACTORY_OPERATOR_PASSWORD`` and
``PHACTORY_VERIFIER_PASSWORD`` for simulated operators, ``PHACTORY_NEW_PASSWORD`` for a new
one) or asked for on the terminal. The audit trail records the operating-system account
that ran the command (``cli:<user>@<host>``) next to the batch-record signer.

Time scale: simulated units run at recipe time per wall-clock time, ``--time-scale``:
1 is real time (the default), 600 ten recipe minutes per second, ``inf`` instant phases.

Only Typer, Rich and the standard library are imported here; the service, the record and
the engine are imported when a command runs, so that ``phactory --help`` starts at once.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from phactory.cli.main import app
from phactory.cli.output import console, echo_json, fail
from phactory.cli.site_commands import SitePath, load_or_exit

if TYPE_CHECKING:
    from phactory.app.services.batches import BatchService
    from phactory.batch import BatchStatus, SimulatedOperator
    from phactory.connect.phase_driver import ControllerDrivers
    from phactory.model import Site
    from phactory.records import UserSession

batch_app = typer.Typer(
    help="Execute ISA-88 batches and keep their electronic batch records.",
    no_args_is_help=True,
)
user_app = typer.Typer(
    help="Batch-record accounts: add, list, unlock, set a new password.", no_args_is_help=True
)
audit_app = typer.Typer(help="Check the audit trail of the batch records.", no_args_is_help=True)
app.add_typer(batch_app, name="batch")
batch_app.add_typer(user_app, name="user")
app.add_typer(audit_app, name="audit")

Db = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default: PHACTORY_DATABASE_URL or the SQLite file)."),
]
UserOpt = Annotated[
    str, typer.Option("--user", "-u", help="Your user id (password: PHACTORY_PASSWORD).")
]
Admin = Annotated[str, typer.Option("--admin", help="Administrator (PHACTORY_PASSWORD).")]
Reason = Annotated[str, typer.Option("--reason", help="Why (recorded).")]
TimeScale = Annotated[
    str | None,
    typer.Option(
        "--time-scale",
        help="Recipe time per wall-clock time of the simulated units: 1 = real time "
        "(default), 600 = ten recipe minutes per second, inf = instant phases.",
    ),
]

#: Exit code of ``audit verify`` when the chain is broken.
EXIT_BROKEN = 1


def cli_account() -> str:
    """How the audit trail names who ran the command: ``cli:<os user>@<host>``."""
    from phactory.store.database import default_user

    return f"cli:{default_user()}@{socket.gethostname()}"[:100]


def password(env: str, prompt: str) -> str:
    """A password from ``env``, else asked for on the terminal (never an option)."""
    value = os.environ.get(env)
    if value:
        return value
    if sys.stdin.isatty():
        return str(typer.prompt(prompt, hide_input=True))
    fail(f"no password: set {env} or run in a terminal")


@contextmanager
def batch_service(db: str | None, time_scale: str | None = None) -> Iterator[BatchService]:
    """The batch service on the database, in the foreground (no runner threads)."""
    from phactory.app.services.batches import BatchService

    service = BatchService(db, group_commit=False, run_in_threads=False, time_scale=time_scale)
    try:
        yield service
    finally:
        service.close()


def login(service: BatchService, user: str, env: str = "PHACTORY_PASSWORD") -> UserSession:
    """Log ``user`` in with the password from ``env`` (or the terminal)."""
    from phactory.records import PasswordChangeRequired

    try:
        return service.login(user, password(env, f"Password for {user}"), account=cli_account())
    except PasswordChangeRequired as exc:
        fail(f"{exc}: run `phactory batch user change-password {user}` first")


# -- accounts -------------------------------------------------------------------------------


def _skills(skill: list[str] | None, skills_of: list[Path] | None) -> tuple[str, ...]:
    found = list(skill or ())
    for path in skills_of or ():
        found += [s for s in load_or_exit(path).skills if s not in found]
    return tuple(found)


@user_app.command("add")
def user_add(
    user_id: Annotated[str, typer.Argument(help="New user id (never reused).")],
    name: Annotated[str, typer.Option("--name", help="Printed name shown with signatures.")],
    role: Annotated[str, typer.Option("--role", help="operator, supervisor, qa, qp or admin.")],
    skill: Annotated[
        list[str] | None, typer.Option("--skill", help="Qualification (repeat).")
    ] = None,
    skills_of: Annotated[
        list[Path] | None,
        typer.Option("--skills-of", help="Qualified for every skill of this site (repeat)."),
    ] = None,
    admin: Annotated[str | None, typer.Option("--admin", help="Administrator creating it.")] = None,
    db: Db = None,
) -> None:
    """Create an account (password: PHACTORY_NEW_PASSWORD); the first one is the administrator."""
    with batch_service(db) as service:
        new = password("PHACTORY_NEW_PASSWORD", f"New password for {user_id}")
        skills = _skills(skill, skills_of)
        if not service.has_people():
            if role != "admin":
                fail("the first account must be an administrator (--role admin)")
            service.records.accounts.bootstrap_admin(user_id, name, new)
        else:
            if admin is None:
                fail("give --admin: an administrator creates accounts")
            session = login(service, admin)
            service.accounts.create(session, user_id, name, role, new, skills=skills)
        console.print(f"[green]created[/green] {user_id} ({role})")


# The name of earlier versions, kept so that scripts go on working.
batch_app.command("user-add", hidden=True)(user_add)


@user_app.command("list")
def user_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    db: Db = None,
) -> None:
    """List the batch-record accounts (never their passwords)."""
    with batch_service(db) as service:
        users = service.accounts.users()
    if as_json:
        echo_json(
            [
                {
                    "user_id": u.user_id,
                    "name": u.full_name,
                    "role": u.role,
                    "active": u.active,
                    "locked": u.locked,
                    "failed_attempts": u.failed_attempts,
                }
                for u in users
            ]
        )
        return
    table = Table("user", "name", "role", "active", "locked", "failures", title="Accounts")
    for u in users:
        table.add_row(
            u.user_id,
            Text(u.full_name),
            u.role,
            "yes" if u.active else "no",
            "LOCKED" if u.locked else "",
            str(u.failed_attempts),
        )
    console.print(table)


@user_app.command("unlock")
def user_unlock(
    user_id: Annotated[str, typer.Argument(help="The locked account.")],
    admin: Admin,
    reason: Reason,
    db: Db = None,
) -> None:
    """Unlock a locked account and reset its failures (an administrator, audited)."""
    with batch_service(db) as service:
        service.accounts.unlock(login(service, admin), user_id, reason)
    console.print(f"[green]unlocked[/green] {user_id}")


@user_app.command("reset-password")
def user_reset_password(
    user_id: Annotated[str, typer.Argument(help="The account.")],
    admin: Admin,
    reason: Reason,
    db: Db = None,
) -> None:
    """Set a new password (PHACTORY_NEW_PASSWORD); the person changes it at next login."""
    with batch_service(db) as service:
        session = login(service, admin)
        new = password("PHACTORY_NEW_PASSWORD", f"New password for {user_id}")
        service.accounts.reset_password(session, user_id, new, reason)
    console.print(f"[green]new password set[/green] for {user_id}: they must change it")


@user_app.command("change-password")
def user_change_password(
    user_id: Annotated[str, typer.Argument(help="Your user id (PHACTORY_PASSWORD).")],
    db: Db = None,
) -> None:
    """Change your own password (PHACTORY_NEW_PASSWORD), e.g. after a reset."""
    with batch_service(db) as service:
        old = password("PHACTORY_PASSWORD", f"Current password for {user_id}")
        new = password("PHACTORY_NEW_PASSWORD", f"New password for {user_id}")
        service.change_password(user_id, old, new, account=cli_account())
    console.print(f"[green]password changed[/green] for {user_id}")


# -- batches --------------------------------------------------------------------------------


def _parse_params(params: list[str] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in params or ():
        key, sep, value = item.partition("=")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            fail(f"--param {item!r}: write NAME=NUMBER")
    return out


@batch_app.command("start")
def start(
    site_path: SitePath,
    user: UserOpt,
    recipe: Annotated[str | None, typer.Option("--recipe", help="Master recipe id.")] = None,
    order: Annotated[str | None, typer.Option("--order", help="Order of the plan.")] = None,
    batch_id: Annotated[str | None, typer.Option("--batch-id", help="Batch id.")] = None,
    size: Annotated[
        float | None, typer.Option("--size", help="Batch size in the recipe's unit.")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", help="NAME=SETPOINT (repeat).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of durations and values.")] = 0,
    time_scale: TimeScale = None,
    db: Db = None,
) -> None:
    """Create a batch from a master recipe (a supervisor) and Start it; `batch run` runs it.

    --time-scale is recorded with the batch: every run of it (here, on the web) uses it.
    """
    site = load_or_exit(site_path)
    if recipe is None and order is None:
        fail("give --recipe or --order")
    with batch_service(db) as service:
        session = login(service, user)
        info = service.create(
            session,
            site,
            recipe,
            batch_id=batch_id,
            order_id=order,
            batch_size=size,
            parameters=_parse_params(param),
            seed=seed,
            time_scale=time_scale,
            start=True,
            reason="started from the command line",
        )
        console.print(f"[green]started[/green] batch [bold]{info.batch_id}[/bold]")
        typer.echo(info.batch_id)


@batch_app.command("command")
def command(
    batch_id: Annotated[str, typer.Argument(help="The batch.")],
    name: Annotated[
        str, typer.Argument(help="Start, Pause, Resume, Hold, Restart, Stop, Abort, Reset.")
    ],
    user: UserOpt,
    reason: Annotated[str, typer.Option("--reason", help="Why (Hold, Stop, Abort).")] = "",
    db: Db = None,
) -> None:
    """Give an ISA-88 command to a batch."""
    with batch_service(db) as service:
        new = service.command(login(service, user), batch_id, name, reason)
        console.print(f"batch {batch_id}: {new}")


Controllers = Annotated[
    str | None,
    typer.Option(
        "--controllers",
        help="Run the automatic phases on the controllers served at this OPC UA endpoint "
        "(opc.tcp://HOST:PORT/phactory/, as `phactory control run` prints it).",
    ),
]
ControllersUser = Annotated[
    str | None,
    typer.Option(
        "--controllers-user",
        help="Account on the --controllers server, an operator "
        "(password: PHACTORY_CONTROLLERS_PASSWORD).",
    ),
]


@batch_app.command("run")
def run(
    batch_id: Annotated[str, typer.Argument(help="The batch.")],
    time_scale: TimeScale = None,
    operator: Annotated[
        str | None,
        typer.Option("--operator", help="Simulate manual steps as this user (demos, tests)."),
    ] = None,
    verifier: Annotated[
        str | None, typer.Option("--verifier", help="Second person for critical steps.")
    ] = None,
    restart: Annotated[
        bool, typer.Option("--restart", help="Restart a Held batch first (needs --user).")
    ] = False,
    user: Annotated[str | None, typer.Option("--user", "-u", help="User giving --restart.")] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Stop after this many seconds.")
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait at holds and manual steps.")] = False,
    on_controllers: Annotated[
        bool,
        typer.Option(
            "--on-controllers",
            help="Run the automatic phases on the site's soft controllers and virtual plant, "
            "started in this process (OPC UA on 127.0.0.1, simulated time).",
        ),
    ] = False,
    site_path: Annotated[
        Path | None,
        typer.Option(
            "--site",
            help="Site file or folder of --on-controllers (default: the workspace's version "
            "of the batch's site).",
        ),
    ] = None,
    controllers: Controllers = None,
    controllers_user: ControllersUser = None,
    insecure: Annotated[
        bool,
        typer.Option(
            "--insecure",
            help="Connect to --controllers without security (a server started with "
            "--insecure; development only).",
        ),
    ] = False,
    db: Db = None,
) -> None:
    """Run a batch: automatic phases on simulated units (or controllers), manual ones as
    work instructions.

    A batch started with its own --time-scale runs at it; the others at this --time-scale
    (default PHACTORY_BATCH_TIME_SCALE, else 1: real time). With --on-controllers the
    automatic phases run on the site's controllers in simulated time, and hold times
    between unit procedures count at --time-scale (default inf: met at once). With
    --controllers they run on a plant served elsewhere, in its time.

    A lost connection to the controllers holds the batch (with the reason recorded) and
    exits 2; `batch run --restart` takes the controllers' phases over where they are.
    """
    _check_controller_options(on_controllers, site_path, controllers, controllers_user, insecure)
    if on_controllers and time_scale is None:
        time_scale = "inf"
    with ExitStack() as stack:
        service = stack.enter_context(batch_service(db, time_scale))
        if on_controllers or controllers is not None:
            drivers = _controller_drivers(
                stack, service, batch_id, site_path, controllers, controllers_user, insecure
            )
            service.use_driver(drivers)
        sim = None
        if operator is not None:
            performer = (
                operator,
                password("PHACTORY_OPERATOR_PASSWORD", f"Password for {operator}"),
            )
            second = None
            if verifier is not None:
                second = (
                    verifier,
                    password("PHACTORY_VERIFIER_PASSWORD", f"Password for {verifier}"),
                )
            sim = service.simulated_operator(performer, second, account=cli_account())
        if restart:
            if user is None:
                fail("--restart needs --user")
            service.restart_held(login(service, user), batch_id, "restart from the command line")
        total = len(service.status(batch_id).steps)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task(f"batch {batch_id}", total=total)

            def show(status: BatchStatus) -> None:
                done = sum(s.state == "Complete" for s in status.steps)
                where = status.current.step if status.current else ""
                bar.update(
                    task, completed=done, description=f"{batch_id} {status.state.value} {where}"
                )

            if on_controllers or controllers is not None:
                final = _run_on_controllers(service, batch_id, sim, timeout, wait, show)
            else:
                final = service.run(
                    batch_id, operator=sim, timeout_s=timeout, wait=wait, progress=show
                )
        console.print(f"batch [bold]{batch_id}[/bold]: {final.state.value}")
        if final.hold_reason and final.state.value in ("Holding", "Held"):
            console.print(f"held: {final.hold_reason}", markup=False)
        if final.waiting_for:
            console.print(f"waiting for {final.waiting_for}", markup=False)


def _check_controller_options(
    on_controllers: bool,
    site_path: Path | None,
    controllers: str | None,
    controllers_user: str | None,
    insecure: bool,
) -> None:
    if on_controllers and controllers is not None:
        fail("give --on-controllers or --controllers, not both")
    if site_path is not None and not on_controllers:
        fail("--site goes with --on-controllers")
    if controllers is None and (controllers_user is not None or insecure):
        fail("--controllers-user and --insecure go with --controllers")
    if controllers is not None:
        if not controllers.startswith("opc.tcp://"):
            fail(f"--controllers {controllers!r}: expected opc.tcp://HOST:PORT/phactory/")
        if controllers_user is None and not insecure:
            fail("--controllers needs --controllers-user (or --insecure for a development server)")


def _controller_drivers(
    stack: ExitStack,
    service: BatchService,
    batch_id: str,
    site_path: Path | None,
    url: str | None,
    user: str | None,
    insecure: bool,
) -> ControllerDrivers:
    """The driver factory of the controllers (the virtual plant started here, or a
    session to ``url``), closed with ``stack``; refuses a batch they cannot run."""
    from phactory.batch import ControlRecipe
    from phactory.connect.phase_driver import ControllerDrivers
    from phactory.connect.virtual import VirtualControllers
    from phactory.model.ids import require_id

    info = service.batch(batch_id)
    recipe = ControlRecipe.model_validate(info.control_recipe)
    drivers: ControllerDrivers
    if url is None:
        site: Path | Site
        if site_path is not None:
            found = load_or_exit(site_path).id
            if found != recipe.site_id:  # refused before building its controllers
                fail(f"batch {batch_id} is of site {recipe.site_id}, {site_path} is site {found}")
            site = site_path
        else:
            from phactory.errors import NotFoundError

            try:
                site = service.records.access.store.get_site(require_id(recipe.site_id, "site id"))
            except NotFoundError:
                fail(
                    f"site {recipe.site_id} of batch {batch_id} is not in the workspace: "
                    "give --site SITE_PATH"
                )
        with console.status("starting the controllers, virtual plant and OPC UA server"):
            virtual = VirtualControllers(site, seed=recipe.seed)
            drivers = stack.enter_context(virtual)
    else:
        secret = None
        if user is not None:
            secret = password("PHACTORY_CONTROLLERS_PASSWORD", f"Password for {user} at {url}")
        with console.status(f"connecting to the controllers at {url}"):
            drivers = ControllerDrivers.connect(url, user=user, password=secret, insecure=insecure)
        stack.callback(drivers.close)
    drivers.check(recipe)
    return drivers


def _run_on_controllers(
    service: BatchService,
    batch_id: str,
    operator: SimulatedOperator | None,
    timeout: float | None,
    wait: bool,
    progress: Callable[[BatchStatus], None],
) -> BatchStatus:
    """Run the batch; a refusal or a lost connection while a phase is in flight holds the
    batch (recorded with the reason) and is reported, naming the batch."""
    from phactory.batch import BatchBusy, State
    from phactory.errors import PhactoryError

    kinds = _error_kinds()
    try:
        return service.run(batch_id, operator=operator, timeout_s=timeout, wait=wait,
                           progress=progress)  # fmt: skip
    except BatchBusy:
        raise
    except PhactoryError as exc:
        # The runner gave its lease up with a phase in flight and no driver: attaching
        # again holds the phase and the batch, recording why (crash-safe recovery).
        runner = service.engine.runner
        before = runner.status(batch_id).state
        runner.attach(batch_id)
        runner.detach(batch_id)
        if before is State.HELD or runner.status(batch_id).state is not State.HELD:
            raise
        kind = next(k for k in (*kinds, PhactoryError) if isinstance(exc, k))
        raise kind(
            f"{exc}; batch {batch_id} is Held: once the controllers are back, "
            f"`phactory batch run {batch_id} --restart --user ...` takes their phases over"
        ) from None


def _error_kinds() -> tuple[type[Exception], ...]:
    from phactory.errors import (
        ConflictError,
        DeniedError,
        InvalidError,
        NotFoundError,
        UnavailableError,
    )

    return (UnavailableError, DeniedError, NotFoundError, InvalidError, ConflictError)


@batch_app.command("status")
def status(
    batch_id: Annotated[str | None, typer.Argument(help="The batch (default: list all).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    db: Db = None,
) -> None:
    """Show batches, or one batch: steps, deviations, signatures, what it waits for."""
    with batch_service(db) as service:
        if batch_id is None:
            _list_batches(service, as_json)
            return
        st = service.status(batch_id)
        devs = service.reviews.deviations(batch_id)
        sigs = service.reviews.signatures(batch_id)
        state = service.reviews.disposition(batch_id)
    if as_json:
        echo_json(
            {
                "batch": batch_id,
                "state": st.batch.state,
                "status": st.batch.status,
                "disposition": state.text,
                "waiting_for": st.waiting_for,
                "hold_reason": st.hold_reason,
                "steps": [
                    {"step": s.step, "kind": s.kind, "unit": s.unit, "state": s.state}
                    for s in st.steps
                ],
                "deviations": [
                    {"id": d.deviation_id, "kind": d.kind, "status": d.status} for d in devs
                ],
                "signatures": [
                    {"manifestation": s.manifestation(), "valid": s.valid, "status": s.status}
                    for s in sigs
                ],
            }
        )
        return
    console.print(
        f"{batch_id} {st.batch.recipe_id} v{st.batch.recipe_version}: {st.batch.state}, "
        f"record {state.text}",
        markup=False,
    )
    table = Table("step", "kind", "unit", "state", title="Steps")
    for s in st.steps:
        table.add_row(s.step, s.kind, s.unit, s.state)
    console.print(table)
    for d in devs:
        console.print(
            f"deviation {d.deviation_id} [{d.status}] {d.kind}: {d.description}", markup=False
        )
    for sig in sigs:
        mark = "" if sig.valid else f"  INVALID: {sig.problem}"
        if sig.status not in ("valid", "invalid"):
            mark += f"  ({sig.status})"
        console.print(
            f"signature {sig.record_type}:{sig.record_id}: {sig.manifestation()}{mark}",
            markup=False,
        )
    if st.hold_reason and st.batch.state in ("Holding", "Held"):
        console.print(f"held: {st.hold_reason}", markup=False)
    if st.waiting_for:
        console.print(f"waiting for {st.waiting_for}", markup=False)


def _list_batches(service: BatchService, as_json: bool) -> None:
    rows = [
        {"batch": b.batch_id, "recipe": b.recipe_id, "state": b.state, "status": b.status}
        for b in service.batches()
    ]
    if as_json:
        echo_json(rows)
        return
    table = Table("batch", "recipe", "state", "disposition", title="Batches")
    for r in rows:
        table.add_row(r["batch"], r["recipe"], r["state"], r["status"])
    console.print(table)


@batch_app.command("review")
def review(
    batch_id: Annotated[str, typer.Argument(help="The finished batch.")],
    user: UserOpt,
    note: Annotated[str, typer.Option("--note", help="Review note.")] = "",
    db: Db = None,
) -> None:
    """QA signs the review of a batch record (meaning reviewed), as on the QA review page."""
    with batch_service(db) as service:
        session = login(service, user)
        view = service.reviews.view(batch_id)
        for x in view.exceptions:
            console.print(f"exception {x.category}: {x.text}", markup=False)
        sig = service.reviews.review(
            session, batch_id, user, password("PHACTORY_PASSWORD", "Password"), note
        )
    console.print(f"[green]reviewed[/green] {batch_id}: {sig.manifestation()}", highlight=False)


@batch_app.command("release")
def release(
    batch_id: Annotated[str, typer.Argument(help="The reviewed batch.")],
    user: UserOpt,
    db: Db = None,
) -> None:
    """The Qualified Person releases the batch (meaning released), as on the web."""
    with batch_service(db) as service:
        session = login(service, user)
        sig = service.reviews.release(
            session, batch_id, user, password("PHACTORY_PASSWORD", "Password")
        )
        state = service.reviews.disposition(batch_id)
    console.print(f"[green]released[/green] {batch_id}: {sig.manifestation()}", highlight=False)
    console.print(f"disposition: {state.text}", markup=False)


@batch_app.command("reject")
def reject(
    batch_id: Annotated[str, typer.Argument(help="The batch.")],
    user: UserOpt,
    reason: Reason,
    db: Db = None,
) -> None:
    """The Qualified Person rejects the batch, with a reason; its lots are rejected with it."""
    with batch_service(db) as service:
        session = login(service, user)
        service.reviews.reject(
            session, batch_id, reason, user, password("PHACTORY_PASSWORD", "Password")
        )
    console.print(f"[red]rejected[/red] {batch_id}")


@batch_app.command("export")
def export(
    batch_id: Annotated[str, typer.Argument(help="The batch.")],
    html: Annotated[Path | None, typer.Option("--html", help="Write the HTML record here.")] = None,
    pdf: Annotated[Path | None, typer.Option("--pdf", help="Write the PDF record here.")] = None,
    batchml: Annotated[Path | None, typer.Option("--batchml", help="Write BatchML here.")] = None,
    db: Db = None,
) -> None:
    """Export a batch record as HTML or PDF (with signature manifestations) and/or BatchML."""
    if html is None and pdf is None and batchml is None:
        fail("give --html, --pdf and/or --batchml")
    with batch_service(db) as service:
        if html is not None:
            html.write_text(service.reviews.export_html(batch_id), encoding="utf-8")
            console.print(f"wrote {html}", markup=False)
        if pdf is not None:
            pdf.write_bytes(service.reviews.export_pdf(batch_id))
            console.print(f"wrote {pdf}", markup=False)
        if batchml is not None:
            batchml.write_text(service.reviews.export_batchml(batch_id), encoding="utf-8")
            console.print(f"wrote {batchml}", markup=False)


@audit_app.command("verify")
def verify(db: Db = None) -> None:
    """Verify the hash chain of the audit trail; name the first bad entry (exit 1)."""
    with batch_service(db) as service, Progress(console=console, transient=True) as bar:
        task = bar.add_task("verifying audit trail", total=None)
        report = service.reviews.verify_audit(progress=lambda n: bar.update(task, completed=n))
    if report.ok:
        console.print(f"[green]{report.describe()}[/green]")
        return
    console.print(f"[red]audit trail BROKEN at {report.describe()}[/red]")
    raise typer.Exit(EXIT_BROKEN)


@app.command("trace")
def trace_lot(
    lot_id: Annotated[str, typer.Argument(help="The lot to trace.")],
    forward: Annotated[bool, typer.Option("--forward/--backward", help="Direction.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    db: Db = None,
) -> None:
    """Trace a lot's genealogy: where it went (--forward) or what went into it (--backward)."""
    with batch_service(db) as service:
        g = service.lots.trace(lot_id, "forward" if forward else "backward")
    if as_json:
        echo_json(
            {
                "lot": g.root,
                "direction": g.direction,
                "lots": g.lots,
                "batches": g.batches,
                "edges": [_edge(e) for e in g.edges],
            }
        )
        return
    tree = Tree(f"[bold]{lot_id}[/bold] ({g.direction})")
    links = g.tree()

    def grow(node: Tree, lot: str, seen: set[str]) -> None:
        for batch, nxt in links.get(lot, []):
            child = node.add(f"batch {batch}")
            for other in nxt:
                leaf = child.add(f"lot {other}")
                if other not in seen:
                    grow(leaf, other, seen | {other})

    grow(tree, lot_id, {lot_id})
    console.print(tree)


def _edge(e: object) -> dict[str, object]:
    fields = ("lot_id", "material", "batch_id", "step", "quantity", "unit", "direction")
    return {f: getattr(e, f) for f in fields}
