"""YAML bombs and other hostile documents are refused before they are expanded.

Each bomb here would take far more memory and time than any machine has if it were
expanded (10**9 to 10**30 values), so a refusal at all shows that the size was measured
on the composed graph; ``benchmarks/yaml_bomb.py`` records how fast.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phactory.errors import InvalidError
from phactory.model import load_site
from phactory.model.errors import SiteValidationError
from phactory.model.loader import validate_site
from phactory.model.yamlio import YamlLimits, YamlRefused, compose, safe_load


def billion_laughs(levels: int = 9, width: int = 10) -> str:
    """The classic: each level references the previous one ``width`` times."""
    lines = ['a0: &a0 "lol"']
    for i in range(1, levels + 1):
        refs = ", ".join([f"*a{i - 1}"] * width)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


def quadratic(n: int) -> str:
    """One anchored list of ``n`` values referenced ``n`` times: n**2 values from O(n) text."""
    big = "[" + ", ".join("x" for _ in range(n)) + "]"
    refs = "\n".join(f"  k{i}: *big" for i in range(n))
    return f"big: &big {big}\nrefs:\n{refs}\n"


BOMBS = {
    "billion laughs (10**9)": billion_laughs(9, 10),
    "thirty levels (10**30)": billion_laughs(30, 10),
    "twelve levels of eight": billion_laughs(12, 8),
    "quadratic 3,000": quadratic(3000),
    "merge-key laughs": "\n".join(
        ["a0: &a0 {x0: 1, x1: 1, x2: 1, x3: 1, x4: 1, x5: 1, x6: 1, x7: 1, x8: 1, x9: 1}"]
        + [
            f"a{i}: &a{i} [" + ", ".join(f"{{<<: *a{i - 1}}}" for _ in range(10)) + "]"
            for i in range(1, 9)
        ]
    ),
}


@pytest.mark.parametrize("name", list(BOMBS))
def test_bombs_are_refused_without_expansion(name: str) -> None:
    with pytest.raises(YamlRefused) as info:
        compose(BOMBS[name], "bomb.yaml")
    assert info.value.source == "bomb.yaml"
    assert "alias" in info.value.reason
    assert isinstance(info.value, InvalidError)


@pytest.mark.parametrize("name", ["billion laughs (10**9)", "quadratic 3,000"])
def test_site_file_bomb_is_a_located_problem(tmp_path: Path, name: str) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(BOMBS[name], encoding="utf-8")
    site, problems = validate_site(path)
    assert site is None
    assert len(problems) == 1
    assert problems[0].mark is not None and problems[0].mark.file.endswith("site.yaml")
    assert "alias" in problems[0].message
    with pytest.raises(SiteValidationError):
        load_site(path)


def test_a_bomb_in_a_section_file_names_that_file(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text("id: s\nname: S\n", encoding="utf-8")
    (tmp_path / "plan.yaml").write_text(BOMBS["billion laughs (10**9)"], encoding="utf-8")
    _, problems = validate_site(tmp_path)
    assert any(
        p.mark is not None and p.mark.file.endswith("plan.yaml") and "alias" in p.message
        for p in problems
    )


def test_deep_nesting_is_refused_with_its_position() -> None:
    text = "x: " + "[" * 500 + "]" * 500 + "\n"
    with pytest.raises(YamlRefused) as info:
        compose(text, "deep.yaml")
    assert "nested" in info.value.reason
    assert info.value.line == 1 and info.value.column > 200


def test_oversized_file_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    with path.open("wb") as f:  # sparse: no need to write the bytes
        f.truncate(11 * 2**20)
    _, problems = validate_site(path)
    assert len(problems) == 1 and "at most" in problems[0].message


def test_oversized_text_is_refused() -> None:
    with pytest.raises(YamlRefused, match="bytes"):
        compose("x: " + "y" * 2000, "t.yaml", YamlLimits(max_bytes=1000))


def test_recursive_alias_does_not_hang() -> None:
    node = compose("a: &a [1, *a]\n", "r.yaml")
    assert node is not None  # the loader reports the recursion as a located problem


def test_syntax_error_is_located() -> None:
    with pytest.raises(YamlRefused) as info:
        safe_load("a: [1, 2\nb: 3\n", "bad.yaml")
    assert info.value.line >= 2
    assert str(info.value).startswith("bad.yaml:")


def test_ordinary_anchors_and_merge_keys_still_load() -> None:
    text = "base: &base {duration: 2 h, crew: 2}\nphases:\n" + "".join(
        f"  p{i}: {{<<: *base, name: p{i}}}\n" for i in range(200)
    )
    data = safe_load(text, "ok.yaml")
    assert data["phases"]["p7"] == {"duration": "2 h", "crew": 2, "name": "p7"}


@settings(max_examples=60, deadline=None)
@given(st.recursive(st.integers() | st.text(max_size=5), lambda c: st.lists(c, max_size=4)))
def test_alias_free_documents_load_as_yaml_does(value: object) -> None:
    import yaml

    text = yaml.safe_dump({"v": value})
    assert safe_load(text, "h.yaml") == yaml.safe_load(text)
