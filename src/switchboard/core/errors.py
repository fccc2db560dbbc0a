"""Service errors: one class per HTTP outcome, each carrying stable machine codes.

Messages are gettext message ids with %(name)s parameters, so the API answers in English
and the console renders the same error in the reader's language.
"""

from __future__ import annotations

from dataclasses import dataclass, field as dc_field
from typing import Any

from switchboard.core.i18n import localize


@dataclass
class ErrorItem:
    code: str
    message: str
    field: str | None = None
    params: dict[str, Any] = dc_field(default_factory=dict)
    phone_id: str | None = None
    row: int | None = None

    def render(self, gettext=lambda s: s) -> str:
        text = gettext(self.message)
        if not self.params:
            return text
        # A value may itself be a stored message (the PBX connector's reason for a failure).
        return text % {name: localize(value, gettext) if isinstance(value, str) else value
                       for name, value in self.params.items()}

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.render()}
        for key in ("field", "phone_id", "row"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    def as_stored(self) -> dict[str, Any]:
        """as_json, and what shows the message again later in the reader's language (a job's
        result keeps it): see `stored_message`."""
        return {**self.as_json(), **message_source(self.message, self.params)}


def message_source(message: str, params: dict[str, Any]) -> dict[str, Any]:
    """The message id and values of a message that is kept already rendered in English
    (the API's words), so that a page can render it again in the reader's language."""
    if not all(value is None or isinstance(value, (str, int, float)) for value in params.values()):
        return {}
    return {"message_id": message, **({"params": dict(params)} if params else {})}


def stored_message(error: dict[str, Any], gettext) -> str:
    """A kept error's message in the reader's language: from its message id and values when
    it kept them, else its English text (localized when it is a composed message)."""
    message_id, params = error.get("message_id"), error.get("params") or {}
    if isinstance(message_id, str) and isinstance(params, dict):
        return ErrorItem(str(error.get("code") or ""), message_id, params=params).render(gettext)
    return localize(str(error.get("message") or ""), gettext)


class ServiceError(Exception):
    status = 400
    title = "Bad request"
    # A refusal that must still be recorded (a failed sign-in counts towards the lockout):
    # the unit of work commits what was written instead of rolling it back.
    keep_writes = False

    def __init__(
        self,
        code: str | None = None,
        message: str | None = None,
        *,
        field: str | None = None,
        phone_id: str | None = None,
        errors: list[ErrorItem] | None = None,
        **params: Any,
    ) -> None:
        if errors is None:
            errors = [ErrorItem(code or self.default_code, message or self.title, field, params, phone_id)]
        self.errors = errors
        super().__init__(errors[0].render() if errors else self.title)

    default_code = "bad_request"

    @property
    def code(self) -> str:
        return self.errors[0].code if self.errors else self.default_code


class Unauthorized(ServiceError):
    status, title, default_code = 401, "Not signed in", "unauthorized"


class Forbidden(ServiceError):
    status, title, default_code = 403, "Not allowed for your role", "forbidden"


class NotFound(ServiceError):
    status, title, default_code = 404, "Not found", "not_found"


class Conflict(ServiceError):
    status, title, default_code = 409, "Conflict", "conflict"


class RefusedAtCommit(Conflict):
    """A refusal found only as the unit of work committed (another unit took the last
    licence meanwhile): work that applies rows may run again from its last commit, where
    each row is checked with the new counts and the row over the limit refused alone."""


class PreconditionFailed(ServiceError):
    status, title, default_code = 412, "The object was changed by someone else", "version_mismatch"


class PayloadTooLarge(ServiceError):
    status, title, default_code = 413, "Request body too large", "body_too_large"


class ValidationFailed(ServiceError):
    status, title, default_code = 422, "Invalid input", "invalid"


class Unavailable(ServiceError):
    status, title, default_code = 503, "Service unavailable", "unavailable"


class TooManyRequests(ServiceError):
    status, title, default_code = 429, "Too many attempts", "too_many_attempts"


def invalid(field: str, code: str, message: str, **params: Any) -> ValidationFailed:
    return ValidationFailed(code, message, field=field, **params)
