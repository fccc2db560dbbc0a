"""Shapes of the adoption routes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from switchboard.core.validation import StrictSchema


class AdoptionIn(StrictSchema):
    keys: list[str] | None = Field(default=None, max_length=10_000, description="PBX user keys to adopt")
    all: bool = Field(default=False, description="Adopt every unmanaged user (instead of keys)")
    mode: Literal["dry_run", "apply"] = "dry_run"
    on_error: Literal["all_or_nothing", "partial"] = "all_or_nothing"
    categories: dict[str, str] | None = Field(default=None, description="PBX template name -> service category id")


class ConflictOut(BaseModel):
    code: str
    message: str
    severity: Literal["error", "warning"]


class MatchOut(BaseModel):
    user_id: str
    by: Literal["email"]


class PbxPhoneOut(BaseModel):
    key: str | None = None
    type: str | None = None
    dn: str | None = None
    did: str | None = None
    model: str | None = None
    mac: str | None = None
    voicemail: bool | None = None
    acd_agent: bool | None = None
    external_phone: dict | None = None


class PbxUserOut(BaseModel):
    key: str
    first_name: str | None
    last_name: str | None
    email: str | None
    template: str | None
    group: str | None = None
    location: str | None = None
    department: str | None = None
    phones: list[PbxPhoneOut]
    match: MatchOut | None
    service_category: str | None
    service_category_name: str | None = None
    adoptable: bool
    conflicts: list[ConflictOut]


class AdoptionListOut(BaseModel):
    pbx_users: int
    managed: int
    items: list[PbxUserOut]
