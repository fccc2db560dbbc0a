"""Every rule and every write about partners, accounts, users and sign-in.

Tenancy lives here, not in the routes: each lookup is scoped to what the actor may see,
and an object outside that scope is reported as not found.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, func, or_, select
from sqlalchemy.orm import Session, joinedload

from switchboard.accounts.models import Account, LoginFailure, Partner, User
from switchboard.accounts.schemas import (
    AccountCreate,
    AccountUpdate,
    PartnerCreate,
    PasswordChange,
    UserCreate,
    UserUpdate,
)
from switchboard.audit import service as audit
from switchboard.core.context import Actor, ServiceContext
from switchboard.core.db import utcnow
from switchboard.core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    TooManyRequests,
    Unauthorized,
    ValidationFailed,
)
from switchboard.core.security import hash_password, verify_password
from switchboard.sync.models import SYNC_STATES, SyncStatus
from switchboard.core.validation import validate

LOCK_AFTER_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=5)
LOCK_DURATION = timedelta(minutes=15)


# ---------------------------------------------------------------- snapshots (change log)

def account_snapshot(account: Account) -> dict[str, Any]:
    fields = ("name", "country", "province", "city", "address", "postal_code", "default_language")
    return {name: getattr(account, name) for name in fields}


def user_snapshot(user: User) -> dict[str, Any]:
    return {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "role": user.role,
        "password": audit.MASK if user.password_hash else None,
    }


def check_version(obj: Any, expected_version: int | None) -> None:
    if expected_version is not None and obj.version != expected_version:
        raise PreconditionFailed(
            "version_mismatch",
            "This object was changed by someone else since you loaded it. Reload it and try again.",
        )


# ---------------------------------------------------------------- sign-in

def actor_for(user: User) -> Actor:
    return Actor(
        role=user.role,  # type: ignore[arg-type]
        user_id=user.id,
        email=user.email,
        partner_id=user.partner_id if user.role == "partner_admin" else _partner_of(user),
        account_id=user.account_id,
    )


def _partner_of(user: User) -> str | None:
    return user.account.partner_id if user.account is not None else None


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


def authenticate(session: Session, email: str, password: str, *, now: datetime | None = None) -> User:
    """The same answer for an unknown e-mail and a wrong password; locks an e-mail (known
    or not, so a lock reveals nothing) after repeated failures."""
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
        session.commit()
        raise Unauthorized("invalid_credentials", "Wrong e-mail or password.")
    session.execute(delete(LoginFailure).where(LoginFailure.email_key == email_key))
    session.commit()
    return user


def load_signed_in_user(session: Session, user_id: str, token_version: int | None = None) -> User | None:
    # The account comes along: pages (and error pages rendered after the session is
    # closed) show it in the navigation and pick its language.
    user = session.get(User, user_id, options=[joinedload(User.account)])
    if user is None or user.password_hash is None:
        return None
    if token_version is not None and user.token_version != token_version:
        return None
    return user


def change_own_password(ctx: ServiceContext, data: PasswordChange | dict) -> None:
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
    ctx.session.commit()


# ---------------------------------------------------------------- partners

def create_partner(ctx: ServiceContext, data: PartnerCreate | dict) -> tuple[Partner, User]:
    if ctx.actor.role != "system":
        raise Forbidden("forbidden", "Only an operator can create partners.")
    data = validate(PartnerCreate, data)
    if ctx.session.scalar(select(Partner.id).where(func.lower(Partner.name) == data.name.lower())):
        raise Conflict("name_taken", "A partner with this name already exists.", field="name")
    _ensure_email_free(ctx.session, str(data.admin_email))
    partner = Partner(name=data.name)
    ctx.session.add(partner)
    ctx.session.flush()
    admin = User(
        partner_id=partner.id,
        first_name=data.admin_first_name,
        last_name=data.admin_last_name,
        email=str(data.admin_email),
        email_key=str(data.admin_email).lower(),
        role="partner_admin",
        password_hash=hash_password(data.admin_password),
    )
    ctx.session.add(admin)
    ctx.session.flush()
    audit.record(ctx, action="create", object_type="partner", object_id=partner.id,
                 object_repr=partner.name, partner_id=partner.id, after={"name": partner.name})
    audit.record(ctx, action="create", object_type="user", object_id=admin.id,
                 object_repr=admin.email, partner_id=partner.id, after=user_snapshot(admin))
    ctx.session.commit()
    return partner, admin


def find_partner(session: Session, name: str) -> Partner | None:
    return session.scalar(select(Partner).where(func.lower(Partner.name) == name.lower()))


# ---------------------------------------------------------------- accounts

def _visible_accounts(actor: Actor) -> Select:
    query = select(Account)
    if actor.role == "system":
        return query
    if actor.role == "partner_admin":
        return query.where(Account.partner_id == actor.partner_id)
    return query.where(Account.id == actor.account_id)


def get_account(ctx: ServiceContext, account_id: str, *, for_update: bool = False) -> Account:
    query = _visible_accounts(ctx.actor).where(Account.id == account_id)
    if for_update:
        query = query.with_for_update()
    account = ctx.session.scalar(query)
    if account is None:
        raise NotFound("not_found", "Account not found.")
    return account


def require_account_admin(ctx: ServiceContext, account_id: str, *, for_update: bool = False) -> Account:
    """The account, if the actor administers it (partner admin or account admin)."""
    account = get_account(ctx, account_id, for_update=for_update)
    if not ctx.actor.is_admin:
        raise Forbidden("forbidden", "Only an administrator can do this.")
    return account


def require_account_settings_admin(ctx: ServiceContext, account_id: str, *, for_update: bool = False) -> Account:
    """The account, if the actor may change its system settings (partner admins only;
    account admins read them)."""
    account = get_account(ctx, account_id, for_update=for_update)
    _require_partner_admin(ctx)
    return account


def _require_partner_admin(ctx: ServiceContext) -> None:
    if ctx.actor.role not in ("system", "partner_admin"):
        raise Forbidden("forbidden", "Only a partner administrator can do this.")


def list_accounts(ctx: ServiceContext, *, search: str | None = None, limit: int = 50,
                  offset: int = 0) -> tuple[int, list[Account]]:
    query = _visible_accounts(ctx.actor)
    if search:
        term = search.strip().lower()
        query = query.where(or_(Account.name_key.contains(term, autoescape=True),
                                func.lower(func.coalesce(Account.city, "")).contains(term, autoescape=True)))
    total = ctx.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = ctx.session.scalars(query.order_by(Account.name_key, Account.id).limit(limit).offset(offset)).all()
    return total, list(rows)


def _ensure_account_name_free(session: Session, partner_id: str, name: str, exclude_id: str | None = None) -> None:
    query = select(Account.id).where(Account.partner_id == partner_id, Account.name_key == name.lower())
    if exclude_id:
        query = query.where(Account.id != exclude_id)
    if session.scalar(query):
        raise Conflict("name_taken", "An account with this name already exists.", field="name")


def create_account(ctx: ServiceContext, data: AccountCreate | dict, *, partner_id: str | None = None) -> Account:
    _require_partner_admin(ctx)
    data = validate(AccountCreate, data)
    partner_id = ctx.actor.partner_id if ctx.actor.role == "partner_admin" else partner_id
    if partner_id is None or ctx.session.get(Partner, partner_id) is None:
        raise NotFound("not_found", "Partner not found.")
    _ensure_account_name_free(ctx.session, partner_id, data.name)
    account = Account(partner_id=partner_id, name_key=data.name.lower(), **data.model_dump())
    ctx.session.add(account)
    ctx.session.flush()
    audit.record(ctx, action="create", object_type="account", object_id=account.id, object_repr=account.name,
                 account_id=account.id, partner_id=partner_id, after=account_snapshot(account))
    ctx.session.commit()
    return account


def update_account(ctx: ServiceContext, account_id: str, data: AccountUpdate | dict,
                   *, expected_version: int | None = None) -> Account:
    account = get_account(ctx, account_id, for_update=True)
    _require_partner_admin(ctx)
    check_version(account, expected_version)
    data = validate(AccountUpdate, data)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("name") is None:
        changes.pop("name", None)
    if changes.get("default_language") is None:
        changes.pop("default_language", None)
    if "name" in changes:
        _ensure_account_name_free(ctx.session, account.partner_id, changes["name"], exclude_id=account.id)
        account.name_key = changes["name"].lower()
    before = account_snapshot(account)
    for key, value in changes.items():
        setattr(account, key, value)
    after = account_snapshot(account)
    if before != after:
        ctx.session.flush()
        audit.record(ctx, action="update", object_type="account", object_id=account.id, object_repr=account.name,
                     account_id=account.id, partner_id=account.partner_id, before=before, after=after)
    ctx.session.commit()
    return account


def delete_account(ctx: ServiceContext, account_id: str, *, expected_version: int | None = None) -> None:
    account = get_account(ctx, account_id, for_update=True)
    _require_partner_admin(ctx)
    check_version(account, expected_version)
    audit.record(ctx, action="delete", object_type="account", object_id=account.id, object_repr=account.name,
                 account_id=account.id, partner_id=account.partner_id, before=account_snapshot(account))
    ctx.session.execute(delete(User).where(User.account_id == account.id))
    ctx.session.delete(account)
    ctx.session.commit()


# ---------------------------------------------------------------- users

def _ensure_email_free(session: Session, email: str, exclude_id: str | None = None) -> None:
    query = select(User.id).where(User.email_key == email.lower())
    if exclude_id:
        query = query.where(User.id != exclude_id)
    if session.scalar(query):
        raise Conflict("email_taken", "A user with this e-mail already exists.", field="email")


def list_users(ctx: ServiceContext, account_id: str, *, search: str | None = None, limit: int = 50,
               offset: int = 0, sync_state: str | None = None) -> tuple[int, list[User]]:
    """The account's users, by name. sync_state keeps those whose MiVB service is in that
    sync state (users without the service have none, so they never match)."""
    require_account_admin(ctx, account_id)
    if sync_state is not None and sync_state not in SYNC_STATES:
        raise ValidationFailed("invalid_choice", "Must be one of: %(expected)s.", field="sync_state",
                               expected=", ".join(SYNC_STATES))
    query = select(User).where(User.account_id == account_id)
    if sync_state is not None:
        query = query.join(SyncStatus, SyncStatus.user_id == User.id).where(SyncStatus.state == sync_state)
    if search:
        term = search.strip().lower()
        full_name = func.lower(User.first_name + " " + User.last_name)
        query = query.where(or_(full_name.contains(term, autoescape=True),
                                User.email_key.contains(term, autoescape=True)))
    total = ctx.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = ctx.session.scalars(
        query.order_by(func.lower(User.last_name), func.lower(User.first_name), User.id).limit(limit).offset(offset)
    ).all()
    return total, list(rows)


def get_user(ctx: ServiceContext, account_id: str, user_id: str, *, for_update: bool = False) -> User:
    """Admins reach every user of their accounts; a user reaches only themself."""
    get_account(ctx, account_id)
    if not ctx.actor.is_admin and ctx.actor.user_id != user_id:
        raise NotFound("not_found", "User not found.")
    query = select(User).where(User.id == user_id, User.account_id == account_id)
    if for_update:
        query = query.with_for_update()
    user = ctx.session.scalar(query)
    if user is None:
        raise NotFound("not_found", "User not found.")
    return user


def create_user(ctx: ServiceContext, account_id: str, data: UserCreate | dict) -> User:
    account = require_account_admin(ctx, account_id)
    data = validate(UserCreate, data)
    _ensure_email_free(ctx.session, str(data.email))
    user = User(
        account_id=account.id,
        first_name=data.first_name,
        last_name=data.last_name,
        email=str(data.email),
        email_key=str(data.email).lower(),
        role=data.role,
        password_hash=hash_password(data.password) if data.password else None,
    )
    ctx.session.add(user)
    ctx.session.flush()
    audit.record(ctx, action="create", object_type="user", object_id=user.id, object_repr=user.email,
                 account_id=account.id, partner_id=account.partner_id, after=user_snapshot(user))
    ctx.session.commit()
    return user


# User fields that are part of the state pushed to the PBX.
_PUSHED = ("first_name", "last_name", "email")


def _mivb():
    # Imported when used: the MiVB service builds on this module.
    from switchboard.mivb import service

    return service


def _guard_self(ctx: ServiceContext, user: User, what: str) -> None:
    if ctx.actor.user_id == user.id:
        raise Conflict("cannot_change_self", what, field="role")


def update_user(ctx: ServiceContext, account_id: str, user_id: str, data: UserUpdate | dict,
                *, expected_version: int | None = None) -> User:
    account = require_account_admin(ctx, account_id)
    user = get_user(ctx, account_id, user_id, for_update=True)
    check_version(user, expected_version)
    data = validate(UserUpdate, data)
    changes = data.model_dump(exclude_unset=True)
    for required in ("first_name", "last_name", "email", "role"):
        if required in changes and changes[required] is None:
            changes.pop(required)
    before = user_snapshot(user)
    if "role" in changes and changes["role"] != user.role:
        _guard_self(ctx, user, "You cannot change your own role.")
        user.role = changes["role"]
    if "email" in changes:
        email = str(changes["email"])
        _ensure_email_free(ctx.session, email, exclude_id=user.id)
        user.email, user.email_key = email, email.lower()
    for name in ("first_name", "last_name"):
        if name in changes:
            setattr(user, name, changes[name])
    if "password" in changes:
        user.password_hash = hash_password(changes["password"]) if changes["password"] else None
        user.token_version += 1
    after = user_snapshot(user)
    password_changed = "password" in changes
    if before != after or password_changed:
        if {k: v for k, v in before.items() if k in _PUSHED} != {k: v for k, v in after.items() if k in _PUSHED}:
            _mivb().on_user_changed(ctx, user)
        ctx.session.flush()
        if password_changed:
            after = {**after, "password": audit.MASK + " (changed)" if user.password_hash else None}
        audit.record(ctx, action="update", object_type="user", object_id=user.id, object_repr=user.email,
                     account_id=account.id, partner_id=account.partner_id, before=before, after=after)
    ctx.session.commit()
    return user


def delete_user(ctx: ServiceContext, account_id: str, user_id: str, *, expected_version: int | None = None) -> None:
    account = require_account_admin(ctx, account_id)
    user = get_user(ctx, account_id, user_id, for_update=True)
    check_version(user, expected_version)
    _guard_self(ctx, user, "You cannot delete yourself.")
    _mivb().on_user_deleted(ctx, user)
    audit.record(ctx, action="delete", object_type="user", object_id=user.id, object_repr=user.email,
                 account_id=account.id, partner_id=account.partner_id, before=user_snapshot(user))
    ctx.session.delete(user)
    ctx.session.commit()


def toggle_admin(ctx: ServiceContext, account_id: str, user_id: str, *, expected_version: int | None = None) -> User:
    user = get_user(ctx, account_id, user_id)
    new_role = "user" if user.role == "account_admin" else "account_admin"
    return update_user(ctx, account_id, user_id, {"role": new_role}, expected_version=expected_version)
