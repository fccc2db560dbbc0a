"""Console sessions, revocable server-side, and who is signed in.

The browser's cookie carries nothing but a random token; the database keeps the session
under the token's SHA-256 (`user_sessions`), so a stolen copy of the table cannot be
replayed and a copied cookie stops working the moment its row goes:

- signing out deletes the row;
- a new password (one's own change, or set or removed by an admin), a role change and
  the user's deletion (foreign key cascade) delete every session of the user;
- a session lives `ttl_seconds` from sign-in (SWITCHBOARD_TOKEN_TTL_SECONDS), however
  busy it is; expired rows are deleted when someone signs in.

Every page asks `resume`, which also checks that the user may still sign in (a password,
an account that is not deleted). API tokens are revoked by the user's token_version,
bumped by the same changes (see accounts.auth.set_password)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, joinedload

from switchboard.accounts.models import User, UserSession
from switchboard.core.db import utcnow

# last_seen_at is written at most this often (not on every page).
LAST_SEEN_EVERY = timedelta(minutes=1)
_TOKEN_BYTES = 32
_MAX_TOKEN_LENGTH = 100


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def load_signed_in_user(session: Session, user_id: str, token_version: int | None = None) -> User | None:
    """The user, if they may still be signed in: they have a password, their account is not
    deleted, and (when given) their token version is still the one the token was issued at."""
    # The account comes along: pages show it in the navigation and pick its language.
    user = session.get(User, user_id, options=[joinedload(User.account)])
    if user is None or user.password_hash is None:
        return None
    if token_version is not None and user.token_version != token_version:
        return None
    if user.account is not None and user.account.deleted_at is not None:
        return None
    return user


def start(session: Session, user: User, *, ttl_seconds: int, now: datetime | None = None) -> str:
    """A new session of `user`; returns the token for the cookie (shown nowhere else)."""
    now = now or utcnow()
    purge_expired(session, now)
    token = secrets.token_urlsafe(_TOKEN_BYTES)
    session.add(UserSession(id=_key(token), user_id=user.id, created_at=now, last_seen_at=now,
                            expires_at=now + timedelta(seconds=ttl_seconds),
                            data={"token_version": user.token_version}))
    session.flush()
    return token


def resume(session: Session, token: object, *, now: datetime | None = None) -> User | None:
    """The signed-in user of a session token, or None: no such session (signed out,
    revoked, never issued), expired, or the user may no longer sign in."""
    if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN_LENGTH:
        return None
    now = now or utcnow()
    row = session.get(UserSession, _key(token))
    if row is None or row.expires_at <= now:
        return None
    user = load_signed_in_user(session, row.user_id, (row.data or {}).get("token_version"))
    if user is None:
        return None
    if now - row.last_seen_at >= LAST_SEEN_EVERY:
        row.last_seen_at = now
    return user


def keep(session: Session, token: object, key: str, value: Any) -> bool:
    """Keeps `value` in the session's server-side row until `take` (what the next page
    shows once: never the cookie, which the browser can read). False when the session is
    gone."""
    row = _row(session, token)
    if row is None:
        return False
    row.data = {**(row.data or {}), key: value}  # a new dict: the JSON column sees the change
    return True


def take(session: Session, token: object, key: str) -> Any:
    """What `keep` left under `key`, removed as it is read (None when there is nothing)."""
    row = _row(session, token)
    if row is None or key not in (row.data or {}):
        return None
    data = dict(row.data)
    value = data.pop(key)
    row.data = data
    return value


def _row(session: Session, token: object) -> UserSession | None:
    if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN_LENGTH:
        return None
    return session.get(UserSession, _key(token))


def end(session: Session, token: object) -> None:
    """Sign-out: the session is gone, wherever its cookie was copied to."""
    if isinstance(token, str) and token and len(token) <= _MAX_TOKEN_LENGTH:
        session.execute(delete(UserSession).where(UserSession.id == _key(token)))


def end_all(session: Session, user_id: str) -> int:
    """Every session of the user ends (new password, new role). Returns how many."""
    result = session.execute(delete(UserSession).where(UserSession.user_id == user_id))
    return result.rowcount or 0


def purge_expired(session: Session, now: datetime | None = None) -> int:
    result = session.execute(delete(UserSession).where(UserSession.expires_at <= (now or utcnow())))
    return result.rowcount or 0


def count(session: Session, user_id: str) -> int:
    """How many sessions (live or expired) the user has."""
    return session.scalar(select(func.count()).select_from(UserSession).where(UserSession.user_id == user_id)) or 0
