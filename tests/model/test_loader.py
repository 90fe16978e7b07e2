"""Loading sites from files and folders; the examples; fuzzed YAML never crashes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phactory.model import Site, SiteValidationError, load_site, validate_site
from phactory.model.summary import summarise_site

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_NAMES = sorted(p.name for p in EXAMPLES.iterdir() if (p / "site.yaml").is_file())


def test_three_examples_exist() -> None:
    assert {"mab-biologics", "mrna-vaccine", "car-t-autologous"} <= set(EXAMPLE_NAMES)


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_examples_load_without_problems(name: str) -> None:
    site, problems = validate_site(EXAMPLES / name)
    assert site is not None, "\n".join(map(str, problems))
    assert [p for p in problems if p.severity == "error"] == []
    summary = summarise_site(site)
    json.dumps(summary)
    assert summary["units"] == len(site.units) > 0
    assert summary["plan"]["batches"] > 0


def test_mab_example_has_what_the_issue_asks_for(mab_site: Site) -> None:
    site = mab_site
    assert len(site.units_of_class("bioreactor-2000L")) >= 4
    assert len(site.products) >= 2
    assert site.changeovers
    assert site.plan is not None and site.plan.horizon >= 365 * 24
    steps = {up for r in site.recipes.values() for up in r.unit_procedures}
    for step in (
        "seed-n1",
        "production",
        "harvest",
        "capture",
        "viral-inactivation",
        "aex-polish",
        "cex-polish",
        "viral-filtration",
        "ufdf",
        "aseptic-fill",
    ):
        assert step in steps
    assert any(c.cleaning.method == "cip-sip" for c in site.equipment_classes.values())


def test_car_t_example_serves_two_thousand_patients() -> None:
    site = load_site(EXAMPLES / "car-t-autologous")
    patients = [o for o in site.orders if o.patient]
    assert len(patients) >= 2000
    assert len({o.patient for o in patients}) == len(patients)
    incubators = [
        u
        for u in site.units.values()
        if "expansion" in site.equipment_classes[u.equipment_class].capabilities
        or "incubat" in u.equipment_class
    ]
    assert len(incubators) >= 40


def test_single_file_and_folder_give_the_same_site(tmp_path: Path, tiny_site: Site) -> None:
    data = yaml.safe_load(Path(tiny_site_file()).read_text())
    folder = tmp_path / "tiny"
    (folder / "recipes").mkdir(parents=True)
    recipes = data.pop("recipes")
    plan = data.pop("plan")
    (folder / "site.yaml").write_text(yaml.safe_dump(data))
    (folder / "plan.yaml").write_text(yaml.safe_dump({"plan": plan}))
    for rid, body in recipes.items():
        (folder / "recipes" / f"{rid}.yaml").write_text(yaml.safe_dump(body))
    assert load_site(folder) == tiny_site


def tiny_site_file() -> Path:
    return Path(__file__).resolve().parents[1] / "data" / "tiny-site.yaml"


def test_folder_errors_name_the_file_they_are_in(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    (folder / "recipes").mkdir(parents=True)
    (folder / "site.yaml").write_text("id: s\nequipment_classes: {tank: {}}\n")
    (folder / "recipes" / "r1.yaml").write_text(
        "product: p\nunit_procedures:\n  a:\n    equipment_class: tank\n"
        "    operations: {o: {phases: {x: {duration: '2 kg'}}}}\n"
    )
    with pytest.raises(SiteValidationError) as err:
        load_site(folder)
    text = str(err.value)
    assert "r1.yaml:5:" in text and "expected a time" in text


def test_section_defined_twice_is_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "site.yaml").write_text("id: s\nplan: {start: 2027-01-01, horizon: '1 d'}\n")
    (folder / "plan.yaml").write_text("start: 2027-01-01\nhorizon: '2 d'\n")
    with pytest.raises(SiteValidationError, match="defined both"):
        load_site(folder)


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such site"):
        load_site(tmp_path / "nope.yaml")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no site\.yaml"):
        load_site(tmp_path / "empty")


def test_all_errors_are_listed_at_once(tmp_path: Path) -> None:
    text = tiny_site_file().read_text()
    text = (
        text.replace("T2: {class: tank}", "T2: {class: tnak}")
        .replace("headcount: 2", "headcount: 2, shift_pattern2: x")
        .replace('"30 d"', '"30 L"')
    )
    f = tmp_path / "many.yaml"
    f.write_text(text)
    _, problems = validate_site(f)
    assert len([p for p in problems if p.severity == "error"]) >= 2
    assert all(p.mark is not None and p.mark.line > 0 for p in problems)


def test_demand_stream_expands_to_patient_orders(tiny_site: Site) -> None:
    site = tiny_site.with_overrides(
        {
            "products.p1.autologous": True,
            "plan.orders": [],
            "plan.demand": [
                {
                    "id": "PT",
                    "product": "p1",
                    "per_week": 7,
                    "start": "2027-01-04",
                    "end": "2027-01-10",
                    "lead_time": "10 d",
                    "patients": True,
                }
            ],
        }
    )
    orders = site.orders
    assert len(orders) == 7
    assert orders[1].patient == "PAT-PT-00002"
    assert site.to_hours(orders[1].release) == pytest.approx(24.0)  # type: ignore[arg-type]


yaml_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(["2 h", "100 L", "-1 d", "37 degC", "x y"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "id",
                    "units",
                    "class",
                    "duration",
                    "areas",
                    "process_cells",
                    "recipes",
                    "teams",
                    "headcount",
                    "skills",
                    "plan",
                    "orders",
                    "equipment_classes",
                    "product",
                    "unit_procedures",
                    "operations",
                    "phases",
                    "after",
                    "shift_pattern",
                    "shifts",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=25,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "id",
                "equipment_classes",
                "areas",
                "recipes",
                "teams",
                "skills",
                "plan",
                "products",
                "shift_patterns",
                "calendar",
                "materials",
                "timezone",
                "changeovers",
            ]
        ),
        yaml_values,
        max_size=6,
    )
)
def test_fuzzed_yaml_never_crashes(tmp_path_factory: pytest.TempPathFactory, doc: dict) -> None:  # type: ignore[type-arg]
    f = tmp_path_factory.mktemp("fuzz") / "site.yaml"
    f.write_text(yaml.safe_dump(doc))
    site, problems = validate_site(f)
    assert (site is None) == any(p.severity == "error" for p in problems)
    for p in problems:
        assert p.mark is not None
        str(p)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_crashes(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    f = tmp_path_factory.mktemp("txt") / "site.yaml"
    f.write_text(text, encoding="utf-8")
    site, problems = validate_site(f)
    assert site is None or not [p for p in problems if p.severity == "error"]


def test_hours_are_elapsed_time_across_daylight_saving(tiny_site: Site) -> None:
    import datetime as dt

    site = tiny_site.with_overrides({"timezone": "Europe/Dublin", "plan.start": "2027-03-27"})
    # Irish clocks go forward at 01:00 on 28 March 2027: that local day has 23 hours.
    assert site.to_hours(dt.date(2027, 3, 29)) == pytest.approx(47.0)
    assert site.from_hours(47.0) == dt.datetime(2027, 3, 29, tzinfo=site.zone)
