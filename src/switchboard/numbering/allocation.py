"""Allocation of DNs and DIDs to phones, on the generic pool allocator.

Functions here take a bare Session and join the caller's unit of work: the number and the
phone that gets it are committed together (or not at all). A DN is usable for a new phone
only if, where a DID range maps a DID onto it, that DID is free too: a phone renumbered
away from its mapped DN keeps its DID, and the DN it left must not be handed out with a
DID that is already taken (it is skipped until that DID comes back)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, event, func, inspect, select
from sqlalchemy.orm import Session, object_session

from switchboard.core.context import ServiceContext
from switchboard.core.uow import tx_cache
from switchboard.core.errors import Conflict, NotFound, invalid
from switchboard.core.validation import phone_number_field
from switchboard.mivb.models import Phone
from switchboard.numbering.claims import claim
from switchboard.numbering.models import DidRange, DnRange, PbxReservedDn
from switchboard.numbering.pool import (
    DID_POOL,
    DN_POOL,
    Usable,
    forget_cursor,
    free_in_range,
    give_back,
    read_range,
    take_next,
    taken_by_name,
)
from switchboard.numbering.schemas import is_dn
from switchboard.numbering.spans import Mapping, Span, mapping_of
from switchboard.numbering.sweep import SWEEP_BATCH, in_span


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()

_INVALID_DN = ("A DN is 1 to 7 characters: digits, after an optional prefix of up to 4 characters out of "
               "0-9, * and #.")


def dn_ranges_in_order(session: Session, account_id: str) -> Sequence[DnRange]:
    """The account's DN ranges in allocation order (read once per transaction)."""
    cache = tx_cache(session)
    if ("dn_ranges", account_id) not in cache:
        cache[("dn_ranges", account_id)] = session.scalars(
            select(DnRange).where(DnRange.account_id == account_id)
            .order_by(DnRange.prefix + DnRange.start, DnRange.id)).all()
    return cache[("dn_ranges", account_id)]


def did_ranges_in_order(session: Session, account_id: str) -> Sequence[DidRange]:
    cache = tx_cache(session)
    if ("did_ranges", account_id) not in cache:
        cache[("did_ranges", account_id)] = session.scalars(
            select(DidRange).where(DidRange.account_id == account_id)
            .order_by(func.length(DidRange.start), DidRange.start, DidRange.id)).all()
    return cache[("did_ranges", account_id)]


def forget_ranges(session: Session, account_id: str) -> None:
    """A range was added or deleted in this transaction."""
    for key in (("dn_ranges", account_id), ("did_ranges", account_id), ("mappings", account_id)):
        tx_cache(session).pop(key, None)


def dn_taken(session: Session, account_id: str, dn: str) -> bool:
    on_phone = session.scalar(select(Phone.id).where(Phone.account_id == account_id, Phone.dn == dn).limit(1))
    return on_phone is not None or session.get(PbxReservedDn, (account_id, dn)) is not None


def did_taken(session: Session, did: str) -> bool:
    """Whether a phone holds the DID (DIDs are unique everywhere). What this transaction
    already asked, or handed out, it does not ask again."""
    known = tx_cache(session).setdefault("dids", {})
    if did not in known:
        known[did] = session.scalar(select(Phone.id).where(Phone.did == did).limit(1)) is not None
    return known[did]


def note_did_taken(session: Session, did: str | None) -> None:
    """A phone of this transaction now holds `did` (what did_taken has learnt is updated)."""
    if did is not None:
        tx_cache(session).setdefault("dids", {})[did] = True


@event.listens_for(Phone, "after_insert")
@event.listens_for(Phone, "after_update")
@event.listens_for(Phone, "after_delete")
def _phone_written(_mapper, _connection, phone: Phone) -> None:
    """Whatever writes a phone (a service, an adoption, a test), what this transaction
    learnt about DIDs forgets that phone's numbers."""
    session = object_session(phone)
    known = tx_cache(session).get("dids") if session is not None else None
    if known:
        known.pop(phone.did, None)
        history = inspect(phone).attrs.did.history
        for old in history.deleted or ():
            known.pop(old, None)


def mapped_did(mappings: list[Mapping], dn: str) -> str | None:
    """The DID the first mapping that covers `dn` gives it (the one allocate_did uses)."""
    return next((did for did in (m.did_for(dn) for m in mappings) if did is not None), None)


def account_mappings(session: Session, account_id: str) -> list[Mapping]:
    cache = tx_cache(session)
    if ("mappings", account_id) not in cache:
        cache[("mappings", account_id)] = [m for m in (mapping_of(r) for r in did_ranges_in_order(session, account_id))
                                           if m is not None]
    return cache[("mappings", account_id)]


def usable_with_mapped_did(session: Session, account_id: str) -> Usable:
    """Accepts a DN unless a DID range maps onto it a DID that is already taken."""
    mappings = account_mappings(session, account_id)

    def usable(dn: str) -> bool:
        did = mapped_did(mappings, dn)
        if did is None:
            return True
        if did not in tx_cache(session).get("dids", {}):
            _learn_dids(session, next(m for m in mappings if m.did_for(dn) == did), did)
        return not did_taken(session, did)

    return usable


def _learn_dids(session: Session, mapping: Mapping, did: str) -> None:
    """Which of the mapping's DIDs from `did` on (SWEEP_BATCH of them) are taken, read at
    once: the DNs after this one are asked about next."""
    known = tx_cache(session).setdefault("dids", {})
    width = mapping.did_length - 1
    first = int(did[1:])
    last = min(mapping.did_start + mapping.count - 1, first + SWEEP_BATCH - 1)
    span = Span("+", f"{first:0{width}d}", f"{last:0{width}d}")
    taken = set(session.scalars(select(Phone.did).where(*in_span(Phone.did, span))))
    for n in range(span.lo, span.hi + 1):
        known.setdefault(span.text(n), span.text(n) in taken)


def allocate_dn(session: Session, account_id: str, *, wanted: str | None = None, range_id: str | None = None,
                with_mapped_did: bool = False) -> tuple[str, str]:
    """(dn, dn_range_id) for a new phone of the account: `wanted` if it is free, else the
    next free DN (of range_id, or of the account's ranges in order). with_mapped_did: the
    phone also takes the DID a range maps onto its DN, so skip DNs whose mapped DID is
    taken."""
    if range_id is not None:
        candidates = [r for r in [session.scalar(select(DnRange).where(
            DnRange.id == range_id, DnRange.account_id == account_id))] if r is not None]
        if not candidates:
            raise NotFound("not_found", "DN range not found.")
    else:
        candidates = list(dn_ranges_in_order(session, account_id))

    if wanted is not None:
        if not is_dn(wanted):
            raise invalid("dn", "invalid_dn", _INVALID_DN)
        home = next((r for r in candidates if wanted in Span.of_dn_range(r)), None)
        rng = read_range(session, DN_POOL, home.id) if home is not None else None
        if rng is None:
            raise invalid("dn", "dn_out_of_range", "DN %(dn)s is not in a DN range of this account.", dn=wanted)
        claimed = claim(session, DN_POOL, rng, wanted)
        if dn_taken(session, account_id, wanted):
            raise Conflict("dn_taken", "DN %(dn)s is already in use.", field="dn", dn=wanted)
        if not claimed:  # free, but another unit of work (an import) may be handing it out
            raise Conflict("dn_taken", "DN %(dn)s is being given to another phone right now: choose another one, "
                           "or try again in a moment.", field="dn", dn=wanted)
        taken_by_name(session, DN_POOL, rng, wanted)
        return wanted, rng.id

    if not candidates:
        raise Conflict("range_exhausted", "This account has no DN range to take a DN from.", field="dn")
    usable = usable_with_mapped_did(session, account_id) if with_mapped_did else None
    for candidate in candidates:
        dn = take_next(session, DN_POOL, candidate.id, usable)
        if dn is not None:
            return dn, candidate.id
    raise Conflict("range_exhausted", "Every DN of the DN ranges is in use.", field="dn")


def release_dn(session: Session, range_id: str | None, dn: str | None) -> None:
    """A phone gave `dn` back: it becomes the range's lowest free DN if below the hint."""
    give_back(session, DN_POOL, range_id, dn)


def allocate_did(session: Session, account_id: str, *, dn: str, wanted: str | None = UNSET
                 ) -> tuple[str | None, str | None]:
    """(did, did_range_id) for a phone with DN `dn`.

    wanted given: that DID, if it is one of the account's, free, and (in a mapped range)
    the one mapped to `dn`. wanted=None: no DID. Not given: the DID a mapped range gives
    `dn`; else the next free DID of the account's unmapped ranges; else (no unmapped range)
    none."""
    if wanted is None:
        return None, None
    ranges = did_ranges_in_order(session, account_id)
    if wanted is not UNSET:
        return _wanted_did(session, ranges, dn, wanted)
    for candidate in ranges:
        mapping = mapping_of(candidate)
        did = mapping.did_for(dn) if mapping is not None else None
        if did is None or read_range(session, DID_POOL, candidate.id) is None:
            continue
        if did_taken(session, did):
            raise Conflict("did_taken", "DID %(did)s, which DN %(dn)s maps to, is already in use.", field="did",
                           did=did, dn=dn)
        return did, candidate.id
    unmapped = [r for r in ranges if not r.first_dn]
    if not unmapped:
        return None, None
    for candidate in unmapped:
        did = take_next(session, DID_POOL, candidate.id)
        if did is not None:
            return did, candidate.id
    raise Conflict("range_exhausted", "Every DID of the DID ranges is in use.", field="did")


def _wanted_did(session: Session, ranges: Sequence[DidRange], dn: str, wanted: str) -> tuple[str, str]:
    wanted = phone_number_field(wanted, None, "did")  # the services read it in the account's country
    home = next((r for r in ranges if wanted in Span.of_did_range(r)), None)
    if home is None:
        raise invalid("did", "did_out_of_range", "DID %(did)s is not in a DID range of this account.", did=wanted)
    mapping = mapping_of(home)
    if mapping is not None and mapping.did_for(dn) != wanted:
        mapped_dn = mapping.dn_for(wanted)
        if mapped_dn is None:
            raise invalid("did", "did_not_mapped", "DID %(did)s maps to no DN: it cannot be used.", did=wanted)
        raise invalid("did", "did_not_mapped", "DID %(did)s is mapped to DN %(mapped_dn)s; it can only go "
                      "to the phone with that DN.", did=wanted, mapped_dn=mapped_dn)
    rng = read_range(session, DID_POOL, home.id)
    if rng is None:
        raise invalid("did", "did_out_of_range", "DID %(did)s is not in a DID range of this account.", did=wanted)
    claimed = claim(session, DID_POOL, rng, wanted)
    tx_cache(session).get("dids", {}).pop(wanted, None)  # read again, after the claim
    if did_taken(session, wanted):
        raise Conflict("did_taken", "DID %(did)s is already in use.", field="did", did=wanted)
    if not claimed:
        raise Conflict("did_taken", "DID %(did)s is being given to another phone right now: choose another one, "
                       "or try again in a moment.", field="did", did=wanted)
    taken_by_name(session, DID_POOL, rng, wanted)
    return wanted, home.id


def release_did(session: Session, range_id: str | None, did: str | None) -> None:
    """A phone gave `did` back: it becomes the range's lowest free DID if below the hint."""
    tx_cache(session).setdefault("dids", {}).pop(did, None)
    give_back(session, DID_POOL, range_id, did)


def next_free_dns(session: Session, account_id: str, limit: int = 10, range_id: str | None = None) -> list[str]:
    """The next free DNs that a new phone (taking its mapped DID) can have, over the
    account's ranges in order (or one range), without counting their use. Nothing is
    reserved: the phone that takes one goes through allocate_dn."""
    usable = usable_with_mapped_did(session, account_id)
    found: list[str] = []
    for rng in dn_ranges_in_order(session, account_id):
        if range_id is not None and rng.id != range_id:
            continue
        for dn in free_in_range(session, DN_POOL, rng, usable):
            found.append(dn)
            if len(found) >= limit:
                return found
    return found


# ---------------------------------------------------------------- the PBX's own DNs

_IN_CHUNK = 500


def refresh_reserved_dns(session: Session, account_id: str, dns_in_use: list[str]) -> None:
    """PbxReservedDn := the DNs the PBX reports in use, minus the DNs of the account's own
    phones (those are Switchboard's). A DN that stops being reserved below a range's hint
    moves the hint back."""
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
    for rng in dn_ranges_in_order(session, account_id):
        forget_cursor(session, rng.id)
        span = Span.of_dn_range(rng)
        freed = [n for n in (span.number(dn) for dn in gone) if n is not None]
        if freed:
            give_back(session, DN_POOL, rng.id, span.text(min(freed)))
    session.flush()


def on_catalog_refreshed(ctx: ServiceContext, account_id: str, dns_in_use: list[str]) -> None:
    """Subscriber of pbx.catalog.catalog_refreshed."""
    refresh_reserved_dns(ctx.session, account_id, dns_in_use)
