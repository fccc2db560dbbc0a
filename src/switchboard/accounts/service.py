"""Every rule and every write about partners, accounts and users.

Lookups go through accounts.tenancy, so another tenant's object is "not found". Writes
add, flush and raise; the caller's unit of work commits. What hangs on a user or an
account in the layers above (its MiVB service, its push to the PBX) is undone through
the hooks of accounts.events, in the same unit of work."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select, update

from switchboard.accounts import auth, events
from switchboard.accounts.models import Account, Partner, User
from switchboard.accounts.schemas import AccountCreate, AccountUpdate, MeUpdate, PartnerCreate, UserCreate, UserUpdate
from switchboard.accounts.tenancy import (
    check_version,
    get_account,
    get_user,
    require_account_admin,
    require_admin,
    require_partner_admin,
    visible_accounts,
)
from switchboard.audit import service as audit
from switchboard.core.collation import by_name
from switchboard.core.context import ServiceContext
from switchboard.core.db import utcnow
from switchboard.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from switchboard.core.uow import flush, mark_new_in_transaction
from switchboard.core.validation import normalize_email, validate
from switchboard.sync.models import SYNC_STATES, SyncStatus

# User fields that are part of the state pushed to the PBX.
PUSHED_FIELDS = ("first_name", "last_name", "email")


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


def _record_account(ctx: ServiceContext, account: Account, action: str, **changes: Any) -> None:
    audit.record(ctx, action=action, object_type="account", object_id=account.id, object_repr=account.name,
                 account_id=account.id, partner_id=account.partner_id, **changes)


def _record_user(ctx: ServiceContext, user: User, action: str, partner_id: str | None, **changes: Any) -> None:
    audit.record(ctx, action=action, object_type="user", object_id=user.id, object_repr=user.email,
                 account_id=user.account_id, partner_id=partner_id, **changes)


# ---------------------------------------------------------------- partners

def create_partner(ctx: ServiceContext, data: PartnerCreate | dict) -> tuple[Partner, User]:
    if ctx.actor.role != "system":
        raise Forbidden("forbidden", "Only an operator can create partners.")
    data = validate(PartnerCreate, data)
    if ctx.session.scalar(select(Partner.id).where(func.lower(Partner.name) == data.name.lower())):
        raise Conflict("name_taken", "A partner with this name already exists.", field="name")
    _ensure_email_free(ctx, str(data.admin_email))
    partner = Partner(name=data.name)
    admin = User(first_name=data.admin_first_name, last_name=data.admin_last_name,
                 email=str(data.admin_email), email_key=normalize_email(str(data.admin_email)), role="partner_admin")
    auth.set_password(ctx.session, admin, data.admin_password, field="admin_password")
    ctx.session.add(partner)
    ctx.session.flush()
    admin.partner_id = partner.id
    ctx.session.add(admin)
    ctx.session.flush()
    ctx.cache.pop(("email_free", admin.email_key), None)
    audit.record(ctx, action="create", object_type="partner", object_id=partner.id,
                 object_repr=partner.name, partner_id=partner.id, after={"name": partner.name})
    _record_user(ctx, admin, "create", partner.id, after=user_snapshot(admin))
    return partner, admin


def find_partner(ctx: ServiceContext, name: str) -> Partner | None:
    return ctx.session.scalar(select(Partner).where(func.lower(Partner.name) == name.lower()))


# ---------------------------------------------------------------- accounts

def list_accounts(ctx: ServiceContext, *, search: str | None = None, limit: int = 50,
                  offset: int = 0) -> tuple[int, list[Account]]:
    query = visible_accounts(ctx.actor)
    if search:
        term = search.strip().lower()
        query = query.where(or_(Account.name_key.contains(term, autoescape=True),
                                func.lower(func.coalesce(Account.city, "")).contains(term, autoescape=True)))
    total = ctx.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = ctx.session.scalars(query.order_by(Account.name_key, Account.id).limit(limit).offset(offset)).all()
    return total, list(rows)


def _ensure_account_name_free(ctx: ServiceContext, partner_id: str, name: str, exclude_id: str | None = None) -> None:
    query = select(Account.id).where(Account.partner_id == partner_id, Account.name_key == name.lower())
    if exclude_id:
        query = query.where(Account.id != exclude_id)
    if ctx.session.scalar(query):
        raise Conflict("name_taken", "An account with this name already exists.", field="name")


def create_account(ctx: ServiceContext, data: AccountCreate | dict, *, partner_id: str | None = None) -> Account:
    require_partner_admin(ctx)
    data = validate(AccountCreate, data)
    partner_id = ctx.actor.partner_id if ctx.actor.role == "partner_admin" else partner_id
    if partner_id is None or ctx.session.get(Partner, partner_id) is None:
        raise NotFound("not_found", "Partner not found.")
    _ensure_account_name_free(ctx, partner_id, data.name)
    account = Account(partner_id=partner_id, name_key=data.name.lower(), **data.model_dump())
    ctx.session.add(account)
    ctx.session.flush()
    _record_account(ctx, account, "create", after=account_snapshot(account))
    return account


def update_account(ctx: ServiceContext, account_id: str, data: AccountUpdate | dict,
                   *, expected_version: int | None = None) -> Account:
    account = get_account(ctx, account_id, for_update=True)
    require_partner_admin(ctx)
    check_version(account, expected_version)
    data = validate(AccountUpdate, data)
    changes = {key: value for key, value in data.model_dump(exclude_unset=True).items()
               if value is not None or key not in ("name", "default_language")}
    if "name" in changes:
        _ensure_account_name_free(ctx, account.partner_id, changes["name"], exclude_id=account.id)
        account.name_key = changes["name"].lower()
    before = account_snapshot(account)
    for key, value in changes.items():
        setattr(account, key, value)
    after = account_snapshot(account)
    if before != after:
        ctx.session.flush()
        _record_account(ctx, account, "update", before=before, after=after)
    return account


def delete_account(ctx: ServiceContext, account_id: str, *, expected_version: int | None = None) -> int:
    """Deletes the account's users one by one through the same path as a single user's
    deletion (numbers freed, PBX configuration removed, change log), then marks the
    account deleted: it is gone for everybody at once, and the row stays only until the
    removals of its users have reached the PBX. Returns how many users were deleted."""
    account = get_account(ctx, account_id, for_update=True)
    require_partner_admin(ctx)
    check_version(account, expected_version)
    users = ctx.session.scalars(select(User).where(User.account_id == account.id).order_by(User.id)).all()
    for user in users:
        _delete_user(ctx, account, user)
    _record_account(ctx, account, "delete", before={**account_snapshot(account), "users": len(users)})
    account.deleted_at = utcnow()
    ctx.forget("account")
    # The name is free again at once (the row may stay a while).
    account.name_key = f"~deleted~{account.id}"
    ctx.session.flush()
    events.account_deleted(ctx, account)
    return len(users)


# ---------------------------------------------------------------- users

def _ensure_email_free(ctx: ServiceContext, email: str, exclude_id: str | None = None) -> None:
    if ctx.cache.get(("email_free", normalize_email(email))):
        return  # this unit of work read that nobody has it (users_by_email), nor gave it since
    query = select(User.id).where(User.email_key == normalize_email(email))
    if exclude_id:
        query = query.where(User.id != exclude_id)
    if ctx.session.scalar(query):
        raise Conflict("email_taken", "A user with this e-mail already exists.", field="email")


def users_by_email(ctx: ServiceContext, keys: list[str]) -> dict[str, User]:
    """The users whose lookup key (email_key) is one of `keys`, read together (a bulk
    import's chunk of rows). The keys nobody has are remembered by this unit of work:
    creating a user with one of them does not ask again."""
    require_admin(ctx)
    wanted = sorted({key for key in keys if key})
    found: dict[str, User] = {}
    for start in range(0, len(wanted), 500):
        found.update((u.email_key, u) for u in ctx.session.scalars(
            select(User).where(User.email_key.in_(wanted[start:start + 500]))))
    for key in wanted:
        if key not in found:
            ctx.cache[("email_free", key)] = True
    return found


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
        query.order_by(by_name(User.last_name), by_name(User.first_name), User.id).limit(limit).offset(offset)
    ).all()
    return total, list(rows)


def create_user(ctx: ServiceContext, account_id: str, data: UserCreate | dict) -> User:
    account = require_account_admin(ctx, account_id)
    data = validate(UserCreate, data)
    _ensure_email_free(ctx, str(data.email))
    user = User(account_id=account.id, first_name=data.first_name, last_name=data.last_name,
                email=str(data.email), email_key=normalize_email(str(data.email)), role=data.role)
    if data.password:
        auth.set_password(ctx.session, user, data.password)
    ctx.session.add(user)
    flush(ctx.session)
    mark_new_in_transaction(ctx.session, "user", user.id)
    ctx.cache.pop(("email_free", user.email_key), None)
    ctx.cache[("user", user.id, True)] = user  # new in this unit of work: as good as locked
    _record_user(ctx, user, "create", account.partner_id, after=user_snapshot(user))
    return user


def _guard_self(ctx: ServiceContext, user: User, what: str) -> None:
    if ctx.actor.is_self(user.id):
        raise Conflict("cannot_change_self", what, field="role")


def update_user(ctx: ServiceContext, account_id: str, user_id: str, data: UserUpdate | dict,
                *, expected_version: int | None = None) -> User:
    account = require_account_admin(ctx, account_id)
    user = get_user(ctx, account_id, user_id, for_update=True)
    check_version(user, expected_version)
    data = validate(UserUpdate, data)
    changes = {key: value for key, value in data.model_dump(exclude_unset=True).items()
               if value is not None or key not in ("first_name", "last_name", "email", "role")}
    before = user_snapshot(user)
    if "role" in changes and changes["role"] != user.role:
        _guard_self(ctx, user, "You cannot change your own role.")
        user.role = changes["role"]
        # What the user may do changed: their sessions and API tokens end.
        auth.revoke_sign_ins(ctx.session, user)
    if "email" in changes:
        email = str(changes["email"])
        _ensure_email_free(ctx, email, exclude_id=user.id)
        user.email, user.email_key = email, normalize_email(email)
        ctx.cache.pop(("email_free", user.email_key), None)
    for name in ("first_name", "last_name"):
        if name in changes:
            setattr(user, name, changes[name])
    password_changed = "password" in changes
    if password_changed:
        # A new password (or none): checked against the e-mail and the last passwords;
        # the user's sessions and API tokens end.
        auth.set_password(ctx.session, user, changes["password"])
    after = user_snapshot(user)
    if before == after and not password_changed:
        return user
    if any(before[name] != after[name] for name in PUSHED_FIELDS):
        events.user_changed(ctx, user)
    ctx.session.flush()
    if password_changed:
        after = {**after, "password": audit.MASK + " (changed)" if user.password_hash else None}
    _record_user(ctx, user, "update", account.partner_id, before=before, after=after)
    return user


def delete_user(ctx: ServiceContext, account_id: str, user_id: str, *, expected_version: int | None = None) -> None:
    account = require_account_admin(ctx, account_id)
    user = get_user(ctx, account_id, user_id, for_update=True)
    check_version(user, expected_version)
    _guard_self(ctx, user, "You cannot delete yourself.")
    _delete_user(ctx, account, user)


def _delete_user(ctx: ServiceContext, account: Account, user: User) -> None:
    # Its console sessions go with it (user_sessions.user_id: ON DELETE CASCADE).
    events.user_deleting(ctx, user)
    _record_user(ctx, user, "delete", account.partner_id, before=user_snapshot(user))
    ctx.session.delete(user)
    ctx.session.flush()
    ctx.forget("user")


def toggle_admin(ctx: ServiceContext, account_id: str, user_id: str, *, expected_version: int | None = None) -> User:
    user = get_user(ctx, account_id, user_id)
    new_role = "user" if user.role == "account_admin" else "account_admin"
    return update_user(ctx, account_id, user_id, {"role": new_role}, expected_version=expected_version)


# ---------------------------------------------------------------- the signed-in person

def update_me(ctx: ServiceContext, data: MeUpdate | dict) -> User:
    """The signed-in person's own preferences: today their console language (None forgets
    the choice). A preference, not an administered field: it neither bumps the user's
    version (an admin's edit form loaded before stays valid) nor enters the change log."""
    data = validate(MeUpdate, data)
    user = ctx.session.get(User, ctx.actor.user_id) if ctx.actor.user_id else None
    if user is None:
        raise Forbidden("forbidden", "Only a signed-in person can change their preferences.")
    if "language" in data.model_fields_set and data.language != user.language:
        ctx.session.execute(update(User).where(User.id == user.id).values(language=data.language)
                            .execution_options(synchronize_session=False))
        ctx.session.expire(user, ["language"])
    return user
