"""Reading YAML that a user or an attacker wrote, within limits.

YAML anchors and aliases let a few hundred bytes stand for billions of values (the
"billion laughs" pattern), or a few kilobytes for millions (the quadratic blow-up: one
large anchor referenced many times). PyYAML composes such a document into a small graph
whose nodes are shared; the cost comes when the graph is expanded into plain data. Every
YAML document Phactory reads (site files, uploads, scenario overrides, and later ST
projects) is therefore composed here and measured before it is expanded:

* the text may hold at most :attr:`YamlLimits.max_bytes` bytes;
* nesting may be at most :attr:`YamlLimits.max_depth` levels deep (PyYAML's composer is
  recursive, so deeper nesting would exhaust the interpreter's stack);
* the expanded document may hold at most :attr:`YamlLimits.max_values` values (scalars,
  sequences and mappings, counting each alias as what it stands for); and
* aliases may add at most :attr:`YamlLimits.alias_ratio` times as many values as the
  document holds without them (plus a small allowance), so that a short file cannot
  expand into a large one.

The expanded size is computed on the composed graph with memoisation, in time linear in
the number of distinct nodes, so a bomb is refused in milliseconds without being
expanded. The limits follow the approach of Go's ``yaml.v3`` (an alias-expansion ratio)
and of libyaml-based hardening guides; the defaults admit any plausible plant definition
(the largest example document, ``examples/car-t-autologous/site.yaml``, holds 1,658
values in 23 kB, and uses no aliases) and refuse every member of the bomb family with
room to spare.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from phactory.errors import InvalidError

__all__ = ["DEFAULT_LIMITS", "YamlLimits", "YamlRefused", "compose", "safe_load"]

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class YamlLimits:
    """Bounds on one YAML document.

    Attributes
    ----------
    max_bytes
        Largest document text [bytes, UTF-8].
    max_depth
        Deepest nesting of sequences and mappings.
    max_values
        Most values after alias expansion.
    alias_ratio
        Values added by aliases, at most this many times the values written out.
    alias_allowance
        Values aliases may add whatever the ratio (small documents with a few anchors).
    """

    max_bytes: int = 10 * 2**20
    max_depth: int = 200
    max_values: int = 1_000_000
    alias_ratio: float = 10.0
    alias_allowance: int = 10_000


#: The limits used unless a caller passes its own.
DEFAULT_LIMITS = YamlLimits()


class YamlRefused(InvalidError):
    """A YAML document over a limit, or unreadable; the message names the source.

    Attributes
    ----------
    source
        The file name (or description) of the document.
    line, column
        Position of the fault, 1-based, where one is known.
    reason
        The message without the source.
    """

    def __init__(self, source: str, reason: str, line: int = 1, column: int = 1) -> None:
        self.source = source
        self.reason = reason
        self.line = line
        self.column = column
        super().__init__(f"{source}:{line}:{column}: {reason}")


def _depth_limited_compose(text: str, source: str, limits: YamlLimits) -> yaml.Node | None:
    """Compose, refusing nesting deeper than the limit before PyYAML recurses into it."""
    depth = 0
    line = col = 1
    # Scan the event stream first: iterative, and it bounds the nesting before anything
    # recursive sees it (PyYAML's pure-Python composer, the constructor and the loader's
    # walk take a frame or more per level). Measured on the example sites, a one-pass
    # Python composer counting depth was slower than this scan plus libyaml's composer.
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > limits.max_depth:
                if event.start_mark is not None:
                    line, col = event.start_mark.line + 1, event.start_mark.column + 1
                raise YamlRefused(
                    source,
                    f"YAML nested more than {limits.max_depth} levels deep",
                    line,
                    col,
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return yaml.compose(text, Loader=_Loader)  # type: ignore[no-any-return]


def _expanded_size(root: yaml.Node) -> tuple[int, int]:
    """(values after alias expansion, distinct nodes); a self-containing alias counts once."""
    size: dict[int, int] = {}
    distinct = 0
    # Iterative post-order walk over the shared graph: each distinct node is summed once.
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    open_: set[int] = set()
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in size:
            continue
        if isinstance(node, yaml.ScalarNode):
            size[key] = 1
            distinct += 1
            continue
        children: list[yaml.Node] = (
            list(node.value)
            if isinstance(node, yaml.SequenceNode)
            else [n for pair in node.value for n in pair]
        )
        if not children_done:
            if key in open_:  # a recursive alias; the loader reports it as a problem
                continue
            open_.add(key)
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in size)
            continue
        open_.discard(key)
        distinct += 1
        size[key] = 1 + sum(size.get(id(c), 1) for c in children)
    return size[id(root)], distinct


def compose(text: str, source: str, limits: YamlLimits = DEFAULT_LIMITS) -> yaml.Node | None:
    """Compose a YAML document into its node graph, refusing documents over the limits.

    Parameters
    ----------
    text
        The document.
    source
        Its file name or description, for messages.
    limits
        The bounds to apply.

    Returns
    -------
    yaml.Node or None
        The root node (``None`` for an empty document).

    Raises
    ------
    YamlRefused
        If the document is over a limit or is not valid YAML; the message names
        ``source`` and, for syntax errors, the line and column.
    """
    n_bytes = len(text.encode("utf-8", errors="surrogatepass"))
    if n_bytes > limits.max_bytes:
        raise YamlRefused(
            source, f"YAML document of {n_bytes:,} bytes; at most {limits.max_bytes:,} are read"
        )
    try:
        node = _depth_limited_compose(text, source, limits)
    except yaml.MarkedYAMLError as exc:
        m = exc.problem_mark or exc.context_mark
        line, col = (m.line + 1, m.column + 1) if m else (1, 1)
        raise YamlRefused(source, f"YAML syntax: {exc.problem or exc.context}", line, col) from exc
    except yaml.YAMLError as exc:
        raise YamlRefused(source, f"YAML: {exc}") from exc
    if node is None:
        return None
    expanded, distinct = _expanded_size(node)
    if expanded > limits.max_values:
        raise YamlRefused(
            source,
            f"YAML document expands to {expanded:,} values through its aliases; at most "
            f"{limits.max_values:,} are read (an alias 'bomb'?)",
        )
    if expanded - distinct > max(limits.alias_allowance, limits.alias_ratio * distinct):
        raise YamlRefused(
            source,
            f"YAML aliases expand {distinct:,} written values into {expanded:,}; at most "
            f"{limits.alias_ratio:g} times as many are added by aliases (an alias 'bomb'?)",
        )
    return node


def safe_load(text: str, source: str, limits: YamlLimits = DEFAULT_LIMITS) -> Any:
    """Plain data from a YAML document, like ``yaml.safe_load`` but within ``limits``.

    Raises
    ------
    YamlRefused
        As :func:`compose`, or if a value cannot be constructed (e.g. a bad timestamp).
    """
    node = compose(text, source, limits)
    if node is None:
        return None
    try:
        return yaml.SafeLoader("").construct_document(node)
    except (yaml.YAMLError, ValueError, OverflowError) as exc:
        mark = getattr(exc, "problem_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise YamlRefused(source, f"cannot read value: {exc}", line, col) from exc
