"""The unit of work: one session per request, CLI command or job step, committed once at
its end or rolled back on any error. Services only add, flush and raise; the edges (routes,
pages, commands, worker steps) open a unit of work and nothing else commits.

Slow outside work (a PBX call) never runs inside a write transaction: a service that must
call the PBX reads what it needs, calls ``end_read_transaction`` (which refuses if this
unit of work has already written anything), calls out, then writes its result."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

_WROTE = "switchboard_wrote"
_BATCHING = "switchboard_batching_flushes"


@contextmanager
def unit_of_work(session_factory: sessionmaker) -> Iterator[Session]:
    """A session whose work is committed when the block ends, rolled back if it raises."""
    session = session_factory()
    try:
        yield session
        session.commit()
    except BaseException as exc:
        finish_failed(session, exc)
        raise
    finally:
        session.close()


def finish_failed(session: Session, exc: BaseException) -> None:
    """Rolls back the work of a unit that raised, except for the refusals whose writes
    must be kept (``ServiceError.keep_writes``: a failed sign-in's record)."""
    if getattr(exc, "keep_writes", False):
        try:
            session.commit()
            return
        except Exception:  # the record could not be kept: the refusal still stands
            pass
    session.rollback()


@contextmanager
def batching_flushes(session: Session) -> Iterator[None]:
    """Inside the block the services' own flushes wait (`flush`), and the block's end
    flushes everything at once: the rows of a bulk import's batch go in a few INSERTs of
    many rows each instead of a few statements per row. Any query still flushes first
    (autoflush), so what a rule reads is always current. What the services' flushes would
    have raised (a unique constraint) is raised at the end, for the whole batch."""
    session.info[_BATCHING] = True
    try:
        yield
    finally:
        session.info.pop(_BATCHING, None)
    session.flush()


def batching(session: Session) -> bool:
    return bool(session.info.get(_BATCHING))


def flush(session: Session) -> None:
    """A service's flush: now, or at the end of the batch the session is in."""
    if not batching(session):
        session.flush()


def has_written(session: Session) -> bool:
    """Whether the session's current transaction holds changes (pending or flushed)."""
    if session.new or session.deleted or session.info.get(_WROTE) or session.info.get(_AT_COMMIT):
        return True
    # "dirty" is optimistic (a merge or an attribute set to its own value counts): only net
    # changes are writes.
    return any(session.is_modified(obj) for obj in session.dirty)


def end_read_transaction(session: Session) -> None:
    """Ends a transaction that has only read, so that what comes next (a PBX call) holds no
    database lock. Objects already loaded stay usable. Refuses when the unit of work has
    written: the outside call must come before the writes, never between them."""
    if has_written(session):
        raise RuntimeError("a PBX call was attempted inside a write transaction")
    if session.in_transaction():
        session.commit()


@event.listens_for(Session, "before_flush")
def _mark_flushed_writes(session: Session, _flush_context, _instances) -> None:
    if session.new or session.deleted or any(session.is_modified(obj) for obj in session.dirty):
        session.info[_WROTE] = True


@event.listens_for(Session, "do_orm_execute")
def _mark_statement_writes(orm_execute_state) -> None:
    if orm_execute_state.is_insert or orm_execute_state.is_update or orm_execute_state.is_delete:
        orm_execute_state.session.info[_WROTE] = True


@event.listens_for(Session, "after_commit")
def _clear_after_commit(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint released: the transaction goes on
        return
    session.info.pop(_WROTE, None)
    session.info.pop(_TX_CACHE, None)


@event.listens_for(Session, "after_rollback")
def _clear_after_rollback(session: Session) -> None:
    session.info.pop(_WROTE, None)
    session.info.pop(_TX_CACHE, None)


@event.listens_for(Session, "after_soft_rollback")
def _clear_after_savepoint_rollback(session: Session, rolled_back) -> None:
    session.info.pop(_TX_CACHE, None)
    for key in (_AT_COMMIT, _KEPT):
        pending = session.info.get(key)
        if pending:  # what was written in what rolled back (the savepoint, or everything) goes with it
            session.info[key] = [p for p in pending if not _within(p[0], rolled_back)]


@event.listens_for(Session, "after_transaction_end")
def _forget_rows_at_the_end(session: Session, transaction) -> None:
    if transaction.parent is None:  # committed (inserted before), rolled back or closed
        session.info.pop(_AT_COMMIT, None)
        session.info.pop(_KEPT, None)


@event.listens_for(Session, "before_commit")
def _run_before_commit(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint: the transaction goes on
        return
    for action in session.info.get(_TX_CACHE, {}).pop("before_commit", {}).values():
        action(session)
    pending = session.info.pop(_AT_COMMIT, None)
    if pending:
        by_table: dict = {}
        for _, table, values in pending:
            by_table.setdefault(table, []).append(values)
        for table, rows in by_table.items():
            session.execute(table.insert(), rows)
    for _, writer in _LAST_WRITERS:
        writer(session)


_AT_COMMIT = "switchboard_insert_at_commit"
_KEPT = "switchboard_kept_until_commit"
_LAST_WRITERS: list = []


def keep_until_commit(session: Session, group: str, value) -> None:
    """A fact the commit must act on (a number given back): unlike what tx_cache holds, it
    survives the rollback of a later savepoint, and goes only with a savepoint it was
    kept in, or with the transaction."""
    where = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_KEPT, []).append((where, group, value))


def kept_until_commit(session: Session, group: str) -> list:
    return [value for _, kept_group, value in session.info.get(_KEPT, []) if kept_group == group]


def last_at_commit(writer=None, *, rank: int = 100):
    """Registers writer(session), run at every commit after everything else the commit
    writes: what takes locks other transactions wait for holds them the shortest time.
    Writers run by rank, lowest first: every commit takes these locks in one order."""
    def register(writer):
        _LAST_WRITERS.append((rank, writer))
        _LAST_WRITERS.sort(key=lambda item: item[0])
        return writer
    return register(writer) if writer is not None else register


def insert_at_commit(session: Session, table, values: dict) -> None:
    """A row that nothing reads before its transaction commits (a change-log entry): kept
    here and inserted with the others of its table in one statement just before the commit,
    rather than by an INSERT of its own and the ORM's bookkeeping. A row written in a
    savepoint that rolls back goes with it; a transaction that rolls back writes none."""
    where = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_AT_COMMIT, []).append((where, table, values))


def _within(transaction, ancestor) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


_TX_CACHE = "switchboard_tx_cache"


def tx_cache(session: Session) -> dict:
    """What the current transaction has learnt and may reuse (the ranges it locked, where
    their next free number is): forgotten at its end and at any rollback, savepoints
    included, so nothing learnt in rolled-back work survives it."""
    return session.info.setdefault(_TX_CACHE, {})


def before_commit(session: Session, key: str, action) -> None:
    """Runs action(session) once just before the transaction commits (the last one
    registered under a key wins); forgotten if the transaction or a savepoint rolls back."""
    tx_cache(session).setdefault("before_commit", {})[key] = action


def mark_new_in_transaction(session: Session, kind: str, key: str) -> None:
    """This transaction inserted the object (no row elsewhere refers to it yet but the ones
    this transaction adds): what refers to it need not be looked for in the database."""
    tx_cache(session)[("new", kind, key)] = True


def is_new_in_transaction(session: Session, kind: str, key: str) -> bool:
    return ("new", kind, key) in tx_cache(session)


def tx_count(session: Session, key, load, settle=None) -> int:
    """A count this transaction keeps current itself (load() reads it once; the writes that
    change it call adjust_count), after the pending changes are flushed as a query would
    (only those that change counts, when settle(session) tells which: it flushes them)."""
    if session.autoflush and (session.new or session.dirty or session.deleted):
        if settle is None:
            session.flush()
        else:
            settle(session)
    counts = tx_cache(session).setdefault("counts", {})
    if key not in counts:
        counts[key] = load()
    return counts[key]


def adjust_count(session: Session | None, key, delta: int) -> None:
    """A flushed write changed a count tx_count may hold (nothing to do if it holds none)."""
    counts = session.info.get(_TX_CACHE, {}).get("counts") if session is not None else None
    if counts and key in counts:
        counts[key] += delta


def forget_counts(session: Session) -> None:
    """A write whose effect on the counts cannot be told: they are read again when asked."""
    session.info.get(_TX_CACHE, {}).pop("counts", None)
