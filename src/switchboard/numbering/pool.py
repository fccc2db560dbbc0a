"""One next-free allocator for every kind of number (DNs and DIDs).

It follows NetBox's next-available, without holding the pool while the caller works on:

- each range keeps ``next_hint`` (every number of the range below it is taken) and a
  sweep walks forward from it over the used numbers, in batches read in index order,
  until the first gap, so an allocation costs the same in an empty and a full range;
- on PostgreSQL a transaction *claims* the numbers it may hand out (a transaction-level
  advisory lock per number, tried without waiting) and then reads again whether they are
  still free: a number another transaction is taking is skipped, not waited for, so
  allocations from one range run side by side. The range row is only read ``FOR KEY
  SHARE`` (it cannot be deleted meanwhile). SQLite has a single writer: what the sweep
  read stays true until the commit, nothing is claimed;
- the hint moves up when the transaction commits, to where its sweep got, unless a
  number was given back since it read the range or another transaction is moving the
  hint right then (it then lags, which is safe); a number given back lowers it in the
  same atomic update that counts the give-back (``given_back``), so no allocator that
  read the range before can move past it.

The unique constraints on ``mivb_phones`` are the last defence. Nothing here commits:
the number and the phone that gets it are committed together by the caller's unit of work.

A ``Pool`` says what differs between kinds: the range model, how a range reads as a
span, where the numbers it hands out are in use, and what a claim is scoped to."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Callable

from sqlalchemy import bindparam, case, func, literal, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from switchboard.core.uow import keep_until_commit, kept_until_commit, last_at_commit, tx_cache
from switchboard.numbering.claims import claim_key, claims_numbers, try_claim
from switchboard.numbering.sweep import FreeNumbers, Source, Sources, used_among
from switchboard.mivb.models import Phone
from switchboard.numbering.models import DidRange, DnRange, PbxReservedDn
from switchboard.numbering.spans import Span

# Numbers claimed at once: one, then twice as many each time the same transaction has
# handed out all it claimed (an import takes many), up to this. Claiming more than it
# takes would leave gaps behind concurrent allocators (filled later, never lost), and a
# number claimed ahead is refused to whoever asks for it by name until the claim ends.
MAX_CLAIM_BLOCK = 8
# Candidates tried beyond the ones wanted once concurrent allocators were met.
CLAIM_SLACK = 16

Usable = Callable[[str], bool]


@dataclass(frozen=True)
class Pool:
    """A kind of number: its range model, its span, the columns that hold it, and the
    scope a number is unique in (a DN within its account, a DID everywhere)."""

    kind: str
    model: type
    span_of: Callable[[Any], Span]
    sources_of: Callable[[str, Span], list[Source]]
    per_account: bool

    def sources(self, rng: Any) -> Sources:
        return _sources(self, rng.account_id, self.span_of(rng))


@functools.lru_cache(maxsize=1024)
def _sources(pool: Pool, account_id: str, span: Span) -> Sources:
    return Sources(pool.sources_of(account_id, span), span)


def _dn_sources(account_id: str, span: Span) -> list[Source]:
    # DNs are unique within a PBX (= account): the account's phones, and the DNs the PBX
    # uses outside Switchboard.
    return [
        (Phone.dn, [Phone.account_id == account_id]),
        (PbxReservedDn.dn, [PbxReservedDn.account_id == account_id, PbxReservedDn.length == span.length]),
    ]


def _did_sources(account_id: str, span: Span) -> list[Source]:
    return [(Phone.did, [])]  # DIDs are unique everywhere


DN_POOL = Pool("dn", DnRange, Span.of_dn_range, _dn_sources, per_account=True)
DID_POOL = Pool("did", DidRange, Span.of_did_range, _did_sources, per_account=False)


# ---------------------------------------------------------------- ranges and hints

@functools.cache
def _read_statement(pool: Pool, claiming: bool, claim_hint: bool) -> Any:
    model, held = pool.model, literal(False)
    query = select(model).where(model.id == bindparam("range_id")).execution_options(populate_existing=True)
    if claiming:
        if claim_hint:
            held = func.pg_try_advisory_xact_lock(claim_key(pool, model.account_id, model.next_hint))
        query = query.with_for_update(read=True, key_share=True)
    return query.add_columns(held)


@functools.cache
def _move_statement(pool: Pool, claiming: bool) -> Any:
    """next_hint := :to if nobody gave a number back since :read_given_back was read, the
    hint is below :to (same length: the texts sort like the numbers), and nobody else is
    moving it right now (skipped, not waited for). The range's time of change stays: the
    hint is bookkeeping, not a change of the range as the admin defined it."""
    model, to = pool.model, bindparam("to")
    hint = model.next_hint.collate("C") if claiming else model.next_hint
    free_to_move = (select(model.id).where(model.id == bindparam("range_id"),
                                           model.given_back == bindparam("read_given_back"),
                                           func.length(model.next_hint) == func.length(to), hint < to)
                    .with_for_update(key_share=True, skip_locked=True).scalar_subquery())
    return (update(model).where(model.id == free_to_move).values(next_hint=to, updated_at=model.updated_at)
            .execution_options(synchronize_session=False))


def read_range(session: Session, pool: Pool, range_id: str, *, claim_hint: bool = False) -> Any | None:
    """The range row read afresh, once per transaction (what it read of the hint is what
    its hint update compares with). PostgreSQL: FOR KEY SHARE, so the range cannot be
    deleted until this transaction ends, while others allocate from it too; with
    claim_hint, the same statement claims the number at the hint, the one an allocation
    most likely hands out (read free after the claim, it needs no second look)."""
    cache = tx_cache(session)
    if ("range", range_id) in cache:
        return cache[("range", range_id)]
    row = session.execute(_read_statement(pool, claims_numbers(session), claim_hint), {"range_id": range_id}).first()
    if row is None:
        return None
    rng, hint_held = row
    cache[("range", range_id)] = rng
    cache[("read", range_id)] = (rng.next_hint, rng.given_back)
    if claim_hint:  # (number, claimed): not claimed, another transaction holds it
        cache[("early", range_id)] = (pool.span_of(rng).number(rng.next_hint), bool(hint_held))
    return rng


def hint_number(span: Span, rng: DnRange | DidRange) -> int:
    n = span.number(rng.next_hint)
    return span.lo if n is None else n


def free_in_range(session: Session, pool: Pool, rng: Any, usable: Usable | None = None) -> Iterator[str]:
    """The free (and usable) numbers of a range from its hint, lowest first, without
    claiming anything (what a "pick a number" list offers)."""
    span = pool.span_of(rng)
    for n in FreeNumbers(session, span, pool.sources(rng), hint_number(span, rng)):
        text = span.text(n)
        if usable is None or usable(text):
            yield text


@dataclass
class _Cursor:
    """Where this transaction is in a range: the free numbers ahead (read lazily), and
    what it met on the way that the hint must not pass: numbers skipped as unusable,
    numbers another transaction was taking, numbers it claimed and has not handed out."""

    span: Span
    free: FreeNumbers
    skipped: list[int] = field(default_factory=list)
    busy: list[int] = field(default_factory=list)
    claimed: list[int] = field(default_factory=list)
    taken: set[int] = field(default_factory=set)
    untried: list[int] = field(default_factory=list)
    want: int = 1
    full: bool = False  # swept to the end, and nobody had given a number back since the range was read

    def pull(self) -> int | None:
        """The next number the sweep finds free (not taken by name in this transaction)."""
        while self.untried:
            n = self.untried.pop(0)
            if n not in self.taken:
                return n
        return next((n for n in self.free if n not in self.taken), None)

    def hint(self) -> int:
        """The lowest number the sweep cannot say is taken (the next free one when what
        it read tells it: the next allocation starts on a free number)."""
        ahead = self.free.peek_known()
        return min([self.free.position if ahead is None else ahead,
                    *self.skipped, *self.busy, *self.claimed, *self.untried])


def _cursor(session: Session, pool: Pool, rng: Any) -> _Cursor:
    cache = tx_cache(session)
    key = ("cursor", rng.id)
    if key not in cache:
        span = pool.span_of(rng)
        start = hint_number(span, rng)
        cache[key] = _Cursor(span, FreeNumbers(session, span, pool.sources(rng), start))
        _move_hint_at_commit(session, pool, rng)
    return cache[key]


def _next_candidate(session: Session, pool: Pool, rng: Any, cursor: _Cursor) -> int | None:
    """The next free number this transaction may hand out: on PostgreSQL claimed first,
    a block at a time, and found still free after the claim."""
    if not claims_numbers(session):
        return cursor.pull()
    cache = tx_cache(session)
    early, early_held = cache.get(("early", rng.id), (None, False))
    retried = False
    while not cursor.claimed:
        # The candidates: what this transaction wants and, once it met numbers others
        # were taking, CLAIM_SLACK more (reading ahead costs sweeps in a full range).
        size = cursor.want + (CLAIM_SLACK if cursor.busy or (early is not None and not early_held) else 0)
        block = [n for n in (cursor.pull() for _ in range(size)) if n is not None]
        if not early_held and early in block:  # free, and another transaction held it: no need to ask
            block.remove(early)
            cursor.busy.append(early)
            early, early_held = cache[("early", rng.id)] = None, False  # (once)
            if not block:
                continue
        if not block:
            if retried or not cursor.busy:
                return None
            # At the end of the range: the ones others were taking may be free again
            # (their transaction rolled back).
            cursor.untried, cursor.busy, retried = sorted(cursor.busy), [], True
            continue
        if early_held and block[0] == early:  # claimed before the sweep read it free: free it is
            cursor.untried = block[1:] + cursor.untried
            cursor.claimed = [block[0]]
            cache[("early", rng.id)] = None, False
            break
        got = try_claim(session, pool, rng, block, cursor.want)
        last = got[-1] if len(got) == cursor.want else block[-1]
        cursor.busy += [n for n in block if n <= last and n not in got]  # (or taken since the sweep)
        cursor.untried = [n for n in block if n > last] + cursor.untried
        used = used_among(session, cursor.span, pool.sources(rng), got) if got else set()
        cursor.claimed = [n for n in got if n not in used]
    if len(cursor.claimed) == 1:  # all it claimed is handed out: a transaction that
        cursor.want = min(cursor.want * 2, MAX_CLAIM_BLOCK)  # takes many will want more
    return cursor.claimed.pop(0)


def take_next(session: Session, pool: Pool, range_id: str, usable: Usable | None = None) -> str | None:
    """The lowest free number of the range that `usable` accepts (and, on PostgreSQL,
    that no other transaction is taking); None when there is none. Within one
    transaction the range is swept once: each allocation goes on from the last one."""
    rng = read_range(session, pool, range_id, claim_hint=True)
    if rng is None:
        return None
    cursor = _cursor(session, pool, rng)
    found = _take(session, pool, rng, cursor, usable)
    if found is None and claims_numbers(session) and not cursor.full:
        if _given_back_since_read(session, pool, rng):
            cursor = _cursor(session, pool, rng)  # others gave numbers back: sweep again
            found = _take(session, pool, rng, cursor, usable)
        else:  # asked once a transaction (a full first range is not read again for each allocation)
            cursor.full = True
    # What this transaction reads of the hint follows its sweep; the row moves at commit.
    set_committed_value(rng, "next_hint", cursor.span.text(min(cursor.hint(), cursor.span.hi)))
    return found


def _given_back_since_read(session: Session, pool: Pool, rng: Any) -> bool:
    """At the end of the range: whether another transaction gave numbers back since this
    one read the range (they are below where its sweep got). If so, what it reads of the
    hint goes down to the committed one and the next sweep starts there."""
    model, cache = pool.model, tx_cache(session)
    row = session.execute(select(model.next_hint, model.given_back).where(model.id == rng.id)).first()
    if row is None or row.given_back == cache[("read", rng.id)][1]:
        return False
    span = pool.span_of(rng)
    committed = span.number(row.next_hint)
    set_committed_value(rng, "next_hint", span.text(min(hint_number(span, rng),
                                                        span.lo if committed is None else committed)))
    cache[("read", rng.id)] = (row.next_hint, row.given_back)
    forget_cursor(session, rng.id)
    return True


def _take(session: Session, pool: Pool, rng: Any, cursor: _Cursor, usable: Usable | None) -> str | None:
    span = cursor.span
    for i, n in enumerate(cursor.skipped):  # unusable before: maybe usable now
        if usable is None or usable(span.text(n)):
            del cursor.skipped[i]
            return span.text(n)
    while (n := _next_candidate(session, pool, rng, cursor)) is not None:
        if usable is None or usable(span.text(n)):
            return span.text(n)
        cursor.skipped.append(n)
    return None


def _move_hint_at_commit(session: Session, pool: Pool, rng: Any) -> None:
    """When the transaction commits (`_write_ranges`), the hint moves up to where this
    transaction's view of it got (its sweeps, lowered by what it gave back), provided
    nobody gave a number back since it was read, the hint is below that, and nobody is
    moving it right now (skipped, not waited for). Otherwise the hint lags, which is safe:
    the next sweep walks over the taken numbers. (Every number below the view was taken
    when swept and only a give-back frees one; one that commits later waits for this
    update and lowers the hint again.)"""
    range_id, span = rng.id, pool.span_of(rng)

    def move(s: Session) -> None:
        read_hint, read_given_back = tx_cache(s)[("read", range_id)]
        read, new = span.number(read_hint), span.number(rng.next_hint)
        if new is None or (read is not None and new <= read):
            return
        s.execute(_move_statement(pool, claims_numbers(s)),
                  {"range_id": range_id, "read_given_back": read_given_back, "to": rng.next_hint})

    tx_cache(session)[("mover", range_id)] = move


def forget_cursor(session: Session, range_id: str) -> None:
    """What is free in the range changed behind the sweep (numbers given back, the PBX's
    own DNs read again): the next allocation sweeps again from the hint."""
    tx_cache(session).pop(("cursor", range_id), None)


def taken_by_name(session: Session, pool: Pool, rng: Any, value: str) -> None:
    """A number of the range was taken by name in this transaction: the sweep must not
    offer it."""
    n = pool.span_of(rng).number(value)
    cursor = tx_cache(session).get(("cursor", rng.id))
    if n is not None and cursor is not None:
        cursor.taken.add(n)
        for kept in (cursor.claimed, cursor.skipped):
            if n in kept:
                kept.remove(n)


def give_back(session: Session, pool: Pool, range_id: str | None, value: str | None) -> None:
    """`value` is free again (a phone was deleted or renumbered, the PBX stopped using a
    DN). What this transaction reads of the hint follows at once; when it commits, one
    atomic update counts the give-back and lowers the hint to the lowest number given back
    if that is below the hint as committed then: an allocator that moved the hint
    meanwhile is corrected, and one that read the hint before cannot move it any more.
    Kept until the commit even if a later savepoint rolls back (an import's next row)."""
    if range_id is None or value is None:
        return
    rng = read_range(session, pool, range_id)
    if rng is None:
        return
    span = pool.span_of(rng)
    n = span.number(value)
    forget_cursor(session, range_id)
    if n is None:
        return
    if n < hint_number(span, rng):
        set_committed_value(rng, "next_hint", value)
    keep_until_commit(session, "numbering:give_back", (pool, range_id, n, value))


@functools.cache
def _give_back_statement(pool: Pool, claiming: bool) -> Any:
    model, lowest = pool.model, bindparam("lowest")
    # Same length, same prefix: the texts sort like the numbers, byte by byte.
    hint = model.next_hint.collate("C") if claiming else model.next_hint
    return (update(model).where(model.id == bindparam("range_id"))
            .values(given_back=model.given_back + 1, next_hint=case((hint > lowest, lowest), else_=model.next_hint),
                    updated_at=model.updated_at)
            .execution_options(synchronize_session=False))


@last_at_commit
def _write_ranges(session: Session) -> None:
    """The ranges' writes of a committing transaction, last (their row locks are held the
    shortest time) and in one order for every transaction (two that wait for each other's
    range rows cannot deadlock): the give-backs by range, each after its own range's
    hint move (the count it bumps would stop the move), then the other hint moves, which
    never wait."""
    lowest: dict[tuple[str, str], tuple[Pool, int, str]] = {}
    for pool, range_id, n, value in kept_until_commit(session, "numbering:give_back"):
        key = (pool.model.__tablename__, range_id)
        if key not in lowest or n < lowest[key][1]:
            lowest[key] = (pool, n, value)
    cache = tx_cache(session)
    movers = {key[1]: move for key, move in cache.items() if isinstance(key, tuple) and key[0] == "mover"}
    claiming = bool(lowest) and claims_numbers(session)
    for (_, range_id), (pool, _, value) in sorted(lowest.items()):
        if range_id in movers:
            movers.pop(range_id)(session)
        session.execute(_give_back_statement(pool, claiming), {"range_id": range_id, "lowest": value})
    for range_id in sorted(movers):
        movers[range_id](session)
