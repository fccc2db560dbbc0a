"""Claims (PostgreSQL): a transaction holds the numbers it may hand out with a
transaction-level advisory lock per number, tried without waiting, so allocators from one
range skip what another is taking instead of waiting for its whole unit of work. The
lock key is the hash of the pool's kind, the scope a number is unique in (a DN: its
account; a DID: everywhere) and the number. SQLite has a single writer: nothing to claim."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import ARRAY, String, bindparam, exists, func, literal, not_, select
from sqlalchemy.orm import Session

from switchboard.core.uow import batching

if TYPE_CHECKING:
    from switchboard.numbering.pool import Pool


def claims_numbers(session: Session) -> bool:
    """Whether transactions claim numbers (PostgreSQL) or hold the single writer's lock
    already (SQLite)."""
    return session.get_bind().dialect.name == "postgresql"


@contextlib.contextmanager
def asking_others(session: Session) -> Iterator[None]:
    """Around a statement that asks what other transactions hold: in a batch of rows
    (core.uow.batching_flushes) it does not flush first. The pending phones hold numbers
    this transaction's sweep handed out or took by name, which it never offers again; a
    mistake would still meet the unique constraints when the batch is flushed."""
    if batching(session):
        with session.no_autoflush:
            yield
    else:
        yield


def _claim_scope(pool: Pool, account_id: Any) -> Any:
    """What a claim's lock key is made of before the number (PostgreSQL hashes the two):
    account_id is a value, or the column when a statement builds the key itself."""
    head = f"switchboard:{pool.kind}:"
    if not pool.per_account:
        return literal(head + ":")
    return literal(f"{head}{account_id}:") if isinstance(account_id, str) else literal(head) + account_id + literal(":")


def claim_key(pool: Pool, account_id: Any, number: Any) -> Any:
    return func.hashtextextended(_claim_scope(pool, account_id) + number, 0)


def try_claim(session: Session, pool: Pool, rng: Any, numbers: list[int], want: int) -> list[int]:
    """Claims the first `want` numbers of `numbers` (lowest first) that are free as this
    statement starts and that no other transaction holds, trying them in order and
    stopping there: the free ones before the last claimed that were not claimed are held
    by others, the ones after it were not tried. A claim is held until the transaction
    ends (re-entrant: held ones stay held). The caller reads again whether the claimed
    ones are free: one committed by another transaction as this statement ran is not."""
    span = pool.span_of(rng)
    with asking_others(session):
        got = session.scalars(_claim_statement(pool, rng.account_id, span),
                              {"numbers": [span.text(n) for n in numbers], "want": want}).all()
    return sorted(n for n in (span.number(v) for v in got) if n is not None)


@functools.lru_cache(maxsize=1024)
def _claim_statement(pool: Pool, account_id: str, span: Any) -> Any:
    # The free candidates, in their order, are worked out first (OFFSET 0 keeps the
    # planner from merging the two levels): the lock is tried on free numbers only, one
    # after the other, until LIMIT is reached, whatever plan the database picks.
    candidate = (func.unnest(bindparam("numbers", type_=ARRAY(String)))
                 .table_valued("n", with_ordinality="position").render_derived())
    free = (select(candidate.c.n, candidate.c.position)
            .where(*(not_(exists().where(*scope, column == candidate.c.n))
                     for column, scope in pool.sources_of(account_id, span)))
            .order_by(candidate.c.position).offset(0).subquery())
    return (select(free.c.n).where(func.pg_try_advisory_xact_lock(claim_key(pool, account_id, free.c.n)))
            .limit(bindparam("want")))


def claim(session: Session, pool: Pool, rng: Any, value: str) -> bool:
    """Claims one number by name: False when another transaction is taking it. The caller
    reads whether it is free after this (a commit that took it is then visible)."""
    if not claims_numbers(session):
        return True
    n = pool.span_of(rng).number(value)
    return n is not None and bool(try_claim(session, pool, rng, [n], 1))
