"""BatchML of master recipes; review and HTML of a record with deviations."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from ebr_world import FILL, World, perform_fill, started_batch
from markupsafe import escape

from phactory.model import load_site
from phactory.records import batch_record_batchml, batch_record_html, master_recipe_batchml

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


def test_hostile_text_in_the_record_is_shown_as_text(sqlite_world: World) -> None:
    """A printed name, a comment, a deviation's description and a reason holding script
    payloads: the HTML record shows each as text and BatchML keeps each as written."""
    from html_payloads import PAYLOADS, assert_inert

    world = sqlite_world
    world.records.accounts.create_user(
        world["admin"], "sup2", PAYLOADS[2], "supervisor", "sup2-pass-1", skills=("op",)
    )
    sup2 = world.records.accounts.login("sup2", "sup2-pass-1")
    engine, batch_id = started_batch(world)
    perform_fill(engine, world, batch_id)
    world.records.signing.comment(sup2, PAYLOADS[0], batch_id=batch_id)
    dev = world.records.deviations.raise_deviation(
        sup2, batch_id=batch_id, description=PAYLOADS[3], step=FILL
    )
    world.records.deviations.advance(
        sup2, dev.deviation_id, PAYLOADS[1], password="sup2-pass-1", user_id="sup2"
    )
    world.records.signing.correct(
        world["sup"],
        batch_id=batch_id,
        subject=f"step:{batch_id}/{FILL}",
        field="temperature",
        new=19.0,
        reason=PAYLOADS[1],
    )
    record = world.records.batches.record(batch_id)
    page = batch_record_html(record)
    assert_inert(page, shown=PAYLOADS)
    assert f"Signed by <b>{escape(PAYLOADS[2])}</b> (sup2)" in page
    root = ET.fromstring(batch_record_batchml(record))
    texts = [t.findtext(f"{B2MML}Text") for t in root.iter(f"{B2MML}Comment")]
    assert texts == [PAYLOADS[0]]
    names = {
        m.findtext(f"{B2MML}PersonName")
        for m in root.iter(f"{B2MML}PersonnelIdentificationManifest")
    }
    assert PAYLOADS[2] in names
    assert {el.tag.split("}")[0] for el in root.iter()} == {B2MML[:-1]}


def test_batchml_of_text_with_control_characters_is_well_formed(sqlite_world: World) -> None:
    """XML 1.0 cannot hold most control characters, even escaped; the record can. They
    are written as U+FFFD so that the document still parses."""
    world = sqlite_world
    _, batch_id = started_batch(world)
    world.records.signing.comment(world["sup"], "bell\x07 and escape\x1b[31m", batch_id=batch_id)
    root = ET.fromstring(batch_record_batchml(world.records.batches.record(batch_id)))
    texts = [t.findtext(f"{B2MML}Text") for t in root.iter(f"{B2MML}Comment")]
    assert texts == ["bell\ufffd and escape\ufffd[31m"]
