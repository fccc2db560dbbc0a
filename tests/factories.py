"""Factories that build data through the service layer, as a real caller would."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from sqlalchemy.orm import Session

from switchboard.accounts import service as accounts
from switchboard.accounts.tenancy import actor_for
from switchboard.accounts.models import Account, Partner, User
from switchboard.core.context import Actor, ServiceContext

PASSWORD = "correct-horse-battery"
_counter = itertools.count(1)


def system_ctx(session: Session) -> ServiceContext:
    return ServiceContext(session=session, actor=Actor.system("tests"))


def ctx_for(session: Session, user: User) -> ServiceContext:
    return ServiceContext(session=session, actor=actor_for(user))


def committed(session: Session, result):
    """Factories are an edge: each ends its unit of work (services only flush)."""
    session.commit()
    return result


def make_partner(session: Session, name: str | None = None) -> tuple[Partner, User]:
    n = next(_counter)
    name = name or f"Partner {n}"
    slug = name.lower().replace(" ", "-")
    return committed(session, accounts.create_partner(system_ctx(session), {
        "name": name, "admin_email": f"admin-{n}@{slug}.example", "admin_password": PASSWORD}))


def make_account(session: Session, partner: Partner, name: str | None = None, **fields) -> Account:
    return committed(session, accounts.create_account(
        system_ctx(session), {"name": name or f"Account {next(_counter)}", **fields}, partner_id=partner.id))


def make_user(session: Session, account: Account, *, role: str = "user", password: str | None = PASSWORD,
              first_name: str | None = None, last_name: str = "Tester", email: str | None = None) -> User:
    n = next(_counter)
    return committed(session, accounts.create_user(system_ctx(session), account.id, {
        "first_name": first_name or f"Person{n}", "last_name": last_name,
        "email": email or f"person{n}@{account.id[:8]}.example", "role": role, "password": password}))


@dataclass
class Tenant:
    """One partner with one account, its admins and a plain user."""

    partner: Partner
    partner_admin: User
    account: Account
    account_admin: User
    user: User


def make_tenant(session: Session, label: str) -> Tenant:
    partner, partner_admin = make_partner(session, f"{label} Partner")
    account = make_account(session, partner, f"{label} Customer", city=f"{label}ville")
    account_admin = make_user(session, account, role="account_admin", first_name=f"{label}Admin")
    user = make_user(session, account, first_name=f"{label}User")
    return Tenant(partner, partner_admin, account, account_admin, user)
