"""A number given back reaches the range when the transaction commits, whatever happens
to the savepoints after it (an import gives numbers back in one row and refuses the
next), and transactions that write range rows at commit never deadlock each other
(PostgreSQL: their writes run last, in one order)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.orm import Session

from switchboard.core.uow import before_commit
from switchboard.numbering import service as numbering
from switchboard.numbering.models import DnRange
from tests.numbering.conftest import committed_world, phone_on, remove_phone


def test_a_number_given_back_survives_a_later_savepoint_that_rolls_back(committed_engine):
    account_id, (range_id,), user_id = committed_world(committed_engine, ("200", "203"))
    with Session(committed_engine) as session:
        for _ in range(4):
            dn, rid = numbering.allocate_dn(session, account_id, range_id=range_id)
            phone_on(session, account_id, user_id, dn, rid)
        session.commit()
    with Session(committed_engine) as session:  # an import
        with session.begin_nested():  # row 1 removes a phone
            remove_phone(session, account_id, "201")
        with pytest.raises(RuntimeError), session.begin_nested():  # row 2 is refused
            raise RuntimeError("refused")
        session.commit()
    with Session(committed_engine) as session:
        assert session.get(DnRange, range_id).next_hint <= "201"
        assert numbering.allocate_dn(session, account_id, range_id=range_id)[0] == "201"  # not "range exhausted"


def _commit_together(*sessions: Session) -> dict[int, str]:
    """Commits the sessions in threads at once (each waits for the others just before its
    range writes); what each commit ended with."""
    barrier = threading.Barrier(len(sessions), timeout=15)
    outcome: dict[int, str] = {}
    for session in sessions:
        before_commit(session, "test:together", lambda _s: barrier.wait())

    def commit(i: int, session: Session) -> None:
        try:
            session.commit()
            outcome[i] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported in the assertion
            outcome[i] = f"{type(exc).__name__}: {exc}".splitlines()[0]

    threads = [threading.Thread(target=commit, args=(i, s)) for i, s in enumerate(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcome


@pytest.mark.parametrize("first_allocates", [False, True])
def test_units_that_give_numbers_back_in_two_ranges_in_opposite_orders_do_not_deadlock(
        committed_engine, backend, first_allocates):
    """Two users removed at once, one with phones in R1 then R2, the other in R2 then R1;
    or one that adds a phone in R1 (its hint moves at commit) and gives a number of R2 back."""
    if backend != "postgresql":
        pytest.skip("one writer at a time on SQLite")
    account_id, (r1, r2), user_id = committed_world(committed_engine, ("200", "211"), ("300", "311"))
    with Session(committed_engine) as setup:
        for dn, rid in (("200", r1), ("201", r1), ("300", r2), ("301", r2)):
            phone_on(setup, account_id, user_id, dn, rid)
        setup.commit()
    a, b = Session(committed_engine), Session(committed_engine)
    try:
        if first_allocates:
            dn, rid = numbering.allocate_dn(a, account_id, range_id=r1)
            phone_on(a, account_id, user_id, dn, rid)
        else:
            remove_phone(a, account_id, "200")
        remove_phone(a, account_id, "300")
        remove_phone(b, account_id, "301")
        remove_phone(b, account_id, "201")
        assert _commit_together(a, b) == {0: "ok", 1: "ok"}
    finally:
        a.close()
        b.close()
