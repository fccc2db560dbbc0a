"""Console page System Settings > MiVoice Business of one account: the PBX connection and
its test, the catalogue read from the PBX, DN and DID ranges, service categories, add-on
licences and the PIN policy.

Every section is a card with an anchor. Each form posts to a sub-route whose handler reads
the form, calls ONE service function, then either redirects back to its section (success,
with a message shown in that section) or renders the whole page again with the errors
beside the fields, the admin's input kept, and the error status. Field ids are prefixed by
the form's key ("dn-start", "category-<id>-licences") so one page can hold many forms.

Partner admins change these settings; account admins read them (the services enforce it;
the page hides the forms), and a forged POST is answered 403 by the services."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request

from switchboard.accounts import tenancy
from switchboard.console.web import (
    FormDep,
    FormErrors,
    Viewer,
    ViewerDep,
    flash,
    form_version,
    language,
    redirect,
    refused_form,
    render,
)
from switchboard.core import i18n
from switchboard.core.errors import ErrorItem, ServiceError
from switchboard.core.validation import display_phone_number
from switchboard.mivb import phone_types
from switchboard.mivb import service as mivb
from switchboard.numbering import service as numbering
from switchboard.pbx import service as pbx

router = APIRouter(include_in_schema=False)

PAGE = "/accounts/{account_id}/settings/mivb"
TEMPLATE = "mivb/settings.html"
PHONE_TYPES = phone_types.NAMES
MAX_RANGES = 200  # ranges listed per kind (an account rarely has more than a handful)
_FIELD_HEAD = re.compile(r"[\[.]")


def _base(account_id: str) -> str:
    return PAGE.format(account_id=account_id)


def _picked_types(form: dict[str, str]) -> list[str]:
    return [kind for kind in PHONE_TYPES if form.get(f"type_{kind}")]


def _allowed(types: list[str]) -> list[str] | None:
    """All three types ticked means "every phone type" (null), also the ones added later."""
    return None if set(types) == set(PHONE_TYPES) else types


# ------------------------------------------------------------------ the page


def _page_context(request: Request, viewer: Viewer, account_id: str) -> dict[str, Any]:
    ctx = viewer.ctx
    account = tenancy.require_account_admin(ctx, account_id)
    gettext = i18n.gettext_for(language(request, account))
    connection = pbx.get_connection(ctx, account_id)
    catalog, catalog_error = None, None
    if connection is not None:
        try:
            catalog = pbx.get_catalog(ctx, account_id, allow_stale=True)  # never waits for the PBX
        except ServiceError as exc:
            catalog_error = exc.errors[0].render(gettext)
    dn_total, dn_ranges = numbering.list_dn_ranges(ctx, account_id, limit=MAX_RANGES)
    did_total, did_ranges = numbering.list_did_ranges(ctx, account_id, limit=MAX_RANGES)
    categories = mivb.list_categories(ctx, account_id)
    licences = mivb.get_addon_licences(ctx, account_id)
    policy, policy_version = mivb.get_pin_policy(ctx, account_id)

    missing = [name for name, present in (("connection", connection is not None), ("dn_ranges", dn_total > 0),
                                          ("did_ranges", did_total > 0), ("service_categories", bool(categories)))
               if not present]
    templates = [t.get("name") for t in (catalog or {}).get("templates", []) if t.get("name")]
    values: dict[str, dict[str, Any]] = {
        "connection": ({"url": connection.url, "username": connection.username, "shared": connection.shared}
                       if connection else {}),
        "dn": {}, "did": {},
        "category-new": {"allowed_phone_types": list(PHONE_TYPES), "template": templates[0] if templates else ""},
        "licences": {"ehdu": str(licences["ehdu"]), "acd_agent": str(licences["acd_agent"])},
        "pin": {"min_length": str(policy["min_length"]), "forbid_repeated": policy["forbid_repeated"],
                "forbid_sequences": policy["forbid_sequences"], "forbid_dn": policy["forbid_dn"]},
    }
    for category in categories:
        values[f"category-{category['id']}"] = {
            "name": category["name"], "template": category["template"], "licences": str(category["licences"]),
            "allowed_phone_types": list(PHONE_TYPES) if category["allowed_phone_types"] is None
            else category["allowed_phone_types"]}
    return {
        "account": account, "base": _base(account_id), "page_url": _base(account_id), "can_edit": viewer.actor.can_edit_settings,
        "missing": missing, "connection": connection, "catalog": catalog, "catalog_error": catalog_error,
        "templates": templates, "template_options": [(name, name) for name in templates], "dn_ranges": dn_ranges, "dn_total": dn_total, "did_ranges": did_ranges,
        "did_total": did_total, "categories": categories, "licences": licences, "policy_version": policy_version,
        "phone_types": PHONE_TYPES, "form_values": values, "refused_section": None, "open_form": None,
    }


@router.get(PAGE)
def settings_page(request: Request, account_id: str, viewer: ViewerDep):
    context = _page_context(request, viewer, account_id)
    account = context["account"]
    # What the last POST of this page said goes into its section, not the top of the page.
    section = request.session.pop("mivb_section", None)
    if section:
        gettext = i18n.gettext_for(language(request, account))
        context["notice_section"] = section[0]
        context["notice_kind"] = section[1]
        context["notices"] = [gettext(message) % params if params else gettext(message)
                              for message, params in request.session.pop("flash", [])]
    context["test_result"] = request.session.pop("mivb_test", None)
    return render(request, TEMPLATE, context, account=account)


@router.get(PAGE + "/{rest:path}")
def settings_subpage(account_id: str, rest: str, viewer: ViewerDep):
    """The form targets are POST only: a reload or a bookmark of one lands on the page
    (of an account the viewer administers; another one is not found)."""
    tenancy.require_account_admin(viewer.ctx, account_id)
    return redirect(_base(account_id))


def _done(request: Request, account_id: str, section: str, message: str, kind: str = "ok", **params):
    flash(request, message, **params)
    request.session["mivb_section"] = [section, kind]
    return redirect(f"{_base(account_id)}#{section}")


def _refused(request: Request, viewer: Viewer, account_id: str, exc: ServiceError, *, section: str,
             form_key: str, values: dict[str, Any], default_field: str | None = None):
    """The page again, with the refused form's errors (fields prefixed by its key) at the
    top and bottom of its section and beside its fields, and the admin's input kept.
    Not allowed (an account admin's forged POST) is the error page, 403; not found (another
    tenant's account, a range deleted meanwhile) the error page, 404."""
    status = refused_form(viewer, exc)
    context = _page_context(request, viewer, account_id)
    gettext = i18n.gettext_for(language(request, context["account"]))
    items = []
    for item in exc.errors:
        field = _FIELD_HEAD.split(item.field)[0] if item.field else default_field
        if field in ("body", None):
            field = default_field
        items.append(ErrorItem(item.code, item.message, f"{form_key}-{field}" if field else None, item.params))
    context["form_values"][form_key] = values
    context.update(errors=FormErrors.from_items(items, gettext), refused_section=section, open_form=form_key)
    return render(request, TEMPLATE, context, status_code=status, account=context["account"])


# ------------------------------------------------------------------ connection and catalogue


@router.post(PAGE + "/connection")
def save_connection(request: Request, account_id: str, viewer: ViewerDep, form: FormDep):
    values: dict[str, Any] = {name: form.get(name, "") for name in ("url", "username", "password")}
    values["shared"] = form.get("shared") == "on"
    try:
        pbx.set_connection(viewer.ctx, account_id, values, expected_version=form_version(form))
    except ServiceError as exc:
        values.pop("password")  # never sent back to the browser
        return _refused(request, viewer, account_id, exc, section="connection", form_key="connection", values=values)
    return _done(request, account_id, "connection", "Connection saved. Test it to check that the PBX answers.")


@router.post(PAGE + "/connection/test")
def test_connection(request: Request, account_id: str, viewer: ViewerDep, form: FormDep):
    """htmx swaps the result into the section; without JavaScript the page comes back
    with it."""
    account = tenancy.get_account(viewer.ctx, account_id)
    try:
        result = pbx.test_connection(viewer.ctx, account_id)
    except ServiceError as exc:
        refused_form(viewer, exc)
        gettext = i18n.gettext_for(language(request, account))
        result = {"ok": False, "detail": exc.errors[0].render(gettext), "pbx": None}
    if request.headers.get("hx-request"):
        return render(request, "mivb/settings_test_result.html", {"test_result": result, "connection": None},
                      account=account)
    request.session["mivb_test"] = result
    return redirect(f"{_base(account_id)}#connection")


@router.post(PAGE + "/catalog/refresh")
def refresh_catalog(request: Request, account_id: str, viewer: ViewerDep, form: FormDep):
    try:
        catalog = pbx.get_catalog(viewer.ctx, account_id, refresh=True)
    except ServiceError as exc:
        return _refused(request, viewer, account_id, exc, section="catalogue", form_key="catalog", values={},
                        default_field="refresh")
    if catalog["stale"]:
        return _done(request, account_id, "catalogue",
                     "The PBX could not be read: the catalogue below is the one read last.", kind="warn")
    return _done(request, account_id, "catalogue", "Catalogue read again from the PBX.")


# ------------------------------------------------------------------ number ranges


@router.post(PAGE + "/dn-ranges")
def add_dn_range(request: Request, account_id: str, viewer: ViewerDep, form: FormDep):
    values = {name: form.get(name, "") for name in ("prefix", "start", "end")}
    try:
        info = numbering.create_dn_range(viewer.ctx, account_id, values)
    except ServiceError as exc:
        return _refused(request, viewer, account_id, exc, section="dn-ranges", form_key="dn", values=values)
    return _done(request, account_id, "dn-ranges", "DN range %(range)s added.",
                 range=numbering.Span.of_dn_range(info.range).label())


@router.post(PAGE + "/dn-ranges/{range_id}/delete")
def delete_dn_range(request: Request, account_id: str, range_id: str, viewer: ViewerDep, form: FormDep):
    try:
        numbering.delete_dn_range(viewer.ctx, account_id, range_id, expected_version=form_version(form))
    except ServiceError as exc:
        return _refused(request, viewer, account_id, exc, section="dn-ranges", form_key=f"dn-{range_id}",
                        values={}, default_field="delete")
    return _done(request, account_id, "dn-ranges", "DN range deleted.")


@router.post(PAGE + "/did-ranges")
def add_did_range(request: Request, account_id: str, viewer: ViewerDep, form: FormDep):
    values = {name: form.get(name, "") for name in ("start", "end", "first_dn")}
    try:
        info = numbering.create_did_range(viewer.ctx, account_id, {**values, "first_dn": values["first_dn"] or None})
    except ServiceError as exc:
        return _refused(request, viewer, account_id, exc, section="did-ranges", form_key="did", values=values)
    country = tenancy.get_account(viewer.ctx, account_id).country  # numbers shown as the account writes them
    return _done(request, account_id, "did-ranges", "DID range %(range)s added.",
                 range=f"{display_phone_number(info.range.start, country)}–{display_phone_number(info.range.end, country)}")


@router.post(PAGE + "/did-ranges/{range_id}/delete")
def delete_did_range(request: Request, account_id: str, range_id: str, viewer: ViewerDep, form: FormDep):
    try:
        numbering.delete_did_range(viewer.ctx, account_id, range_id, expected_version=form_version(form))
    except ServiceError as exc:
        return _refused(request, viewer, account_id, exc, section="did-ranges", form_key=f"did-{range_id}",
                        values={}, default_field="delete")
    return _done(request, account_id, "did-ranges", "DID range deleted.")


# ------------------------------------------------------------------ service categories


def _category_values(form: dict[str, str]) -> dict[str, Any]:
    return {"name": form.get("name", ""), "template": form.get("template", ""), "licences": form.get("licences", ""),
            "allowed_phone_types": _picked_types(form)}


@router.post(PAGE + "/categories")
def add_category(request: Request, account_id: str, viewer: ViewerDep, form: FormDep):
    values = _category_values(form)
    try:
        category = mivb.create_category(viewer.ctx, account_id, {
            **values, "allowed_phone_types": _allowed(values["allowed_phone_types"])})
    except ServiceError as exc:
        return _refused(request, viewer, account_id, exc, section="categories", form_key="category-new",
                        values=values)
    return _done(request, account_id, "categories", "Service category %(name)s added.", name=category["name"])


@router.post(PAGE + "/categories/{category_id}")
def update_category(request: Request, account_id: str, category_id: str, viewer: ViewerDep, form: FormDep):
    values = _category_values(form)
    try:
        category = mivb.update_category(viewer.ctx, account_id, category_id, {
            **values, "allowed_phone_types": _allowed(values["allowed_phone_types"])},
            expected_version=form_version(form))
    except ServiceError as exc:
        return _refused(request, viewer, account_id, exc, section="categories", form_key=f"category-{category_id}",
                        values=values, default_field="save")
    return _done(request, account_id, "categories", "Service category %(name)s saved.", name=category["name"])


@router.post(PAGE + "/categories/{category_id}/delete")
def delete_category(request: Request, account_id: str, category_id: str, viewer: ViewerDep, form: FormDep):
    try:
        mivb.delete_category(viewer.ctx, account_id, category_id, expected_version=form_version(form))
    except ServiceError as exc:
        return _refused(request, viewer, account_id, exc, section="categories", form_key=f"category-{category_id}",
                        values={}, default_field="delete")
    return _done(request, account_id, "categories", "Service category deleted.")


# ------------------------------------------------------------------ licences and PIN policy


@router.post(PAGE + "/licences")
def save_licences(request: Request, account_id: str, viewer: ViewerDep, form: FormDep):
    values = {name: form.get(name, "") for name in ("ehdu", "acd_agent")}
    try:
        mivb.set_addon_licences(viewer.ctx, account_id, values)
    except ServiceError as exc:
        return _refused(request, viewer, account_id, exc, section="licences", form_key="licences", values=values)
    return _done(request, account_id, "licences", "Add-on licences saved.")


@router.post(PAGE + "/pin-policy")
def save_pin_policy(request: Request, account_id: str, viewer: ViewerDep, form: FormDep):
    values: dict[str, Any] = {"min_length": form.get("min_length", "")}
    values.update({name: bool(form.get(name)) for name in ("forbid_repeated", "forbid_sequences", "forbid_dn")})
    try:
        mivb.set_pin_policy(viewer.ctx, account_id, values, expected_version=form_version(form))
    except ServiceError as exc:
        return _refused(request, viewer, account_id, exc, section="pin-policy", form_key="pin", values=values,
                        default_field="save")
    return _done(request, account_id, "pin-policy", "PIN policy saved.")
