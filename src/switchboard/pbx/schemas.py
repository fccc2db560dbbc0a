from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
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
        return gateway_url(value)


def gateway_url(value: str) -> str:
    """A gateway's base address: http or https, a host, a valid port, and nothing that
    does not belong there (credentials go in their own fields; no query, no fragment)."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 -- raises on a port that is not a number from 0 to 65535
        httpx.URL(value)  # what the connector will be given must be an address it can use
    except (ValueError, httpx.InvalidURL):
        raise PydanticCustomError("invalid_url", "Must be an http:// or https:// address.") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or any(c.isspace() for c in value):
        raise PydanticCustomError("invalid_url", "Must be an http:// or https:// address.")
    if "@" in parts.netloc:
        raise PydanticCustomError("url_credentials",
                                  "Put the user name and password in their own fields, not in the address.")
    if "#" in value:
        raise PydanticCustomError("url_fragment", "The address must not have a fragment (#…).")
    if "?" in value:
        raise PydanticCustomError("url_query", "The address must not have a query (?…).")
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
