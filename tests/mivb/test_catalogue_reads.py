"""A write that hands out numbers wants the PBX's DNs in use no older than
dns_max_age_seconds (5 s). Under load every such request found the copy too old at once
and each read the PBX again (issue 13, figure 4: half of add-phone's time). Now one
request of a process reads it; the others use the copy meanwhile, and for max_age after."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from switchboard.core.db import utcnow
from switchboard.pbx import catalog
from switchboard.pbx.models import MivbCatalog


def _age_the_copy(session, account_id: str) -> None:
    session.execute(update(MivbCatalog).where(MivbCatalog.account_id == account_id)
                    .values(fetched_at=utcnow() - timedelta(seconds=60)))
    session.expire_all()


def _count_reads(monkeypatch) -> list[str]:
    reads = []
    real = catalog.open_connector

    def counting(ctx, target):
        reads.append(target.url)
        return real(ctx, target)

    monkeypatch.setattr(catalog, "open_connector", counting)
    monkeypatch.setattr(catalog, "_reads", catalog._Reads())
    return reads


def _add_desk_phone(client, m, user_id):
    response = client.post(m.user_url(user_id, "/mivb/phones"), headers=m.admin, json={"type": "desk_phone"})
    assert response.status_code == 201, response.text
    return response.json()


def test_a_request_does_not_read_the_catalogue_another_one_is_reading(client, session, mivb_account, monkeypatch):
    m = mivb_account
    user_id = m.new_user("Telephony")
    reads = _count_reads(monkeypatch)
    _age_the_copy(session, m.account_id)
    reading = catalog._reads.lock(m.account_id)
    reading.acquire()  # another request of this process is reading the PBX's catalogue
    try:
        _add_desk_phone(client, m, user_id)
    finally:
        reading.release()
    assert reads == []  # it used the copy it had
    _add_desk_phone(client, m, user_id)
    assert len(reads) == 1  # nobody reading: the copy is too old, it reads the PBX


def test_a_copy_read_within_max_age_by_this_process_is_not_read_again(client, session, mivb_account, monkeypatch):
    m = mivb_account
    user_id = m.new_user("Telephony")
    reads = _count_reads(monkeypatch)
    _age_the_copy(session, m.account_id)
    _add_desk_phone(client, m, user_id)
    assert len(reads) == 1
    _age_the_copy(session, m.account_id)  # as if that request's copy had not landed yet
    _add_desk_phone(client, m, user_id)
    assert len(reads) == 1
    monkeypatch.setattr(catalog, "_reads", catalog._Reads())  # max_age later
    _age_the_copy(session, m.account_id)
    _add_desk_phone(client, m, user_id)
    assert len(reads) == 2


def test_an_explicit_refresh_always_reads_the_pbx(client, mivb_account, monkeypatch):
    m = mivb_account
    reads = _count_reads(monkeypatch)
    for _ in range(2):
        assert client.get(m.url("/mivb/catalog?refresh=true"), headers=m.admin).status_code == 200
    assert len(reads) == 2
