"""The MiVB rules a change must satisfy before it is written (DESIGN §3): licences,
the PBX's capacity, group sizes, which fields a phone type allows, what the PBX
catalogue offers. Each check raises (or returns) errors with stable codes and the field
at fault; the write paths of subscriptions.py and phones.py, the bulk import and the
adoption all call these same functions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from switchboard.core.errors import Conflict, ErrorItem, ValidationFailed
from switchboard.mivb import limits, usage
from switchboard.mivb import settings as mivb_settings
from switchboard.mivb.models import MivbService, Phone, ServiceCategory
from switchboard.mivb.phone_types import COR_FIELDS, COS_FIELDS, DEVICE_TYPES, PHONE_TYPES

MAX_PHONES = 8
GROUP_MAX_PHONES = 8

PhoneKinds = list[tuple[str, bool]]  # (phone type, has an external phone)


def template(catalog: dict[str, Any], name: str, field: str = "template") -> dict[str, Any]:
    for candidate in catalog.get("templates", []):
        if candidate.get("name") == name:
            return candidate
    raise ValidationFailed("unknown_template", "The PBX has no user template named %(name)s.", field=field, name=name)


def models_of(catalog: dict[str, Any], phone_type: str) -> list[str]:
    return [m.get("name") for m in catalog.get("device_models", []) if m.get("type") == phone_type]


def allowed(category: ServiceCategory, phone_type: str) -> bool:
    return category.allowed_phone_types is None or phone_type in category.allowed_phone_types


def kinds(phones: list[Phone]) -> PhoneKinds:
    return [(p.type, bool(p.external_number)) for p in phones]


# ---------------------------------------------------------------- licences and capacity

def check_licence(session: Session, category: ServiceCategory, user_id: str) -> None:
    """The licence checks below refuse early when the transaction knows the count already
    (a bulk import's later rows); every count a unit raises is checked again, under a
    lock, before it commits (limits.py), which is where the others are refused."""
    used = usage.known(session, "licence_used", category.id)
    if used is None:
        return
    mine = usage.category_of_flushed(session, user_id)
    if usage.is_unknown(mine):  # the user's own service is not loaded: count the others
        used = session.scalar(select(func.count()).select_from(MivbService).where(
            MivbService.service_category_id == category.id, MivbService.user_id != user_id)) or 0
    elif mine == category.id:
        used -= 1
    if used >= category.licences:
        raise limits.licence_exhausted(category)


def check_user_capacity(session: Session, account_id: str) -> None:
    used = usage.known(session, "configured_users", account_id)
    if used is not None and used >= limits.CAPACITY_USERS:
        raise limits.users_over_capacity()


def check_device_capacity(session: Session, account_id: str, service: MivbService) -> None:
    if len(service.phones) >= MAX_PHONES:
        raise Conflict("too_many_phones", "A user has at most %(max)s phones.", max=MAX_PHONES)
    used = usage.known(session, "devices", account_id)
    if used is not None and used >= limits.CAPACITY_DEVICES:
        raise limits.devices_over_capacity()


def check_addons(session: Session, account_id: str, *, want_external: bool, want_acd: bool,
                 had_external: bool = False, had_acd: bool = False) -> None:
    """EHDU and ACD agent licences, for what a phone newly takes."""
    ehdu = usage.known(session, "ehdu_used", account_id) if want_external and not had_external else None
    acd = usage.known(session, "acd_used", account_id) if want_acd and not had_acd else None
    if ehdu is None and acd is None:
        return
    settings = mivb_settings.load(session, account_id)
    if ehdu is not None and ehdu >= settings.ehdu_licences:
        raise limits.ehdu_exhausted(settings.ehdu_licences)
    if acd is not None and acd >= settings.acd_agent_licences:
        raise limits.acd_exhausted(settings.acd_agent_licences)


def check_mac_free(session: Session, mac: str | None, exclude_phone: str | None = None) -> None:
    if not mac:
        return
    query = select(Phone.id).where(Phone.mac == mac)
    if exclude_phone is not None:
        query = query.where(Phone.id != exclude_phone)
    if session.scalar(query):
        raise Conflict("mac_taken", "This MAC address is already used by another phone.", field="mac")


# ---------------------------------------------------------------- groups

def group_info(catalog: dict[str, Any], name: str | None) -> dict[str, Any] | None:
    return next((g for g in catalog.get("groups", []) if g.get("name") == name), None) if name else None


def _group_phone_count(session: Session, account_id: str, group: str, exclude_user: str) -> int:
    return session.scalar(select(func.count()).select_from(Phone).join(MivbService, MivbService.user_id == Phone.user_id)
                          .where(MivbService.account_id == account_id, MivbService.group == group,
                                 MivbService.user_id != exclude_user)) or 0


def check_group(session: Session, account_id: str, user_id: str, group: str | None, phone_kinds: PhoneKinds,
                catalog: dict[str, Any], field: str) -> None:
    """PRG/MDUG limits: 8 phones in a group; an external-twin MDUG holds exactly a desk or
    SIP phone plus an external hot desk of one user."""
    if group is None:
        return
    info = group_info(catalog, group)
    if info is None:
        raise ValidationFailed("unknown_group", "The PBX has no group named %(name)s.", field=field, name=group)
    others = _group_phone_count(session, account_id, group, user_id)
    if others + len(phone_kinds) > GROUP_MAX_PHONES:
        raise Conflict("group_full", "The group %(name)s would have more than %(max)s phones.", field=field,
                       name=group, max=GROUP_MAX_PHONES)
    if info.get("kind") == "external_twin":
        devices = sum(1 for t, _ in phone_kinds if t in DEVICE_TYPES)
        externals = sum(1 for t, ext in phone_kinds if PHONE_TYPES[t].allows("external_phone") and ext)
        if others or (devices, externals, len(phone_kinds)) != (1, 1, 2):
            raise Conflict("group_twin_invalid", "An external-twin group holds exactly one desk or SIP phone and "
                           "one external phone of one user.", field=field)


def template_group(session: Session, account_id: str, service: MivbService, tmpl: dict[str, Any],
                   catalog: dict[str, Any]) -> str | None:
    """The first group of the template's kind that can take the user's phones; none when
    every such group is full (the admin then picks one)."""
    group_type = tmpl.get("group_type") or "none"
    for group in catalog.get("groups", []):
        if group_type == "none" or group.get("type") != group_type:
            continue
        try:
            check_group(session, account_id, service.user_id, group.get("name"), kinds(service.phones), catalog,
                        "programming.group")
        except (Conflict, ValidationFailed):
            continue
        return group.get("name")
    return None


# ---------------------------------------------------------------- phone fields

def phone_field_problems(given: dict[str, Any], phone_type: str, catalog: dict[str, Any],
                         category: ServiceCategory | None) -> list[ErrorItem]:
    """Every field of `given` (a phone's input, as sent) that its type or the catalogue
    does not allow."""
    kind = PHONE_TYPES[phone_type]
    problems: list[ErrorItem] = []
    if category is not None and not allowed(category, phone_type):
        problems.append(ErrorItem("phone_type_not_allowed", "The category %(name)s does not allow a phone of type "
                                  "%(type)s.", "type", {"name": category.name, "type": phone_type}))
    if not kind.has_device:
        for name in ("model", "mac"):
            if given.get(name):
                problems.append(ErrorItem("field_not_allowed", "A hot desk has no device, so no model or MAC "
                                          "address.", name))
    else:
        if given.get("acd_agent") and not kind.allows("acd_agent"):
            problems.append(ErrorItem("field_not_allowed", "Only a hot desk can be an ACD agent.", "acd_agent"))
        if given.get("external_phone") and not kind.allows("external_phone"):
            problems.append(ErrorItem("field_not_allowed", "Only a hot desk can have an external phone.",
                                      "external_phone"))
        if given.get("mac") and not kind.has_mac:
            problems.append(ErrorItem("field_not_allowed", "A generic SIP phone has no MAC address here.", "mac"))
        model = given.get("model")
        if model and model not in models_of(catalog, phone_type):
            problems.append(ErrorItem("unknown_model", "The PBX has no %(type)s model named %(model)s.", "model",
                                      {"type": phone_type, "model": model}))
    problems += advanced_problems(given.get("advanced") or {}, catalog)
    return problems


def advanced_problems(advanced: dict[str, Any], catalog: dict[str, Any]) -> list[ErrorItem]:
    problems: list[ErrorItem] = []
    for names, offered, code, message in (
            (COS_FIELDS, "cos", "unknown_cos", "The PBX has no class of service %(value)s."),
            (COR_FIELDS, "cor", "unknown_cor", "The PBX has no class of restriction %(value)s.")):
        for name in names:
            if advanced.get(name) is not None and advanced[name] not in catalog.get(offered, []):
                problems.append(ErrorItem(code, message, f"advanced.{name}", {"value": advanced[name]}))
    if advanced.get("language") and advanced["language"] not in catalog.get("languages", []):
        problems.append(ErrorItem("unknown_language", "The PBX has no language %(value)s.", "advanced.language",
                                  {"value": advanced["language"]}))
    return problems


def programming_problems(changes: dict[str, Any], catalog: dict[str, Any]) -> list[ErrorItem]:
    """Location and department must be offered by the PBX."""
    problems: list[ErrorItem] = []
    for name, offered, code, message in (
            ("location", "locations", "unknown_location", "The PBX has no location named %(name)s."),
            ("department", "departments", "unknown_department", "The PBX has no department named %(name)s.")):
        if changes.get(name) is not None and changes[name] not in catalog.get(offered, []):
            problems.append(ErrorItem(code, message, f"programming.{name}", {"name": changes[name]}))
    return problems
