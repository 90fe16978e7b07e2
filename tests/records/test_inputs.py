"""What people write enters the record checked: ids against the one id pattern, free text
within its field's limit, each refusal naming the field; nothing is written then."""

from __future__ import annotations

import re

import pytest
from ebr_world import FILL, World, started_batch
from hypothesis import given
from hypothesis import strategies as st

from phactory.model.ids import ID_MAX, is_id
from phactory.records import TEXT_MAX, Refused, free_text, require_record_id


@given(st.text(max_size=120))
def test_a_record_id_is_exactly_an_id_of_at_most_the_column_width(value: str) -> None:
    if is_id(value, ID_MAX):
        assert require_record_id(value, "lot id") == value
    else:
        with pytest.raises(Refused, match=r"^lot id .* is not valid"):
            require_record_id(value, "lot id")


@given(st.text(max_size=60), st.integers(min_value=0, max_value=60))
def test_free_text_is_kept_as_written_up_to_its_limit(value: str, limit: int) -> None:
    if len(value) <= limit and "\x00" not in value:
        assert free_text(value, "note", limit) == value
    else:
        with pytest.raises(Refused, match=r"^the note "):
            free_text(value, "note", limit)


def test_free_text_must_be_text() -> None:
    with pytest.raises(Refused, match="the reason must be text, got int"):
        free_text(42, "reason")


def _too_long(what: str) -> str:
    return re.escape(f"the {what} is {TEXT_MAX + 1:,} characters long; at most {TEXT_MAX:,}")


def test_reasons_comments_and_descriptions_are_capped_where_they_enter(world: World) -> None:
    engine, batch_id = started_batch(world)
    records, long = world.records, "x" * (TEXT_MAX + 1)
    for user_id in ("op1", "sup", "admin"):
        world[user_id]  # logged in before counting the entries
    before = len(records.audit.entries())
    with pytest.raises(Refused, match=_too_long("reason")):
        engine.lifecycle.command(world["sup"], batch_id, "Hold", long)
    with pytest.raises(Refused, match=_too_long("comment")):
        records.signing.comment(world["op1"], long, batch_id=batch_id)
    with pytest.raises(Refused, match=_too_long("description of the deviation")):
        records.deviations.raise_deviation(world["op1"], batch_id=batch_id, description=long)
    with pytest.raises(Refused, match=_too_long("reason")):
        engine.manual.enter(world["op1"], batch_id, FILL, "temperature", 20.0, reason=long)
    with pytest.raises(Refused, match=_too_long("note")):
        engine.manual.check_equipment(world["op1"], batch_id, FILL, "T1", note=long)
    with pytest.raises(Refused, match=_too_long("reason")):
        records.accounts.unlock_user(world["admin"], "op2", long)
    with pytest.raises(Refused, match="unknown deviation kind 'typo': use one of"):
        records.deviations.raise_deviation(
            world["op1"], batch_id=batch_id, description="leak", kind="typo"
        )
    with pytest.raises(Refused, match="unknown severity 'huge'"):
        records.deviations.raise_deviation(
            world["op1"], batch_id=batch_id, description="leak", severity="huge"
        )
    assert [e.kind for e in records.audit.entries()[before:]] == []
    engine.lifecycle.command(world["sup"], batch_id, "Hold", "x" * TEXT_MAX)
    assert records.batches.hold_reason(batch_id) == f"Hold command: {'x' * TEXT_MAX}"
