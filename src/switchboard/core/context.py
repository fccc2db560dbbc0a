"""Who is acting, in which unit of work: passed to every service function."""

from __future__ import annotations

import contextvars
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from switchboard.core.runtime import Runtime

Role = Literal["system", "partner_admin", "account_admin", "user"]

# Set per HTTP request (and per CLI command) so the change log can group writes.
current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "switchboard_request_id", default=None
)


@dataclass(frozen=True)
class Actor:
    role: Role
    user_id: str | None = None
    email: str | None = None
    partner_id: str | None = None
    account_id: str | None = None

    @classmethod
    def system(cls, label: str = "system") -> "Actor":
        return cls(role="system", email=label)

    # What the actor may do, asked by the services and shown by the console: roles are
    # compared here and nowhere else.

    @property
    def is_admin(self) -> bool:
        """Administers users and their MiVB features (partner and account admins)."""
        return self.role in ("system", "partner_admin", "account_admin")

    @property
    def is_partner_admin(self) -> bool:
        """Manages accounts and their system settings (partner admins and the operator)."""
        return self.role in ("system", "partner_admin")

    @property
    def can_manage_accounts(self) -> bool:
        return self.is_partner_admin

    @property
    def can_edit_settings(self) -> bool:
        """Changes an account's MiVB system settings (account admins only read them)."""
        return self.is_partner_admin

    @property
    def can_manage_users(self) -> bool:
        return self.is_admin

    def is_self(self, user_id: str | None) -> bool:
        return self.user_id is not None and self.user_id == user_id


@dataclass
class ServiceContext:
    session: Session
    actor: Actor
    runtime: "Runtime | None" = None
    request_id: str = field(default_factory=lambda: current_request_id.get() or uuid.uuid4().hex)

    # What this unit of work has already looked up (the account, the catalogue, the
    # ranges…), so a bulk import does not read them again for every row. Anything that
    # changes such an object within the unit of work forgets it (forget()).
    cache: dict = field(default_factory=dict)

    def memo(self, key, load):
        if key not in self.cache:
            self.cache[key] = load()
        return self.cache[key]

    def forget(self, *prefixes: str) -> None:
        for key in [k for k in self.cache if not prefixes or (k[0] if isinstance(k, tuple) else k) in prefixes]:
            del self.cache[key]

    def forget_all_but(self, *prefixes: str) -> None:
        """The transaction committed: what it looked up under a lock is not locked any more."""
        for key in [k for k in self.cache if (k[0] if isinstance(k, tuple) else k) not in prefixes]:
            del self.cache[key]

    @property
    def rt(self) -> "Runtime":
        if self.runtime is None:
            raise RuntimeError("this service needs a Runtime (secrets, PBX connectors) in its context")
        return self.runtime
