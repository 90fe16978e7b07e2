"""Every broken site file is refused with exit 2 at the marked FILE:LINE and field path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from phactory.cli.main import _register, app

BROKEN = sorted((Path(__file__).parent / "broken").glob("*.yaml"))


def _expectations(path: Path) -> tuple[int, str, str]:
    lines = path.read_text().splitlines()
    marked = [i + 1 for i, line in enumerate(lines) if "# ERROR" in line]
    assert len(marked) == 1, f"{path.name} must mark exactly one line with '# ERROR'"
    message = re.search(r"# expect-message: (.*)", lines[1])
    where = re.search(r"# expect-path: ?(.*)", lines[2])
    assert message and where
    return marked[0], message.group(1).strip(), where.group(1).strip()


def test_there_are_at_least_thirty_broken_files() -> None:
    assert len(BROKEN) >= 30


@pytest.mark.parametrize("path", BROKEN, ids=[p.stem for p in BROKEN])
def test_broken_site_is_refused_at_the_marked_line(path: Path) -> None:
    _register()
    line, message, field_path = _expectations(path)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    out = result.output
    pattern = re.compile(rf"^\S*{re.escape(path.name)}:{line}:\d+: (.+?): (.*)$", re.M)
    hits = pattern.findall(out)
    assert hits, f"no problem reported at line {line}:\n{out}"
    assert any(field_path in p and message in m for p, m in hits), out
    assert "Traceback" not in out
