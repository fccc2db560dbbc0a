"""Unique constraints that fire become the 409 their name says.

Every capability declares, next to its models, which conflict each of its constraints
means (``conflict_on("uq_users_email_key", "email_taken", …)``). The engine's error hook
(installed by ``make_engine``) turns an IntegrityError of a declared constraint into that
Conflict wherever it happens: a flush inside a service, an autoflush, the final commit. So
two requests racing for one number or one e-mail get the same answer as the checks before
them would have given, never a 500. Constraint names come from the metadata naming
convention; PostgreSQL reports them, and SQLite's "UNIQUE constraint failed: t.a, t.b" is
mapped back to the constraint on those columns."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import MetaData, UniqueConstraint
from sqlalchemy.exc import IntegrityError

from switchboard.core.errors import Conflict


@dataclass(frozen=True)
class _Meaning:
    code: str
    message: str
    field: str | None


_MEANINGS: dict[str, _Meaning] = {}
_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (.+)$")


def conflict_on(constraint: str, code: str, message: str, *, field: str | None = None) -> None:
    """Declares what a unique constraint firing means (message: a gettext id)."""
    _MEANINGS[constraint] = _Meaning(code, message, field)


def constraint_name(exc: IntegrityError, metadata: MetaData) -> str | None:
    """The name of the constraint that fired, on PostgreSQL or SQLite."""
    diag = getattr(exc.orig, "diag", None)
    name = getattr(diag, "constraint_name", None)
    if name:
        return name
    match = _SQLITE_UNIQUE.search(str(exc.orig))
    if not match:
        return None
    pairs = [part.strip().split(".", 1) for part in match.group(1).split(",")]
    if not pairs or any(len(pair) != 2 for pair in pairs):
        return None
    table = metadata.tables.get(pairs[0][0])
    columns = {column for _, column in pairs}
    if table is None:
        return None
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint) and {c.name for c in constraint.columns} == columns:
            return str(constraint.name)
    for index in table.indexes:
        if index.unique and {c.name for c in index.columns} == columns:
            return str(index.name)
    if len(columns) == 1 and table.primary_key is not None and {c.name for c in table.primary_key.columns} == columns:
        return str(table.primary_key.name)
    return None


def conflict_for(exc: IntegrityError, metadata: MetaData) -> Conflict | None:
    """The Conflict a declared constraint means, or None (an undeclared one is a bug)."""
    name = constraint_name(exc, metadata)
    meaning = _MEANINGS.get(name or "")
    if meaning is None:
        return None
    return Conflict(meaning.code, meaning.message, field=meaning.field)
