"""The numbering rules as pure functions: overlap of DN ranges, DN and DID formats, the
DID -> DN mapping."""

from __future__ import annotations

import pytest

from switchboard.core.errors import ValidationFailed
from switchboard.core.validation import numbers_in
from switchboard.numbering.schemas import DidRangeCreate, DnRangeCreate, is_dn
from switchboard.numbering.service import (
    Mapping,
    Span,
    check_did_range,
    check_dn_range,
    dn_ranges_overlap,
    split_dn,
)
from switchboard.core.validation import validate


def brute_force_overlap(a: Span, b: Span) -> bool:
    return bool({a.text(n) for n in range(a.lo, a.hi + 1)} & {b.text(n) for n in range(b.lo, b.hi + 1)})


@pytest.mark.parametrize("a, b, expected", [
    # same prefix: numeric intervals
    (("", "2000", "2999"), ("", "2500", "3499"), True),
    (("", "2000", "2999"), ("", "3000", "3999"), False),
    (("", "2000", "2999"), ("", "2999", "2999"), True),
    # a prefix that is the first digit of the other range's numbers
    (("", "2000", "2999"), ("2", "000", "999"), True),
    (("", "2000", "2099"), ("2", "100", "999"), False),
    (("", "2000", "2099"), ("2", "099", "100"), True),
    (("", "3000", "3999"), ("2", "000", "999"), False),
    (("", "1000", "1999"), ("19", "00", "99"), True),
    (("", "1000", "1899"), ("19", "00", "99"), False),
    # star codes
    (("*7", "000", "999"), ("*71", "00", "99"), True),
    (("*7", "000", "099"), ("*71", "00", "99"), False),
    (("*7", "100", "100"), ("*71", "00", "00"), True),
    (("*7", "000", "999"), ("*8", "000", "999"), False),
    (("*7", "000", "999"), ("#7", "000", "999"), False),
    (("*", "7000", "7999"), ("*7", "000", "999"), True),
    # the extra part of the longer prefix is not digits: nothing can collide
    (("", "2000", "2999"), ("2*", "00", "99"), False),
    (("*", "000", "999"), ("**", "00", "99"), False),
    # different total lengths never overlap, whatever the numbers
    (("", "2000", "2999"), ("", "20000", "29999"), False),
    (("", "200", "299"), ("2", "000", "999"), False),
    (("*7", "00", "99"), ("*7", "000", "999"), False),
    # same-length prefixes that differ
    (("12", "00", "99"), ("13", "00", "99"), False),
])
def test_dn_ranges_overlap(a, b, expected):
    sa, sb = Span(*a), Span(*b)
    assert dn_ranges_overlap(sa, sb) is expected
    assert dn_ranges_overlap(sb, sa) is expected  # symmetric
    assert brute_force_overlap(sa, sb) is expected  # and exact


@pytest.mark.parametrize("value, ok", [
    ("2000", True), ("1", True), ("1234567", True), ("*72000", True), ("#12", True), ("*#*#123", True),
    ("12345678", False), ("", False), ("*", False), ("20*0", True), ("2000*", False), ("*****12", False),
    ("20a0", False), (" 2000", False), ("٣٤", False), (None, False), (2000, False),
])
def test_dn_format(value, ok):
    assert is_dn(value) is ok


@pytest.mark.parametrize("value, stored", [
    ("+14155550100", "+14155550100"), ("+33123456789", "+33123456789"), ("+1 415 555 0100", "+14155550100"),
    ("+12345678", None), ("+123456789012345", None), ("+1234567", None), ("+1234567890123456", None),
    ("+04155550100", None), ("14155550100", None), ("+1415555010a", None), ("", None),
])
def test_a_did_without_the_accounts_country_is_international(value, stored):
    from pydantic_core import PydanticCustomError

    from switchboard.core.validation import phone_number
    if stored is None:
        with pytest.raises(PydanticCustomError):
            phone_number(value)
    else:
        assert phone_number(value) == stored


def _codes(exc: ValidationFailed) -> dict[str, str]:
    return {e.field: e.code for e in exc.errors}


def test_dn_range_fields_are_checked_one_by_one():
    with pytest.raises(ValidationFailed) as caught:
        validate(DnRangeCreate, {"start": "2a00", "end": "12345678", "prefix": "*7ab5", "size": 3})
    assert _codes(caught.value) == {"start": "invalid_digits", "end": "invalid_digits", "prefix": "invalid_prefix",
                                    "size": "unknown_field"}
    with pytest.raises(ValidationFailed) as caught:
        validate(DnRangeCreate, {"prefix": "*"})
    assert _codes(caught.value) == {"start": "required", "end": "required"}
    assert validate(DnRangeCreate, {"start": "2000", "end": "2999", "prefix": None}).prefix == ""
    assert validate(DnRangeCreate, {"start": " 2000 ", "end": "2999"}).start == "2000"


@pytest.mark.parametrize("prefix, start, end, errors", [
    ("", "2000", "2999", {}),
    ("*7", "00000", "99999", {}),
    ("", "2000", "299", {"end": "length_mismatch"}),
    ("", "2999", "2000", {"end": "invalid_dn_range"}),
    ("**", "000000", "999999", {"start": "range_too_long"}),
    ("*", "0000000", "9999999", {"start": "range_too_long"}),
    ("****", "2000", "1000", {"end": "invalid_dn_range", "start": "range_too_long"}),
])
def test_dn_range_cross_field_rules(prefix, start, end, errors):
    if not errors:
        assert check_dn_range(prefix, start, end).size == int(end) - int(start) + 1
        return
    with pytest.raises(ValidationFailed) as caught:
        check_dn_range(prefix, start, end)
    assert _codes(caught.value) == errors


def test_did_range_rules():
    with pytest.raises(ValidationFailed) as caught:
        validate(DidRangeCreate, {"start": "4155550100", "end": "+0155550199", "first_dn": "20*"},
                 context=numbers_in(None))
    assert _codes(caught.value) == {"start": "invalid_phone_number", "end": "invalid_phone_number",
                                    "first_dn": "invalid_dn"}
    # numbers as people write them, in the account's country
    read = validate(DidRangeCreate, {"start": "(415) 555-0100", "end": "415 555 0199"}, context=numbers_in("US"))
    assert (read.start, read.end) == ("+14155550100", "+14155550199")
    assert validate(DidRangeCreate, {"start": "+14155550100", "end": "+14155550199", "first_dn": ""}).first_dn is None
    for start, end, code in [("+14155550100", "+141555501999", "length_mismatch"),
                             ("+14155550199", "+14155550100", "invalid_did_range"),
                             ("+14150000000", "+14159999999", "range_too_large")]:
        with pytest.raises(ValidationFailed) as caught:
            check_did_range(start, end)
        assert _codes(caught.value) == {"end": code}
    assert check_did_range("+14155550100", "+14155550199").size == 100


def test_span_numbers():
    span = Span("*7", "000", "499")
    assert span.text(5) == "*7005" and span.first == "*7000" and span.last == "*7499" and span.size == 500
    assert span.number("*7123") == 123
    for outside in ("*7500", "*700", "*70000", "#7123", "*71*3", "7123"):
        assert span.number(outside) is None
    assert "*7000" in span and "*7499" in span


def test_split_dn():
    assert split_dn("2000") == ("", "2000")
    assert split_dn("*72000") == ("*", "72000")
    assert split_dn("#*05") == ("#*", "05")


def test_mapping_counts_up_the_trailing_digits_and_stops_before_overflow():
    m = Mapping.of("+14155550100", "+14155550199", "2100")
    assert m.count == 100 and m.last_dn == "2199"
    assert m.did_for("2100") == "+14155550100" and m.did_for("2142") == "+14155550142"
    assert m.did_for("2200") is None and m.did_for("2099") is None and m.did_for("21000") is None
    assert m.dn_for("+14155550142") == "2142" and m.dn_for("+14155550200") is None

    # keeps the width (leading zeros) and stops where the digits would overflow
    m = Mapping.of("+33100000000", "+33100000099", "*#9995")
    assert m.count == 5 and m.last_dn == "*#9999"
    assert m.did_for("*#9995") == "+33100000000" and m.did_for("*#9999") == "+33100000004"
    assert m.dn_for("+33100000005") is None
    m = Mapping.of("+33100000000", "+33100000099", "#007")
    assert m.count == 100 and m.did_for("#007") == "+33100000000" and m.dn_for("+33100000003") == "#010"
    assert Mapping.of("+33100000000", "+33100000009", "9").count == 1


def test_mapping_overlap():
    a = Mapping.of("+14155550100", "+14155550199", "2100")
    assert a.overlaps(Mapping.of("+14155550300", "+14155550399", "2199"))
    assert not a.overlaps(Mapping.of("+14155550300", "+14155550399", "2200"))
    assert not a.overlaps(Mapping.of("+14155550300", "+14155550399", "*2150"))
    assert not a.overlaps(Mapping.of("+14155550300", "+14155550399", "21500"))
