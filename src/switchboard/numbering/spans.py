"""Numbers and spans: the pure arithmetic of DN and DID ranges (no database).

A DN range is prefix + n for n from start to end, written with the width of start; a DID
range is + followed by digits. Same-length numbers of one prefix sort like integers, which
the allocator relies on. A DID range with first_dn maps its DIDs 1:1 onto DNs (Mapping)."""

from __future__ import annotations

from dataclasses import dataclass

from switchboard.core.errors import ValidationFailed, invalid
from switchboard.numbering.models import DidRange, DnRange
from switchboard.numbering.schemas import MAX_DN_LENGTH

# A DID range is a block of public numbers; past this size it is almost surely a typo
# (and, DIDs being unique everywhere, it would block every other account's ranges).
MAX_DID_RANGE_SIZE = 1_000_000


@dataclass(frozen=True)
class Span:
    """The numbers prefix + n, n from lo to hi, written with `width` digits.

    A DN range is Span(prefix, start, end); a DID range is Span("+", start[1:], end[1:]).
    """

    prefix: str
    start: str
    end: str

    @classmethod
    def of_dn_range(cls, rng: DnRange) -> Span:
        return cls(rng.prefix or "", rng.start, rng.end)

    @classmethod
    def of_did_range(cls, rng: DidRange) -> Span:
        return cls("+", rng.start[1:], rng.end[1:])

    @property
    def width(self) -> int:
        return len(self.start)

    @property
    def length(self) -> int:
        return len(self.prefix) + self.width

    @property
    def lo(self) -> int:
        return int(self.start)

    @property
    def hi(self) -> int:
        return int(self.end)

    @property
    def size(self) -> int:
        return self.hi - self.lo + 1

    @property
    def first(self) -> str:
        return self.prefix + self.start

    @property
    def last(self) -> str:
        return self.prefix + self.end

    def text(self, n: int) -> str:
        return f"{self.prefix}{n:0{self.width}d}"

    def number(self, value: str | None) -> int | None:
        """n when value is prefix + n of this span, else None."""
        if value is None or len(value) != self.length or not value.startswith(self.prefix):
            return None
        digits = value[len(self.prefix):]
        if not digits.isascii() or not digits.isdigit():
            return None
        n = int(digits)
        return n if self.lo <= n <= self.hi else None

    def __contains__(self, value: str) -> bool:
        return self.number(value) is not None

    def label(self) -> str:
        return f"{self.first}–{self.last}"


def dn_ranges_overlap(a: Span, b: Span) -> bool:
    """Whether some DN string belongs to both ranges (computed exactly, not by guessing).

    DNs of different total lengths never collide. Otherwise, with p the shorter prefix and
    q the longer one, the DNs can only be equal if q = p + X with X made of digits; a DN of
    q's range is then p + X + y, i.e. the digit part X·10^w + y (w = q's width) of p's
    range: the two numeric intervals must meet.
    """
    if a.length != b.length:
        return False
    short, long_ = (a, b) if len(a.prefix) <= len(b.prefix) else (b, a)
    if not long_.prefix.startswith(short.prefix):
        return False
    extra = long_.prefix[len(short.prefix):]
    if extra and not (extra.isascii() and extra.isdigit()):
        return False
    base = int(extra) * 10 ** long_.width if extra else 0
    lo, hi = base + long_.lo, base + long_.hi
    return lo <= short.hi and short.lo <= hi


def split_dn(dn: str) -> tuple[str, str]:
    """(head, trailing digits) of a DN: '*7200' -> ('*', '7200'); '2000' -> ('', '2000')."""
    i = len(dn)
    while i > 0 and dn[i - 1].isdigit():
        i -= 1
    return dn[:i], dn[i:]


@dataclass(frozen=True)
class Mapping:
    """DID start + k <-> DN first_dn + k, for k below `count`."""

    did_start: int
    did_length: int
    head: str
    width: int
    dn_base: int
    count: int

    @classmethod
    def of(cls, start: str, end: str, first_dn: str) -> Mapping:
        head, digits = split_dn(first_dn)
        size = int(end[1:]) - int(start[1:]) + 1
        # stop where the DN's trailing digits would overflow their width
        count = min(size, 10 ** len(digits) - int(digits))
        return cls(int(start[1:]), len(start), head, len(digits), int(digits), count)

    def did_for(self, dn: str) -> str | None:
        if len(dn) != len(self.head) + self.width or not dn.startswith(self.head):
            return None
        digits = dn[len(self.head):]
        if not (digits.isascii() and digits.isdigit()):
            return None
        k = int(digits) - self.dn_base
        if not 0 <= k < self.count:
            return None
        return f"+{self.did_start + k:0{self.did_length - 1}d}"

    def dn_for(self, did: str) -> str | None:
        if len(did) != self.did_length:
            return None
        k = int(did[1:]) - self.did_start
        if not 0 <= k < self.count:
            return None
        return f"{self.head}{self.dn_base + k:0{self.width}d}"

    @property
    def last_dn(self) -> str | None:
        return f"{self.head}{self.dn_base + self.count - 1:0{self.width}d}" if self.count > 0 else None

    def overlaps(self, other: Mapping) -> bool:
        """Whether two mappings would give some DN two DIDs."""
        if (self.head, self.width) != (other.head, other.width) or self.count <= 0 or other.count <= 0:
            return False
        return self.dn_base <= other.dn_base + other.count - 1 and other.dn_base <= self.dn_base + self.count - 1


def mapping_of(rng: DidRange) -> Mapping | None:
    return Mapping.of(rng.start, rng.end, rng.first_dn) if rng.first_dn else None


def check_dn_range(prefix: str, start: str, end: str) -> Span:
    """The cross-field rules of a DN range (formats are the schema's)."""
    errors = []
    if len(start) != len(end):
        errors.append(invalid("end", "length_mismatch", "Start and end must have the same number of digits."))
    elif int(end) < int(start):
        errors.append(invalid("end", "invalid_dn_range", "The end of the range must not be below its start."))
    if len(prefix) + max(len(start), len(end)) > MAX_DN_LENGTH:
        errors.append(invalid("start", "range_too_long",
                              "Prefix and number together must be at most 7 characters long."))
    if errors:
        raise ValidationFailed(errors=[item for error in errors for item in error.errors])
    return Span(prefix, start, end)


def check_did_range(start: str, end: str) -> Span:
    if len(start) != len(end):
        raise invalid("end", "length_mismatch", "Start and end must have the same number of digits.")
    if int(end[1:]) < int(start[1:]):
        raise invalid("end", "invalid_did_range", "The end of the range must not be below its start.")
    span = Span("+", start[1:], end[1:])
    if span.size > MAX_DID_RANGE_SIZE:
        raise invalid("end", "range_too_large", "A DID range holds at most %(max)s numbers.",
                      max=MAX_DID_RANGE_SIZE)
    return span
