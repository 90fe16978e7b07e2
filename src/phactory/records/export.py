"""Exports of the electronic batch record: HTML for people, BatchML for systems, events.

* :func:`batch_record_html`: the complete record as one self-contained HTML page, with
  every signature's manifestation (printed name, date and time, meaning) next to what it
  signs and a mark where a signature no longer holds (21 CFR 11.10(b), 11.50; EU GMP
  Annex 11 §8.1 clear printed copies, §8.2 changed data indicated).
* :func:`batch_record_batchml` and :func:`master_recipe_batchml`: the batch production
  record and master recipes as BatchML (ANSI/ISA-88.00.02 exchange, B2MML namespace
  ``http://www.mesa.org/xml/B2MML``). Element names follow the BatchML
  ``BatchProductionRecord`` and ``MasterRecipe`` types; the documents are not validated
  against the XSDs.
* :func:`record_events`: the record's batch and phase events as a DataFrame in the
  columns of :data:`phactory.events.EVENT_COLUMNS`, so the KPI and monitoring readers
  read live batches like simulated ones.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

import pandas as pd

from phactory.events import EVENT_COLUMNS
from phactory.htmlsafe import environment
from phactory.records.audit import AuditEntry
from phactory.records.record import BatchRecord
from phactory.records.signatures import Signature

if TYPE_CHECKING:
    from phactory.model import MasterRecipe

__all__ = [
    "B2MML_NAMESPACE",
    "batch_record_batchml",
    "batch_record_html",
    "master_recipe_batchml",
    "record_events",
]

#: The B2MML / BatchML XML namespace.
B2MML_NAMESPACE: Final = "http://www.mesa.org/xml/B2MML"


def batch_record_html(record: BatchRecord) -> str:
    """The batch record as a self-contained HTML page.

    Every signature appears with its manifestation next to the step, deviation or batch
    it signs, and again in the full audit trail at the end. The page is the template
    ``templates/batch_record.html.j2`` rendered with autoescaping
    (:func:`phactory.htmlsafe.environment`): names, comments, reasons and deviation
    texts are shown as text.
    """
    b = record.batch
    sigs_by_record: dict[str, list[Signature]] = {}
    for sig in record.signatures:
        sigs_by_record.setdefault(f"{sig.record_type}:{sig.record_id}", []).append(sig)
    steps = []
    for step in record.steps:
        subject = f"step:{b.batch_id}/{step.step}"
        steps.append(
            {
                "step": step,
                "entries": [
                    e for e in record.entries if e.subject == subject and e.kind != "signature"
                ],
                "signatures": sigs_by_record.get(subject, []),
            }
        )
    deviations = [
        {
            "deviation": d,
            "signatures": [
                (key.split("/")[-1], sigs)
                for key, sigs in sigs_by_record.items()
                if key.startswith(f"deviation:{d.deviation_id}/")
            ],
        }
        for d in record.deviations
    ]
    return (
        environment("phactory.records")
        .get_template("batch_record.html.j2")
        .render(
            batch=b,
            header=record.header(),
            batch_signatures=sigs_by_record.get(f"batch:{b.batch_id}", []),
            steps=steps,
            materials=record.materials,
            deviations=deviations,
            audit=[(e, _audit_value(e)) for e in record.entries],
        )
    )


def _audit_value(entry: AuditEntry) -> str:
    """What the audit trail shows as an entry's new value (a signature's manifestation)."""
    if entry.kind != "signature":
        return entry.new_text
    n = entry.new if isinstance(entry.new, dict) else {}
    return (
        f"{n.get('printed_name')} ({entry.user_id}), {n.get('meaning')}, "
        f"{str(n.get('signed_at', '')).replace('T', ' ')[:19]} UTC"
    )


#: Characters XML 1.0 cannot hold, not even as character references (§2.2 Char):
#: control characters but tab, newline and carriage return; surrogates; U+FFFE, U+FFFF.
_NOT_XML: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _sub(parent: ET.Element, tag: str, text: object | None = None) -> ET.Element:
    el = ET.SubElement(parent, f"{{{B2MML_NAMESPACE}}}{tag}")
    if text is not None:
        # ElementTree escapes markup but writes these as they are, which no parser
        # accepts; the record may hold them (a pasted control sequence), so they are
        # shown as U+FFFD, the replacement character.
        el.text = _NOT_XML.sub("\ufffd", str(text))
    return el


def _root(tag: str) -> ET.Element:
    ET.register_namespace("", B2MML_NAMESPACE)
    return ET.Element(f"{{{B2MML_NAMESPACE}}}{tag}")


def _xml(root: ET.Element) -> str:
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def batch_record_batchml(record: BatchRecord) -> str:
    """The batch production record as BatchML ``BatchProductionRecord`` XML."""
    b = record.batch
    root = _root("BatchProductionRecord")
    _sub(root, "ID", b.batch_id)
    _sub(root, "CreationDate", b.created_at.isoformat())
    _sub(root, "BatchID", b.batch_id)
    _sub(root, "MaterialDefinitionID", b.product)
    _sub(root, "RecordStatus", b.status)
    _sub(root, "Version", b.recipe_version)
    comments = _sub(root, "Comments")
    for e in record.entries:
        if e.kind == "comment":
            c = _sub(comments, "Comment")
            _sub(c, "ID", e.seq)
            _sub(c, "TimeStamp", e.ts)
            _sub(c, "PersonID", e.user_id)
            _sub(c, "Text", e.new)
    recipes = _sub(root, "ControlRecipes")
    cr = _sub(recipes, "ControlRecipeRecord")
    _sub(cr, "ID", f"{b.batch_id}-control-recipe")
    _sub(cr, "MasterRecipeID", b.recipe_id)
    _sub(cr, "Version", b.recipe_version)
    for up in b.control_recipe.get("unit_procedures", []):
        el = _sub(cr, "RecipeElementRecord")
        _sub(el, "ID", up.get("id"))
        _sub(el, "RecipeElementType", "UnitProcedure")
        _sub(el, "EquipmentID", up.get("unit"))
    events = _sub(root, "Events")
    for e in record.entries:
        ev = _sub(events, "Event")
        _sub(ev, "ID", e.seq)
        _sub(ev, "TimeStamp", e.ts)
        _sub(ev, "EventType", e.kind)
        _sub(ev, "EventSubType", e.field)
        _sub(ev, "RecipeElementID", e.subject)
        _sub(ev, "PersonID", e.user_id)
        if e.old_value is not None:
            _sub(ev, "PreviousValue", e.old_value)
        if e.new_value is not None:
            v = _sub(ev, "Value")
            _sub(v, "ValueString", e.new_value)
            unit = e.details.get("unit")
            if unit:
                _sub(v, "UnitOfMeasure", unit)
        if e.reason:
            _sub(ev, "Description", e.reason)
        _sub(ev, "Hash", e.hash)
    people = _sub(root, "PersonnelIdentification")
    for sig in record.signatures:
        m = _sub(people, "PersonnelIdentificationManifest")
        _sub(m, "ID", sig.id)
        _sub(m, "PersonID", sig.user_id)
        _sub(m, "PersonName", sig.printed_name)
        _sub(m, "TimeStamp", sig.signed_at)
        _sub(m, "Meaning", sig.meaning)
        _sub(m, "RecordReference", f"{sig.record_type}:{sig.record_id}")
        _sub(m, "ContentHash", sig.content_hash)
        _sub(m, "Valid", str(sig.valid).lower())
    elements = _sub(root, "RecipeElements")
    for step in record.steps:
        r = _sub(elements, "RecipeElementRecord")
        _sub(r, "ID", step.step)
        _sub(r, "RecipeElementType", "Phase")
        _sub(r, "EquipmentID", step.unit)
        _sub(r, "State", step.state)
        if step.started_at:
            _sub(r, "ActualStartTime", step.started_at.isoformat())
        if step.ended_at:
            _sub(r, "ActualEndTime", step.ended_at.isoformat())
    return _xml(root)


def _parameter(parent: ET.Element, name: str, value: Any, unit: str) -> None:
    p = _sub(parent, "Parameter")
    _sub(p, "ID", name)
    v = _sub(p, "Value")
    _sub(v, "ValueString", value)
    _sub(v, "DataType", "double")
    _sub(v, "UnitOfMeasure", unit)


def master_recipe_batchml(recipes: MasterRecipe | Iterable[MasterRecipe]) -> str:
    """Master recipes as a BatchML ``BatchInformation`` document of ``MasterRecipe`` s."""
    from phactory.model import MasterRecipe as _MasterRecipe

    items = [recipes] if isinstance(recipes, _MasterRecipe) else list(recipes)
    root = _root("BatchInformation")
    _sub(root, "ID", "phactory-master-recipes")
    for recipe in items:
        mr = _sub(root, "MasterRecipe")
        _sub(mr, "ID", recipe.id)
        _sub(mr, "Version", recipe.version)
        _sub(mr, "Description", recipe.name)
        _sub(mr, "Status", recipe.status)
        header = _sub(mr, "Header")
        _sub(header, "ProductID", recipe.product)
        if recipe.batch_size is not None:
            size = _sub(header, "BatchSize")
            _sub(size, "Nominal", recipe.batch_size.value)
            _sub(size, "UnitOfMeasure", recipe.batch_size.unit)
        logic = _sub(mr, "ProcedureLogic")
        for up_id in recipe.topological_order():
            up = recipe.unit_procedures[up_id]
            step = _sub(logic, "Step")
            _sub(step, "ID", up.id)
            _sub(step, "RecipeElementID", up.id)
            for link in up.after:
                lk = _sub(logic, "Link")
                _sub(lk, "FromID", link.procedure)
                _sub(lk, "ToID", up.id)
                if link.max_lag is not None:
                    _sub(lk, "MaximumLag", f"PT{link.max_lag:g}H")
        for up in recipe.unit_procedures.values():
            el = _sub(mr, "RecipeElement")
            _sub(el, "ID", up.id)
            _sub(el, "RecipeElementType", "UnitProcedure")
            _sub(el, "Description", up.name)
            req = _sub(el, "EquipmentRequirement")
            _sub(req, "EquipmentClassID", up.equipment_class)
            for op in up.operations.values():
                oel = _sub(el, "RecipeElement")
                _sub(oel, "ID", f"{up.id}/{op.id}")
                _sub(oel, "RecipeElementType", "Operation")
                for ph in op.phases.values():
                    pel = _sub(oel, "RecipeElement")
                    _sub(pel, "ID", f"{up.id}/{op.id}/{ph.id}")
                    _sub(pel, "RecipeElementType", "Phase")
                    _sub(pel, "Description", ph.name)
                    _sub(pel, "Duration", f"PT{ph.duration.mean:g}H")
                    for name, param in ph.parameters.items():
                        ref = param.setpoint or param.low or param.high
                        _parameter(pel, name, ref.value if ref else "", param.unit)
                    for flow in ph.inputs:
                        mi = _sub(pel, "MaterialInput")
                        _sub(mi, "MaterialDefinitionID", flow.material)
                        _sub(mi, "Quantity", flow.quantity.value)
                        _sub(mi, "UnitOfMeasure", flow.quantity.unit)
                    for flow in ph.outputs:
                        mo = _sub(pel, "MaterialOutput")
                        _sub(mo, "MaterialDefinitionID", flow.material)
                        _sub(mo, "Quantity", flow.quantity.value)
                        _sub(mo, "UnitOfMeasure", flow.quantity.unit)
    return _xml(root)


_EVENT_KINDS: Final = {
    ("batch.state", "Running"): "batch_started",
    ("batch.state", "Complete"): "batch_completed",
    ("batch.state", "Aborted"): "batch_scrapped",
    ("phase.state", "Running"): "phase_started",
    ("phase.state", "Complete"): "phase_completed",
}


def record_events(record: BatchRecord) -> pd.DataFrame:
    """The record's batch, phase, deviation and value events as an event-log frame.

    ``t_h`` is hours since the batch was created. Columns are
    :data:`phactory.events.EVENT_COLUMNS`.
    """
    b = record.batch
    t0 = b.created_at
    units = {s.step: s.unit for s in record.steps}
    started: set[str] = set()
    rows: list[dict[str, Any]] = []
    for e in record.entries:
        kind = _EVENT_KINDS.get((e.kind, str(e.new)))
        if kind == "batch_started":
            if "batch" in started:
                continue
            started.add("batch")
        if kind == "phase_started":
            if e.subject in started:
                continue
            started.add(e.subject)
        if e.kind == "deviation.raised":
            kind = "deviation"
        if e.kind == "value":
            kind = "process_value"
        if kind is None:
            continue
        step = e.subject.split("/", 1)[1] if e.subject.startswith("step:") else ""
        parts = step.split("/") if step else []
        rows.append(
            {
                "t_h": (e.time - t0).total_seconds() / 3600.0,
                "kind": kind,
                "unit": units.get(step),
                "batch": b.batch_id,
                "order": b.order_id,
                "product": b.product,
                "procedure": parts[0] if parts else None,
                "phase": parts[-1] if parts else None,
                "value": e.new if isinstance(e.new, int | float) else None,
                "detail": e.field or None,
            }
        )
    return pd.DataFrame(rows, columns=EVENT_COLUMNS)
