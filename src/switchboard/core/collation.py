"""How people's names are sorted: by letter first, then accents, then case, on every engine.

Code-point order puts "Boucher" before "Bélanger" and "zoé" after "Zola". Names are sorted
with the collation `switchboard_name` instead:

- PostgreSQL: migration 0009 creates it from ICU's root collation ("und": letters first,
  accents second, case third, the order of the Unicode Collation Algorithm), or, on a
  server built without ICU, as a copy of "C" (the order is then by code point, as before).
- SQLite: every connection registers it (`register_sqlite`) as a Python comparison whose
  levels follow the same rule: the letters without accents and case, then the accents,
  then the case (lower case first, as ICU), then the text itself, so two different texts
  never compare equal and paging stays stable.
"""

from __future__ import annotations

import functools
import unicodedata
from typing import Any

from sqlalchemy import ColumnElement

NAME_COLLATION = "switchboard_name"


@functools.lru_cache(maxsize=16_384)
def name_sort_key(text: str) -> tuple[str, str, str, str]:
    """The key `switchboard_name` compares texts by (SQLite; ICU's order on PostgreSQL).
    Kept for the names seen last: sorting n names compares each one about log n times
    (the console's users list of a 2,500-user account spent most of its time here)."""
    decomposed = unicodedata.normalize("NFKD", text)
    letters = "".join(char for char in decomposed if not unicodedata.combining(char))
    return letters.casefold(), decomposed.casefold(), decomposed.swapcase(), text


def _compare(left: str, right: str) -> int:
    a, b = name_sort_key(left), name_sort_key(right)
    return (a > b) - (a < b)


def register_sqlite(dbapi_connection: Any) -> None:
    dbapi_connection.create_collation(NAME_COLLATION, _compare)


def by_name(column: Any) -> ColumnElement:
    """`column` for ORDER BY, sorted the way people expect names to be."""
    return column.collate(NAME_COLLATION)
