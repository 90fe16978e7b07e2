"""``phactory serve`` (the web workspace) and ``phactory user add | token | list | unlock |
password``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from phactory.cli.main import app
from phactory.cli.output import console, err_console, fail

if TYPE_CHECKING:
    from phactory.app.context import AppContext
    from phactory.app.principal import Principal

user_app = typer.Typer(
    name="user",
    help="Accounts of the web workspace: add users, issue API tokens, unlock, set passwords.",
    no_args_is_help=True,
)


@app.command("serve")
def serve(
    path: Annotated[
        Path | None,
        typer.Argument(
            help="A site file or folder to load (as a new version if changed).", metavar="PATH"
        ),
    ] = None,
    host: Annotated[
        str, typer.Option("--host", envvar="PHACTORY_HOST", help="Address to listen on.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", envvar="PHACTORY_PORT", min=1, max=65535, help="Port.")
    ] = 8080,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="Simulation worker processes (default 1)."),
    ] = None,
    ssl_certfile: Annotated[
        Path | None,
        typer.Option("--ssl-certfile", help="Serve HTTPS with this certificate (PEM)."),
    ] = None,
    ssl_keyfile: Annotated[
        Path | None,
        typer.Option("--ssl-keyfile", help="The certificate's private key (PEM)."),
    ] = None,
    ssl_keyfile_password: Annotated[
        str | None,
        typer.Option(
            "--ssl-keyfile-password",
            envvar="PHACTORY_SSL_KEYFILE_PASSWORD",
            help="Password of the private key.",
        ),
    ] = None,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            "--forwarded-allow-ips",
            envvar="FORWARDED_ALLOW_IPS",
            help="Reverse proxies whose X-Forwarded-For/-Proto are believed "
            "(comma-separated; default 127.0.0.1).",
        ),
    ] = None,
) -> None:
    """Serve the web workspace and its REST API on one port (SQLite by default).

    The first start loads the example sites and creates the account admin, whose
    password is printed once (or set PHACTORY_ADMIN_PASSWORD) and must be changed at the
    first login. The database is PHACTORY_DATABASE_URL, else a SQLite file in
    PHACTORY_HOME. With --ssl-certfile and --ssl-keyfile it serves HTTPS; behind a
    reverse proxy that ends TLS, give the proxy's address in --forwarded-allow-ips.
    """
    from phactory.app.server import Tls
    from phactory.app.server import serve as run_server
    from phactory.app.settings import AppSettings

    if (ssl_certfile is None) != (ssl_keyfile is None):
        fail("--ssl-certfile and --ssl-keyfile go together")
    tls = None
    if ssl_certfile is not None and ssl_keyfile is not None:
        tls = Tls(ssl_certfile, ssl_keyfile, ssl_keyfile_password)
    overrides: dict[str, Any] = {"host": host, "port": port}
    if workers is not None:
        overrides["job_workers"] = workers
    try:
        settings = AppSettings.from_env(**overrides)
    except ValueError as exc:
        fail(f"bad settings: {exc}")
    run_server(
        settings,
        path,
        echo=lambda text: console.print(text, markup=False, highlight=False),
        tls=tls,
        forwarded_allow_ips=forwarded_allow_ips,
    )


@contextmanager
def _workspace() -> Iterator[AppContext]:
    """The workspace's services on its database, closed when the block ends."""
    from phactory.app.context import AppContext
    from phactory.app.settings import AppSettings
    from phactory.store import StoreError

    try:
        ctx = AppContext(AppSettings.from_env(prewarm_workers=False), bootstrap=False)
    except StoreError as exc:
        fail(f"cannot open the database: {exc}")
    try:
        yield ctx
    finally:
        ctx.close()


def _cli_admin() -> Principal:
    from phactory.app.principal import Principal
    from phactory.store.database import default_user

    return Principal(f"cli:{default_user()}"[:100], "admin", via="system")


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="User name (letters, digits, . _ @ -).")],
    role: Annotated[
        str,
        typer.Option("--role", help="viewer, operator (commands phases), engineer, admin."),
    ] = "viewer",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Add a user; without --password-stdin a password is generated and printed once."""
    password: str | None = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            fail("no password on standard input")
    with _workspace() as ctx:
        info, generated = ctx.accounts.create_user(_cli_admin(), name, role, password)
    console.print(f"Added {info.name} ({info.role})", markup=False)
    if generated:
        console.print(f"password: {generated}", markup=False, highlight=False)
        err_console.print("(shown only now)", style="dim")


@user_app.command("token")
def user_token(
    name: Annotated[str, typer.Argument(help="The user the token acts as.")],
    label: Annotated[str, typer.Option("--label", help="What the token is for.")] = "",
    hours: Annotated[
        float | None, typer.Option("--hours", min=0.01, help="Lifetime (default: no expiry).")
    ] = None,
) -> None:
    """Issue an API token for NAME; it is printed once (send it as a Bearer token)."""
    with _workspace() as ctx:
        _, secret = ctx.accounts.create_token(
            _cli_admin(), name, label or "phactory user token", hours=hours
        )
    console.print(secret, markup=False, highlight=False)


@user_app.command("list")
def user_list() -> None:
    """List the accounts (and the addresses each is locked for after failed logins)."""
    with _workspace() as ctx:
        admin = _cli_admin()
        users = ctx.accounts.list_users(admin)
        locks: dict[str, list[str]] = {}
        for lock in ctx.accounts.locks(admin):
            locks.setdefault(lock.user_name, []).append(lock.client)
    for u in users:
        state = "" if u.active else " (inactive)"
        if u.must_change_password:
            state += " (must change password)"
        if u.name in locks:
            state += f" (locked from {', '.join(sorted(locks[u.name]))})"
        console.print(f"{u.name:<24} {u.role}{state}", markup=False, highlight=False)


@user_app.command("unlock")
def user_unlock(
    name: Annotated[str, typer.Argument(help="The account to unlock.")],
) -> None:
    """End every login lock of NAME (from any address); recorded in the change log."""
    with _workspace() as ctx:
        ended = ctx.accounts.unlock(_cli_admin(), name)
    console.print(f"Unlocked {name} ({ended} address(es) cleared)", markup=False)


@user_app.command("password")
def user_password(
    name: Annotated[str, typer.Argument(help="The account.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the new password from standard input.")
    ] = False,
) -> None:
    """Set a new password for NAME (revokes its tokens and sessions, ends its locks).

    Without --password-stdin a password is generated, printed once, and must be changed
    at the next login.
    """
    from phactory.app.security import new_password

    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            fail("no password on standard input")
    generated = password is None
    with _workspace() as ctx:
        admin = _cli_admin()
        secret = password if password is not None else new_password()
        ctx.accounts.update_user(admin, name, password=secret)
        ctx.accounts.require_password_change(admin, name, generated)
    console.print(f"Set a new password for {name}", markup=False)
    if generated:
        console.print(f"password: {secret}", markup=False, highlight=False)
        err_console.print("(shown only now; to be changed at the next login)", style="dim")


if not any(group.name == "user" for group in app.registered_groups):
    app.add_typer(user_app, name="user")
