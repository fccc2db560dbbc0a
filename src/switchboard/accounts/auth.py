"""Sign-in, the lockout after repeated failures, passwords (one's own change, and the
rules every new password obeys wherever it is set)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, inspect, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from switchboard.accounts import sessions
from switchboard.accounts.models import SignInThrottle, User
from switchboard.accounts.schemas import PasswordChange
from switchboard.accounts.sessions import load_signed_in_user  # noqa: F401  (the API's bearer check)
from switchboard.audit import service as audit
from switchboard.core import passwords
from switchboard.core.context import ServiceContext
from switchboard.core.db import utcnow
from switchboard.core.errors import Forbidden, TooManyRequests, Unauthorized, ValidationFailed
from switchboard.core.security import hash_password, verify_password
from switchboard.core.validation import normalize_email, validate

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
    email_key = normalize_email(email)
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


def revoke_sign_ins(session: Session, user: User) -> None:
    """Everything that signs the user in stops working: API tokens (their version goes
    up) and console sessions (deleted). For a new password or a new role."""
    user.token_version = (user.token_version or 0) + 1
    sessions.end_all(session, user.id)


def set_password(session: Session, user: User, password: str | None, *, field: str = "password") -> None:
    """Stores a new password (its shape already checked by the schema: core.passwords), or
    none (the user can no longer sign in). Refused when it is the user's e-mail or one of
    their last passwords. Signs the user out everywhere."""
    if password is not None:
        if passwords.same_as_email(password, user.email):
            raise ValidationFailed("password_is_email", "The password must not be the e-mail address.",
                                   field=field)
        recent = list(user.password_history or []) or ([user.password_hash] if user.password_hash else [])
        if any(verify_password(old, password) for old in recent[:passwords.HISTORY]):
            raise ValidationFailed("password_reused",
                                   "This password was used recently. Choose one you have not used before.",
                                   field=field)
        new_hash = hash_password(password)
        user.password_hash = new_hash
        user.password_history = [new_hash, *recent][:passwords.HISTORY]
    else:
        user.password_hash = None
    if inspect(user).persistent:  # a user being made has no sign-in yet (its id is known all the same)
        revoke_sign_ins(session, user)


def change_own_password(ctx: ServiceContext, data: PasswordChange | dict) -> User:
    data = validate(PasswordChange, data)
    user = ctx.session.get(User, ctx.actor.user_id) if ctx.actor.user_id else None
    if user is None:
        raise Forbidden("forbidden", "Only a signed-in person can change their password.")
    if not verify_password(user.password_hash, data.current_password):
        raise Forbidden("wrong_password", "The current password is wrong.", field="current_password")
    set_password(ctx.session, user, data.new_password, field="new_password")
    audit.record(ctx, action="password_change", object_type="user", object_id=user.id,
                 object_repr=user.email, account_id=user.account_id, partner_id=ctx.actor.partner_id,
                 after={"password": audit.MASK})
    ctx.session.flush()
    return user
