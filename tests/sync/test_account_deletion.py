"""Deleting an account goes through the same path as deleting each of its users: every
configured user gets its removal from the PBX, the change log records it, and the account
row stays (invisible) only until the worker has carried those removals out."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from switchboard.accounts import service as accounts
from switchboard.accounts.models import Account, User
from switchboard.audit.models import AuditEntry
from switchboard.core.errors import NotFound
from switchboard.core.uow import unit_of_work
from switchboard.mivb.models import Phone
from switchboard.sync.models import SyncJob
from tests.sync.conftest import sim_users


def test_deleting_an_account_removes_its_users_from_the_pbx(world, sim_api):
    configured = [world.configured_user("Telephony"), world.configured_user("Premium")]
    world.drain()
    assert set(configured) <= set(sim_users(sim_api))
    with unit_of_work(world.factory) as session:
        deleted = accounts.delete_account(world.ctx(session), world.account_id)
    assert deleted >= 2

    with unit_of_work(world.factory) as session:
        with pytest.raises(NotFound):  # gone for everybody at once
            accounts.list_users(world.ctx(session), world.account_id)
        account = session.get(Account, world.account_id)
        assert account is not None and account.deleted_at is not None  # its removals are still to do
        assert session.scalar(select(func.count()).select_from(User).where(User.account_id == world.account_id)) == 0
        assert session.scalar(select(func.count()).select_from(Phone).where(Phone.account_id == world.account_id)) == 0
        removals = session.scalars(select(SyncJob.user_id).where(
            SyncJob.account_id == world.account_id, SyncJob.kind == "remove_user")).all()
        assert sorted(removals) == sorted(configured)
        logged = session.scalars(select(AuditEntry.object_id).where(
            AuditEntry.account_id == world.account_id, AuditEntry.action == "delete")).all()
        assert world.account_id in logged and set(configured) <= set(logged)

    world.drain()
    assert not set(configured) & set(sim_users(sim_api))
    assert world.worker().purge() == 1
    with unit_of_work(world.factory) as session:
        assert session.get(Account, world.account_id) is None
        # the change log outlives the account
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.account_id == world.account_id, AuditEntry.object_type == "account",
            AuditEntry.action == "delete")) == 1


def test_an_account_with_nothing_on_the_pbx_goes_at_once(world):
    with unit_of_work(world.factory) as session:
        accounts.delete_account(world.ctx(session), world.account_id)
    with unit_of_work(world.factory) as session:
        assert session.get(Account, world.account_id) is None
