"""The compiled event loop and the plain-Python one are the same program.

``setup.py`` compiles the loop's modules with Cython (``phactory.twin._compiled``); the
``.py`` files stay the source and run as they are where no build exists or the build is
older than the sources. These tests check the choice between the two and that both give
the same event log, row for row, on every example site.

Set ``PHACTORY_REQUIRE_COMPILED=1`` (``.ci/run`` does) to fail instead of skip when the
compiled build is missing.
"""

from __future__ import annotations

import importlib.machinery
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import phactory.twin
from phactory.twin import _compiled

ROOT = Path(__file__).resolve().parents[2]
TWIN = ROOT / "src" / "phactory" / "twin"

# Runs one simulation per example and prints a digest of each table of its event log.
DIGEST_SCRIPT = """
import hashlib, json, sys
import phactory.twin
from phactory.model import load_site
from phactory.twin import simulate
out = {"build": phactory.twin.BUILD}
for name, days, seed in (("mab-biologics", 120, 3), ("mrna-vaccine", 90, 5),
                         ("car-t-autologous", 60, 7)):
    log = simulate(load_site(f"examples/{name}"), days=days, seed=seed)
    out[name] = {
        table: hashlib.sha256(
            getattr(log, table).to_csv(index=False, float_format="%.17g").encode()
        ).hexdigest()
        for table in ("timeline", "events", "labour", "batches")
    }
print(json.dumps(out))
"""


def _run_digest(pure: bool) -> dict[str, object]:
    env = dict(os.environ)
    env.pop("PHACTORY_PURE_PYTHON", None)
    if pure:
        env["PHACTORY_PURE_PYTHON"] = "1"
    done = subprocess.run(
        [sys.executable, "-c", DIGEST_SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def _compiled_available() -> bool:
    return phactory.twin.BUILD == "compiled"


def test_the_build_in_use_is_reported() -> None:
    assert phactory.twin.BUILD == _compiled.STATUS
    assert phactory.twin.BUILD == "compiled" or phactory.twin.BUILD.startswith("pure Python (")
    if os.environ.get("PHACTORY_REQUIRE_COMPILED") == "1":
        assert phactory.twin.BUILD == "compiled", phactory.twin.BUILD


def test_compiled_and_pure_python_give_the_same_event_logs() -> None:
    if not _compiled_available():
        if os.environ.get("PHACTORY_REQUIRE_COMPILED") == "1":
            pytest.fail(f"the compiled twin is required but not in use: {phactory.twin.BUILD}")
        pytest.skip(f"the compiled twin is not in use here: {phactory.twin.BUILD}")
    compiled = _run_digest(pure=False)
    pure = _run_digest(pure=True)
    assert compiled.pop("build") == "compiled"
    assert str(pure.pop("build")).startswith("pure Python (PHACTORY_PURE_PYTHON")
    assert compiled == pure


# -- choosing the build ---------------------------------------------------------------


@pytest.fixture
def source_folder(tmp_path: Path) -> Path:
    """A copy of the loop's sources (``.py`` and ``.pxd``), with no build."""
    for name in _compiled.MODULES:
        for suffix in (".py", ".pxd"):
            src = TWIN / f"{name}{suffix}"
            (tmp_path / src.name).write_bytes(src.read_bytes())
    return tmp_path


def _build(folder: Path, digest: str | None = None) -> None:
    """Pretend a build: one extension file per module and the manifest."""
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    for name in _compiled.MODULES:
        (folder / f"{name}{suffix}").write_bytes(b"")
    manifest = {"digest": digest or _compiled.source_digest(folder)}
    (folder / _compiled.MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")


def test_no_build_means_pure_python(source_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PHACTORY_PURE_PYTHON", raising=False)
    assert _compiled._why_not_compiled(source_folder) == "not built"


def test_a_complete_build_of_these_sources_is_used(
    source_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PHACTORY_PURE_PYTHON", raising=False)
    _build(source_folder)
    assert _compiled._why_not_compiled(source_folder) is None


def test_an_edited_source_is_never_shadowed_by_an_old_build(
    source_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PHACTORY_PURE_PYTHON", raising=False)
    _build(source_folder)
    batch = source_folder / "batch.py"
    batch.write_text(batch.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    why = _compiled._why_not_compiled(source_folder)
    assert why is not None and "changed since the build" in why and "make install" in why


def test_a_partial_build_is_not_used(source_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PHACTORY_PURE_PYTHON", raising=False)
    _build(source_folder)
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    (source_folder / f"labour{suffix}").unlink()
    assert _compiled._why_not_compiled(source_folder) == "not built: labour"


def test_a_missing_or_broken_manifest_means_pure_python(
    source_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PHACTORY_PURE_PYTHON", raising=False)
    _build(source_folder)
    (source_folder / _compiled.MANIFEST).write_text("{not json", encoding="utf-8")
    assert _compiled._why_not_compiled(source_folder) == f"no valid {_compiled.MANIFEST}"


def test_the_environment_can_ask_for_pure_python(
    source_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _build(source_folder)
    monkeypatch.setenv("PHACTORY_PURE_PYTHON", "1")
    assert _compiled._why_not_compiled(source_folder) == "PHACTORY_PURE_PYTHON is set"
    monkeypatch.setenv("PHACTORY_PURE_PYTHON", "0")
    assert _compiled._why_not_compiled(source_folder) is None


def test_the_digest_covers_every_source_byte(source_folder: Path) -> None:
    before = _compiled.source_digest(source_folder)
    pxd = source_folder / "recipe.pxd"
    data = bytearray(pxd.read_bytes())
    data[-2] ^= 1
    pxd.write_bytes(bytes(data))
    assert _compiled.source_digest(source_folder) != before


def test_no_c_compiler_still_installs_and_leaves_plain_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """setup.py with a compiler that fails: the build succeeds and writes no manifest."""
    import shutil

    pytest.importorskip("Cython", reason="Cython builds the compiled twin")
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, tmp_path / name)
    twin = tmp_path / "src" / "phactory" / "twin"
    twin.mkdir(parents=True)
    for src in TWIN.iterdir():
        # The generated C files come along (newer than their sources: not regenerated).
        if src.suffix in (".py", ".pxd", ".c"):
            shutil.copy2(src, twin / src.name)
    env = dict(os.environ, CC="/bin/false")
    done = subprocess.run(
        [sys.executable, "setup.py", "--quiet", "build_ext", "--inplace"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "runs as plain Python" in done.stdout
    assert not (twin / _compiled.MANIFEST).exists()
    monkeypatch.delenv("PHACTORY_PURE_PYTHON", raising=False)
    assert _compiled._why_not_compiled(twin) in ("not built", f"no valid {_compiled.MANIFEST}")
