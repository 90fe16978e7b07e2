"""Reading plant definitions from YAML, keeping the position of every value.

A site is one YAML file, or a folder holding ``site.yaml`` plus optional files named
after a top-level section (``plan.yaml``, ``teams.yaml``...) and sub-folders whose files
each hold one entry of a section (``recipes/mab-a.yaml``). The loader first turns YAML
into plain data while recording a :class:`~phactory.model.errors.Mark` for every value,
then validates: structure and units with pydantic, then references and feasibility
(:mod:`phactory.model.checks`). Every problem is reported at once, located at
``FILE:LINE:COL`` with its field path.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from phactory.model.errors import Mark, PathItem, Problem, SiteValidationError
from phactory.model.site import Site
from phactory.model.yamlio import DEFAULT_LIMITS, YamlRefused, compose

__all__ = [
    "SourceMap",
    "load_site",
    "load_site_data",
    "problems_from_validation",
    "validate_site",
]

SITE_FILES = ("site.yaml", "site.yml")


class SourceMap:
    """Where each value of a loaded document came from.

    Keys are paths into the plain data (mapping keys and list indices); each maps to the
    mark of the value (``values``) and, for mapping entries, of the key (``keys``).
    """

    def __init__(self) -> None:
        self.values: dict[tuple[PathItem, ...], Mark] = {}
        self.keys: dict[tuple[PathItem, ...], Mark] = {}

    def locate(self, path: Sequence[PathItem], *, key: bool = False) -> Mark | None:
        """Mark of the deepest known prefix of ``path`` (the key's mark if ``key``)."""
        p = tuple(path)
        if key and p in self.keys:
            return self.keys[p]
        while p:
            if p in self.values:
                return self.values[p]
            p = p[:-1]
        return self.values.get(())


# -- YAML to plain data with marks ---------------------------------------------------------


def _mark(file: str, node: yaml.Node) -> Mark:
    return Mark(file, node.start_mark.line + 1, node.start_mark.column + 1)


def _read_yaml(
    path: Path, display: str, base: tuple[PathItem, ...], smap: SourceMap, problems: list[Problem]
) -> Any:
    try:
        size = path.stat().st_size
        if size > DEFAULT_LIMITS.max_bytes:  # refuse before reading it into memory
            raise YamlRefused(
                display,
                f"file of {size:,} bytes; at most {DEFAULT_LIMITS.max_bytes:,} are read",
            )
        text = path.read_text(encoding="utf-8")
        node = compose(text, display)
    except UnicodeDecodeError as exc:
        problems.append(Problem(f"not UTF-8 text ({exc.reason})", base, Mark(display, 1, 1)))
        return None
    except OSError as exc:
        problems.append(Problem(f"cannot read file: {exc.strerror}", base, Mark(display, 1, 1)))
        return None
    except YamlRefused as exc:
        problems.append(Problem(exc.reason, base, Mark(display, exc.line, exc.column)))
        return None
    if node is None:
        return None
    constructor = yaml.SafeLoader("")
    return _to_data(node, display, base, smap, problems, constructor, set())


def _to_data(
    node: yaml.Node,
    file: str,
    path: tuple[PathItem, ...],
    smap: SourceMap,
    problems: list[Problem],
    constructor: Any,
    active: set[int],
) -> Any:
    smap.values[path] = _mark(file, node)
    if isinstance(node, yaml.ScalarNode):
        try:
            return constructor.construct_object(node)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            problems.append(Problem(f"cannot read value: {exc}", path, _mark(file, node)))
            return None
    if id(node) in active:  # an alias that contains itself
        problems.append(Problem("recursive YAML alias", path, _mark(file, node)))
        return None
    active = active | {id(node)}
    if isinstance(node, yaml.SequenceNode):
        return [
            _to_data(child, file, (*path, i), smap, problems, constructor, active)
            for i, child in enumerate(node.value)
        ]
    assert isinstance(node, yaml.MappingNode)
    try:
        constructor.flatten_mapping(node)  # resolves `<<: *anchor` merge keys
    except yaml.YAMLError as exc:
        problems.append(Problem(f"bad merge key: {exc}", path, _mark(file, node)))
    out: dict[Any, Any] = {}
    for knode, vnode in node.value:
        if not isinstance(knode, yaml.ScalarNode):
            problems.append(
                Problem("a mapping key must be a plain value", path, _mark(file, knode))
            )
            continue
        key = constructor.construct_object(knode)
        if isinstance(key, dt.date | bool | float) or key is None:
            key = knode.value  # ids like `2024` or `yes` are names here, not values
        if key in out:
            problems.append(Problem(f"duplicate key {key!r}", (*path, key), _mark(file, knode)))
            continue
        kmark = _mark(file, knode)
        smap.keys[(*path, key)] = kmark
        out[key] = _to_data(vnode, file, (*path, key), smap, problems, constructor, active)
        if not isinstance(vnode, yaml.ScalarNode):
            # A problem with a whole mapping or list is best shown at its key.
            smap.values[(*path, key)] = kmark
    return out


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_site_data(path: str | Path) -> tuple[dict[str, Any], SourceMap, list[Problem]]:
    """Read a site file or folder into plain data, a source map and syntax problems."""
    root = Path(path)
    smap = SourceMap()
    problems: list[Problem] = []
    if not root.exists():
        raise FileNotFoundError(f"no such site file or folder: {root}")
    if root.is_file():
        data = _read_yaml(root, _display(root), (), smap, problems)
        return _top_mapping(data, _display(root), smap, problems), smap, problems

    site_file = next((root / n for n in SITE_FILES if (root / n).is_file()), None)
    if site_file is None:
        raise FileNotFoundError(f"site folder {root} has no site.yaml")
    data = _top_mapping(
        _read_yaml(site_file, _display(site_file), (), smap, problems),
        _display(site_file),
        smap,
        problems,
    )
    for extra in sorted(root.iterdir()):
        section = extra.stem
        if extra == site_file or extra.name.startswith("."):
            continue
        if extra.is_file() and extra.suffix in (".yaml", ".yml"):
            _merge_section(data, section, extra, smap, problems)
        elif extra.is_dir():
            for item in sorted(extra.glob("*.y*ml")):
                _merge_entry(data, section, item, smap, problems)
    return data, smap, problems


def _top_mapping(
    data: Any, display: str, smap: SourceMap, problems: list[Problem]
) -> dict[str, Any]:
    if data is None:
        if not problems:
            problems.append(
                Problem("the file is empty; expected a site mapping", (), Mark(display, 1, 1))
            )
        return {}
    if not isinstance(data, dict):
        problems.append(
            Problem(
                "expected a mapping of site sections (id, equipment_classes, ...)",
                (),
                smap.locate(()),
            )
        )
        return {}
    return data


def _merge_section(
    data: dict[str, Any], section: str, file: Path, smap: SourceMap, problems: list[Problem]
) -> None:
    disp = _display(file)
    sub = SourceMap()
    value = _read_yaml(file, disp, (), sub, problems)
    if isinstance(value, dict) and set(value) == {section}:
        value = value[section]  # the file repeats its section name at the top
        sub = _rebase(sub, (section,), strip=1)
    else:
        sub = _rebase(sub, (section,), strip=0)
    if section in data:
        problems.append(
            Problem(
                f"section {section!r} is defined both in site.yaml and in {file.name}",
                (section,),
                Mark(disp, 1, 1),
            )
        )
        return
    smap.values.setdefault((section,), Mark(disp, 1, 1))
    smap.values.update(sub.values)
    smap.keys.update(sub.keys)
    data[section] = value


def _merge_entry(
    data: dict[str, Any], section: str, file: Path, smap: SourceMap, problems: list[Problem]
) -> None:
    disp = _display(file)
    sub = SourceMap()
    value = _read_yaml(file, disp, (), sub, problems)
    if value is None:
        return
    key = value.get("id", file.stem) if isinstance(value, dict) else file.stem
    entries = data.setdefault(section, {})
    if not isinstance(entries, dict):
        problems.append(
            Problem(
                f"section {section!r} must be a mapping to add {file.name}",
                (section,),
                Mark(disp, 1, 1),
            )
        )
        return
    if key in entries:
        problems.append(
            Problem(f"{section} entry {key!r} is defined twice", (section, key), Mark(disp, 1, 1))
        )
        return
    sub = _rebase(sub, (section, key), strip=0)
    smap.values.update(sub.values)
    smap.keys.update(sub.keys)
    entries[key] = value


def _rebase(sub: SourceMap, prefix: tuple[PathItem, ...], strip: int) -> SourceMap:
    out = SourceMap()
    out.values = {(*prefix, *p[strip:]): m for p, m in sub.values.items() if len(p) >= strip}
    out.keys = {(*prefix, *p[strip:]): m for p, m in sub.keys.items() if len(p) > strip}
    return out


# -- validation errors to located problems -------------------------------------------------


def _data_path(data: Any, loc: Sequence[PathItem]) -> tuple[tuple[PathItem, ...], bool]:
    """Map a pydantic error location onto a path in the plain data.

    Pydantic inserts union member tags into ``loc`` and reports keyed lists by id; skip
    what is not in the data and look ids up in lists. Returns the path and whether the
    full location was found (an absent field points to its parent).
    """
    path: list[PathItem] = []
    cur = data
    complete = True
    for item in loc:
        key: PathItem | None = None
        if isinstance(cur, Mapping):
            key = item if item in cur else None
        elif isinstance(cur, list):
            if isinstance(item, int):
                key = item if 0 <= item < len(cur) else None
            else:  # keyed collections written as lists are reported by id
                key = next(
                    (
                        i
                        for i, v in enumerate(cur)
                        if isinstance(v, Mapping) and v.get("id") == item
                    ),
                    None,
                )
        if key is None:
            complete = False
            continue
        path.append(key)
        cur = cur[key]
    return tuple(path), complete


def _clean_message(err: Mapping[str, Any]) -> str:
    msg = str(err["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    typ = err.get("type", "")
    inp = err.get("input")
    if typ == "extra_forbidden":
        return "unknown field (check its spelling)"
    if typ == "missing":
        return "required field is missing"
    if typ == "union_tag_invalid" and isinstance(err.get("ctx"), Mapping):
        ctx = err["ctx"]
        return (
            f"unknown distribution {ctx.get('tag')!r}; expected one of {ctx.get('expected_tags')}"
        )
    if isinstance(inp, str | int | float | bool) and "got" not in msg:
        msg += f" (got {inp!r})"
    return msg


def problems_from_validation(
    exc: ValidationError, data: Any, smap: SourceMap | None
) -> list[Problem]:
    """Turn a pydantic ``ValidationError`` into located problems."""
    out: list[Problem] = []
    seen: set[tuple[Any, ...]] = set()
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        path, _ = _data_path(data, loc)
        typ = err.get("type", "")
        shown: tuple[PathItem, ...] = path
        if typ == "missing" and loc:
            shown = (*path, loc[-1])
        mark = None
        if smap is not None:
            mark = smap.locate(path, key=typ == "extra_forbidden")
        msg = _clean_message(err)
        key = (shown, msg)
        if key in seen:
            continue
        seen.add(key)
        out.append(Problem(msg, shown, mark))
    return out


def validate_site(path: str | Path) -> tuple[Site | None, list[Problem]]:
    """Load and check a site, returning it (or ``None``) with every problem and warning.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist or a folder has no ``site.yaml``.
    """
    from phactory.model.checks import check_site

    data, smap, problems = load_site_data(path)
    if any(p.severity == "error" for p in problems):
        return None, _sorted(problems)
    try:
        site = Site.model_validate(data)
    except ValidationError as exc:
        return None, _sorted(problems + problems_from_validation(exc, data, smap))
    for p in check_site(site):
        dpath, _ = _data_path(data, p.path)
        problems.append(Problem(p.message, p.path, smap.locate(dpath), p.severity))
    problems = _sorted(problems)
    if any(p.severity == "error" for p in problems):
        return None, problems
    return site, problems


def _sorted(problems: list[Problem]) -> list[Problem]:
    return SiteValidationError.of(problems).problems


def load_site(path: str | Path) -> Site:
    """Load, validate and return the site at ``path`` (a YAML file or a site folder).

    Raises
    ------
    SiteValidationError
        Listing every problem, each with ``FILE:LINE:COL`` and field path.
    FileNotFoundError
        If ``path`` does not exist or a folder has no ``site.yaml``.
    """
    site, problems = validate_site(path)
    if site is None:
        raise SiteValidationError.of(problems, str(path))
    return site
