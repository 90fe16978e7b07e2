"""Who is asking, and what each role may do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

from phactory.app.errors import Forbidden

__all__ = ["ROLES", "SESSION_COOKIE", "Principal", "Role", "require"]

#: Name of the browser session cookie (set by the login page).
SESSION_COOKIE: Final = "phactory_session"

#: ``viewer`` reads; ``operator`` reads here too and commands equipment phases on the
#: controllers' OPC UA server (:mod:`phactory.app.services.opcua_users`); ``engineer``
#: also changes sites and scenarios, runs jobs and writes set points over OPC UA;
#: ``admin`` also manages accounts. Ordered weakest first (:meth:`Principal.has`).
Role = Literal["viewer", "operator", "engineer", "admin"]
ROLES: Final[tuple[Role, ...]] = get_args(Role)
_RANK: Final[dict[str, int]] = {r: i for i, r in enumerate(ROLES)}


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated user: name and role (and how they authenticated).

    ``must_change_password`` marks an account whose password was set for it (the first
    ``admin``): until it is changed, the pages show only the change-password form and
    the API answers 403 to everything but ``GET /me`` and changing it.
    """

    name: str
    role: Role
    via: Literal["password", "token", "session", "system"] = "token"
    must_change_password: bool = False

    def has(self, role: Role) -> bool:
        """Whether this user's role is ``role`` or above."""
        return _RANK[self.role] >= _RANK[role]

    @property
    def can_change(self) -> bool:
        """Whether this user may change sites, scenarios and runs (engineer or admin)."""
        return self.has("engineer")


def require(principal: Principal, role: Role, action: str) -> None:
    """Raise :class:`Forbidden` unless ``principal`` has ``role`` or above."""
    if not principal.has(role):
        raise Forbidden(f"{action} needs the {role} role; {principal.name} is a {principal.role}")
