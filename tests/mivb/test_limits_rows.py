"""Limits under rows and races (mivb/limits.py), found by a review that tried to break
them: rows of an adoption or an import that go over a limit are refused alone, a category
changed after a unit read it is counted with its new licences, and units that cross
accounts and categories neither deadlock nor block a category edit. Several real
committed sessions on PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from switchboard.accounts.models import Account
from switchboard.adoption import service as adoption
from switchboard.adoption.assess import Candidate, PbxReading
from switchboard.core.errors import RefusedAtCommit
from switchboard.core.runtime import Runtime
from switchboard.core.security import SecretBox
from switchboard.core.context import Actor, ServiceContext
from switchboard.imports import csv_format
from switchboard.imports.applier import Importer
from switchboard.jobs import service as jobs
from switchboard.jobs.models import Job
from switchboard.jobs.runner import JobRunner
from switchboard.mivb import categories, limits
from switchboard.mivb.models import MivbService, Phone, ServiceCategory
from switchboard.mivb.subscriptions import _category_for_choice
from tests.factories import system_ctx
from tests.mivb.test_limits import choose, engine, used, world  # noqa: F401 (the module's engine fixture)

RUNTIME = Runtime(secret_box=SecretBox("limits-attack-secret"))


def _ehdu_in_use(engine, account_id: str) -> int:
    with Session(engine) as session:
        return session.scalar(text("SELECT count(*) FROM mivb_phones WHERE account_id = :a AND type = 'hot_desk' "
                                   "AND external_number IS NOT NULL"), {"a": account_id})


def _candidate(session: Session, category_id: str, key: str, dns: list[str]) -> Candidate:
    phones = [{"key": f"{key}-{dn}", "type": "hot_desk", "dn": dn, "external_phone": {"number": f"+3361234{dn}"}}
              for dn in dns]
    return Candidate(key, {"first_name": key, "last_name": "Adopted", "phones": phones},
                     category=session.get(ServiceCategory, category_id))


def _adopt_two_rows(ctx: ServiceContext, account_id: str, category_id: str, tag: str):
    """Adopts (in the unit of ctx, not committed) a user with one external hot desk, then
    one with two."""
    account = ctx.session.get(Account, account_id)
    first = adoption._adopt_row(ctx, account, _candidate(ctx.session, category_id, f"{tag}1", ["3001"]), 1)
    second = adoption._adopt_row(ctx, account, _candidate(ctx.session, category_id, f"{tag}2", ["3002", "3003"]), 2)
    return first, second


# ---------------------------------------------------------------- adoption: a row over a limit is refused alone

def test_adoption_row_taking_two_ehdu_licences_is_refused_alone(engine):
    """Row 1 takes 1 of 2 EHDU licences; row 2's user has two external hot desks: the early
    check asks for one more (1 < 2), the row adds two (3 of 2): its own check refuses it."""
    account_id, category_id, _ = world(engine, licences=5, ehdu=2)
    ctx = ServiceContext(session=Session(engine), actor=Actor.system("t"), runtime=RUNTIME)
    try:
        first, second = _adopt_two_rows(ctx, account_id, category_id, "k")
        assert first.status == "adopted"
        assert second.status == "failed", "row 2 was adopted with 3 EHDU of 2"
        ctx.session.commit()
    finally:
        ctx.session.close()


def test_an_adoption_job_with_one_row_over_a_limit_adopts_the_others(engine, monkeypatch):
    """The same through the job runner, on_error=partial: row 1 adopted, row 2 refused,
    the PBX read once."""
    account_id, category_id, _ = world(engine, licences=5, ehdu=2)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    reads = []

    def fake_read(ctx, account_id, *, keys=None, categories=None):
        reads.append(1)
        return PbxReading(2, 0, [_candidate(ctx.session, category_id, "j1", ["3101"]),
                                 _candidate(ctx.session, category_id, "j2", ["3102", "3103"])])

    monkeypatch.setattr(adoption, "read", fake_read)
    with factory() as session:
        ctx = ServiceContext(session=session, actor=Actor.system("t"), runtime=RUNTIME)
        job_id = jobs.create(ctx, account_id, kind="adoption", mode="apply", on_error="partial",
                             input_text='{"keys": null, "categories": {}}').id
        session.commit()
    runner = JobRunner(factory, RUNTIME)
    assert runner.claim(job_id) == job_id
    runner.run(job_id)
    with factory() as session:
        job = session.get(Job, job_id)
        state, summary = job.state, job.summary
    assert _ehdu_in_use(engine, account_id) <= 2
    assert state == "succeeded", summary
    assert _ehdu_in_use(engine, account_id) == 1 and len(reads) == 1


# ---------------------------------------------------------------- a category read before it changed

def test_licences_lowered_after_the_import_read_its_categories_are_the_ones_counted(engine):
    """The import reads the account's categories once (kept for the whole job); choosing
    one holds it FOR KEY SHARE and reads it again as locked, so its lowered licences count."""
    account_id, category_id, (a, b, c) = world(engine, licences=3)
    with Session(engine) as session:
        choose(session, a, category_id)
        session.commit()
    unit, editor = Session(engine, expire_on_commit=False), Session(engine)
    try:
        loaded = {cat.name_key: cat for cat in unit.scalars(select(ServiceCategory).where(
            ServiceCategory.account_id == account_id))}  # as Importer.__init__ does
        categories.update_category(system_ctx(editor), account_id, category_id, {"licences": 1})  # 1 in use
        editor.commit()
        held = _category_for_choice(system_ctx(unit), account_id, loaded["telephony"].id)
        assert held.licences == 1
        choose(unit, b, category_id)
        with pytest.raises(RefusedAtCommit):  # 2 users, 1 licence
            unit.commit()
        unit.rollback()
    finally:
        unit.close(), editor.close()
    assert used(engine, category_id) <= 1


def test_licences_lowered_during_an_import_refuse_its_rows(engine):
    account_id, category_id, (a, _, _) = world(engine, licences=3)
    with Session(engine) as session:
        choose(session, a, category_id)
        session.commit()
    session = Session(engine, expire_on_commit=False)
    ctx = ServiceContext(session=session, actor=Actor.system("t"), runtime=RUNTIME)
    ctx.cache[("catalog", account_id)] = {"templates": [{"name": "Telephony User"}]}
    body = ("email,first_name,last_name,mivb,service_category\n"
            + "".join(f"stale{n}@{account_id[:8]}.example,S{n},Stale,yes,Telephony\n" for n in (1, 2))).encode()
    try:
        importer = Importer(ctx, account_id, csv_format.read(body))  # reads the categories: 3 licences
        with Session(engine) as editor:
            categories.update_category(system_ctx(editor), account_id, category_id, {"licences": 1})
            editor.commit()
        results = [importer.apply(row) for row in importer.file.rows]
        assert [r.status for r in results] == ["failed", "failed"]
        try:
            session.commit()
        except RefusedAtCommit:
            session.rollback()
    finally:
        session.close()
    assert used(engine, category_id) <= 1, "3 users of a category with 1 licence"


# ---------------------------------------------------------------- no deadlock, no long wait

def test_two_units_crossing_two_accounts_and_categories_do_not_deadlock(engine):
    acc1, cat1, (a1, b1, _) = world(engine, licences=5)
    acc2, cat2, (a2, b2, _) = world(engine, licences=5)
    first, second = Session(engine), Session(engine)
    errors = []
    try:
        for s in (first, second):
            s.execute(text("SET lock_timeout = '5s'"))
        _category_for_choice(system_ctx(first), acc1, cat1)
        choose(first, a1, cat1)
        _category_for_choice(system_ctx(second), acc2, cat2)
        choose(second, a2, cat2)
        _category_for_choice(system_ctx(first), acc2, cat2)
        choose(first, b2, cat2)
        _category_for_choice(system_ctx(second), acc1, cat1)
        choose(second, b1, cat1)

        def commit(s):
            try:
                s.commit()
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=commit, args=(s,)) for s in (first, second)]
        [t.start() for t in threads]
        [t.join(20) for t in threads]
    finally:
        first.close(), second.close()
    assert errors == []


def test_a_category_edit_waiting_for_a_chooser_does_not_block_its_commit(engine):
    account_id, category_id, (a, _, _) = world(engine, licences=5)
    chooser, editor = Session(engine), Session(engine)
    out = []
    try:
        chooser.execute(text("SET lock_timeout = '3s'"))
        _category_for_choice(system_ctx(chooser), account_id, category_id)
        choose(chooser, a, category_id)

        def edit():
            try:
                categories.update_category(system_ctx(editor), account_id, category_id, {"licences": 1})
                editor.commit()
                out.append("edited")
            except Exception as exc:  # noqa: BLE001
                editor.rollback()
                out.append(exc)

        thread = threading.Thread(target=edit)
        thread.start()
        thread.join(1)  # the editor waits on the chooser's FOR KEY SHARE
        chooser.commit()
        thread.join(10)
    finally:
        chooser.close(), editor.close()
    assert out == ["edited"]


def test_adoption_rows_after_the_first_are_checked_against_the_device_capacity(engine, monkeypatch):
    """Each row's check compares every count it raised, not only those not checked yet."""
    account_id, category_id, _ = world(engine, licences=5, ehdu=10)
    with Session(engine) as session:
        already = session.scalar(select(func.count()).select_from(Phone)
                                 .where(Phone.account_id == account_id))
    monkeypatch.setattr(limits, "CAPACITY_DEVICES", already + 2)
    ctx = ServiceContext(session=Session(engine), actor=Actor.system("t"), runtime=RUNTIME)
    try:
        first, second = _adopt_two_rows(ctx, account_id, category_id, "d")
        assert first.status == "adopted"
        assert second.status == "failed", "row 2 adopted: 3 devices of 2"
    finally:
        ctx.session.rollback(), ctx.session.close()
