"""Shapes of the MiVB features: categories, PIN policy, a user's service and phones."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from switchboard.core.validation import MAX_PHONE_NUMBER_LENGTH, PlainText, StrictSchema, phone_number_in
from switchboard.mivb.phone_types import NAMES

PhoneType = Literal[NAMES]  # type: ignore[valid-type]
MAC = re.compile(r"[0-9A-Fa-f]{12}")


def normalise_mac(value: str | None) -> str | None:
    """12 hexadecimal digits, upper case; separators (: . - and spaces) dropped. The digits
    are checked before upper-casing: "ﬀ" upper-cases to "FF" but is no hex digit."""
    if value in (None, ""):
        return None
    cleaned = re.sub(r"[\s:.\-]", "", value)
    if not MAC.fullmatch(cleaned):
        raise PydanticCustomError("invalid_mac", "A MAC address is 12 hexadecimal digits, such as 08:00:0F:12:34:56.")
    return cleaned.upper()


def _phone_number(value: str | None, info: ValidationInfo) -> str | None:
    """A number as people type it, read in the account's country (core.validation.phone_number)."""
    return None if value is None else phone_number_in(info, value)


# ------------------------------------------------------------------ account settings

class PinPolicy(StrictSchema):
    min_length: int = Field(default=4, ge=0, le=8)
    forbid_repeated: bool = True
    forbid_sequences: bool = True
    forbid_dn: bool = True


class AddonLicences(StrictSchema):
    ehdu: int = Field(ge=0, le=100_000, description="External hot desk user licences")
    acd_agent: int = Field(ge=0, le=100_000, description="ACD agent licences")


class AddonLicencesOut(BaseModel):
    ehdu: int
    acd_agent: int
    ehdu_used: int
    acd_agent_used: int


class CategoryIn(StrictSchema):
    name: PlainText = Field(min_length=1, max_length=100)
    template: str = Field(min_length=1, max_length=100, description="A user template of the PBX catalogue")
    licences: int = Field(ge=0, le=100_000)
    allowed_phone_types: list[PhoneType] | None = Field(default=None, description="null: every phone type")

    @field_validator("allowed_phone_types")
    @classmethod
    def _distinct(cls, value):
        if value is not None and len(set(value)) != len(value):
            raise PydanticCustomError("duplicate", "Each phone type may appear once.")
        return value


class CategoryPatch(StrictSchema):
    name: PlainText | None = Field(default=None, min_length=1, max_length=100)
    template: str | None = Field(default=None, min_length=1, max_length=100)
    licences: int | None = Field(default=None, ge=0, le=100_000)
    allowed_phone_types: list[PhoneType] | None = None


class CategoryOut(BaseModel):
    id: str
    name: str
    template: str
    licences: int
    licences_used: int
    licences_left: int
    allowed_phone_types: list[str] | None
    version: int


# ------------------------------------------------------------------ a user's service

class ProductIn(StrictSchema):
    product: Literal["mivb"]


class ProductOut(BaseModel):
    product: Literal["mivb"] = "mivb"
    name: str = "MiVoice Business Service"
    status: Literal["no_service_assigned", "configured"]
    service_category: str | None
    service_category_name: str | None


class ServiceChoice(StrictSchema):
    service_category: str = Field(min_length=1, max_length=64, description="The category's id")


class Programming(StrictSchema):
    group: str | None = Field(default=None, max_length=100, description="null: no group")
    user_pin: str | None = Field(default=None, max_length=8)
    location: str | None = Field(default=None, max_length=100)
    department: str | None = Field(default=None, max_length=100)


class ConfigPatch(StrictSchema):
    programming: Programming


class ProgrammingOut(BaseModel):
    group: str | None
    user_pin: str | None
    location: str | None
    department: str | None


class Advanced(StrictSchema):
    cos_day: int | None = Field(default=None, ge=0, le=999)
    cos_night1: int | None = Field(default=None, ge=0, le=999)
    cos_night2: int | None = Field(default=None, ge=0, le=999)
    cor_day: int | None = Field(default=None, ge=0, le=999)
    cor_night1: int | None = Field(default=None, ge=0, le=999)
    cor_night2: int | None = Field(default=None, ge=0, le=999)
    language: str | None = Field(default=None, max_length=10)


class ExternalPhone(StrictSchema):
    number: str = Field(max_length=MAX_PHONE_NUMBER_LENGTH, description="As people write it, in the account's "
                        "country or with + and the country code; stored and answered in E.164", examples=["+33612345678"])

    _number = field_validator("number")(_phone_number)


class PhoneIn(StrictSchema):
    type: PhoneType
    model: str | None = Field(default=None, max_length=100)
    mac: str | None = None
    dn: str | None = Field(default=None, max_length=7, description="Allocated from the DN ranges when not given")
    did: str | None = Field(default=None, max_length=MAX_PHONE_NUMBER_LENGTH,
                            description="Allocated from the DID ranges when not given; null for none. "
                            "As people write it (see external_phone.number)")
    voicemail: bool | None = None
    acd_agent: bool = False
    external_phone: ExternalPhone | None = None
    advanced: Advanced | None = None

    _mac = field_validator("mac")(normalise_mac)
    _did = field_validator("did")(_phone_number)


class PhonePatch(StrictSchema):
    model: str | None = Field(default=None, max_length=100)
    mac: str | None = None
    dn: str | None = Field(default=None, max_length=7, description="A new DN recreates the phone's voicemail box "
                           "on the PBX: send confirm_dn_change: true with it (else 409 confirmation_required)")
    confirm_dn_change: bool = Field(default=False, description="Confirms a DN change (see dn)")
    did: str | None = Field(default=None, max_length=MAX_PHONE_NUMBER_LENGTH)
    voicemail: bool | None = None
    acd_agent: bool | None = None
    external_phone: ExternalPhone | None = None
    advanced: Advanced | None = None

    _mac = field_validator("mac")(normalise_mac)
    _did = field_validator("did")(_phone_number)


class SipOut(BaseModel):
    username: str
    password: str


class SyncOut(BaseModel):
    state: Literal["pending", "syncing", "synced", "failed"]
    errors: list[dict[str, Any]]


class PhoneOut(BaseModel):
    id: str
    type: str
    dn: str
    did: str | None
    model: str | None
    mac: str | None
    voicemail: bool
    acd_agent: bool
    external_phone: dict[str, str] | None
    advanced: dict[str, Any]
    sip: SipOut | None
    sync: SyncOut
    version: int


class UserSyncOut(SyncOut):
    updated_at: datetime | None
    next_attempt_at: datetime | None
    attempts: int


class ConfigOut(BaseModel):
    user_id: str
    product: Literal["mivb"] = "mivb"
    status: Literal["no_service_assigned", "configured"]
    service_category: str | None
    service_category_name: str | None
    template: str | None
    programming: ProgrammingOut
    phones: list[PhoneOut]
    sync: UserSyncOut
    version: int


class GeneratedPin(BaseModel):
    user_pin: str
