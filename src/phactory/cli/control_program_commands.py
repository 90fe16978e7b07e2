"""``phactory control check FILE.st...``: compile Structured Text and report every problem.

Problems are printed one per line as ``FILE:LINE:COL: POU: message`` on stderr (exit 2),
like ``phactory validate`` prints the problems of a site; a clean compile prints what the
files declare. The compiler is imported inside the command, so that ``phactory --help``
stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from phactory.cli.control_commands import app
from phactory.cli.output import console, echo_json, fail, print_problems


@app.command()
def check(
    files: Annotated[
        list[Path], typer.Argument(help="Structured Text files (.st), compiled together.")
    ],
    show_python: Annotated[
        str | None,
        typer.Option("--show-python", help="Also print the Python generated for this POU."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the POUs as JSON.")] = False,
) -> None:
    """Compile ST files; list every problem as FILE:LINE:COL (exit 2 if any)."""
    from phactory.control.st import STCompileError, compile_files

    try:
        lib = compile_files(files)
    except STCompileError as exc:
        print_problems(exc.problems)
        fail(f"{len(exc.problems)} error(s) in {exc.source}")
    rows: list[dict[str, Any]] = []
    for name, cls in lib.pous.items():
        decls = cls.DECLS
        sections: dict[str, int] = {}
        for d in decls:
            sections[d.section.value] = sections.get(d.section.value, 0) + 1
        rows.append({"name": cls.NAME, "kind": cls.KIND, "key": name, "variables": sections})
    for name in lib.functions:
        rows.append({"name": lib.names[name], "kind": "FUNCTION", "key": name, "variables": {}})
    if as_json:
        echo_json({"files": [str(f) for f in files], "pous": rows}, indent=2)
    else:
        names = str(files[0]) if len(files) == 1 else f"{len(files)} files"
        console.print(f"[green]OK[/green] {names}: {len(rows)} POU(s)", highlight=False)
        for r in rows:
            counts = ", ".join(f"{n} {s}" for s, n in r["variables"].items())
            console.print(
                f"  {r['kind']:<15} {r['name']}" + (f"  ({counts})" if counts else ""),
                highlight=False,
                markup=False,
            )
    if show_python:
        typer.echo(lib.source(show_python))
