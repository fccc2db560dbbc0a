"""The user page of the console with its MiVB parts: products and licenses, service
category, service programming, phones, sync state and errors, change history.

Handlers read the form, call one service function, then redirect (success, 303: a reload
never sends the form again) or render the page again with the errors listed at the top
and bottom, beside the fields, and on the phones at fault, keeping what the admin typed
(422, or the refusal's own status: see console.web.refused_status). What a success must
show once (a new phone's SIP password) goes to the next page through server-side
storage (console.web.show_once), never the cookie.

While a push is under way the page polls its sync panel, whose answer also refreshes the
two error lists and the phones' ⚠ icons (they are always on the page, empty when there is
nothing), so errors the PBX reports later appear, and go, without a reload."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from switchboard.accounts import tenancy
from switchboard.audit import service as audit
from switchboard.console.web import (
    FormDep,
    FormErrors,
    Viewer,
    ViewerDep,
    field_dom_id,
    flash,
    form_version,
    language,
    redirect,
    refused_form,
    render,
    show_once,
    take_shown_once,
)
from switchboard.core import i18n
from switchboard.core.errors import ServiceError
from switchboard.core.i18n import N_
from switchboard.mivb import history, pins
from switchboard.mivb import service as mivb
from switchboard.mivb.phone_types import COR_FIELDS, COS_FIELDS, PHONE_TYPES
from switchboard.numbering import service as numbering
from switchboard.pbx import service as pbx
from switchboard.sync import queue as sync

router = APIRouter(include_in_schema=False)
USER = "/accounts/{account_id}/users/{user_id}"
HISTORY_STEP = 10  # changes shown at first, and added by each "Show more"
HISTORY_MAX = 500
PROGRAMMING_FIELDS = ("group", "location", "department", "user_pin")


def _user_url(account_id: str, user_id: str, anchor: str = "") -> str:
    return f"/accounts/{account_id}/users/{user_id}" + (f"#{anchor}" if anchor else "")


# ------------------------------------------------------------------ page context

def _phone_label(gettext, phone: dict[str, Any]) -> str:
    kind = PHONE_TYPES.get(phone["type"])
    return f"{gettext(kind.label) if kind else phone['type']} {phone['dn']}"


def _sync_errors(gettext, config: dict[str, Any]) -> list[dict[str, Any]]:
    """The PBX's errors, each pointed at the phone or field it concerns."""
    phones = {p["id"]: p for p in config["phones"]}
    listed: list[dict[str, Any]] = []
    seen = set()
    for error in config["sync"]["errors"] + [e for p in config["phones"] for e in p["sync"]["errors"]]:
        key = (error.get("code"), error.get("message"), error.get("phone_id"))
        if key in seen:
            continue
        seen.add(key)
        phone = phones.get(error.get("phone_id") or "")
        target = f"phone-{phone['id']}" if phone else _programming_target(error.get("field"))
        where = _phone_label(gettext, phone) if phone else gettext("Service programming")
        listed.append({"target": target, "where": where, "message": i18n.localize(error.get("message", ""), gettext),
                       "code": error.get("code"), "from_pbx": error.get("source") == "pbx"})
    return listed


def _programming_target(field: str | None) -> str:
    name = (field or "").split(".")[-1]
    return f"field-programming-{name}" if name in ("group", "user_pin", "location", "department") else "sync-panel"


# The label of a form field, so that an error list names the field it is about.
FIELD_LABELS = {"external_phone.number": N_("External number"), "external_phone": N_("External phone"),
                "acd_agent": N_("ACD agent"), "dn": N_("DN"), "mac": N_("MAC address"), "model": N_("Model"),
                "type": N_("Phones"), "service_category": N_("Service category"), "user_pin": N_("User pin"),
                "group": N_("Group"), "location": N_("Location"), "department": N_("Department")}


def field_label(gettext, field: str | None) -> str:
    """"external_phone.number" is "External number"; "programming.group", "Group"."""
    label = FIELD_LABELS.get(field or "") or FIELD_LABELS.get((field or "").removeprefix("programming."))
    return gettext(label) if label else ""


def _form_errors_listed(gettext, errors: FormErrors, form: str | None) -> list[dict[str, Any]]:
    listed = []
    for field, message in errors.all:
        target = field_dom_id(form, field) if field and form else "configuration"
        listed.append({"target": target, "where": field_label(gettext, field), "message": message, "code": None,
                       "from_pbx": False})
    return listed


def _history_shown(request: Request) -> int:
    raw = request.query_params.get("history", "")
    return min(int(raw), HISTORY_MAX) if raw.isdigit() and int(raw) > HISTORY_STEP else HISTORY_STEP


def _history(request: Request, viewer: Viewer, account_id: str, user_id: str, gettext) -> dict[str, Any]:
    """The latest changes of the user, newest first, in words (mivb.history)."""
    shown = _history_shown(request)
    total, entries = audit.list_for_account(viewer.ctx, account_id, limit=shown, offset=0, subject_id=user_id)
    rows = []
    for entry in entries:
        described = history.describe(entry)
        rows.append({"at": entry.at, "who": entry.actor_email or "", "title": history.text(described.title, gettext),
                     "changes": [history.text(line, gettext) for line in described.changes]})
    return {"history": rows, "history_total": total, "history_more": shown + HISTORY_STEP}


def page_context(request: Request, viewer: Viewer, account_id: str, user_id: str, **extra: Any) -> dict[str, Any]:
    ctx = viewer.ctx
    account = tenancy.get_account(ctx, account_id)
    user = tenancy.get_user(ctx, account_id, user_id)
    gettext = i18n.gettext_for(language(request, account))
    products = mivb.list_products(ctx, account_id, user_id)
    config = mivb.get_config(ctx, account_id, user_id) if products else None
    is_admin = viewer.actor.can_manage_users
    context: dict[str, Any] = {"account": account, "user": user, "products": products, "config": config,
                               "is_admin": is_admin, "dialog": request.query_params.get("dialog"),
                               "history": [],
                               "form": None, "form_phone": None, "values": {}, "errors": FormErrors.empty()}
    context.update(extra)
    if is_admin:
        try:
            context["catalog"] = pbx.get_catalog(ctx, account_id, allow_stale=True)
        except ServiceError as exc:
            context["catalog"] = None
            context["catalog_error"] = exc.errors[0].render(gettext)
        context["categories"] = mivb.list_categories(ctx, account_id)
        configured = config is not None and config["status"] == "configured"
        context["next_dns"] = numbering.next_free_dns(ctx, account_id) if configured else []
        policy, _ = mivb.get_pin_policy(ctx, account_id)
        context["pin_policy"] = policy
        context["pin_rules"] = pins.requirements(pins.Policy(**policy))
        context.update(_history(request, viewer, account_id, user_id, gettext))
    context["field_label"] = lambda field: field_label(gettext, field)
    listed = _form_errors_listed(gettext, context["errors"], context["form"])
    if config:
        listed += _sync_errors(gettext, config)
    context["error_list"] = listed
    context["phone_errors"] = {e["target"][6:] for e in listed if e["target"].startswith("phone-")}
    return context


def _page(request: Request, viewer: Viewer, account_id: str, user_id: str, status_code: int = 200, **extra):
    context = page_context(request, viewer, account_id, user_id, **extra)
    return render(request, "mivb/user_page.html", context, status_code=status_code, account=context["account"])


def _refused(request: Request, viewer: Viewer, account_id: str, user_id: str, exc: ServiceError, *,
             form: str, values: dict[str, Any], phone_id: str | None = None, dialog: str | None = None):
    """The user page again, with the refused form's errors (not found and not allowed are
    the error page)."""
    status = refused_form(viewer, exc)
    account = tenancy.get_account(viewer.ctx, account_id)
    gettext = i18n.gettext_for(language(request, account))
    extra = {"errors": FormErrors.from_error(exc, gettext), "form": form, "values": values,
             "form_phone": phone_id}
    if dialog:
        extra["dialog"] = dialog
    return _page(request, viewer, account_id, user_id, status_code=status, **extra)


def _sip_key(user_id: str) -> str:
    return f"new-sip:{user_id}"


# ------------------------------------------------------------------ pages

@router.get(USER)
def user_page(request: Request, account_id: str, user_id: str, viewer: ViewerDep):
    context = page_context(request, viewer, account_id, user_id)
    # The SIP credentials of a phone added just before: shown on this page once.
    context["new_sip"] = take_shown_once(request, viewer, _sip_key(user_id))
    return render(request, "mivb/user_page.html", context, account=context["account"])


@router.get(USER + "/mivb/sync-panel")
def sync_panel(request: Request, account_id: str, user_id: str, viewer: ViewerDep):
    """Polled by htmx while a push is under way (and answered after "Retry now"): the
    panel, and out of band the two error lists and the phones' badges, without touching
    what the admin is typing. A page showing a refused form's errors asks to keep its
    lists (lists=keep): they hold that form's errors until it is sent again."""
    context = page_context(request, viewer, account_id, user_id, keep_lists=request.query_params.get("lists") == "keep")
    if context["config"] is None:
        return HTMLResponse("")
    return render(request, "mivb/sync_panel_response.html", context, account=context["account"])


# ------------------------------------------------------------------ products and category

@router.post(USER + "/products/mivb/add")
def add_product(request: Request, account_id: str, user_id: str, viewer: ViewerDep, form: FormDep):
    try:
        mivb.add_product(viewer.ctx, account_id, user_id, {"product": "mivb"})
    except ServiceError as exc:
        return _refused(request, viewer, account_id, user_id, exc, form="product", values={}, dialog="add-product")
    return redirect(f"{_user_url(account_id, user_id)}?dialog=add-product#add-product")


@router.get(USER + "/products/mivb/remove")
def remove_product_page(request: Request, account_id: str, user_id: str, viewer: ViewerDep):
    tenancy.account_to_administer(viewer.ctx, account_id)  # a plain user has no such page
    context = page_context(request, viewer, account_id, user_id)
    return render(request, "mivb/remove_product.html", context, account=context["account"])


@router.post(USER + "/products/mivb/remove")
def remove_product(request: Request, account_id: str, user_id: str, viewer: ViewerDep, form: FormDep):
    try:
        mivb.remove_product(viewer.ctx, account_id, user_id, "mivb")
    except ServiceError as exc:
        return _refused(request, viewer, account_id, user_id, exc, form="product", values={})
    flash(request, "MiVoice Business Service removed: its numbers are free again and the PBX configuration is being removed.")
    return redirect(_user_url(account_id, user_id, "products"))


@router.post(USER + "/mivb/service")
def choose_category(request: Request, account_id: str, user_id: str, viewer: ViewerDep, form: FormDep):
    values = {"service_category": form.get("service_category", "")}
    upgrade = any(p["status"] == "configured" for p in mivb.list_products(viewer.ctx, account_id, user_id))
    try:
        config = mivb.choose_category(viewer.ctx, account_id, user_id, values)
    except ServiceError as exc:
        return _refused(request, viewer, account_id, user_id, exc, form="category", values=values, dialog="category")
    if upgrade:  # an upgrade keeps the phones and the programming (mivb.subscriptions.apply_category)
        flash(request, "Service upgraded to %(name)s: the phones and the service programming are kept.",
              name=config["service_category_name"])
    else:
        flash(request, "Service category applied.")
    return redirect(_user_url(account_id, user_id, "configuration"))


# ------------------------------------------------------------------ service programming

def _programming_values(form: dict[str, str]) -> dict[str, Any]:
    return {**{name: form.get(name, "") for name in PROGRAMMING_FIELDS}, "pin_edited": form.get("pin_edited")}


@router.post(USER + "/mivb/programming")
def programming(request: Request, account_id: str, user_id: str, viewer: ViewerDep, form: FormDep):
    values = _programming_values(form)
    changes: dict[str, Any] = {name: values[name] or None for name in ("group", "location", "department")}
    if form.get("pin_edited") == "1":
        changes["user_pin"] = values["user_pin"]
    try:
        mivb.update_config(viewer.ctx, account_id, user_id, {"programming": changes},
                           expected_version=form_version(form))
    except ServiceError as exc:
        return _refused(request, viewer, account_id, user_id, exc, form="programming", values=values)
    flash(request, "Service programming saved.")
    return redirect(_user_url(account_id, user_id, "programming"))


@router.post(USER + "/mivb/user-pin/suggest")
def suggest_pin(request: Request, account_id: str, user_id: str, viewer: ViewerDep, form: FormDep):
    """Auto-generate: a compliant pin filled into the programming form and saved nowhere;
    Continue saves it with the other fields. htmx swaps the pin field alone, so nothing
    else the admin changed is touched; without JavaScript the page comes back with
    everything they typed kept and the suggestion filled in."""
    values = _programming_values(form)
    try:
        pin = mivb.suggest_user_pin(viewer.ctx, account_id, user_id)
    except ServiceError as exc:
        return _refused(request, viewer, account_id, user_id, exc, form="programming", values=values)
    values.update(user_pin=pin, pin_edited="1")
    context = page_context(request, viewer, account_id, user_id, form="programming", values=values,
                           pin_suggested=True)
    template = "mivb/_pin_field.html" if request.headers.get("hx-request") else "mivb/user_page.html"
    return render(request, template, context, account=context["account"])


# ------------------------------------------------------------------ phones

def _phone_input(form: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {"type": form.get("type", "")}
    if form.get("dn"):
        data["dn"] = form["dn"]
    kind = PHONE_TYPES.get(data["type"])
    if kind is not None and kind.allows("acd_agent"):
        data["acd_agent"] = form.get("acd_agent") == "on"
    if kind is not None and kind.allows("external_phone") and form.get("external_phone") == "on":
        data["external_phone"] = _external(form)
    return data


@router.post(USER + "/mivb/phones")
def add_phone(request: Request, account_id: str, user_id: str, viewer: ViewerDep, form: FormDep):
    data = _phone_input(form)
    try:
        phone = mivb.add_phone(viewer.ctx, account_id, user_id, data)
    except ServiceError as exc:
        values = {k: form.get(k, "") for k in ("type", "dn", "acd_agent", "external_phone", "external_number")}
        return _refused(request, viewer, account_id, user_id, exc, form="add-phone", values=values, dialog="add-phone")
    flash(request, "Phone %(dn)s added.", dn=phone["dn"])
    if phone.get("sip"):
        # SIP credentials are shown once, on the page this redirect leads to.
        show_once(request, viewer, _sip_key(user_id), {"dn": phone["dn"], "sip": phone["sip"]})
        return redirect(_user_url(account_id, user_id, "new-sip"))
    return redirect(_user_url(account_id, user_id, f"phone-{phone['id']}"))


def _external(form: dict[str, str]) -> dict[str, str]:
    # A number left blank is a number not given: "This field is required.", not "not E.164".
    number = form.get("external_number", "").strip()
    return {"number": number} if number else {}


def _phone_changes(form: dict[str, str], phone_type: str) -> dict[str, Any]:
    kind = PHONE_TYPES[phone_type]
    changes: dict[str, Any] = {"voicemail": form.get("voicemail") == "on",
                               "confirm_dn_change": form.get("confirm_dn_change") == "on"}
    if form.get("dn"):
        changes["dn"] = form["dn"]
    if kind.has_device and form.get("model"):
        changes["model"] = form["model"]
    if kind.has_mac:
        changes["mac"] = form.get("mac") or None
    advanced: dict[str, Any] = {}
    for name in COS_FIELDS + COR_FIELDS:
        raw = form.get(name, "")
        advanced[name] = int(raw) if raw.isdigit() else (raw or None)
    advanced["language"] = form.get("language") or None
    changes["advanced"] = advanced
    if kind.allows("acd_agent"):
        changes["acd_agent"] = form.get("acd_agent") == "on"
    if kind.allows("external_phone"):
        changes["external_phone"] = _external(form) if form.get("external_phone") == "on" else None
    return changes


@router.post(USER + "/mivb/phones/{phone_id}")
def save_phone(request: Request, account_id: str, user_id: str, phone_id: str, viewer: ViewerDep, form: FormDep):
    current = mivb.get_phone(viewer.ctx, account_id, user_id, phone_id)
    changes = _phone_changes(form, current["type"])
    values = dict(form)
    try:
        mivb.update_phone(viewer.ctx, account_id, user_id, phone_id, changes, expected_version=form_version(form))
    except ServiceError as exc:
        return _refused(request, viewer, account_id, user_id, exc, form=f"phone-{phone_id}", values=values,
                        phone_id=phone_id)
    flash(request, "Phone %(dn)s saved.", dn=changes.get("dn") or current["dn"])
    return redirect(_user_url(account_id, user_id, f"phone-{phone_id}"))


@router.post(USER + "/mivb/phones/{phone_id}/delete")
def delete_phone(request: Request, account_id: str, user_id: str, phone_id: str, viewer: ViewerDep, form: FormDep):
    try:
        mivb.delete_phone(viewer.ctx, account_id, user_id, phone_id, expected_version=form_version(form))
    except ServiceError as exc:
        return _refused(request, viewer, account_id, user_id, exc, form=f"phone-{phone_id}", values={},
                        phone_id=phone_id)
    flash(request, "Phone removed; its numbers are free again.")
    return redirect(_user_url(account_id, user_id, "phones"))


# ------------------------------------------------------------------ sync

@router.post(USER + "/mivb/sync")
def retry_now(request: Request, account_id: str, user_id: str, viewer: ViewerDep, form: FormDep):
    try:
        sync.push_now(viewer.ctx, account_id, user_id)
    except ServiceError as exc:
        return _refused(request, viewer, account_id, user_id, exc, form="sync", values={})
    if request.headers.get("hx-request"):
        # In place: htmx follows this to the panel, which polls until the push has landed.
        return redirect(_user_url(account_id, user_id) + "/mivb/sync-panel")
    flash(request, "Pushing to the PBX again now.")
    return redirect(_user_url(account_id, user_id, "configuration"))
