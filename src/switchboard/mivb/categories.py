"""Service categories: the classes of MiVB service an account sells (Entry, Telephony,
Premium…). Each maps to a PBX user template, may cap the phone types it allows, and has
a licence count. Changing a category's template does not rewrite the users who have it:
templates apply when a category is chosen."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from switchboard.accounts.tenancy import check_version, require_account_admin, require_account_settings_admin
from switchboard.core.context import ServiceContext
from switchboard.core.errors import Conflict, NotFound
from switchboard.core.validation import validate
from switchboard.mivb.models import MivbService, Phone, ServiceCategory
from switchboard.mivb.rules import template
from switchboard.mivb.schemas import CategoryIn, CategoryPatch
from switchboard.mivb.settings import record
from switchboard.pbx.catalog import get_catalog


def usage(session: Session, category_ids: list[str]) -> dict[str, int]:
    """How many users have each category (one licence each)."""
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
    require_account_admin(ctx, account_id)
    categories = ctx.session.scalars(select(ServiceCategory).where(ServiceCategory.account_id == account_id)
                                     .order_by(ServiceCategory.name_key)).all()
    used = usage(ctx.session, [c.id for c in categories])
    return [category_view(c, used.get(c.id, 0)) for c in categories]


def load(ctx: ServiceContext, account_id: str, category_id: str, *, for_update: bool = False) -> ServiceCategory:
    query = select(ServiceCategory).where(ServiceCategory.id == category_id, ServiceCategory.account_id == account_id)
    category = ctx.session.scalar(query.with_for_update() if for_update else query)
    if category is None:
        raise NotFound("not_found", "Service category not found.")
    return category


def get_category(ctx: ServiceContext, account_id: str, category_id: str) -> dict[str, Any]:
    require_account_admin(ctx, account_id)
    category = load(ctx, account_id, category_id)
    return category_view(category, usage(ctx.session, [category.id]).get(category.id, 0))


def _snapshot(category: ServiceCategory) -> dict[str, Any]:
    return {"name": category.name, "template": category.template, "licences": category.licences,
            "allowed_phone_types": category.allowed_phone_types}


def _ensure_name_free(ctx: ServiceContext, account_id: str, name: str, exclude: str | None = None) -> None:
    query = select(ServiceCategory.id).where(ServiceCategory.account_id == account_id,
                                             ServiceCategory.name_key == name.lower())
    if exclude:
        query = query.where(ServiceCategory.id != exclude)
    if ctx.session.scalar(query):
        raise Conflict("name_taken", "A service category with this name already exists.", field="name")


def create_category(ctx: ServiceContext, account_id: str, data: CategoryIn | dict) -> dict[str, Any]:
    account = require_account_settings_admin(ctx, account_id)
    data = validate(CategoryIn, data)
    template(get_catalog(ctx, account_id), data.template)
    _ensure_name_free(ctx, account_id, data.name)
    category = ServiceCategory(account_id=account_id, name=data.name, name_key=data.name.lower(),
                               template=data.template, licences=data.licences,
                               allowed_phone_types=data.allowed_phone_types)
    ctx.session.add(category)
    ctx.session.flush()
    record(ctx, account, "create", "service_category", category.id, category.name, after=_snapshot(category))
    return category_view(category, 0)


def update_category(ctx: ServiceContext, account_id: str, category_id: str, data: CategoryPatch | dict,
                    *, expected_version: int | None = None) -> dict[str, Any]:
    account = require_account_settings_admin(ctx, account_id)
    data = validate(CategoryPatch, data)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("template") is not None:
        template(get_catalog(ctx, account_id), changes["template"])
    category = load(ctx, account_id, category_id, for_update=True)
    check_version(category, expected_version)
    used = usage(ctx.session, [category.id]).get(category.id, 0)
    before = _snapshot(category)
    if changes.get("name"):
        _ensure_name_free(ctx, account_id, changes["name"], exclude=category.id)
        category.name, category.name_key = changes["name"], changes["name"].lower()
    if changes.get("template"):
        category.template = changes["template"]
    if changes.get("licences") is not None:
        if changes["licences"] < used:
            raise Conflict("licences_in_use", "Users with this category: %(used)s. The licence count cannot go "
                           "below that.", field="licences", used=used)
        category.licences = changes["licences"]
    if "allowed_phone_types" in changes:
        _check_types_in_use(ctx, category, changes["allowed_phone_types"])
        category.allowed_phone_types = changes["allowed_phone_types"]
    ctx.session.flush()
    record(ctx, account, "update", "service_category", category.id, category.name,
           before=before, after=_snapshot(category))
    return category_view(category, used)


def _check_types_in_use(ctx: ServiceContext, category: ServiceCategory, allowed: list[str] | None) -> None:
    if allowed is None:
        return
    in_use = ctx.session.scalars(select(Phone.type).join(MivbService, MivbService.user_id == Phone.user_id)
                                 .where(MivbService.service_category_id == category.id).distinct()).all()
    refused = sorted(set(in_use) - set(allowed))
    if refused:
        raise Conflict("phone_type_in_use", "Users of this category have phones of a type it would no longer "
                       "allow: %(types)s.", field="allowed_phone_types", types=", ".join(refused))


def delete_category(ctx: ServiceContext, account_id: str, category_id: str, *,
                    expected_version: int | None = None) -> None:
    account = require_account_settings_admin(ctx, account_id)
    category = load(ctx, account_id, category_id, for_update=True)
    check_version(category, expected_version)
    used = usage(ctx.session, [category.id]).get(category.id, 0)
    if used:
        raise Conflict("category_in_use", "Users with this category: %(used)s. Give them another one first.",
                       used=used)
    record(ctx, account, "delete", "service_category", category.id, category.name, before=_snapshot(category))
    ctx.session.delete(category)
    ctx.session.flush()
