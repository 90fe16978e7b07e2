"""Script-injection payloads, and the check that an HTML export shows them only as text.

Used by the hostile-string tests of every export (KPI report, schedule Gantt, batch
record, process studies). A page passes :func:`assert_inert` when parsing it finds no
element or attribute a payload could have made (``<img>``, ``<svg>``, ``<iframe>``,
``on*`` handlers, a script that is not Phactory's own), when the figures' JSON holds no
markup Plotly would render (every ``<`` in data is escaped; only the ``<br>`` line
breaks of :func:`phactory.htmlsafe.plain` remain), and when each payload that the page
should show is there as text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import yaml

from phactory.htmlsafe import CODE_KEYS, plain, plotly_script

#: The classic payloads: a script element, an event handler, an attribute breakout, and
#: a script end tag meant to break out of an inline script (the figures' JSON).
PAYLOADS = (
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
    "</script><script>alert(1)</script>",
)
#: The small site of the tests, whose names the hostile site replaces.
TINY_SITE = Path(__file__).resolve().parent / "data" / "tiny-site.yaml"
#: Elements no export of Phactory writes; any of them comes from a payload.
FOREIGN_TAGS = frozenset({"img", "svg", "iframe", "object", "embed", "a", "form", "base"})


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.text: list[str] = []
        self._script: dict[str, str | None] | None = None
        self._buffer: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        if tag == "script":
            self._script, self._buffer = dict(attrs), []

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            self.scripts.append((self._script, "".join(self._buffer)))
            self._script = None

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._buffer.append(data)
        else:
            self.text.append(data)


def parse(page: str) -> _Page:
    """The page's elements, scripts (attributes, text) and text outside scripts."""
    parser = _Page()
    parser.feed(page)
    parser.close()
    return parser


def _strings(value: Any, key: str = "") -> Iterator[str]:
    if key in CODE_KEYS:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, str(k))
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v, key)


def figures(page: str) -> list[dict[str, Any]]:
    """The figures of a page, as the JSON their blocks hold."""
    return [
        json.loads(text)
        for attrs, text in parse(page).scripts
        if attrs.get("type") == "application/json"
    ]


def assert_inert(page: str, shown: Iterable[str] = ()) -> None:
    """Fail unless ``page`` shows every text as text (see the module docstring).

    Parameters
    ----------
    shown
        Payloads the page must show (in its text or in a figure), as text.
    """
    parsed = parse(page)
    foreign = [tag for tag, _ in parsed.tags if tag in FOREIGN_TAGS]
    assert not foreign, f"elements made by a payload: {foreign}"
    handlers = [(tag, a) for tag, attrs in parsed.tags for a, _ in attrs if a.startswith("on")]
    assert not handlers, f"event handlers made by a payload: {handlers}"
    own = {text for _, text in parse(str(plotly_script())).scripts}
    blocks = []
    for attrs, text in parsed.scripts:
        if attrs.get("type") == "application/json":
            assert "<" not in text and ">" not in text, "a figure's JSON holds a raw < or >"
            blocks.append(json.loads(text))
        else:
            assert text in own, f"a script that is not Phactory's: {text[:120]!r}"
    for figure in blocks:
        for s in _strings(figure):
            assert "<" not in s.replace("<br>", ""), f"markup in figure text: {s[:120]!r}"
    text = "".join(parsed.text)
    figure_text = [s for figure in blocks for s in _strings(figure)]
    for payload in shown:
        assert payload in text or any(plain(payload) in s for s in figure_text), (
            f"{payload!r} is not shown as text"
        )
    for payload in PAYLOADS:
        assert payload not in page, f"{payload!r} is in the page as written"


def hostile_site_data(site: dict[str, Any]) -> dict[str, Any]:
    """``site`` (the data of a site file) with a payload in every name and reason it has.

    Ids keep their pattern (letters, digits, ``_ . -``), which keeps markup out of them;
    names, descriptions and reasons are free text and get the payloads in turn.
    """
    payload = iter(PAYLOADS * 100).__next__
    site["name"] = PAYLOADS[0]
    site["description"] = PAYLOADS[1]

    def name_all(items: Any) -> None:
        for item in items.values() if isinstance(items, dict) else items:
            if isinstance(item, dict):
                item["name"] = payload()

    for key in ("skills", "equipment_classes", "materials", "products", "teams"):
        if isinstance(site.get(key), dict):
            site[key] = {
                k: ({**v, "name": payload()} if isinstance(v, dict) else {"name": payload()})
                for k, v in site[key].items()
            }
    for area in site.get("areas", {}).values():
        area["name"] = payload()
        for cell in area.get("process_cells", {}).values():
            cell["name"] = payload()
            name_all(cell.get("units", {}))
    for pattern in site.get("shift_patterns", {}).values():
        pattern["name"] = payload()
        name_all(pattern.get("shifts", []))
    for recipe in site.get("recipes", {}).values():
        recipe["name"] = payload()
        for up in recipe.get("unit_procedures", {}).values():
            up["name"] = payload()
            for op in up.get("operations", {}).values():
                op["name"] = payload()
                name_all(op.get("phases", {}))
    for window in site.get("calendar", {}).get("maintenance", []):
        window["reason"] = payload()
    return site


def hostile_site_file(folder: Path) -> Path:
    """tests/data/tiny-site.yaml with :func:`hostile_site_data`, written to ``folder``."""
    data = hostile_site_data(yaml.safe_load(TINY_SITE.read_text(encoding="utf-8")))
    path = folder / "hostile-site.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path
