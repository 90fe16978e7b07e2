"""User text in HTML pages and Plotly charts, shown as text: the one place that does it.

Every string a user can type (names, descriptions, reasons, comments) is data. Phactory
shows such text in self-contained HTML exports (KPI report, schedule Gantt, batch record,
process studies) and in the web pages' Plotly charts; three things keep it from ever
being read as markup or script:

* **Pages are templates with autoescaping.** :func:`environment` is the one Jinja2
  environment factory: autoescaping on, undefined names an error
  (:class:`jinja2.StrictUndefined`), templates loaded from a package's ``templates``
  folder (package data) and from the shared ones here. No page is assembled by string
  formatting.
* **Plotly text is escaped where it is shown.** Plotly renders a subset of HTML
  (``<b>``, ``<br>``, ``<a href>``, ``<span style>``...) in trace names, text, hover text,
  category labels, titles, annotations and legend titles. Figures built by Phactory hold
  the raw text; :func:`escape_figure` escapes every string of a figure except its
  templates, for the web pages (``phactory.app.ui.safety``) and the exports
  (:func:`figure_html`) alike. A line break in figure text is written ``"\\n"``, which
  :func:`plain` turns into ``<br>`` after escaping. Templates (``hovertemplate``,
  ``texttemplate``) are code, with ``%{...}`` placeholders and ``<extra>``: user text
  never goes into them; it goes into ``customdata``, ``hovertext`` or ``text``, referenced
  as ``%{customdata[0]}``, where it is escaped like every other field.
* **A figure's JSON cannot end its script element.** :func:`figure_html` puts the
  figure in a ``<script type="application/json">`` block whose ``<``, ``>``, ``&`` and
  the line separators U+2028/U+2029 are written as ``\\u`` escapes (the content
  restrictions of script elements, WHATWG HTML §4.12.1.3), and one constant script
  (:func:`plotly_script`, with plotly.js inlined so that pages open offline) draws every
  block. No data is ever written into JavaScript code.

This is a base module: it imports nothing of Phactory but :mod:`phactory.errors`, so that
every layer may use it. plotly is imported only when a figure is serialised.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Mapping
from typing import Any, Final

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

__all__ = [
    "environment",
    "escape_figure",
    "figure_html",
    "figure_json",
    "plain",
    "plotly_script",
]

#: Figure keys whose strings are code, never user text, and are left as written:
#: Plotly templates (placeholders and ``<extra>`` markup), the layout's style template,
#: trace ids and references to data sources.
CODE_KEYS: Final = frozenset(
    {
        "hovertemplate",
        "texttemplate",
        "hovertemplatefallback",
        "texttemplatefallback",
        "template",
        "uid",
        "source",
    }
)

#: Characters of JSON text written as ``\\u`` escapes inside a ``<script>`` element.
_SCRIPT_ESCAPES: Final = {
    ord("<"): "\\u003c",
    ord(">"): "\\u003e",
    ord("&"): "\\u0026",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


@functools.cache
def environment(package: str | None = None) -> Environment:
    """A Jinja2 environment that escapes every value it renders.

    Parameters
    ----------
    package
        Dotted name of the package whose ``templates`` folder holds the templates
        (e.g. ``"phactory.report"``); the shared templates of ``phactory/templates``
        are found after it. ``None`` for the shared ones only.

    Returns
    -------
    jinja2.Environment
        One shared environment per package (templates are compiled once; do not change
        it). Autoescaping on for every template (all of Phactory's templates are HTML),
        :class:`jinja2.StrictUndefined` so that a misspelt name fails instead of
        rendering empty, ``None`` rendered as nothing, and :func:`plotly_script` and
        :func:`figure_html` as globals.
    """
    loaders = [PackageLoader("phactory", "templates")]
    if package is not None:
        loaders.insert(0, PackageLoader(package, "templates"))
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        finalize=_blank_none,
    )
    env.globals["plotly_script"] = plotly_script
    env.globals["figure_html"] = figure_html
    return env


def _blank_none(value: Any) -> Any:
    """``None`` renders as nothing (a missing value), not as the word ``None``."""
    return "" if value is None else value


def plain(text: Any) -> str:
    """``text`` for a Plotly text field: shown as written, never as markup or template.

    ``<``, ``>`` and ``&`` become entities (which Plotly shows as the characters), ``%{``
    cannot start a placeholder, and a newline becomes Plotly's line break ``<br>``.
    """
    return (
        html.escape(str(text), quote=False)
        .replace("%{", "%&#123;")
        .replace("\r\n", "\n")
        .replace("\n", "<br>")
    )


def _escaped(value: Any) -> Any:
    if isinstance(value, str):
        return plain(value)
    if isinstance(value, Mapping):
        return {k: (v if _is_code(k) else _escaped(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_escaped(v) for v in value]
    kind = getattr(getattr(value, "dtype", None), "kind", None)
    if kind in ("O", "U", "S") and hasattr(value, "tolist"):  # numpy arrays of text
        return _escaped(value.tolist())
    return value


def _is_code(key: object) -> bool:
    return isinstance(key, str) and (key in CODE_KEYS or key.endswith("src"))


def escape_figure(figure: Any) -> dict[str, Any]:
    """A copy of a Plotly figure with every text it shows escaped by :func:`plain`.

    Parameters
    ----------
    figure
        A ``plotly.graph_objects.Figure`` or a figure dict (``{"data": [...],
        "layout": {...}}``); it is not changed.

    Returns
    -------
    dict
        The figure as a dict in which every string is escaped (trace names, text, hover
        text, custom data, categories and labels, ids and parents, axis categories and
        tick text, titles, annotations, legend titles, meta) except templates and the
        other :data:`CODE_KEYS`. Category axes keep matching their data because
        ``categoryarray`` and ``ticktext`` are escaped alike. Numbers and numeric arrays
        are kept as they are.
    """
    out: dict[str, Any] = _escaped(_as_dict(figure))
    return out


def _as_dict(figure: Any) -> Mapping[str, Any]:
    raw = figure.to_dict() if hasattr(figure, "to_dict") else figure
    if not isinstance(raw, Mapping):
        raise TypeError(f"not a Plotly figure: {type(figure).__name__}")
    return raw


def figure_json(figure: Any, config: Mapping[str, Any] | None = None) -> str:
    """JSON text of ``{"data", "layout", "config"}`` of the escaped figure, safe inside
    a ``<script>`` element (no ``<``, ``>`` or ``&`` in it)."""
    from plotly.io.json import to_json_plotly

    fig = escape_figure(figure)
    payload = {
        "data": fig.get("data", []),
        "layout": fig.get("layout", {}),
        "config": dict(config or {}),
    }
    text: str = to_json_plotly(payload)
    return text.translate(_SCRIPT_ESCAPES)


def _size(value: Any, default: str) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return f"{float(value):g}px"
    return default


def figure_html(figure: Any, config: Mapping[str, Any] | None = None) -> Markup:
    """One figure of a self-contained page: its box and its JSON block.

    The box is as high and wide as the figure's layout asks (else the whole width and
    Plotly's default height), like ``plotly.io.to_html``; the page draws it with
    :func:`plotly_script`, which must appear once, after the last figure.

    Parameters
    ----------
    figure
        A ``plotly.graph_objects.Figure`` or figure dict with raw (unescaped) text.
    config
        Plotly's ``config`` (e.g. ``{"displaylogo": False}``); ``responsive`` is on
        unless given.
    """
    raw = _as_dict(figure)
    layout = raw.get("layout") or {}
    settings = {"responsive": True, **dict(config or {})}
    return Markup(
        _shared()
        .get_template("plotly_figure.html.j2")
        .render(
            height=_size(layout.get("height"), "450px"),
            width=_size(layout.get("width"), "100%"),
            # The one value inserted as markup: JSON text with <, > and & escaped.
            json=Markup(figure_json(raw, settings)),
        )
    )


def plotly_script() -> Markup:
    """plotly.js inlined (no CDN: pages open offline) and the constant script that draws
    every :func:`figure_html` block of the page; put it once, after the last figure."""
    return Markup(_plotly_script())


@functools.cache
def _plotly_script() -> str:
    from plotly.offline import get_plotlyjs

    source = get_plotlyjs()
    if "</script" in source.lower() or "<!--" in source:  # would end the element early
        raise ValueError("plotly.js contains '</script' or '<!--' and cannot be inlined")
    rendered: str = _shared().get_template("plotly_script.html.j2").render(plotly_js=Markup(source))
    return rendered


def _shared() -> Environment:
    return environment()
