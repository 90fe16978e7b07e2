"""``phactory batch ...``, ``phactory audit verify`` and ``phactory trace``.

Batch execution and the electronic batch record from the command line. The database is
the store's (``--db URL``, else ``PHACTORY_DATABASE_URL``, else the SQLite file in the
data folder). Passwords are never options: they are read from an environment variable
(``PHACTORY_PASSWORD`` for ``--user``, ``PHACTORY_OPERATOR_PASSWORD`` and
``PHACTORY_VERIFIER_PASSWORD`` for simulated operators, ``PHACTORY_NEW_PASSWORD`` for a
new account) or asked for on the terminal.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table
from rich.tree import Tree

from phactory.cli.main import app
from phactory.cli.output import console, fail
from phactory.cli.site_commands import SitePath, load_or_exit

if TYPE_CHECKING:
    from phactory.records import RecordService, UserSession

batch_app = typer.Typer(
    help="Execute ISA-88 batches and keep their electronic batch records.",
    no_args_is_help=True,
)
audit_app = typer.Typer(help="Check the audit trail of the batch records.", no_args_is_help=True)
app.add_typer(batch_app, name="batch")
app.add_typer(audit_app, name="audit")

Db = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default: PHACTORY_DATABASE_URL or the SQLite file)."),
]
UserOpt = Annotated[
    str, typer.Option("--user", "-u", help="Your user id (password: PHACTORY_PASSWORD).")
]

#: Exit code of ``audit verify`` when the chain is broken.
EXIT_BROKEN = 1


def _password(env: str, prompt: str) -> str:
    value = os.environ.get(env)
    if value:
        return value
    if sys.stdin.isatty():
        return str(typer.prompt(prompt, hide_input=True))
    fail(f"no password: set {env} or run in a terminal")


@contextmanager
def _records(db: str | None) -> Iterator[RecordService]:
    from phactory.records import RecordError, RecordService
    from phactory.store import StoreError

    try:
        service = RecordService(db)
    except StoreError as exc:
        fail(str(exc))
    try:
        yield service
    except RecordError as exc:
        fail(str(exc))
    except ValueError as exc:  # InvalidCommand and bad arguments
        fail(str(exc))
    finally:
        service.close()


def _login(records: RecordService, user: str, env: str = "PHACTORY_PASSWORD") -> UserSession:
    return records.login(user, _password(env, f"Password for {user}"))


@batch_app.command("user-add")
def user_add(
    user_id: Annotated[str, typer.Argument(help="New user id (never reused).")],
    name: Annotated[str, typer.Option("--name", help="Printed name shown with signatures.")],
    role: Annotated[str, typer.Option("--role", help="operator, supervisor, qa, qp or admin.")],
    skill: Annotated[
        list[str] | None, typer.Option("--skill", help="Qualification (repeat).")
    ] = None,
    admin: Annotated[str | None, typer.Option("--admin", help="Administrator creating it.")] = None,
    db: Db = None,
) -> None:
    """Create an account; the first account of a new database is its administrator."""
    with _records(db) as records:
        password = _password("PHACTORY_NEW_PASSWORD", f"New password for {user_id}")
        humans = [u for u in records.users() if u.role != "system"]
        if not humans:
            if role != "admin":
                fail("the first account must be an administrator (--role admin)")
            records.bootstrap_admin(user_id, name, password)
        else:
            if admin is None:
                fail("give --admin: an administrator creates accounts")
            session = records.login(admin, _password("PHACTORY_PASSWORD", f"Password for {admin}"))
            records.create_user(session, user_id, name, role, password, skills=tuple(skill or ()))
        console.print(f"[green]created[/green] {user_id} ({role})")


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
    db: Db = None,
) -> None:
    """Create a batch from a master recipe (control recipe, units) and Start it."""
    from phactory.batch import BatchEngine

    site = load_or_exit(site_path)
    if recipe is None and order is None:
        fail("give --recipe or --order")
    with _records(db) as records:
        session = _login(records, user)
        engine = BatchEngine(records)
        info = engine.create_batch(
            session,
            site,
            recipe,
            batch_id=batch_id,
            order_id=order,
            batch_size=size,
            parameters=_parse_params(param),
            seed=seed,
        )
        engine.command(session, info.batch_id, "Start", "started from the command line")
        console.print(f"[green]started[/green] batch [bold]{info.batch_id}[/bold]")
        typer.echo(info.batch_id)


@batch_app.command("command")
def command(
    batch_id: Annotated[str, typer.Argument(help="The batch.")],
    name: Annotated[
        str, typer.Argument(help="Start, Pause, Resume, Hold, Restart, Stop, Abort, Reset.")
    ],
    user: UserOpt,
    reason: Annotated[str, typer.Option("--reason", help="Why.")] = "",
    db: Db = None,
) -> None:
    """Give an ISA-88 command to a batch."""
    from phactory.batch import BatchEngine

    with _records(db) as records:
        session = _login(records, user)
        new = BatchEngine(records).command(session, batch_id, name.capitalize(), reason)
        console.print(f"batch {batch_id}: {new.value}")


@batch_app.command("run")
def run(
    batch_id: Annotated[str, typer.Argument(help="The batch.")],
    time_scale: Annotated[
        float, typer.Option("--time-scale", help="Wall-clock / recipe time (1 = real time).")
    ] = 1.0,
    operator: Annotated[
        str | None, typer.Option("--operator", help="Simulate manual steps as this user.")
    ] = None,
    verifier: Annotated[
        str | None, typer.Option("--verifier", help="Second person for critical steps.")
    ] = None,
    restart: Annotated[
        bool, typer.Option("--restart", help="Restart a Held batch first (needs --user).")
    ] = False,
    user: Annotated[str | None, typer.Option("--user", "-u", help="User giving --restart.")] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", help="Stop after [s].")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait at holds and manual steps.")] = False,
    db: Db = None,
) -> None:
    """Run a batch: automatic phases on simulated units, manual ones as work instructions."""
    from phactory.batch import BatchEngine, BatchStatus, SimulatedOperator, State

    with _records(db) as records:
        engine = BatchEngine(records, time_scale=time_scale)
        sim = None
        if operator is not None:
            op_pw = _password("PHACTORY_OPERATOR_PASSWORD", f"Password for {operator}")
            op = records.login(operator, op_pw)
            ver, ver_pw = None, None
            if verifier is not None:
                ver_pw = _password("PHACTORY_VERIFIER_PASSWORD", f"Password for {verifier}")
                ver = records.login(verifier, ver_pw)
            sim = SimulatedOperator(op, op_pw, ver, ver_pw)
        if restart:
            if user is None:
                fail("--restart needs --user")
            session = _login(records, user)
            engine.attach(batch_id)
            engine.detach(batch_id)
            if engine.status(batch_id).state is State.HELD:
                engine.command(session, batch_id, "Restart", "restart from the command line")
        total = len(engine.status(batch_id).steps)
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
                    task,
                    completed=done,
                    description=f"{batch_id} {status.state.value} {where}",
                )

            final = engine.run(batch_id, operator=sim, timeout_s=timeout, wait=wait, progress=show)
        console.print(f"batch [bold]{batch_id}[/bold]: {final.state.value}")
        if final.waiting_for:
            console.print(f"waiting for {final.waiting_for}")


@batch_app.command("status")
def status(
    batch_id: Annotated[str | None, typer.Argument(help="The batch (default: list all).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    db: Db = None,
) -> None:
    """Show batches, or one batch: steps, deviations, signatures, what it waits for."""
    from phactory.batch import BatchEngine

    with _records(db) as records:
        engine = BatchEngine(records)
        if batch_id is None:
            rows = [
                {"batch": b.batch_id, "recipe": b.recipe_id, "state": b.state, "status": b.status}
                for b in engine.batches()
            ]
            if as_json:
                typer.echo(json.dumps(rows, indent=2))
                return
            table = Table("batch", "recipe", "state", "disposition", title="Batches")
            for r in rows:
                table.add_row(r["batch"], r["recipe"], r["state"], r["status"])
            console.print(table)
            return
        st = engine.status(batch_id)
        devs = records.deviations(batch_id)
        sigs = records.signatures(batch_id=batch_id)
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "batch": batch_id,
                        "state": st.batch.state,
                        "status": st.batch.status,
                        "waiting_for": st.waiting_for,
                        "steps": [
                            {"step": s.step, "kind": s.kind, "unit": s.unit, "state": s.state}
                            for s in st.steps
                        ],
                        "deviations": [
                            {"id": d.deviation_id, "kind": d.kind, "status": d.status} for d in devs
                        ],
                        "signatures": [
                            {
                                "manifestation": s.manifestation(),
                                "valid": s.valid,
                                "status": s.status,
                            }
                            for s in sigs
                        ],
                    },
                    indent=2,
                )
            )
            return
        console.print(
            f"[bold]{batch_id}[/bold] {st.batch.recipe_id} v{st.batch.recipe_version}: "
            f"{st.batch.state}, record {st.batch.status}"
        )
        table = Table("step", "kind", "unit", "state", title="Steps")
        for s in st.steps:
            table.add_row(s.step, s.kind, s.unit, s.state)
        console.print(table)
        for d in devs:
            console.print(f"deviation {d.deviation_id} [{d.status}] {d.kind}: {d.description}")
        for sig in sigs:
            mark = "" if sig.valid else f"  [red]INVALID: {sig.problem}[/red]"
            if sig.status not in ("valid", "invalid"):
                mark += f"  [yellow]({sig.status})[/yellow]"
            console.print(
                f"signature {sig.record_type}:{sig.record_id}: {sig.manifestation()}{mark}"
            )
        if st.waiting_for:
            console.print(f"waiting for {st.waiting_for}")


@batch_app.command("export")
def export(
    batch_id: Annotated[str, typer.Argument(help="The batch.")],
    html: Annotated[Path | None, typer.Option("--html", help="Write the HTML record here.")] = None,
    pdf: Annotated[Path | None, typer.Option("--pdf", help="Write the PDF record here.")] = None,
    batchml: Annotated[Path | None, typer.Option("--batchml", help="Write BatchML here.")] = None,
    db: Db = None,
) -> None:
    """Export a batch record as HTML or PDF (with signature manifestations) and/or BatchML."""
    from phactory.records import batch_record_batchml, batch_record_html, batch_record_pdf

    if html is None and pdf is None and batchml is None:
        fail("give --html, --pdf and/or --batchml")
    with _records(db) as records:
        record = records.batch_record(batch_id)
        if html is not None:
            html.write_text(batch_record_html(record), encoding="utf-8")
            console.print(f"wrote {html}")
        if pdf is not None:
            pdf.write_bytes(batch_record_pdf(record))
            console.print(f"wrote {pdf}")
        if batchml is not None:
            batchml.write_text(batch_record_batchml(record), encoding="utf-8")
            console.print(f"wrote {batchml}")


@audit_app.command("verify")
def verify(db: Db = None) -> None:
    """Verify the hash chain of the audit trail; name the first bad entry (exit 1)."""
    with _records(db) as records, Progress(console=console, transient=True) as bar:
        task = bar.add_task("verifying audit trail", total=None)
        report = records.verify_audit(progress=lambda n: bar.update(task, completed=n))
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
    with _records(db) as records:
        g = records.trace(lot_id, "forward" if forward else "backward")
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "lot": g.root,
                    "direction": g.direction,
                    "lots": g.lots,
                    "batches": g.batches,
                    "edges": [_edge(e) for e in g.edges],
                },
                indent=2,
            )
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
