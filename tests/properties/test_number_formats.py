"""Properties of the number formats and of the span arithmetic: DN, prefix, DN range, DID
range, the DID -> DN mapping, E.164. Each checks the code against an oracle written from
the documented rule, or against brute force on ranges small enough to list."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from switchboard.core.errors import ValidationFailed
from switchboard.core.validation import numbers_in, phone_number, validate
from switchboard.mivb.schemas import ExternalPhone
from switchboard.numbering.schemas import DidRangeCreate, DnRangeCreate, is_dn
from switchboard.numbering.spans import (
    MAX_DID_RANGE_SIZE,
    Mapping,
    Span,
    check_did_range,
    check_dn_range,
    dn_ranges_overlap,
    mapping_of,
    split_dn,
)
from switchboard.numbering.models import DidRange, DnRange
from tests.properties.strategies import (
    DIGITS,
    DN_CHARS,
    dn_range_parts,
    listed,
    near_numbers,
    oracle_is_dn,
    oracle_is_prefix,
    prefixes,
    small_spans,
    translated,
)


RANGE_MESSAGES = {
    "length_mismatch": "Start and end must have the same number of digits.",
    "invalid_dn_range": "The end of the range must not be below its start.",
    "invalid_did_range": "The end of the range must not be below its start.",
    "range_too_long": "Prefix and number together must be at most 7 characters long.",
    "range_too_large": "A DID range holds at most %(max)s numbers.",
}


def codes(caught: pytest.ExceptionInfo) -> dict[str, str]:
    """{field: code} of a refusal, each message in the catalogue (and the range rules'
    messages the ones they document)."""
    for item in caught.value.errors:
        assert translated(item.message), item
        assert item.message == RANGE_MESSAGES.get(item.code, item.message), item
    return {item.field: item.code for item in caught.value.errors}


# ---------------------------------------------------------------- DN and prefix

@given(near_numbers)
@example("*7200")
@example("#12345")
@example("1234*5")
@example("12345*6")
@example("*****1")
@example("٣")
def test_a_dn_is_what_the_rule_says(value):
    assert is_dn(value) is oracle_is_dn(value)


@given(prefixes, st.text(DIGITS, min_size=1, max_size=7))
def test_prefix_then_digits_is_a_dn_when_short_enough(prefix, number):
    assert is_dn(prefix + number) is (len(prefix + number) <= 7)


@given(st.one_of(st.none(), st.integers(), st.lists(st.text(DN_CHARS))))
def test_only_text_is_a_dn(value):
    assert is_dn(value) is False


@given(st.one_of(near_numbers, st.none()))
@example("")
@example("*#*#")
@example("12345")
@example("٣")
def test_a_prefix_is_at_most_four_of_0_9_star_hash(prefix):
    body = {"start": "2000", "end": "2999", "prefix": prefix}
    if prefix is None or oracle_is_prefix(prefix.strip()):
        assert validate(DnRangeCreate, body).prefix == (prefix or "").strip()
    else:
        with pytest.raises(ValidationFailed) as caught:
            validate(DnRangeCreate, body)
        assert codes(caught) == {"prefix": "invalid_prefix"}


@given(st.text(DIGITS + "a٣ -", max_size=9))
@example("")
@example("1234567")
@example("12345678")
def test_range_bounds_are_1_to_7_ascii_digits(value):
    body = {"start": value, "end": value}
    ok = 1 <= len(value.strip()) <= 7 and all(c in DIGITS for c in value.strip())
    if ok:
        parsed = validate(DnRangeCreate, body)
        assert (parsed.start, parsed.end, parsed.prefix) == (value.strip(), value.strip(), "")
    else:
        with pytest.raises(ValidationFailed) as caught:
            validate(DnRangeCreate, body)
        assert set(codes(caught)) == {"start", "end"}


@given(st.text(DN_CHARS + "a", max_size=9))
def test_split_dn_cuts_off_the_trailing_digits(dn):
    head, tail = split_dn(dn)
    assert head + tail == dn
    assert all(c in DIGITS for c in tail)
    assert head == "" or head[-1] not in DIGITS


# ---------------------------------------------------------------- DN ranges and spans

@given(prefixes, st.text(DIGITS, min_size=1, max_size=7), st.text(DIGITS, min_size=1, max_size=7))
@example("", "2000", "2999")
@example("*7", "99", "10")
@example("1234", "000", "999")
@example("123", "9999", "9999")
def test_dn_range_cross_field_rules(prefix, start, end):
    expected = {}
    if len(start) != len(end):
        expected["end"] = "length_mismatch"
    elif int(end) < int(start):
        expected["end"] = "invalid_dn_range"
    if len(prefix) + max(len(start), len(end)) > 7:
        expected["start"] = "range_too_long"
    if expected:
        with pytest.raises(ValidationFailed) as caught:
            check_dn_range(prefix, start, end)
        assert codes(caught) == expected
    else:
        assert check_dn_range(prefix, start, end) == Span(prefix, start, end)


@given(dn_range_parts(), st.integers(-3, 10 ** 7 + 3))
def test_a_span_numbers_its_dns_and_nothing_else(parts, n):
    prefix, start, end = parts
    span = check_dn_range(prefix, start, end)
    lo, hi, width = int(start), int(end), len(start)
    assert (span.lo, span.hi, span.width, span.size) == (lo, hi, width, hi - lo + 1)
    assert (span.first, span.last, span.length) == (prefix + start, prefix + end, len(prefix) + width)
    assert span.label() == f"{prefix}{start}–{prefix}{end}"
    if 0 <= n < 10 ** width:
        text = span.text(n)
        assert text == prefix + str(n).zfill(width) and is_dn(text)
        assert span.number(text) == (n if lo <= n <= hi else None)
        assert (text in span) is (lo <= n <= hi)
        # the same digits with another width, prefix or a non-digit are not numbers of the span
        assert span.number(prefix + str(n).zfill(width + 1)) is None
        assert span.number(text[:-1] + "*") is None
        assert span.number(text[:-1] + "٣") is None
    assert span.number(None) is None


@given(small_spans(), small_spans())
@example(("", "000", "999"), ("2", "00", "99"))
@example(("*7", "00", "99"), ("*71", "0", "9"))
@example(("*", "000", "999"), ("**", "00", "99"))
@example(("1", "00", "99"), ("12", "0", "5"))
def test_dn_ranges_overlap_exactly_when_they_share_a_dn(a, b):
    sa, sb = Span(*a), Span(*b)
    shared = bool(listed(*a) & listed(*b))
    assert dn_ranges_overlap(sa, sb) is shared
    assert dn_ranges_overlap(sb, sa) is shared


@given(st.text("0123456789", min_size=8, max_size=15), st.integers(0, 2 * MAX_DID_RANGE_SIZE), st.integers(-2, 2))
def test_did_range_rules(digits, size, length_change):
    start_n = int(digits)
    end_n = max(0, start_n + size - 1)
    start = "+" + digits
    end = "+" + str(end_n).zfill(len(digits) + length_change if length_change > 0 else len(digits))
    if length_change < 0:
        end = end[:length_change]
    if len(start) != len(end):
        with pytest.raises(ValidationFailed) as caught:
            check_did_range(start, end)
        assert codes(caught) == {"end": "length_mismatch"}
    elif int(end[1:]) < start_n:
        with pytest.raises(ValidationFailed) as caught:
            check_did_range(start, end)
        assert codes(caught) == {"end": "invalid_did_range"}
    elif int(end[1:]) - start_n + 1 > MAX_DID_RANGE_SIZE:
        with pytest.raises(ValidationFailed) as caught:
            check_did_range(start, end)
        assert codes(caught) == {"end": "range_too_large"}
    else:
        span = check_did_range(start, end)
        assert (span.first, span.last, span.size) == (start, end, int(end[1:]) - start_n + 1)


def test_did_range_size_limit_is_inclusive():
    assert check_did_range("+33100000000", f"+331{MAX_DID_RANGE_SIZE - 1:08d}").size == MAX_DID_RANGE_SIZE
    with pytest.raises(ValidationFailed) as caught:
        check_did_range("+33100000000", f"+331{MAX_DID_RANGE_SIZE:08d}")
    assert codes(caught) == {"end": "range_too_large"}
    assert caught.value.errors[0].params == {"max": MAX_DID_RANGE_SIZE}


def test_did_range_bounds_are_e164_numbers():
    with pytest.raises(ValidationFailed) as caught:
        validate(DidRangeCreate, {"start": "not a number", "end": "+33140000009"}, context=numbers_in(None))
    assert codes(caught) == {"start": "invalid_phone_number"}


@given(dn_range_parts(), st.sampled_from([None, ""]))
def test_the_span_of_a_range_row(parts, no_prefix):
    prefix, start, end = parts
    assert Span.of_dn_range(DnRange(prefix=prefix or no_prefix, start=start, end=end)) == Span(prefix, start, end)
    did = DidRange(start="+3314" + start.rjust(7, "0"), end="+3314" + end.rjust(7, "0"), first_dn=None)
    assert Span.of_did_range(did) == Span("+", did.start[1:], did.end[1:])
    assert mapping_of(did) is None
    did.first_dn = prefix + start
    assert mapping_of(did) == Mapping.of(did.start, did.end, prefix + start)


# ---------------------------------------------------------------- the DID -> DN mapping

@st.composite
def mappings(draw) -> tuple[str, str, str]:
    """(start, end, first_dn) of a mapped DID range, small enough to list."""
    width = draw(st.integers(8, 12))
    start = draw(st.integers(10 ** (width - 1), 10 ** width - 60))
    end = start + draw(st.integers(0, 50))
    head = draw(st.text("*#", max_size=2)) + draw(st.text(DIGITS, max_size=1))
    digits = draw(st.integers(1, 3))
    first = draw(st.integers(0, 10 ** digits - 1))
    return f"+{start}", f"+{end}", f"{head}{first:0{digits}d}"


def mapped_pairs(start: str, end: str, first_dn: str) -> dict[str, str]:
    """DID -> DN by counting up the DN's trailing digits, stopping before they overflow."""
    i = len(first_dn)
    while i and first_dn[i - 1] in DIGITS:
        i -= 1
    head, digits = first_dn[:i], first_dn[i:]
    pairs = {}
    for k in range(int(end[1:]) - int(start[1:]) + 1):
        if int(digits) + k >= 10 ** len(digits):
            break
        pairs[f"+{int(start[1:]) + k:0{len(start) - 1}d}"] = f"{head}{int(digits) + k:0{len(digits)}d}"
    return pairs


@given(mappings(), st.integers(-3, 60))
def test_a_mapping_pairs_dids_and_dns_one_to_one(parts, k):
    start, end, first_dn = parts
    mapping = Mapping.of(start, end, first_dn)
    pairs = mapped_pairs(start, end, first_dn)
    assert mapping.count == len(pairs)
    for did, dn in pairs.items():
        assert mapping.did_for(dn) == did and mapping.dn_for(did) == dn
    assert mapping.last_dn == (list(pairs.values())[-1] if pairs else None)
    head, digits = split_dn(first_dn)
    # any DID or DN near the mapped ones maps only if it is one of the pairs
    did = f"+{int(start[1:]) + k:0{len(start) - 1}d}"
    assert mapping.dn_for(did) == pairs.get(did)
    if 0 <= int(digits) + k < 10 ** len(digits):
        dn = f"{head}{int(digits) + k:0{len(digits)}d}"
        assert mapping.did_for(dn) == {v: d for d, v in pairs.items()}.get(dn)
        assert mapping.did_for(dn + "0") is None and mapping.did_for("9" + dn) is None
        assert mapping.did_for(dn[:-1] + "٣") is None
    assert mapping.dn_for(did + "0") is None


@given(mappings(), mappings())
def test_mappings_overlap_exactly_when_they_give_a_dn_two_dids(a, b):
    ma, mb = Mapping.of(*a), Mapping.of(*b)
    shared = bool(set(mapped_pairs(*a).values()) & set(mapped_pairs(*b).values()))
    assert ma.overlaps(mb) is shared and mb.overlaps(ma) is shared


@given(st.one_of(st.none(), st.just(""), near_numbers))
@example("2100")
@example("*7200")
@example("12345678")
def test_a_mapped_did_range_names_a_dn_or_none(first_dn):
    body = {"start": "+33140000000", "end": "+33140000009", "first_dn": first_dn}
    if not first_dn:
        assert validate(DidRangeCreate, body).first_dn is None
    elif oracle_is_dn(first_dn.strip()):
        assert validate(DidRangeCreate, body).first_dn == first_dn.strip()
    else:
        with pytest.raises(ValidationFailed) as caught:
            validate(DidRangeCreate, body)
        assert codes(caught) == {"first_dn": "invalid_dn"}


def test_a_mapping_whose_first_dn_is_at_the_top_maps_one_did():
    mapping = Mapping.of("+3314000000", "+3314000009", "9999")
    assert mapping.count == 1 and mapping.last_dn == "9999"
    assert not mapping.overlaps(Mapping.of("+3314000000", "+3314000009", "999"))


# ---------------------------------------------------------------- E.164
#
# The contract only (the validator may change how it decides): what it accepts comes back
# as + and 8 to 15 digits, accepted again unchanged; what it refuses is a validation error
# on the field.

@given(st.text("+0123456789 ab-()", max_size=20))
@example("+33 1 40 00 00 01")
@example("+33140000001")
@example("0140000001")
@example("+0140000001")
def test_e164_returns_normalised_e164_or_refuses(value):
    try:
        normalised = phone_number(value, None)
    except ValueError:
        with pytest.raises(ValidationFailed) as caught:
            validate(ExternalPhone, {"number": value}, context=numbers_in(None))
        assert codes(caught)["number"] in {"invalid_phone_number", "required"}
        return
    assert normalised[0] == "+" and normalised[1:].isdigit() and normalised[1] != "0"
    assert 8 <= len(normalised) - 1 <= 15
    assert phone_number(normalised, None) == normalised
    assert validate(ExternalPhone, {"number": value}, context=numbers_in(None)).number == normalised


def test_e164_known_answers():
    assert phone_number("+33 1 40 00 00 01") == "+33140000001"
    for bad in ("", "33140000001", "+33 1 40 00 00 01 99 99 99", "+33abc", "+0140000001"):
        with pytest.raises(ValueError):
            phone_number(bad)
