"""The record service: the one layer that writes GMP records, made of named parts.

Every public method of its parts checks the caller's session and role
(:mod:`phactory.records.roles`), runs in one transaction, and writes what it changes to
the hash-chained audit trail in that transaction, with the old and new value and the
reason (21 CFR 11.10(d), (e), (g); EU GMP Annex 11 §9, §12). Signatures need the user id
and password for the first signing of a session and the password for later ones
(21 CFR 11.200(a)(1)); repeated failures lock the account (11.300(d)).

:class:`RecordService` is a facade: it builds its parts around one shared access-control
object and exposes them, each thing reachable one way.

=================  ==========================================================  ===========
part               what                                                        module
=================  ==========================================================  ===========
``access``         database, transactions (:class:`~phactory.records.RecordTx`), access
                   sessions, the role matrix
``accounts``       logins, accounts, unlock, password reset and change,        accounts
                   the components of a signing
``signing``        signatures checked, re-signatures pending, comments,        signing
                   corrections
``deviations``     deviations and their signed workflow                        deviation_workflow
``lots``           receipt, QA disposition, genealogy                          lots
``batches``        batches, steps, units, hold reasons, the whole record       batches
``disposition``    review by exception, review, release, rejection             disposition
``audit``          the audit trail and its verification                        service
=================  ==========================================================  ===========

>>> from phactory.records import RecordService
>>> records = RecordService("sqlite://")                                    # doctest: +SKIP
>>> records.accounts.bootstrap_admin("admin", "Ada Admin", "correct horse") # doctest: +SKIP
>>> admin = records.accounts.login("admin", "correct horse")                # doctest: +SKIP
>>> records.audit.verify().describe()                                       # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Self

from phactory.records.access import DEFAULT_SESSION_TIMEOUT_S, AccessControl
from phactory.records.accounts import Accounts
from phactory.records.audit import AuditEntry, ChainReport, verify_chain
from phactory.records.batches import BatchRecords
from phactory.records.deviation_workflow import Deviations
from phactory.records.disposition import Disposition
from phactory.records.lots import Lots
from phactory.records.session import UserSession
from phactory.records.signing import Signing
from phactory.records.tx import RecordTx
from phactory.records.users import DEFAULT_MAX_FAILURES, PasswordHasher
from phactory.store import Store

__all__ = ["DEFAULT_SESSION_TIMEOUT_S", "AuditTrail", "RecordService", "RecordTx", "UserSession"]


class AuditTrail:
    """The audit trail, read and verified.

    Parameters
    ----------
    access
        The record service's access control.
    """

    def __init__(self, access: AccessControl) -> None:
        self.access = access

    def entries(
        self, batch_id: str | None = None, *, subject: str | None = None
    ) -> list[AuditEntry]:
        """Audit entries in chain order, of one batch and/or one subject."""
        with self.access.reading() as view:
            return view.entries(batch_id, subject=subject)

    def verify(self, progress: Callable[[int], None] | None = None) -> ChainReport:
        """Verify the whole audit chain; the report names the first bad entry."""
        return verify_chain(self.access.engine, progress=progress)


class RecordService:
    """Electronic batch records: a facade of parts sharing one access-control object.

    Parameters
    ----------
    store
        A :class:`phactory.store.Store`, or a database URL, or ``None`` for the store's
        default (``PHACTORY_DATABASE_URL`` or the SQLite file in the data folder).
        The record tables are created or upgraded on opening.
    hasher
        Password hasher; default Argon2id (:func:`phactory.credentials.default_hasher`).
    max_failures
        Consecutive failed logins or signings that lock an account.
    session_timeout_s
        Idle time that ends a session [s].
    clock
        Current time (aware), for tests; default the system clock in UTC.
    group_commit
        Route every write transaction through the group-commit writer
        (:mod:`phactory.records.group_commit`): concurrent users, batches and engines
        share durable commits instead of paying one disk flush each. For servers with
        many writers; a single writer gains nothing.

    Attributes
    ----------
    access, accounts, signing, deviations, lots, batches, disposition, audit
        The parts (see the module docstring).
    """

    def __init__(
        self,
        store: Store | str | None = None,
        *,
        hasher: PasswordHasher | None = None,
        max_failures: int = DEFAULT_MAX_FAILURES,
        session_timeout_s: float = DEFAULT_SESSION_TIMEOUT_S,
        clock: Callable[[], datetime] | None = None,
        group_commit: bool = False,
    ) -> None:
        self.access = AccessControl(store, session_timeout_s=session_timeout_s, clock=clock)
        self.accounts = Accounts(self.access, hasher=hasher, max_failures=max_failures)
        self.signing = Signing(self.access)
        self.deviations = Deviations(self.access, self.accounts)
        self.lots = Lots(self.access, self.accounts)
        self.batches = BatchRecords(self.access)
        self.disposition = Disposition(self.access, self.accounts)
        self.audit = AuditTrail(self.access)
        # After the start-up writes (the system account), so that they do not start the
        # committer thread.
        self.access.group_commit = group_commit

    def close(self) -> None:
        """Commit what is pending and close the database (if the service opened it)."""
        self.access.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
