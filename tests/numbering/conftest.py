"""Helpers for the numbering tests: ranges through the service, phones straight into the
database (the phone service is not what is tested here)."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.accounts.models import Account
from switchboard.mivb.models import MivbService, Phone
from switchboard.mivb.store import release_numbers
from switchboard.numbering import service as numbering
from switchboard.numbering.models import DidRange, DnRange, PbxReservedDn
from tests.factories import make_tenant, make_user, system_ctx

_macs = itertools.count(1)


def holder(session: Session, account: Account) -> MivbService:
    """A user of the account with the MiVB product, to hang phones on."""
    user = make_user(session, account)
    service = MivbService(user_id=user.id, account_id=account.id)
    session.add(service)
    session.flush()
    return service


def add_phone(session: Session, account: Account, dn: str, *, dn_range_id: str | None = None,
              did: str | None = None, did_range_id: str | None = None,
              service: MivbService | None = None) -> Phone:
    service = service or holder(session, account)
    phone = Phone(account_id=account.id, user_id=service.user_id, type="desk_phone", dn=dn,
                  dn_range_id=dn_range_id, did=did, did_range_id=did_range_id)
    session.add(phone)
    session.flush()
    return phone


def dn_range(session: Session, account: Account, start: str, end: str, prefix: str = "") -> DnRange:
    return numbering.create_dn_range(system_ctx(session), account.id,
                                     {"start": start, "end": end, "prefix": prefix}).range


def did_range(session: Session, account: Account, start: str, end: str, first_dn: str | None = None) -> DidRange:
    return numbering.create_did_range(system_ctx(session), account.id,
                                      {"start": start, "end": end, "first_dn": first_dn}).range


def reserve(session: Session, account: Account, *dns: str) -> None:
    session.add_all(PbxReservedDn(account_id=account.id, dn=dn, length=len(dn)) for dn in dns)
    session.flush()


@pytest.fixture
def phone_holder(session, tenant_a) -> MivbService:
    return holder(session, tenant_a.account)


# ---------------------------------------------------------------- committed transactions
# For tests of several transactions at once (committed_engine, tests/conftest.py).

_worlds = itertools.count(1)


def committed_world(engine, *spans: tuple[str, str]) -> tuple[str, list[str], str]:
    """(account id, DN range ids, user id): a new account with the DN ranges and a user
    with the MiVB product, committed."""
    with Session(engine, expire_on_commit=False) as session:
        tenant = make_tenant(session, f"Committed{next(_worlds)}")
        account_id = tenant.account.id
        ranges = [numbering.create_dn_range(system_ctx(session), account_id, {"start": a, "end": b}).range.id
                  for a, b in spans]
        user = make_user(session, tenant.account)
        session.add(MivbService(user_id=user.id, account_id=account_id))
        session.commit()
        return account_id, ranges, user.id


def phone_on(session: Session, account_id: str, user_id: str, dn: str, range_id: str | None = None) -> Phone:
    phone = Phone(account_id=account_id, user_id=user_id, type="desk_phone", dn=dn, dn_range_id=range_id)
    session.add(phone)
    session.flush()
    return phone


def remove_phone(session: Session, account_id: str, dn: str) -> None:
    """The phone on `dn` is deleted and gives its numbers back (as the phone service does)."""
    phone = session.scalar(select(Phone).where(Phone.account_id == account_id, Phone.dn == dn))
    release_numbers(session, phone)
    session.delete(phone)
    session.flush()
