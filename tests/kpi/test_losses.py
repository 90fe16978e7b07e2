"""The OEE loss tree."""

from __future__ import annotations

import pytest

from phactory.kpi import LOSS_NODES, compute

from .helpers import one_unit_log, tiny_site, two_unit_log


def _hours(tree, unit):  # type: ignore[no-untyped-def]
    rows = tree[tree["unit"] == unit]
    return dict(zip(rows["id"], rows["hours"], strict=True))


def test_worked_example_tree() -> None:
    r = compute(one_unit_log(), tiny_site())
    h = _hours(r.loss_tree, "U1")
    assert h["horizon"] == 100 and h["pbt"] == 80 and h["not_planned"] == 20
    assert h["availability_loss"] == 20 and h["setup_loss"] == 10 and h["delay_loss"] == 10
    assert h["setup"] == 10 and h["down"] == 10 and h["cleaning"] == 0
    assert h["apt"] == 60
    assert h["performance_loss"] == pytest.approx(10)
    assert h["quality_loss"] == 0
    assert h["value_adding"] == pytest.approx(50)
    shares = r.loss_tree.set_index(["unit", "id"])["share_of_pbt"]
    assert shares[("U1", "value_adding")] == pytest.approx(r.units.loc["U1", "oee"])
    assert shares[("U1", "availability_loss")] == pytest.approx(1 - 0.75)


def test_scrap_goes_to_quality_loss_and_site_sums_units() -> None:
    r = compute(two_unit_log(), tiny_site())
    u1, u2, site = (_hours(r.loss_tree, u) for u in ("U1", "U2", "site"))
    assert u1["quality_loss"] == pytest.approx(20)  # B2's 20 standard hours on U1
    assert u1["performance_loss"] == pytest.approx(15)
    assert u2["performance_loss"] == pytest.approx(2)
    assert u2["delay_loss"] == pytest.approx(8)  # waiting_upstream 5 + blocked 3
    for node in u1:
        assert site[node] == pytest.approx(u1[node] + u2[node])
    assert site["value_adding"] / site["pbt"] == pytest.approx(r.site["oee"])


def test_every_parent_is_the_sum_of_its_children() -> None:
    r = compute(two_unit_log(), tiny_site())
    for unit in ("U1", "U2", "site"):
        h = _hours(r.loss_tree, unit)
        for node, *_ in LOSS_NODES:
            children = [n for n, parent, *_ in LOSS_NODES if parent == node]
            if children:
                assert h[node] == pytest.approx(sum(h[c] for c in children))


def test_nested_tree() -> None:
    r = compute(one_unit_log(), tiny_site())
    root = r.loss_tree_nested("U1")
    assert root["id"] == "horizon" and root["hours"] == 100
    pbt = next(c for c in root["children"] if c["id"] == "pbt")
    apt = next(c for c in pbt["children"] if c["id"] == "apt")
    assert {c["id"] for c in apt["children"]} == {
        "performance_loss",
        "quality_loss",
        "value_adding",
    }
    assert r.loss_tree_nested()["hours"] == 100  # the site
    with pytest.raises(KeyError):
        r.loss_tree_nested("nope")
