"""Files written whole or not at all (:mod:`phactory.files`)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from phactory.errors import InvalidError
from phactory.files import write_atomic


def test_a_file_is_replaced_whole_with_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "model.json"
    target.write_text("old", encoding="utf-8")
    assert write_atomic(target, "néw", what="the model", mode=0o600) == target
    assert target.read_text(encoding="utf-8") == "néw"
    write_atomic(tmp_path / "key.pem", b"\x00secret", what="the key", mode=0o600)
    assert stat.S_IMODE(os.stat(tmp_path / "key.pem").st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key.pem", "model.json"]  # no tmp


def test_a_failed_write_names_the_file_and_leaves_the_old_one(tmp_path: Path) -> None:
    target = tmp_path / "gone" / "scenario.yaml"  # no such folder
    with pytest.raises(InvalidError, match=r"scenario\.yaml: cannot write the scenario"):
        write_atomic(target, "x", what="the scenario")
    folder = tmp_path / "dir"
    folder.mkdir()
    (folder / "sub").mkdir()
    with pytest.raises(InvalidError, match="cannot write the position"):
        write_atomic(folder / "sub", "1", what="the position")  # a folder is in the way
    assert (folder / "sub").is_dir() and list(folder.iterdir()) == [folder / "sub"]
