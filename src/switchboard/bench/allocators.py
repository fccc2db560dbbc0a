"""Figure 6's concurrent allocators: many allocators at once in one range, each allocation
a unit of work (allocate, insert the phone, commit), hosted as threads of one process or
shared out between processes as the server's requests are (allocation.py's docstring)."""

from __future__ import annotations

import multiprocessing
import threading
import time
from dataclasses import dataclass

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from switchboard.bench.allocation import RANGE_SIZE, _bench_database, _setup
from switchboard.core.db import make_engine
from switchboard.mivb.models import Phone
from switchboard.numbering import service as numbering


@dataclass
class Concurrent:
    allocations: int
    seconds: float
    duplicates: int
    failures: int

    @property
    def per_second(self) -> float:
        return self.allocations / self.seconds if self.seconds else 0.0


def concurrent(backend: str, allocators: int = 16, each: int = 50, size: int = RANGE_SIZE,
               processes: int = 1) -> Concurrent:
    """`allocators` allocators allocate `each` DNs at once from one range, each allocation a
    unit of work, in `processes` processes (threads shared out between them); counts the
    DNs handed out twice and the refused units."""
    with _bench_database(backend) as engine:
        with Session(engine, expire_on_commit=False) as session:
            ids = _setup(session, size)
        if processes <= 1:
            results: list[tuple[list[str], int]] = []
            start = threading.Barrier(2)  # this thread and the allocators' own
            runner = threading.Thread(target=lambda: results.append(_allocators(engine, ids, allocators, each, start)))
            runner.start()
            start.wait()
            started = time.perf_counter()
            runner.join()
        else:
            spawn = multiprocessing.get_context("spawn")  # no engine, lock or thread of this process inherited
            start, out = spawn.Barrier(processes + 1), spawn.Queue()
            url = engine.url.render_as_string(hide_password=False)
            shares = [allocators // processes + (1 if i < allocators % processes else 0) for i in range(processes)]
            children = [spawn.Process(target=_allocating_process, args=(url, ids, share, each, start, out))
                        for share in shares]
            for child in children:
                child.start()
            start.wait(timeout=120)
            started = time.perf_counter()
            results = [out.get(timeout=600) for _ in children]
            for child in children:
                child.join()
            for result in results:
                if isinstance(result, str):
                    raise RuntimeError(result)
        seconds = time.perf_counter() - started
        handed_out = [dn for got, _ in results for dn in got]
        failures = sum(refused for _, refused in results)
        with Session(engine) as session:
            stored = session.scalar(select(func.count()).select_from(Phone).where(Phone.account_id == ids[0]))
        duplicates = len(handed_out) - len(set(handed_out)) + max(0, len(handed_out) - (stored or 0))
        return Concurrent(len(handed_out), seconds, duplicates, failures)


def _allocating_process(url: str, ids: tuple[str, str, str], threads: int, each: int, start, out) -> None:
    """One process of allocators (spawned): its own engine, `threads` allocators."""
    engine = make_engine(url)
    try:
        out.put(_allocators(engine, ids, threads, each, start))
    except BaseException as exc:  # said to the parent at once, which fails the figure with it
        out.put(f"allocating process failed: {exc!r}")
        raise
    finally:
        engine.dispose()


def _allocators(engine: Engine, ids: tuple[str, str, str], threads: int, each: int,
                start) -> tuple[list[str], int]:
    """`threads` allocators, each in its own session and thread, started together once
    `start` (a barrier shared with the caller) lets them go: the DNs they were handed and
    the refused units."""
    account_id, user_id, range_id = ids
    handed_out: list[str] = []
    failures = 0
    guard = threading.Lock()
    ready = threading.Barrier(threads + 1)

    def allocator() -> None:
        nonlocal failures
        with Session(engine, expire_on_commit=False) as session:
            _warm_up(session, account_id, user_id, range_id)
            ready.wait()
            for _ in range(each):
                try:
                    dn, rid = numbering.allocate_dn(session, account_id, range_id=range_id)
                    session.add(Phone(account_id=account_id, user_id=user_id, type="desk_phone", dn=dn,
                                      dn_range_id=rid))
                    session.commit()
                except Exception:  # a refused unit is counted, never retried
                    session.rollback()
                    with guard:
                        failures += 1
                    continue
                with guard:
                    handed_out.append(dn)

    workers = [threading.Thread(target=allocator, name=f"allocator-{i}") for i in range(threads)]
    for worker in workers:
        worker.start()
    start.wait()
    ready.wait()
    for worker in workers:
        worker.join()
    return handed_out, failures


def _warm_up(session: Session, account_id: str, user_id: str, range_id: str) -> None:
    """One allocation rolled back before the clock starts: the connection is open and the
    statements compiled, in a process just spawned as in the others (nothing is kept: the
    range's hint moves only at a commit)."""
    dn, rid = numbering.allocate_dn(session, account_id, range_id=range_id)
    session.add(Phone(account_id=account_id, user_id=user_id, type="desk_phone", dn=dn, dn_range_id=rid))
    session.flush()
    session.rollback()
