"""What every console page shares: templates, the signed-in person, language, CSRF,
form errors and flash messages. Pages call the service layer; nothing here writes data.

The session cookie (signed by Starlette's SessionMiddleware) carries the console session's
random token ("sid", see accounts.sessions), the CSRF token, the language chosen in this
browser (before signing in, or after signing out) and the flash messages: never who is
signed in. A signed-in person's language is stored on them (users.language). Who that is, and whether the session still
stands, is asked of the database on every page."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session
from starlette.routing import Match

from switchboard.accounts import sessions
from switchboard.accounts.models import Account, User
from switchboard.accounts.tenancy import actor_for
from switchboard.api_support import SessionDep, version_number
from switchboard.core import i18n
from switchboard.core.context import Actor, ServiceContext
from switchboard.core.errors import ErrorItem, ServiceError, stored_message
from switchboard.core.security import constant_time_equals, new_csrf_token
from switchboard.core.validation import has_control_character, invalid_character
from switchboard.console.templating import field_dom_id, make_templates  # noqa: F401 (the pages' one import)
from switchboard.mivb.phone_types import PHONE_TYPES

class LoginRequired(Exception):
    """Raised by pages that need a signed-in person; answered with a redirect to /login."""


class CsrfFailed(Exception):
    pass


@dataclass(frozen=True)
class AccountRef:
    id: str
    name: str
    default_language: str


@dataclass(frozen=True)
class SignedIn:
    """The signed-in person as pages show them: plain values read once at the start of the
    request, so a page rendered after a rollback (an error page) never touches the
    database or an expired object."""

    id: str
    first_name: str
    last_name: str
    email: str
    role: str
    account_id: str | None
    account: AccountRef | None
    # The language this person chose (None: not chosen, the browser's then the account's).
    language: str | None = None

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @classmethod
    def of(cls, user: User) -> "SignedIn":
        account = user.account
        return cls(user.id, user.first_name, user.last_name, user.email, user.role, user.account_id,
                   AccountRef(account.id, account.name, account.default_language) if account is not None else None,
                   user.language)


@dataclass
class Viewer:
    """The signed-in person, as the console needs it: who (a snapshot), what they may do
    (the actor), and the request's unit of work (ctx)."""

    user: SignedIn
    ctx: ServiceContext

    @property
    def actor(self) -> Actor:
        return self.ctx.actor


SESSION_TOKEN = "sid"


def signed_in_user(request: Request, session: Session) -> User | None:
    token = request.session.get(SESSION_TOKEN)
    if not token:
        return None
    user = sessions.resume(session, token)
    if user is None:
        # Signed out elsewhere, revoked or expired: the cookie stops carrying the token.
        request.session.pop(SESSION_TOKEN, None)
    return user


def start_session(request: Request, session: Session, user: User) -> None:
    """A fresh console session for this browser: nothing from before (a planted token, an
    old CSRF token) survives but the chosen language."""
    token = sessions.start(session, user, ttl_seconds=request.app.state.settings.token_ttl_seconds)
    lang = request.session.get("lang")
    request.session.clear()
    request.session[SESSION_TOKEN] = token
    if lang:
        request.session["lang"] = lang


def end_session(request: Request, session: Session, *, keep_language: str | None = None) -> None:
    """Signs out: nothing of the session stays in the cookie but `keep_language` (the
    person's language, so the sign-in page that follows still speaks it)."""
    sessions.end(session, request.session.get(SESSION_TOKEN))
    request.session.clear()
    if keep_language in i18n.SUPPORTED:
        request.session["lang"] = keep_language


def get_viewer(request: Request, session: SessionDep) -> Viewer:
    user = signed_in_user(request, session)
    if user is None:
        raise LoginRequired()
    ctx = ServiceContext(session=session, actor=actor_for(user), runtime=request.app.state.runtime)
    viewer = Viewer(user=SignedIn.of(user), ctx=ctx)
    request.state.viewer = viewer
    return viewer


ViewerDep = Annotated[Viewer, Depends(get_viewer)]


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = new_csrf_token()
        request.session["csrf"] = token
    return token


async def form_data(request: Request) -> dict[str, str]:
    """The posted form as a dict, after checking its CSRF token (field or htmx header)."""
    form = await request.form()
    sent = str(form.get("csrf_token") or request.headers.get("x-csrf-token") or "")
    expected = request.session.get("csrf") or ""
    if not sent or not expected or not constant_time_equals(sent, expected):
        raise CsrfFailed()
    # No field of any form takes a control character (a NUL byte, a line break, …): the
    # error page, before any page or service sees it.
    for key, value in form.multi_items():
        if has_control_character(key) or (isinstance(value, str) and has_control_character(value)):
            raise invalid_character(None if has_control_character(key) else key)
    return {key: str(value) for key, value in form.items() if key != "csrf_token"}


FormDep = Annotated[dict[str, str], Depends(form_data)]


# A refused form's page keeps the refusal's status when a client acts on it (not signed
# in, not allowed, not found, taken or exhausted, changed by someone else meanwhile); any
# other refusal is 422, so a PBX that cannot be reached never makes a form a 5xx.
KEPT_REFUSAL_STATUSES = frozenset({401, 403, 404, 409, 412})


def refused_status(exc: ServiceError) -> int:
    return exc.status if exc.status in KEPT_REFUSAL_STATUSES else 422


def refused_form(viewer: Viewer, exc: ServiceError) -> int:
    """What every refused console form does first: not signed in, not allowed or not found
    is the error page (re-raised, the unit of work rolls back); any other refusal rolls
    the unit of work back here, so the page can be rendered again with the errors and what
    the admin typed. Returns the status of that page (`refused_status`)."""
    if exc.status in (401, 404) or (exc.status == 403 and exc.code == "forbidden"):
        raise exc
    viewer.ctx.session.rollback()
    return refused_status(exc)


def form_version(form: dict[str, str]) -> int | None:
    """The version an edit form was loaded at (its hidden "version" field): the service
    refuses the save if the object changed since. Garbage never matches a version."""
    raw = form.get("version", "")
    return (version_number(raw) or -1) if raw else None


def language(request: Request, account: Account | AccountRef | None = None) -> str:
    """The language of the page: the signed-in person's own choice (stored on them, so it
    follows them from browser to browser and across sign-ins), else the one chosen in this
    browser (on the sign-in page), else the browser's (Accept-Language), else the default
    language of the account (the one shown, or the person's own), else English."""
    viewer = getattr(request.state, "viewer", None)
    if viewer is not None and viewer.user.language in i18n.SUPPORTED:
        return viewer.user.language
    chosen = request.session.get("lang")
    if chosen in i18n.SUPPORTED:
        return chosen
    browser = i18n.negotiate(request.headers.get("accept-language"))
    if browser is not None:
        return browser
    if account is None and viewer is not None:
        account = viewer.user.account
    if account is not None and account.default_language in i18n.SUPPORTED:
        return account.default_language
    return i18n.DEFAULT


def flash(request: Request, message: str, **params: Any) -> None:
    """Queue a message (a gettext id) for the next page (taken back if the request's unit
    of work is refused as it commits: `unflash`)."""
    queued = request.session.setdefault("flash", [])
    if not hasattr(request.state, "flash_mark"):
        request.state.flash_mark = len(queued)
    queued.append([message, params])


def unflash(request: Request) -> None:
    """The messages this request queued, taken back: what they announce did not happen."""
    mark = getattr(request.state, "flash_mark", None)
    if mark is not None and "flash" in request.session:
        request.session["flash"] = request.session["flash"][:mark]


_ONCE = "once:"


def show_once(request: Request, viewer: Viewer, key: str, value: dict[str, Any]) -> None:
    """Keep `value` for the next page that asks for it (a Post/Redirect/Get that must show
    something once, such as a new phone's SIP password): server-side in the console
    session's row, encrypted, never in the cookie."""
    box = viewer.ctx.rt.secret_box
    sessions.keep(viewer.ctx.session, request.session.get(SESSION_TOKEN), _ONCE + key,
                  box.encrypt(json.dumps(value)))


def take_shown_once(request: Request, viewer: Viewer, key: str) -> dict[str, Any] | None:
    """What `show_once` kept under `key`, gone once read (a reload shows nothing)."""
    kept = sessions.take(viewer.ctx.session, request.session.get(SESSION_TOKEN), _ONCE + key)
    if not isinstance(kept, str):
        return None
    try:
        return json.loads(viewer.ctx.rt.secret_box.decrypt(kept))
    except ValueError:  # a new secret key since: nothing to show
        return None


def page_above(request: Request, path: str) -> str | None:
    """The nearest console page at or above `path` that answers GET: where a form's POST
    address belongs ("/accounts/a/users/u/mivb/phones" is the user page "/accounts/a/users/u")."""
    parts = path.rstrip("/").split("/")
    while parts:
        candidate = "/".join(parts) or "/"
        if not candidate.startswith(("/api/", "/static/")):
            scope = {"type": "http", "method": "GET", "path": candidate, "root_path": ""}
            if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
                return candidate
        parts.pop()
    return None


def page_url(request: Request, status_code: int = 200) -> str:
    """The address of the page being shown, to come back to (the language form's "next"):
    a GET's own (an error page echoes no query); after a POST, the page the form belongs
    to, never the POST address."""
    if request.method in ("GET", "HEAD"):
        query = request.url.query if status_code < 400 else ""
        return request.url.path + (f"?{query}" if query else "")
    return page_above(request, request.url.path) or "/"


def method_not_allowed(request: Request):
    """No console page shows a bare 405: a GET on a form's POST-only address (a reload, a
    bookmark, the back button) lands on the form's page; anything else is the error page."""
    if request.method in ("GET", "HEAD"):
        target = page_above(request, request.url.path)
        if target is not None:
            return redirect(target + (f"?{request.url.query}" if request.url.query else ""))
    error = ServiceError("method_not_allowed", "This page cannot be opened this way.")
    error.status = 405
    return render(request, "error.html", {"status": 405, "error": error}, status_code=405)


@dataclass
class FormErrors:
    """Errors of a refused form: per field for the messages beside the inputs, and all of
    them in order for the list at the top and bottom of the page."""

    by_field: dict[str, list[str]]
    general: list[str]
    all: list[tuple[str | None, str]]

    @classmethod
    def empty(cls) -> "FormErrors":
        return cls({}, [], [])

    @classmethod
    def from_error(cls, error: ServiceError, gettext) -> "FormErrors":
        return cls.from_items(error.errors, gettext)

    @classmethod
    def from_items(cls, items: list[ErrorItem], gettext) -> "FormErrors":
        by_field: dict[str, list[str]] = {}
        general: list[str] = []
        every: list[tuple[str | None, str]] = []
        for item in items:
            text = item.render(gettext)
            every.append((item.field, text))
            if item.field:
                by_field.setdefault(item.field, []).append(text)
            else:
                general.append(text)
        return cls(by_field, general, every)

    def __bool__(self) -> bool:
        return bool(self.all)


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    account: Account | None = None,
) -> HTMLResponse:
    lang = language(request, account)
    callables = i18n.template_callables(lang)
    # A fragment (htmx) shows no messages: they wait for the next whole page.
    queued = [] if request.headers.get("hx-request") else request.session.pop("flash", [])
    messages = [callables["gettext"](m, **p) for m, p in queued]
    # One table of phone types (mivb.phone_types) for every page: [(name, label)], in order.
    type_labels = [(kind.name, callables["gettext"](kind.label)) for kind in PHONE_TYPES.values()]
    data = {
        "request": request,
        "lang": lang,
        "csrf_token": csrf_token(request),
        "viewer": getattr(request.state, "viewer", None),
        "nav_account": account,
        "flashes": messages,
        "phone_type_labels": type_labels,
        "errors": FormErrors.empty(),
        "values": {},
        "page_url": page_url(request, status_code),
        # A kept message in the reader's language: a kept error (a job's row, a push's
        # error: core.errors.stored_message) or a text (what the PBX connector said).
        "localize": lambda kept: (stored_message(kept, i18n.gettext_for(lang)) if isinstance(kept, dict)
                                  else i18n.localize(kept or "", i18n.gettext_for(lang))),
        **callables,
        **(context or {}),
    }
    html = request.app.state.templates.get_template(template).render(data)
    return HTMLResponse(html, status_code=status_code)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return redirect(f"/login?next={quote(target, safe='')}")


def home_url(user: User) -> str:
    if user.role == "partner_admin":
        return "/accounts"
    if user.role == "account_admin":
        return f"/accounts/{user.account_id}/users"
    return f"/accounts/{user.account_id}/users/{user.id}"

