"""Errors of the electronic batch record; each leaves the record unchanged unless noted."""

from __future__ import annotations

from phactory.errors import DeniedError, InvalidError, NotFoundError, PhactoryError

__all__ = [
    "AccountLocked",
    "AuthenticationFailed",
    "PasswordChangeRequired",
    "PermissionDenied",
    "RecordError",
    "Refused",
    "SignatureInvalid",
    "UnknownRecord",
]


class RecordError(PhactoryError):
    """Anything the record service refuses or cannot do."""


class UnknownRecord(RecordError, NotFoundError):
    """A batch, step, user, lot or deviation that does not exist."""


class Refused(RecordError, InvalidError):
    """A request that breaks a GMP rule (missing reason, wrong sequence, lot not released).

    The refusal itself is written to the audit trail where it concerns GMP data.
    """


class PermissionDenied(RecordError, DeniedError):
    """The user's role does not allow the action (21 CFR 11.10(g)); the attempt is logged."""


class AuthenticationFailed(RecordError, DeniedError):
    """Wrong user id or password (21 CFR 11.300(d)); the failure is counted and logged."""


class AccountLocked(AuthenticationFailed):
    """The account is locked after repeated failures; an administrator must unlock it."""


class PasswordChangeRequired(AuthenticationFailed):
    """The password was reset by an administrator: the user must choose a new one
    (:meth:`phactory.records.Accounts.change_password`) before logging in."""


class SignatureInvalid(RecordError, InvalidError):
    """A signature does not match its record (edited after signing, or copied)."""
