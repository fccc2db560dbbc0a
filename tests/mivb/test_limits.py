"""Licences and capacities hold when several units of work add users and phones at once
(limits.py): none of them waits for another's whole work, each is checked again under a
lock as it ends, and a change to a category still waits for the units that choose it.
Several transactions at once: PostgreSQL (SQLite has a single writer)."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from switchboard.core.errors import Conflict, RefusedAtCommit
from switchboard.mivb import categories, limits, rules, usage
from switchboard.mivb.models import MivbService, MivbSettings, Phone, ServiceCategory
from switchboard.mivb.subscriptions import _category_for_choice
from tests.factories import make_tenant, make_user, system_ctx
from tests.statements import counting_statements

_worlds = itertools.count(1)


@pytest.fixture
def engine(backend, committed_engine):
    if backend != "postgresql":
        pytest.skip("units of work at the same time need PostgreSQL (SQLite has a single writer)")
    return committed_engine


def world(engine, *, licences: int = 1, users: int = 3, ehdu: int = 0) -> tuple[str, str, list[str]]:
    """(account id, category id, user ids): users with the MiVB product but no category yet."""
    with Session(engine, expire_on_commit=False) as session:
        tenant = make_tenant(session, f"Limits{next(_worlds)}")
        account_id = tenant.account.id
        category = ServiceCategory(account_id=account_id, name="Telephony", name_key="telephony",
                                   template="Telephony User", licences=licences)
        session.add_all([category, MivbSettings(account_id=account_id, ehdu_licences=ehdu)])
        user_ids = []
        for _ in range(users):
            user = make_user(session, tenant.account)
            session.add(MivbService(user_id=user.id, account_id=account_id))
            user_ids.append(user.id)
        session.commit()
        return account_id, category.id, user_ids


def choose(session: Session, user_id: str, category_id: str) -> None:
    session.get(MivbService, user_id).service_category_id = category_id
    session.flush()


def impatient(engine) -> Session:
    """A session that gives up on a lock after a second instead of waiting."""
    session = Session(engine)
    session.execute(text("SET lock_timeout = '1s'"))
    return session


def used(engine, category_id: str) -> int:
    with Session(engine) as session:
        return session.query(MivbService).filter_by(service_category_id=category_id).count()


def test_the_last_licence_goes_to_one_of_two_units_that_both_counted_it_free(engine):
    _, category_id, (a, b, _) = world(engine, licences=1)
    first, second = Session(engine), Session(engine)
    try:
        choose(first, a, category_id)
        choose(second, b, category_id)  # neither sees the other's uncommitted choice
        first.commit()
        with pytest.raises(Conflict) as refused:
            second.commit()
        assert refused.value.errors[0].code == "licence_exhausted"
        assert refused.value.errors[0].field == "service_category"
        second.rollback()
    finally:
        first.close(), second.close()
    assert used(engine, category_id) == 1


def test_units_choosing_one_category_do_not_wait_for_each_other(engine):
    account_id, category_id, (a, b, _) = world(engine, licences=5)
    first, second = Session(engine), impatient(engine)
    try:
        _category_for_choice(system_ctx(first), account_id, category_id)
        choose(first, a, category_id)
        _category_for_choice(system_ctx(second), account_id, category_id)  # held FOR UPDATE before: waited
        choose(second, b, category_id)
        second.commit()
        first.commit()
    finally:
        first.close(), second.close()
    assert used(engine, category_id) == 2


def test_a_change_to_the_category_waits_for_the_units_choosing_it(engine):
    account_id, category_id, (a, _, _) = world(engine, licences=5)
    chooser, editor = Session(engine), impatient(engine)
    try:
        _category_for_choice(system_ctx(chooser), account_id, category_id)
        choose(chooser, a, category_id)
        with pytest.raises(OperationalError, match="lock timeout"):
            categories.update_category(system_ctx(editor), account_id, category_id, {"licences": 0})
        editor.rollback()
        chooser.commit()
        with pytest.raises(Conflict) as refused:  # now it counts the chooser's user
            categories.update_category(system_ctx(editor), account_id, category_id, {"licences": 0})
        assert refused.value.errors[0].code == "licences_in_use"
    finally:
        chooser.close(), editor.close()


def test_rows_checked_with_counts_another_unit_outdated_are_refused_at_commit_then_alone(engine):
    """The bulk import and the adoption check each row in its savepoint, with the counts
    the unit holds (no lock until the commit): a licence another unit took meanwhile is
    found as the unit commits (RefusedAtCommit); applied again, the row is refused alone."""
    _, category_id, (a, b, c) = world(engine, licences=1)
    unit, other = Session(engine), Session(engine)
    try:
        assert usage.licence_used(unit, category_id) == 0  # counted before the other unit commits
        choose(other, c, category_id)
        other.commit()
        with unit.begin_nested():
            choose(unit, a, category_id)
            limits.check(unit)  # 1 of 1 by the count it holds
        with pytest.raises(RefusedAtCommit) as refused:
            unit.commit()
        assert refused.value.errors[0].code == "licence_exhausted"
        unit.rollback()
        with unit.begin_nested():  # the rows again, in a new transaction
            unit.get(MivbService, b).group = "Sales"  # a row that counts nothing: kept
        with pytest.raises(Conflict) as refused, unit.begin_nested():
            choose(unit, a, category_id)
            limits.check(unit)  # reads the count: 2 of 1
        assert refused.value.errors[0].code == "licence_exhausted"
        unit.commit()
    finally:
        unit.close(), other.close()
    with Session(engine) as session:
        assert session.get(MivbService, b).group == "Sales"
        assert session.get(MivbService, a).service_category_id is None
    assert used(engine, category_id) == 1


def test_after_a_row_is_checked_the_next_rows_are_refused_early_without_a_read(engine):
    _, category_id, (a, b, c) = world(engine, licences=2)
    unit, other = Session(engine), Session(engine)
    try:
        choose(other, c, category_id)
        other.commit()
        with unit.begin_nested():
            choose(unit, a, category_id)
            limits.check(unit)  # reads the count: 2 of 2
        category = unit.get(ServiceCategory, category_id)
        next_row = unit.get(MivbService, b)  # the next row's user, as the import loads (and holds) it
        with counting_statements(unit.connection()) as statements, pytest.raises(Conflict) as refused:
            rules.check_licence(unit, category, b)
        assert refused.value.errors[0].code == "licence_exhausted" and statements == []
        assert next_row.service_category_id is None
        unit.rollback()
    finally:
        unit.close(), other.close()


def test_the_last_ehdu_licence_goes_to_one_unit(engine):
    account_id, _, (a, b, _) = world(engine, ehdu=1)
    first, second = Session(engine), Session(engine)

    def hot_desk(session: Session, user_id: str) -> None:
        session.add(Phone(account_id=account_id, user_id=user_id, type="hot_desk", dn="2001" if user_id == a else "2002",
                          external_number="+33612345678"))
        session.flush()

    try:
        hot_desk(first, a)
        hot_desk(second, b)
        first.commit()
        with pytest.raises(Conflict) as refused:
            second.commit()
        assert [(e.code, e.field) for e in refused.value.errors] == [("licence_exhausted", "external_phone")]
        second.rollback()
    finally:
        first.close(), second.close()


def test_the_pbx_device_capacity_holds_across_units(engine, monkeypatch):
    account_id, _, (a, b, _) = world(engine)
    monkeypatch.setattr(limits, "CAPACITY_DEVICES", 1)
    first, second = Session(engine), Session(engine)
    try:
        for session, user_id, dn in ((first, a, "2001"), (second, b, "2002")):
            session.add(Phone(account_id=account_id, user_id=user_id, type="desk_phone", dn=dn))
            session.flush()
        first.commit()
        with pytest.raises(Conflict) as refused:
            second.commit()
        assert refused.value.errors[0].code == "capacity_devices"
        second.rollback()
    finally:
        first.close(), second.close()


def test_a_unit_that_only_gives_back_is_not_checked(engine):
    """Removing a user of a category over its licences (lowered meanwhile) is never refused."""
    _, category_id, (a, b, _) = world(engine, licences=2)
    with Session(engine) as session:
        choose(session, a, category_id)
        choose(session, b, category_id)
        session.commit()
    with Session(engine) as session:
        session.execute(text("UPDATE mivb_service_categories SET licences = 1 WHERE id = :id"), {"id": category_id})
        session.commit()
    with Session(engine) as session:
        session.get(MivbService, a).service_category_id = None
        session.commit()
    assert used(engine, category_id) == 1


def test_a_change_whose_other_fields_are_not_loaded_is_still_checked(engine):
    """A phone's type not loaded when its external number is set: what the change raises
    cannot be told, so every count it could raise is checked as it commits."""
    account_id, _, (a, _, _) = world(engine, ehdu=0)
    with Session(engine) as session:
        session.add(Phone(account_id=account_id, user_id=a, type="hot_desk", dn="2001"))
        session.commit()
    with Session(engine) as session:
        phone = session.query(Phone).filter_by(account_id=account_id).one()
        session.expire(phone, ["type", "acd_agent"])
        phone.external_number = "+33612345678"
        with pytest.raises(RefusedAtCommit) as refused:
            session.commit()
        assert [(e.code, e.field) for e in refused.value.errors] == [("licence_exhausted", "external_phone")]
