"""A user's MiVB service: the product, its service category (chosen, upgraded, assigned
to many users at once), and its service programming (group, user pin, location,
department).

Each write validates first, changes the desired state and queues its push in the same
unit of work: a refused change leaves nothing half-written."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect, select

from switchboard.accounts.models import Account, User
from switchboard.accounts.tenancy import check_version, get_account, get_user, require_account_admin
from switchboard.audit.service import MASK
from switchboard.core.context import ServiceContext
from switchboard.core.errors import Conflict, ErrorItem, NotFound, ServiceError, ValidationFailed
from switchboard.core.uow import flush, is_new_in_transaction, tx_cache
from switchboard.core.validation import validate
from switchboard.mivb import events, limits, pins, rules, store
from switchboard.mivb import settings as mivb_settings
from switchboard.mivb.models import MivbService, ServiceCategory
from switchboard.mivb.phone_types import PHONE_TYPES
from switchboard.mivb.phones import create_phone
from switchboard.mivb.presenters import config_view, phone_snapshot, product_view, service_snapshot
from switchboard.mivb.schemas import ConfigPatch, PhoneIn, ProductIn, ServiceChoice
from switchboard.mivb.settings import record
from switchboard.pbx.catalog import get_catalog

TEMPLATE_PHONES = 3  # a template adds at most this many default phones


# ---------------------------------------------------------------- reading

def get_config(ctx: ServiceContext, account_id: str, user_id: str, *, reveal: bool = False) -> dict[str, Any]:
    account, user, service = store.load(ctx, account_id, user_id, write=False)
    if reveal:
        store.reveal(ctx, account, user, "user pin and SIP passwords")
    return config_view(ctx, service, reveal=reveal)


def list_products(ctx: ServiceContext, account_id: str, user_id: str) -> list[dict[str, Any]]:
    get_account(ctx, account_id)
    get_user(ctx, account_id, user_id)
    service = ctx.session.scalar(store.service_query(user_id))
    return [product_view(service)] if service else []


# ---------------------------------------------------------------- the product

def add_product(ctx: ServiceContext, account_id: str, user_id: str, data: ProductIn | dict) -> dict[str, Any]:
    account = require_account_admin(ctx, account_id)
    validate(ProductIn, data)
    user = get_user(ctx, account_id, user_id, for_update=True)
    if not _surely_without_service(ctx, user_id) and ctx.session.get(MivbService, user_id) is not None:
        raise Conflict("product_exists", "This user already has the MiVoice Business product.", field="product")
    return product_view(_new_service(ctx, account, user))


def _surely_without_service(ctx: ServiceContext, user_id: str) -> bool:
    """A user this transaction created has no service but one this session holds."""
    session = ctx.session
    return (is_new_in_transaction(session, "user", user_id)
            and session.identity_map.get(session.identity_key(MivbService, (user_id,))) is None
            and not any(isinstance(o, MivbService) and o.user_id == user_id for o in session.new))


def _new_service(ctx: ServiceContext, account: Account, user: User) -> MivbService:
    # Every counted field known (None): its change is told exactly, flushed before or not.
    service = MivbService(user_id=user.id, account_id=account.id, desired_revision=0, service_category_id=None)
    service.phones, service.category = [], None  # known empty: never loaded
    ctx.session.add(service)
    flush(ctx.session)
    ctx.cache[("service", user.id)] = service  # new in this unit of work: as good as locked
    record(ctx, account, "create", "mivb_service", user.id, user.email, subject=user.id,
           after=service_snapshot(service))
    return service


def remove_product(ctx: ServiceContext, account_id: str, user_id: str, product: str,
                   *, expected_version: int | None = None) -> None:
    """The PBX configuration goes, numbers return to their pools, licences are freed."""
    if product != "mivb":
        raise NotFound("not_found", "Unknown product.")
    account, user, service = store.load(ctx, account_id, user_id, write=True)
    check_version(service, expected_version)
    record(ctx, account, "delete", "mivb_service", user.id, user.email, subject=user.id,
           before={**service_snapshot(service), "phones": [phone_snapshot(p) for p in service.phones]})
    _remove(ctx, service)


def _remove(ctx: ServiceContext, service: MivbService) -> None:
    store.forget(ctx, service.user_id)
    pbx_key = service.pbx_key
    for phone in list(service.phones):
        store.release_numbers(ctx.session, phone)
    ctx.session.delete(service)
    ctx.session.flush()
    if pbx_key is not None:
        events.remove_requested(ctx.session, service.account_id, service.user_id, pbx_key)


# ---------------------------------------------------------------- the service category

def choose_category(ctx: ServiceContext, account_id: str, user_id: str, data: ServiceChoice | dict,
                    *, expected_version: int | None = None, view: bool = True) -> dict[str, Any] | None:
    """"Choose a service category" the first time (the template fills in the programming
    and adds its default phones), "Upgrade service" afterwards (phones and programming
    stay; phone types the new category does not allow are refused)."""
    data = validate(ServiceChoice, data)
    catalog = get_catalog(ctx, account_id, max_age=ctx.rt.dns_max_age_seconds)
    account, user, service = store.load(ctx, account_id, user_id, write=True)
    check_version(service, expected_version)
    category = _category_for_choice(ctx, account_id, data.service_category)
    apply_category(ctx, account, user, service, category, catalog)
    limits.before_answer(ctx.session)
    if not view:  # a bulk import: what is left (the change log) goes with its next flush
        return None
    ctx.session.flush()
    return config_view(ctx, service)


def assign_many(ctx: ServiceContext, account_id: str, user_ids: list[str], data: ServiceChoice | dict) -> int:
    """The users list's bulk action: the MiVB product and a category for several users at
    once, all or nothing (one user refused, nobody changed). Returns how many changed."""
    data = validate(ServiceChoice, data)
    if not user_ids:
        raise ValidationFailed("required", "Select at least one user.", field="users")
    catalog = get_catalog(ctx, account_id, max_age=ctx.rt.dns_max_age_seconds)
    account = require_account_admin(ctx, account_id)
    category = _category_for_choice(ctx, account_id, data.service_category)
    changed = 0
    for index, user_id in enumerate(dict.fromkeys(user_ids)):
        try:
            user = get_user(ctx, account_id, user_id, for_update=True)
            service = ctx.session.scalar(store.service_query(user_id).with_for_update(of=MivbService))
            if service is None:
                service = _new_service(ctx, account, user)
            if service.service_category_id != category.id:
                apply_category(ctx, account, user, service, category, catalog)
                limits.check(ctx.session)  # a licence short is this user's refusal
                changed += 1
        except ServiceError as exc:
            for item in exc.errors:
                item.field = f"users[{index}]"  # which of the selected users was refused
            raise
    ctx.session.flush()
    return changed


def _category_for_choice(ctx: ServiceContext, account_id: str, category_id: str) -> ServiceCategory:
    """The category, held `FOR KEY SHARE` (once per transaction): units that choose it run
    side by side, a change to it waits until they end (their licences are checked again
    at commit, limits.py)."""
    cache = tx_cache(ctx.session)
    category = cache.get(("locked_category", account_id, category_id))
    if category is not None and not (inspect(category).deleted or inspect(category).was_deleted):
        return category
    category = ctx.session.scalar(select(ServiceCategory).where(
        ServiceCategory.id == category_id, ServiceCategory.account_id == account_id)
        .with_for_update(read=True, key_share=True).execution_options(populate_existing=True))  # as locked
    if category is None:
        raise ValidationFailed("unknown_category", "This service category does not exist.", field="service_category")
    cache[("locked_category", account_id, category_id)] = category
    return category


def apply_category(ctx: ServiceContext, account: Account, user: User, service: MivbService,
                   category: ServiceCategory, catalog: dict[str, Any]) -> None:
    """Gives the service the category: the template applies on the first choice; an
    upgrade keeps the phones (refusing types the new category does not allow)."""
    if service.service_category_id == category.id:
        return
    template = rules.template(catalog, category.template, field="service_category")
    rules.check_licence(ctx.session, category, user.id)
    before = service_snapshot(service)
    if service.service_category_id is None:
        rules.check_user_capacity(ctx.session, account.id)
        _apply_template(ctx, account, service, category, template, catalog)
    else:
        refused = [p for p in service.phones if not rules.allowed(category, p.type)]
        if refused:
            raise Conflict(errors=[ErrorItem("phone_type_not_allowed",
                                             "The category %(name)s does not allow a phone of type %(type)s.",
                                             "service_category", {"name": category.name, "type": p.type},
                                             phone_id=p.id) for p in refused])
    service.service_category_id = category.id
    service.category = category
    service.template = category.template
    service.pbx_key = service.pbx_key or service.user_id  # from now on the account manages it on the PBX
    store.push(ctx, service)
    flush(ctx.session)
    record(ctx, account, "update", "mivb_service", user.id, user.email, subject=user.id,
           before=before, after=service_snapshot(service))


def _apply_template(ctx: ServiceContext, account: Account, service: MivbService, category: ServiceCategory,
                    template: dict[str, Any], catalog: dict[str, Any]) -> None:
    for default in (template.get("phones") or [])[:TEMPLATE_PHONES]:
        if default.get("type") in PHONE_TYPES and rules.allowed(category, default["type"]):
            phone = create_phone(ctx, account.id, service, PhoneIn(type=default["type"], model=default.get("model")),
                                 catalog, template, category)
            record(ctx, account, "create", "phone", phone.id, f"template {phone.dn}", subject=service.user_id,
                   after=phone_snapshot(phone))
    group = rules.template_group(ctx.session, account.id, service, template, catalog)
    policy = mivb_settings.policy(mivb_settings.load(ctx.session, account.id))
    # The programming is set last, all at once: one UPDATE of the service, not one per query between.
    service.location = template.get("location") if template.get("location") in catalog.get("locations", []) else None
    service.department = (template.get("department")
                          if template.get("department") in catalog.get("departments", []) else None)
    service.language = template.get("language")
    service.group = group
    service.user_pin_encrypted = ctx.rt.secret_box.encrypt(pins.generate(policy, [p.dn for p in service.phones]))


# ---------------------------------------------------------------- service programming

def update_config(ctx: ServiceContext, account_id: str, user_id: str, data: ConfigPatch | dict,
                  *, expected_version: int | None = None, view: bool = True) -> dict[str, Any] | None:
    """Service programming: group, user pin, location, department."""
    data = validate(ConfigPatch, data)
    catalog = get_catalog(ctx, account_id)
    account, user, service = store.load(ctx, account_id, user_id, write=True)
    check_version(service, expected_version)
    store.require_configured(service)
    changes = data.programming.model_dump(exclude_unset=True)
    problems = rules.programming_problems(changes, catalog)
    if "user_pin" in changes:
        policy = mivb_settings.policy(mivb_settings.load(ctx.session, account_id))
        problems += pins.check(changes["user_pin"] or "", policy, [p.dn for p in service.phones])
    if problems:
        raise ValidationFailed(errors=problems)
    if "group" in changes and changes["group"] != service.group:
        rules.check_group(ctx.session, account_id, service.user_id, changes["group"], rules.kinds(service.phones),
                          catalog, "programming.group")
    before = service_snapshot(service)
    for name in ("group", "location", "department"):
        if name in changes:
            setattr(service, name, changes[name])
    if "user_pin" in changes:
        pin = changes["user_pin"] or ""
        service.user_pin_encrypted = ctx.rt.secret_box.encrypt(pin) if pin else None
    after = service_snapshot(service)
    if "user_pin" in changes:
        after["user_pin"] = MASK + " (changed)"
    if after != before:
        store.push(ctx, service)
        ctx.session.flush()
        record(ctx, account, "update", "mivb_service", user.id, user.email, subject=user.id,
               before=before, after=after)
    ctx.session.flush()
    return config_view(ctx, service) if view else None


def suggest_user_pin(ctx: ServiceContext, account_id: str, user_id: str) -> str:
    """A pin that satisfies the account's policy for this user, stored nowhere (the
    programming form fills it in; Continue saves it with the other fields)."""
    _, _, service = store.load(ctx, account_id, user_id, write=False)
    require_account_admin(ctx, account_id)
    store.require_configured(service)
    policy = mivb_settings.policy(mivb_settings.load(ctx.session, account_id))
    return pins.generate(policy, [p.dn for p in service.phones])


def generate_user_pin(ctx: ServiceContext, account_id: str, user_id: str) -> str:
    """Generates a compliant pin, stores it and pushes it; returned this once."""
    account, user, service = store.load(ctx, account_id, user_id, write=True)
    store.require_configured(service)
    policy = mivb_settings.policy(mivb_settings.load(ctx.session, account_id))
    pin = pins.generate(policy, [p.dn for p in service.phones])
    service.user_pin_encrypted = ctx.rt.secret_box.encrypt(pin)
    store.push(ctx, service)
    ctx.session.flush()
    record(ctx, account, "update", "mivb_service", user.id, user.email, subject=user.id,
           before={"user_pin": MASK}, after={"user_pin": MASK + " (generated)"})
    return pin


# ---------------------------------------------------------------- reactions to the accounts service

def on_user_changed(ctx: ServiceContext, user: User) -> None:
    """Names and e-mail are part of the pushed state: push again (same unit of work)."""
    service = ctx.session.scalar(store.service_query(user.id))
    if service is not None and service.service_category_id is not None:
        store.push(ctx, service)


def on_user_deleting(ctx: ServiceContext, user: User) -> None:
    """The user's numbers go back to their pools and its PBX configuration is removed."""
    service = ctx.session.scalar(store.service_query(user.id))
    if service is not None:
        _remove(ctx, service)
