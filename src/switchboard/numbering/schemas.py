"""Input and output shapes for DN ranges, DID ranges and free-number look-ups.

Field formats are checked here (each error names its field); rules that involve two
fields or the database (start ≤ end, same length, overlaps) live in the service.
"""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from switchboard.core.validation import MAX_PHONE_NUMBER_LENGTH, StrictSchema, phone_number_in

MAX_DN_LENGTH = 7
DIGITS = re.compile(r"[0-9]{1,7}")
PREFIX = re.compile(r"[0-9*#]{0,4}")
# A DN: an optional prefix of up to 4 characters out of 0-9 * #, then digits; 7 at most.
DN = re.compile(r"[0-9*#]{0,4}[0-9]+")


def is_dn(value: object) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= MAX_DN_LENGTH and DN.fullmatch(value) is not None


def _range_digits(value: str) -> str:
    if not DIGITS.fullmatch(value):
        raise PydanticCustomError("invalid_digits", "Must be 1 to 7 digits (0-9 only).")
    return value


def _prefix(value: str | None) -> str:
    value = value or ""
    if not PREFIX.fullmatch(value):
        raise PydanticCustomError("invalid_prefix", "A prefix is at most 4 characters out of 0-9, * and #.")
    return value


def _phone_number(value: str, info: ValidationInfo) -> str:
    """A number as people type it, read in the account's country (core.validation.phone_number)."""
    return phone_number_in(info, value)


def _first_dn(value: str | None) -> str | None:
    if not value:
        return None
    if not is_dn(value):
        raise PydanticCustomError(
            "invalid_dn", "A DN is 1 to 7 characters: digits, after an optional prefix of up to 4 "
            "characters out of 0-9, * and #.")
    return value


class DnRangeCreate(StrictSchema):
    start: str = Field(description="First number of the range, digits only", examples=["2000"])
    end: str = Field(description="Last number of the range: digits, as many as start", examples=["2999"])
    prefix: str | None = Field(default="", description="0 to 4 characters out of 0-9 * #, put before "
                               "every number; prefix + number is at most 7 characters", examples=[""])

    _digits = field_validator("start", "end")(_range_digits)
    _check_prefix = field_validator("prefix")(_prefix)


class DnRangeOut(BaseModel):
    id: str
    account_id: str
    prefix: str
    start: str
    end: str
    first_dn: str = Field(description="prefix + start")
    last_dn: str = Field(description="prefix + end")
    size: int
    used: int = Field(description="DNs of the range on a phone of the account or in use on the PBX "
                      "outside Switchboard")
    free: int
    version: int
    created_at: datetime
    updated_at: datetime


class DidRangeCreate(StrictSchema):
    start: str = Field(max_length=MAX_PHONE_NUMBER_LENGTH, description="First number, as people write it in the "
                       "account's country or with + and the country code (answered in E.164)", examples=["+14155550100"])
    end: str = Field(max_length=MAX_PHONE_NUMBER_LENGTH, description="Last number, as long as start in E.164",
                     examples=["+14155550199"])
    first_dn: str | None = Field(default=None, description="When given, DID start+k maps to DN first_dn+k "
                                 "(the trailing digits counted up, keeping their width)", examples=["2100"])

    _numbers = field_validator("start", "end")(_phone_number)
    _check_first_dn = field_validator("first_dn")(_first_dn)


class DidRangeOut(BaseModel):
    id: str
    account_id: str
    start: str
    end: str
    first_dn: str | None
    last_dn: str | None = Field(description="The DN the last mappable DID maps to (mapped ranges only)")
    size: int
    used: int = Field(description="DIDs of the range on a phone")
    free: int
    version: int
    created_at: datetime
    updated_at: datetime


class AvailableDns(BaseModel):
    items: list[str] = Field(description="The next free DNs of the range, lowest first")
