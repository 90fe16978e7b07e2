"""Dashboard charts fit their cards: titles wrapped, room above the plot, the loss tree
at full width (it was clipped at half width)."""

from __future__ import annotations

from phactory.app.ui.pages.dashboard import CHARTS, WIDE, _fit, _wrap


def test_long_titles_are_wrapped_at_word_boundaries() -> None:
    text = (
        "OEE loss tree, site: planned busy time 3,456 h "
        "(outside PBT: 1,234 h of 4,690 h calendar time)"
    )
    wrapped = _wrap(text, 40)
    lines = wrapped.split("\n")
    assert len(lines) > 1
    assert all(len(line) <= 40 for line in lines)
    assert " ".join(lines) == text
    assert _wrap("short title", 40) == "short title"


def test_the_loss_tree_gets_the_full_width_and_room_for_its_title() -> None:
    assert "loss_tree" in WIDE
    assert "loss_tree" in {name for name, _ in CHARTS}
    title = "OEE loss tree, site: planned busy time 3,456 h " + "x " * 60
    figure = {
        "data": [{"type": "sunburst"}],
        "layout": {"title": {"text": title}, "height": 620, "width": 900, "margin": {"t": 60}},
    }
    fitted = _fit(figure, wide=True)
    layout = fitted["layout"]
    assert "width" not in layout
    assert layout["autosize"] is True
    assert 460 < layout["height"] <= 560
    lines = layout["title"]["text"].count("\n") + 1
    assert lines >= 2
    assert layout["margin"]["t"] >= 40 + 18 * (lines - 1)
    narrow = _fit(figure)
    assert narrow["layout"]["height"] <= 460
    assert narrow["layout"]["title"]["text"].count("\n") >= lines - 1
