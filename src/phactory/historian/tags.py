"""Tags: their names, integer ids and metadata (data type, unit, range, description).

A tag exists from its first sample (with the sample's unit) or from :meth:`TagCatalog.set`,
which also changes the metadata of an existing tag; its id never changes. The publisher
announces a tag's metadata in a retained message (:mod:`phactory.connect.mqtt`), which the
subscriber passes to :meth:`~phactory.historian.Historian.set_meta`.

Names are paths of the unified namespace (:mod:`phactory.historian.samples`): non-empty
text of at most :data:`TAG_MAX` characters, with no control characters.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from phactory.errors import InvalidError, NotFoundError
from phactory.historian.database import Cursor, Database

__all__ = ["TAG_MAX", "TagCatalog", "TagMeta", "check_tag", "storable_text"]

#: Longest tag name [characters].
TAG_MAX: Final = 1000
#: Longest metadata text (data type, unit, description) [characters].
TEXT_MAX: Final = 2000
#: Names looked up per statement.
_CHUNK: Final = 500


def storable_text(value: object, limit: int) -> bool:
    """True if ``value`` is text of at most ``limit`` characters without NUL (which
    PostgreSQL cannot store)."""
    return isinstance(value, str) and len(value) <= limit and "\x00" not in value


def check_tag(name: object, where: str = "tag") -> str:
    """``name`` if it is a valid tag name.

    Raises
    ------
    InvalidError
        Naming ``where``, if it is not text, empty, too long or holds control characters.
    """
    if not isinstance(name, str) or not name or len(name) > TAG_MAX:
        raise InvalidError(
            f"{where}: a tag name is text of 1 to {TAG_MAX} characters, not {name!r:.80}"
        )
    if not name.isprintable():
        raise InvalidError(f"{where}: tag name {name!r:.80} holds control characters")
    return name


def _text(value: str, field: str, name: str) -> str:
    if not storable_text(value, TEXT_MAX):
        raise InvalidError(f"tag {name!r}: {field} must be text of at most {TEXT_MAX} characters")
    return value


def _bound(value: float | None, field: str, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidError(f"tag {name!r}: {field} must be a finite number or None, not {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class TagMeta:
    """What the historian knows about a tag.

    Attributes
    ----------
    name
        Path in the unified namespace.
    data_type
        The publisher's data type (e.g. ``REAL``, ``BOOL``, IEC 61131-3), ``""`` unknown.
    unit
        Engineering unit (``degC``, ``L``), ``""`` if none.
    low, high
        Engineering range (OPC UA EURange), ``None`` if open.
    description
        Free text.
    """

    name: str
    data_type: str = ""
    unit: str = ""
    low: float | None = None
    high: float | None = None
    description: str = ""

    def checked(self) -> TagMeta:
        """This metadata, checked.

        Raises
        ------
        InvalidError
            If a field is malformed or ``low > high``.
        """
        check_tag(self.name)
        for field in ("data_type", "unit", "description"):
            _text(getattr(self, field), field, self.name)
        low = _bound(self.low, "low", self.name)
        high = _bound(self.high, "high", self.name)
        if low is not None and high is not None and low > high:
            raise InvalidError(f"tag {self.name!r}: low {low:g} is above high {high:g}")
        return self


_META_COLUMNS: Final = "name, data_type, unit, low, high, description"


class TagCatalog:
    """Tag ids and metadata (see the module docstring).

    Ids of tags are cached once their transaction committed (:meth:`remember`): an id
    never changes, so a cached one stays right while other processes add tags.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._ids: dict[str, int] = {}

    def ids_in(self, cur: Cursor, units: Mapping[str, str]) -> dict[str, int]:
        """The ids of the tags named in ``units`` (name -> unit), creating missing tags
        with that unit, in the transaction of ``cur``. Not cached until :meth:`remember`."""
        found = {name: self._ids[name] for name in units if name in self._ids}
        missing = [name for name in units if name not in found]
        if not missing:
            return found
        cur.executemany(
            "INSERT INTO hist_tags (name, unit) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
            [(name, units[name]) for name in missing],
        )
        found.update(self._lookup(cur, missing))
        return found

    def remember(self, ids: Mapping[str, int]) -> None:
        """Cache ids whose transaction committed."""
        self._ids.update(ids)

    @staticmethod
    def _lookup(cur: Cursor, names: list[str]) -> dict[str, int]:
        return {str(n): int(i) for n, i in _named(cur, "name, id", names)}

    def resolve(self, cur: Cursor, names: Iterable[str]) -> dict[str, int]:
        """Ids of existing tags, in the given order.

        Raises
        ------
        NotFoundError
            Naming every tag the historian does not know.
        """
        wanted = list(dict.fromkeys(check_tag(n) for n in names))
        found = self._lookup(cur, wanted)
        unknown = [n for n in wanted if n not in found]
        if unknown:
            listed = ", ".join(repr(n) for n in unknown[:10])
            more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
            raise NotFoundError(f"the historian has no tag {listed}{more}")
        return {n: found[n] for n in wanted}

    def set(self, metas: Iterable[TagMeta]) -> int:
        """Create or update the metadata of tags; return how many were given."""
        rows = [
            (m.name, m.data_type, m.unit, m.low, m.high, m.description)
            for m in (meta.checked() for meta in metas)
        ]
        if not rows:
            return 0
        with self.db.transaction(write=True) as cur:
            cur.executemany(
                f"INSERT INTO hist_tags ({_META_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET data_type = excluded.data_type, "
                "unit = excluded.unit, low = excluded.low, high = excluded.high, "
                "description = excluded.description",
                rows,
            )
        return len(rows)

    def list(self, prefix: str = "") -> list[TagMeta]:
        """Tags whose name starts with ``prefix`` (plain text, no wildcards), by name."""
        if not isinstance(prefix, str):
            raise InvalidError(f"a tag prefix is text, not {type(prefix).__name__}")
        where, params = (
            ("", ()) if not prefix else (" WHERE substr(name, 1, ?) = ?", (len(prefix), prefix))
        )
        with self.db.transaction() as cur:
            cur.execute(f"SELECT {_META_COLUMNS} FROM hist_tags{where}", params)
            rows = cur.fetchall()
        # sorted here, not by ORDER BY: PostgreSQL would order text by its collation
        return sorted((_meta(r) for r in rows), key=lambda m: m.name)

    def describe(self, names: Sequence[str]) -> dict[str, TagMeta]:
        """The metadata of the tags named that the historian knows, by name."""
        with self.db.transaction() as cur:
            rows = _named(cur, _META_COLUMNS, names)
        return {m.name: m for m in map(_meta, rows)}


def _meta(row: tuple[Any, ...]) -> TagMeta:
    n, d, u, lo, hi, desc = row
    return TagMeta(str(n), str(d), str(u), None if lo is None else float(lo),
                   None if hi is None else float(hi), str(desc))  # fmt: skip


def _named(cur: Cursor, columns: str, names: Sequence[str]) -> list[tuple[Any, ...]]:
    """``columns`` of the tags named (those that exist), :data:`_CHUNK` names a statement."""
    rows: list[tuple[Any, ...]] = []
    for i in range(0, len(names), _CHUNK):
        chunk = list(names[i : i + _CHUNK])
        marks = ", ".join("?" * len(chunk))
        cur.execute(f"SELECT {columns} FROM hist_tags WHERE name IN ({marks})", chunk)
        rows += cur.fetchall()
    return rows
