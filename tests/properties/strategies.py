"""Hypothesis strategies shared by the property tests, and plain oracles written from the
documented rules (not from the code under test)."""

from __future__ import annotations

from hypothesis import strategies as st

from switchboard.core.i18n import translations

_FRENCH = translations("fr")


def translated(message: str) -> bool:
    """Whether a message id is in the French catalogue (so the console can show it in
    French): a message id changed in the code and not in the catalogue is not."""
    return _FRENCH.gettext(message) != message

DIGITS = "0123456789"
DN_CHARS = DIGITS + "*#"

digits = st.text(DIGITS, min_size=1, max_size=7)
prefixes = st.text(DN_CHARS, max_size=4)
# Text near the formats: the characters that matter, a few that must be refused (letters,
# a space, a minus, Unicode digits such as Arabic-Indic ٣ and full-width ３), of any length.
near_numbers = st.text(DN_CHARS + "a+- ٣３", max_size=10)


def oracle_is_dn(value: str) -> bool:
    """A DN: 1 to 7 characters of 0-9 * #, ending in a digit, whose non-digits all sit in
    a prefix of at most 4 characters (so the last non-digit is among the first four)."""
    if not 1 <= len(value) <= 7 or any(c not in DN_CHARS for c in value):
        return False
    non_digits = [i for i, c in enumerate(value) if c not in DIGITS]
    return value[-1] in DIGITS and (not non_digits or non_digits[-1] <= 3)


def oracle_is_prefix(value: str) -> bool:
    return len(value) <= 4 and all(c in DN_CHARS for c in value)


@st.composite
def dn_range_parts(draw, max_width: int = 7) -> tuple[str, str, str]:
    """(prefix, start, end) of a valid DN range."""
    prefix = draw(st.text(DN_CHARS, max_size=min(4, 7 - 1)))
    width = draw(st.integers(1, min(max_width, 7 - len(prefix))))
    lo = draw(st.integers(0, 10 ** width - 1))
    hi = draw(st.integers(lo, min(10 ** width - 1, lo + draw(st.sampled_from([0, 1, 5, 50, 10 ** width])))))
    return prefix, f"{lo:0{width}d}", f"{hi:0{width}d}"


@st.composite
def small_spans(draw, prefix_chars: str = DN_CHARS) -> tuple[str, str, str]:
    """(prefix, start, end) of a DN range of at most 3 digits (small enough to list)."""
    prefix = draw(st.text(prefix_chars, max_size=3))
    width = draw(st.integers(1, 3))
    lo = draw(st.integers(0, 10 ** width - 1))
    hi = draw(st.integers(lo, 10 ** width - 1))
    return prefix, f"{lo:0{width}d}", f"{hi:0{width}d}"


def listed(prefix: str, start: str, end: str) -> set[str]:
    width = len(start)
    return {f"{prefix}{n:0{width}d}" for n in range(int(start), int(end) + 1)}


# ---------------------------------------------------------------- pins

def oracle_pin_problems(pin: str, min_length: int, forbid_repeated: bool, forbid_sequences: bool,
                        forbid_dn: bool, dns: list[str]) -> set[str]:
    """Which rules a pin breaks, by name, as the policy is documented."""
    if any(c not in DIGITS for c in pin):
        return {"format"}
    if len(pin) > 8:
        return {"too_long"}
    broken = set()
    if len(pin) < min_length:
        broken.add("min_length")
    if forbid_repeated and len(pin) >= 2 and pin == pin[0] * len(pin):
        broken.add("repeated")
    if forbid_sequences and len(pin) >= 3:
        ups = all(int(b) == int(a) + 1 for a, b in zip(pin, pin[1:]))
        downs = all(int(b) == int(a) - 1 for a, b in zip(pin, pin[1:]))
        if ups or downs:
            broken.add("sequence")
    if forbid_dn and pin and any(pin == dn for dn in dns):
        broken.add("dn")
    return broken
