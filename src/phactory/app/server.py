"""Running the server: open the services, report on the console, serve with uvicorn.

Serving over TLS: give a certificate and its key (``phactory serve --ssl-certfile
cert.pem --ssl-keyfile key.pem``); uvicorn then speaks HTTPS, the session cookie is
``Secure`` and responses carry ``Strict-Transport-Security``. Behind a reverse proxy that
ends TLS, pass ``--forwarded-allow-ips`` the proxy's address (default ``127.0.0.1``, a
proxy on the same machine): requests from it are then taken to come from the address in
``X-Forwarded-For`` (the login lockout counts per client address) and over the scheme in
``X-Forwarded-Proto`` (the cookie is ``Secure`` under HTTPS). Forwarded headers from any
other address are ignored.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phactory.app.settings import AppSettings

__all__ = ["Tls", "main", "open_context", "serve"]

Echo = Callable[[str], Any]


@dataclass(frozen=True, slots=True)
class Tls:
    """A certificate chain and its private key (PEM files) to serve HTTPS with."""

    certfile: Path
    keyfile: Path
    password: str | None = None


def open_context(settings: AppSettings, site_path: Path | None, echo: Echo) -> Any:
    """Open the services and print what start-up did; exits 2 on a bad site or database."""
    from phactory.app.context import AppContext
    from phactory.app.errors import AppError
    from phactory.app.services.accounts import SYSTEM
    from phactory.model import SiteValidationError, load_site
    from phactory.store import StoreError

    site = None
    if site_path is not None:
        try:
            site = load_site(site_path)
        except SiteValidationError as exc:
            for p in exc.problems:
                echo(str(p))
            echo(f"{site_path}: not served; fix the problems above.")
            raise SystemExit(2) from None
        except FileNotFoundError as exc:
            echo(str(exc))
            raise SystemExit(2) from None
    try:
        ctx = AppContext(settings)
    except StoreError as exc:
        echo(f"cannot open the database: {exc}")
        raise SystemExit(2) from None
    except AppError as exc:  # e.g. PHACTORY_ADMIN_PASSWORD too short
        echo(f"cannot start: {exc.message}")
        raise SystemExit(2) from None
    report = ctx.report
    if site is not None:
        version = ctx.workspace.import_site(SYSTEM, site, str(site_path))
        echo(f"Loaded {site_path} as {version.site_id} v{version.version}")
    if report.examples_loaded:
        echo(f"Loaded the example sites: {', '.join(report.examples_loaded)}")
    if report.interrupted_runs:
        echo(
            f"Marked {len(report.interrupted_runs)} run(s) that were running when the server "
            "last stopped as failed"
        )
    if report.admin_created:
        if report.admin_password is not None:
            echo("")
            echo("  Created the first account:  user admin")
            echo(f"                              password {report.admin_password}")
            echo("  (shown only now; you choose a new one at the first login)")
            echo("")
        else:
            echo(
                "Created the first account, admin, with the password PHACTORY_ADMIN_PASSWORD "
                "(to be changed at the first login)"
            )
    return ctx


def serve(
    settings: AppSettings,
    site_path: Path | None = None,
    *,
    echo: Echo = print,
    log_level: str = "warning",
    tls: Tls | None = None,
    forwarded_allow_ips: str | None = None,
) -> None:
    """Serve the API and the pages on ``settings.host:settings.port`` until interrupted.

    Parameters
    ----------
    tls
        Serve HTTPS with this certificate (see the module).
    forwarded_allow_ips
        Addresses of reverse proxies whose ``X-Forwarded-For`` and ``X-Forwarded-Proto``
        are believed (comma-separated, ``*`` for any); default uvicorn's: the
        ``FORWARDED_ALLOW_IPS`` environment variable, else ``127.0.0.1``.
    """
    import uvicorn

    if tls is not None:
        for path in (tls.certfile, tls.keyfile):
            if not path.is_file():
                echo(f"{path}: no such file (--ssl-certfile / --ssl-keyfile)")
                raise SystemExit(2)
        settings = settings.model_copy(update={"cookie_secure": True})

    from phactory.app.factory import create_app
    from phactory.store import mask_url

    ctx = open_context(settings, site_path, echo)
    try:
        app = create_app(context=ctx, ui=True)
    except BaseException:
        ctx.close()
        raise
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    scheme = "https" if tls is not None else "http"
    echo(f"Database {mask_url(settings.database_url)}")
    echo(f"Phactory is running at {scheme}://{host}:{settings.port}/  (API docs: /docs)")
    echo("Press Ctrl+C to stop.")
    sys.stdout.flush()
    options: dict[str, Any] = {}
    if tls is not None:
        options.update(
            ssl_certfile=str(tls.certfile),
            ssl_keyfile=str(tls.keyfile),
            ssl_keyfile_password=tls.password,
        )
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=5,
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
        # Each request's headers are bounded too (the bodies by the app's BodyLimit).
        h11_max_incomplete_event_size=64 * 1024,
        **options,
    )


def main(argv: list[str] | None = None) -> None:
    """``python -m phactory.app``: the same options as ``phactory serve``."""
    parser = argparse.ArgumentParser(prog="python -m phactory.app")
    parser.add_argument("path", nargs="?", type=Path, help="a site file or folder to load")
    parser.add_argument("--host", default=None)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--ssl-certfile", type=Path, default=None)
    parser.add_argument("--ssl-keyfile", type=Path, default=None)
    parser.add_argument("--forwarded-allow-ips", default=None)
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {}
    if args.host:
        overrides["host"] = args.host
    if args.port:
        overrides["port"] = args.port
    if (args.ssl_certfile is None) != (args.ssl_keyfile is None):
        parser.error("--ssl-certfile and --ssl-keyfile go together")
    tls = Tls(args.ssl_certfile, args.ssl_keyfile) if args.ssl_certfile else None
    serve(
        AppSettings.from_env(**overrides),
        args.path,
        echo=lambda s: print(s, flush=True),
        tls=tls,
        forwarded_allow_ips=args.forwarded_allow_ips,
    )
