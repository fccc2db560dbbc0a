"""A number is never handed out twice, also under concurrent allocation (PostgreSQL: each
transaction claims the numbers it hands out and skips those another one is taking; each
thread commits on its own), and the hint never passes a free number."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from switchboard.migrations import upgrade
from switchboard.mivb.models import MivbService, Phone
from switchboard.numbering import service as numbering
from switchboard.numbering.models import DnRange
from switchboard.testing.databases import temporary_database
from tests.factories import make_tenant, make_user

THREADS = 32


@pytest.fixture
def committed_database(backend, tmp_path):
    if backend != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite has a single writer)")
    with temporary_database("postgresql", tmp_path) as url:
        upgrade(url)
        engine = create_engine(url, pool_size=THREADS + 2, max_overflow=0)
        yield engine
        engine.dispose()


def test_concurrent_allocations_get_distinct_numbers(committed_database):
    engine = committed_database
    with Session(engine, expire_on_commit=False) as session:
        tenant = make_tenant(session, "Concurrent")
        account_id = tenant.account.id
        from tests.factories import system_ctx

        ctx = system_ctx(session)
        range_id = numbering.create_dn_range(ctx, account_id, {"start": "2000", "end": "2999"}).range.id
        numbering.create_did_range(ctx, account_id, {"start": "+14155550000", "end": "+14155550999"})
        user_ids = []
        for _ in range(THREADS):
            user = make_user(session, tenant.account)
            session.add(MivbService(user_id=user.id, account_id=account_id))
            user_ids.append(user.id)
        session.commit()

    barrier = threading.Barrier(THREADS)
    results: list[tuple[str, str | None]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(user_id: str) -> None:
        try:
            barrier.wait(timeout=30)
            with Session(engine) as session:
                dn, dn_range_id = numbering.allocate_dn(session, account_id, range_id=range_id)
                did, did_range_id = numbering.allocate_did(session, account_id, dn=dn)
                session.add(Phone(account_id=account_id, user_id=user_id, type="desk_phone", dn=dn,
                                  dn_range_id=dn_range_id, did=did, did_range_id=did_range_id))
                session.commit()
            with lock:
                results.append((dn, did))
        except Exception as exc:  # noqa: BLE001 - reported below
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(uid,)) for uid in user_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert len(results) == THREADS
    dns = sorted(dn for dn, _ in results)
    dids = sorted(did for _, did in results)
    assert dns == [str(2000 + i) for i in range(THREADS)]  # distinct, and no gap either
    assert dids == [f"+1415555{i:04d}" for i in range(THREADS)]
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Phone)) == THREADS
        # The hint may lag behind concurrent allocators (each moves it only as far as it
        # saw), never ahead: the next allocation is the first free DN.
        hint = session.get(DnRange, range_id).next_hint
        assert "2000" <= hint <= str(2000 + THREADS), hint
        dn, _ = numbering.allocate_dn(session, account_id, range_id=range_id)
        assert dn == str(2000 + THREADS)
