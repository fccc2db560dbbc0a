"""Turn input into validated schema objects, with field-level errors the console can translate.

Every service entry point passes its input through `validate`, so the API, the console and
the CLI share one set of rules and one set of messages.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator
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
    character."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

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
        if err["type"] == "string_too_short" and params.get("min_length") == 1:
            code, message, params = "required", "This field is required.", {}
        if err["type"] == "value_error" and "email" in str(err.get("msg", "")).lower():
            code, message, params = "invalid_email", "Enter a valid e-mail address.", {}
        items.append(ErrorItem(code, message, field_path(tuple(err["loc"])), params))
    return items


def validate(schema: type[Schema], data: Any) -> Schema:
    if isinstance(data, schema):
        return data
    if isinstance(data, BaseModel):
        data = data.model_dump(exclude_unset=True)
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(errors=items_from_pydantic(exc.errors())) from None
