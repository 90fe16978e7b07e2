"""The services the pages use, and one-time login tickets.

NiceGUI keeps global state, so there is one UI per process; :func:`bind` attaches it to
the running application's :class:`~phactory.app.context.AppContext`.
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import Final

from phactory.app.context import AppContext

__all__ = ["bind", "ctx", "issue_ticket", "redeem_ticket", "unbind"]

#: Seconds a login ticket stays valid.
TICKET_S: Final = 60.0

_ctx: list[AppContext] = []
_tickets: dict[str, tuple[float, str]] = {}
_lock = threading.Lock()


def bind(context: AppContext) -> None:
    """Serve the pages from ``context``."""
    _ctx[:] = [context]


def unbind() -> None:
    """Detach the pages (at shutdown)."""
    _ctx.clear()
    with _lock:
        _tickets.clear()


def ctx() -> AppContext:
    """The running application's services."""
    if not _ctx:
        raise RuntimeError("the Phactory UI is not bound to a running application")
    return _ctx[0]


def issue_ticket(session_secret: str) -> str:
    """A single-use ticket that the browser exchanges for the session cookie."""
    ticket = secrets.token_urlsafe(24)
    now = time.monotonic()
    with _lock:
        for key in [k for k, (t, _) in _tickets.items() if t < now]:
            del _tickets[key]
        _tickets[ticket] = (now + TICKET_S, session_secret)
    return ticket


def redeem_ticket(ticket: str) -> str | None:
    """The session secret of a valid ticket (which is then used up), or ``None``."""
    with _lock:
        found = _tickets.pop(ticket, None)
    if found is None or found[0] < time.monotonic():
        return None
    return found[1]
