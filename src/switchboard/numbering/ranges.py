"""DN and DID ranges of an account: their rules, their usage, create, list, delete.

Partner admins define ranges; account admins read them. A range's `used` counts what
allocation cannot hand out: numbers on phones, DNs the PBX uses outside Switchboard, and
(for a DN range) free DNs whose mapped DID is held by another phone, so `free` says how
many numbers a new phone can still get."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from switchboard.accounts.tenancy import check_version, require_account_admin, require_account_settings_admin
from switchboard.audit import service as audit
from switchboard.core.context import ServiceContext
from switchboard.core.errors import Conflict, NotFound, invalid
from switchboard.core.validation import numbers_in, validate
from switchboard.mivb.models import Phone
from switchboard.numbering import allocation
from switchboard.numbering.models import DidRange, DnRange
from switchboard.numbering.pool import DID_POOL, DN_POOL, Pool
from switchboard.numbering.sweep import count_used, in_span
from switchboard.numbering.schemas import DidRangeCreate, DnRangeCreate
from switchboard.numbering.spans import Mapping, Span, check_did_range, check_dn_range, dn_ranges_overlap, mapping_of

MAX_AVAILABLE = 100
# Serialises DID range creation across all accounts (PostgreSQL advisory lock key).
_DID_RANGES_LOCK_KEY = 0x5B_D1D_0001


@dataclass
class RangeInfo:
    range: Any
    size: int
    used: int

    @property
    def free(self) -> int:
        return self.size - self.used

    @property
    def last_dn(self) -> str | None:
        """The DN the last mappable DID maps to (mapped DID ranges only)."""
        mapping = mapping_of(self.range) if isinstance(self.range, DidRange) else None
        return mapping.last_dn if mapping else None


# Kept for readers of the API module: both kinds share one shape.
DnRangeInfo = DidRangeInfo = RangeInfo


def snapshot(rng: DnRange | DidRange) -> dict[str, Any]:
    if isinstance(rng, DnRange):
        return {"prefix": rng.prefix, "start": rng.start, "end": rng.end}
    return {"start": rng.start, "end": rng.end, "first_dn": rng.first_dn}


def _pool(rng: DnRange | DidRange) -> Pool:
    return DN_POOL if isinstance(rng, DnRange) else DID_POOL


def _blocked_dns(session: Session, rng: DnRange, span: Span) -> int:
    """Free DNs of the span whose mapped DID another phone holds (renumbered away from its
    mapped DN): a new phone cannot get them with their DID."""
    mappings = allocation.account_mappings(session, rng.account_id)
    if not mappings:
        return 0
    holders = session.execute(select(Phone.dn, Phone.did).where(
        Phone.account_id == rng.account_id, Phone.did_range_id.is_not(None))).all()
    left_behind = {dn for dn in (next((m.dn_for(did) for m in mappings if m.dn_for(did)), None)
                                 for phone_dn, did in holders if allocation.mapped_did(mappings, phone_dn) != did)
                   if dn is not None and dn in span}
    return sum(1 for dn in left_behind if not allocation.dn_taken(session, rng.account_id, dn))


def info(session: Session, rng: DnRange | DidRange) -> RangeInfo:
    pool = _pool(rng)
    span = pool.span_of(rng)
    used = count_used(session, span, pool.sources(rng))
    if isinstance(rng, DnRange):
        used += _blocked_dns(session, rng, span)
    return RangeInfo(rng, span.size, min(used, span.size))


def _range_of(ctx: ServiceContext, model: type, account_id: str, range_id: str, *, lock: bool = False):
    query = select(model).where(model.id == range_id, model.account_id == account_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    rng = ctx.session.scalar(query)
    if rng is None:
        raise NotFound("not_found", "DN range not found." if model is DnRange else "DID range not found.")
    return rng


def _list(ctx: ServiceContext, model: type, account_id: str, search: str | None, limit: int, offset: int,
          searched: list, order: list) -> tuple[int, list[RangeInfo]]:
    require_account_admin(ctx, account_id)
    query = select(model).where(model.account_id == account_id)
    if search:
        term = search.strip()
        query = query.where(or_(*(column.contains(term, autoescape=True) for column in searched)))
    total = ctx.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = ctx.session.scalars(query.order_by(*order, model.id).limit(limit).offset(offset)).all()
    return total, [info(ctx.session, rng) for rng in rows]


def _record(ctx: ServiceContext, account, action: str, rng, **changes: Any) -> None:
    kind = "dn_range" if isinstance(rng, DnRange) else "did_range"
    audit.record(ctx, action=action, object_type=kind, object_id=rng.id, object_repr=_pool(rng).span_of(rng).label(),
                 account_id=account.id, partner_id=account.partner_id, **changes)


def _delete(ctx: ServiceContext, model: type, account_id: str, range_id: str, expected_version: int | None) -> None:
    account = require_account_settings_admin(ctx, account_id)
    rng = _range_of(ctx, model, account_id, range_id, lock=True)
    check_version(rng, expected_version)
    if model is DnRange:
        in_use = ctx.session.scalar(select(func.count()).select_from(Phone).where(Phone.dn_range_id == rng.id)) or 0
        message = "This range cannot be deleted: %(count)s of its DNs are on phones."
    else:
        in_use = ctx.session.scalar(select(func.count()).select_from(Phone).where(
            or_(Phone.did_range_id == rng.id, and_(*in_span(Phone.did, Span.of_did_range(rng)))))) or 0
        message = "This range cannot be deleted: %(count)s of its DIDs are on phones."
    if in_use:
        raise Conflict("range_in_use", message, count=in_use)
    _record(ctx, account, "delete", rng, before=snapshot(rng))
    ctx.session.delete(rng)
    ctx.session.flush()
    allocation.forget_ranges(ctx.session, account_id)


# ---------------------------------------------------------------- DN ranges

def list_dn_ranges(ctx: ServiceContext, account_id: str, *, search: str | None = None, limit: int = 50,
                   offset: int = 0) -> tuple[int, list[RangeInfo]]:
    return _list(ctx, DnRange, account_id, search, limit, offset,
                 [DnRange.prefix + DnRange.start, DnRange.prefix + DnRange.end], [DnRange.prefix + DnRange.start])


def get_dn_range(ctx: ServiceContext, account_id: str, range_id: str) -> RangeInfo:
    require_account_admin(ctx, account_id)
    return info(ctx.session, _range_of(ctx, DnRange, account_id, range_id))


def create_dn_range(ctx: ServiceContext, account_id: str, data: DnRangeCreate | dict) -> RangeInfo:
    # The account row is the lock that keeps two overlapping ranges from being created at once.
    account = require_account_settings_admin(ctx, account_id, for_update=True)
    data = validate(DnRangeCreate, data)
    prefix = data.prefix or ""
    span = check_dn_range(prefix, data.start, data.end)
    for other in allocation.dn_ranges_in_order(ctx.session, account.id):
        other_span = Span.of_dn_range(other)
        if dn_ranges_overlap(span, other_span):
            raise Conflict("range_overlap", "These DNs overlap the DN range %(range)s.", field="start",
                           range=other_span.label())
    rng = DnRange(account_id=account.id, prefix=prefix, start=data.start, end=data.end, next_hint=span.first)
    ctx.session.add(rng)
    ctx.session.flush()
    allocation.forget_ranges(ctx.session, account.id)
    _record(ctx, account, "create", rng, after=snapshot(rng))
    return info(ctx.session, rng)


def delete_dn_range(ctx: ServiceContext, account_id: str, range_id: str, *,
                    expected_version: int | None = None) -> None:
    _delete(ctx, DnRange, account_id, range_id, expected_version)


def available_dns(ctx: ServiceContext, account_id: str, range_id: str, limit: int = 10) -> list[str]:
    """The next `limit` free DNs of a range (what a "pick a DN" list offers)."""
    require_account_admin(ctx, account_id)
    if not 1 <= limit <= MAX_AVAILABLE:
        raise invalid("limit", "too_large", "Must be between 1 and %(max)s.", max=MAX_AVAILABLE)
    rng = _range_of(ctx, DnRange, account_id, range_id)
    return allocation.next_free_dns(ctx.session, account_id, limit, range_id=rng.id)


def next_free_dns(ctx: ServiceContext, account_id: str, limit: int = 10) -> list[str]:
    """The next free DNs over the account's ranges in order, without counting their use
    (the user page's "add a desk phone on this DN" list, on every page view)."""
    require_account_admin(ctx, account_id)
    return allocation.next_free_dns(ctx.session, account_id, limit)


# ---------------------------------------------------------------- DID ranges

def list_did_ranges(ctx: ServiceContext, account_id: str, *, search: str | None = None, limit: int = 50,
                    offset: int = 0) -> tuple[int, list[RangeInfo]]:
    return _list(ctx, DidRange, account_id, search, limit, offset,
                 [DidRange.start, DidRange.end, func.coalesce(DidRange.first_dn, "")],
                 [func.length(DidRange.start), DidRange.start])


def get_did_range(ctx: ServiceContext, account_id: str, range_id: str) -> RangeInfo:
    require_account_admin(ctx, account_id)
    return info(ctx.session, _range_of(ctx, DidRange, account_id, range_id))


def _lock_all_did_ranges(session: Session) -> None:
    """DIDs are unique everywhere: creating DID ranges is serialised across accounts."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(_DID_RANGES_LOCK_KEY)))


def create_did_range(ctx: ServiceContext, account_id: str, data: DidRangeCreate | dict) -> RangeInfo:
    account = require_account_settings_admin(ctx, account_id, for_update=True)
    data = validate(DidRangeCreate, data, context=numbers_in(account.country))
    check_did_range(data.start, data.end)
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
        for mapped in allocation.did_ranges_in_order(ctx.session, account.id):
            other_mapping = mapping_of(mapped)
            if other_mapping is not None and mapping.overlaps(other_mapping):
                raise Conflict("mapping_overlap", "These DNs are already mapped from the DID range %(range)s.",
                               field="first_dn", range=f"{mapped.start}–{mapped.end}")
    rng = DidRange(account_id=account.id, start=data.start, end=data.end, first_dn=data.first_dn,
                   next_hint=data.start)
    ctx.session.add(rng)
    ctx.session.flush()
    allocation.forget_ranges(ctx.session, account.id)
    _record(ctx, account, "create", rng, after=snapshot(rng))
    return info(ctx.session, rng)


def delete_did_range(ctx: ServiceContext, account_id: str, range_id: str, *,
                     expected_version: int | None = None) -> None:
    _delete(ctx, DidRange, account_id, range_id, expected_version)
