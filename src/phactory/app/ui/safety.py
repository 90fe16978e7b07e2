"""Putting user text into pages safely: element properties, redirects, chart text.

NiceGUI shows text set with ``ui.label``, ``set_text``, table rows, select options,
notifications and tree labels as text (Vue text nodes, Quasar without ``html``), so
those are safe as they are. Three channels are not, and every page goes through here
for them:

* **Element properties.** ``element.props('name="value" other=x')`` *parses* its
  string: a value with a ``"`` in it ends the property and starts new ones (an
  ``onanimationstart=`` handler, or a ``:prop`` that NiceGUI evaluates as JavaScript).
  :func:`set_prop` and :func:`testid` set one property by key, never by parsing.
* **Redirect targets.** :func:`safe_next` keeps only a path of this site.
* **Plotly text.** Plotly renders trace names, hover text, category labels and titles
  as a subset of HTML (links included) and fills ``%{...}`` templates; :func:`plain`
  escapes user text for it, and :func:`safe_figure` does so for every text of a figure
  but its templates. Both are :mod:`phactory.htmlsafe`'s, shared with the HTML exports.
"""

from __future__ import annotations

import re
from typing import Final, TypeVar
from urllib.parse import urlsplit

from phactory.htmlsafe import escape_figure as safe_figure
from phactory.htmlsafe import plain

__all__ = ["plain", "safe_figure", "safe_next", "set_prop", "slug_testid", "testid"]

E = TypeVar("E")

_CONTROL: Final = re.compile(r"[\x00-\x20\x7f]")


def set_prop(element: E, name: str, value: str) -> E:
    """Set property ``name`` of a NiceGUI ``element`` to ``value``, verbatim (no parsing).

    ``name`` must be a plain attribute name written by the code (never ``:``-prefixed:
    NiceGUI evaluates those as JavaScript).
    """
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", name):
        raise ValueError(f"not a plain property name: {name!r}")
    element.props[name] = str(value)  # type: ignore[attr-defined]
    return element


def testid(element: E, value: str) -> E:
    """Set ``data-testid`` of ``element`` to ``value`` (which may hold any user text)."""
    return set_prop(element, "data-testid", value)


_SLUG = re.compile(r"[^A-Za-z0-9_-]+")


def slug_testid(element: E, *parts: str) -> E:
    """Set ``data-testid`` of ``element`` to ``parts`` (any text: unit ids, tag names)
    joined with ``-`` and made a slug of letters, digits, ``_`` and ``-`` (at most 120)."""
    return testid(element, _SLUG.sub("-", "-".join(parts)).strip("-")[:120])


def safe_next(target: str | None, default: str = "/") -> str:
    """``target`` if it is a path of this site, else ``default``.

    Refused: absolute URLs (``https://evil``), scheme-relative ones (``//evil``),
    backslashes (``/\\evil``, which browsers read as ``//evil``), schemes such as
    ``javascript:``, and control characters or spaces (browsers drop tabs and newlines,
    so ``/\\t/evil`` would become ``//evil``).
    """
    if not target or len(target) > 2000 or not target.startswith("/"):
        return default
    if target.startswith("//") or "\\" in target or _CONTROL.search(target):
        return default
    try:
        parts = urlsplit(target)
    except ValueError:
        return default
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return default
    return target
