"""Who acts in the batch record: people identified at a workstation or by an API client.

Two identities are at work in the application. The **web account** (viewer, engineer,
admin; :mod:`phactory.app.principal`) decides whether a browser or an API client may act
at all. Who acts *in the batch record* is a **person of the record service** (operator,
supervisor, QA, QP, admin; :mod:`phactory.records.roles`), identified with user id and
password (21 CFR 11.200(a)(1)); the record service's session then lives here, under a
key:

* a browser workstation's key is a hash of the web account's name and its session
  cookie (never the cookie itself): the person stays identified at that workstation
  until they switch, log out or the record service's idle timeout ends the session;
* an API client gets a random secret (``X-Records-Session``) bound to the web account
  that identified the person: the same secret sent by another web account is refused.

Every record session remembers the web account that opened it (``web:<name>``), which
the audit trail records next to the batch-record signer (issue 12, item 4).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from phactory.app.errors import Forbidden
from phactory.app.principal import Principal
from phactory.model.ids import require_id

if TYPE_CHECKING:
    from phactory.records import RecordService, UserSession

__all__ = [
    "RECORDS_SESSION_HEADER",
    "Identities",
    "acting_account",
    "signer",
    "workstation_key",
]

#: Header in which an API client sends its record-service session.
RECORDS_SESSION_HEADER: Final = "X-Records-Session"


def acting_account(principal: Principal) -> str:
    """How the audit trail names the web account that acted: ``web:<name>``."""
    return f"web:{principal.name}"[:100]


def workstation_key(principal: Principal, cookie: str) -> str:
    """The key of a browser workstation: a hash of account name and session cookie."""
    return hashlib.sha256(f"{principal.name}\0{cookie}".encode()).hexdigest()


@contextmanager
def signer(
    records: RecordService, current: UserSession, user_id: str, password: str
) -> Iterator[tuple[UserSession, str]]:
    """The session of whoever signs, and the user id to give the signing.

    The person identified signs in their own session; a second person at the same
    workstation (a verifier, a reviewer) is logged in for this one signing with both
    components, user id and password (21 CFR 11.200(a)(1)), and logged out after it.
    """
    user_id = require_id(user_id, "user id")
    if current.user_id == user_id:
        yield current, user_id
        return
    session = records.accounts.login(user_id, password, acting_account=current.acting_account)
    try:
        yield session, user_id
    finally:
        records.accounts.logout(session)


def _bound(principal: Principal, secret: str) -> str:
    """The key of an API client's secret, bound to the web account that holds it."""
    return hashlib.sha256(f"api\0{principal.name}\0{secret}".encode()).hexdigest()


@dataclass
class _Held:
    session: UserSession
    account: str


class Identities:
    """The record-service sessions of the people identified, by key.

    Parameters
    ----------
    is_alive
        Whether the record service still honours a session (open, not timed out, account
        active and unlocked); a session it no longer honours is forgotten.
    end
        Ends a session at the record service (logout).
    idle_s
        The record service's idle timeout [s]: sessions idle longer are swept.
    """

    def __init__(
        self,
        is_alive: Callable[[UserSession], bool],
        end: Callable[[UserSession], None],
        idle_s: float,
    ) -> None:
        self._is_alive = is_alive
        self._end = end
        self._idle_s = idle_s
        self._held: dict[str, _Held] = {}
        self._lock = threading.Lock()

    def keep(self, key: str, principal: Principal, session: UserSession) -> None:
        """Hold ``session`` under ``key`` (ending any session held there before)."""
        self.forget(key)
        self._sweep()
        with self._lock:
            self._held[key] = _Held(session, principal.name)

    def keep_secret(self, principal: Principal, session: UserSession) -> str:
        """Hold ``session`` for an API client; return the secret it sends back."""
        secret = "rs_" + secrets.token_urlsafe(24)
        self.keep(_bound(principal, secret), principal, session)
        return secret

    def get(self, key: str, principal: Principal) -> UserSession | None:
        """The session held under ``key`` for ``principal``, while the record honours it."""
        with self._lock:
            held = self._held.get(key)
        if held is None or held.account != principal.name:
            return None
        if not self._is_alive(held.session):
            self.forget(key)
            return None
        return held.session

    def get_secret(self, principal: Principal, secret: str | None) -> UserSession:
        """The session of an API client's secret.

        Raises
        ------
        Forbidden
            If there is no secret, or it is unknown, ended, or another account's.
        """
        if not secret:
            raise Forbidden(
                "identify a person of the batch record first: POST /api/v1/records/sessions, "
                f"then send its secret in {RECORDS_SESSION_HEADER}"
            )
        session = self.get(_bound(principal, secret), principal)
        if session is None:
            raise Forbidden(
                "the batch-record session has ended, timed out or is not yours: identify again"
            )
        return session

    def forget(self, key: str) -> None:
        """End the session held under ``key``, if any."""
        with self._lock:
            held = self._held.pop(key, None)
        if held is not None:
            self._end(held.session)

    def forget_secret(self, principal: Principal, secret: str) -> None:
        """End an API client's session."""
        self.forget(_bound(principal, secret))

    def forget_all(self) -> None:
        """End every session held (at shutdown)."""
        with self._lock:
            keys = list(self._held)
        for key in keys:
            self.forget(key)

    def _sweep(self) -> None:
        now = time.monotonic()
        with self._lock:
            stale = [
                k
                for k, h in self._held.items()
                if h.session.closed or now - h.session.last_activity > self._idle_s
            ]
        for key in stale:
            self.forget(key)
