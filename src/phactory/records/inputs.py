"""What people write into the record: ids, and free text (reasons, notes, comments, names).

The record is the last line of defence for input, whatever client sent it (web page, REST
API, command line, a script): ids are checked against the one id pattern
(:func:`phactory.model.ids.require_id`) where they enter, and free text (the reason of a
change, a deviation's description, a comment, a supplier's name), stored as written and
shown in every export, has a length limit per kind of field. Each refusal is a
:class:`~phactory.records.Refused` naming the field.
"""

from __future__ import annotations

from typing import Final

from phactory.errors import InvalidError
from phactory.model.ids import ID_MAX, require_id
from phactory.records.errors import Refused

__all__ = [
    "LABEL_MAX",
    "NAME_MAX",
    "TEXT_MAX",
    "free_text",
    "optional_text",
    "require_record_id",
    "required_text",
]

#: Longest reason, note, comment or description [characters] (a page of text).
TEXT_MAX: Final = 5000
#: Longest name of a person or an organisation (a printed name, a supplier) [characters].
NAME_MAX: Final = 200
#: Longest short label (a supplier's lot number, a scanned code, a unit of measure)
#: [characters]; the record's id columns hold 100.
LABEL_MAX: Final = 100


def free_text(value: object, what: str, limit: int = TEXT_MAX) -> str:
    """``value`` if it is text the record can keep in the field ``what``.

    Parameters
    ----------
    value
        The text, stored as given (not stripped).
    what
        The field, as people call it (``"reason"``, ``"supplier"``): it names the field
        in the error.
    limit
        Most characters allowed.

    Raises
    ------
    Refused
        If ``value`` is not text, holds a NUL character (which PostgreSQL cannot
        store), or is longer than ``limit``; the message shows the start of the text.
    """
    if not isinstance(value, str):
        raise Refused(f"the {what} must be text, got {type(value).__name__}")
    if "\x00" in value:
        raise Refused(f"the {what} contains a NUL character")
    if len(value) > limit:
        raise Refused(
            f"the {what} is {len(value):,} characters long; at most {limit:,} are kept "
            f"(it starts {value[:40]!r})"
        )
    return value


def required_text(value: object, what: str, missing: str, limit: int = TEXT_MAX) -> str:
    """``value`` checked as :func:`free_text`, and not blank: the reason of a change, a
    note, a description the record cannot do without.

    Parameters
    ----------
    missing
        The refusal when ``value`` is empty or only white space (``"a comment needs
        text"``).

    Raises
    ------
    Refused
        As :func:`free_text`, or with ``missing``.
    """
    text = free_text(value, what, limit)
    if not text.strip():
        raise Refused(missing)
    return text


def optional_text(value: object, what: str, limit: int) -> str | None:
    """``None``, or ``value`` checked as :func:`free_text`."""
    return None if value is None else free_text(value, what, limit)


def require_record_id(value: object, what: str) -> str:
    """``value`` if it is an id the record can keep (:data:`phactory.model.ids.ID_PATTERN`,
    at most :data:`~phactory.model.ids.ID_MAX` characters: the record's id columns).

    Raises
    ------
    Refused
        Naming ``what`` and the rule (the value shown truncated and quoted).
    """
    try:
        return require_id(value, what, ID_MAX)
    except InvalidError as exc:
        raise Refused(str(exc)) from None
