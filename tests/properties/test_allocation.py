"""Allocation as a property: whatever sequence of new phones (any DN or a chosen one), DN
changes, deleted phones and PBX-reserved DNs, on whatever DN ranges (with a DID range
mapped onto them and an unmapped one):

- no DN and no DID is ever held twice, nor a DN the PBX uses outside Switchboard;
- every number lies in the range it was taken from;
- a DID of a mapped range is on the phone whose DN it maps to;
- a new phone gets the lowest free DN, over the ranges in order, whose mapped DID is free;
- below each range's hint, every number is taken (the hint never skips a free number).

A batch is several new phones in one unit of work, as an import adds them. The steps go
through the same functions as the phone service (allocate_dn / allocate_did
for a new phone, phones._change_numbers for a DN change, store.release_numbers for a
deleted phone), each in a unit of work of its own that commits or rolls back."""

from __future__ import annotations

import contextlib

from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.core.errors import Conflict, ServiceError
from switchboard.mivb.models import MivbService, Phone
from switchboard.mivb.phones import _change_numbers
from switchboard.mivb.store import release_numbers
from switchboard.numbering import service as numbering
from switchboard.numbering.allocation import account_mappings, allocate_did, allocate_dn, refresh_reserved_dns
from switchboard.numbering.models import DidRange, DnRange, PbxReservedDn
from switchboard.numbering.pool import hint_number
from switchboard.numbering.spans import Span, mapping_of
from tests.factories import make_account, make_partner, make_user, system_ctx

# Small ranges that fill up within a few steps: "20"-"27" and "*5"-"*9" style.
RANGES = [("", "20", "27"), ("*", "5", "9"), ("", "30", "33"), ("9", "0", "3")]
ALL_DNS = sorted({Span(*r).text(n) for r in RANGES for n in range(int(r[1]), int(r[2]) + 1)} | {"28", "*4", "99"})

steps = st.lists(st.one_of(
    st.tuples(st.just("add"), st.none()),
    st.tuples(st.just("add"), st.sampled_from(ALL_DNS)),
    st.tuples(st.just("delete"), st.integers(0, 30)),
    st.tuples(st.just("renumber"), st.tuples(st.integers(0, 30), st.sampled_from(ALL_DNS))),
    st.tuples(st.just("reserve"), st.frozensets(st.sampled_from(ALL_DNS), max_size=4)),
    st.tuples(st.just("batch"), st.lists(st.one_of(st.none(), st.sampled_from(ALL_DNS)), min_size=2, max_size=6)),
), min_size=1, max_size=25)
setups = st.fixed_dictionaries({
    "ranges": st.lists(st.sampled_from(RANGES), min_size=1, max_size=3, unique=True),
    "mapped": st.sampled_from([None, "20", "22", "*5", "31"]),
    "unmapped": st.booleans(),
})


@contextlib.contextmanager
def fresh_session(engine):
    """A session whose commits are savepoints of a transaction rolled back at the end."""
    connection = engine.connect()
    transaction = connection.begin()
    try:
        with Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False) as session:
            yield session
    finally:
        transaction.rollback()
        connection.close()


class World:
    def __init__(self, session: Session, setup: dict) -> None:
        self.session = session
        partner, _ = make_partner(session)
        self.account = make_account(session, partner)
        user = make_user(session, self.account)
        self.service = MivbService(user_id=user.id, account_id=self.account.id)
        session.add(self.service)
        ctx = system_ctx(session)
        for prefix, start, end in setup["ranges"]:
            numbering.create_dn_range(ctx, self.account.id, {"prefix": prefix, "start": start, "end": end})
        if setup["mapped"]:
            numbering.create_did_range(ctx, self.account.id, {"start": "+33140000100", "end": "+33140000105",
                                                              "first_dn": setup["mapped"]})
        if setup["unmapped"]:
            numbering.create_did_range(ctx, self.account.id, {"start": "+33140000200", "end": "+33140000202"})
        session.commit()
        self.reserved: set[str] = set()

    # ------------------------------------------------------------ what is there

    def phones(self) -> list[Phone]:
        return list(self.session.scalars(select(Phone).where(Phone.account_id == self.account.id)
                                         .order_by(Phone.created_at, Phone.id)))

    def dn_ranges(self) -> list[DnRange]:
        return list(self.session.scalars(select(DnRange).where(DnRange.account_id == self.account.id)
                                         .order_by(DnRange.prefix + DnRange.start, DnRange.id)))

    def did_ranges(self) -> list[DidRange]:
        return list(self.session.scalars(select(DidRange).where(DidRange.account_id == self.account.id)))

    def expected_next_dn(self) -> str | None:
        """The lowest free DN over the ranges in order whose mapped DID (if any) is free."""
        phones = self.phones()
        held_dns = {p.dn for p in phones} | self.reserved
        held_dids = {p.did for p in phones}
        mappings = [m for m in (mapping_of(r) for r in self.did_ranges()) if m is not None]
        for rng in self.dn_ranges():
            span = Span.of_dn_range(rng)
            for n in range(span.lo, span.hi + 1):
                dn = span.text(n)
                did = next((d for d in (m.did_for(dn) for m in mappings) if d), None)
                if dn not in held_dns and (did is None or did not in held_dids):
                    return dn
        return None

    def unmapped_dids_left(self) -> int:
        held = {p.did for p in self.phones()}
        return sum(1 for r in self.did_ranges() if not r.first_dn
                   for n in range(int(r.start[1:]), int(r.end[1:]) + 1) if f"+{n}" not in held)

    # ------------------------------------------------------------ the steps

    def add(self, wanted: str | None, *, commit: bool = True) -> None:
        expected = self.expected_next_dn() if wanted is None else None
        session, account_id = self.session, self.account.id
        try:
            dn, dn_range_id = allocate_dn(session, account_id, wanted=wanted, with_mapped_did=True)
            did, did_range_id = allocate_did(session, account_id, dn=dn)
            session.add(Phone(account_id=account_id, user_id=self.service.user_id, type="hot_desk", dn=dn,
                              dn_range_id=dn_range_id, did=did, did_range_id=did_range_id))
            session.flush()
            if commit:
                session.commit()
        except ServiceError as exc:
            dids_left = self.unmapped_dids_left()  # before the rollback gives the batch's back
            session.rollback()
            if wanted is None and exc.errors[0].field == "did":  # the DN was free, no DID was
                assert exc.code == "range_exhausted" and dids_left == 0
            elif wanted is None:
                assert expected is None, f"refused ({exc.code}) though {expected} was free"
                assert isinstance(exc, Conflict) and exc.code == "range_exhausted"
            if not commit:
                raise
            return
        if wanted is None:
            assert dn == expected
        else:
            assert dn == wanted

    def batch(self, wanted: list[str | None]) -> None:
        """Several new phones in one unit of work (as an import makes them): the range is
        locked and swept once, each allocation going on from the last one."""
        try:
            for one in wanted:
                self.add(one, commit=False)
            self.session.commit()
        except ServiceError:
            pass  # the whole unit of work was rolled back

    def delete(self, index: int) -> None:
        phones = self.phones()
        if not phones:
            return
        phone = phones[index % len(phones)]
        release_numbers(self.session, phone)
        self.session.delete(phone)
        self.session.commit()

    def renumber(self, index: int, new_dn: str) -> None:
        phones = self.phones()
        if not phones:
            return
        phone = phones[index % len(phones)]
        if phone.dn == new_dn:
            return
        try:
            _change_numbers(self.session, self.account.id, phone, new_dn, {})
            self.session.commit()
        except ServiceError:
            self.session.rollback()
            return
        assert phone.dn == new_dn

    def reserve(self, dns: frozenset[str]) -> None:
        refresh_reserved_dns(self.session, self.account.id, sorted(dns))
        self.session.commit()
        self.reserved = set(dns) - {p.dn for p in self.phones()}

    # ------------------------------------------------------------ what must always hold

    def check(self) -> None:
        session = self.session
        phones = self.phones()
        dns = [p.dn for p in phones]
        dids = [p.did for p in phones if p.did is not None]
        assert len(dns) == len(set(dns)), f"a DN twice: {sorted(dns)}"
        assert len(dids) == len(set(dids)), f"a DID twice: {sorted(dids)}"
        reserved = set(session.scalars(select(PbxReservedDn.dn).where(PbxReservedDn.account_id == self.account.id)))
        assert reserved == self.reserved
        assert not reserved & set(dns), "a DN the PBX uses outside Switchboard was handed out"
        dn_ranges = {r.id: r for r in self.dn_ranges()}
        did_ranges = {r.id: r for r in self.did_ranges()}
        mappings = account_mappings(session, self.account.id)
        for phone in phones:
            assert phone.dn in Span.of_dn_range(dn_ranges[phone.dn_range_id]), (phone.dn, "outside its range")
            if phone.did is not None:
                rng = did_ranges[phone.did_range_id]
                assert phone.did in Span.of_did_range(rng), (phone.did, "outside its range")
                mapping = mapping_of(rng)
                if mapping is not None:
                    assert mapping.did_for(phone.dn) == phone.did, (phone.dn, phone.did, "not the mapped pair")
        taken = set(dns) | reserved
        for rng in dn_ranges.values():
            span = Span.of_dn_range(rng)
            below = [span.text(n) for n in range(span.lo, hint_number(span, rng))]
            assert set(below) <= taken, f"hint {rng.next_hint} skips free {sorted(set(below) - taken)}"


@given(setups, steps)
@example({"ranges": [("", "20", "27")], "mapped": "20", "unmapped": False},
         [("add", None), ("add", None), ("renumber", (0, "27")), ("add", None), ("add", None)])
@example({"ranges": [("", "20", "27"), ("*", "5", "9")], "mapped": "*5", "unmapped": True},
         [("add", "*7"), ("add", None), ("reserve", frozenset({"*5", "20"})), ("add", None), ("delete", 0),
          ("reserve", frozenset()), ("add", None), ("add", None)])
@example({"ranges": [("", "20", "27")], "mapped": "22", "unmapped": False},
         [("batch", [None, "21", None, None]), ("delete", 1), ("batch", [None, "25", None])])
def test_allocation_never_hands_out_a_number_twice_or_outside_its_range(engine, setup, plan):
    with fresh_session(engine) as session:
        world = World(session, setup)
        for step, argument in plan:
            if step == "renumber":
                world.renumber(*argument)
            else:
                getattr(world, step)(argument)
            world.check()
