"""The electronic batch record: audit trail, signatures, users, deviations, lots, genealogy.

Everything is written through :class:`RecordService`, a facade of parts that share one
access-control object: ``records.accounts``, ``records.signing``,
``records.deviations``, ``records.lots``, ``records.batches``, ``records.disposition``,
``records.audit`` and ``records.access``. It enforces the role matrix and writes every
change to an append-only, hash-chained audit trail (21 CFR Part 11; EU GMP Annex 11).
:mod:`phactory.batch` executes batches and records them through the transaction object
:class:`RecordTx` only.

>>> from phactory.records import RecordService
>>> with RecordService("sqlite://") as records:        # doctest: +SKIP
...     print(records.audit.verify().describe())
"""

from phactory.records.access import AccessControl
from phactory.records.accounts import Accounts
from phactory.records.audit import (
    GENESIS_HASH,
    HASH_VERSION,
    NO_VALUE,
    AuditEntry,
    AuditWriter,
    ChainReport,
    entry_hash,
    verify_chain,
)
from phactory.records.batches import BatchRecords
from phactory.records.deviation_workflow import Deviations
from phactory.records.deviations import DEVIATION_KINDS, WORKFLOW, Deviation
from phactory.records.disposition import Disposition
from phactory.records.errors import (
    AccountLocked,
    AuthenticationFailed,
    PasswordChangeRequired,
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
from phactory.records.inputs import (
    LABEL_MAX,
    NAME_MAX,
    TEXT_MAX,
    free_text,
    optional_text,
    require_record_id,
)
from phactory.records.lots import LOT_STATUSES, Lots, lot_problem
from phactory.records.pdf_export import PdfFontError, batch_record_pdf
from phactory.records.record import Allocation, BatchInfo, BatchRecord, LotInfo, StepInfo
from phactory.records.review import DispositionState, ReviewItem, disposition_text
from phactory.records.roles import HUMAN_ROLES, ROLE_MATRIX, Action, allowed
from phactory.records.service import AuditTrail, RecordService
from phactory.records.session import UserSession
from phactory.records.signatures import MEANINGS, Signature
from phactory.records.signing import Signing
from phactory.records.tx import NewStep, RecordTx
from phactory.records.users import SYSTEM_USER, User, default_hasher
from phactory.records.view import HOLD_STATES, RecordView

__all__ = [
    "DEVIATION_KINDS",
    "GENESIS_HASH",
    "HASH_VERSION",
    "HOLD_STATES",
    "HUMAN_ROLES",
    "LABEL_MAX",
    "LOT_STATUSES",
    "MEANINGS",
    "NAME_MAX",
    "NO_VALUE",
    "ROLE_MATRIX",
    "SYSTEM_USER",
    "TEXT_MAX",
    "WORKFLOW",
    "AccessControl",
    "AccountLocked",
    "Accounts",
    "Action",
    "Allocation",
    "AuditEntry",
    "AuditTrail",
    "AuditWriter",
    "AuthenticationFailed",
    "BatchInfo",
    "BatchRecord",
    "BatchRecords",
    "ChainReport",
    "Deviation",
    "Deviations",
    "Disposition",
    "DispositionState",
    "Genealogy",
    "LotInfo",
    "Lots",
    "NewStep",
    "PasswordChangeRequired",
    "PdfFontError",
    "PermissionDenied",
    "RecordError",
    "RecordService",
    "RecordTx",
    "RecordView",
    "Refused",
    "ReviewItem",
    "SharedTransaction",
    "Signature",
    "SignatureInvalid",
    "Signing",
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
    "disposition_text",
    "entry_hash",
    "free_text",
    "lot_problem",
    "master_recipe_batchml",
    "optional_text",
    "record_events",
    "require_record_id",
    "verify_chain",
]
