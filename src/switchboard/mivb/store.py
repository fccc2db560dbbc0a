"""Loading a user's MiVB service for reading or writing, and what every write path of it
shares: freeing its numbers, queueing its push, recording a change."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from switchboard.accounts.models import Account, User
from switchboard.accounts.tenancy import get_account, get_user, require_account_admin
from switchboard.core.context import ServiceContext
from switchboard.core.errors import Conflict, Forbidden, NotFound
from switchboard.mivb import events
from switchboard.mivb.models import MivbService, Phone, ServiceCategory
from switchboard.mivb.settings import record
from switchboard.numbering.allocation import release_did, release_dn


def service_query(user_id: str) -> Select:
    return (select(MivbService).where(MivbService.user_id == user_id)
            .options(selectinload(MivbService.phones), selectinload(MivbService.category)))


def load(ctx: ServiceContext, account_id: str, user_id: str, *, write: bool) -> tuple[Account, User, MivbService]:
    """(account, user, service), through tenancy; written services are locked (once per
    unit of work: a service this unit has locked stays locked and current)."""
    account = require_account_admin(ctx, account_id) if write else get_account(ctx, account_id)
    user = get_user(ctx, account_id, user_id)
    service = ctx.cache.get(("service", user_id))
    if service is None:
        query = service_query(user_id)
        service = ctx.session.scalar(query.with_for_update(of=MivbService) if write else query)
        if service is not None and write:
            ctx.cache[("service", user_id)] = service
    if service is None:
        raise NotFound("no_product", "This user does not have the MiVoice Business product.")
    return account, user, service


def forget(ctx: ServiceContext, user_id: str) -> None:
    """The service went (or came) in this unit of work."""
    ctx.cache.pop(("service", user_id), None)


def load_phone(service: MivbService, phone_id: str) -> Phone:
    for phone in service.phones:
        if phone.id == phone_id:
            return phone
    raise NotFound("not_found", "Phone not found.")


def require_configured(service: MivbService) -> ServiceCategory:
    if service.service_category_id is None or service.category is None:
        raise Conflict("not_configured", "Choose a service category first.")
    return service.category


def push(ctx: ServiceContext, service: MivbService) -> None:
    """Queue a push of the service's desired state, in this unit of work."""
    events.push_requested(ctx.session, service)


def release_numbers(session: Session, phone: Phone) -> None:
    if phone.dn_range_id:
        release_dn(session, phone.dn_range_id, phone.dn)
    if phone.did_range_id and phone.did:
        release_did(session, phone.did_range_id, phone.did)


def reveal(ctx: ServiceContext, account: Account, user: User, what: str) -> None:
    """Secrets are shown to admins only, and each reveal is written to the change log."""
    if not ctx.actor.is_admin:
        raise Forbidden("forbidden", "Only an administrator can reveal secrets.")
    record(ctx, account, "reveal", "mivb_service", user.id, f"{user.email}: {what}", subject=user.id)
