"""Input and output shapes for partners, accounts, users and sign-in."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from babel import Locale
from pydantic import BaseModel, Field, field_validator
from pydantic_core import PydanticCustomError

from switchboard.core.passwords import NewPassword
from switchboard.core.validation import Email, PlainText, StrictSchema

Language = Literal["en", "fr"]
# CLDR also names regions that are not countries (EU, UN, the "unknown region" ZZ, …).
_NOT_COUNTRIES = {"EU", "EZ", "QO", "UN", "XA", "XB", "ZZ"}
COUNTRIES = frozenset(
    code for code in Locale("en").territories if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES
)

Name = Field(min_length=1, max_length=200)


def _country(value: str | None) -> str | None:
    if value in (None, ""):
        return None
    value = value.upper()
    if value not in COUNTRIES:
        raise PydanticCustomError("invalid_country", "Must be a two-letter ISO country code, such as CA or FR.")
    return value


def _blank_to_none(value: str | None) -> str | None:
    return value or None


class AccountCreate(StrictSchema):
    name: PlainText = Name
    country: str | None = None
    province: PlainText | None = Field(default=None, max_length=100)
    city: PlainText | None = Field(default=None, max_length=100)
    address: PlainText | None = Field(default=None, max_length=300)
    postal_code: PlainText | None = Field(default=None, max_length=20)
    default_language: Language = "en"

    _check_country = field_validator("country")(_country)
    _blanks = field_validator("province", "city", "address", "postal_code")(_blank_to_none)


class AccountUpdate(StrictSchema):
    name: PlainText | None = Field(default=None, min_length=1, max_length=200)
    country: str | None = None
    province: PlainText | None = Field(default=None, max_length=100)
    city: PlainText | None = Field(default=None, max_length=100)
    address: PlainText | None = Field(default=None, max_length=300)
    postal_code: PlainText | None = Field(default=None, max_length=20)
    default_language: Language | None = None

    _check_country = field_validator("country")(_country)
    _blanks = field_validator("province", "city", "address", "postal_code")(_blank_to_none)


class AccountOut(BaseModel):
    id: str
    partner_id: str
    name: str
    country: str | None
    province: str | None
    city: str | None
    address: str | None
    postal_code: str | None
    default_language: str
    version: int
    created_at: datetime
    updated_at: datetime


def _empty_is_none(schema: dict) -> None:
    """The document says what the validator does: "" is accepted, as null."""
    schema["anyOf"].insert(1, {"type": "string", "const": ""})


class UserCreate(StrictSchema):
    first_name: PlainText = Field(min_length=1, max_length=100)
    last_name: PlainText = Field(min_length=1, max_length=100)
    email: Email = Field(max_length=320)
    role: Literal["user", "account_admin"] = "user"
    # Also checked when stored: not the e-mail (accounts.auth.set_password). An empty
    # text (a form's blank field) is no password, as null is; any other type is refused.
    password: NewPassword | None = Field(default=None, json_schema_extra=_empty_is_none)

    _blank = field_validator("password", mode="before")(lambda v: None if v == "" else v)


class UserUpdate(StrictSchema):
    first_name: PlainText | None = Field(default=None, min_length=1, max_length=100)
    last_name: PlainText | None = Field(default=None, min_length=1, max_length=100)
    email: Email | None = Field(default=None, max_length=320)
    role: Literal["user", "account_admin"] | None = None
    # null removes the password (the user can no longer sign in). Also checked when
    # stored: not the e-mail, not one of the last passwords (accounts.auth.set_password).
    password: NewPassword | None = None


class UserOut(BaseModel):
    id: str
    account_id: str | None
    first_name: str
    last_name: str
    email: str
    role: str
    can_sign_in: bool
    extensions: list[str] = []
    licences: list[str] = []
    location: str | None = None
    version: int
    created_at: datetime
    updated_at: datetime


class TokenRequest(StrictSchema):
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class PasswordChange(StrictSchema):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: NewPassword


class Me(BaseModel):
    id: str
    email: str
    first_name: str
    last_name: str
    role: str
    partner_id: str | None
    account_id: str | None
    language: Language | None = Field(
        default=None, description="The console language this person chose; null: not chosen (the browser's "
                                  "language, then the account's default language)")


class MeUpdate(StrictSchema):
    """What a person may change about themselves (their password has its own route)."""

    language: Language | None = Field(
        default=None, description="The console language: en or fr; null forgets the choice")


class PartnerCreate(StrictSchema):
    name: PlainText = Name
    admin_email: Email = Field(max_length=320)
    admin_password: NewPassword
    admin_first_name: PlainText = Field(default="Partner", min_length=1, max_length=100)
    admin_last_name: PlainText = Field(default="Admin", min_length=1, max_length=100)
