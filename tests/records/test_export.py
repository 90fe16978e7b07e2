"""BatchML of master recipes; review and HTML of a record with deviations."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from ebr_world import World, perform_fill, started_batch

from phactory.model import load_site
from phactory.records import batch_record_html, master_recipe_batchml

B2MML = "{http://www.mesa.org/xml/B2MML}"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_master_recipes_as_batchml() -> None:
    site = load_site(EXAMPLES / "mab-biologics")
    root = ET.fromstring(master_recipe_batchml(site.recipes.values()))
    assert root.tag == f"{B2MML}BatchInformation"
    recipes = root.findall(f"{B2MML}MasterRecipe")
    assert [r.findtext(f"{B2MML}ID") for r in recipes] == list(site.recipes)
    first = next(iter(site.recipes.values()))
    mr = recipes[0]
    assert mr.findtext(f"{B2MML}Version") == first.version
    assert mr.findtext(f"{B2MML}Header/{B2MML}BatchSize/{B2MML}UnitOfMeasure") == "L"
    phases = mr.findall(f".//{B2MML}RecipeElement[{B2MML}RecipeElementType='Phase']")
    assert len(phases) == sum(len(up.phases()) for up in first.unit_procedures.values())
    params = mr.findall(f".//{B2MML}Parameter/{B2MML}ID")
    assert "pH" in {p.text for p in params}
    links = mr.findall(f"{B2MML}ProcedureLogic/{B2MML}Link")
    assert any(lk.findtext(f"{B2MML}MaximumLag") == "PT4H" for lk in links)


def test_html_shows_deviations_with_their_signed_workflow(sqlite_world: World) -> None:
    world = sqlite_world
    engine, batch_id = started_batch(world)
    perform_fill(engine, world, batch_id, temperature=28.0)
    dev = world.records.deviations.find(batch_id)[0]
    world.records.deviations.advance(
        world["sup"], dev.deviation_id, "scope it", password=world.password("sup"), user_id="sup"
    )
    page = batch_record_html(world.records.batches.record(batch_id))
    assert f"{dev.deviation_id} (investigation)" in page
    assert "Signed by <b>Sam Supervisor</b> (sup)" in page and "meaning: <b>reviewed</b>" in page
    assert 'class="ool"' in page  # the out-of-limit entry is marked
