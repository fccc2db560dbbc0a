"""Reading which numbers of a span are in use (the allocator's sweep): the used numbers
of each source read in index order, a batch at a time, so that finding the next free
number costs the same in an empty and a full range."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, literal_column, not_, select, union_all
from sqlalchemy.orm import Session

from switchboard.numbering.claims import asking_others
from switchboard.numbering.spans import Span

# Used numbers read per query while sweeping forward from a hint.
SWEEP_BATCH = 256

# Where numbers are in use: a column, and the conditions that scope it.
Source = tuple[Any, list[ColumnElement[bool]]]


class Sources:
    """The sources of one span's numbers, and the statements that sweep them (built once:
    the pool keeps them per range, a request reuses them)."""

    def __init__(self, items: list[Source], span: Span) -> None:
        self.items = items
        # One statement reads the next batch of every source: one round trip, and one
        # snapshot (a DN moving from the PBX's own to a phone is never missed in between).
        batches = [select(column.label("number"), literal_column(str(i)).label("source"))
                   .where(*scope, *in_span(column, span), column >= bindparam("from_number"))
                   .order_by(column).limit(SWEEP_BATCH).subquery() for i, (column, scope) in enumerate(items)]
        reads = [select(batch.c.number, batch.c.source) for batch in batches]
        self.sweep = union_all(*reads) if len(reads) > 1 else reads[0]
        self.used = union_all(*(select(column.label("number")).where(*scope, column.in_(
            bindparam("numbers", expanding=True))) for column, scope in items))

    def __iter__(self):
        return iter(self.items)


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


class FreeNumbers:
    """Free numbers of a span from from_n upwards, lowest first (an iterator).

    Reads the used numbers ≥ its position of each source in index order, SWEEP_BATCH at
    a time, merged; a full batch only tells about numbers up to its last one, so the walk
    stops there and reads the next batches. Never reads a number below from_n.
    """

    def __init__(self, session: Session, span: Span, sources: Sources, from_n: int) -> None:
        self.session, self.span, self.sources = session, span, sources
        self.position = max(from_n, span.lo)  # every number below it was examined
        self.known_to = self.position - 1  # what the batches read tell about
        self.taken: set[int] = set()

    def __iter__(self) -> FreeNumbers:
        return self

    def __next__(self) -> int:
        while self.position <= self.span.hi:
            if self.position > self.known_to:
                self._read()
            n = self.peek_known()
            self.position = self.known_to + 1 if n is None else n + 1
            if n is not None:
                return n
        raise StopIteration

    def peek_known(self) -> int | None:
        """The next free number, if the batches read already tell it (no query)."""
        return next((n for n in range(self.position, self.known_to + 1) if n not in self.taken), None)

    def _read(self) -> None:
        span, n = self.span, self.position
        self.known_to, self.taken = span.hi, set()
        by_source: dict[int, list[str]] = {}
        for value, source in self.session.execute(self.sources.sweep, {"from_number": span.text(n)}):
            by_source.setdefault(source, []).append(value)
        for rows in by_source.values():
            numbers = [m for m in (span.number(v) for v in rows) if m is not None]
            self.taken.update(numbers)
            if len(rows) == SWEEP_BATCH and numbers:
                self.known_to = min(self.known_to, max(numbers))


def count_used(session: Session, span: Span, sources: Sources) -> int:
    total = 0
    for column, scope in sources:
        total += session.scalar(select(func.count()).select_from(column.class_).where(
            *scope, *in_span(column, span))) or 0
    return total


def used_among(session: Session, span: Span, sources: Sources, numbers: list[int]) -> set[int]:
    """Which of `numbers` are in use now (one statement, read after they were claimed)."""
    with asking_others(session):
        used = session.scalars(sources.used, {"numbers": [span.text(n) for n in numbers]}).all()
    return {m for m in (span.number(v) for v in used) if m is not None}
