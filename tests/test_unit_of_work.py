"""One unit of work per request, command or job step: services flush and raise, the edge
commits once or rolls back everything; a unique constraint that fires is the 409 its name
says; PBX calls never happen inside a write."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from switchboard.accounts import service as accounts
from switchboard.accounts.models import User
from switchboard.audit.models import AuditEntry
from switchboard.core.errors import Conflict, ServiceError
from switchboard.core.hooks import Hook, HookNotWired
from switchboard.core.uow import end_read_transaction, unit_of_work
from switchboard.mivb import events as mivb_events
from tests.factories import ctx_for, make_account, make_partner


def _users_named(session, last_name: str) -> int:
    return session.scalar(select(func.count()).select_from(User).where(User.last_name == last_name)) or 0


def test_two_service_calls_in_one_unit_of_work_roll_back_together(session_factory, tenant_a):
    with pytest.raises(Conflict):
        with unit_of_work(session_factory) as session:
            ctx = ctx_for(session, tenant_a.account_admin)
            accounts.create_user(ctx, tenant_a.account.id, {
                "first_name": "First", "last_name": "Together", "email": "first.together@example.com"})
            # the second call is refused: the first one must not survive it
            accounts.create_user(ctx, tenant_a.account.id, {
                "first_name": "Second", "last_name": "Together", "email": tenant_a.user.email})
    with session_factory() as session:
        assert _users_named(session, "Together") == 0
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.object_repr == "first.together@example.com")) == 0


def test_a_unit_of_work_commits_every_call_once_at_its_end(session_factory, tenant_a):
    with unit_of_work(session_factory) as session:
        ctx = ctx_for(session, tenant_a.account_admin)
        for n in range(3):
            accounts.create_user(ctx, tenant_a.account.id, {
                "first_name": f"N{n}", "last_name": "Committed", "email": f"n{n}.committed@example.com"})
    with session_factory() as session:
        assert _users_named(session, "Committed") == 3


def test_a_failing_api_request_leaves_nothing_behind(client, tenant_a, login, session_factory):
    headers = login(tenant_a.account_admin.email)
    response = client.post(f"/api/v1/accounts/{tenant_a.account.id}/users", headers=headers, json={
        "first_name": "Dup", "last_name": "Licate", "email": tenant_a.user.email.upper()})
    assert response.status_code == 409 and response.json()["errors"][0]["code"] == "email_taken"
    with session_factory() as session:
        assert _users_named(session, "Licate") == 0


def test_a_unique_constraint_that_fires_is_the_409_its_name_says(session_factory, tenant_a, monkeypatch):
    """The check before the insert is skipped (as a racing request would slip past it):
    the database's constraint still answers, by its name, with the same conflict."""
    monkeypatch.setattr(accounts, "_ensure_email_free", lambda *args, **kwargs: None)
    with pytest.raises(Conflict) as refused:
        with unit_of_work(session_factory) as session:
            accounts.create_user(ctx_for(session, tenant_a.account_admin), tenant_a.account.id, {
                "first_name": "Race", "last_name": "Lost", "email": tenant_a.user.email})
    assert refused.value.code == "email_taken" and refused.value.errors[0].field == "email"


def test_a_category_name_race_is_a_409(session_factory, tenant_a, monkeypatch):
    from switchboard.mivb import categories
    from switchboard.mivb.models import ServiceCategory

    with unit_of_work(session_factory) as session:
        session.add(ServiceCategory(account_id=tenant_a.account.id, name="Gold", name_key="gold",
                                    template="Entry User", licences=1))
    with pytest.raises(Conflict) as refused:
        with unit_of_work(session_factory) as session:
            session.add(ServiceCategory(account_id=tenant_a.account.id, name="GOLD", name_key="gold",
                                        template="Entry User", licences=1))
    assert refused.value.code == "name_taken"


def test_a_pbx_call_is_refused_inside_a_write(session_factory, tenant_a):
    with unit_of_work(session_factory) as session:
        accounts.update_account(ctx_for(session, tenant_a.partner_admin), tenant_a.account.id, {"city": "Written"})
        with pytest.raises(RuntimeError, match="inside a write transaction"):
            end_read_transaction(session)
        session.rollback()


def test_a_read_only_transaction_ends_without_losing_loaded_objects(session_factory, tenant_a):
    with unit_of_work(session_factory) as session:
        user = session.get(User, tenant_a.user.id)
        assert session.in_transaction()
        end_read_transaction(session)
        assert not session.in_transaction()
        assert user.email == tenant_a.user.email  # still loaded: reading it opens nothing
        assert not session.in_transaction()


def test_a_required_hook_refuses_to_fire_unwired():
    hook = Hook("test.required", required=True)
    with pytest.raises(HookNotWired):
        hook("anything")
    calls = []
    hook.subscribe(calls.append)
    hook.subscribe(calls.append)  # twice is once
    hook("x")
    assert calls == ["x"]


def test_every_required_hook_is_wired():
    for hook in (mivb_events.push_requested, mivb_events.remove_requested):
        assert hook.subscribers, f"{hook.name} has no subscriber after wiring.install()"


def test_concurrent_creation_of_one_email_answers_409_never_500(backend, tmp_path):
    """Eight requests race to create the same e-mail, on a committed database: one wins,
    the others get 409 email_taken (the check or, for a request that slipped past it, the
    constraint)."""
    from fastapi.testclient import TestClient

    from switchboard.app import create_app
    from switchboard.core.config import Settings
    from switchboard.core.db import make_engine, make_session_factory
    from switchboard.migrations import upgrade
    from switchboard.testing.databases import temporary_database

    with temporary_database(backend, tmp_path) as url:
        upgrade(url)
        own_engine = make_engine(url)
        factory = make_session_factory(own_engine)
        with unit_of_work(factory) as session:
            partner, admin = make_partner(session, "Race Partner")
            account = make_account(session, partner, "Race Account")
            account_id, admin_email = account.id, admin.email
        settings = Settings(var_dir=tmp_path, secret_key="race-secret-key-for-switchboard", database_url=url)
        app = create_app(settings, factory)
        with TestClient(app) as client:
            token = client.post("/api/v1/auth/token", json={"email": admin_email,
                                                            "password": "correct-horse-battery"}).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            statuses: list[int] = []
            barrier = threading.Barrier(8)

            def create() -> None:
                barrier.wait()
                statuses.append(client.post(f"/api/v1/accounts/{account_id}/users", headers=headers, json={
                    "first_name": "Same", "last_name": "Mail", "email": "same.mail@example.com"}).status_code)

            threads = [threading.Thread(target=create) for _ in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        own_engine.dispose()
    assert sorted(statuses) == [201] + [409] * 7, statuses


def test_service_errors_keep_their_writes_only_when_they_say_so():
    assert ServiceError.keep_writes is False
    from switchboard.accounts.auth import SignInRefused

    assert SignInRefused.keep_writes is True


def test_change_log_entries_are_written_at_commit_and_go_with_a_savepoint_that_rolls_back(
        session_factory, db_connection, tenant_a):
    """The change log is inserted in one statement at the commit (nothing reads it before);
    an entry written in a savepoint that rolls back, or in one inside it, goes with it."""
    from tests.statements import counting_statements

    def created(session, name: str) -> int:
        return session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.object_repr == f"{name}@log.example", AuditEntry.action == "create")) or 0

    def create(ctx, name: str) -> None:
        accounts.create_user(ctx, tenant_a.account.id, {"first_name": name, "last_name": "Logged",
                                                        "email": f"{name}@log.example"})

    with counting_statements(db_connection) as statements, unit_of_work(session_factory) as session:
        ctx = ctx_for(session, tenant_a.account_admin)
        create(ctx, "kept")
        with session.begin_nested():
            create(ctx, "released")
        with pytest.raises(RuntimeError):
            with session.begin_nested():
                create(ctx, "inner")
                with session.begin_nested():
                    create(ctx, "deeper")
                raise RuntimeError("this row is refused")
        create(ctx, "after")
        assert created(session, "kept") == 0  # not yet: at the commit
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO AUDIT_ENTRIES")]
    assert len(inserts) == 1
    with session_factory() as session:
        assert [created(session, n) for n in ("kept", "released", "inner", "deeper", "after")] == [1, 1, 0, 0, 1]
        assert _users_named(session, "Logged") == 3

    with pytest.raises(RuntimeError):  # a unit of work that fails writes none
        with unit_of_work(session_factory) as session:
            create(ctx_for(session, tenant_a.account_admin), "failed")
            raise RuntimeError("refused")
    with session_factory() as session:
        assert created(session, "failed") == 0
