"""``phactory control``: soft controllers, their programs and the plant they run.

The group is defined here; its commands live in sibling modules named after what they
work on (programs, the simulated scan, a running plant), each registering on :data:`app`.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Soft controllers: check and simulate ST programs, run a site's controllers.",
    no_args_is_help=True,
)


def register() -> typer.Typer:
    """Import the command modules (they register on :data:`app`) and return the group."""
    from phactory.cli import (  # noqa: F401
        control_plant_commands,
        control_program_commands,
        control_run_commands,
        control_simulate_command,
    )

    return app
