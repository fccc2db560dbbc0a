"""Helpers for the numbering tests: ranges through the service, phones straight into the
database (the phone service is not what is tested here)."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy.orm import Session

from switchboard.accounts.models import Account
from switchboard.mivb.models import MivbService, Phone
from switchboard.numbering import service as numbering
from switchboard.numbering.models import DidRange, DnRange, PbxReservedDn
from tests.factories import make_user, system_ctx

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
