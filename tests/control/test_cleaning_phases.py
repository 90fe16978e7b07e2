"""The controllers run CIP/SIP logic for exactly the recipe phases that a live plant's
event log counts as cleaning (one definition: ``model.procedural``)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phactory.control.phases.mapping import choose_logic
from phactory.model.procedural import is_cleaning_phase

NAMES = ["cip", "CIP", "clean-in-place", "strip-sanitise", "sip", "steam-in-place",
         "sterilise-filter", "culture", "pre-clean", "transfer", "harvest", "sanitise",
         "heat-sanitise", "clean-culture"]  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_named_examples(name: str) -> None:
    assert is_cleaning_phase(name) == (choose_logic(name).logic in ("cip", "sip"))


@given(
    st.from_regex(
        r"(heat|charge|make|transfer|grow|[a-z]{0,4})(-?(cip|sip|clean|steam|sanitise|"
        r"sterilise))?(-culture|-hold|[a-z-]{0,5})",
        fullmatch=True,
    )
)
def test_the_controllers_and_the_event_log_agree(name: str) -> None:
    assert is_cleaning_phase(name) == (choose_logic(name).logic in ("cip", "sip"))


def test_cleaning_examples() -> None:
    assert [n for n in NAMES if is_cleaning_phase(n)] == [
        "cip", "CIP", "clean-in-place", "strip-sanitise", "sip", "steam-in-place",
        "sterilise-filter", "heat-sanitise", "clean-culture",
    ]  # fmt: skip
