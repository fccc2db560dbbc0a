"""Every rule and every write of a user's MiVB service, and the account's MiVB policy.

Each write validates everything first, changes the desired state, queues the push in the
same transaction, and commits once: a refused change leaves nothing half-written."""

from __future__ import annotations

import secrets
import string
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from switchboard.accounts import service as accounts
from switchboard.accounts.models import Account, User
from switchboard.audit import service as audit
from switchboard.core.context import ServiceContext
from switchboard.core.errors import Conflict, ErrorItem, Forbidden, NotFound, ServiceError, ValidationFailed
from switchboard.mivb import pins
from switchboard.mivb.desired_state import ADVANCED_FIELDS
from switchboard.mivb.models import MivbService, MivbSettings, Phone, ServiceCategory
from switchboard.mivb.schemas import (
    AddonLicences,
    CategoryIn,
    CategoryPatch,
    ConfigPatch,
    PhoneIn,
    PhonePatch,
    PinPolicy,
    ProductIn,
    ServiceChoice,
)
from switchboard.numbering import service as numbering
from switchboard.pbx import service as pbx
from switchboard.sync import service as sync
from switchboard.sync.models import SyncStatus
from switchboard.core.validation import validate

MAX_PHONES = 8
GROUP_MAX_PHONES = 8
CAPACITY_USERS = 2500
CAPACITY_DEVICES = 5000
PRODUCT_NAME = "MiVoice Business Service"
MASK = audit.MASK


# ================================================================== account settings

def _settings(session: Session, account_id: str, *, for_update: bool = False) -> MivbSettings:
    query = select(MivbSettings).where(MivbSettings.account_id == account_id)
    settings = session.scalar(query.with_for_update() if for_update else query)
    if settings is None:
        settings = MivbSettings(account_id=account_id, pin_min_length=4, pin_forbid_repeated=True,
                                pin_forbid_sequences=True, pin_forbid_dn=True, ehdu_licences=0,
                                acd_agent_licences=0)
        if for_update:
            session.add(settings)
            session.flush()
    return settings


def _record(ctx: ServiceContext, account: Account, action: str, object_type: str, object_id: str,
            object_repr: str = "", *, subject: str | None = None, before: dict | None = None,
            after: dict | None = None) -> None:
    """A change-log entry of this account (subject: the user the change concerns)."""
    audit.record(ctx, action=action, object_type=object_type, object_id=object_id, object_repr=object_repr,
                 account_id=account.id, partner_id=account.partner_id, subject_id=subject, before=before, after=after)


def _policy(settings: MivbSettings) -> pins.Policy:
    return pins.Policy(settings.pin_min_length, settings.pin_forbid_repeated, settings.pin_forbid_sequences,
                       settings.pin_forbid_dn)


def _policy_json(settings: MivbSettings) -> dict[str, Any]:
    return {"min_length": settings.pin_min_length, "forbid_repeated": settings.pin_forbid_repeated,
            "forbid_sequences": settings.pin_forbid_sequences, "forbid_dn": settings.pin_forbid_dn}


def get_pin_policy(ctx: ServiceContext, account_id: str) -> tuple[dict[str, Any], int]:
    accounts.require_account_admin(ctx, account_id)
    settings = _settings(ctx.session, account_id)
    return _policy_json(settings), settings.version or 1


def set_pin_policy(ctx: ServiceContext, account_id: str, data: PinPolicy | dict,
                   *, expected_version: int | None = None) -> tuple[dict[str, Any], int]:
    account = accounts.require_account_settings_admin(ctx, account_id)
    data = validate(PinPolicy, data)
    settings = _settings(ctx.session, account_id, for_update=True)
    accounts.check_version(settings, expected_version)
    before = _policy_json(settings)
    settings.pin_min_length = data.min_length
    settings.pin_forbid_repeated = data.forbid_repeated
    settings.pin_forbid_sequences = data.forbid_sequences
    settings.pin_forbid_dn = data.forbid_dn
    ctx.session.flush()
    _record(ctx, account, "update", "pin_policy", account_id, before=before, after=_policy_json(settings))
    ctx.session.commit()
    return _policy_json(settings), settings.version


def _addon_usage(session: Session, account_id: str) -> tuple[int, int]:
    ehdu = session.scalar(select(func.count()).select_from(Phone).where(
        Phone.account_id == account_id, Phone.type == "hot_desk", Phone.external_number.is_not(None))) or 0
    acd = session.scalar(select(func.count()).select_from(Phone).where(
        Phone.account_id == account_id, Phone.type == "hot_desk", Phone.acd_agent.is_(True))) or 0
    return ehdu, acd


def get_addon_licences(ctx: ServiceContext, account_id: str) -> dict[str, int]:
    accounts.require_account_admin(ctx, account_id)
    settings = _settings(ctx.session, account_id)
    ehdu_used, acd_used = _addon_usage(ctx.session, account_id)
    return {"ehdu": settings.ehdu_licences, "acd_agent": settings.acd_agent_licences,
            "ehdu_used": ehdu_used, "acd_agent_used": acd_used}


def set_addon_licences(ctx: ServiceContext, account_id: str, data: AddonLicences | dict) -> dict[str, int]:
    account = accounts.require_account_settings_admin(ctx, account_id)
    data = validate(AddonLicences, data)
    settings = _settings(ctx.session, account_id, for_update=True)
    ehdu_used, acd_used = _addon_usage(ctx.session, account_id)
    problems = []
    if data.ehdu < ehdu_used:
        problems.append(ErrorItem("licences_in_use", "%(used)s licences of this kind are in use.", "ehdu",
                                  {"used": ehdu_used}))
    if data.acd_agent < acd_used:
        problems.append(ErrorItem("licences_in_use", "%(used)s licences of this kind are in use.", "acd_agent",
                                  {"used": acd_used}))
    if problems:
        raise Conflict(errors=problems)
    before = {"ehdu": settings.ehdu_licences, "acd_agent": settings.acd_agent_licences}
    settings.ehdu_licences, settings.acd_agent_licences = data.ehdu, data.acd_agent
    _record(ctx, account, "update", "addon_licences", account_id,
            before=before, after={"ehdu": data.ehdu, "acd_agent": data.acd_agent})
    ctx.session.commit()
    return get_addon_licences(ctx, account_id)


# ================================================================== service categories

def _category_usage(session: Session, category_ids: list[str]) -> dict[str, int]:
    if not category_ids:
        return {}
    rows = session.execute(select(MivbService.service_category_id, func.count())
                           .where(MivbService.service_category_id.in_(category_ids))
                           .group_by(MivbService.service_category_id)).all()
    return dict(rows)


def category_view(category: ServiceCategory, used: int) -> dict[str, Any]:
    return {"id": category.id, "name": category.name, "template": category.template, "licences": category.licences,
            "licences_used": used, "licences_left": max(0, category.licences - used),
            "allowed_phone_types": category.allowed_phone_types, "version": category.version}


def list_categories(ctx: ServiceContext, account_id: str) -> list[dict[str, Any]]:
    accounts.require_account_admin(ctx, account_id)
    categories = ctx.session.scalars(select(ServiceCategory).where(ServiceCategory.account_id == account_id)
                                     .order_by(ServiceCategory.name_key)).all()
    usage = _category_usage(ctx.session, [c.id for c in categories])
    return [category_view(c, usage.get(c.id, 0)) for c in categories]


def _get_category(ctx: ServiceContext, account_id: str, category_id: str, *, for_update: bool = False) -> ServiceCategory:
    query = select(ServiceCategory).where(ServiceCategory.id == category_id, ServiceCategory.account_id == account_id)
    category = ctx.session.scalar(query.with_for_update() if for_update else query)
    if category is None:
        raise NotFound("not_found", "Service category not found.")
    return category


def get_category(ctx: ServiceContext, account_id: str, category_id: str) -> dict[str, Any]:
    accounts.require_account_admin(ctx, account_id)
    category = _get_category(ctx, account_id, category_id)
    return category_view(category, _category_usage(ctx.session, [category.id]).get(category.id, 0))


def _template(catalog: dict[str, Any], name: str, field: str = "template") -> dict[str, Any]:
    for template in catalog.get("templates", []):
        if template.get("name") == name:
            return template
    raise ValidationFailed("unknown_template", "The PBX has no user template named %(name)s.", field=field, name=name)


def _category_snapshot(category: ServiceCategory) -> dict[str, Any]:
    return {"name": category.name, "template": category.template, "licences": category.licences,
            "allowed_phone_types": category.allowed_phone_types}


def _ensure_category_name_free(session: Session, account_id: str, name: str, exclude: str | None = None) -> None:
    query = select(ServiceCategory.id).where(ServiceCategory.account_id == account_id,
                                             ServiceCategory.name_key == name.lower())
    if exclude:
        query = query.where(ServiceCategory.id != exclude)
    if session.scalar(query):
        raise Conflict("name_taken", "A service category with this name already exists.", field="name")


def create_category(ctx: ServiceContext, account_id: str, data: CategoryIn | dict) -> dict[str, Any]:
    account = accounts.require_account_settings_admin(ctx, account_id)
    data = validate(CategoryIn, data)
    _template(pbx.get_catalog(ctx, account_id), data.template)
    _ensure_category_name_free(ctx.session, account_id, data.name)
    category = ServiceCategory(account_id=account_id, name=data.name, name_key=data.name.lower(),
                               template=data.template, licences=data.licences,
                               allowed_phone_types=data.allowed_phone_types)
    ctx.session.add(category)
    ctx.session.flush()
    _record(ctx, account, "create", "service_category", category.id, category.name,
            after=_category_snapshot(category))
    ctx.session.commit()
    return category_view(category, 0)


def update_category(ctx: ServiceContext, account_id: str, category_id: str, data: CategoryPatch | dict,
                    *, expected_version: int | None = None) -> dict[str, Any]:
    """Changing the template does not rewrite the users who have the category: templates
    apply when a category is chosen."""
    account = accounts.require_account_settings_admin(ctx, account_id)
    data = validate(CategoryPatch, data)
    changes = data.model_dump(exclude_unset=True)
    if "template" in changes and changes["template"] is not None:
        _template(pbx.get_catalog(ctx, account_id), changes["template"])
    category = _get_category(ctx, account_id, category_id, for_update=True)
    accounts.check_version(category, expected_version)
    used = _category_usage(ctx.session, [category.id]).get(category.id, 0)
    before = _category_snapshot(category)
    if changes.get("name"):
        _ensure_category_name_free(ctx.session, account_id, changes["name"], exclude=category.id)
        category.name, category.name_key = changes["name"], changes["name"].lower()
    if changes.get("template"):
        category.template = changes["template"]
    if changes.get("licences") is not None:
        if changes["licences"] < used:
            raise Conflict("licences_in_use", "%(used)s users have this category: the licence count cannot go below that.",
                           field="licences", used=used)
        category.licences = changes["licences"]
    if "allowed_phone_types" in changes:
        allowed = changes["allowed_phone_types"]
        if allowed is not None:
            in_use = ctx.session.scalars(select(Phone.type).join(MivbService, MivbService.user_id == Phone.user_id)
                                         .where(MivbService.service_category_id == category.id).distinct()).all()
            refused = sorted(set(in_use) - set(allowed))
            if refused:
                raise Conflict("phone_type_in_use", "Users of this category have phones of a type it would no longer allow: %(types)s.",
                               field="allowed_phone_types", types=", ".join(refused))
        category.allowed_phone_types = allowed
    ctx.session.flush()
    _record(ctx, account, "update", "service_category", category.id, category.name,
            before=before, after=_category_snapshot(category))
    ctx.session.commit()
    return category_view(category, used)


def delete_category(ctx: ServiceContext, account_id: str, category_id: str, *, expected_version: int | None = None) -> None:
    account = accounts.require_account_settings_admin(ctx, account_id)
    category = _get_category(ctx, account_id, category_id, for_update=True)
    accounts.check_version(category, expected_version)
    used = _category_usage(ctx.session, [category.id]).get(category.id, 0)
    if used:
        raise Conflict("category_in_use", "%(used)s users have this category: give them another one first.", used=used)
    _record(ctx, account, "delete", "service_category", category.id, category.name,
            before=_category_snapshot(category))
    ctx.session.delete(category)
    ctx.session.commit()


# ================================================================== a user's service: reading

def _service_query(user_id: str):
    return (select(MivbService).where(MivbService.user_id == user_id)
            .options(selectinload(MivbService.phones), selectinload(MivbService.category)))


def _load(ctx: ServiceContext, account_id: str, user_id: str, *, write: bool) -> tuple[Account, User, MivbService]:
    account = accounts.require_account_admin(ctx, account_id) if write else accounts.get_account(ctx, account_id)
    user = accounts.get_user(ctx, account_id, user_id)
    query = _service_query(user_id)
    service = ctx.session.scalar(query.with_for_update(of=MivbService) if write else query)
    if service is None:
        raise NotFound("no_product", "This user does not have the MiVoice Business product.")
    return account, user, service


def _service_snapshot(service: MivbService) -> dict[str, Any]:
    return {"service_category": service.category.name if service.category else None, "template": service.template,
            "group": service.group, "user_pin": MASK if service.user_pin_encrypted else None,
            "location": service.location, "department": service.department}


def _phone_snapshot(phone: Phone) -> dict[str, Any]:
    snapshot = {"type": phone.type, "dn": phone.dn, "did": phone.did, "model": phone.model, "mac": phone.mac,
                "voicemail": phone.voicemail, "acd_agent": phone.acd_agent, "external_number": phone.external_number}
    snapshot.update({name: getattr(phone, name) for name in ADVANCED_FIELDS})
    if phone.type == "generic_sip":
        snapshot["sip_username"] = phone.sip_username
        snapshot["sip_password"] = MASK
    return snapshot


def phone_view(ctx: ServiceContext, phone: Phone, status: SyncStatus | None, *, reveal: bool = False) -> dict[str, Any]:
    sip = None
    if phone.type == "generic_sip" and phone.sip_username:
        password = ctx.rt.secret_box.decrypt(phone.sip_password_encrypted) if reveal else MASK
        sip = {"username": phone.sip_username, "password": password}
    return {
        "id": phone.id, "type": phone.type, "dn": phone.dn, "did": phone.did, "model": phone.model, "mac": phone.mac,
        "voicemail": phone.voicemail, "acd_agent": phone.acd_agent,
        "external_phone": {"number": phone.external_number} if phone.external_number else None,
        "advanced": {name: getattr(phone, name) for name in ADVANCED_FIELDS},
        "sip": sip, "sync": sync.phone_sync(status, phone.id), "version": phone.version,
    }


def config_view(ctx: ServiceContext, service: MivbService, *, reveal: bool = False) -> dict[str, Any]:
    status = ctx.session.get(SyncStatus, service.user_id)
    pin = None
    if service.user_pin_encrypted:
        pin = ctx.rt.secret_box.decrypt(service.user_pin_encrypted) if reveal else MASK
    return {
        "user_id": service.user_id, "status": service.status,
        "service_category": service.service_category_id,
        "service_category_name": service.category.name if service.category else None,
        "template": service.template,
        "programming": {"group": service.group, "user_pin": pin, "location": service.location,
                        "department": service.department},
        "phones": [phone_view(ctx, p, status, reveal=reveal) for p in service.phones],
        "sync": sync.user_sync(ctx.session, service),
        "version": service.version,
    }


def _audit_reveal(ctx: ServiceContext, account: Account, user: User, what: str) -> None:
    _record(ctx, account, "reveal", "mivb_service", user.id, f"{user.email}: {what}", subject=user.id)
    ctx.session.commit()


def _require_admin_to_reveal(ctx: ServiceContext) -> None:
    if not ctx.actor.is_admin:
        raise Forbidden("forbidden", "Only an administrator can reveal secrets.")


def get_config(ctx: ServiceContext, account_id: str, user_id: str, *, reveal: bool = False) -> dict[str, Any]:
    account, user, service = _load(ctx, account_id, user_id, write=False)
    if reveal:
        _require_admin_to_reveal(ctx)
        _audit_reveal(ctx, account, user, "user pin and SIP passwords")
    return config_view(ctx, service, reveal=reveal)


def list_products(ctx: ServiceContext, account_id: str, user_id: str) -> list[dict[str, Any]]:
    accounts.get_account(ctx, account_id)
    accounts.get_user(ctx, account_id, user_id)
    service = ctx.session.scalar(_service_query(user_id))
    return [product_view(service)] if service else []


def product_view(service: MivbService) -> dict[str, Any]:
    return {"product": "mivb", "name": PRODUCT_NAME, "status": service.status,
            "service_category": service.service_category_id,
            "service_category_name": service.category.name if service.category else None}


def user_summaries(session: Session, user_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Extensions, licences and location of many users in two queries (the users list)."""
    if not user_ids:
        return {}
    summaries: dict[str, dict[str, Any]] = {}
    rows = session.execute(select(MivbService.user_id, MivbService.location, ServiceCategory.name)
                           .outerjoin(ServiceCategory, ServiceCategory.id == MivbService.service_category_id)
                           .where(MivbService.user_id.in_(user_ids))).all()
    for user_id, location, category in rows:
        licences = [f"{PRODUCT_NAME}: {category}" if category else PRODUCT_NAME]
        summaries[user_id] = {"extensions": [], "licences": licences, "location": location}
    for user_id, dn in session.execute(select(Phone.user_id, Phone.dn).where(Phone.user_id.in_(user_ids))
                                       .order_by(Phone.user_id, Phone.position)).all():
        summaries[user_id]["extensions"].append(dn)
    statuses = session.execute(select(SyncStatus.user_id, SyncStatus.state).where(SyncStatus.user_id.in_(user_ids))).all()
    for user_id, state in statuses:
        summaries[user_id]["sync_state"] = state
    return summaries


# ================================================================== a user's service: writing

def _commit_or_conflict(ctx: ServiceContext) -> None:
    """Flush; a unique constraint that fires (two admins racing for one number) becomes
    the same 409 the checks before it would have given."""
    try:
        ctx.session.flush()
    except IntegrityError as exc:
        ctx.session.rollback()
        text = str(exc.orig).lower()
        if "mac" in text:
            raise Conflict("mac_taken", "This MAC address is already used by another phone.", field="mac") from None
        if "did" in text:
            raise Conflict("did_taken", "This DID is already in use.", field="did") from None
        if "sip_username" in text:
            raise Conflict("sip_username_taken", "This SIP username is already in use.", field="sip") from None
        if "dn" in text:
            raise Conflict("dn_taken", "This directory number is already in use.", field="dn") from None
        raise
    ctx.session.commit()


def add_product(ctx: ServiceContext, account_id: str, user_id: str, data: ProductIn | dict) -> dict[str, Any]:
    account = accounts.require_account_admin(ctx, account_id)
    validate(ProductIn, data)
    user = accounts.get_user(ctx, account_id, user_id, for_update=True)
    if ctx.session.get(MivbService, user_id) is not None:
        raise Conflict("product_exists", "This user already has the MiVoice Business product.", field="product")
    service = _new_service(ctx, account, user)
    ctx.session.commit()
    return product_view(service)


def _new_service(ctx: ServiceContext, account: Account, user: User) -> MivbService:
    service = MivbService(user_id=user.id, account_id=account.id, desired_revision=0)
    ctx.session.add(service)
    ctx.session.flush()
    _record(ctx, account, "create", "mivb_service", user.id, user.email,
            subject=user.id, after=_service_snapshot(service))
    return service


def remove_product(ctx: ServiceContext, account_id: str, user_id: str, product: str,
                   *, expected_version: int | None = None) -> None:
    """The PBX configuration goes, numbers return to their pools, licences are freed."""
    if product != "mivb":
        raise NotFound("not_found", "Unknown product.")
    account, user, service = _load(ctx, account_id, user_id, write=True)
    accounts.check_version(service, expected_version)
    _record(ctx, account, "delete", "mivb_service", user.id, user.email,
            subject=user.id, before={**_service_snapshot(service), "phones": [_phone_snapshot(p) for p in service.phones]})
    was_pushed = service.service_category_id is not None
    for phone in list(service.phones):
        _release_numbers(ctx.session, phone)
    ctx.session.delete(service)
    ctx.session.flush()
    if was_pushed:
        sync.enqueue_remove(ctx.session, account_id, user_id)
    ctx.session.commit()


def _release_numbers(session: Session, phone: Phone) -> None:
    if phone.dn_range_id:
        numbering.release_dn(session, phone.dn_range_id, phone.dn)
    if phone.did_range_id and phone.did:
        numbering.release_did(session, phone.did_range_id, phone.did)


def _allowed(category: ServiceCategory, phone_type: str) -> bool:
    return category.allowed_phone_types is None or phone_type in category.allowed_phone_types


def _licence_check(ctx: ServiceContext, category: ServiceCategory, user_id: str) -> None:
    used = ctx.session.scalar(select(func.count()).select_from(MivbService).where(
        MivbService.service_category_id == category.id, MivbService.user_id != user_id)) or 0
    if used >= category.licences:
        raise Conflict("licence_exhausted", "No licence of the category %(name)s is left (%(total)s in use).",
                       field="service_category", name=category.name, total=category.licences)


def choose_category(ctx: ServiceContext, account_id: str, user_id: str, data: ServiceChoice | dict,
                    *, expected_version: int | None = None) -> dict[str, Any]:
    """"Choose a service category" the first time (the template fills in the programming
    and adds its default phones), "Upgrade service" afterwards (phones and programming
    stay; phone types the new category does not allow are refused)."""
    data = validate(ServiceChoice, data)
    catalog = pbx.get_catalog(ctx, account_id)
    account, user, service = _load(ctx, account_id, user_id, write=True)
    accounts.check_version(service, expected_version)
    category = _category_for_choice(ctx, account_id, data.service_category)
    _apply_category(ctx, account, user, service, category, catalog)
    _commit_or_conflict(ctx)
    return config_view(ctx, service)


def assign_many(ctx: ServiceContext, account_id: str, user_ids: list[str], data: ServiceChoice | dict) -> int:
    """The users list's bulk action: the MiVB product and a category for several users at
    once, all or nothing (one user refused, nobody changed). Returns how many changed."""
    data = validate(ServiceChoice, data)
    if not user_ids:
        raise ValidationFailed("required", "Select at least one user.", field="users")
    catalog = pbx.get_catalog(ctx, account_id)
    account = accounts.require_account_admin(ctx, account_id)
    category = _category_for_choice(ctx, account_id, data.service_category)
    changed = 0
    for index, user_id in enumerate(dict.fromkeys(user_ids)):
        user = accounts.get_user(ctx, account_id, user_id, for_update=True)
        service = ctx.session.scalar(_service_query(user_id).with_for_update(of=MivbService))
        if service is None:
            service = _new_service(ctx, account, user)
        if service.service_category_id != category.id:
            try:
                _apply_category(ctx, account, user, service, category, catalog)
            except ServiceError as exc:
                ctx.session.rollback()
                for item in exc.errors:
                    item.field = f"users[{index}]"  # which of the selected users was refused
                raise
            changed += 1
    _commit_or_conflict(ctx)
    return changed


def _category_for_choice(ctx: ServiceContext, account_id: str, category_id: str) -> ServiceCategory:
    category = ctx.session.scalar(select(ServiceCategory).where(
        ServiceCategory.id == category_id, ServiceCategory.account_id == account_id).with_for_update())
    if category is None:
        raise ValidationFailed("unknown_category", "This service category does not exist.", field="service_category")
    return category


def _apply_category(ctx: ServiceContext, account: Account, user: User, service: MivbService,
                    category: ServiceCategory, catalog: dict[str, Any]) -> None:
    if service.service_category_id == category.id:
        return
    template = _template(catalog, category.template, field="service_category")
    _licence_check(ctx, category, user.id)
    before = _service_snapshot(service)
    if service.service_category_id is None:
        _capacity_check_users(ctx, account.id)
        _apply_template(ctx, account.id, service, category, template, catalog)
    else:
        refused = [p for p in service.phones if not _allowed(category, p.type)]
        if refused:
            raise Conflict(errors=[ErrorItem("phone_type_not_allowed",
                                             "The category %(name)s does not allow a phone of type %(type)s.",
                                             "service_category", {"name": category.name, "type": p.type}, phone_id=p.id)
                                   for p in refused])
    service.service_category_id = category.id
    service.category = category
    service.template = category.template
    sync.enqueue_push(ctx.session, service)
    ctx.session.flush()
    _record(ctx, account, "update", "mivb_service", user.id, user.email,
            subject=user.id, before=before, after=_service_snapshot(service))


def _capacity_check_users(ctx: ServiceContext, account_id: str) -> None:
    configured = ctx.session.scalar(select(func.count()).select_from(MivbService).where(
        MivbService.account_id == account_id, MivbService.service_category_id.is_not(None))) or 0
    if configured >= CAPACITY_USERS:
        raise Conflict("capacity_users", "The PBX holds at most %(max)s users.", max=CAPACITY_USERS)


def _apply_template(ctx: ServiceContext, account_id: str, service: MivbService, category: ServiceCategory,
                    template: dict[str, Any], catalog: dict[str, Any]) -> None:
    service.location = template.get("location") if template.get("location") in catalog.get("locations", []) else None
    service.department = (template.get("department")
                          if template.get("department") in catalog.get("departments", []) else None)
    service.language = template.get("language")
    settings = _settings(ctx.session, account_id)
    account = ctx.session.get(Account, account_id)
    for default in (template.get("phones") or [])[:3]:
        if default.get("type") in ("desk_phone", "generic_sip", "hot_desk") and _allowed(category, default["type"]):
            phone = _create_phone(ctx, account_id, service, PhoneIn(type=default["type"], model=default.get("model")),
                                  catalog, template, category)
            _record(ctx, account, "create", "phone", phone.id, f"template {phone.dn}",
                    subject=service.user_id, after=_phone_snapshot(phone))
    service.group = _template_group(ctx, account_id, service, template, catalog)
    dns = [p.dn for p in service.phones]
    service.user_pin_encrypted = ctx.rt.secret_box.encrypt(pins.generate(_policy(settings), dns))


def _template_group(ctx: ServiceContext, account_id: str, service: MivbService, template: dict[str, Any],
                    catalog: dict[str, Any]) -> str | None:
    """The first group of the template's kind that can take the user's phones; none when
    every such group is full (the admin then picks one)."""
    group_type = template.get("group_type") or "none"
    kinds = [(p.type, bool(p.external_number)) for p in service.phones]
    for group in catalog.get("groups", []):
        if group_type == "none" or group.get("type") != group_type:
            continue
        try:
            _check_group(ctx, account_id, service, group.get("name"), kinds, catalog, "programming.group")
        except (Conflict, ValidationFailed):
            continue
        return group.get("name")
    return None


def _group_info(catalog: dict[str, Any], name: str | None) -> dict[str, Any] | None:
    return next((g for g in catalog.get("groups", []) if g.get("name") == name), None) if name else None


def _group_phone_count(session: Session, account_id: str, group: str, exclude_user: str) -> int:
    return session.scalar(select(func.count()).select_from(Phone).join(MivbService, MivbService.user_id == Phone.user_id)
                          .where(MivbService.account_id == account_id, MivbService.group == group,
                                 MivbService.user_id != exclude_user)) or 0


def _check_group(ctx: ServiceContext, account_id: str, service: MivbService, group: str | None,
                 phone_types: list[tuple[str, bool]], catalog: dict[str, Any], field: str) -> None:
    """PRG/MDUG limits: 8 phones in a group; an external-twin MDUG holds exactly a desk or
    SIP phone plus an external hot desk of one user. phone_types: (type, has external)."""
    info = _group_info(catalog, group)
    if group is None:
        return
    if info is None:
        raise ValidationFailed("unknown_group", "The PBX has no group named %(name)s.", field=field, name=group)
    others = _group_phone_count(ctx.session, account_id, group, service.user_id)
    if others + len(phone_types) > GROUP_MAX_PHONES:
        raise Conflict("group_full", "The group %(name)s would have more than %(max)s phones.", field=field,
                       name=group, max=GROUP_MAX_PHONES)
    if info.get("kind") == "external_twin":
        devices = sum(1 for t, _ in phone_types if t in ("desk_phone", "generic_sip"))
        externals = sum(1 for t, ext in phone_types if t == "hot_desk" and ext)
        if others or (devices, externals, len(phone_types)) != (1, 1, 2):
            raise Conflict("group_twin_invalid",
                           "An external-twin group holds exactly one desk or SIP phone and one external phone of one user.",
                           field=field)


def update_config(ctx: ServiceContext, account_id: str, user_id: str, data: ConfigPatch | dict,
                  *, expected_version: int | None = None) -> dict[str, Any]:
    """Service programming: group, user pin, location, department."""
    data = validate(ConfigPatch, data)
    catalog = pbx.get_catalog(ctx, account_id)
    account, user, service = _load(ctx, account_id, user_id, write=True)
    accounts.check_version(service, expected_version)
    if service.service_category_id is None:
        raise Conflict("not_configured", "Choose a service category first.")
    changes = data.programming.model_dump(exclude_unset=True)
    problems: list[ErrorItem] = []
    if "location" in changes and changes["location"] is not None and changes["location"] not in catalog.get("locations", []):
        problems.append(ErrorItem("unknown_location", "The PBX has no location named %(name)s.",
                                  "programming.location", {"name": changes["location"]}))
    if "department" in changes and changes["department"] is not None and \
            changes["department"] not in catalog.get("departments", []):
        problems.append(ErrorItem("unknown_department", "The PBX has no department named %(name)s.",
                                  "programming.department", {"name": changes["department"]}))
    if "user_pin" in changes:
        pin = changes["user_pin"] or ""
        problems += pins.check(pin, _policy(_settings(ctx.session, account_id)), [p.dn for p in service.phones])
    if problems:
        raise ValidationFailed(errors=problems)
    if "group" in changes and changes["group"] != service.group:
        _check_group(ctx, account_id, service, changes["group"],
                     [(p.type, bool(p.external_number)) for p in service.phones], catalog, "programming.group")
    before = _service_snapshot(service)
    for name in ("group", "location", "department"):
        if name in changes:
            setattr(service, name, changes[name])
    if "user_pin" in changes:
        pin = changes["user_pin"] or ""
        service.user_pin_encrypted = ctx.rt.secret_box.encrypt(pin) if pin else None
    after = _service_snapshot(service)
    if "user_pin" in changes:
        after["user_pin"] = MASK + " (changed)"
    if after != before:
        sync.enqueue_push(ctx.session, service)
        ctx.session.flush()
        _record(ctx, account, "update", "mivb_service", user.id, user.email,
                subject=user.id, before=before, after=after)
    _commit_or_conflict(ctx)
    return config_view(ctx, service)


def generate_user_pin(ctx: ServiceContext, account_id: str, user_id: str) -> str:
    account, user, service = _load(ctx, account_id, user_id, write=True)
    if service.service_category_id is None:
        raise Conflict("not_configured", "Choose a service category first.")
    pin = pins.generate(_policy(_settings(ctx.session, account_id)), [p.dn for p in service.phones])
    service.user_pin_encrypted = ctx.rt.secret_box.encrypt(pin)
    sync.enqueue_push(ctx.session, service)
    ctx.session.flush()
    _record(ctx, account, "update", "mivb_service", user.id, user.email,
            subject=user.id, before={"user_pin": MASK}, after={"user_pin": MASK + " (generated)"})
    ctx.session.commit()
    return pin


# ================================================================== phones

def _models_of(catalog: dict[str, Any], phone_type: str) -> list[str]:
    return [m.get("name") for m in catalog.get("device_models", []) if m.get("type") == phone_type]


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


def _check_phone_fields(data: PhoneIn | PhonePatch, phone_type: str, catalog: dict[str, Any],
                        category: ServiceCategory | None) -> list[ErrorItem]:
    problems: list[ErrorItem] = []
    if category is not None and not _allowed(category, phone_type):
        problems.append(ErrorItem("phone_type_not_allowed", "The category %(name)s does not allow a phone of type %(type)s.",
                                  "type", {"name": category.name, "type": phone_type}))
    given = data.model_dump(exclude_unset=True)
    if phone_type == "hot_desk":
        for name in ("model", "mac"):
            if given.get(name):
                problems.append(ErrorItem("field_not_allowed", "A hot desk has no device, so no model or MAC address.", name))
    else:
        if given.get("acd_agent"):
            problems.append(ErrorItem("field_not_allowed", "Only a hot desk can be an ACD agent.", "acd_agent"))
        if given.get("external_phone"):
            problems.append(ErrorItem("field_not_allowed", "Only a hot desk can have an external phone.",
                                      "external_phone"))
        if phone_type == "generic_sip" and given.get("mac"):
            problems.append(ErrorItem("field_not_allowed", "A generic SIP phone has no MAC address here.", "mac"))
        model = given.get("model")
        if model and model not in _models_of(catalog, phone_type):
            problems.append(ErrorItem("unknown_model", "The PBX has no %(type)s model named %(model)s.", "model",
                                      {"type": phone_type, "model": model}))
    advanced = given.get("advanced") or {}
    for name in ("cos_day", "cos_night1", "cos_night2"):
        if advanced.get(name) is not None and advanced[name] not in catalog.get("cos", []):
            problems.append(ErrorItem("unknown_cos", "The PBX has no class of service %(value)s.", f"advanced.{name}",
                                      {"value": advanced[name]}))
    for name in ("cor_day", "cor_night1", "cor_night2"):
        if advanced.get(name) is not None and advanced[name] not in catalog.get("cor", []):
            problems.append(ErrorItem("unknown_cor", "The PBX has no class of restriction %(value)s.", f"advanced.{name}",
                                      {"value": advanced[name]}))
    if advanced.get("language") and advanced["language"] not in catalog.get("languages", []):
        problems.append(ErrorItem("unknown_language", "The PBX has no language %(value)s.", "advanced.language",
                                  {"value": advanced["language"]}))
    return problems


def _check_addons(ctx: ServiceContext, account_id: str, *, want_external: bool, want_acd: bool,
                  had_external: bool = False, had_acd: bool = False) -> None:
    if not (want_external and not had_external) and not (want_acd and not had_acd):
        return
    settings = _settings(ctx.session, account_id, for_update=True)  # serialises licence use
    ehdu_used, acd_used = _addon_usage(ctx.session, account_id)
    if want_external and not had_external and ehdu_used >= settings.ehdu_licences:
        raise Conflict("licence_exhausted", "No external hot desk (EHDU) licence is left (%(total)s in use).",
                       field="external_phone", total=settings.ehdu_licences)
    if want_acd and not had_acd and acd_used >= settings.acd_agent_licences:
        raise Conflict("licence_exhausted", "No ACD agent licence is left (%(total)s in use).", field="acd_agent",
                       total=settings.acd_agent_licences)


def _create_phone(ctx: ServiceContext, account_id: str, service: MivbService, data: PhoneIn,
                  catalog: dict[str, Any], template: dict[str, Any] | None, category: ServiceCategory) -> Phone:
    problems = _check_phone_fields(data, data.type, catalog, category)
    if problems:
        raise ValidationFailed(errors=problems)
    if len(service.phones) >= MAX_PHONES:
        raise Conflict("too_many_phones", "A user has at most %(max)s phones.", max=MAX_PHONES)
    devices = ctx.session.scalar(select(func.count()).select_from(Phone).where(Phone.account_id == account_id)) or 0
    if devices >= CAPACITY_DEVICES:
        raise Conflict("capacity_devices", "The PBX holds at most %(max)s devices.", max=CAPACITY_DEVICES)
    has_external = data.type == "hot_desk" and data.external_phone is not None
    _check_addons(ctx, account_id, want_external=has_external, want_acd=data.type == "hot_desk" and data.acd_agent)
    if service.group:
        _check_group(ctx, account_id, service, service.group,
                     [(p.type, bool(p.external_number)) for p in service.phones] + [(data.type, has_external)],
                     catalog, "type")
    if data.mac and ctx.session.scalar(select(Phone.id).where(Phone.mac == data.mac)):
        raise Conflict("mac_taken", "This MAC address is already used by another phone.", field="mac")
    given = data.model_dump(exclude_unset=True)
    dn, dn_range_id = numbering.allocate_dn(ctx.session, account_id, wanted=data.dn)
    did_wanted = given["did"] if "did" in given else numbering.UNSET
    did, did_range_id = numbering.allocate_did(ctx.session, account_id, dn=dn, wanted=did_wanted)
    template = template or _template(catalog, service.template or "", field="type")
    model = data.model
    if data.type == "desk_phone" and not model:
        defaults = [p.get("model") for p in template.get("phones", []) if p.get("type") == "desk_phone"]
        model = (defaults or _models_of(catalog, "desk_phone") or [None])[0]
    elif data.type == "generic_sip" and not model:
        model = (_models_of(catalog, "generic_sip") or [None])[0]
    advanced = {name: None for name in ADVANCED_FIELDS}
    advanced.update({f"cos_{p}": template.get("cos") for p in ("day", "night1", "night2")})
    advanced.update({f"cor_{p}": template.get("cor") for p in ("day", "night1", "night2")})
    advanced["language"] = template.get("language")
    advanced.update({k: v for k, v in (data.advanced.model_dump(exclude_unset=True) if data.advanced else {}).items()
                     if v is not None})
    phone = Phone(
        account_id=account_id, user_id=service.user_id, type=data.type,
        position=max([p.position for p in service.phones], default=-1) + 1,
        model=model if data.type != "hot_desk" else None, mac=data.mac if data.type == "desk_phone" else None,
        dn=dn, dn_range_id=dn_range_id, did=did, did_range_id=did_range_id,
        voicemail=bool(template.get("voicemail")) if data.voicemail is None else data.voicemail,
        acd_agent=data.type == "hot_desk" and data.acd_agent,
        external_number=data.external_phone.number if has_external else None,
        **advanced,
    )
    if data.type == "generic_sip":
        phone.sip_username = _sip_username(ctx.session, account_id, dn)
        phone.sip_password_encrypted = ctx.rt.secret_box.encrypt(_strong_password())
    service.phones.append(phone)
    ctx.session.flush()
    return phone


def _load_category(ctx: ServiceContext, service: MivbService) -> ServiceCategory:
    if service.service_category_id is None or service.category is None:
        raise Conflict("not_configured", "Choose a service category first.")
    return service.category


def add_phone(ctx: ServiceContext, account_id: str, user_id: str, data: PhoneIn | dict,
              *, expected_version: int | None = None) -> dict[str, Any]:
    """Adds a phone; its SIP password (generic SIP) is returned revealed this once."""
    data = validate(PhoneIn, data)
    catalog = pbx.get_catalog(ctx, account_id)
    account, user, service = _load(ctx, account_id, user_id, write=True)
    accounts.check_version(service, expected_version)
    category = _load_category(ctx, service)
    phone = _create_phone(ctx, account_id, service, data, catalog, None, category)
    sync.enqueue_push(ctx.session, service)
    _record(ctx, account, "create", "phone", phone.id, f"{user.email} {phone.dn}",
            subject=user.id, after=_phone_snapshot(phone))
    _commit_or_conflict(ctx)
    return phone_view(ctx, phone, ctx.session.get(SyncStatus, user_id), reveal=True)


def _load_phone(ctx: ServiceContext, service: MivbService, phone_id: str) -> Phone:
    for phone in service.phones:
        if phone.id == phone_id:
            return phone
    raise NotFound("not_found", "Phone not found.")


def list_phones(ctx: ServiceContext, account_id: str, user_id: str) -> list[dict[str, Any]]:
    return get_config(ctx, account_id, user_id)["phones"]


def get_phone(ctx: ServiceContext, account_id: str, user_id: str, phone_id: str, *, reveal: bool = False) -> dict[str, Any]:
    account, user, service = _load(ctx, account_id, user_id, write=False)
    phone = _load_phone(ctx, service, phone_id)
    if reveal:
        _require_admin_to_reveal(ctx)
        _audit_reveal(ctx, account, user, f"SIP password of {phone.dn}")
    return phone_view(ctx, phone, ctx.session.get(SyncStatus, user_id), reveal=reveal)


def update_phone(ctx: ServiceContext, account_id: str, user_id: str, phone_id: str, data: PhonePatch | dict,
                 *, expected_version: int | None = None) -> dict[str, Any]:
    """Changes a phone. A new DN recreates its voicemail box on the PBX."""
    data = validate(PhonePatch, data)
    catalog = pbx.get_catalog(ctx, account_id)
    account, user, service = _load(ctx, account_id, user_id, write=True)
    phone = _load_phone(ctx, service, phone_id)
    accounts.check_version(phone, expected_version)
    _load_category(ctx, service)  # only a configured service has phones to change
    problems = _check_phone_fields(data, phone.type, catalog, None)
    if problems:
        raise ValidationFailed(errors=problems)
    changes = data.model_dump(exclude_unset=True)
    want_external = phone.type == "hot_desk" and (
        changes["external_phone"] is not None if "external_phone" in changes else phone.external_number is not None)
    want_acd = phone.type == "hot_desk" and (changes.get("acd_agent") if changes.get("acd_agent") is not None
                                             else phone.acd_agent)
    _check_addons(ctx, account_id, want_external=want_external, want_acd=want_acd,
                  had_external=phone.external_number is not None, had_acd=phone.acd_agent)
    if service.group and want_external != (phone.external_number is not None):
        kinds = [(p.type, bool(p.external_number) if p.id != phone.id else want_external) for p in service.phones]
        _check_group(ctx, account_id, service, service.group, kinds, catalog, "external_phone")
    before = _phone_snapshot(phone)
    if "dn" in changes and changes["dn"] and changes["dn"] != phone.dn:
        old_range, old_dn = phone.dn_range_id, phone.dn
        phone.dn, phone.dn_range_id = numbering.allocate_dn(ctx.session, account_id, wanted=changes["dn"])
        if old_range:
            numbering.release_dn(ctx.session, old_range, old_dn)
    if "did" in changes and changes["did"] != phone.did:
        old_range, old_did = phone.did_range_id, phone.did
        phone.did, phone.did_range_id = numbering.allocate_did(ctx.session, account_id, dn=phone.dn,
                                                               wanted=changes["did"])
        if old_range and old_did:
            numbering.release_did(ctx.session, old_range, old_did)
    if "model" in changes and changes["model"] and phone.type != "hot_desk":
        phone.model = changes["model"]
    if "mac" in changes and phone.type == "desk_phone":
        if changes["mac"] and ctx.session.scalar(select(Phone.id).where(Phone.mac == changes["mac"], Phone.id != phone.id)):
            raise Conflict("mac_taken", "This MAC address is already used by another phone.", field="mac")
        phone.mac = changes["mac"]
    if changes.get("voicemail") is not None:
        phone.voicemail = changes["voicemail"]
    if phone.type == "hot_desk":
        if changes.get("acd_agent") is not None:
            phone.acd_agent = changes["acd_agent"]
        if "external_phone" in changes:
            phone.external_number = changes["external_phone"]["number"] if changes["external_phone"] else None
    for name, value in (changes.get("advanced") or {}).items():
        setattr(phone, name, value)
    after = _phone_snapshot(phone)
    if after != before:
        sync.enqueue_push(ctx.session, service)
        ctx.session.flush()
        _record(ctx, account, "update", "phone", phone.id, f"{user.email} {phone.dn}",
                subject=user.id, before=before, after=after)
    _commit_or_conflict(ctx)
    return phone_view(ctx, phone, ctx.session.get(SyncStatus, user_id))


def delete_phone(ctx: ServiceContext, account_id: str, user_id: str, phone_id: str,
                 *, expected_version: int | None = None) -> None:
    accounts.require_account_admin(ctx, account_id)
    catalog = pbx.get_catalog(ctx, account_id)
    account, user, service = _load(ctx, account_id, user_id, write=True)
    phone = _load_phone(ctx, service, phone_id)
    accounts.check_version(phone, expected_version)
    group = _group_info(catalog, service.group)
    if group is not None and group.get("kind") == "external_twin":
        raise Conflict("group_twin_invalid", "This phone is one of the two of an external-twin group: "
                       "take the user out of the group first.", field="programming.group", phone_id=phone.id)
    _record(ctx, account, "delete", "phone", phone.id, f"{user.email} {phone.dn}",
            subject=user.id, before=_phone_snapshot(phone))
    _release_numbers(ctx.session, phone)
    service.phones.remove(phone)
    sync.enqueue_push(ctx.session, service)
    ctx.session.commit()


# ================================================================== hooks from the accounts service

def on_user_changed(ctx: ServiceContext, user: User) -> None:
    """Names and e-mail are part of the pushed state: push again (same transaction)."""
    service = ctx.session.scalar(_service_query(user.id))
    if service is not None and service.service_category_id is not None:
        sync.enqueue_push(ctx.session, service)


def on_user_deleted(ctx: ServiceContext, user: User) -> None:
    service = ctx.session.scalar(_service_query(user.id))
    if service is None:
        return
    for phone in list(service.phones):
        _release_numbers(ctx.session, phone)
    if service.service_category_id is not None:
        sync.enqueue_remove(ctx.session, service.account_id, user.id)
