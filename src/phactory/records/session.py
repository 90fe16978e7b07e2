"""A user session: a period of controlled system access by one person."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["UserSession"]


@dataclass
class UserSession:
    """A period of controlled system access by one person (21 CFR 11.200(a)(1)(i)).

    Only sessions the record service issued act: the service keeps them, and reads the
    role and qualifications from the account at every use, so an object altered or made
    up by a caller grants nothing.

    Attributes
    ----------
    user_id, role, full_name
        Who is logged in.
    skills
        Their qualifications (site skill ids).
    signed
        Whether this session has executed a signing already: later signings then need
        only the password.
    acting_account
        The application account the person acts through (e.g. ``web:alice``), recorded
        with every audit entry written for this session; ``None`` if none.
    issued_at
        When the session was opened (the service's clock); a password changed since
        ends it.
    """

    user_id: str
    role: str
    full_name: str
    skills: tuple[str, ...]
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    last_activity: float = field(default_factory=time.monotonic)
    signed: bool = False
    closed: bool = False
    acting_account: str | None = None
    issued_at: datetime | None = None
