"""User text in pages without a browser: redirect targets, Plotly text, the session cookie."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from phactory.app.ui import charts
from phactory.app.ui.safety import plain, safe_figure, safe_next, set_prop

from .conftest import Api, make_settings, open_api

OFF_SITE = (
    "https://evil.example/",
    "http:evil.example",
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    " /evil",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "",
    None,
)


@pytest.mark.parametrize("target", OFF_SITE)
def test_next_refuses_anything_that_is_not_a_local_path(target: str | None) -> None:
    assert safe_next(target) == "/"


@pytest.mark.parametrize("target", ["/", "/scenarios?created=1", "/batch-review?batch=B-1#x"])
def test_next_keeps_local_paths(target: str) -> None:
    assert safe_next(target) == target


@given(st.text(max_size=80))
def test_next_is_always_a_path_of_this_site(target: str) -> None:
    kept = safe_next(target)
    parts = urlsplit(kept)
    assert kept.startswith("/") and not kept.startswith("//")
    assert not parts.scheme and not parts.netloc and "\\" not in kept
    assert all(ord(c) > 0x20 and c != "\x7f" for c in kept)


PAYLOAD = '<a href="javascript:alert(1)">x</a>%{customdata[0]}<b>&amp;'


def test_plotly_text_is_shown_as_written() -> None:
    escaped = plain(PAYLOAD)
    assert "<" not in escaped and "%{" not in escaped
    figure = charts.compare_figure(
        [
            {
                "kpi": "oee",
                "a": {"mean": 0.5, "ci_low": 0.4, "ci_high": 0.6},
                "b": {"mean": 0.6, "ci_low": 0.5, "ci_high": 0.7},
            }
        ],
        PAYLOAD,
        "B",
    )
    # The run's name stays out of the template, where Plotly would read it as markup.
    assert all(PAYLOAD not in trace["hovertemplate"] for trace in figure["data"])
    safe = safe_figure(figure)
    assert safe["data"][0]["name"] == escaped
    assert safe["data"][0]["hovertemplate"] == figure["data"][0]["hovertemplate"]


def test_every_text_field_of_a_trace_and_its_categories_are_escaped() -> None:
    figure = {
        "data": [
            {
                "type": "bar",
                "name": "<b>n</b>",
                "y": ["<i>u</i>", 3],
                "x": [1.0, 2.0],
                "customdata": [["<a href=x>c</a>", 1]],
                "text": ["<svg onload=x>"],
                "hovertemplate": "<b>%{y}</b>",
            },
            {"type": "sunburst", "labels": ["<x>"], "parents": [""], "ids": ["<x>"]},
        ],
        "layout": {
            "title": {"text": "A\n<b>B</b>"},
            "yaxis": {"categoryarray": ["<i>u</i>"], "ticktext": ["<t>"]},
        },
    }
    safe = safe_figure(figure)
    text = repr(safe["data"])
    assert "<i>" not in text and "<a " not in text and "<svg" not in text and "<x>" not in text
    assert safe["data"][0]["hovertemplate"] == "<b>%{y}</b>"  # the code's own markup stays
    assert safe["data"][0]["y"][1] == 3 and safe["data"][0]["x"] == [1.0, 2.0]
    assert safe["layout"]["title"] == {"text": "A<br>&lt;b&gt;B&lt;/b&gt;"}  # a line break, text
    assert safe["layout"]["yaxis"]["categoryarray"] == safe["data"][0]["y"][:1]
    assert figure["data"][0]["name"] == "<b>n</b>"  # the input is not changed


class _Element:
    def __init__(self) -> None:
        self.props: dict[str, str] = {}


def test_a_property_is_set_verbatim_never_parsed() -> None:
    element = set_prop(_Element(), "data-testid", 'z" onanimationstart="alert(1)" x="')
    assert element.props == {"data-testid": 'z" onanimationstart="alert(1)" x="'}
    for bad in (":src", "onclick=x", "a b", ""):
        with pytest.raises(ValueError):
            set_prop(_Element(), bad, "x")


# -- the session cookie ---------------------------------------------------------------------


@pytest.fixture
def session_app(db_url: str) -> Iterator[tuple[Api, FastAPI]]:
    from phactory.app.ui import auth, state

    for api in open_api(make_settings(db_url)):
        app = FastAPI()
        auth.install_routes(app)
        state.bind(api.ctx)
        try:
            yield api, app
        finally:
            state.unbind()


def _cookie(app: FastAPI, api: Api, base_url: str, next_path: str) -> Any:
    from phactory.app.ui import state

    _, secret = api.ctx.accounts.login("viewer1", "viewer-password-1")
    ticket = state.issue_ticket(secret)
    client = TestClient(app, base_url=base_url, follow_redirects=False)
    return client.get("/auth/session", params={"ticket": ticket, "next": next_path})


def test_the_session_cookie_is_secure_over_https(session_app: tuple[Api, FastAPI]) -> None:
    api, app = session_app
    plain_http = _cookie(app, api, "http://testserver", "/runs")
    secure = _cookie(app, api, "https://testserver", "/runs")
    for response in (plain_http, secure):
        assert response.status_code == 303 and response.headers["location"] == "/runs"
        assert "httponly" in response.headers["set-cookie"].lower()
        assert "samesite=lax" in response.headers["set-cookie"].lower()
    assert "secure" not in plain_http.headers["set-cookie"].lower()
    assert "secure" in secure.headers["set-cookie"].lower()
    elsewhere = _cookie(app, api, "https://testserver", "https://evil.example/")
    assert elsewhere.headers["location"] == "/"
