"""Console pages for accounts and users. Each handler reads the form, calls one service
function, and either redirects (success) or renders the form again with the errors and
what the admin typed."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request

from switchboard.core import i18n
from switchboard.accounts import service as accounts
from switchboard.accounts import tenancy
from switchboard.accounts.schemas import COUNTRIES
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
from switchboard.core.errors import ErrorItem, ServiceError
from switchboard.mivb import service as mivb
from switchboard.sync.models import SYNC_STATES

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 25
ACCOUNT_FIELDS = ("name", "country", "province", "city", "address", "postal_code", "default_language")
USER_FIELDS = ("first_name", "last_name", "email", "role", "password")
_USER_FIELD = re.compile(r"users\[(\d+)\]")


def _page_number(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and 0 < int(raw) < 1_000_000 else 1


def _pick(form: dict[str, str], fields: tuple[str, ...]) -> dict[str, str]:
    return {name: form.get(name, "") for name in fields if name in form}


def _paging(total: int, page: int) -> dict[str, Any]:
    pages = max(1, math.ceil(total / PAGE_SIZE))
    return {"page": page, "pages": pages, "total": total}


def _refused(request: Request, viewer: Viewer, template: str, exc: ServiceError, context: dict[str, Any],
             account=None):
    status = refused_form(viewer, exc)
    gettext = i18n.gettext_for(language(request, account))
    context = {**context, "errors": FormErrors.from_error(exc, gettext)}
    return render(request, template, context, status_code=status, account=account)


def _countries(request: Request, account=None) -> list[tuple[str, str]]:
    from babel import Locale

    names = Locale(language(request, account)).territories
    return sorted(((code, names.get(code, code)) for code in COUNTRIES), key=lambda item: item[1])


# ------------------------------------------------------------------ accounts

@router.get("/accounts")
def accounts_page(request: Request, viewer: ViewerDep, search: str = "", page: str | None = None):
    number = _page_number(page)
    total, rows = accounts.list_accounts(viewer.ctx, search=search[:200] or None, limit=PAGE_SIZE,
                                         offset=(number - 1) * PAGE_SIZE)
    return render(request, "accounts/accounts_list.html",
                  {"accounts": rows, "search": search, **_paging(total, number)})


@router.get("/accounts/new")
def new_account_page(request: Request, viewer: ViewerDep):
    tenancy.account_creation_page(viewer.ctx)
    return render(request, "accounts/account_form.html",
                  {"account": None, "values": {"default_language": "en"}, "countries": _countries(request)})


@router.post("/accounts/new")
def create_account(request: Request, viewer: ViewerDep, form: FormDep):
    tenancy.account_creation_page(viewer.ctx)
    values = _pick(form, ACCOUNT_FIELDS)
    try:
        account = accounts.create_account(viewer.ctx, values)
    except ServiceError as exc:
        return _refused(request, viewer, "accounts/account_form.html", exc,
                        {"account": None, "values": values, "countries": _countries(request)})
    flash(request, "Account %(name)s created.", name=account.name)
    return redirect(f"/accounts/{account.id}/users")


@router.get("/accounts/{account_id}/edit")
def edit_account_page(request: Request, account_id: str, viewer: ViewerDep):
    account = tenancy.account_to_manage(viewer.ctx, account_id)
    values = {name: getattr(account, name) or "" for name in ACCOUNT_FIELDS}
    return render(request, "accounts/account_form.html",
                  {"account": account, "values": values, "countries": _countries(request, account)},
                  account=account)


@router.post("/accounts/{account_id}/edit")
def update_account(request: Request, account_id: str, viewer: ViewerDep, form: FormDep):
    tenancy.account_to_manage(viewer.ctx, account_id)
    values = _pick(form, ACCOUNT_FIELDS)
    try:
        account = accounts.update_account(viewer.ctx, account_id, values, expected_version=form_version(form))
    except ServiceError as exc:
        account = tenancy.get_account(viewer.ctx, account_id)
        return _refused(request, viewer, "accounts/account_form.html", exc,
                        {"account": account, "values": values, "countries": _countries(request, account)},
                        account=account)
    flash(request, "Account %(name)s saved.", name=account.name)
    return redirect(f"/accounts/{account.id}/users")


@router.get("/accounts/{account_id}/delete")
def delete_account_page(request: Request, account_id: str, viewer: ViewerDep):
    account = tenancy.account_to_manage(viewer.ctx, account_id)
    return render(request, "accounts/confirm_delete.html",
                  {"kind": "account", "name": account.name, "version": account.version,
                   "action": f"/accounts/{account.id}/delete", "cancel": f"/accounts/{account.id}/users"},
                  account=account)


@router.post("/accounts/{account_id}/delete")
def delete_account(request: Request, account_id: str, viewer: ViewerDep, form: FormDep):
    account = tenancy.account_to_manage(viewer.ctx, account_id)
    name = account.name
    accounts.delete_account(viewer.ctx, account_id, expected_version=form_version(form))
    flash(request, "Account %(name)s deleted.", name=name)
    return redirect("/accounts")


# ------------------------------------------------------------------ users

def _users_list_context(request: Request, viewer: Viewer, account_id: str, *, search: str, page: str | None,
                        sync_state: str) -> dict[str, Any]:
    """The users list with its MiVB columns: one query for the rows, one call for the
    extensions, licences, locations and sync states of all of them (never per row)."""
    account = tenancy.get_account(viewer.ctx, account_id)
    number = _page_number(page)
    state = sync_state if sync_state in SYNC_STATES else ""
    total, rows = accounts.list_users(viewer.ctx, account_id, search=search[:200] or None, limit=PAGE_SIZE,
                                      offset=(number - 1) * PAGE_SIZE, sync_state=state or None)
    return {"account": account, "users": rows, "search": search, "sync_state": state,
            "summaries": mivb.user_summaries(viewer.ctx.session, [user.id for user in rows]),
            "categories": mivb.list_categories(viewer.ctx, account_id), "selected": [],
            **_paging(total, number)}


@router.get("/accounts/{account_id}/users")
def users_page(request: Request, account_id: str, viewer: ViewerDep, search: str = "", page: str | None = None,
               sync_state: str = ""):
    context = _users_list_context(request, viewer, account_id, search=search, page=page, sync_state=sync_state)
    template = "accounts/users_table.html" if request.headers.get("hx-request") else "accounts/users_list.html"
    return render(request, template, context, account=context["account"])


def _users_url(account_id: str, listing: dict[str, Any]) -> str:
    query = urlencode({key: value for key, value in listing.items() if value})
    return f"/accounts/{account_id}/users" + (f"?{query}" if query else "")


@router.get("/accounts/{account_id}/users/assign-mivb")
def assign_mivb_page(account_id: str, viewer: ViewerDep):
    """The bulk action's address is POST only (the user page would read it as a user id):
    a reload or a bookmark of it lands on the list."""
    tenancy.get_account(viewer.ctx, account_id)
    return redirect(f"/accounts/{account_id}/users")


async def _selected_users(request: Request, form: FormDep) -> list[str]:
    """The ticked users of the list (FormDep has checked the CSRF token and read the form;
    a checkbox list needs every value of the field)."""
    return [str(value) for value in (await request.form()).getlist("user_ids")][:PAGE_SIZE * 4]


@router.post("/accounts/{account_id}/users/assign-mivb")
def assign_mivb(request: Request, account_id: str, viewer: ViewerDep, form: FormDep,
                user_ids: Annotated[list[str], Depends(_selected_users)]):
    """Bulk action of the users list: MiVoice Business with one category for the ticked
    users, all or nothing."""
    listing = {"search": form.get("search", ""), "page": form.get("page") or None,
               "sync_state": form.get("sync_state", "")}
    category = form.get("service_category", "")
    try:
        changed = mivb.assign_many(viewer.ctx, account_id, user_ids, {"service_category": category})
    except ServiceError as exc:
        status = refused_form(viewer, exc)
        context = _users_list_context(request, viewer, account_id, **listing)
        gettext = i18n.gettext_for(language(request, context["account"]))
        context.update(errors=_assign_errors(viewer, account_id, exc, dict.fromkeys(user_ids), gettext),
                       values={"service_category": category}, selected=user_ids,
                       page_url=_users_url(account_id, listing))
        return render(request, "accounts/users_list.html", context, status_code=status,
                      account=context["account"])
    if changed == 0:
        message = "These users already had this service category: nothing changed."
    elif changed == 1:
        message = "MiVoice Business assigned to 1 user."
    else:
        message = "MiVoice Business assigned to %(count)s users."
    flash(request, message, count=changed)
    return redirect(_users_url(account_id, listing))


def _assign_errors(viewer: Viewer, account_id: str, exc: ServiceError, user_ids: dict[str, None],
                   gettext) -> FormErrors:
    """The service names a refused user by position (users[i]); the page names them by
    name, links to their row, and shows the message in it."""
    ids = list(user_ids)
    items: list[ErrorItem] = []
    for item in exc.errors:
        match = _USER_FIELD.fullmatch(item.field or "")
        if match and int(match.group(1)) < len(ids):
            user_id = ids[int(match.group(1))]
            try:
                name = tenancy.get_user(viewer.ctx, account_id, user_id).full_name
            except ServiceError:
                name = user_id
            items.append(ErrorItem(item.code, "%(user)s: %(problem)s", f"user-{user_id}",
                                   {"user": name, "problem": item.render(gettext)}))
        else:
            items.append(item)
    return FormErrors.from_items(items, gettext)


@router.get("/accounts/{account_id}/users/new")
def new_user_page(request: Request, account_id: str, viewer: ViewerDep):
    account = tenancy.account_to_administer(viewer.ctx, account_id)
    return render(request, "accounts/user_form.html", {"account": account, "user": None,
                                                       "values": {"role": "user"}}, account=account)


@router.post("/accounts/{account_id}/users/new")
def create_user(request: Request, account_id: str, viewer: ViewerDep, form: FormDep):
    account = tenancy.account_to_administer(viewer.ctx, account_id)
    values = _pick(form, USER_FIELDS)
    try:
        user = accounts.create_user(viewer.ctx, account_id, values)
    except ServiceError as exc:
        # A password is never sent back to the browser: say so, or the admin would save
        # the corrected form without one.
        password_dropped = bool(values.pop("password", None))
        return _refused(request, viewer, "accounts/user_form.html", exc,
                        {"account": account, "user": None, "values": values, "password_dropped": password_dropped},
                        account=account)
    flash(request, "User %(name)s created.", name=user.full_name)
    return redirect(f"/accounts/{account_id}/users/{user.id}")


@router.get("/accounts/{account_id}/users/{user_id}/edit")
def edit_user_page(request: Request, account_id: str, user_id: str, viewer: ViewerDep):
    account = tenancy.account_to_administer(viewer.ctx, account_id)
    user = tenancy.get_user(viewer.ctx, account_id, user_id)
    values = {name: getattr(user, name) for name in USER_FIELDS if name != "password"}
    return render(request, "accounts/user_form.html", {"account": account, "user": user, "values": values},
                  account=account)


@router.post("/accounts/{account_id}/users/{user_id}/edit")
def update_user(request: Request, account_id: str, user_id: str, viewer: ViewerDep, form: FormDep):
    account = tenancy.account_to_administer(viewer.ctx, account_id)
    values = _pick(form, USER_FIELDS)
    if not values.get("password"):
        values.pop("password", None)  # blank means "keep the current password"
    try:
        user = accounts.update_user(viewer.ctx, account_id, user_id, values, expected_version=form_version(form))
    except ServiceError as exc:
        user = tenancy.get_user(viewer.ctx, account_id, user_id)
        values.pop("password", None)
        return _refused(request, viewer, "accounts/user_form.html", exc,
                        {"account": account, "user": user, "values": values}, account=account)
    flash(request, "User %(name)s saved.", name=user.full_name)
    return redirect(f"/accounts/{account_id}/users/{user.id}")


@router.post("/accounts/{account_id}/users/{user_id}/toggle-admin")
def toggle_admin(request: Request, account_id: str, user_id: str, viewer: ViewerDep, form: FormDep):
    tenancy.account_to_administer(viewer.ctx, account_id)
    try:
        user = accounts.toggle_admin(viewer.ctx, account_id, user_id, expected_version=form_version(form))
    except ServiceError as exc:
        refused_form(viewer, exc)
        flash(request, exc.errors[0].message, **exc.errors[0].params)
        return redirect(f"/accounts/{account_id}/users/{user_id}")
    message = "%(name)s is now an account administrator." if user.role == "account_admin" \
        else "%(name)s is now a user."
    flash(request, message, name=user.full_name)
    return redirect(f"/accounts/{account_id}/users/{user_id}")


@router.get("/accounts/{account_id}/users/{user_id}/delete")
def delete_user_page(request: Request, account_id: str, user_id: str, viewer: ViewerDep):
    account = tenancy.account_to_administer(viewer.ctx, account_id)
    user = tenancy.get_user(viewer.ctx, account_id, user_id)
    return render(request, "accounts/confirm_delete.html",
                  {"kind": "user", "name": user.full_name, "version": user.version,
                   "action": f"/accounts/{account_id}/users/{user_id}/delete",
                   "cancel": f"/accounts/{account_id}/users/{user_id}"}, account=account)


@router.post("/accounts/{account_id}/users/{user_id}/delete")
def delete_user(request: Request, account_id: str, user_id: str, viewer: ViewerDep, form: FormDep):
    tenancy.account_to_administer(viewer.ctx, account_id)
    user = tenancy.get_user(viewer.ctx, account_id, user_id)
    name = user.full_name
    try:
        accounts.delete_user(viewer.ctx, account_id, user_id, expected_version=form_version(form))
    except ServiceError as exc:
        refused_form(viewer, exc)
        flash(request, exc.errors[0].message, **exc.errors[0].params)
        return redirect(f"/accounts/{account_id}/users/{user_id}")
    flash(request, "User %(name)s deleted.", name=name)
    return redirect(f"/accounts/{account_id}/users")

