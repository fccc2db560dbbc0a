from __future__ import annotations

from datetime import datetime

from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from switchboard.core.db import Base, IdMixin, TimestampMixin, UTCDateTime, VersionedMixin, utcnow
from switchboard.core.integrity import conflict_on


class Partner(IdMixin, TimestampMixin, Base):
    __tablename__ = "partners"

    name: Mapped[str] = mapped_column(String(200), unique=True)


class Account(IdMixin, TimestampMixin, VersionedMixin, Base):
    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("partner_id", "name_key"),)

    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # Lower-cased name: two accounts of a partner may not differ only by case.
    name_key: Mapped[str] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(2))
    province: Mapped[str | None] = mapped_column(String(100))
    city: Mapped[str | None] = mapped_column(String(100))
    address: Mapped[str | None] = mapped_column(String(300))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    default_language: Mapped[str] = mapped_column(String(5), default="en")
    # Set when the account is deleted: it is gone for everybody at once, and the row (with
    # its PBX connection) stays only until the removals of its users reach the PBX.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    partner: Mapped[Partner] = relationship()


class User(IdMixin, TimestampMixin, VersionedMixin, Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "(role = 'partner_admin' AND partner_id IS NOT NULL AND account_id IS NULL)"
            " OR (role IN ('account_admin', 'user') AND account_id IS NOT NULL)",
            name="role_scope",
        ),
        Index("ix_users_account_name", "account_id", "last_name", "first_name"),
        # The users list's order (names compared in lower case): a page is read in index
        # order instead of sorting every user of the account. PostgreSQL only: SQLite's
        # reflection cannot read an index on expressions (backups and checks reflect).
        Index("ix_users_account_sorted", "account_id", text("lower(last_name)"), text("lower(first_name)"),
              "id").ddl_if(dialect="postgresql"),
    )

    partner_id: Mapped[str | None] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(320))
    # E-mails are unique compared case-insensitively; this column carries that rule.
    email_key: Mapped[str] = mapped_column(String(320), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    # Bumped when the password or the role changes: API tokens issued before stop working.
    token_version: Mapped[int] = mapped_column(default=0)
    # Hashes of the last passwords (newest first): a new password may not be one of them.
    password_history: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The console language this person chose (None: the browser's, then the account's).
    language: Mapped[str | None] = mapped_column(String(5))

    account: Mapped[Account | None] = relationship()

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class SignInThrottle(Base):
    """Failed sign-ins counted per key ("email:<e-mail>", "ip:<address>") in a window.
    Counted with one atomic update before a password is even checked, so parallel
    attempts can never check more than the limit allows."""

    __tablename__ = "signin_throttle"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class UserSession(Base):
    """A console session, revocable server-side: the cookie carries a random token whose
    hash is the key here. Signing out deletes it; a password or role change, or the
    user's deletion, deletes all of the user's."""

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user", "user_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the token
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


conflict_on("uq_partners_name", "name_taken", "A partner with this name already exists.", field="name")
conflict_on("uq_accounts_partner_id_name_key", "name_taken", "An account with this name already exists.", field="name")
conflict_on("uq_users_email_key", "email_taken", "A user with this e-mail already exists.", field="email")
