"""One next-free allocator for every kind of number (DNs and DIDs).

It follows NetBox's next-available: lock the pool (the range row, ``FOR UPDATE`` on
PostgreSQL; SQLite has a single writer), recompute what is free under the lock, answer
nothing when nothing is; the unique constraints on ``mivb_phones`` are the last defence.
Its cost does not depend on how full a range is: each range keeps ``next_hint`` (every
number of the range below it is taken) and a sweep walks forward from it over the used
numbers, in batches read in index order, until the first gap.

A ``Pool`` says what differs between kinds: the range model, how a range reads as a
span, and where the numbers it hands out are in use. Nothing here commits: the number and
the phone that gets it are committed together by the caller's unit of work."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Callable

from sqlalchemy import ColumnElement, func, not_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from switchboard.core.uow import before_commit, tx_cache
from switchboard.mivb.models import Phone
from switchboard.numbering.models import DidRange, DnRange, PbxReservedDn
from switchboard.numbering.spans import Span

# Used numbers read per query while sweeping forward from a hint.
SWEEP_BATCH = 256

Source = tuple[Any, list[ColumnElement[bool]]]
Usable = Callable[[str], bool]


@dataclass(frozen=True)
class Pool:
    """A kind of number: its range model, its span, and the columns that hold it."""

    kind: str
    model: type
    span_of: Callable[[Any], Span]
    sources_of: Callable[[str, Span], list[Source]]

    def sources(self, rng: Any) -> list[Source]:
        return self.sources_of(rng.account_id, self.span_of(rng))


def _dn_sources(account_id: str, span: Span) -> list[Source]:
    # DNs are unique within a PBX (= account): the account's phones, and the DNs the PBX
    # uses outside Switchboard.
    return [
        (Phone.dn, [Phone.account_id == account_id]),
        (PbxReservedDn.dn, [PbxReservedDn.account_id == account_id, PbxReservedDn.length == span.length]),
    ]


def _did_sources(account_id: str, span: Span) -> list[Source]:
    return [(Phone.did, [])]  # DIDs are unique everywhere


DN_POOL = Pool("dn", DnRange, Span.of_dn_range, _dn_sources)
DID_POOL = Pool("did", DidRange, Span.of_did_range, _did_sources)


# ---------------------------------------------------------------- reading used numbers

def in_span(column, span: Span) -> list[ColumnElement[bool]]:
    """SQL conditions selecting exactly the strings of `column` that are numbers of `span`.

    The bounds let an index on the column serve the query; length, prefix and "digits
    only" remove what sorts between the bounds without being a number of the span (under
    any collation: the kept strings share the prefix and differ only in digits).
    """
    conditions: list[ColumnElement[bool]] = [
        column >= span.first, column <= span.last, func.length(column) == span.length,
    ]
    rest = column
    if span.prefix:
        conditions.append(column.startswith(span.prefix))
        rest = func.substr(column, len(span.prefix) + 1, type_=column.type)
    conditions += [not_(rest.contains("*")), not_(rest.contains("#"))]
    return conditions


def free_numbers(session: Session, span: Span, sources: list[Source], from_n: int) -> Iterator[int]:
    """Free numbers of the span from from_n upwards, lowest first.

    Reads the used numbers ≥ the cursor of each source in index order, SWEEP_BATCH at a
    time, merged; a full batch only tells about numbers up to its last one, so the walk
    stops there and reads the next batches. Never reads a number below from_n.
    """
    n = max(from_n, span.lo)
    while n <= span.hi:
        known_to = span.hi
        taken: set[int] = set()
        for column, scope in sources:
            rows = session.scalars(
                select(column).where(*scope, *in_span(column, span), column >= span.text(n))
                .order_by(column).limit(SWEEP_BATCH)
            ).all()
            numbers = [m for m in (span.number(v) for v in rows) if m is not None]
            taken.update(numbers)
            if len(rows) == SWEEP_BATCH and numbers:
                known_to = min(known_to, max(numbers))
        while n <= known_to:
            if n not in taken:
                yield n
            n += 1


def count_used(session: Session, span: Span, sources: list[Source]) -> int:
    total = 0
    for column, scope in sources:
        total += session.scalar(select(func.count()).select_from(column.class_).where(
            *scope, *in_span(column, span))) or 0
    return total


# ---------------------------------------------------------------- locks and hints

def lock(session: Session, pool: Pool, range_id: str) -> Any | None:
    """The range row, locked until the end of the transaction, read afresh (once per
    transaction: a range this transaction has locked stays locked)."""
    cache = tx_cache(session)
    if ("locked", range_id) in cache:
        return cache[("locked", range_id)]
    rng = session.scalar(
        select(pool.model).where(pool.model.id == range_id).with_for_update()
        .execution_options(populate_existing=True))
    if rng is not None:
        cache[("locked", range_id)] = rng
    return rng


def set_hint(session: Session, rng: DnRange | DidRange, hint: str) -> None:
    """Moves the hint without bumping the range's version: the hint is bookkeeping, the
    range as the admin defined it (and its ETag) does not change. Written once, when the
    transaction commits (a rollback forgets it: the hint then only lags, which is safe)."""
    if rng.next_hint == hint:
        return
    model, range_id, updated_at = type(rng), rng.id, rng.updated_at
    set_committed_value(rng, "next_hint", hint)

    def write(s: Session) -> None:
        s.execute(update(model).where(model.id == range_id).values(next_hint=hint, updated_at=updated_at)
                  .execution_options(synchronize_session=False))

    before_commit(session, f"hint:{range_id}", write)


def hint_number(span: Span, rng: DnRange | DidRange) -> int:
    n = span.number(rng.next_hint)
    return span.lo if n is None else n


def free_in_range(session: Session, pool: Pool, rng: Any, usable: Usable | None = None) -> Iterator[str]:
    """The free (and usable) numbers of a range from its hint, lowest first, without
    locking anything (what a "pick a number" list offers)."""
    span = pool.span_of(rng)
    for n in free_numbers(session, span, pool.sources(rng), hint_number(span, rng)):
        text = span.text(n)
        if usable is None or usable(text):
            yield text


@dataclass
class _Cursor:
    """Where this transaction is in a locked range: the free numbers ahead (read lazily),
    the free ones it skipped as unusable, and what it took by name meanwhile."""

    free: Iterator[int]
    skipped: list[int] = field(default_factory=list)
    taken: set[int] = field(default_factory=set)


def _cursor(session: Session, pool: Pool, rng: Any) -> _Cursor:
    cache = tx_cache(session)
    key = ("cursor", rng.id)
    if key not in cache:
        span = pool.span_of(rng)
        cache[key] = _Cursor(free_numbers(session, span, pool.sources(rng), hint_number(span, rng)))
    return cache[key]


def take_next(session: Session, pool: Pool, range_id: str, usable: Usable | None = None) -> str | None:
    """The lowest free number of the range that `usable` accepts, under the range's lock;
    None when there is none. Within one transaction the range is locked and swept once:
    each allocation goes on from the last one. The hint moves to the first free number
    left (a free number that is not usable now stays above it, offered again later)."""
    rng = lock(session, pool, range_id)
    if rng is None:
        return None
    span = pool.span_of(rng)
    cursor = _cursor(session, pool, rng)
    for i, n in enumerate(cursor.skipped):  # unusable before: maybe usable now
        if usable is None or usable(span.text(n)):
            del cursor.skipped[i]
            set_hint(session, rng, span.text(min([n + 1, *cursor.skipped]) if n < span.hi else n))
            return span.text(n)
    for n in cursor.free:
        if n in cursor.taken:
            continue
        if usable is None or usable(span.text(n)):
            set_hint(session, rng, span.text(min([min(n + 1, span.hi), *cursor.skipped])))
            return span.text(n)
        cursor.skipped.append(n)
    set_hint(session, rng, span.text(min(cursor.skipped)) if cursor.skipped else span.last)
    return None


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


def give_back(session: Session, pool: Pool, range_id: str | None, value: str | None) -> None:
    """A phone gave `value` back (deleted, or renumbered): it becomes the range's lowest
    free number if it is below the hint."""
    if range_id is None or value is None:
        return
    rng = lock(session, pool, range_id)
    if rng is None:
        return
    span = pool.span_of(rng)
    n = span.number(value)
    forget_cursor(session, rng.id)
    if n is not None and n < hint_number(span, rng):
        set_hint(session, rng, value)
