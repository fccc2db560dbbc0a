"""Tenancy: what an actor may see. Every lookup of an account or a user goes through here,
scoped to the actor, and an object outside that scope is reported as not found (never as
forbidden: another tenant's objects do not exist for you). Deleted accounts exist for
nobody."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select

from switchboard.accounts.models import Account, User
from switchboard.core.context import Actor, ServiceContext
from switchboard.core.errors import Forbidden, NotFound, PreconditionFailed


def actor_for(user: User) -> Actor:
    partner_id = user.partner_id if user.role == "partner_admin" else (
        user.account.partner_id if user.account is not None else None)
    return Actor(role=user.role, user_id=user.id, email=user.email,  # type: ignore[arg-type]
                 partner_id=partner_id, account_id=user.account_id)


def check_version(obj: Any, expected_version: int | None) -> None:
    """If-Match / a form's hidden version: refuse a change made against an old copy."""
    if expected_version is not None and obj.version != expected_version:
        raise PreconditionFailed(
            "version_mismatch",
            "This object was changed by someone else since you loaded it. Reload it and try again.",
        )


def visible_accounts(actor: Actor) -> Select:
    query = select(Account).where(Account.deleted_at.is_(None))
    if actor.role == "system":
        return query
    if actor.role == "partner_admin":
        return query.where(Account.partner_id == actor.partner_id)
    return query.where(Account.id == actor.account_id)


def get_account(ctx: ServiceContext, account_id: str, *, for_update: bool = False) -> Account:
    """The account, if the actor sees it. Looked up once per unit of work (a locked one
    serves the plain look-ups that follow)."""
    locked = ctx.cache.get(("account", account_id, True))
    if locked is not None:
        return locked
    if not for_update and ("account", account_id, False) in ctx.cache:
        return ctx.cache[("account", account_id, False)]
    query = visible_accounts(ctx.actor).where(Account.id == account_id)
    if for_update:
        query = query.with_for_update()
    account = ctx.session.scalar(query)
    if account is None:
        raise NotFound("not_found", "Account not found.")
    ctx.cache[("account", account_id, for_update)] = account
    return account


def require_admin(ctx: ServiceContext) -> None:
    if not ctx.actor.is_admin:
        raise Forbidden("forbidden", "Only an administrator can do this.")


def require_partner_admin(ctx: ServiceContext) -> None:
    if not ctx.actor.is_partner_admin:
        raise Forbidden("forbidden", "Only a partner administrator can do this.")


def require_account_admin(ctx: ServiceContext, account_id: str, *, for_update: bool = False) -> Account:
    """The account, if the actor administers it (partner admin or account admin)."""
    account = get_account(ctx, account_id, for_update=for_update)
    require_admin(ctx)
    return account


def require_account_settings_admin(ctx: ServiceContext, account_id: str, *, for_update: bool = False) -> Account:
    """The account, if the actor may change its system settings (partner admins only;
    account admins read them)."""
    account = get_account(ctx, account_id, for_update=for_update)
    if not ctx.actor.can_edit_settings:
        raise Forbidden("forbidden", "Only a partner administrator can do this.")
    return account


# Pages above the actor's role. The API answers 403 for an action on a known, own object
# that is above the role (shared/API.md); the console has no such answer: a page the
# person may not open does not exist for them (404), like another tenant's objects.

def _page_exists_only_if(allowed: bool) -> None:
    if not allowed:
        raise NotFound("not_found", "This page does not exist.")


def account_creation_page(ctx: ServiceContext) -> None:
    """The new-account page exists for those who may manage accounts (partner admins)."""
    _page_exists_only_if(ctx.actor.can_manage_accounts)


def account_to_manage(ctx: ServiceContext, account_id: str) -> Account:
    """The account, for its edit and delete pages: only those who may manage accounts
    have them (an account admin or a user of the account gets not found)."""
    account = get_account(ctx, account_id)
    _page_exists_only_if(ctx.actor.can_manage_accounts)
    return account


def account_to_administer(ctx: ServiceContext, account_id: str) -> Account:
    """The account, for the pages that add, edit, promote or delete its users: only those
    who may manage its users have them (a plain user gets not found, even for themself)."""
    account = get_account(ctx, account_id)
    _page_exists_only_if(ctx.actor.can_manage_users)
    return account


def get_user(ctx: ServiceContext, account_id: str, user_id: str, *, for_update: bool = False) -> User:
    """Admins reach every user of their accounts; a user reaches only themself."""
    get_account(ctx, account_id)
    if not ctx.actor.is_admin and not ctx.actor.is_self(user_id):
        raise NotFound("not_found", "User not found.")
    locked = ctx.cache.get(("user", user_id, True))
    if locked is not None and locked.account_id == account_id:
        return locked
    if not for_update and ("user", user_id, False) in ctx.cache:
        return ctx.cache[("user", user_id, False)]
    query = select(User).where(User.id == user_id, User.account_id == account_id)
    if for_update:
        query = query.with_for_update()
    user = ctx.session.scalar(query)
    if user is None:
        raise NotFound("not_found", "User not found.")
    ctx.cache[("user", user_id, for_update)] = user
    return user
