"""Export: every user of an account with their MiVB service and phones, in the import
format, so that importing the file again changes nothing."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from switchboard.accounts.models import User
from switchboard.accounts.tenancy import require_account_admin
from switchboard.audit.service import MASK
from switchboard.core.context import ServiceContext
from switchboard.imports.csv_format import COLUMNS, phone_column, write
from switchboard.mivb.models import MivbService
from switchboard.mivb.phone_types import ADVANCED_FIELDS, PHONE_TYPES


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def user_row(user: User, service: MivbService | None) -> dict[str, str]:
    """One user as a CSV row (the pin masked: `****` keeps it on import)."""
    row = {"email": user.email, "first_name": user.first_name, "last_name": user.last_name, "role": user.role,
           "mivb": "yes" if service is not None else "no"}
    if service is None:
        return row
    row.update({"service_category": service.category.name if service.category else "",
                "group": service.group or "", "location": service.location or "",
                "department": service.department or "", "user_pin": MASK if service.user_pin_encrypted else ""})
    for n, phone in enumerate(service.phones, start=1):
        kind = PHONE_TYPES[phone.type]
        cells = {"type": phone.type, "dn": phone.dn, "did": phone.did or "", "voicemail": _yes_no(phone.voicemail),
                 "model": phone.model or "" if kind.has_device else "", "mac": phone.mac or "" if kind.has_mac else "",
                 "acd_agent": _yes_no(phone.acd_agent) if kind.allows("acd_agent") else "",
                 "external_number": phone.external_number or "" if kind.allows("external_phone") else ""}
        cells.update({name: "" if getattr(phone, name) is None else str(getattr(phone, name))
                      for name in ADVANCED_FIELDS})
        row.update({phone_column(n, name): value for name, value in cells.items()})
    return row


def rows_of(ctx: ServiceContext, account_id: str, user_ids: list[str] | None = None) -> list[dict[str, str]]:
    """The account's users (or these of them) as rows, by e-mail, in three queries."""
    query = select(User).where(User.account_id == account_id).order_by(func.lower(User.email))
    if user_ids is not None:
        query = query.where(User.id.in_(user_ids))
    users = ctx.session.scalars(query).all()
    services = {s.user_id: s for s in ctx.session.scalars(
        select(MivbService).where(MivbService.account_id == account_id,
                                  *([MivbService.user_id.in_(user_ids)] if user_ids is not None else []))
        .options(selectinload(MivbService.phones), selectinload(MivbService.category)))}
    return [user_row(user, services.get(user.id)) for user in users]


def export_csv(ctx: ServiceContext, account_id: str) -> str:
    require_account_admin(ctx, account_id)
    return write(rows_of(ctx, account_id), COLUMNS)
