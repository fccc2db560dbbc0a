"""A user's phones: add (numbers allocated from the ranges), change, remove.

Each write validates first, then changes the desired state and queues the push in the
same unit of work; a refused change leaves nothing half-written."""

from __future__ import annotations

import secrets
import string
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.accounts.tenancy import check_version, get_account, require_account_admin
from switchboard.core.context import ServiceContext
from switchboard.core.errors import Conflict, ValidationFailed
from switchboard.core.uow import flush
from switchboard.core.validation import numbers_in, validate
from switchboard.mivb import limits, rules, store
from switchboard.mivb.models import MivbService, Phone, ServiceCategory
from switchboard.mivb.phone_types import ADVANCED_FIELDS, PHONE_TYPES
from switchboard.mivb.presenters import phone_snapshot, phone_view, sync_status_of
from switchboard.mivb.schemas import PhoneIn, PhonePatch
from switchboard.mivb.settings import record
from switchboard.numbering.allocation import (
    UNSET,
    account_mappings,
    allocate_did,
    allocate_dn,
    mapped_did,
    note_did_taken,
    release_did,
    release_dn,
)
from switchboard.pbx.catalog import get_catalog
from switchboard.sync.models import SyncStatus


def _sip_username(session: Session, account_id: str, dn: str) -> str:
    candidate = f"sip{dn}".replace("*", "s").replace("#", "h")
    taken = set(session.scalars(select(Phone.sip_username).where(Phone.account_id == account_id,
                                                                 Phone.sip_username.like(f"{candidate}%"))).all())
    suffix = 0
    name = candidate
    while name in taken:
        suffix += 1
        name = f"{candidate}-{suffix}"
    return name


def _strong_password(length: int = 20) -> str:
    alphabet = string.ascii_letters + string.digits + "-_.!"
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(length))
        if (any(c.islower() for c in password) and any(c.isupper() for c in password)
                and any(c.isdigit() for c in password)):
            return password


def _default_model(data: PhoneIn, catalog: dict[str, Any], template: dict[str, Any]) -> str | None:
    if not PHONE_TYPES[data.type].has_device:
        return None
    if data.model:
        return data.model
    defaults = [p.get("model") for p in template.get("phones", []) if p.get("type") == data.type]
    return (defaults or rules.models_of(catalog, data.type) or [None])[0]


def _advanced(data: PhoneIn, template: dict[str, Any]) -> dict[str, Any]:
    """The template's COS/COR/language, with what the admin gave on top."""
    advanced: dict[str, Any] = {name: None for name in ADVANCED_FIELDS}
    advanced.update({f"cos_{p}": template.get("cos") for p in ("day", "night1", "night2")})
    advanced.update({f"cor_{p}": template.get("cor") for p in ("day", "night1", "night2")})
    advanced["language"] = template.get("language")
    given = data.advanced.model_dump(exclude_unset=True) if data.advanced else {}
    advanced.update({key: value for key, value in given.items() if value is not None})
    return advanced


def create_phone(ctx: ServiceContext, account_id: str, service: MivbService, data: PhoneIn,
                 catalog: dict[str, Any], template: dict[str, Any] | None, category: ServiceCategory) -> Phone:
    """Checks and adds one phone to the service, with its numbers (no push, no log)."""
    kind = PHONE_TYPES[data.type]
    given = data.model_dump(exclude_unset=True)
    problems = rules.phone_field_problems(given, data.type, catalog, category)
    if problems:
        raise ValidationFailed(errors=problems)
    rules.check_device_capacity(ctx.session, account_id, service)
    has_external = kind.allows("external_phone") and data.external_phone is not None
    acd_agent = kind.allows("acd_agent") and data.acd_agent
    rules.check_addons(ctx.session, account_id, want_external=has_external, want_acd=acd_agent)
    if service.group:
        rules.check_group(ctx.session, account_id, service.user_id, service.group,
                          rules.kinds(service.phones) + [(data.type, has_external)], catalog, "type")
    if kind.has_mac:
        rules.check_mac_free(ctx.session, data.mac)
    did_wanted = given["did"] if "did" in given else UNSET
    dn, dn_range_id = allocate_dn(ctx.session, account_id, wanted=data.dn, with_mapped_did=did_wanted is UNSET)
    did, did_range_id = allocate_did(ctx.session, account_id, dn=dn, wanted=did_wanted)
    template = template or rules.template(catalog, service.template or "", field="type")
    phone = Phone(
        account_id=account_id, user_id=service.user_id, type=data.type,
        position=max([p.position for p in service.phones], default=-1) + 1,
        model=_default_model(data, catalog, template), mac=data.mac if kind.has_mac else None,
        dn=dn, dn_range_id=dn_range_id, did=did, did_range_id=did_range_id,
        voicemail=bool(template.get("voicemail")) if data.voicemail is None else data.voicemail,
        acd_agent=acd_agent, external_number=data.external_phone.number if has_external else None,
        **_advanced(data, template),
    )
    if kind.sip_credentials:
        phone.sip_username = _sip_username(ctx.session, account_id, dn)
        phone.sip_password_encrypted = ctx.rt.secret_box.encrypt(_strong_password())
    service.phones.append(phone)
    flush(ctx.session)
    note_did_taken(ctx.session, did)
    return phone


def add_phone(ctx: ServiceContext, account_id: str, user_id: str, data: PhoneIn | dict,
              *, expected_version: int | None = None) -> dict[str, Any]:
    """Adds a phone; its SIP password (generic SIP) is returned revealed this once."""
    data = validate(PhoneIn, data, context=numbers_in(get_account(ctx, account_id).country))
    catalog = get_catalog(ctx, account_id, max_age=ctx.rt.dns_max_age_seconds)
    account, user, service = store.load(ctx, account_id, user_id, write=True)
    check_version(service, expected_version)
    category = store.require_configured(service)
    phone = create_phone(ctx, account_id, service, data, catalog, None, category)
    store.push(ctx, service)
    record(ctx, account, "create", "phone", phone.id, f"{user.email} {phone.dn}", subject=user.id,
           after=phone_snapshot(phone))
    limits.before_answer(ctx.session)  # the PBX's devices, EHDU and ACD licences
    return phone_view(ctx, phone, sync_status_of(ctx.session, user_id), reveal=True)


def list_phones(ctx: ServiceContext, account_id: str, user_id: str) -> list[dict[str, Any]]:
    _, _, service = store.load(ctx, account_id, user_id, write=False)
    status = ctx.session.get(SyncStatus, user_id)
    return [phone_view(ctx, p, status) for p in service.phones]


def get_phone(ctx: ServiceContext, account_id: str, user_id: str, phone_id: str, *,
              reveal: bool = False) -> dict[str, Any]:
    account, user, service = store.load(ctx, account_id, user_id, write=False)
    phone = store.load_phone(service, phone_id)
    if reveal:
        store.reveal(ctx, account, user, f"SIP password of {phone.dn}")
    return phone_view(ctx, phone, ctx.session.get(SyncStatus, user_id), reveal=reveal)


def update_phone(ctx: ServiceContext, account_id: str, user_id: str, phone_id: str, data: PhonePatch | dict,
                 *, expected_version: int | None = None) -> dict[str, Any]:
    """Changes a phone. A new DN recreates its voicemail box on the PBX, so it must be
    confirmed (confirm_dn_change), here as in the console."""
    data = validate(PhonePatch, data, context=numbers_in(get_account(ctx, account_id).country))
    catalog = get_catalog(ctx, account_id, max_age=ctx.rt.dns_max_age_seconds)
    account, user, service = store.load(ctx, account_id, user_id, write=True)
    phone = store.load_phone(service, phone_id)
    check_version(phone, expected_version)
    store.require_configured(service)
    changes = data.model_dump(exclude_unset=True, exclude={"confirm_dn_change"})
    problems = rules.phone_field_problems(changes, phone.type, catalog, None)
    if problems:
        raise ValidationFailed(errors=problems)
    new_dn = changes.get("dn") if changes.get("dn") and changes["dn"] != phone.dn else None
    if new_dn and not data.confirm_dn_change:
        raise Conflict("confirmation_required", "Changing the DN recreates the phone's voicemail box on the PBX: "
                       "tick the box to confirm the change (confirm_dn_change).", field="confirm_dn_change")
    _check_options(ctx, account_id, service, phone, changes, catalog)
    before = phone_snapshot(phone)
    _change_numbers(ctx.session, account_id, phone, new_dn, changes)
    _change_fields(ctx.session, phone, changes)
    after = phone_snapshot(phone)
    if after != before:
        store.push(ctx, service)
        ctx.session.flush()
        record(ctx, account, "update", "phone", phone.id, f"{user.email} {phone.dn}", subject=user.id,
               before=before, after=after)
    limits.before_answer(ctx.session)  # a hot desk newly taking an EHDU or ACD agent licence
    return phone_view(ctx, phone, sync_status_of(ctx.session, user_id))


def _check_options(ctx: ServiceContext, account_id: str, service: MivbService, phone: Phone,
                   changes: dict[str, Any], catalog: dict[str, Any]) -> None:
    """Add-on licences and the group rules for the options a change turns on."""
    kind = PHONE_TYPES[phone.type]
    want_external = kind.allows("external_phone") and (
        changes["external_phone"] is not None if "external_phone" in changes else phone.external_number is not None)
    want_acd = kind.allows("acd_agent") and (
        changes["acd_agent"] if changes.get("acd_agent") is not None else phone.acd_agent)
    rules.check_addons(ctx.session, account_id, want_external=want_external, want_acd=want_acd,
                       had_external=phone.external_number is not None, had_acd=phone.acd_agent)
    if service.group and want_external != (phone.external_number is not None):
        phone_kinds = [(p.type, bool(p.external_number) if p.id != phone.id else want_external)
                       for p in service.phones]
        rules.check_group(ctx.session, account_id, service.user_id, service.group, phone_kinds, catalog,
                          "external_phone")
    if kind.has_mac and changes.get("mac"):
        rules.check_mac_free(ctx.session, changes["mac"], exclude_phone=phone.id)


def _change_numbers(session: Session, account_id: str, phone: Phone, new_dn: str | None,
                    changes: dict[str, Any]) -> None:
    """A new DN, a new DID. A DID that a range maps onto the old DN follows the DN: the
    phone gets what a new phone on the new DN would get (the DID mapped onto it, else the
    next free one of an unmapped range, else none), so the old DN and its DID go back to
    their pools together."""
    if new_dn:
        old_range, old_dn = phone.dn_range_id, phone.dn
        phone.dn, phone.dn_range_id = allocate_dn(session, account_id, wanted=new_dn)
        release_dn(session, old_range, old_dn)
        if "did" not in changes and phone.did and mapped_did(account_mappings(session, account_id), old_dn) == phone.did:
            old_did_range, old_did = phone.did_range_id, phone.did
            phone.did, phone.did_range_id = None, None
            session.flush()
            phone.did, phone.did_range_id = allocate_did(session, account_id, dn=phone.dn)
            note_did_taken(session, phone.did)
            release_did(session, old_did_range, old_did)
    if "did" in changes and changes["did"] != phone.did:
        old_range, old_did = phone.did_range_id, phone.did
        phone.did, phone.did_range_id = allocate_did(session, account_id, dn=phone.dn, wanted=changes["did"])
        note_did_taken(session, phone.did)
        release_did(session, old_range, old_did)


def _change_fields(session: Session, phone: Phone, changes: dict[str, Any]) -> None:
    kind = PHONE_TYPES[phone.type]
    if changes.get("model") and kind.has_device:
        phone.model = changes["model"]
    if "mac" in changes and kind.has_mac:
        phone.mac = changes["mac"]
    if changes.get("voicemail") is not None:
        phone.voicemail = changes["voicemail"]
    if kind.allows("acd_agent") and changes.get("acd_agent") is not None:
        phone.acd_agent = changes["acd_agent"]
    if kind.allows("external_phone") and "external_phone" in changes:
        phone.external_number = changes["external_phone"]["number"] if changes["external_phone"] else None
    for name, value in (changes.get("advanced") or {}).items():
        setattr(phone, name, value)


def delete_phone(ctx: ServiceContext, account_id: str, user_id: str, phone_id: str,
                 *, expected_version: int | None = None) -> None:
    require_account_admin(ctx, account_id)
    catalog = get_catalog(ctx, account_id)
    account, user, service = store.load(ctx, account_id, user_id, write=True)
    phone = store.load_phone(service, phone_id)
    check_version(phone, expected_version)
    group = rules.group_info(catalog, service.group)
    if group is not None and group.get("kind") == "external_twin":
        raise Conflict("group_twin_invalid", "This phone is one of the two of an external-twin group: "
                       "take the user out of the group first.", field="programming.group", phone_id=phone.id)
    record(ctx, account, "delete", "phone", phone.id, f"{user.email} {phone.dn}", subject=user.id,
           before=phone_snapshot(phone))
    store.release_numbers(ctx.session, phone)
    service.phones.remove(phone)
    store.push(ctx, service)
    ctx.session.flush()
