"""Entry point of the ``phactory`` command; sub-commands live in sibling modules."""

from __future__ import annotations

import os
import sys

import typer

app = typer.Typer(
    name="phactory",
    help="Phactory: open-source smart manufacturing for pharmaceutical production.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _register() -> None:
    # Sub-command modules register themselves on import; importing here keeps start-up
    # cost in one place and lets each module stay small.
    from phactory.cli import (  # noqa: F401
        batch_commands,
        demo_command,
        schedule_commands,
        serve_commands,
        simulate_commands,
        site_commands,
    )
    from phactory.cli.bench_commands import app as bench_app
    from phactory.cli.process_commands import app as process_app

    if not any(g.name == "bench" for g in app.registered_groups):
        app.add_typer(bench_app, name="bench", help="Public benchmarks (scheduling).")

    if not any(g.name == "process" for g in app.registered_groups):
        app.add_typer(
            process_app,
            name="process",
            help="Process models: simulate, sensitivity, design space, surrogates.",
        )


def main() -> None:
    """Run the command line.

    User errors are reported by each command with exit code 2. Anything else is a bug:
    it is reported in one line (exit 1) and the traceback is shown only with
    ``PHACTORY_DEBUG=1``, so that users never have to read Python internals.
    """
    _register()
    try:
        app(standalone_mode=True)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise SystemExit(130) from None
    except Exception as exc:
        if os.environ.get("PHACTORY_DEBUG"):
            raise
        sys.stderr.write(
            f"internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug in Phactory; rerun with PHACTORY_DEBUG=1 for the traceback.\n"
        )
        raise SystemExit(1) from None
