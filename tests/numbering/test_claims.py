"""Allocation without holding the range (PostgreSQL): transactions that allocate from one
range at the same time do not wait for each other, and whatever way their steps
interleave (allocations, commits, rollbacks, numbers given back by others meanwhile):

- no number is handed out twice, nor one another open transaction holds;
- the first allocation of a transaction is the lowest number that is free and that no
  other open transaction holds;
- below the committed hint, every number is taken (the hint never passes a free number,
  not even one that an open transaction holds and may roll back).

The steps run in one thread over several sessions, each its own connection: a step that
had to wait for another session would hang the test, so none may wait."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, event, select, text
from sqlalchemy.orm import Session

from switchboard.core.errors import Conflict
from switchboard.mivb.models import Phone
from switchboard.numbering import service as numbering
from switchboard.numbering.models import DnRange, PbxReservedDn
from switchboard.numbering import pool
from switchboard.numbering.pool import hint_number
from switchboard.numbering.spans import Span
from tests.numbering.conftest import committed_world, phone_on, remove_phone

SESSIONS = 3


@pytest.fixture
def pg_engine(backend, committed_engine):
    if backend != "postgresql":
        pytest.skip("transactions that allocate side by side need PostgreSQL (SQLite has a single writer)")
    return committed_engine


def _world(engine) -> tuple[str, str, str]:
    account_id, (range_id,), user_id = committed_world(engine, ("200", "211"))
    return account_id, range_id, user_id


def _no_waiting(session: Session) -> None:
    session.execute(text("SET lock_timeout = '3s'"))


def test_a_second_allocator_does_not_wait_for_the_first(pg_engine):
    account_id, range_id, user_id = _world(pg_engine)
    with Session(pg_engine) as first, Session(pg_engine) as second:
        dn1, _ = numbering.allocate_dn(first, account_id, range_id=range_id)
        first.add(Phone(account_id=account_id, user_id=user_id, type="desk_phone", dn=dn1, dn_range_id=range_id))
        first.flush()  # the first transaction goes on: it has not committed
        _no_waiting(second)
        dn2, _ = numbering.allocate_dn(second, account_id, range_id=range_id)  # waited before: the range row
        second.add(Phone(account_id=account_id, user_id=user_id, type="desk_phone", dn=dn2, dn_range_id=range_id))
        second.commit()
        with pytest.raises(Conflict) as caught:  # the number the first one holds, by name
            numbering.allocate_dn(second, account_id, wanted=dn1)
        assert caught.value.code == "dn_taken"
        second.rollback()
        first.commit()
    assert (dn1, dn2) == ("200", "201")


def _give_back(engine, account_id: str, dn: str) -> None:
    """Another unit of work deletes the phone on `dn` and gives its number back, now."""
    with Session(engine) as other:
        remove_phone(other, account_id, dn)
        other.commit()


def _hint(engine, range_id: str) -> str:
    with Session(engine) as session:
        return session.get(DnRange, range_id).next_hint


def test_a_number_given_back_while_an_allocator_runs_stops_its_hint_move(pg_engine):
    account_id, range_id, user_id = _world(pg_engine)
    with Session(pg_engine) as setup:  # in use on the PBX, written without the allocator (as an adoption does)
        for dn in ("200", "201", "202"):
            phone_on(setup, account_id, user_id, dn, range_id)
        setup.commit()
    assert _hint(pg_engine, range_id) == "200"  # behind: nothing moved it
    with Session(pg_engine) as allocator:
        dn, _ = numbering.allocate_dn(allocator, account_id, range_id=range_id)
        phone_on(allocator, account_id, user_id, dn, range_id)
        assert dn == "203"  # its sweep saw 200-202 taken
        _give_back(pg_engine, account_id, "201")  # meanwhile
        allocator.commit()  # moving the hint to 204 would pass 201
    assert _hint(pg_engine, range_id) <= "201"
    with Session(pg_engine) as session:
        assert numbering.allocate_dn(session, account_id, range_id=range_id)[0] == "201"


def test_a_number_given_back_behind_the_sweep_is_found_at_the_end_of_the_range(pg_engine):
    account_id, range_id, user_id = _world(pg_engine)
    with Session(pg_engine) as setup:
        for dn in ("200", "201", "202", "203", "204", "205", "206", "207", "208", "209", "210"):
            phone_on(setup, account_id, user_id, dn, range_id)
        setup.commit()
    with Session(pg_engine) as allocator:
        dn, _ = numbering.allocate_dn(allocator, account_id, range_id=range_id)
        phone_on(allocator, account_id, user_id, dn, range_id)
        assert dn == "211"  # the last one
        _give_back(pg_engine, account_id, "204")  # behind its sweep
        dn, _ = numbering.allocate_dn(allocator, account_id, range_id=range_id)
        assert dn == "204"  # not "range exhausted"
        phone_on(allocator, account_id, user_id, dn, range_id)
        allocator.commit()


def test_a_number_another_allocator_held_and_let_go_is_handed_out(pg_engine):
    account_id, range_id, user_id = _world(pg_engine)
    with Session(pg_engine) as setup:
        for dn in ("202", "203", "204", "205", "206", "207", "208", "209", "210", "211"):
            phone_on(setup, account_id, user_id, dn, range_id)
        setup.commit()
    with Session(pg_engine) as first, Session(pg_engine) as second:
        assert numbering.allocate_dn(first, account_id, range_id=range_id)[0] == "200"
        dn, _ = numbering.allocate_dn(second, account_id, range_id=range_id)
        assert dn == "201"  # 200 is being taken
        phone_on(second, account_id, user_id, dn, range_id)
        first.rollback()  # ... and then it is not
        assert numbering.allocate_dn(second, account_id, range_id=range_id)[0] == "200"


def test_a_number_written_after_its_claim_without_one_is_not_handed_out(pg_engine, monkeypatch):
    """A phone written without a claim (an adoption writes the PBX's own DNs) on the
    number just claimed: the allocator reads again after claiming and moves on."""
    account_id, range_id, user_id = _world(pg_engine)
    with Session(pg_engine) as setup:
        phone_on(setup, account_id, user_id, "200", range_id)  # the hint's number is taken: no early claim
        setup.commit()
    claim = pool.try_claim

    def claim_then_someone_writes(session, pool_, rng, numbers, want):
        got = claim(session, pool_, rng, numbers, want)
        with Session(pg_engine) as other:
            phone_on(other, account_id, user_id, pool_.span_of(rng).text(got[0]), range_id)
            other.commit()
        monkeypatch.setattr(pool, "try_claim", claim)
        return got

    monkeypatch.setattr(pool, "try_claim", claim_then_someone_writes)
    with Session(pg_engine) as allocator:
        dn, _ = numbering.allocate_dn(allocator, account_id, range_id=range_id)
        phone_on(allocator, account_id, user_id, dn, range_id)
        allocator.commit()
    assert dn == "202"  # 201 was written as it claimed it


def test_a_dn_that_moves_from_the_pbx_to_a_phone_during_the_sweep_is_never_free(pg_engine):
    """An adoption makes the PBX's own DN 200 a phone (the reserved row goes, the phone
    comes, in one commit) while an allocator sweeps: the sweep reads phones and the PBX's
    DNs in one statement, one snapshot, so 200 is never seen free."""
    account_id, range_id, user_id = _world(pg_engine)
    with Session(pg_engine) as setup:
        setup.add(PbxReservedDn(account_id=account_id, dn="200", length=3))
        setup.commit()
    allocator = Session(pg_engine)
    connection = allocator.connection()
    adopted = []

    def adopt_after_reading_phones(conn, _cursor, statement, _parameters, _context, _many):
        if conn is connection and not adopted and "ORDER BY mivb_phones.dn" in statement:
            adopted.append(True)
            with Session(pg_engine) as adoption:
                phone_on(adoption, account_id, user_id, "200", range_id)
                adoption.execute(delete(PbxReservedDn).where(PbxReservedDn.account_id == account_id))
                adoption.commit()

    event.listen(pg_engine, "after_cursor_execute", adopt_after_reading_phones)
    try:
        dn, _ = numbering.allocate_dn(allocator, account_id, range_id=range_id)
    finally:
        event.remove(pg_engine, "after_cursor_execute", adopt_after_reading_phones)
        allocator.close()
    assert adopted and dn == "201"


def test_a_number_an_import_claimed_ahead_is_refused_by_name_only_for_the_moment(pg_engine):
    account_id, range_id, user_id = _world(pg_engine)
    with Session(pg_engine) as importer, Session(pg_engine) as admin:
        for _ in range(2):  # an import's first rows: it now claims two numbers at a time
            dn, _ = numbering.allocate_dn(importer, account_id, range_id=range_id)
            phone_on(importer, account_id, user_id, dn, range_id)
        with pytest.raises(Conflict) as caught:
            numbering.allocate_dn(admin, account_id, wanted="202")
        assert caught.value.code == "dn_taken" and "right now" in caught.value.errors[0].render()
        admin.rollback()
        importer.commit()  # without using 202
        assert numbering.allocate_dn(admin, account_id, wanted="202")[0] == "202"


def test_a_claim_locks_only_free_numbers_in_their_order_and_stops_at_what_it_wants(pg_engine):
    account_id, range_id, user_id = _world(pg_engine)
    with Session(pg_engine) as setup:
        for dn in ("201", "203"):
            phone_on(setup, account_id, user_id, dn, range_id)
        setup.commit()
    with Session(pg_engine) as session:
        rng = session.get(DnRange, range_id)
        got = pool.try_claim(session, pool.DN_POOL, rng, [201, 200, 202, 203, 204, 205], 2)
        held = session.scalar(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                   "AND pid = pg_backend_pid()"))
        session.rollback()
    assert got == [200, 202] and held == 2  # not 201 or 203 (in use), not 204 or 205 (not needed)


# The advisory locks other backends hold on a number's claim key (numbering.pool).
_CLAIMED = text("SELECT n FROM unnest(CAST(:numbers AS text[])) AS n JOIN accounts a ON true "
                "WHERE a.id = :account AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' "
                "AND l.granted AND l.pid = ANY(:pids) AND ((l.classid::bigint << 32) | l.objid::bigint) "
                "= hashtextextended('switchboard:dn:' || a.id || ':' || n, 0))")

steps = st.lists(st.one_of(
    st.tuples(st.just("allocate"), st.integers(0, SESSIONS - 1)),
    st.tuples(st.just("commit"), st.integers(0, SESSIONS - 1)),
    st.tuples(st.just("rollback"), st.integers(0, SESSIONS - 1)),
    st.tuples(st.just("give_back"), st.integers(0, 20)),
), min_size=1, max_size=30)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps)
def test_interleaved_allocators_never_share_a_number_and_the_hint_never_passes_a_free_one(pg_engine, plan):
    account_id, range_id, user_id = _world(pg_engine)
    span = Span("", "200", "211")
    all_dns = [span.text(n) for n in range(span.lo, span.hi + 1)]
    # each session on a connection of its own for the whole test (its backend holds its claims)
    connections = [pg_engine.connect() for _ in range(SESSIONS)]
    sessions = [Session(bind=connection) for connection in connections]
    held: list[list[str]] = [[] for _ in range(SESSIONS)]  # what each open transaction took
    observer = Session(pg_engine)
    try:
        for session in sessions:
            _no_waiting(session)

        def committed() -> set[str]:
            observer.rollback()
            return set(observer.scalars(select(Phone.dn).where(Phone.account_id == account_id)))

        pids = [session.scalar(text("SELECT pg_backend_pid()")) for session in sessions]
        fresh = [True] * SESSIONS  # no allocation tried yet in the session's transaction

        def claimed_by_others(me: int) -> set[str]:
            """The numbers other sessions hold a claim on (an import claims ahead)."""
            observer.rollback()
            return set(observer.scalars(_CLAIMED, {"numbers": all_dns, "account": account_id,
                                                   "pids": [p for i, p in enumerate(pids) if i != me]}))

        for step, arg in plan:
            if step == "allocate":
                session, mine = sessions[arg], held[arg]
                others = {dn for i, dns in enumerate(held) if i != arg for dn in dns} | claimed_by_others(arg)
                free = sorted(set(all_dns) - committed() - others - set(mine))
                first, fresh[arg] = fresh[arg], False
                try:
                    dn, rid = numbering.allocate_dn(session, account_id, range_id=range_id)
                except Conflict as exc:
                    assert exc.code == "range_exhausted" and not free, (exc.code, free)
                    continue
                assert dn in free, (dn, free)
                if first:
                    assert dn == free[0], (dn, free)
                session.add(Phone(account_id=account_id, user_id=user_id, type="desk_phone", dn=dn, dn_range_id=rid))
                session.flush()
                mine.append(dn)
            elif step in ("commit", "rollback"):
                getattr(sessions[arg], step)()
                held[arg], fresh[arg] = [], True
            else:  # another unit of work gives a committed phone's number back, now
                with Session(pg_engine) as other:
                    _no_waiting(other)
                    dns = other.scalars(select(Phone.dn).where(Phone.account_id == account_id)
                                        .order_by(Phone.dn)).all()
                    if dns:
                        remove_phone(other, account_id, dns[arg % len(dns)])
                        other.commit()
            taken = committed()
            observer.rollback()
            rng = observer.get(DnRange, range_id)
            below = {span.text(n) for n in range(span.lo, hint_number(span, rng))}
            assert below <= taken, f"hint {rng.next_hint} passes free {sorted(below - taken)}"
    finally:
        for session in sessions:
            session.close()
        for connection in connections:
            connection.close()
        observer.close()
