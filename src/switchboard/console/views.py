"""Console pages of the shell: sign-in, sign-out, home, language, own password."""

from __future__ import annotations

from fastapi import APIRouter, Request

from switchboard.accounts import auth
from switchboard.accounts import service as accounts
from switchboard.accounts.tenancy import actor_for
from switchboard.api_support import SessionDep
from switchboard.core import i18n
from switchboard.console.web import (
    FormDep,
    FormErrors,
    ViewerDep,
    end_session,
    flash,
    home_url,
    language,
    redirect,
    refused_form,
    render,
    signed_in_user,
    start_session,
)
from switchboard.core.context import ServiceContext
from switchboard.core.errors import ServiceError

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str | None:
    # Only same-site paths: never redirect a signed-in person to another host.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@router.get("/")
def home(request: Request, session: SessionDep):
    user = signed_in_user(request, session)
    return redirect(home_url(user) if user else "/login")


@router.get("/login")
def login_page(request: Request, session: SessionDep, next: str | None = None):
    user = signed_in_user(request, session)
    if user is not None:
        return redirect(_safe_next(next) or home_url(user))
    return render(request, "login.html", {"next": _safe_next(next) or ""})


@router.post("/login")
def login(request: Request, session: SessionDep, form: FormDep):
    email, password = form.get("email", ""), form.get("password", "")
    next_url = _safe_next(form.get("next"))
    try:
        user = auth.authenticate(session, email, password, client=request.client.host if request.client else None)
    except ServiceError as exc:
        gettext = i18n.gettext_for(language(request))
        return render(request, "login.html", {
            "errors": FormErrors.from_error(exc, gettext), "values": {"email": email}, "next": next_url or "",
        }, status_code=exc.status)
    start_session(request, session, user)
    return redirect(next_url or home_url(user))


@router.post("/logout")
def logout(request: Request, session: SessionDep, form: FormDep):
    user = signed_in_user(request, session)
    # The sign-in page that follows speaks the person's language.
    end_session(request, session, keep_language=user.language if user else request.session.get("lang"))
    return redirect("/login")


@router.post("/language")
def choose_language(request: Request, session: SessionDep, form: FormDep):
    """The language selector of the top bar. A signed-in person's choice is stored on
    them (it lasts across sign-ins and browsers); before signing in, it is this browser's."""
    chosen = form.get("lang")
    chosen = chosen if chosen in i18n.SUPPORTED else None
    user = signed_in_user(request, session)
    if user is not None:
        ctx = ServiceContext(session=session, actor=actor_for(user), runtime=request.app.state.runtime)
        accounts.update_me(ctx, {"language": chosen})
        request.session.pop("lang", None)
    elif chosen:
        request.session["lang"] = chosen
    else:
        request.session.pop("lang", None)
    return redirect(_safe_next(form.get("next")) or "/")


@router.get("/me/password")
def password_page(request: Request, viewer: ViewerDep):
    return render(request, "password.html")


@router.post("/me/password")
def change_password(request: Request, viewer: ViewerDep, form: FormDep):
    try:
        user = auth.change_own_password(viewer.ctx, {
            "current_password": form.get("current_password", ""),
            "new_password": form.get("new_password", ""),
        })
    except ServiceError as exc:
        status = refused_form(viewer, exc)
        gettext = i18n.gettext_for(language(request))
        return render(request, "password.html", {"errors": FormErrors.from_error(exc, gettext)},
                      status_code=status)
    # Every session of the user ended with the change (a copied cookie too); this
    # browser goes on with a new one.
    start_session(request, viewer.ctx.session, user)
    flash(request, "Your password has been changed.")
    return redirect(home_url(user))
