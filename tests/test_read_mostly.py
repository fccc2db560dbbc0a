"""On SQLite a GET reads without the write lock (issue 13, figures 4 and 5: every request
began with BEGIN IMMEDIATE and waited behind the workers' writes, p95 0.8-1.3 s). A GET
that turns out to write runs again holding the lock, and its write lands once."""

from __future__ import annotations

import threading

import pytest
from fastapi import Request
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from switchboard.api_support import SessionDep
from switchboard.app import create_app
from switchboard.core.db import NeedsWriteLock, make_engine, make_session_factory, read_mostly, utcnow
from switchboard.migrations import upgrade
from switchboard.sync.models import PbxWaiter


@pytest.fixture
def sqlite_app(tmp_path, settings, backend):
    if backend != "sqlite":
        pytest.skip("SQLite's write lock: once, in the SQLite pass")
    url = f"sqlite:///{tmp_path / 'read-mostly.db'}"
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    app = create_app(settings, factory)
    runs: list[str] = []

    @app.get("/_test/read")
    def read(session: SessionDep):
        runs.append("read")
        return {"waiters": session.scalar(select(func.count()).select_from(PbxWaiter))}

    @app.get("/_test/write")
    def write(request: Request, session: SessionDep):
        runs.append("write")
        request.session["runs"] = request.session.get("runs", 0) + 1  # the cookie: once per request
        session.add(PbxWaiter(pbx=f"pbx-{len(runs)}", holder="test", until=utcnow()))
        session.flush()
        return {"ok": True}

    @app.get("/_test/write-at-commit")
    def write_at_commit(session: SessionDep):
        runs.append("write-at-commit")  # flushed only when the unit of work commits
        session.add(PbxWaiter(pbx=f"commit-{len(runs)}", holder="test", until=utcnow()))
        return {"ok": True}

    @app.get("/_test/session")
    def cookie(request: Request):
        return dict(request.session)

    with TestClient(app) as client:
        yield client, engine, factory, runs
    engine.dispose()


def test_a_get_reads_while_another_connection_holds_the_write_lock(sqlite_app):
    client, engine, factory, runs = sqlite_app
    released = threading.Event()
    with engine.connect() as holder:
        holder.begin()  # BEGIN IMMEDIATE: the write lock, as a worker recording results
        holder.execute(text("INSERT INTO sync_pbx_waiters (pbx, holder, until) VALUES ('x', 'w', '2026-01-01')"))
        timer = threading.Timer(20, lambda: (released.set(), holder.rollback()))
        try:
            response = client.get("/_test/read")
            answered_while_locked = not released.is_set()
        finally:
            timer.cancel()
        holder.rollback()
    assert response.status_code == 200 and response.json() == {"waiters": 0}  # its snapshot: not the other's write
    assert answered_while_locked, "the GET waited for the write lock"


def test_a_get_that_writes_runs_again_with_the_write_lock_and_writes_once(sqlite_app):
    client, engine, factory, runs = sqlite_app
    response = client.get("/_test/write")
    assert response.status_code == 200, response.text
    assert runs == ["write", "write"]  # stopped at its first write, then run holding the lock
    client.get("/_test/write")
    assert runs[2:] == ["write", "write"]
    assert client.get("/_test/session").json() == {"runs": 2}  # the first runs' cookie changes were void
    with factory() as session:
        assert session.scalars(select(PbxWaiter.pbx)).all() == ["pbx-2", "pbx-4"]


def test_read_mostly_sessions_refuse_writes_before_sqlite_sees_them(sqlite_app):
    _client, _engine, factory, _runs = sqlite_app
    reader = read_mostly(factory)
    assert reader is read_mostly(factory)  # made once per factory
    with reader() as session:
        assert session.scalar(select(func.count()).select_from(PbxWaiter)) == 0
        session.add(PbxWaiter(pbx="p", holder="h", until=utcnow()))
        with pytest.raises(NeedsWriteLock):
            session.flush()
        session.rollback()
        with pytest.raises(NeedsWriteLock):
            session.execute(text("DELETE FROM sync_pbx_waiters"))


def test_elsewhere_read_mostly_is_the_factory_itself(session_factory):
    assert read_mostly(session_factory) is session_factory  # bound to a connection (tests), or PostgreSQL
    engine = make_engine("sqlite://")
    try:
        plain = make_session_factory(engine)
        assert read_mostly(plain) is not plain
    finally:
        engine.dispose()


def test_a_get_whose_write_waits_for_the_commit_runs_again_too(sqlite_app):
    client, _engine, factory, runs = sqlite_app
    response = client.get("/_test/write-at-commit")
    assert response.status_code == 200, response.text
    assert runs == ["write-at-commit", "write-at-commit"]
    with factory() as session:
        assert session.scalars(select(PbxWaiter.pbx)).all() == ["commit-2"]
