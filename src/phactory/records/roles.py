"""Roles and the role matrix: who may do what (21 CFR 11.10(d), (g); EU GMP Annex 11 §12).

The matrix is enforced by the service layer (:class:`phactory.records.RecordService`
and :class:`phactory.batch.BatchEngine`) for every action, and every refusal is written
to the audit trail. An administrator manages accounts but can neither execute batches
nor enter, correct, sign, review or release records, and no role can edit or delete
audit entries: there is no such action (the database refuses it as well).

=====================  ========  ==========  ====  ====  =====  ======
action                 operator  supervisor  qa    qp    admin  system
=====================  ========  ==========  ====  ====  =====  ======
batch.create                     x
batch.start/pause/...  x         x                               (hold)
batch.stop/abort/reset           x
record.entry           x         x
record.correct                   x           x
record.comment         x         x           x     x
record.automatic                                                 x
sign.performed (+re-)  x         x
sign.verified (+re-)   x         x           x
deviation.raise        x         x           x                   x
deviation.investigate            x           x
deviation.capa                               x
deviation.close                              x
lot.receive            x         x
lot.disposition                              x
review                                       x
release                                            x
user.manage                                              x
record.read            x         x           x     x     x       x
=====================  ========  ==========  ====  ====  =====  ======
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final, Literal, get_args

__all__ = ["HUMAN_ROLES", "ROLES", "ROLE_MATRIX", "Action", "Role", "allowed", "roles_for"]

Role = Literal["operator", "supervisor", "qa", "qp", "admin", "system"]
#: Every role, the internal ``system`` role of the batch engine last.
ROLES: Final[tuple[str, ...]] = get_args(Role)
#: Roles people can have.
HUMAN_ROLES: Final[tuple[str, ...]] = ("operator", "supervisor", "qa", "qp", "admin")


class Action(StrEnum):
    """Everything the service layer does on behalf of someone."""

    BATCH_CREATE = "batch.create"
    BATCH_START = "batch.start"
    BATCH_PAUSE = "batch.pause"
    BATCH_RESUME = "batch.resume"
    BATCH_HOLD = "batch.hold"
    BATCH_RESTART = "batch.restart"
    BATCH_STOP = "batch.stop"
    BATCH_ABORT = "batch.abort"
    BATCH_RESET = "batch.reset"
    RECORD_ENTRY = "record.entry"
    RECORD_CORRECT = "record.correct"
    RECORD_COMMENT = "record.comment"
    RECORD_AUTOMATIC = "record.automatic"
    RECORD_READ = "record.read"
    SIGN_PERFORMED = "sign.performed"
    SIGN_VERIFIED = "sign.verified"
    DEVIATION_RAISE = "deviation.raise"
    DEVIATION_INVESTIGATE = "deviation.investigate"
    DEVIATION_CAPA = "deviation.capa"
    DEVIATION_CLOSE = "deviation.close"
    LOT_RECEIVE = "lot.receive"
    LOT_DISPOSITION = "lot.disposition"
    REVIEW = "review"
    RELEASE = "release"
    USER_MANAGE = "user.manage"


_A = Action
_RUN: Final = {_A.BATCH_START, _A.BATCH_PAUSE, _A.BATCH_RESUME, _A.BATCH_HOLD, _A.BATCH_RESTART}

#: The role matrix: the actions each role may perform.
ROLE_MATRIX: Final[dict[str, frozenset[Action]]] = {
    "operator": frozenset(
        _RUN
        | {
            _A.RECORD_ENTRY,
            _A.RECORD_COMMENT,
            _A.RECORD_READ,
            _A.SIGN_PERFORMED,
            _A.SIGN_VERIFIED,
            _A.DEVIATION_RAISE,
            _A.LOT_RECEIVE,
        }
    ),
    "supervisor": frozenset(
        _RUN
        | {
            _A.BATCH_CREATE,
            _A.BATCH_STOP,
            _A.BATCH_ABORT,
            _A.BATCH_RESET,
            _A.RECORD_ENTRY,
            _A.RECORD_CORRECT,
            _A.RECORD_COMMENT,
            _A.RECORD_READ,
            _A.SIGN_PERFORMED,
            _A.SIGN_VERIFIED,
            _A.DEVIATION_RAISE,
            _A.DEVIATION_INVESTIGATE,
            _A.LOT_RECEIVE,
        }
    ),
    "qa": frozenset(
        {
            _A.RECORD_CORRECT,
            _A.RECORD_COMMENT,
            _A.RECORD_READ,
            _A.SIGN_VERIFIED,
            _A.DEVIATION_RAISE,
            _A.DEVIATION_INVESTIGATE,
            _A.DEVIATION_CAPA,
            _A.DEVIATION_CLOSE,
            _A.LOT_DISPOSITION,
            _A.REVIEW,
        }
    ),
    "qp": frozenset({_A.RECORD_COMMENT, _A.RECORD_READ, _A.RELEASE}),
    "admin": frozenset({_A.USER_MANAGE, _A.RECORD_READ}),
    "system": frozenset({_A.RECORD_AUTOMATIC, _A.RECORD_READ, _A.DEVIATION_RAISE, _A.BATCH_HOLD}),
}


def allowed(role: str, action: Action) -> bool:
    """Whether ``role`` may perform ``action``."""
    return action in ROLE_MATRIX.get(role, frozenset())


def roles_for(action: Action) -> tuple[str, ...]:
    """The roles allowed to perform ``action``, for messages."""
    return tuple(role for role in ROLES if allowed(role, action))
