"""Turn input into validated schema objects, with field-level errors the console can translate.

Every service entry point passes its input through `validate`, so the API, the console and
the CLI share one set of rules and one set of messages.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any, TypeVar

import phonenumbers
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from switchboard.core.errors import ErrorItem, ValidationFailed

Schema = TypeVar("Schema", bound=BaseModel)

# pydantic error type -> (stable code, gettext message id). Parameters come from ctx.
_MESSAGES: dict[str, tuple[str, str]] = {
    "missing": ("required", "This field is required."),
    "string_too_short": ("too_short", "Must be at least %(min_length)s characters long."),
    "string_too_long": ("too_long", "Must be at most %(max_length)s characters long."),
    "string_type": ("invalid_type", "Must be text."),
    "string_pattern_mismatch": ("invalid_format", "Has the wrong format."),
    "int_parsing": ("invalid_number", "Must be a whole number."),
    "int_type": ("invalid_number", "Must be a whole number."),
    "int_from_float": ("invalid_number", "Must be a whole number."),
    "bool_parsing": ("invalid_boolean", "Must be true or false."),
    "bool_type": ("invalid_boolean", "Must be true or false."),
    "greater_than_equal": ("too_small", "Must be at least %(ge)s."),
    "greater_than": ("too_small", "Must be greater than %(gt)s."),
    "less_than_equal": ("too_large", "Must be at most %(le)s."),
    "less_than": ("too_large", "Must be less than %(lt)s."),
    "literal_error": ("invalid_choice", "Must be one of: %(expected)s."),
    "enum": ("invalid_choice", "Must be one of: %(expected)s."),
    "extra_forbidden": ("unknown_field", "Unknown field."),
    "model_type": ("invalid_type", "Must be an object."),
    "dict_type": ("invalid_type", "Must be an object."),
    "list_type": ("invalid_type", "Must be a list."),
    "json_invalid": ("invalid_json", "The body is not valid JSON."),
    "value_error": ("invalid", "%(reason)s"),
    "assertion_error": ("invalid", "%(reason)s"),
}


# ---------------------------------------------------------------- names and e-mails
#
# A name or an e-mail is shown to other people (lists, the change log, the PBX's
# directory): it must look like what it is. Characters that change how the text around
# them is displayed (bidi overrides and isolates), invisible ones (zero-width) and control
# characters (escape sequences for a terminal, line breaks) are refused in names; an
# e-mail is NFKC-normalised (full-width and stylised letters become plain ones) and its
# letters must all come from one script, so "pаypal" with a Cyrillic "а" cannot pose as
# the Latin one.

_INVISIBLE = frozenset(
    [chr(c) for c in range(0x202A, 0x202F)]  # LRE, RLE, PDF, LRO, RLO
    + [chr(c) for c in range(0x2066, 0x206A)]  # LRI, RLI, FSI, PDI
    + [chr(c) for c in range(0x200B, 0x2010)]  # zero-width space, ZWNJ, ZWJ, LRM, RLM
    + ["\ufeff", "\u2060", "\u061c", "\u2028", "\u2029"]  # BOM, word joiner, ALM, line/paragraph separators
)


def unsafe_character(value: str) -> str | None:
    """The first character of `value` a name may not hold (control, bidi, invisible), if any."""
    for char in value:
        if char in _INVISIBLE or unicodedata.category(char) == "Cc":
            return char
    return None


def _plain_text(value: str) -> str:
    char = unsafe_character(value)
    if char is not None:
        raise PydanticCustomError(
            "invalid_character",
            "Must not contain control characters or invisible formatting characters "
            "(such as a direction override or a zero-width space): found U+%(codepoint)s.",
            {"codepoint": f"{ord(char):04X}"})
    return value


# Kana and ideographs are written together (Japanese): one script for this rule.
_SCRIPT_ALIASES = {"HIRAGANA": "CJK", "KATAKANA": "CJK", "HALFWIDTH": "CJK", "BOPOMOFO": "CJK"}


def _script(char: str) -> str:
    name = unicodedata.name(char, "UNKNOWN")
    first = name.split(" ", 1)[0]
    return _SCRIPT_ALIASES.get(first, first)


def scripts_of(value: str) -> set[str]:
    """The scripts of the letters of `value` (digits and punctuation have none)."""
    return {_script(char) for char in value if unicodedata.category(char).startswith("L")}


def _nfkc(value: Any) -> Any:
    return unicodedata.normalize("NFKC", value) if isinstance(value, str) else value


def _one_script(value: str) -> str:
    char = unsafe_character(value)
    if char is not None:
        raise PydanticCustomError("invalid_email", "Enter a valid e-mail address.")
    if len(scripts_of(value)) > 1:
        raise PydanticCustomError(
            "mixed_scripts",
            "An e-mail address must not mix letters of different scripts (such as Latin and Cyrillic "
            "letters that look alike).")
    return value


# A person's or an organisation's name (first and last names, account, partner and
# category names): any letters, no control or invisible formatting characters.
PlainText = Annotated[str, AfterValidator(_plain_text)]
# An e-mail address: NFKC-normalised, then checked and normalised by email-validator
# (lower-case domain), its letters from one script.
Email = Annotated[EmailStr, BeforeValidator(_nfkc), AfterValidator(_one_script)]


def normalize_email(value: str) -> str:
    """The key an e-mail is looked up by (sign-in, uniqueness): NFKC, trimmed, lower case."""
    return unicodedata.normalize("NFKC", value).strip().lower()


# Characters no input may hold: the C0 controls (tab, line feed and carriage return
# included), DEL, the C1 controls, and lone surrogates (not encodable as UTF-8). PostgreSQL
# cannot store a NUL byte at all; the others corrupt what the console, the CSV export and
# the PBX show. A field that needs line breaks says so with `LineBreaksAllowed[...]`, and
# then accepts tab, line feed and carriage return (no field needs them today: names,
# e-mails and the account's address are one line each).
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
CONTROL_CHARACTERS_BUT_LINE_BREAKS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


_LINE_BREAKS = object()


class LineBreaksAllowed:
    """`LineBreaksAllowed[str]`: a text field that accepts tab, line feed and carriage return."""

    def __class_getitem__(cls, item: Any) -> Any:
        return Annotated[item, _LINE_BREAKS]


def first_control_character(value: Any, *, line_breaks: bool = False) -> str | None:
    """Where the first text holding a character no input may hold is, in a string or
    anywhere inside lists and dicts (keys included): "" for the value itself,
    `phones[2].dn` style below it; None when there is none. Iterative: a deeply nested
    body cannot exhaust the stack."""
    pattern = CONTROL_CHARACTERS_BUT_LINE_BREAKS if line_breaks else CONTROL_CHARACTERS
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, BaseModel):
            item = item.model_dump()
        if isinstance(item, str):
            if pattern.search(item):
                return path
        elif isinstance(item, dict):
            children = []
            for key, child in item.items():
                if isinstance(key, str) and pattern.search(key):
                    return path
                children.append((f"{path}.{key}" if path else str(key), child))
            stack.extend(reversed(children))
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(reversed([(f"{path}[{i}]", child) for i, child in enumerate(item)]))
    return None


def has_control_character(value: Any, *, line_breaks: bool = False) -> bool:
    """Whether a string, or any key or string inside lists and dicts, holds a character
    no input may hold."""
    return first_control_character(value, line_breaks=line_breaks) is not None


def invalid_character(field: str | None = None) -> ValidationFailed:
    """The refusal of a text holding a control character (a form field, a query parameter,
    a JSON body's field)."""
    return ValidationFailed("invalid_character",
                            "Must not contain control characters (such as a NUL byte or a line break).", field=field)


class StrictSchema(BaseModel):
    """Base for every input schema: unknown fields are refused, strings are trimmed, and
    no text anywhere in it (nested lists, objects and keys included) holds a control
    character. A JSON body is taken as its types say (strict): 0 is no boolean, false and
    "5" no number, as the OpenAPI document promises; forms, CSV files and the CLI, whose
    values are all text, go through validate(), which converts them."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_control_characters(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        line_breaks = field is not None and _LINE_BREAKS in field.metadata
        if has_control_character(value, line_breaks=line_breaks):
            raise PydanticCustomError("invalid_character",
                                      "Must not contain control characters (such as a NUL byte or a line break).")
        return value


def field_path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if item in ("body", "query", "path") and not parts:
            continue
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "body"


def items_from_pydantic(errors: list[dict[str, Any]]) -> list[ErrorItem]:
    items = []
    for err in errors:
        # Our validators raise PydanticCustomError(code, message id): both kept as they are.
        code, message = _MESSAGES.get(err["type"], (err["type"], err.get("msg", "Invalid value.")))
        params = {k: v for k, v in (err.get("ctx") or {}).items() if isinstance(v, (str, int, float))}
        if "%(reason)s" in message:
            # Our validators raise ValueError with a translatable message id: use it as
            # the message itself so the console can translate it.
            message = str((err.get("ctx") or {}).get("error") or err.get("msg", "Invalid value."))
            message = message.removeprefix("Value error, ").replace("%", "%%")
            params = {}
        if code == "invalid_choice" and isinstance(params.get("expected"), str):
            # pydantic joins the last two choices with the English "or": a plain list reads in any language
            params["expected"] = params["expected"].replace("' or '", "', '")
        if err["type"] == "string_too_short" and params.get("min_length") == 1:
            code, message, params = "required", "This field is required.", {}
        if err["type"] == "value_error" and "email" in str(err.get("msg", "")).lower():
            code, message, params = "invalid_email", "Enter a valid e-mail address.", {}
        items.append(ErrorItem(code, message, field_path(tuple(err["loc"])), params))
    return items


def validate(schema: type[Schema], data: Any, *, context: dict[str, Any] | None = None) -> Schema:
    """`data` as a `schema` object, or ValidationFailed listing every field at fault.
    `context` reaches the validators (`numbers_in(region)`: the account's country for the
    phone numbers of the input)."""
    if isinstance(data, schema) and context is None:
        return data
    if isinstance(data, BaseModel):  # read again, now with the context (an API body read by FastAPI)
        data = data.model_dump(exclude_unset=True)
    try:
        return schema.model_validate(data, context=context, strict=False)
    except ValidationError as exc:
        raise ValidationFailed(errors=items_from_pydantic(exc.errors())) from None


# ---------------------------------------------------------------- phone numbers
#
# Every public number Switchboard takes (a DID, a DID range's ends, a hot desk user's
# external number), in the API, the console, the CSV import and the CLI, goes through
# `phone_number`: typed the way people write it ("06 12 34 56 78", "(613) 555-0100",
# "+44 20 7946 0958", "0033 6 12 34 56 78"), read with libphonenumber's data (the
# `phonenumbers` package) in the account's country, kept only if that numbering plan has
# the number, and stored in E.164 ("+33612345678"). Numbers are shown back with
# `display_phone_number`. An account without a country takes international numbers only.

_REGION = "numbers_region"
MAX_PHONE_NUMBER_LENGTH = 40  # as typed: spaces, dots and brackets included
E164_MAX_LENGTH = 16  # "+" and at most 15 digits


def numbers_in(region: str | None) -> dict[str, Any]:
    """The validation context that reads the phone numbers of an input in `region`
    (an ISO country code, such as "FR"; None: international numbers only)."""
    return {_REGION: region}


def _region(region: str | None) -> str | None:
    region = (region or "").upper()
    return region if region in phonenumbers.SUPPORTED_REGIONS else None


def _not_a_number(region: str | None) -> PydanticCustomError:
    example_number = phonenumbers.example_number(region) if region else None
    if example_number is None:
        return PydanticCustomError(
            "invalid_phone_number", "Not a valid phone number: write it with + and the country code, such as "
            "+1 613 555 0100.")
    example = phonenumbers.format_number(example_number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return PydanticCustomError(
        "invalid_phone_number", "Not a valid phone number: write it as it is dialled in the account's country "
        "(%(country)s), such as %(example)s, or with + and the country code.",
        {"country": region, "example": example})


def phone_number(text: Any, region: str | None = None) -> str:
    """The E.164 form of a phone number typed the way people write it, read in `region`
    (the account's country; None: only numbers written with + and the country code).
    Refuses (PydanticCustomError `invalid_phone_number`, or `required` when blank) a text that is not a
    number of a numbering plan, or that carries an extension; never raises anything else."""
    if not isinstance(text, str):
        raise PydanticCustomError("invalid_type", "Must be text.")
    text = text.strip()
    if not text:
        raise PydanticCustomError("required", "This field is required.")
    region = _region(region)
    if len(text) > MAX_PHONE_NUMBER_LENGTH:
        raise _not_a_number(region)
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise _not_a_number(region) from None
    if parsed.extension or not phonenumbers.is_valid_number(parsed):
        raise _not_a_number(region)
    stored = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if len(stored) > E164_MAX_LENGTH:  # some plans allow longer numbers than E.164 (German ones)
        raise _not_a_number(region)
    return stored


def phone_number_in(info: ValidationInfo, value: Any) -> str:
    """`phone_number` inside a field validator: the region comes from the validation
    context (`numbers_in`). Without one (FastAPI reading an API body) the text is kept as
    it is: the service validates the input again with the account's country."""
    if not info.context or _REGION not in info.context:
        return value
    return phone_number(value, info.context[_REGION])


def phone_number_field(text: Any, region: str | None, field: str) -> str:
    """`phone_number` for a service: its refusal is a ValidationFailed naming `field`."""
    try:
        return phone_number(text, region)
    except PydanticCustomError as exc:
        raise ValidationFailed(exc.type, exc.message_template, field=field, **(exc.context or {})) from None


def display_phone_number(number: str | None, region: str | None = None) -> str:
    """A stored number as people read it: in the national format when it has the calling
    code of `region` (the account's country), else in the international format. Text that
    is not a stored number is shown as it is."""
    if not number:
        return number or ""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return number
    region = _region(region)
    national = region is not None and parsed.country_code == phonenumbers.country_code_for_region(region)
    return phonenumbers.format_number(
        parsed, phonenumbers.PhoneNumberFormat.NATIONAL if national else phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def example_phone_number(region: str | None, *, mobile: bool = False) -> str:
    """A number of `region` as it is written there (a hint in a form): "06 12 34 56 78"
    for a French mobile; international when the account has no country."""
    region = _region(region)
    kind = phonenumbers.PhoneNumberType.MOBILE if mobile else phonenumbers.PhoneNumberType.FIXED_LINE
    example = phonenumbers.example_number_for_type(region, kind) if region else None
    if example is None:
        return "+33 6 12 34 56 78" if mobile else "+33 1 40 00 00 00"
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
