"""Running the server: open the services, report on the console, serve with uvicorn."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from phactory.app.settings import AppSettings

__all__ = ["main", "open_context", "serve"]

Echo = Callable[[str], Any]


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
            echo("  (shown only now; set PHACTORY_ADMIN_PASSWORD to choose it)")
            echo("")
        else:
            echo("Created the first account, admin, with the password PHACTORY_ADMIN_PASSWORD")
    return ctx


def serve(
    settings: AppSettings,
    site_path: Path | None = None,
    *,
    echo: Echo = print,
    log_level: str = "warning",
) -> None:
    """Serve the API and the pages on ``settings.host:settings.port`` until interrupted."""
    import uvicorn

    from phactory.app.factory import create_app
    from phactory.store import mask_url

    ctx = open_context(settings, site_path, echo)
    try:
        app = create_app(context=ctx, ui=True)
    except BaseException:
        ctx.close()
        raise
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    echo(f"Database {mask_url(settings.database_url)}")
    echo(f"Phactory is running at http://{host}:{settings.port}/  (API docs: /docs)")
    echo("Press Ctrl+C to stop.")
    sys.stdout.flush()
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=5,
    )


def main(argv: list[str] | None = None) -> None:
    """``python -m phactory.app``: the same options as ``phactory serve``."""
    parser = argparse.ArgumentParser(prog="python -m phactory.app")
    parser.add_argument("path", nargs="?", type=Path, help="a site file or folder to load")
    parser.add_argument("--host", default=None)
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {}
    if args.host:
        overrides["host"] = args.host
    if args.port:
        overrides["port"] = args.port
    serve(AppSettings.from_env(**overrides), args.path, echo=lambda s: print(s, flush=True))
