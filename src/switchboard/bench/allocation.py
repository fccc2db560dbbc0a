"""Figure 6, allocation: how DN allocation behaves as a 100,000-number range fills up, and
how many allocations per second 16 concurrent allocators reach (with zero duplicates).

    python -m switchboard.bench.allocation [--allocations 50] [--backend sqlite|postgresql]

For each engine (SQLite, and PostgreSQL when reachable) a throw-away database gets one
account with a DN range of 100,000 numbers. The range is filled in steps (0 %, 25 %, 50 %,
90 %, 99 %) by marking randomly chosen DNs as held by the PBX, in bulk (a range after
years of churn; the sweep reads them as it reads phones, and one account holds at most
5,000 phones); at each step the bench times ~50 allocations, each one a whole unit of work as
the phone service runs it: allocate_dn, insert the phone, commit. It prints the medians;
it asserts nothing about timings.

The last column, for comparison, times what a naive allocator does on every call: read
every used DN of the range and look for the first gap. It grows with the number of used
DNs; the allocations themselves (hint + forward sweep) stay flat.

`allocators.concurrent()` runs 16 allocators at once, each in its own session and thread, each
allocation a unit of work (allocate, insert the phone, commit); it counts the DNs handed
out twice (the unique constraint would refuse the second phone: a refusal is counted as
a failure, never retried). The figure's allocators live in 2 processes of 8 threads, as
`switchboard serve --workers 2` runs requests on this machine; the same 16 as threads of
one process (the figure before 2026-11-27's fourth session) are measured beside them: they
also wait for each other's turn at the interpreter lock.

`beside_a_long_unit()` (PostgreSQL) times single allocations, each a unit of work as an
admin adding a phone makes it, while another transaction allocates 100 DNs from the same
range over 2 s before it commits, as an import does between two checkpoints.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine, event, func, insert, select
from sqlalchemy.orm import Session

from switchboard.accounts import service as accounts
from switchboard.bench.results import Figure
from switchboard.bench.sizes import Sizes
from switchboard.core.context import Actor, ServiceContext
from switchboard.core.db import make_engine
from switchboard.migrations import upgrade
from switchboard.mivb.models import MivbService, Phone
from switchboard.numbering.models import PbxReservedDn
from switchboard.numbering import service as numbering
from switchboard.numbering.pool import DN_POOL
from switchboard.numbering.sweep import in_span
from switchboard.testing.databases import postgres_available, temporary_database

SERVER_PROCESSES = 2  # the server's processes on this 2-core machine (one per core)
RANGE_PREFIX, RANGE_START, RANGE_SIZE = "8", "00000", 100_000  # DNs 800000 … 899999 (make_engine's pool: 30)
FILL_STEPS = (0.0, 0.25, 0.50, 0.90, 0.99)
BULK_CHUNK = 5_000


@dataclass
class Row:
    fill: float
    used: int
    median_alloc_ms: float
    median_unit_ms: float
    max_unit_ms: float
    statements: float
    whole_pool_ms: float


def range_end(size: int) -> str:
    return f"{size - 1:05d}"


def _setup(session: Session, size: int = RANGE_SIZE) -> tuple[str, str, str]:
    ctx = ServiceContext(session=session, actor=Actor.system("bench"))
    partner, _ = accounts.create_partner(ctx, {"name": "Bench Partner", "admin_email": "bench@partner.example",
                                               "admin_password": "bench-password-123"})
    account = accounts.create_account(ctx, {"name": "Bench Customer"}, partner_id=partner.id)
    user = accounts.create_user(ctx, account.id, {"first_name": "Bench", "last_name": "User",
                                                  "email": "bench.user@customer.example"})
    session.add(MivbService(user_id=user.id, account_id=account.id))
    rng = numbering.create_dn_range(ctx, account.id, {"prefix": RANGE_PREFIX, "start": RANGE_START,
                                                      "end": range_end(size)}).range
    session.commit()
    return account.id, user.id, rng.id


def _fill_to(session: Session, account_id: str, target: int, order: list[int], cursor: int,
             span: numbering.Span) -> int:
    """Marks DNs taken from the shuffled `order` as used until `target` DNs are: as DNs the
    PBX holds outside Switchboard (an account has at most 5,000 phones, the PBX's device
    capacity that every commit checks; the sweep reads phones and these DNs alike, in one
    statement). Returns the new cursor in `order`."""
    used = set(session.scalars(select(Phone.dn).where(Phone.account_id == account_id)))
    used |= set(session.scalars(select(PbxReservedDn.dn).where(PbxReservedDn.account_id == account_id)))
    missing = target - len(used)
    rows = []
    while missing > 0 and cursor < len(order):
        dn = span.text(order[cursor])
        cursor += 1
        if dn in used:
            continue
        rows.append({"account_id": account_id, "dn": dn, "length": len(dn)})
        missing -= 1
    for i in range(0, len(rows), BULK_CHUNK):
        session.execute(insert(PbxReservedDn), rows[i:i + BULK_CHUNK])
    session.commit()
    return cursor


def _measure(engine, session: Session, account_id: str, user_id: str, range_id: str,
             allocations: int) -> tuple[list[float], list[float], float]:
    statements = 0

    def count(*_args):
        nonlocal statements
        statements += 1

    alloc_times, unit_times = [], []
    event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(allocations):
            started = time.perf_counter()
            dn, rid = numbering.allocate_dn(session, account_id, range_id=range_id)
            allocated = time.perf_counter()
            session.add(Phone(account_id=account_id, user_id=user_id, type="desk_phone", dn=dn, dn_range_id=rid))
            session.commit()
            done = time.perf_counter()
            alloc_times.append((allocated - started) * 1000)
            unit_times.append((done - started) * 1000)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return alloc_times, unit_times, statements / allocations


def _whole_pool(session: Session, account_id: str, span: numbering.Span) -> float:
    """What a naive allocator does on every call: read every used DN of the range, then
    look for the first gap."""
    started = time.perf_counter()
    taken = set()
    for column, scope in DN_POOL.sources_of(account_id, span):
        taken.update(session.scalars(select(column).where(*scope, *in_span(column, span))))
    next((n for n in range(span.lo, span.hi + 1) if span.text(n) not in taken), None)
    elapsed = (time.perf_counter() - started) * 1000
    session.rollback()
    return elapsed


@contextmanager
def _bench_database(backend: str) -> Iterator[Engine]:
    """A throw-away database of `backend`, migrated, and its engine."""
    with tempfile.TemporaryDirectory() as directory, temporary_database(backend, directory) as url:
        upgrade(url)
        engine = make_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()


def run(backend: str, allocations: int, seed: int = 7, size: int = RANGE_SIZE) -> list[Row]:
    rows: list[Row] = []
    with _bench_database(backend) as engine:
        with Session(engine, expire_on_commit=False) as session:
            account_id, user_id, range_id = _setup(session, size)
            span = numbering.Span(RANGE_PREFIX, RANGE_START, range_end(size))
            order = list(range(span.lo, span.hi + 1))
            random.Random(seed).shuffle(order)
            cursor = 0
            for fill in FILL_STEPS:
                cursor = _fill_to(session, account_id, int(span.size * fill), order, cursor, span)
                used = sum(session.scalar(select(func.count()).select_from(model)
                                          .where(model.account_id == account_id)) or 0
                           for model in (Phone, PbxReservedDn))
                whole_pool = _whole_pool(session, account_id, span)
                alloc, unit, statements = _measure(engine, session, account_id, user_id, range_id, allocations)
                rows.append(Row(fill, used, statistics.median(alloc), statistics.median(unit), max(unit),
                                statements, whole_pool))
                print(f"  {backend}: {fill:>4.0%} full done", file=sys.stderr, flush=True)
    return rows


@dataclass
class Beside:
    latencies_ms: list[float]

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


LONG_UNIT_ALLOCATIONS = 100
LONG_UNIT_SECONDS = 2.0


def beside_a_long_unit(backend: str, size: int = RANGE_SIZE, singles: int = 40) -> Beside:
    """Single allocations (allocate, insert the phone, commit: an admin adding a phone)
    timed while another transaction allocates LONG_UNIT_ALLOCATIONS DNs from the same range
    over LONG_UNIT_SECONDS before it commits (an import between two checkpoints)."""
    with _bench_database(backend) as engine:
        with Session(engine, expire_on_commit=False) as session:
            account_id, user_id, range_id = _setup(session, size)
        done = threading.Event()

        def importer() -> None:
            with Session(engine, expire_on_commit=False) as session:
                while not done.is_set():
                    for _ in range(LONG_UNIT_ALLOCATIONS):
                        dn, rid = numbering.allocate_dn(session, account_id, range_id=range_id)
                        session.add(Phone(account_id=account_id, user_id=user_id, type="desk_phone", dn=dn,
                                          dn_range_id=rid))
                        session.flush()
                        time.sleep(LONG_UNIT_SECONDS / LONG_UNIT_ALLOCATIONS)  # the row's other work
                    session.commit()

        thread = threading.Thread(target=importer, name="importer")
        thread.start()
        latencies = []
        try:
            time.sleep(0.2)
            with Session(engine, expire_on_commit=False) as session:
                for _ in range(singles):
                    started = time.perf_counter()
                    dn, rid = numbering.allocate_dn(session, account_id, range_id=range_id)
                    session.add(Phone(account_id=account_id, user_id=user_id, type="desk_phone", dn=dn,
                                      dn_range_id=rid))
                    session.commit()
                    latencies.append((time.perf_counter() - started) * 1000)
                    time.sleep(0.05)
        finally:
            done.set()
            thread.join()
        return Beside(latencies)


def figures(backend: str, sizes: Sizes) -> list[Figure]:
    """Figure 6 on one engine: concurrent allocations per second, duplicates, the cost of
    an allocation in a 99 %-full range against an empty one, and (PostgreSQL) how long one
    allocation takes beside an import's unit of work in the same range."""
    from switchboard.bench.allocators import concurrent  # it imports this module

    together = concurrent(backend, sizes.allocators, sizes.alloc_each, sizes.alloc_range, processes=SERVER_PROCESSES)
    one_process = concurrent(backend, sizes.allocators, sizes.alloc_each, sizes.alloc_range)
    # SQLite has one writer: an import holds it from one checkpoint to the next, by design
    beside = (beside_a_long_unit(backend, sizes.alloc_range, singles=max(5, sizes.alloc_each * 4 // 5))
              if backend == "postgresql" else None)
    rows = run(backend, sizes.alloc_samples, size=sizes.alloc_range)
    empty, full = rows[0], rows[-1]
    common = {"engine": backend, "mode": sizes.mode}
    beside_figure = [] if beside is None else [
        Figure("6. allocate beside an import, p95", value=round(beside.percentile(0.95), 1), unit="ms",
               size=f"{len(beside.latencies_ms)} single allocations",
               note=(f"p50 {beside.percentile(0.5):.1f} ms, beside units of {LONG_UNIT_ALLOCATIONS} allocations "
                     f"over {LONG_UNIT_SECONDS:.0f} s"), **common)]
    return beside_figure + [
        Figure("6. allocations, 16 concurrent", value=round(together.per_second, 1), unit="allocations/s",
               target=300, size=sizes.describe("allocation"),
               note=f"{SERVER_PROCESSES} processes (as `serve --workers {SERVER_PROCESSES}`); {together.failures} refused",
               **common),
        Figure("6. allocations, 16 threads of one process", value=round(one_process.per_second, 1),
               unit="allocations/s", size=sizes.describe("allocation"),
               note=f"as measured before; {one_process.failures} refused", **common),
        Figure("6. allocations handed out twice", value=together.duplicates + one_process.duplicates, unit="DNs",
               target=0, better="lower", size=sizes.describe("allocation"), note="both runs", **common),
        Figure("6. allocation 99 % full / empty", value=round(full.median_unit_ms / empty.median_unit_ms, 2),
               unit="×", target=2, better="lower", size=sizes.describe("fill"),
               note=f"{empty.median_unit_ms:.1f} → {full.median_unit_ms:.1f} ms per unit of work", **common),
    ]


def print_table(backend: str, rows: list[Row], allocations: int, size: int = RANGE_SIZE) -> None:
    print(f"\n{backend}: DN range of {size:,} numbers ({RANGE_PREFIX}{RANGE_START}–{RANGE_PREFIX}{range_end(size)}), "
          f"median of {allocations} allocations per fill level")
    header = (f"{'fill':>5} {'used DNs':>9} {'allocate_dn':>12} {'+insert+commit':>15} {'max unit':>9} "
              f"{'SQL/alloc':>10} {'naive: read pool':>17}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r.fill:>5.0%} {r.used:>9,} {r.median_alloc_ms:>9.2f} ms {r.median_unit_ms:>12.2f} ms "
              f"{r.max_unit_ms:>6.1f} ms {r.statements:>10.1f} {r.whole_pool_ms:>14.1f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m switchboard.bench.allocation", description=__doc__.split("\n")[0])
    parser.add_argument("--allocations", type=int, default=50, help="allocations timed per fill level")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), action="append",
                        help="engine(s) to run on (default: SQLite, and PostgreSQL when reachable)")
    args = parser.parse_args(argv)
    backends = args.backend
    if not backends:
        backends = ["sqlite"]
        ok, detail = postgres_available()
        if ok:
            backends.append("postgresql")
        else:
            print(f"PostgreSQL is not reachable ({detail}): SQLite only.", file=sys.stderr)
    started = time.monotonic()
    for backend in backends:
        print_table(backend, run(backend, args.allocations), args.allocations)
    print(f"\n(total bench time {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
