"""Allocation primitives: next free DN and DID, explicit numbers, reserved DNs, release
and reuse, exhaustion, DID mapping, and a cost that does not grow with the range."""

from __future__ import annotations

import pytest
from sqlalchemy import event, insert, select

from switchboard.core.errors import Conflict, NotFound, ValidationFailed
from switchboard.mivb import limits
from switchboard.mivb.models import Phone
from switchboard.numbering import service as numbering
from switchboard.numbering.models import DidRange, DnRange, PbxReservedDn
from switchboard.numbering.service import (
    UNSET,
    allocate_did,
    allocate_dn,
    release_did,
    release_dn,
)
from tests.numbering.conftest import add_phone, did_range, dn_range, holder, reserve


def take_dn(session, account, service, **kwargs) -> str:
    """One allocation in a unit of work of its own, as a request makes it."""
    dn, range_id = allocate_dn(session, account.id, **kwargs)
    add_phone(session, account, dn, dn_range_id=range_id, service=service)
    session.commit()
    return dn


def test_sequential_allocation_then_next_range(session, tenant_a, phone_holder):
    account = tenant_a.account
    second = dn_range(session, account, "3000", "3001")
    first = dn_range(session, account, "2000", "2002")
    got = [allocate_dn(session, account.id) for _ in range(1)]
    assert got == [("2000", first.id)]
    add_phone(session, account, "2000", dn_range_id=first.id, service=phone_holder)
    assert [take_dn(session, account, phone_holder) for _ in range(4)] == ["2001", "2002", "3000", "3001"]
    with pytest.raises(Conflict) as caught:
        allocate_dn(session, account.id)
    assert caught.value.code == "range_exhausted" and caught.value.errors[0].field == "dn"
    assert second.next_hint == "3001" and first.next_hint == "2002"


def test_allocation_without_commit_joins_the_callers_transaction(session, tenant_a, phone_holder):
    rng = dn_range(session, tenant_a.account, "2000", "2009")
    session.commit()
    version = rng.version
    dn, _ = allocate_dn(session, tenant_a.account.id)
    assert dn == "2000"
    session.rollback()  # the caller failed: the number was never given
    assert allocate_dn(session, tenant_a.account.id)[0] == "2000"
    assert session.get(DnRange, rng.id).version == version


def test_wanted_dn_then_auto_skips_it(session, tenant_a, phone_holder):
    account = tenant_a.account
    rng = dn_range(session, account, "2000", "2099")
    assert take_dn(session, account, phone_holder, wanted="2001") == "2001"
    assert [take_dn(session, account, phone_holder) for _ in range(3)] == ["2000", "2002", "2003"]
    assert take_dn(session, account, phone_holder, wanted="2099", range_id=rng.id) == "2099"
    with pytest.raises(Conflict) as caught:
        allocate_dn(session, account.id, wanted="2002")
    assert (caught.value.code, caught.value.errors[0].field) == ("dn_taken", "dn")


def test_wanted_dn_errors(session, tenant_a, tenant_b, phone_holder):
    account = tenant_a.account
    rng = dn_range(session, account, "2000", "2099")
    other = dn_range(session, account, "00", "99", prefix="*7")
    foreign = dn_range(session, tenant_b.account, "5000", "5099")
    reserve(session, account, "2050")
    cases = [("20a0", "invalid_dn"), ("12345678", "invalid_dn"), ("", "invalid_dn"),
             ("2100", "dn_out_of_range"), ("20000", "dn_out_of_range"), ("5000", "dn_out_of_range")]
    for wanted, code in cases:
        with pytest.raises(ValidationFailed) as caught:
            allocate_dn(session, account.id, wanted=wanted)
        assert (caught.value.code, caught.value.errors[0].field) == (code, "dn"), wanted
    with pytest.raises(ValidationFailed) as caught:
        allocate_dn(session, account.id, wanted="*705", range_id=rng.id)
    assert caught.value.code == "dn_out_of_range"
    assert allocate_dn(session, account.id, wanted="*705") == ("*705", other.id)
    with pytest.raises(Conflict) as caught:
        allocate_dn(session, account.id, wanted="2050")  # in use on the PBX
    assert caught.value.code == "dn_taken"
    with pytest.raises(NotFound):
        allocate_dn(session, account.id, range_id=foreign.id)
    # the same DN in another account's PBX is no conflict
    add_phone(session, tenant_b.account, "2010")
    assert allocate_dn(session, account.id, wanted="2010") == ("2010", rng.id)


def test_reserved_dns_are_skipped(session, tenant_a, phone_holder):
    account = tenant_a.account
    dn_range(session, account, "2000", "2099")
    reserve(session, account, "2000", "2001", "2003", "20000", "3000")
    assert [take_dn(session, account, phone_holder) for _ in range(3)] == ["2002", "2004", "2005"]


def test_release_then_reuse_of_the_lowest(session, tenant_a, phone_holder):
    account = tenant_a.account
    rng = dn_range(session, account, "2000", "2099")
    phones = {}
    for _ in range(6):
        dn, range_id = allocate_dn(session, account.id)
        phones[dn] = add_phone(session, account, dn, dn_range_id=range_id, service=phone_holder)
    for dn in ("2004", "2001"):
        session.delete(phones[dn])
        release_dn(session, rng.id, dn)
    session.flush()
    assert rng.next_hint == "2001"
    assert [take_dn(session, account, phone_holder) for _ in range(3)] == ["2001", "2004", "2006"]
    release_dn(session, rng.id, "9999")  # not of the range: ignored
    release_dn(session, None, None)
    assert rng.next_hint == "2007"


def test_exhaustion_of_one_range_and_the_hint_at_the_end(session, tenant_a, phone_holder):
    account = tenant_a.account
    rng = dn_range(session, account, "0", "2", prefix="*")
    assert [take_dn(session, account, phone_holder, range_id=rng.id) for _ in range(3)] == ["*0", "*1", "*2"]
    assert rng.next_hint == "*2"
    for _ in range(2):
        with pytest.raises(Conflict) as caught:
            allocate_dn(session, account.id, range_id=rng.id)
        assert caught.value.code == "range_exhausted"
    phone = session.scalar(select(Phone).where(Phone.dn == "*2"))
    session.delete(phone)
    release_dn(session, rng.id, "*2")
    assert take_dn(session, account, phone_holder) == "*2"


def test_no_range_at_all(session, tenant_a):
    with pytest.raises(Conflict) as caught:
        allocate_dn(session, tenant_a.account.id)
    assert caught.value.code == "range_exhausted"


def test_numbers_sorting_between_the_bounds_are_not_mistaken_for_the_range(session, tenant_a, phone_holder):
    account = tenant_a.account
    dn_range(session, account, "2000", "2009")
    # all of these sort between "2000" and "2009" as strings, none is a DN of the range
    for dn in ("20000", "2000*", "200", "200*"):
        add_phone(session, account, dn, service=phone_holder)
    assert [take_dn(session, account, phone_holder) for _ in range(3)] == ["2000", "2001", "2002"]


def test_sweep_across_batches(session, tenant_a, phone_holder, monkeypatch):
    monkeypatch.setattr(numbering, "SWEEP_BATCH", 4)
    account = tenant_a.account
    rng = dn_range(session, account, "000", "999", prefix="8")
    used = [n for n in range(40) if n not in (13, 31)]
    for n in used:
        add_phone(session, account, f"8{n:03d}", dn_range_id=rng.id, service=phone_holder)
    reserve(session, account, "8013", "8040", "8041")
    assert [take_dn(session, account, phone_holder) for _ in range(3)] == ["8031", "8042", "8043"]
    assert numbering.available_dns(_ctx(session, tenant_a), account.id, rng.id, 5) == [
        "8044", "8045", "8046", "8047", "8048"]


def _ctx(session, tenant):
    from tests.factories import ctx_for
    return ctx_for(session, tenant.partner_admin)


def test_refresh_reserved_dns(session, tenant_a, tenant_b, phone_holder):
    account = tenant_a.account
    rng = dn_range(session, account, "2000", "2099")
    add_phone(session, account, "2001", dn_range_id=rng.id, service=phone_holder)
    numbering.refresh_reserved_dns(session, account.id, ["2000", "2001", "2002", "4000", "*bad", "12345678"])
    reserved = set(session.scalars(select(PbxReservedDn.dn).where(PbxReservedDn.account_id == account.id)))
    assert reserved == {"2000", "2002", "4000"}  # 2001 is our own phone
    assert [take_dn(session, account, phone_holder) for _ in range(2)] == ["2003", "2004"]
    assert rng.next_hint == "2005"
    # the PBX no longer uses 2000 and 2002: they become free again, lowest first
    numbering.refresh_reserved_dns(session, account.id, ["2001", "4000"])
    reserved = set(session.scalars(select(PbxReservedDn.dn).where(PbxReservedDn.account_id == account.id)))
    assert reserved == {"4000"}
    assert rng.next_hint == "2000"
    assert [take_dn(session, account, phone_holder) for _ in range(3)] == ["2000", "2002", "2005"]
    # another account is untouched
    reserve(session, tenant_b.account, "2000")
    numbering.refresh_reserved_dns(session, account.id, [])
    assert session.get(PbxReservedDn, (tenant_b.account.id, "2000")) is not None


# ---------------------------------------------------------------- DIDs

def test_did_mapping(session, tenant_a, phone_holder):
    account = tenant_a.account
    dn_range(session, account, "2000", "2999")
    mapped = did_range(session, account, "+14155550100", "+14155550199", first_dn="2100")
    assert allocate_did(session, account.id, dn="2142") == ("+14155550142", mapped.id)
    assert allocate_did(session, account.id, dn="2142", wanted="+14155550142") == ("+14155550142", mapped.id)
    # a DN outside the mapping and no unmapped range: no DID
    assert allocate_did(session, account.id, dn="2200") == (None, None)
    assert allocate_did(session, account.id, dn="2142", wanted=None) == (None, None)
    # a mapped DID only goes to its DN
    with pytest.raises(ValidationFailed) as caught:
        allocate_did(session, account.id, dn="2143", wanted="+14155550142")
    assert (caught.value.code, caught.value.errors[0].field) == ("did_not_mapped", "did")
    assert "2142" in str(caught.value)
    add_phone(session, account, "2142", did="+14155550142", did_range_id=mapped.id, service=phone_holder)
    with pytest.raises(Conflict) as caught:
        allocate_did(session, account.id, dn="2142")
    assert (caught.value.code, caught.value.errors[0].field) == ("did_taken", "did")


def test_unmapped_did_allocation_release_and_exhaustion(session, tenant_a, phone_holder):
    account = tenant_a.account
    mapped = did_range(session, account, "+14155550100", "+14155550199", first_dn="2100")
    plain = did_range(session, account, "+33100000000", "+33100000002")
    # DN 2150 is mapped: the mapping wins; DN 3000 is not: the next free unmapped DID
    assert allocate_did(session, account.id, dn="2150") == ("+14155550150", mapped.id)
    got = []
    for dn in ("3000", "3001", "3002"):
        did, rid = allocate_did(session, account.id, dn=dn)
        assert rid == plain.id
        add_phone(session, account, dn, did=did, did_range_id=rid, service=phone_holder)
        got.append(did)
    assert got == ["+33100000000", "+33100000001", "+33100000002"]
    with pytest.raises(Conflict) as caught:
        allocate_did(session, account.id, dn="3003")
    assert (caught.value.code, caught.value.errors[0].field) == ("range_exhausted", "did")
    # the mapped range is never used for another DN, even with free DIDs
    assert allocate_did(session, account.id, dn="2151")[1] == mapped.id
    phone = session.scalar(select(Phone).where(Phone.did == "+33100000001"))
    session.delete(phone)
    release_did(session, plain.id, "+33100000001")
    assert allocate_did(session, account.id, dn="3003") == ("+33100000001", plain.id)


def test_wanted_did_errors_and_did_taken_across_accounts(session, tenant_a, tenant_b, phone_holder):
    account = tenant_a.account
    rng = did_range(session, account, "+14155550100", "+14155550199")
    did_range(session, tenant_b.account, "+14155550200", "+14155550299")
    for wanted, code in [("14155550100", "invalid_phone_number"), ("+1415", "invalid_phone_number"),
                         ("+141555501000", "invalid_phone_number"), ("+14155550200", "did_out_of_range"),
                         ("+1 415 555 0200", "did_out_of_range")]:
        with pytest.raises(ValidationFailed) as caught:
            allocate_did(session, account.id, dn="2000", wanted=wanted)
        assert (caught.value.code, caught.value.errors[0].field) == (code, "did"), wanted
    assert allocate_did(session, account.id, dn="2000", wanted="+14155550150") == ("+14155550150", rng.id)
    # a DID is unique everywhere: on a phone of another account it is taken for us too
    add_phone(session, tenant_b.account, "2000", did="+14155550150", service=holder(session, tenant_b.account))
    with pytest.raises(Conflict) as caught:
        allocate_did(session, account.id, dn="2000", wanted="+14155550150")
    assert caught.value.code == "did_taken"
    # and the sweep skips it
    add_phone(session, tenant_b.account, "2001", did="+14155550100", service=holder(session, tenant_b.account))
    assert allocate_did(session, account.id, dn="2000") == ("+14155550101", rng.id)
    assert allocate_did(session, account.id, dn="2000", wanted=UNSET) == ("+14155550102", rng.id)
    assert session.get(DidRange, rng.id).next_hint == "+14155550103"


# ---------------------------------------------------------------- cost

class StatementCounter:
    def __init__(self, engine):
        self.engine = engine
        self.statements: list[str] = []

    def _on(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append(statement)

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._on)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._on)


@pytest.fixture(autouse=True)
def room_for_full_ranges(monkeypatch):
    """Some tests fill a range with 5,000 phones, all a PBX holds, then take more."""
    monkeypatch.setattr(limits, "CAPACITY_DEVICES", 100_000)


def _fill(session, account, rng, numbers, service):
    session.execute(insert(Phone), [
        {"id": f"{rng.id[:20]}{n:012d}", "account_id": account.id, "user_id": service.user_id, "type": "desk_phone",
         "dn": f"{n:05d}", "dn_range_id": rng.id} for n in numbers])


@pytest.mark.parametrize("used", [5, 5000])
def test_allocation_cost_does_not_grow_with_the_range(session, engine, tenant_a, phone_holder, used):
    """With 5 or 5,000 numbers in use, an allocation runs the same few statements, each
    reading at most one batch: the pool is never read whole."""
    account = tenant_a.account
    rng = dn_range(session, account, "10000", "19999")
    _fill(session, account, rng, range(10000, 10000 + used), phone_holder)
    # numbers used as allocation leaves them: every DN below the hint is taken
    rng.next_hint = f"{10000 + used}"
    session.flush()
    with StatementCounter(engine) as counter:
        for _ in range(5):
            take_dn(session, account, phone_holder)
    selects = [s for s in counter.statements if s.lstrip().upper().startswith("SELECT")]
    sweeps = [s for s in selects if "mivb_phones.dn >=" in s or "pbx_reserved_dns.dn >=" in s]
    assert len(sweeps) == 5  # per allocation: one statement, a batch of phones and one of reserved DNs
    assert all("mivb_phones.dn >=" in s and "pbx_reserved_dns.dn >=" in s and s.upper().count("LIMIT") == 2
               for s in sweeps)
    # the unit's phone is counted against the PBX's capacity as it commits (mivb/limits.py:
    # on PostgreSQL under the account's lock)
    allocating = [s for s in counter.statements if "count(*)" not in s and "pg_advisory_xact_lock(" not in s]
    assert len(counter.statements) - len(allocating) == 5 * (2 if engine.dialect.name == "postgresql" else 1)
    per_allocation = len(allocating) / 5
    assert per_allocation <= 7, allocating[:10]


def test_allocations_in_one_unit_of_work_sweep_the_range_once(session, engine, tenant_a, phone_holder):
    """A bulk import allocates many numbers in one unit of work: the range is locked and
    swept once, each allocation goes on from the last one."""
    account = tenant_a.account
    rng = dn_range(session, account, "10000", "19999")
    _fill(session, account, rng, range(10000, 10300), phone_holder)
    session.commit()
    with StatementCounter(engine) as counter:
        got = []
        for _ in range(20):
            dn, range_id = allocate_dn(session, account.id)
            add_phone(session, account, dn, dn_range_id=range_id, service=phone_holder)
            got.append(dn)
    assert got == [str(n) for n in range(10300, 10320)]
    locks = [s for s in counter.statements if "FOR UPDATE" in s.upper()]
    sweeps = [s for s in counter.statements if "mivb_phones.dn >=" in s or "pbx_reserved_dns.dn >=" in s]
    assert len(locks) <= 1  # (SQLite has no FOR UPDATE: its one writer is the lock)
    assert len(sweeps) == 2  # two batches catch up from the hint (300 used), then nothing for 19 more
    session.commit()
    assert session.get(DnRange, rng.id).next_hint == "10320"


def test_catching_up_reads_used_numbers_in_batches_only_above_the_hint(session, engine, tenant_a, phone_holder):
    """Numbers taken behind the hint's back (imported, bulk-loaded): the first allocation
    walks them batch by batch, then the hint makes the next ones cheap again."""
    account = tenant_a.account
    rng = dn_range(session, account, "10000", "19999")
    _fill(session, account, rng, range(10000, 15000), phone_holder)
    session.flush()
    with StatementCounter(engine) as counter:
        assert take_dn(session, account, phone_holder) == "15000"
    sweeps = [s for s in counter.statements if "mivb_phones.dn >=" in s]
    assert len(sweeps) == 5000 // numbering.SWEEP_BATCH + 1
    with StatementCounter(engine) as counter:
        assert take_dn(session, account, phone_holder) == "15001"
    assert len([s for s in counter.statements if "mivb_phones.dn >=" in s]) == 1


def test_next_free_dns_span_the_ranges_in_order(session, tenant_a):
    from switchboard.numbering import service
    from tests.factories import ctx_for

    ctx = ctx_for(session, tenant_a.partner_admin)
    service.create_dn_range(ctx, tenant_a.account.id, {"start": "5000", "end": "5001"})
    service.create_dn_range(ctx, tenant_a.account.id, {"start": "3000", "end": "3001"})
    assert service.next_free_dns(ctx, tenant_a.account.id, limit=3) == ["3000", "3001", "5000"]


def test_a_number_skipped_then_taken_by_name_is_not_handed_out_again(session, tenant_a, phone_holder):
    """One unit of work (an import): 2000 is skipped (its mapped DID is held), then taken
    by name with another DID; once the mapped DID comes back, 2000 must not be offered."""
    account = tenant_a.account
    dns = dn_range(session, account, "2000", "2009")
    mapped = did_range(session, account, "+33150000000", "+33150000009", first_dn="2000")
    did_range(session, account, "+33150000100", "+33150000109")  # unmapped
    keeper = add_phone(session, account, "2005", dn_range_id=dns.id, did="+33150000000", did_range_id=mapped.id,
                       service=phone_holder)  # renumbered away from 2000, kept its DID
    dn, _ = allocate_dn(session, account.id, with_mapped_did=True)
    assert dn == "2001"  # 2000 skipped
    add_phone(session, account, dn, dn_range_id=dns.id, did="+33150000001", did_range_id=mapped.id,
              service=phone_holder)
    dn, range_id = allocate_dn(session, account.id, wanted="2000")
    did, did_range_id = allocate_did(session, account.id, dn=dn, wanted="+33150000100")
    add_phone(session, account, dn, dn_range_id=range_id, did=did, did_range_id=did_range_id, service=phone_holder)
    release_did(session, mapped.id, keeper.did)
    keeper.did, keeper.did_range_id = None, None
    session.flush()
    assert allocate_dn(session, account.id, with_mapped_did=True)[0] == "2002"


def test_the_hint_stops_at_every_number_a_transaction_met_but_did_not_take(session, tenant_a, phone_holder):
    """Where a transaction's sweep got is not past a number it skipped as unusable, found
    another transaction taking, claimed without handing out, or had not tried yet: those
    may be free when it commits (PostgreSQL reaches the last ones after a second try at
    the end of a range, where no test of several sessions gets)."""
    from switchboard.numbering.pool import _Cursor
    from switchboard.numbering.spans import Span
    from switchboard.numbering.sweep import FreeNumbers

    span = Span("", "200", "209")
    for met in ("skipped", "busy", "claimed", "untried"):
        cursor = _Cursor(span, FreeNumbers(session, span, [], span.hi + 1))  # swept to the end
        assert cursor.hint() == span.hi + 1
        getattr(cursor, met).extend([206, 204])
        assert cursor.hint() == 204, met
