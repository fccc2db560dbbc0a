"""How a refused input is told: every pydantic error becomes a stable code, a message id
the console can translate and the path of the field, whatever the schema."""

from __future__ import annotations

from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, Field, ValidationError, field_validator

from switchboard.core.errors import ValidationFailed
from switchboard.core.validation import (
    Email,
    LineBreaksAllowed,
    StrictSchema,
    field_path,
    invalid_character,
    items_from_pydantic,
    validate,
)


class Inner(StrictSchema):
    n: int = Field(ge=1, le=5)


class Sample(StrictSchema):
    name: str = Field(min_length=1, max_length=5)
    code: str = Field(default="ab", min_length=2, pattern="^[a-z]+$")
    count: int = Field(default=1, gt=0, lt=10)
    flag: bool = False
    kind: Literal["a", "b"] = "a"
    inner: Inner | None = None
    items: list[Inner] = []
    email: Email | None = None
    note: LineBreaksAllowed[str | None] = None


def refused(data) -> list[tuple[str, str, str, dict]]:
    with pytest.raises(ValidationFailed) as caught:
        validate(Sample, data)
    return [(e.code, e.field, e.message, e.params) for e in caught.value.errors]


@pytest.mark.parametrize("data, expected", [
    ({}, [("required", "name", "This field is required.", {})]),
    ({"name": ""}, [("required", "name", "This field is required.", {})]),
    ({"name": "abcdef"}, [("too_long", "name", "Must be at most %(max_length)s characters long.", {"max_length": 5})]),
    ({"name": "a", "code": "a"}, [("too_short", "code", "Must be at least %(min_length)s characters long.",
                                   {"min_length": 2})]),
    ({"name": "a", "code": "AB"}, [("invalid_format", "code", "Has the wrong format.", {"pattern": "^[a-z]+$"})]),
    ({"name": 5}, [("invalid_type", "name", "Must be text.", {})]),
    ({"name": "a", "count": "x"}, [("invalid_number", "count", "Must be a whole number.", {})]),
    ({"name": "a", "count": 1.5}, [("invalid_number", "count", "Must be a whole number.", {})]),
    ({"name": "a", "count": 0}, [("too_small", "count", "Must be greater than %(gt)s.", {"gt": 0})]),
    ({"name": "a", "count": 10}, [("too_large", "count", "Must be less than %(lt)s.", {"lt": 10})]),
    ({"name": "a", "flag": "maybe"}, [("invalid_boolean", "flag", "Must be true or false.", {})]),
    ({"name": "a", "kind": "c"}, [("invalid_choice", "kind", "Must be one of: %(expected)s.", {"expected": "'a', 'b'"})]),
    ({"name": "a", "extra": 1}, [("unknown_field", "extra", "Unknown field.", {})]),
    ({"name": "a", "inner": {"n": 0}}, [("too_small", "inner.n", "Must be at least %(ge)s.", {"ge": 1})]),
    ({"name": "a", "inner": {"n": 6}}, [("too_large", "inner.n", "Must be at most %(le)s.", {"le": 5})]),
    ({"name": "a", "inner": 3}, [("invalid_type", "inner", "Must be an object.", {"class_name": "Inner"})]),
    ({"name": "a", "items": {"n": 1}}, [("invalid_type", "items", "Must be a list.", {})]),
    ({"name": "a", "items": [{"n": 1}, {"n": 9}]}, [("too_large", "items[1].n", "Must be at most %(le)s.", {"le": 5})]),
    ({"name": "a", "email": "not an address"}, [("invalid_email", "email", "Enter a valid e-mail address.", {})]),
    ({"name": "a\x00"}, [("invalid_character", "name",
                          "Must not contain control characters (such as a NUL byte or a line break).", {})]),
    ({"name": "a", "note": "two\nlines\x07"}, [("invalid_character", "note",
                                                "Must not contain control characters (such as a NUL byte or a line "
                                                "break).", {})]),
])
def test_each_error_has_its_code_message_and_field(data, expected):
    assert refused(data) == expected


def test_a_whole_body_that_is_not_an_object():
    assert refused([1]) == [("invalid_type", "body", "Must be an object.", {"class_name": "Sample"})]


def test_a_field_may_have_line_breaks_only_where_it_says_so():
    assert validate(Sample, {"name": "a", "note": "two\r\nlines\tand a tab"}).note == "two\r\nlines\tand a tab"
    assert refused({"name": "a\nb"})[0][:2] == ("invalid_character", "name")


def test_a_value_error_keeps_its_own_message_as_the_message_id():
    class WithReason(StrictSchema):
        value: str

        @field_validator("value")
        @classmethod
        def _check(cls, value):
            if value != "ok":
                raise ValueError("Must be 100% ok.")
            return value

    with pytest.raises(ValidationFailed) as caught:
        validate(WithReason, {"value": "no"})
    (item,) = caught.value.errors
    assert (item.code, item.field, item.message, item.params) == ("invalid", "value", "Must be 100%% ok.", {})


def test_validate_passes_a_schema_through_and_reads_another_model():
    parsed = validate(Sample, {"name": "a"})
    assert validate(Sample, parsed) is parsed

    class Other(BaseModel):
        name: str
        count: int = 3

    again = validate(Sample, Other(name="b"))
    assert (again.name, again.count) == ("b", 1)  # only the fields that were set


@given(st.lists(st.one_of(st.sampled_from(["body", "query", "path", "x", "y"]), st.integers(0, 3)), max_size=5))
def test_field_paths_read_like_the_json(loc):
    path = field_path(tuple(loc))
    expected = ""
    for i, part in enumerate(loc):
        if part in ("body", "query", "path") and not expected and all(p in ("body", "query", "path") for p in loc[:i]):
            continue
        expected += f"[{part}]" if isinstance(part, int) else ("." if expected else "") + part
    assert path == (expected or "body")


def test_items_keep_unknown_error_types_as_they_are():
    class Strict(BaseModel):
        when: float

    with pytest.raises(ValidationError) as caught:
        Strict.model_validate({"when": "soon"})
    (item,) = items_from_pydantic(caught.value.errors())
    assert (item.code, item.field) == ("float_parsing", "when")
    assert item.message == caught.value.errors()[0]["msg"]


def test_invalid_character_names_its_field():
    refusal = invalid_character("q")
    assert (refusal.code, refusal.errors[0].field) == ("invalid_character", "q")
    assert invalid_character().errors[0].field is None


def test_an_assertion_keeps_its_own_message_as_the_message_id():
    class Asserted(StrictSchema):
        value: str

        @field_validator("value")
        @classmethod
        def _check(cls, value):
            if value != "ok":
                raise AssertionError("Must be ok.")  # (no assert statement: pytest would rewrite it)
            return value

    with pytest.raises(ValidationFailed) as caught:
        validate(Asserted, {"value": "no"})
    (item,) = caught.value.errors
    assert (item.code, item.message) == ("invalid", "Must be ok.")


def test_the_control_character_refusal_reads_the_same_everywhere():
    refusal = invalid_character("q")
    assert refusal.errors[0].message == "Must not contain control characters (such as a NUL byte or a line break)."
