"""The one id pattern and the one batch-id function."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phactory.errors import InvalidError
from phactory.model.ids import BATCH_ID_MAX, ID_MAX, ID_PATTERN, batch_id, is_id, require_id

HOSTILE = [
    "<img src=x onerror=alert(1)>",
    '"><script>alert(1)</script>',
    "../../etc/passwd",
    "a/b",
    "a b",
    "",
    "-leading-dash",
    "x" * 121,
    "=cmd|' /C calc'!A0",
    "café",
    "a\nb",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_ids_are_refused_with_a_safe_message(value: str) -> None:
    assert not is_id(value)
    with pytest.raises(InvalidError) as info:
        require_id(value, "batch id")
    message = str(info.value)
    assert message.startswith("batch id ")
    assert repr(value)[:40] in message  # shown quoted, control characters escaped
    assert "\n" not in message


@given(st.from_regex(ID_PATTERN, fullmatch=True).filter(lambda s: len(s) <= BATCH_ID_MAX))
def test_every_id_of_the_pattern_is_accepted(value: str) -> None:
    assert require_id(value) == value


#: The id rule written out without the pattern, so that a change of either is caught.
_ID_CHARACTERS = set(string.ascii_letters + string.digits + "_.-")


def _is_id_by_the_rule(value: str) -> bool:
    return (
        0 < len(value) <= BATCH_ID_MAX
        and value[0] in _ID_CHARACTERS - set("_.-")
        and set(value) <= _ID_CHARACTERS
    )


@given(
    st.text(max_size=30)
    | st.text(alphabet=string.ascii_letters + string.digits + "_.-<>/ \né", max_size=30)
    # Around the length limits, where a missing bound would show.
    | st.text(alphabet=string.ascii_letters + "_.-", min_size=ID_MAX - 5, max_size=110)
)
def test_is_id_agrees_with_the_rule(value: str) -> None:
    assert is_id(value) == _is_id_by_the_rule(value)
    assert is_id(value, ID_MAX) == (_is_id_by_the_rule(value) and len(value) <= ID_MAX)
    if len(value) <= BATCH_ID_MAX:
        assert is_id(value) == (re.fullmatch(ID_PATTERN, value) is not None and value != "")


def test_batch_ids_of_an_order(mab_site) -> None:  # type: ignore[no-untyped-def]
    order = mab_site.orders[0]
    ids = mab_site.batch_ids(order)
    assert ids[0] == f"{order.id}-B01"
    assert len(ids) == mab_site.batches_for(order)
    assert all(is_id(i) for i in ids)
    with pytest.raises(InvalidError):
        batch_id(order.id, 0)


def test_the_twin_names_batches_with_the_site(mab_site) -> None:  # type: ignore[no-untyped-def]
    from phactory.twin import simulate

    log = simulate(mab_site, days=60, seed=0)
    expected = {b for o in mab_site.orders for b in mab_site.batch_ids(o)}
    assert set(log.batches["batch"]) <= expected


def test_an_order_id_too_long_for_its_batch_ids_is_refused(mab_site) -> None:  # type: ignore[no-untyped-def]
    from phactory.model.errors import SiteValidationError

    with pytest.raises(SiteValidationError, match="at most 90"):
        mab_site.with_overrides({"plan.orders.0.id": "o" * 91})
    longest = mab_site.with_overrides({"plan.orders.0.id": "o" * 90})
    assert all(len(b) <= 100 for o in longest.orders for b in longest.batch_ids(o))
