"""Sign-in, the lockout after repeated failures, the signed-in person, own password."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, joinedload

from switchboard.accounts.models import LoginFailure, User
from switchboard.accounts.schemas import PasswordChange
from switchboard.audit import service as audit
from switchboard.core.context import ServiceContext
from switchboard.core.db import utcnow
from switchboard.core.errors import Forbidden, TooManyRequests, Unauthorized
from switchboard.core.security import hash_password, verify_password
from switchboard.core.validation import validate

LOCK_AFTER_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=5)
LOCK_DURATION = timedelta(minutes=15)


def _locked_until(session: Session, email_key: str, now: datetime) -> datetime | None:
    since = now - FAILURE_WINDOW - LOCK_DURATION
    times = session.scalars(
        select(LoginFailure.at)
        .where(LoginFailure.email_key == email_key, LoginFailure.at >= since)
        .order_by(LoginFailure.at)
    ).all()
    until = None
    n = LOCK_AFTER_FAILURES
    for i in range(len(times) - n + 1):
        if times[i + n - 1] - times[i] <= FAILURE_WINDOW:
            candidate = times[i + n - 1] + LOCK_DURATION
            if candidate > now and (until is None or candidate > until):
                until = candidate
    return until


class SignInRefused(Unauthorized):
    """A wrong e-mail or password. The failure it records counts towards the lockout, so
    the unit of work keeps it."""

    keep_writes = True


def authenticate(session: Session, email: str, password: str, *, now: datetime | None = None) -> User:
    """The same answer for an unknown e-mail and a wrong password; locks an e-mail (known
    or not, so a lock reveals nothing) after repeated failures. A failure is recorded in
    the session and SignInRefused raised (the unit of work keeps the record)."""
    now = now or utcnow()
    email_key = email.strip().lower()
    if _locked_until(session, email_key, now) is not None:
        raise TooManyRequests(
            "signin_locked",
            "Too many failed sign-ins for this e-mail. Try again in 15 minutes.",
        )
    user = session.scalar(select(User).where(User.email_key == email_key))
    if user is None or not verify_password(user.password_hash, password):
        session.add(LoginFailure(email_key=email_key, at=now))
        session.execute(delete(LoginFailure).where(LoginFailure.at < now - timedelta(days=1)))
        raise SignInRefused("invalid_credentials", "Wrong e-mail or password.")
    session.execute(delete(LoginFailure).where(LoginFailure.email_key == email_key))
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
