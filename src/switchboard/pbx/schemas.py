from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator
from pydantic_core import PydanticCustomError

from switchboard.core.validation import StrictSchema


class ConnectionIn(StrictSchema):
    url: str = Field(min_length=1, max_length=500, description="Base URL of the MiVB gateway")
    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=500)
    shared: bool = Field(default=False, description="The gateway also serves another account, on purpose "
                         "(partner admins); without it a gateway another account uses is refused (409 pbx_in_use)")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        from urllib.parse import urlsplit

        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PydanticCustomError("invalid_url", "Must be an http:// or https:// address.")
        return value.rstrip("/")


class ConnectionOut(BaseModel):
    url: str
    username: str
    password: str = "****"
    shared: bool = False
    last_test_at: datetime | None
    last_test_ok: bool | None
    last_test_detail: str | None
    version: int


class PbxSummary(BaseModel):
    name: str | None = None
    version: str | None = None
    users: int | None = None
    devices: int | None = None


class ConnectionTestOut(BaseModel):
    ok: bool
    detail: str
    pbx: PbxSummary | None


class CatalogOut(BaseModel):
    templates: list[dict[str, Any]]
    groups: list[dict[str, Any]]
    locations: list[str]
    departments: list[str]
    device_models: list[dict[str, Any]]
    cos: list[int]
    cor: list[int]
    languages: list[str]
    fetched_at: datetime
    stale: bool = Field(description="True when the PBX could not be read and this is the last known catalogue")
