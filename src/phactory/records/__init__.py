"""The electronic batch record: audit trail, signatures, users, deviations, genealogy.

Everything is written through :class:`RecordService`, which enforces the role matrix and
writes every change to an append-only, hash-chained audit trail (21 CFR Part 11; EU GMP
Annex 11). :mod:`phactory.batch` executes batches and records them here.

>>> from phactory.records import RecordService
>>> with RecordService("sqlite://") as records:        # doctest: +SKIP
...     print(records.verify_audit().describe())
"""

from phactory.records.audit import (
    GENESIS_HASH,
    NO_VALUE,
    AuditEntry,
    AuditWriter,
    ChainReport,
    entry_hash,
    verify_chain,
)
from phactory.records.deviations import DEVIATION_KINDS, WORKFLOW, Deviation
from phactory.records.errors import (
    AccountLocked,
    AuthenticationFailed,
    PermissionDenied,
    RecordError,
    Refused,
    SignatureInvalid,
    UnknownRecord,
)
from phactory.records.export import (
    batch_record_batchml,
    batch_record_html,
    master_recipe_batchml,
    record_events,
)
from phactory.records.genealogy import Genealogy, TraceEdge, chain_of_identity_problem
from phactory.records.group_commit import SharedTransaction
from phactory.records.pdf_export import PdfFontError, batch_record_pdf
from phactory.records.record import BatchInfo, BatchRecord, LotInfo, StepInfo
from phactory.records.review import ReviewItem
from phactory.records.roles import HUMAN_ROLES, ROLE_MATRIX, Action, allowed
from phactory.records.service import RecordService, RecordTx, UserSession
from phactory.records.signatures import MEANINGS, Signature
from phactory.records.users import SYSTEM_USER, User, default_hasher

__all__ = [
    "DEVIATION_KINDS",
    "GENESIS_HASH",
    "HUMAN_ROLES",
    "MEANINGS",
    "NO_VALUE",
    "ROLE_MATRIX",
    "SYSTEM_USER",
    "WORKFLOW",
    "AccountLocked",
    "Action",
    "AuditEntry",
    "AuditWriter",
    "AuthenticationFailed",
    "BatchInfo",
    "BatchRecord",
    "ChainReport",
    "Deviation",
    "Genealogy",
    "LotInfo",
    "PdfFontError",
    "PermissionDenied",
    "RecordError",
    "RecordService",
    "RecordTx",
    "Refused",
    "ReviewItem",
    "SharedTransaction",
    "Signature",
    "SignatureInvalid",
    "StepInfo",
    "TraceEdge",
    "UnknownRecord",
    "User",
    "UserSession",
    "allowed",
    "batch_record_batchml",
    "batch_record_html",
    "batch_record_pdf",
    "chain_of_identity_problem",
    "default_hasher",
    "entry_hash",
    "master_recipe_batchml",
    "record_events",
    "verify_chain",
]
