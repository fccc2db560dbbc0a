"""Shapes of what clients and seed files send. Only types and structure are checked here
(a mismatch is a 400 `bad_request`); the PBX rules live in state.py."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

PhoneType = Literal["desk_phone", "generic_sip", "hot_desk"]
Text = Annotated[str, Field(max_length=200)]
Count = Annotated[int, Field(ge=0, le=1_000_000)]


class _Strict(BaseModel):
    # strict: "1" is not a COS and 1 is not a bool; forbid: a misspelt field is an error,
    # not something silently dropped.
    model_config = ConfigDict(strict=True, extra="forbid")


class ExternalPhoneIn(_Strict):
    number: Text | None = None


class AdvancedIn(_Strict):
    """Per-phone service settings; any field left out takes the user template's value."""

    cos_day: int | None = None
    cos_night1: int | None = None
    cos_night2: int | None = None
    cor_day: int | None = None
    cor_night1: int | None = None
    cor_night2: int | None = None
    language: Text | None = None


class SipIn(_Strict):
    username: Text
    password: Text


class PhoneIn(_Strict):
    key: Annotated[str, Field(min_length=1, max_length=64)]
    type: PhoneType
    dn: Text
    did: Text | None = None
    model: Text | None = None
    mac: Text | None = None
    voicemail: bool = False
    acd_agent: bool = False
    external_phone: ExternalPhoneIn | None = None
    advanced: AdvancedIn | None = None
    sip: SipIn | None = None
    # Read-only, accepted so that a GET body can be PUT back unchanged; the PBX owns it.
    voicemail_box: dict[str, Any] | None = None


class UserIn(_Strict):
    # Optional in a PUT body (the path names the user); required in a seed file.
    user_key: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    first_name: Text
    last_name: Text
    email: Text | None = None
    template: Text
    group: Text | None = None
    user_pin: Text = ""
    location: Text | None = None
    department: Text | None = None
    phones: Annotated[list[PhoneIn], Field(max_length=100)] = []

    @model_validator(mode="after")
    def _unique_phone_keys(self) -> "UserIn":
        seen: set[str] = set()
        for phone in self.phones:
            if phone.key in seen:
                raise ValueError(f"phone key {phone.key!r} appears more than once")
            seen.add(phone.key)
        return self


class TemplatePhone(_Strict):
    type: PhoneType
    model: Text | None = None


class Template(_Strict):
    name: Text
    group_type: Literal["none", "prg", "mdug"] = "none"
    cos: int
    cor: int
    location: Text | None = None
    department: Text | None = None
    language: Text
    voicemail: bool = False
    phones: Annotated[list[TemplatePhone], Field(max_length=3)] = []


class Group(_Strict):
    name: Text
    type: Literal["prg", "mdug"]
    kind: Literal["standard", "external_twin"] | None = None

    @model_validator(mode="after")
    def _kind_matches_type(self) -> "Group":
        if self.type == "prg" and self.kind is not None:
            raise ValueError("a PRG has no kind")
        if self.type == "mdug" and self.kind is None:
            self.kind = "standard"
        return self


class DeviceModel(_Strict):
    name: Text
    type: Literal["desk_phone", "generic_sip"]


class CatalogIn(_Strict):
    templates: list[Template] | None = None
    groups: list[Group] | None = None
    locations: list[Text] | None = None
    departments: list[Text] | None = None
    device_models: list[DeviceModel] | None = None
    cos: list[int] | None = None
    cor: list[int] | None = None
    languages: list[Text] | None = None
    reserved_dns: list[Text] | None = None


class SystemIn(_Strict):
    name: Text | None = None
    version: Text | None = None


class LicencesIn(_Strict):
    ip_users: Count | None = None
    ehdu: Count | None = None
    acd_agents: Count | None = None
    mdu: Count | None = None


class CapacityIn(_Strict):
    users: Count | None = None
    devices: Count | None = None


class SeedIn(_Strict):
    """A seed file: each part given replaces the built-in default of that part."""

    system: SystemIn = SystemIn()
    licences: LicencesIn = LicencesIn()
    capacity: CapacityIn = CapacityIn()
    catalog: CatalogIn = CatalogIn()
    # Legacy configuration predating the group rule: seed users may fill a group past its
    # member limit. Only seed loading is affected; client PUTs still cannot grow such a group.
    legacy_group_limits: bool = False
    users: list[UserIn] = []

    @model_validator(mode="after")
    def _users_have_unique_keys(self) -> "SeedIn":
        if any(user.user_key is None for user in self.users):
            raise ValueError("every seed user needs a user_key")
        seen: set[str | None] = set()
        for user in self.users:
            if user.user_key in seen:
                raise ValueError(f"seed user key {user.user_key!r} appears more than once")
            seen.add(user.user_key)
        return self


class RejectFault(_Strict):
    dn: Annotated[str, Field(min_length=1, max_length=7)]


class FaultsIn(_Strict):
    down: bool | None = None
    latency_ms: Annotated[int, Field(ge=0, le=60_000)] | None = None
    error_rate: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] | None = None
    reject: RejectFault | None = None
    garbage: bool | None = None


def error_path(loc: tuple[str | int, ...]) -> str | None:
    """Turn a pydantic error location into the dotted path clients know: phones[2].dn."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path or None


def describe(exc: ValidationError) -> list[tuple[str | None, str]]:
    """(field, readable message) for each problem pydantic found."""
    problems = []
    for error in exc.errors(include_url=False):
        field = error_path(tuple(error["loc"]))
        message = error["msg"].removeprefix("Value error, ")
        problems.append((field, f"{field}: {message}." if field else f"{message}."))
    return problems
