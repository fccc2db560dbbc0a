"""Sign-in, the lockout after repeated failures, the signed-in person, own password."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, joinedload

from switchboard.accounts.models import SignInThrottle, User
from switchboard.accounts.schemas import PasswordChange
from switchboard.audit import service as audit
from switchboard.core.context import ServiceContext
from switchboard.core.db import utcnow
from switchboard.core.errors import Forbidden, TooManyRequests, Unauthorized
from switchboard.core.security import hash_password, verify_password
from switchboard.core.validation import validate

LOCK_AFTER_FAILURES = 5  # failed sign-ins of one e-mail within the window
IP_LOCK_AFTER_FAILURES = 30  # failed sign-ins from one client address within the window
FAILURE_WINDOW = timedelta(minutes=5)
LOCK_DURATION = timedelta(minutes=15)


class SignInRefused(Unauthorized):
    """A wrong e-mail or password. The failure it records counts towards the lockout, so
    the unit of work keeps it."""

    keep_writes = True


class SignInLocked(TooManyRequests):
    keep_writes = True


def _insert_if_missing(session: Session, key: str, now: datetime) -> None:
    values = {"key": key, "window_start": now, "attempts": 0}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        statement = pg_insert(SignInThrottle).values(**values).on_conflict_do_nothing(index_elements=["key"])
    else:
        statement = sqlite_insert(SignInThrottle).values(**values).on_conflict_do_nothing(index_elements=["key"])
    session.execute(statement)


def _reserve(session: Session, key: str, limit: int, now: datetime) -> SignInThrottle | None:
    """Counts one more attempt of `key`, under the row's lock, before any password is
    checked; None when the key is locked or already has `limit` attempts in the window.
    Concurrent requests for one key queue on the row, so no more than `limit` are ever
    checked."""
    _insert_if_missing(session, key, now)
    row = session.scalar(select(SignInThrottle).where(SignInThrottle.key == key).with_for_update()
                         .execution_options(populate_existing=True))
    if row.locked_until is not None and row.locked_until > now:
        return None
    if now - row.window_start > FAILURE_WINDOW or row.locked_until is not None:
        row.window_start, row.attempts, row.locked_until = now, 0, None
    if row.attempts >= limit:
        row.locked_until = now + LOCK_DURATION
        return None
    row.attempts += 1
    return row


def authenticate(session: Session, email: str, password: str, *, client: str | None = None,
                 now: datetime | None = None) -> User:
    """The same answer for an unknown e-mail and a wrong password. An e-mail (known or
    not, so a lock reveals nothing) is locked for 15 minutes after 5 failures within 5
    minutes, and a client address after 30: one address cannot lock every account. The
    attempts are counted before the password is checked and kept whatever the outcome."""
    now = now or utcnow()
    email_key = email.strip().lower()
    by_email = _reserve(session, f"email:{email_key}", LOCK_AFTER_FAILURES, now)
    if by_email is None:
        raise SignInLocked("signin_locked", "Too many failed sign-ins for this e-mail. Try again in 15 minutes.")
    by_client = _reserve(session, f"ip:{client}", IP_LOCK_AFTER_FAILURES, now) if client else None
    if client and by_client is None:
        raise SignInLocked("signin_locked", "Too many failed sign-ins from this address. Try again in 15 minutes.")
    user = session.scalar(select(User).where(User.email_key == email_key))
    if user is None or not verify_password(user.password_hash, password):
        for row, limit in ((by_email, LOCK_AFTER_FAILURES), (by_client, IP_LOCK_AFTER_FAILURES)):
            if row is not None and row.attempts >= limit:
                row.locked_until = now + LOCK_DURATION
        session.execute(delete(SignInThrottle).where(SignInThrottle.window_start < now - timedelta(days=1)))
        raise SignInRefused("invalid_credentials", "Wrong e-mail or password.")
    by_email.attempts = 0
    if by_client is not None:
        by_client.attempts = max(0, by_client.attempts - 1)  # a success is not a failure
    return user


def load_signed_in_user(session: Session, user_id: str, token_version: int | None = None) -> User | None:
    # The account comes along: pages show it in the navigation and pick its language.
    user = session.get(User, user_id, options=[joinedload(User.account)])
    if user is None or user.password_hash is None:
        return None
    if token_version is not None and user.token_version != token_version:
        return None
    if user.account is not None and user.account.deleted_at is not None:
        return None
    return user


def change_own_password(ctx: ServiceContext, data: PasswordChange | dict) -> User:
    data = validate(PasswordChange, data)
    user = ctx.session.get(User, ctx.actor.user_id) if ctx.actor.user_id else None
    if user is None:
        raise Forbidden("forbidden", "Only a signed-in person can change their password.")
    if not verify_password(user.password_hash, data.current_password):
        raise Forbidden("wrong_password", "The current password is wrong.", field="current_password")
    user.password_hash = hash_password(data.new_password)
    user.token_version += 1
    audit.record(ctx, action="password_change", object_type="user", object_id=user.id,
                 object_repr=user.email, account_id=user.account_id, partner_id=ctx.actor.partner_id,
                 after={"password": audit.MASK})
    ctx.session.flush()
    return user
