"""Malformed site uploads get 422 with field errors (file, line, column, path) and
change nothing; the same problems come back from the validate endpoint."""

from __future__ import annotations

import pytest

from .conftest import TINY, Api

TINY_TEXT = TINY.read_text(encoding="utf-8")

#: name -> (file content, text expected in a problem's path or message)
MALFORMED: dict[str, tuple[bytes, str]] = {
    "yaml syntax": (b"id: x\nareas: {a: [1, 2\n", "YAML"),
    "not a mapping": (b"- just\n- a list\n", "mapping"),
    "empty file": (b"", ""),
    "wrong type": (TINY_TEXT.replace("headcount: 2", "headcount: lots").encode(), "headcount"),
    "unknown class": (TINY_TEXT.replace("T2: {class: tank}", "T2: {class: tnak}").encode(), "tnak"),
    "bad quantity": (TINY_TEXT.replace('"1 h"', '"3 L"', 1).encode(), "duration"),
    "missing id": (TINY_TEXT.replace("id: tiny\n", "").encode(), "id"),
    "not utf-8": (b"id: caf\xe9\n", "UTF-8"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_upload_is_422_with_located_field_errors(api: Api, case: str) -> None:
    content, needle = MALFORMED[case]
    response = api.upload(f"{case.replace(' ', '-')}.yaml", content)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail
    for entry in detail:
        assert {"loc", "msg", "type", "file", "line", "col", "path"} <= set(entry)
        assert entry["loc"][0] == "body"
    assert any(needle.lower() in (d["msg"] + d["path"]).lower() for d in detail), detail
    if case not in ("not utf-8",):
        assert any(d["file"] and d["file"].endswith(".yaml") for d in detail)
        assert any(isinstance(d["line"], int) and d["line"] >= 1 for d in detail) or case in (
            "empty file",
        )
    assert api.get("/api/v1/sites").json() == [], "a refused upload stored something"


def test_located_problem_points_at_the_offending_line(api: Api) -> None:
    content = TINY_TEXT.replace("T2: {class: tank}", "T2: {class: tnak}").encode()
    detail = api.upload("plant.yaml", content).json()["detail"]
    (entry,) = [d for d in detail if "tnak" in d["msg"]]
    assert entry["file"] == "plant.yaml"
    assert entry["line"] == 20
    assert entry["path"].endswith("T2.class")
    assert entry["msg"].startswith("plant.yaml:20:")


def test_missing_file_field_is_422(api: Api) -> None:
    response = api.post("/api/v1/sites")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "file"


def test_too_large_upload_is_413(api: Api) -> None:
    big = b"# " + b"x" * (api.ctx.settings.max_upload_bytes + 10)
    response = api.upload("big.yaml", big)
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]


def test_an_upload_declared_far_too_large_is_refused_before_it_is_read(api: Api) -> None:
    big = b"#" * (2 * api.ctx.settings.max_upload_bytes + 100_000)
    response = api.upload("huge.yaml", big)
    assert response.status_code == 413
    assert api.get("/api/v1/sites").json() == []


def test_validate_endpoint_reports_the_same_problems(api: Api) -> None:
    content = TINY_TEXT.replace("headcount: 2", "headcount: lots").encode()
    report = api.upload("v.yaml", content, path="/api/v1/sites/validate").json()
    assert report["valid"] is False
    assert any(p["path"].endswith("headcount") and p["line"] for p in report["problems"])
