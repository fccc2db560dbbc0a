"""Console page System settings > MiVoice Business > Users on the PBX: the PBX's unmanaged
users with their proposed match and conflicts; adopt them (dry run, apply)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from switchboard.accounts import tenancy
from switchboard.adoption import assess
from switchboard.adoption import service as adoption
from switchboard.console.web import FormDep, ViewerDep, flash, language, redirect, refused_form, render
from switchboard.core import i18n
from switchboard.core.errors import ServiceError

router = APIRouter(include_in_schema=False)
PAGE = "/accounts/{account_id}/pbx-users"
FILTERS = ("all", "adoptable", "conflicts", "matched", "new")


def _shown(candidate: assess.Candidate, show: str) -> bool:
    return {"adoptable": candidate.adoptable, "conflicts": not candidate.adoptable,
            "matched": candidate.match is not None, "new": candidate.match is None}.get(show, True)


@router.get(PAGE)
def pbx_users(request: Request, account_id: str, viewer: ViewerDep, show: str = "all"):
    account = tenancy.require_account_admin(viewer.ctx, account_id)
    gettext = i18n.gettext_for(language(request, account))
    try:
        reading = assess.read(viewer.ctx, account_id)
        error = None
    except ServiceError as exc:
        refused_form(viewer, exc)
        reading, error = None, exc.errors[0].render(gettext)
    candidates = reading.candidates if reading else []
    return render(request, "adoption/pbx_users.html", {
        "account": account, "reading": reading, "read_error": error, "show": show if show in FILTERS else "all",
        "candidates": [c for c in candidates if _shown(c, show)],
        "counts": {"all": len(candidates), "adoptable": sum(c.adoptable for c in candidates),
                   "conflicts": sum(not c.adoptable for c in candidates),
                   "matched": sum(c.match is not None for c in candidates),
                   "new": sum(c.match is None for c in candidates)},
        "conflict_text": lambda conflict: conflict.render(gettext)}, account=account)


async def _keys(request: Request, form: FormDep) -> list[str]:
    return [str(value) for value in (await request.form()).getlist("keys")][:10_000]


@router.post(PAGE + "/adopt")
def adopt(request: Request, account_id: str, viewer: ViewerDep, form: FormDep,
          keys: Annotated[list[str], Depends(_keys)]):
    mode = "apply" if form.get("mode") == "apply" else "dry_run"
    try:
        job = adoption.submit(viewer.ctx, account_id, {
            "keys": keys, "all": form.get("all") == "1", "mode": mode,
            "on_error": "partial" if form.get("on_error") == "partial" else "all_or_nothing"})
    except ServiceError as exc:
        refused_form(viewer, exc)
        account = tenancy.require_account_admin(viewer.ctx, account_id)
        flash(request, exc.errors[0].message, **exc.errors[0].params)
        return redirect(PAGE.format(account_id=account.id))
    return redirect(f"/accounts/{account_id}/jobs/{job.id}")



