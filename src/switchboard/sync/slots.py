"""Each PBX's limit of pushes in flight, shared by every worker process.

A PBX has `limit` places (rows of sync_pbx_slots). A worker takes places at a PBX for as
long as it has calls for it, renews their lease while it holds them, and gives them back
once it has had nothing for that PBX for a moment; it never has more calls in flight to a
PBX than places it holds there. Two workers on two hosts therefore never push more than
`limit` calls at once to one PBX, and a worker that dies holds its places only until
their lease runs out.

`adjust` runs in the caller's transaction and flushes; the worker commits (it is the one
that commits its own steps). On PostgreSQL the rows are taken FOR UPDATE SKIP LOCKED (a
place another worker is changing right now is simply not seen this round); on SQLite the
transaction holds the write lock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from switchboard.sync.dispatch import PushPool
from switchboard.sync.models import PbxSlot, PbxWaiter

# How long a worker's word that it waits for places holds (it says it again each time it asks).
WAITING = timedelta(seconds=3)
FORGOTTEN = timedelta(minutes=1)  # a waiter's row this much past its time is deleted


def _insert_missing(session: Session, pbxs: list[str], limit: int) -> None:
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    rows = [{"pbx": pbx, "slot": slot} for pbx in pbxs for slot in range(limit)]
    session.execute(insert(PbxSlot).values(rows).on_conflict_do_nothing())


@dataclass
class Places:
    """The places one worker holds, PBX by PBX (what it believes after its last adjust)."""

    holder: str
    limit: int
    lease: timedelta
    held: dict[str, int] = field(default_factory=dict)
    known: set[str] = field(default_factory=set)  # PBXs whose rows exist
    asked: bool = False  # it asked for places since it last gave all back (it may be waiting)

    def adjust(self, session: Session, wanted: dict[str, int], now: datetime,
               in_flight: dict[str, int] | None = None) -> dict[str, int]:
        """Holds min(wanted, limit, fair share) places at each PBX of `wanted` as far as
        free places allow, gives back the places at PBXs wanted 0 (or not named and not
        held) and those above the fair share, renews the lease of every place kept. The
        fair share: the limit divided among the workers that hold places at the PBX or
        wait for some (rounded up). A place a call `in_flight` still uses is kept (and
        renewed) until a later adjust, after the call has ended: given back at once,
        another worker would push in its place while the call is still at the PBX.
        Returns the places the worker may start calls in, PBX by PBX."""
        pbxs = sorted(set(wanted) | set(self.held))
        if not pbxs:
            return {}
        self.asked = self.asked or any(count > 0 for count in wanted.values())
        new = [pbx for pbx in pbxs if pbx not in self.known and wanted.get(pbx, 0) > 0]
        if new:
            _insert_missing(session, new, self.limit)
        rows = session.scalars(select(PbxSlot).where(PbxSlot.pbx.in_(pbxs), PbxSlot.slot < self.limit)
                               .order_by(PbxSlot.pbx, PbxSlot.slot).with_for_update(skip_locked=True)).all()
        by_pbx: dict[str, list[PbxSlot]] = {}
        for row in rows:
            by_pbx.setdefault(row.pbx, []).append(row)
        waiters: dict[str, dict[str, PbxWaiter]] = {}
        for waiter in session.scalars(select(PbxWaiter).where(PbxWaiter.pbx.in_(pbxs))):
            waiters.setdefault(waiter.pbx, {})[waiter.holder] = waiter
        held: dict[str, int] = {}
        usable: dict[str, int] = {}
        until = now + self.lease
        for pbx in pbxs:
            places = by_pbx.get(pbx, [])
            live = [p for p in places if p.holder is not None and p.lease_until is not None and p.lease_until >= now]
            others = {p.holder for p in live if p.holder != self.holder}
            others |= {w.holder for w in waiters.get(pbx, {}).values() if w.holder != self.holder and w.until >= now}
            share = -(-self.limit // (1 + len(others)))
            want = max(0, min(wanted.get(pbx, 0), self.limit, share))
            mine = [p for p in places if p.holder == self.holder]
            free = [p for p in places if p.holder is None or (p.holder != self.holder and p not in live)]
            kept = max(want, min(len(mine), (in_flight or {}).get(pbx, 0)))  # calls still at the PBX
            for place in mine[kept:]:
                place.holder, place.lease_until = None, None
            keep = mine[:kept] + free[:max(0, want - len(mine))]
            for place in keep:
                place.holder, place.lease_until = self.holder, until
            if keep:
                held[pbx] = len(keep)
            if min(len(keep), want):
                usable[pbx] = min(len(keep), want)
            self._wait(session, pbx, waiters.get(pbx, {}), len(keep) < want or (not keep and wanted.get(pbx, 0) > 0),
                       now)
        session.flush()
        self.known.update(new)
        self.held = held
        return usable

    def _wait(self, session: Session, pbx: str, waiters: dict[str, PbxWaiter], waiting: bool, now: datetime) -> None:
        """Says (or stops saying) that this worker waits for places at `pbx`; forgets the
        waiters that stopped long ago."""
        mine = waiters.get(self.holder)
        if waiting:
            if mine is None:
                session.add(PbxWaiter(pbx=pbx, holder=self.holder, until=now + WAITING))
            else:
                mine.until = now + WAITING
        elif mine is not None:
            session.delete(mine)
        if any(w.holder != self.holder and w.until < now - FORGOTTEN for w in waiters.values()):
            # Rows another worker is changing right now are skipped, never waited for.
            for waiter in session.scalars(select(PbxWaiter).where(
                    PbxWaiter.pbx == pbx, PbxWaiter.holder != self.holder, PbxWaiter.until < now - FORGOTTEN)
                    .with_for_update(skip_locked=True)):
                session.delete(waiter)

    def release_all(self, session: Session) -> None:
        """Gives back every place held, and stops waiting for any (the worker stops)."""
        for place in session.scalars(select(PbxSlot).where(PbxSlot.holder == self.holder).with_for_update()):
            place.holder, place.lease_until = None, None
        session.execute(delete(PbxWaiter).where(PbxWaiter.holder == self.holder))
        session.flush()
        self.held, self.asked = {}, False


class Balancer:
    """When a worker should take, renew or give back places, and what its pool may then
    push: the worker's thread asks `due()` each round and, when it answers, runs `adjust`
    in a transaction and hands the result to `apply()`."""

    def __init__(self, places: Places, pool: PushPool, *, grace: float = 1.0, retry: float = 0.2,
                 patience: float = 3.0) -> None:
        self.places, self.pool = places, pool
        self.grace = grace  # a PBX idle this long gives its places back
        self.retry = retry  # a PBX refused places is asked again after this long
        self.patience = patience  # calls wait this long for places before going back to the queue
        self._without: dict[str, float] = {}  # PBX -> since when its calls have had no place
        self._renew_at = 0.0
        self._last_busy: dict[str, float] = {}
        self._asked: dict[str, float] = {}
        self.refused_until: dict[str, float] = {}  # PBXs whose places other workers hold

    def due(self, now: float) -> dict[str, int] | None:
        """The places to ask for, or None when nothing needs the database now."""
        busy = set(self.pool.pbxs())
        held = self.places.held
        if not busy and not held:
            return None  # an idle worker holds nothing: nothing to ask the database
        for pbx in busy:
            self._last_busy[pbx] = now
        short = [pbx for pbx in busy if held.get(pbx, 0) < self.pool.per_pbx
                 and now - self._asked.get(pbx, -1e9) >= (self.retry if not held.get(pbx) else 5 * self.retry)]
        idle = [pbx for pbx in held if pbx not in busy and now - self._last_busy.get(pbx, 0.0) >= self.grace]
        if not short and not idle and now < self._renew_at:
            return None
        wanted = {pbx: count for pbx, count in held.items() if pbx not in idle}
        wanted.update({pbx: self.pool.per_pbx for pbx in busy})
        wanted.update({pbx: 0 for pbx in idle})
        for pbx in short:
            self._asked[pbx] = now
        return wanted

    def apply(self, held: dict[str, int], now: float) -> list[str]:
        """Sets the pool's limits to the places held. Returns the PBXs with calls waiting
        and no place at all (their jobs go back to the queue for the worker that holds the
        places, and this one claims none of theirs for a while)."""
        # Renewed well before the lease runs out, and often enough to see waiters soon.
        self._renew_at = now + min(self.places.lease.total_seconds() / 3, 0.5)
        refused = []
        busy = set(self.pool.pbxs())
        for pbx in busy | set(held) | set(self._last_busy):
            self.pool.set_limit(pbx, held.get(pbx, 0))
            if pbx in busy and not held.get(pbx) and not self.pool.in_flight(pbx):
                # It waits for its share (the holders give it back when they next renew);
                # calls that waited too long go back to the queue for the holders.
                if now - self._without.setdefault(pbx, now) >= self.patience:
                    refused.append(pbx)
                    self.refused_until[pbx] = now + max(self.grace, self.retry)
                    del self._without[pbx]
            else:
                self._without.pop(pbx, None)
        for pbx in [pbx for pbx, seen in self._last_busy.items() if pbx not in held and now - seen > 60]:
            del self._last_busy[pbx]  # forgotten: a worker may have pushed to many PBXs
        return refused

    def forget(self) -> None:
        """Every place was given back: the next call for a PBX asks at once."""
        self._asked.clear()
        self._renew_at = 0.0
        for pbx in list(self._last_busy):
            self.pool.set_limit(pbx, 0)

    def skipped(self, now: float) -> set[str]:
        """The PBXs whose jobs this worker should not claim now."""
        return {pbx for pbx, until in self.refused_until.items() if until > now}
