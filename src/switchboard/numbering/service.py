"""DN and DID ranges: their rules, their usage, and the allocation of numbers from them.

Two kinds of functions live here:

* service functions (``list_*``, ``get_*``, ``create_*``, ``delete_*``, ``available_dns``)
  take a ServiceContext, go through the account's tenancy checks, audit and commit;
* allocation primitives (``allocate_dn``, ``allocate_did``, ``release_dn``,
  ``release_did``, ``refresh_reserved_dns``) take a bare Session and join the caller's
  transaction: they never commit, so the number and the phone that gets it are committed
  together (or not at all).

Allocation follows NetBox's next-available: lock the pool (the range row, ``FOR UPDATE``
on PostgreSQL; SQLite has a single writer), recompute what is free under the lock, 409
when nothing is; the unique constraints on ``mivb_phones`` are the last defence. Its cost
does not depend on how full a range is: each range keeps ``next_hint`` (every number of
the range below it is taken) and a sweep walks forward from it over the used numbers, in
batches read in index order, until the first gap. Same-length numbers of one prefix sort
like integers, so an indexed ``ORDER BY dn`` gives them in numeric order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, not_, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from switchboard.accounts.service import (
    check_version,
    require_account_admin,
    require_account_settings_admin,
)
from switchboard.audit import service as audit
from switchboard.core.context import ServiceContext
from switchboard.core.errors import Conflict, NotFound, ValidationFailed, invalid
from switchboard.mivb.models import Phone
from switchboard.numbering.models import DidRange, DnRange, PbxReservedDn
from switchboard.numbering.schemas import (
    MAX_DN_LENGTH,
    DidRangeCreate,
    DnRangeCreate,
    is_dn,
    is_e164,
)
from switchboard.core.validation import validate

# Used numbers read per query while sweeping forward from a hint.
SWEEP_BATCH = 256
MAX_AVAILABLE = 100
# A DID range is a block of public numbers; past this size it is almost surely a typo
# (and, DIDs being unique everywhere, it would block every other account's ranges).
MAX_DID_RANGE_SIZE = 1_000_000
# Serialises DID range creation across all accounts (PostgreSQL advisory lock key).
_DID_RANGES_LOCK_KEY = 0x5B_D1D_0001


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


# ================================================================ numbers and spans


@dataclass(frozen=True)
class Span:
    """The numbers prefix + n, n from lo to hi, written with `width` digits.

    A DN range is Span(prefix, start, end); a DID range is Span("+", start[1:], end[1:]).
    """

    prefix: str
    start: str
    end: str

    @classmethod
    def of_dn_range(cls, rng: DnRange) -> Span:
        return cls(rng.prefix or "", rng.start, rng.end)

    @classmethod
    def of_did_range(cls, rng: DidRange) -> Span:
        return cls("+", rng.start[1:], rng.end[1:])

    @property
    def width(self) -> int:
        return len(self.start)

    @property
    def length(self) -> int:
        return len(self.prefix) + self.width

    @property
    def lo(self) -> int:
        return int(self.start)

    @property
    def hi(self) -> int:
        return int(self.end)

    @property
    def size(self) -> int:
        return self.hi - self.lo + 1

    @property
    def first(self) -> str:
        return self.prefix + self.start

    @property
    def last(self) -> str:
        return self.prefix + self.end

    def text(self, n: int) -> str:
        return f"{self.prefix}{n:0{self.width}d}"

    def number(self, value: str | None) -> int | None:
        """n when value is prefix + n of this span, else None."""
        if value is None or len(value) != self.length or not value.startswith(self.prefix):
            return None
        digits = value[len(self.prefix):]
        if not digits.isascii() or not digits.isdigit():
            return None
        n = int(digits)
        return n if self.lo <= n <= self.hi else None

    def __contains__(self, value: str) -> bool:
        return self.number(value) is not None

    def label(self) -> str:
        return f"{self.first}–{self.last}"


def dn_ranges_overlap(a: Span, b: Span) -> bool:
    """Whether some DN string belongs to both ranges (computed exactly, not by guessing).

    DNs of different total lengths never collide. Otherwise, with p the shorter prefix and
    q the longer one, the DNs can only be equal if q = p + X with X made of digits; a DN of
    q's range is then p + X + y, i.e. the digit part X·10^w + y (w = q's width) of p's
    range: the two numeric intervals must meet.
    """
    if a.length != b.length:
        return False
    short, long_ = (a, b) if len(a.prefix) <= len(b.prefix) else (b, a)
    if not long_.prefix.startswith(short.prefix):
        return False
    extra = long_.prefix[len(short.prefix):]
    if extra and not (extra.isascii() and extra.isdigit()):
        return False
    base = int(extra) * 10 ** long_.width if extra else 0
    lo, hi = base + long_.lo, base + long_.hi
    return lo <= short.hi and short.lo <= hi


def split_dn(dn: str) -> tuple[str, str]:
    """(head, trailing digits) of a DN: '*7200' -> ('*', '7200'); '2000' -> ('', '2000')."""
    i = len(dn)
    while i > 0 and dn[i - 1].isdigit():
        i -= 1
    return dn[:i], dn[i:]


@dataclass(frozen=True)
class Mapping:
    """DID start + k <-> DN first_dn + k, for k below `count`."""

    did_start: int
    did_length: int
    head: str
    width: int
    dn_base: int
    count: int

    @classmethod
    def of(cls, start: str, end: str, first_dn: str) -> Mapping:
        head, digits = split_dn(first_dn)
        size = int(end[1:]) - int(start[1:]) + 1
        # stop where the DN's trailing digits would overflow their width
        count = min(size, 10 ** len(digits) - int(digits))
        return cls(int(start[1:]), len(start), head, len(digits), int(digits), count)

    def did_for(self, dn: str) -> str | None:
        if len(dn) != len(self.head) + self.width or not dn.startswith(self.head):
            return None
        digits = dn[len(self.head):]
        if not (digits.isascii() and digits.isdigit()):
            return None
        k = int(digits) - self.dn_base
        if not 0 <= k < self.count:
            return None
        return f"+{self.did_start + k:0{self.did_length - 1}d}"

    def dn_for(self, did: str) -> str | None:
        if len(did) != self.did_length:
            return None
        k = int(did[1:]) - self.did_start
        if not 0 <= k < self.count:
            return None
        return f"{self.head}{self.dn_base + k:0{self.width}d}"

    @property
    def last_dn(self) -> str | None:
        return f"{self.head}{self.dn_base + self.count - 1:0{self.width}d}" if self.count > 0 else None

    def overlaps(self, other: Mapping) -> bool:
        """Whether two mappings would give some DN two DIDs."""
        if (self.head, self.width) != (other.head, other.width) or self.count <= 0 or other.count <= 0:
            return False
        return self.dn_base <= other.dn_base + other.count - 1 and other.dn_base <= self.dn_base + self.count - 1


def mapping_of(rng: DidRange) -> Mapping | None:
    return Mapping.of(rng.start, rng.end, rng.first_dn) if rng.first_dn else None


# ================================================================ reading used numbers


def _in_span(column, span: Span) -> list[ColumnElement[bool]]:
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


def _dn_sources(account_id: str, span: Span):
    return [
        (Phone.dn, [Phone.account_id == account_id]),
        (PbxReservedDn.dn, [PbxReservedDn.account_id == account_id, PbxReservedDn.length == span.length]),
    ]


def _did_sources(span: Span):
    return [(Phone.did, [])]


def _free_numbers(session: Session, span: Span, sources, from_n: int) -> Iterator[int]:
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
                select(column).where(*scope, *_in_span(column, span), column >= span.text(n))
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


def _count_used(session: Session, span: Span, sources) -> int:
    total = 0
    for column, scope in sources:
        total += session.scalar(select(func.count()).select_from(column.class_).where(
            *scope, *_in_span(column, span))) or 0
    return total


# ================================================================ locks and hints


def _lock_dn_range(session: Session, range_id: str) -> DnRange | None:
    """The range row, locked until the end of the transaction, read afresh."""
    return session.scalar(
        select(DnRange).where(DnRange.id == range_id).with_for_update()
        .execution_options(populate_existing=True))


def _lock_did_range(session: Session, range_id: str) -> DidRange | None:
    return session.scalar(
        select(DidRange).where(DidRange.id == range_id).with_for_update()
        .execution_options(populate_existing=True))


def _set_hint(session: Session, rng: DnRange | DidRange, hint: str) -> None:
    """Moves the hint without bumping the range's version: the hint is bookkeeping, the
    range as the admin defined it (and its ETag) does not change."""
    if rng.next_hint == hint:
        return
    model = type(rng)
    session.execute(update(model).where(model.id == rng.id).values(next_hint=hint, updated_at=rng.updated_at)
                    .execution_options(synchronize_session=False))
    set_committed_value(rng, "next_hint", hint)


def _hint_number(span: Span, rng: DnRange | DidRange) -> int:
    n = span.number(rng.next_hint)
    return span.lo if n is None else n


# ================================================================ DN ranges: service


@dataclass
class DnRangeInfo:
    range: DnRange
    size: int
    used: int

    @property
    def free(self) -> int:
        return self.size - self.used


@dataclass
class DidRangeInfo:
    range: DidRange
    size: int
    used: int

    @property
    def free(self) -> int:
        return self.size - self.used

    @property
    def last_dn(self) -> str | None:
        mapping = mapping_of(self.range)
        return mapping.last_dn if mapping else None


def dn_range_snapshot(rng: DnRange) -> dict[str, Any]:
    return {"prefix": rng.prefix, "start": rng.start, "end": rng.end}


def did_range_snapshot(rng: DidRange) -> dict[str, Any]:
    return {"start": rng.start, "end": rng.end, "first_dn": rng.first_dn}


def _dn_info(session: Session, rng: DnRange) -> DnRangeInfo:
    span = Span.of_dn_range(rng)
    return DnRangeInfo(rng, span.size, _count_used(session, span, _dn_sources(rng.account_id, span)))


def _did_info(session: Session, rng: DidRange) -> DidRangeInfo:
    span = Span.of_did_range(rng)
    return DidRangeInfo(rng, span.size, _count_used(session, span, _did_sources(span)))


def _dn_range_of(ctx: ServiceContext, account_id: str, range_id: str, *, lock: bool = False) -> DnRange:
    query = select(DnRange).where(DnRange.id == range_id, DnRange.account_id == account_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    rng = ctx.session.scalar(query)
    if rng is None:
        raise NotFound("not_found", "DN range not found.")
    return rng


def _did_range_of(ctx: ServiceContext, account_id: str, range_id: str, *, lock: bool = False) -> DidRange:
    query = select(DidRange).where(DidRange.id == range_id, DidRange.account_id == account_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    rng = ctx.session.scalar(query)
    if rng is None:
        raise NotFound("not_found", "DID range not found.")
    return rng


def _dn_ranges_in_order(session: Session, account_id: str) -> Sequence[DnRange]:
    return session.scalars(select(DnRange).where(DnRange.account_id == account_id)
                           .order_by(DnRange.prefix + DnRange.start, DnRange.id)).all()


def list_dn_ranges(ctx: ServiceContext, account_id: str, *, search: str | None = None, limit: int = 50,
                   offset: int = 0) -> tuple[int, list[DnRangeInfo]]:
    require_account_admin(ctx, account_id)
    query = select(DnRange).where(DnRange.account_id == account_id)
    if search:
        term = search.strip()
        query = query.where(or_((DnRange.prefix + DnRange.start).contains(term, autoescape=True),
                                (DnRange.prefix + DnRange.end).contains(term, autoescape=True)))
    total = ctx.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = ctx.session.scalars(query.order_by(DnRange.prefix + DnRange.start, DnRange.id)
                               .limit(limit).offset(offset)).all()
    return total, [_dn_info(ctx.session, rng) for rng in rows]


def get_dn_range(ctx: ServiceContext, account_id: str, range_id: str) -> DnRangeInfo:
    require_account_admin(ctx, account_id)
    return _dn_info(ctx.session, _dn_range_of(ctx, account_id, range_id))


def check_dn_range(prefix: str, start: str, end: str) -> Span:
    """The cross-field rules of a DN range (formats are the schema's)."""
    errors = []
    if len(start) != len(end):
        errors.append(invalid("end", "length_mismatch", "Start and end must have the same number of digits."))
    elif int(end) < int(start):
        errors.append(invalid("end", "invalid_dn_range", "The end of the range must not be below its start."))
    if len(prefix) + max(len(start), len(end)) > MAX_DN_LENGTH:
        errors.append(invalid("start", "range_too_long",
                              "Prefix and number together must be at most 7 characters long."))
    if errors:
        raise ValidationFailed(errors=[item for error in errors for item in error.errors])
    return Span(prefix, start, end)


def create_dn_range(ctx: ServiceContext, account_id: str, data: DnRangeCreate | dict) -> DnRangeInfo:
    # The account row is the lock that keeps two overlapping ranges from being created at once.
    account = require_account_settings_admin(ctx, account_id, for_update=True)
    data = validate(DnRangeCreate, data)
    prefix = data.prefix or ""
    span = check_dn_range(prefix, data.start, data.end)
    for other in _dn_ranges_in_order(ctx.session, account.id):
        other_span = Span.of_dn_range(other)
        if dn_ranges_overlap(span, other_span):
            raise Conflict("range_overlap", "These DNs overlap the DN range %(range)s.", field="start",
                           range=other_span.label())
    rng = DnRange(account_id=account.id, prefix=prefix, start=data.start, end=data.end, next_hint=span.first)
    ctx.session.add(rng)
    ctx.session.flush()
    audit.record(ctx, action="create", object_type="dn_range", object_id=rng.id, object_repr=span.label(),
                 account_id=account.id, partner_id=account.partner_id, after=dn_range_snapshot(rng))
    ctx.session.commit()
    return _dn_info(ctx.session, rng)


def delete_dn_range(ctx: ServiceContext, account_id: str, range_id: str, *,
                    expected_version: int | None = None) -> None:
    account = require_account_settings_admin(ctx, account_id)
    rng = _dn_range_of(ctx, account_id, range_id, lock=True)
    check_version(rng, expected_version)
    in_use = ctx.session.scalar(select(func.count()).select_from(Phone).where(Phone.dn_range_id == rng.id)) or 0
    if in_use:
        raise Conflict("range_in_use", "This range cannot be deleted: %(count)s of its DNs are on phones.",
                       count=in_use)
    audit.record(ctx, action="delete", object_type="dn_range", object_id=rng.id,
                 object_repr=Span.of_dn_range(rng).label(), account_id=account.id,
                 partner_id=account.partner_id, before=dn_range_snapshot(rng))
    ctx.session.delete(rng)
    ctx.session.commit()


def available_dns(ctx: ServiceContext, account_id: str, range_id: str, limit: int = 10) -> list[str]:
    """The next `limit` free DNs of a range (what a "pick a DN" list offers). Nothing is
    reserved: the phone that takes one goes through allocate_dn."""
    require_account_admin(ctx, account_id)
    if not 1 <= limit <= MAX_AVAILABLE:
        raise invalid("limit", "too_large", "Must be between 1 and %(max)s.", max=MAX_AVAILABLE)
    rng = _dn_range_of(ctx, account_id, range_id)
    span = Span.of_dn_range(rng)
    found: list[str] = []
    for n in _free_numbers(ctx.session, span, _dn_sources(account_id, span), _hint_number(span, rng)):
        found.append(span.text(n))
        if len(found) >= limit:
            break
    return found


def next_free_dns(ctx: ServiceContext, account_id: str, limit: int = 10) -> list[str]:
    """The next free DNs over the account's ranges in order, without counting their use
    (the user page's "add a desk phone on this DN" list, on every page view)."""
    require_account_admin(ctx, account_id)
    found: list[str] = []
    for rng in _dn_ranges_in_order(ctx.session, account_id):
        span = Span.of_dn_range(rng)
        for n in _free_numbers(ctx.session, span, _dn_sources(account_id, span), _hint_number(span, rng)):
            found.append(span.text(n))
            if len(found) >= limit:
                return found
    return found


# ================================================================ DID ranges: service


def list_did_ranges(ctx: ServiceContext, account_id: str, *, search: str | None = None, limit: int = 50,
                    offset: int = 0) -> tuple[int, list[DidRangeInfo]]:
    require_account_admin(ctx, account_id)
    query = select(DidRange).where(DidRange.account_id == account_id)
    if search:
        term = search.strip()
        query = query.where(or_(DidRange.start.contains(term, autoescape=True),
                                DidRange.end.contains(term, autoescape=True),
                                func.coalesce(DidRange.first_dn, "").contains(term, autoescape=True)))
    total = ctx.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = ctx.session.scalars(query.order_by(func.length(DidRange.start), DidRange.start, DidRange.id)
                               .limit(limit).offset(offset)).all()
    return total, [_did_info(ctx.session, rng) for rng in rows]


def get_did_range(ctx: ServiceContext, account_id: str, range_id: str) -> DidRangeInfo:
    require_account_admin(ctx, account_id)
    return _did_info(ctx.session, _did_range_of(ctx, account_id, range_id))


def check_did_range(start: str, end: str) -> Span:
    if len(start) != len(end):
        raise invalid("end", "length_mismatch", "Start and end must have the same number of digits.")
    if int(end[1:]) < int(start[1:]):
        raise invalid("end", "invalid_did_range", "The end of the range must not be below its start.")
    span = Span("+", start[1:], end[1:])
    if span.size > MAX_DID_RANGE_SIZE:
        raise invalid("end", "range_too_large", "A DID range holds at most %(max)s numbers.",
                      max=MAX_DID_RANGE_SIZE)
    return span


def _lock_all_did_ranges(session: Session) -> None:
    """DIDs are unique everywhere: creating DID ranges is serialised across accounts."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(_DID_RANGES_LOCK_KEY)))


def create_did_range(ctx: ServiceContext, account_id: str, data: DidRangeCreate | dict) -> DidRangeInfo:
    account = require_account_settings_admin(ctx, account_id, for_update=True)
    data = validate(DidRangeCreate, data)
    span = check_did_range(data.start, data.end)
    _lock_all_did_ranges(ctx.session)
    other = ctx.session.scalars(
        select(DidRange).where(func.length(DidRange.start) == len(data.start),
                               DidRange.start <= data.end, DidRange.end >= data.start)
        .order_by(DidRange.start).limit(1)).first()
    if other is not None:
        if other.account_id == account.id:
            raise Conflict("range_overlap", "These DIDs overlap the DID range %(range)s.", field="start",
                           range=f"{other.start}–{other.end}")
        # DIDs are unique everywhere, but another account's numbers are not ours to show.
        raise Conflict("range_overlap", "These DIDs overlap numbers that are already in use elsewhere.",
                       field="start")
    if data.first_dn:
        mapping = Mapping.of(data.start, data.end, data.first_dn)
        for mapped in ctx.session.scalars(select(DidRange).where(DidRange.account_id == account.id,
                                                                 DidRange.first_dn.is_not(None))):
            other_mapping = mapping_of(mapped)
            if other_mapping is not None and mapping.overlaps(other_mapping):
                raise Conflict("mapping_overlap", "These DNs are already mapped from the DID range %(range)s.",
                               field="first_dn", range=f"{mapped.start}–{mapped.end}")
    rng = DidRange(account_id=account.id, start=data.start, end=data.end, first_dn=data.first_dn,
                   next_hint=data.start)
    ctx.session.add(rng)
    ctx.session.flush()
    audit.record(ctx, action="create", object_type="did_range", object_id=rng.id, object_repr=span.label(),
                 account_id=account.id, partner_id=account.partner_id, after=did_range_snapshot(rng))
    ctx.session.commit()
    return _did_info(ctx.session, rng)


def delete_did_range(ctx: ServiceContext, account_id: str, range_id: str, *,
                     expected_version: int | None = None) -> None:
    account = require_account_settings_admin(ctx, account_id)
    rng = _did_range_of(ctx, account_id, range_id, lock=True)
    check_version(rng, expected_version)
    span = Span.of_did_range(rng)
    in_use = ctx.session.scalar(select(func.count()).select_from(Phone).where(
        or_(Phone.did_range_id == rng.id, and_(*_in_span(Phone.did, span))))) or 0
    if in_use:
        raise Conflict("range_in_use", "This range cannot be deleted: %(count)s of its DIDs are on phones.",
                       count=in_use)
    audit.record(ctx, action="delete", object_type="did_range", object_id=rng.id, object_repr=span.label(),
                 account_id=account.id, partner_id=account.partner_id, before=did_range_snapshot(rng))
    ctx.session.delete(rng)
    ctx.session.commit()


# ================================================================ allocation primitives


def _dn_taken(session: Session, account_id: str, dn: str) -> bool:
    on_phone = session.scalar(select(Phone.id).where(Phone.account_id == account_id, Phone.dn == dn).limit(1))
    return on_phone is not None or session.get(PbxReservedDn, (account_id, dn)) is not None


def allocate_dn(session: Session, account_id: str, *, wanted: str | None = None,
                range_id: str | None = None) -> tuple[str, str]:
    """(dn, dn_range_id) for a new phone of the account: `wanted` if it is free, else the
    next free DN (of range_id, or of the account's ranges in order). Does not commit: the
    caller inserts the phone in the same transaction."""
    if range_id is not None:
        candidates = [r for r in [session.scalar(select(DnRange).where(
            DnRange.id == range_id, DnRange.account_id == account_id))] if r is not None]
        if not candidates:
            raise NotFound("not_found", "DN range not found.")
    else:
        candidates = list(_dn_ranges_in_order(session, account_id))

    if wanted is not None:
        if not is_dn(wanted):
            raise invalid("dn", "invalid_dn", "A DN is 1 to 7 characters: digits, after an optional prefix of "
                          "up to 4 characters out of 0-9, * and #.")
        home = next((r for r in candidates if wanted in Span.of_dn_range(r)), None)
        if home is None:
            raise invalid("dn", "dn_out_of_range", "DN %(dn)s is not in a DN range of this account.", dn=wanted)
        rng = _lock_dn_range(session, home.id)
        if rng is None:
            raise invalid("dn", "dn_out_of_range", "DN %(dn)s is not in a DN range of this account.", dn=wanted)
        if _dn_taken(session, account_id, wanted):
            raise Conflict("dn_taken", "DN %(dn)s is already in use.", field="dn", dn=wanted)
        return wanted, rng.id

    if not candidates:
        raise Conflict("range_exhausted", "This account has no DN range to take a DN from.", field="dn")
    for candidate in candidates:
        rng = _lock_dn_range(session, candidate.id)
        if rng is None:
            continue
        span = Span.of_dn_range(rng)
        n = next(_free_numbers(session, span, _dn_sources(account_id, span), _hint_number(span, rng)), None)
        if n is None:
            _set_hint(session, rng, span.last)
            continue
        _set_hint(session, rng, span.text(min(n + 1, span.hi)))
        return span.text(n), rng.id
    raise Conflict("range_exhausted", "Every DN of the DN ranges is in use.", field="dn")


def release_dn(session: Session, range_id: str | None, dn: str | None) -> None:
    """A phone gave `dn` back (deleted, or renumbered): it becomes the range's lowest free
    DN if it is below the hint. Does not commit."""
    if range_id is None or dn is None:
        return
    rng = _lock_dn_range(session, range_id)
    if rng is None:
        return
    span = Span.of_dn_range(rng)
    n = span.number(dn)
    if n is not None and n < _hint_number(span, rng):
        _set_hint(session, rng, dn)


def _did_taken(session: Session, did: str) -> bool:
    return session.scalar(select(Phone.id).where(Phone.did == did).limit(1)) is not None


def _did_ranges(session: Session, account_id: str) -> Sequence[DidRange]:
    return session.scalars(select(DidRange).where(DidRange.account_id == account_id)
                           .order_by(func.length(DidRange.start), DidRange.start, DidRange.id)).all()


def allocate_did(session: Session, account_id: str, *, dn: str, wanted: str | None = UNSET
                 ) -> tuple[str | None, str | None]:
    """(did, did_range_id) for a phone with DN `dn`.

    wanted given: that DID, if it is one of the account's, free, and (in a mapped range)
    the one mapped to `dn`. wanted=None: no DID. Not given: the DID a mapped range gives
    `dn`; else the next free DID of the account's unmapped ranges; else (no unmapped range)
    none. Does not commit."""
    if wanted is None:
        return None, None
    ranges = _did_ranges(session, account_id)

    if wanted is not UNSET:
        if not is_e164(wanted):
            raise invalid("did", "invalid_did",
                          "A DID is an E.164 number: + then 8 to 15 digits, the first one not 0.")
        home = next((r for r in ranges if wanted in Span.of_did_range(r)), None)
        if home is None:
            raise invalid("did", "did_out_of_range", "DID %(did)s is not in a DID range of this account.",
                          did=wanted)
        mapping = mapping_of(home)
        if mapping is not None and mapping.did_for(dn) != wanted:
            mapped_dn = mapping.dn_for(wanted)
            if mapped_dn is None:
                raise invalid("did", "did_not_mapped", "DID %(did)s maps to no DN: it cannot be used.", did=wanted)
            raise invalid("did", "did_not_mapped", "DID %(did)s is mapped to DN %(mapped_dn)s; it can only go "
                          "to the phone with that DN.", did=wanted, mapped_dn=mapped_dn)
        rng = _lock_did_range(session, home.id)
        if rng is None:
            raise invalid("did", "did_out_of_range", "DID %(did)s is not in a DID range of this account.",
                          did=wanted)
        if _did_taken(session, wanted):
            raise Conflict("did_taken", "DID %(did)s is already in use.", field="did", did=wanted)
        return wanted, rng.id

    for candidate in ranges:
        mapping = mapping_of(candidate)
        did = mapping.did_for(dn) if mapping is not None else None
        if did is None:
            continue
        rng = _lock_did_range(session, candidate.id)
        if rng is None:
            continue
        if _did_taken(session, did):
            raise Conflict("did_taken", "DID %(did)s, which DN %(dn)s maps to, is already in use.", field="did",
                           did=did, dn=dn)
        return did, rng.id

    unmapped = [r for r in ranges if not r.first_dn]
    if not unmapped:
        return None, None
    for candidate in unmapped:
        rng = _lock_did_range(session, candidate.id)
        if rng is None or rng.first_dn:
            continue
        span = Span.of_did_range(rng)
        n = next(_free_numbers(session, span, _did_sources(span), _hint_number(span, rng)), None)
        if n is None:
            _set_hint(session, rng, span.last)
            continue
        _set_hint(session, rng, span.text(min(n + 1, span.hi)))
        return span.text(n), rng.id
    raise Conflict("range_exhausted", "Every DID of the DID ranges is in use.", field="did")


def release_did(session: Session, range_id: str | None, did: str | None) -> None:
    """A phone gave `did` back: it becomes the range's lowest free DID if it is below the
    hint. Does not commit."""
    if range_id is None or did is None:
        return
    rng = _lock_did_range(session, range_id)
    if rng is None:
        return
    span = Span.of_did_range(rng)
    n = span.number(did)
    if n is not None and n < _hint_number(span, rng):
        _set_hint(session, rng, did)


# ================================================================ the PBX's own DNs

_IN_CHUNK = 500


def refresh_reserved_dns(session: Session, account_id: str, dns_in_use: list[str]) -> None:
    """PbxReservedDn := the DNs the PBX reports in use, minus the DNs of the account's own
    phones (those are Switchboard's). A DN that stops being reserved below a range's hint
    moves the hint back. Does not commit (the catalogue read commits)."""
    reported = {dn for dn in dns_in_use if isinstance(dn, str) and is_dn(dn)}
    ours: set[str] = set()
    ordered = sorted(reported)
    for i in range(0, len(ordered), _IN_CHUNK):
        chunk = ordered[i:i + _IN_CHUNK]
        ours.update(session.scalars(select(Phone.dn).where(Phone.account_id == account_id, Phone.dn.in_(chunk))))
    wanted = reported - ours
    existing = set(session.scalars(select(PbxReservedDn.dn).where(PbxReservedDn.account_id == account_id)))
    gone = sorted(existing - wanted)
    for i in range(0, len(gone), _IN_CHUNK):
        session.execute(delete(PbxReservedDn).where(PbxReservedDn.account_id == account_id,
                                                    PbxReservedDn.dn.in_(gone[i:i + _IN_CHUNK])))
    session.add_all(PbxReservedDn(account_id=account_id, dn=dn, length=len(dn)) for dn in sorted(wanted - existing))
    if gone:
        for rng in _dn_ranges_in_order(session, account_id):
            span = Span.of_dn_range(rng)
            freed = [n for n in (span.number(dn) for dn in gone) if n is not None]
            if freed and min(freed) < _hint_number(span, rng):
                locked = _lock_dn_range(session, rng.id)
                if locked is not None and min(freed) < _hint_number(span, locked):
                    _set_hint(session, locked, span.text(min(freed)))
    session.flush()
