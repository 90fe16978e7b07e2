"""The audit trail: append-only, hash-chained, with old and new value and a reason.

Every entry records who (``user_id``) did what (``kind``) to which record (``subject``,
``field``), when (``ts``, UTC), the old and the new value, the reason and free details
(``data``). Each entry holds the SHA-256 hash of the previous one (``prev_hash``) and its
own hash over a canonical serialisation of all its other columns, so a change to any
byte of any entry, a removed entry or entries swapped break the chain at that entry,
which :func:`verify_chain` names (21 CFR 11.10(e); EU GMP Annex 11 §9).

Canonical serialisation
-----------------------
The hash input of an entry is the UTF-8 text of :func:`phactory.jsonio.canonical_json`
(``json.dumps`` with sorted keys, ``separators=(",", ":")``, ASCII escapes and no
``NaN``) of a JSON array of its hashed columns. Two formats exist; an entry says which
it uses in its ``hash_version`` column, and the format number is itself the first
hashed value of format 2, so changing it breaks the entry's hash:

* **format 2** (every entry written since record schema ``e0002``; ``hash_version`` 2)::

      [2, seq, ts, user_id, acting_account, batch_id, kind, subject, field,
       old_value, new_value, reason, data, prev_hash]

  ``acting_account`` is the account that acted through an application (e.g.
  ``web:alice``), next to ``user_id``, the person of the record who signs; ``null`` when
  they are the same or there is none (the engine's own recordings).
* **format 1** (entries written before; ``hash_version`` and ``acting_account`` are
  ``NULL``)::

      [seq, ts, user_id, batch_id, kind, subject, field,
       old_value, new_value, reason, data, prev_hash]

Both give exactly the bytes they always gave, so entries written in either format keep
verifying. ``old_value``, ``new_value`` and ``data`` are themselves stored as canonical
JSON text and hashed as that text, exactly as stored. The first entry has ``seq`` 1 and
``prev_hash`` 64 zeros. Times are ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` and never go backwards
along the chain.

Concurrency: appends take the chain head under a lock (``BEGIN IMMEDIATE`` on SQLite, a
transaction-scoped advisory lock on PostgreSQL), so the chain is one sequence across all
processes writing to the database. On PostgreSQL the lock and the head read go to the
server in one pipelined round trip and rows are inserted with a prepared statement; the
hash is always computed here, in Python (:func:`entry_hash`), the one definition that
:func:`verify_chain` checks against. Many concurrent writers of one process share
commits with ``RecordService(group_commit=True)`` (:mod:`phactory.records.group_commit`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, cast

from sqlalchemy import Connection, Engine, Table, select

from phactory.jsonio import canonical_hash, canonical_json
from phactory.records.errors import Refused
from phactory.records.schema import AuditRow

__all__ = [
    "AUDIT_LOCK",
    "GENESIS_HASH",
    "HASHED_COLUMNS",
    "HASHED_COLUMNS_V1",
    "HASH_VERSION",
    "NO_VALUE",
    "STORED_COLUMNS",
    "AuditEntry",
    "AuditWriter",
    "ChainReport",
    "check_acting_account",
    "entry_hash",
    "format_ts",
    "read_entries",
    "recordable_json",
    "verify_chain",
]

#: ``prev_hash`` of the first entry.
GENESIS_HASH: Final = "0" * 64
#: The hash format of the entries written now (see the module docstring).
HASH_VERSION: Final = 2
#: The columns hashed by format 2, in the order of its serialisation.
HASHED_COLUMNS: Final = (
    "hash_version",
    "seq",
    "ts",
    "user_id",
    "acting_account",
    "batch_id",
    "kind",
    "subject",
    "field",
    "old_value",
    "new_value",
    "reason",
    "data",
    "prev_hash",
)
#: The columns hashed by format 1 (entries written before ``acting_account``).
HASHED_COLUMNS_V1: Final = (
    "seq",
    "ts",
    "user_id",
    "batch_id",
    "kind",
    "subject",
    "field",
    "old_value",
    "new_value",
    "reason",
    "data",
    "prev_hash",
)
#: Every column of an entry, in the order :class:`AuditEntry` takes them.
STORED_COLUMNS: Final = (*HASHED_COLUMNS_V1, "hash", "acting_account", "hash_version")
#: PostgreSQL advisory lock key serialising appends to the chain.
AUDIT_LOCK: Final = 0x6562726175646974  # "ebraudit"

_TABLE: Final = cast(Table, AuditRow.__table__)
_LIMITS: Final = {
    "user_id": 100,
    "acting_account": 100,
    "batch_id": 100,
    "kind": 64,
    "subject": 300,
    "field": 200,
}


class _NoValue:
    """Marker: the entry has no old (or new) value, as opposed to a value ``None``."""

    _instance: _NoValue | None = None

    def __new__(cls) -> _NoValue:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NO_VALUE"


#: No old value (a first recording) or no new value.
NO_VALUE: Final = _NoValue()


def recordable_json(value: Any) -> str:
    """A value as stored in the trail: :func:`phactory.jsonio.canonical_json` text.

    Raises
    ------
    Refused
        If the value is not JSON (a ``NaN``, a set, an object).
    """
    try:
        return canonical_json(value)
    except (TypeError, ValueError) as exc:
        raise Refused(f"value cannot be recorded: {exc}") from exc


def entry_hash(values: Sequence[Any]) -> str:
    """SHA-256 (hex) of the canonical serialisation of an entry's hashed columns.

    Parameters
    ----------
    values
        The values of :data:`HASHED_COLUMNS` (format 2) or :data:`HASHED_COLUMNS_V1`
        (format 1), in that order, as stored (:meth:`AuditEntry.hashed_values`).
    """
    return canonical_hash(list(values))


def hashed_values(row: Sequence[Any]) -> list[Any] | None:
    """The hashed values of a row in :data:`STORED_COLUMNS` order, by its format.

    ``None`` if the row names a hash format that does not exist.
    """
    version = row[14]
    if version is None:
        return list(row[:12])
    if version == HASH_VERSION:
        return [version, row[0], row[1], row[2], row[13], *row[3:12]]
    return None


def _for_people(stored: str | None) -> str:
    if stored is None:
        return ""
    value = json.loads(stored)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def format_ts(moment: datetime) -> str:
    """A UTC timestamp as stored in the audit trail: ``2027-01-04T08:00:00.000000Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit-trail entry, as stored (values and details as canonical JSON text).

    ``user_id`` is the person of the record (who signs); ``acting_account`` the account
    that acted through an application, if another (e.g. ``web:alice``).
    """

    seq: int
    ts: str
    user_id: str
    batch_id: str | None
    kind: str
    subject: str
    field: str
    old_value: str | None
    new_value: str | None
    reason: str
    data: str
    prev_hash: str
    hash: str
    acting_account: str | None = None
    hash_version: int | None = None

    @property
    def time(self) -> datetime:
        """The entry's time, timezone-aware UTC."""
        return datetime.strptime(self.ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)

    @property
    def old(self) -> Any:
        """The old value, decoded (``NO_VALUE`` if there was none)."""
        return NO_VALUE if self.old_value is None else json.loads(self.old_value)

    @property
    def new(self) -> Any:
        """The new value, decoded (``NO_VALUE`` if there is none)."""
        return NO_VALUE if self.new_value is None else json.loads(self.new_value)

    @property
    def old_text(self) -> str:
        """The old value for people: a text as written, anything else as JSON ("" if none).

        The stored form is canonical ASCII JSON (what the hash covers); printed copies
        show ``Łukasz``, not ``"\\u0141ukasz"``.
        """
        return _for_people(self.old_value)

    @property
    def new_text(self) -> str:
        """The new value for people (see :attr:`old_text`)."""
        return _for_people(self.new_value)

    @property
    def who(self) -> str:
        """Who acted, for people: ``op1``, or ``op1 via web:olive`` with an acting account."""
        if self.acting_account is None:
            return self.user_id
        return f"{self.user_id} via {self.acting_account}"

    @property
    def details(self) -> dict[str, Any]:
        """The free details, decoded."""
        decoded = json.loads(self.data)
        return decoded if isinstance(decoded, dict) else {}

    def hashed_values(self) -> list[Any]:
        """The values the hash covers, in the order of the entry's format.

        Raises
        ------
        Refused
            If the entry names a hash format that does not exist.
        """
        values = hashed_values(tuple(getattr(self, c) for c in STORED_COLUMNS))
        if values is None:
            raise Refused(f"audit entry {self.seq}: unknown hash format {self.hash_version!r}")
        return values


def _check_text(name: str, value: str | None) -> None:
    if value is None:
        return
    if "\x00" in value:
        raise Refused(f"{name} contains a NUL character")
    limit = _LIMITS.get(name)
    if limit is not None and len(value) > limit:
        raise Refused(f"{name} is longer than {limit} characters: {value[:40]!r}...")


def check_acting_account(value: str | None) -> None:
    """Refuse an acting account that cannot be stored (over 100 characters, a NUL)."""
    _check_text("acting_account", value)


_INSERT_COLUMNS: Final = STORED_COLUMNS
_PG_INSERT: Final = (
    f"INSERT INTO ebr_audit ({', '.join(_INSERT_COLUMNS)}) "
    f"VALUES ({', '.join(['%s'] * len(_INSERT_COLUMNS))})"
)
_PG_HEAD: Final = "SELECT seq, hash, ts FROM ebr_audit ORDER BY seq DESC LIMIT 1"


def _pg_lock_and_head(connection: Connection) -> Sequence[Any] | None:
    """Take the chain lock and read the head in one round trip (PostgreSQL).

    Both statements go in one pipeline: the server runs them in order, and under READ
    COMMITTED the head query takes its snapshot only once the lock is held, so it sees
    every entry the previous holder committed.
    """
    raw: Any = connection.connection.driver_connection
    with raw.pipeline():
        lock = raw.execute("SELECT pg_advisory_xact_lock(%s)", (AUDIT_LOCK,), prepare=True)
        head = raw.execute(_PG_HEAD, prepare=True)
    lock.fetchall()
    row: Sequence[Any] | None = head.fetchone()
    return row


class AuditWriter:
    """Appends entries to the chain inside one write transaction.

    Create it on a connection in a write transaction; it takes the chain lock and reads
    the head once. Entries are buffered and inserted by :meth:`flush` (the record service
    flushes before it reads the trail and before it commits).

    Parameters
    ----------
    connection
        A connection in a write transaction (``BEGIN IMMEDIATE`` on SQLite).
    clock
        Source of the current time (aware); default :func:`datetime.now` in UTC.
    """

    def __init__(self, connection: Connection, clock: Callable[[], datetime] | None = None) -> None:
        self._conn = connection
        self._clock = clock or (lambda: datetime.now(UTC))
        self._pg = connection.dialect.name == "postgresql"
        head: Sequence[Any] | None
        if self._pg:
            head = _pg_lock_and_head(connection)
        else:
            head = connection.execute(
                select(_TABLE.c.seq, _TABLE.c.hash, _TABLE.c.ts)
                .order_by(_TABLE.c.seq.desc())
                .limit(1)
            ).first()
        if head is None:
            self._seq, self._hash, self._ts = 0, GENESIS_HASH, ""
        else:
            self._seq, self._hash, self._ts = int(head[0]), str(head[1]), str(head[2])
        self._pending: list[dict[str, Any]] = []
        self.appended: list[AuditEntry] = []

    @property
    def head(self) -> tuple[int, str]:
        """``(seq, hash)`` of the newest entry, including buffered ones."""
        return self._seq, self._hash

    def append(
        self,
        *,
        user_id: str,
        kind: str,
        subject: str,
        field: str = "",
        old: Any = NO_VALUE,
        new: Any = NO_VALUE,
        reason: str = "",
        data: dict[str, Any] | None = None,
        batch_id: str | None = None,
        acting_account: str | None = None,
    ) -> AuditEntry:
        """Append one entry (hash format 2).

        Parameters
        ----------
        user_id
            Who did it (``SYSTEM`` for the engine's own recordings).
        kind
            What happened, e.g. ``"batch.state"``, ``"value"``, ``"entry"``,
            ``"material.consumed"``, ``"signature"``.
        subject
            The record concerned, e.g. ``"batch:B1"``, ``"step:B1/mix/main/fill"``.
        field
            The data item within the record (e.g. ``"state"``, ``"temperature"``).
        old, new
            Old and new value (JSON); omit ``old`` for a first recording.
        reason
            Why; mandatory whenever ``old`` is given, i.e. for every change of GMP data
            (21 CFR 11.10(e); EU GMP Annex 11 §9).
        data
            Further details (units, limits, lot, meaning ...), a JSON object.
        batch_id
            The batch the entry belongs to, if any.
        acting_account
            The account that acted through an application, if another than
            ``user_id`` (e.g. the web account of the person identified as ``user_id``).

        Raises
        ------
        Refused
            If a change has no reason, or a value is not JSON or not storable text.
        """
        _check_text("acting_account", acting_account)
        old_text, new_text, data_text = self.check(
            user_id=user_id,
            kind=kind,
            subject=subject,
            field=field,
            old=old,
            new=new,
            reason=reason,
            data=data,
            batch_id=batch_id,
        )
        ts = format_ts(self._clock())
        if ts < self._ts:  # the clock went back: keep the trail in time order
            ts = self._ts
        seq = self._seq + 1
        stored = (
            seq,
            ts,
            user_id,
            batch_id,
            kind,
            subject,
            field,
            old_text,
            new_text,
            reason,
            data_text,
            self._hash,
        )
        digest = entry_hash([HASH_VERSION, seq, ts, user_id, acting_account, *stored[3:]])
        entry = AuditEntry(*stored, digest, acting_account, HASH_VERSION)
        self._pending.append(
            dict(
                zip(
                    STORED_COLUMNS,
                    (*stored, digest, acting_account, HASH_VERSION),
                    strict=True,
                )
            )
        )
        self.appended.append(entry)
        self._seq, self._hash, self._ts = seq, digest, ts
        return entry

    @staticmethod
    def check(
        *,
        user_id: str,
        kind: str,
        subject: str,
        field: str = "",
        old: Any = NO_VALUE,
        new: Any = NO_VALUE,
        reason: str = "",
        data: dict[str, Any] | None = None,
        batch_id: str | None = None,
    ) -> tuple[str | None, str | None, str]:
        """Validate an entry as :meth:`append` would; return its stored value texts.

        Returns
        -------
        tuple
            ``(old_value, new_value, data)`` as canonical JSON text.

        Raises
        ------
        Refused
            As :meth:`append`.
        """
        if not kind:
            raise Refused("an audit entry needs a kind")
        if old is not NO_VALUE and not reason.strip():
            raise Refused(f"a reason is required to change {subject} {field}".strip())
        for name, value in (
            ("user_id", user_id),
            ("batch_id", batch_id),
            ("kind", kind),
            ("subject", subject),
            ("field", field),
            ("reason", reason),
        ):
            _check_text(name, value)
        old_text = None if old is NO_VALUE else recordable_json(old)
        new_text = None if new is NO_VALUE else recordable_json(new)
        return old_text, new_text, recordable_json(data or {})

    def mark(self) -> tuple[int, str, str, int]:
        """Flush, then a point to :meth:`rewind` to (for a savepoint rolled back)."""
        self.flush()
        return self._seq, self._hash, self._ts, len(self.appended)

    def rewind(self, mark: tuple[int, str, str, int]) -> None:
        """Forget the entries appended since ``mark``, whose rows were rolled back."""
        self._seq, self._hash, self._ts, count = mark
        del self.appended[count:]
        self._pending = []

    def flush(self, then: str | None = None) -> None:
        """Insert the buffered entries.

        ``then``: a statement without parameters to run right after, in the same round
        trip on PostgreSQL (the next ``SAVEPOINT`` of a shared transaction).
        """
        if self._pg:
            # Straight through the driver: one prepared statement, rows pipelined by
            # executemany; no SQL compilation per append.
            raw: Any = self._conn.connection.driver_connection
            rows = [tuple(r[c] for c in _INSERT_COLUMNS) for r in self._pending]
            if then is not None:
                with raw.pipeline(), raw.cursor() as cur:
                    for row in rows:
                        cur.execute(_PG_INSERT, row, prepare=True)
                    cur.execute(then)
            elif len(rows) == 1:
                with raw.cursor() as cur:
                    cur.execute(_PG_INSERT, rows[0], prepare=True)
            elif rows:
                with raw.cursor() as cur:
                    cur.executemany(_PG_INSERT, rows)
        else:
            if self._pending:
                self._conn.execute(_TABLE.insert(), self._pending)
            if then is not None:
                self._conn.exec_driver_sql(then)
        self._pending = []


def _entry(row: Sequence[Any]) -> AuditEntry:
    return AuditEntry(*row)


def read_entries(
    connection: Connection,
    *,
    batch_id: str | None = None,
    subject: str | None = None,
    kinds: Sequence[str] | None = None,
    after_seq: int | None = None,
) -> list[AuditEntry]:
    """Entries in chain order, optionally of one batch, one subject or some kinds."""
    cols = [_TABLE.c[name] for name in STORED_COLUMNS]
    stmt = select(*cols).order_by(_TABLE.c.seq)
    if batch_id is not None:
        stmt = stmt.where(_TABLE.c.batch_id == batch_id)
    if subject is not None:
        stmt = stmt.where(_TABLE.c.subject == subject)
    if kinds is not None:
        stmt = stmt.where(_TABLE.c.kind.in_(list(kinds)))
    if after_seq is not None:
        stmt = stmt.where(_TABLE.c.seq > after_seq)
    return [_entry(row) for row in connection.execute(stmt)]


@dataclass(frozen=True, slots=True)
class ChainReport:
    """Result of :func:`verify_chain`.

    Attributes
    ----------
    ok
        Whether the whole chain verifies.
    entries
        Entries read.
    head_hash
        Hash of the last entry that verified (the chain head if ``ok``).
    first_bad
        ``seq`` of the first bad entry (or of the first missing one), else ``None``.
    problem
        What is wrong with it, for people.
    """

    ok: bool
    entries: int
    head_hash: str
    first_bad: int | None = None
    problem: str | None = None

    def describe(self) -> str:
        """One line for people: ``OK ...`` or the first bad entry and why."""
        if self.ok:
            return f"OK: {self.entries} audit entries, chain head {self.head_hash[:16]}..."
        return f"entry {self.first_bad}: {self.problem}"


_SELECT_ALL: Final = f"SELECT {', '.join(STORED_COLUMNS)} FROM ebr_audit ORDER BY seq"


def _raw_rows(connection: Connection, chunk: int) -> Iterator[Sequence[Any]]:
    """All audit rows in ``seq`` order through the driver's own cursor (fast)."""
    raw: Any = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        with raw.cursor(name="ebr_verify") as cur:
            cur.itersize = chunk
            cur.execute(_SELECT_ALL)
            yield from cur
        return
    cur = raw.cursor()
    try:
        cur.arraysize = chunk
        cur.execute(_SELECT_ALL)
        while rows := cur.fetchmany(chunk):
            yield from rows
    finally:
        cur.close()


def verify_chain(
    bind: Engine | Connection,
    *,
    progress: Callable[[int], None] | None = None,
    chunk: int = 20_000,
) -> ChainReport:
    """Check the whole audit trail: sequence, links and hashes; name the first bad entry.

    Parameters
    ----------
    bind
        The database.
    progress
        Called with the number of entries checked so far, every ``chunk`` entries.
    chunk
        Rows fetched at a time.

    Returns
    -------
    ChainReport
    """
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return verify_chain(conn, progress=progress, chunk=chunk)
    expected_seq = 1
    prev = GENESIS_HASH
    count = 0
    for row in _raw_rows(bind, chunk):
        seq = row[0]
        if seq != expected_seq:
            if isinstance(seq, int) and seq > expected_seq:
                problem = f"missing (the next entry found is {seq})"
            else:
                problem = f"out of sequence: found seq {seq!r}"
            return ChainReport(False, count, prev, expected_seq, problem)
        if row[11] != prev:
            return ChainReport(
                False, count, prev, seq, "previous-hash link broken (an entry before it changed)"
            )
        version = row[14]  # the format, inline: this loop runs a million times
        if version is None:
            values: list[Any] = list(row[:12])
        elif version == HASH_VERSION:
            values = [version, seq, row[1], row[2], row[13], *row[3:12]]
        else:
            return ChainReport(False, count, prev, seq, f"unknown hash format {version!r}")
        try:
            digest = canonical_hash(values)
        except (TypeError, ValueError, UnicodeEncodeError) as exc:
            return ChainReport(False, count, prev, seq, f"unreadable content: {exc}")
        if digest != row[12]:
            return ChainReport(
                False, count, prev, seq, "hash mismatch: the entry was altered after it was written"
            )
        prev = digest
        count += 1
        expected_seq += 1
        if progress is not None and count % chunk == 0:
            progress(count)
    if progress is not None:
        progress(count)
    return ChainReport(True, count, prev)
