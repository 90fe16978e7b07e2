"""Entry point of the ``phactory`` command; sub-commands live in sibling modules.

Start-up is kept short: this module and the command modules it registers import only
Typer, Rich and the standard library at top level. Each command imports what it uses
(the model, pandas, SciPy, SQLAlchemy, the web app) when it runs, so that
``phactory --help`` does not pay for them (``benchmarks/cli.py`` measures it).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import typer
from typer.core import TyperGroup

from phactory.cli.output import EXIT_REFUSED, report_refusal
from phactory.errors import PhactoryError


class PhactoryGroup(TyperGroup):
    """The command group that reports refusals in one place.

    Any :class:`~phactory.errors.PhactoryError` a command lets through (a site that does
    not validate, a run that is not stored, a database that cannot be reached) is printed
    as one line naming what and where, with exit code 2. It wraps every sub-command and
    sub-group, so that :func:`main` and a test's ``CliRunner`` behave alike.
    """

    def invoke(self, ctx: Any) -> Any:  # Typer's own (vendored) click Context
        try:
            return super().invoke(ctx)
        except PhactoryError as exc:
            if os.environ.get("PHACTORY_DEBUG"):
                raise
            report_refusal(exc)
            raise typer.Exit(EXIT_REFUSED) from None


app = typer.Typer(
    name="phactory",
    cls=PhactoryGroup,
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
        commission_command,
        demo_command,
        lot_commands,
        schedule_commands,
        serve_commands,
        simulate_commands,
        site_commands,
    )
    from phactory.cli.bench_commands import app as bench_app
    from phactory.cli.control_commands import register as register_control
    from phactory.cli.historian_commands import app as historian_app
    from phactory.cli.kpi_commands import app as kpi_app
    from phactory.cli.mqtt_commands import app as mqtt_app
    from phactory.cli.process_commands import app as process_app

    _register_monitoring()

    if not any(g.name == "bench" for g in app.registered_groups):
        app.add_typer(bench_app, name="bench", help="Public benchmarks (scheduling).")

    if not any(g.name == "historian" for g in app.registered_groups):
        app.add_typer(
            historian_app,
            name="historian",
            help="The plant historian: trends of tags, tags, retention.",
        )

    if not any(g.name == "mqtt" for g in app.registered_groups):
        app.add_typer(
            mqtt_app,
            name="mqtt",
            help="MQTT unified namespace: historian ingest, publisher queues, the batch record.",
        )

    if not any(g.name == "kpi" for g in app.registered_groups):
        app.add_typer(kpi_app, name="kpi", help="KPIs of the live plant (ISO 22400).")

    if not any(g.name == "control" for g in app.registered_groups):
        app.add_typer(
            register_control(),
            name="control",
            help="Soft controllers: IEC 61131-3 ST programs, scan cycle, OPC UA.",
        )

    if not any(g.name == "process" for g in app.registered_groups):
        app.add_typer(
            process_app,
            name="process",
            help="Process models: simulate, sensitivity, design space, surrogates.",
        )


def _register_monitoring() -> None:
    """``monitor`` (MSPC, and ``watch`` of the live plant), ``batchmon``, ``softsensor``,
    ``rul`` and ``pdm``: each from its module, if not yet registered."""
    import importlib

    groups = {
        "monitor": (
            "monitor_commands",
            "Multivariate statistical process monitoring: fit "
            "a model on good data, score any CSV, watch the historian live.",
        ),
        "batchmon": (
            "batchmon_commands",
            "Batch evolution monitoring: trajectories "
            "aligned by time, maturity or DTW; running batches against limits.",
        ),
        "softsensor": (
            "softsensor_commands",
            "PAT soft sensors: PLS on preprocessed spectra, with an applicability domain.",
        ),
        "rul": (
            "rul_commands",
            "Remaining useful life from run-to-failure sensor "
            "histories, with prediction intervals.",
        ),
        "pdm": (
            "pdm_commands",
            "Reliability from maintenance and failure records; update a twin scenario with it.",
        ),
    }
    for name, (module, text) in groups.items():
        if any(g.name == name for g in app.registered_groups):
            continue
        group = importlib.import_module(f"phactory.cli.{module}").app
        if name == "monitor":
            from phactory.cli.monitor_live_commands import register

            register(group)
        app.add_typer(group, name=name, help=text)


def main() -> None:
    """Run the command line.

    Refusals (any :class:`~phactory.errors.PhactoryError`) are reported by
    :class:`PhactoryGroup` in one line with exit code 2. Anything else is a bug: it is
    reported in one line (exit 1) and the traceback is shown only with
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
